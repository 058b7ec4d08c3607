/**
 * What /readyz reads of the database: a connection lost between its two reads is "unreachable",
 * never "every migration pending" (an operator told that might migrate or roll back for nothing).
 */
import { describe, expect, it } from "vitest";
import { loadMigrations } from "../../service/db/index.js";
import { readiness } from "../../service/services.js";

/** A database answering `SELECT 1`, then failing the migrations read with `error`. */
function database(error: unknown): Parameters<typeof readiness>[0] {
  let calls = 0;
  return {
    $queryRawUnsafe: (async () => {
      if (calls++ === 0) return [{ "?column?": 1 }];
      throw error;
    }) as never,
  };
}

describe("readiness", () => {
  it("says unreachable when the connection goes away between the two reads", async () => {
    const terminated = Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" });
    expect(await readiness(database(terminated))).toEqual({ ok: false, database: "unreachable", pendingMigrations: [] });
  });

  it("lists every migration as pending when the bookkeeping table does not exist", async () => {
    const missing = Object.assign(new Error('relation "_entrepot_migrations" does not exist'), { code: "42P01" });
    const all = (await loadMigrations()).map((m) => m.name);
    expect(await readiness(database(missing))).toEqual({ ok: false, database: "reachable", pendingMigrations: all });
  });
});
