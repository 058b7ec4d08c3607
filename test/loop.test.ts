/**
 * service/loop.ts against a real PostgreSQL: a worker whose tick meets the server's own 57P01
 * (admin shutdown: pg_terminate_backend) logs the stable code the HTTP layer answers with
 * (ENT_DB_UNAVAILABLE, SQLSTATE beside it) once at warn for the outage and once at info when the
 * database works again, through the WorkerLog the workers log to; a failure that is no outage
 * (22012 division by zero) is an error with ENT_INTERNAL and its stack, every time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoop } from "../service/loop.js";
import { WorkerLog } from "../service/worker-log.js";
import { freshDatabase, type TestDatabase } from "./support/db.js";

type Line = { level: string; obj: Record<string, unknown>; msg: string };

describe("a worker loop meeting real database failures [PostgreSQL]", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase("postgres");
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  it("57P01 is a database outage (warn once with ENT_DB_UNAVAILABLE and sqlState, info at its end); 22012 is an ENT_INTERNAL error", async () => {
    const lines: Line[] = [];
    const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? "" });
    const log = new WorkerLog();
    log.attach({ info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") });
    const plan = ["terminate", "terminate", "terminate", "ok", "ok", "divide", "divide", "ok"] as const;
    let n = 0;
    const loop = startLoop("bank", 1, async () => {
      const step = plan[Math.min(n++, plan.length - 1)];
      if (step === "terminate") await db.sql.q("SELECT pg_terminate_backend(pg_backend_pid())");
      else if (step === "divide") await db.sql.q("SELECT 1 / (SELECT count(*) FROM pg_class WHERE false)::int AS x");
      else await db.sql.q("SELECT 1");
    }, log.child("bank"));
    const deadline = Date.now() + 20_000;
    while (n <= plan.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await loop.stop();

    const above = lines.filter((l) => l.level !== "debug");
    expect(above.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "bank: the database fails transiently; retrying"],
      ["info", "bank: the database works again"],
      ["error", "bank tick failed"],
      ["error", "bank tick failed"],
    ]);
    expect(above[0]!.obj).toMatchObject({ worker: "bank", loop: "bank", code: "ENT_DB_UNAVAILABLE", sqlState: "57P01" });
    // The outage line has no error object (no stack), just a one-line reason.
    expect(above[0]!.obj["err"]).toBeUndefined();
    expect(above[1]!.obj).toMatchObject({ code: "ENT_DB_UNAVAILABLE", failures: 3 });
    expect(lines.filter((l) => l.level === "debug")).toHaveLength(2);
    for (const e of above.slice(2)) {
      expect(e.obj).toMatchObject({ code: "ENT_INTERNAL", sqlState: "22012" });
      expect(e.obj["err"]).toBeInstanceOf(Error);
    }
  }, 30_000);
});
