/**
 * The reconciliation bench seeds its million settlement records with SQL written against the
 * schema (scripts/bench/reconciliation.ts `seed`), not through the engine. A schema change that
 * SQL misses breaks `npm run bench` and nothing else: a settlement record's id became its journal
 * transaction's id (20261209100000_settlement_write_once) and the seed went on without one until
 * the bench failed. This runs the same seed at a small size on both engines and reads it back the
 * way the bench's run does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seed } from "../../scripts/bench/reconciliation.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("the reconciliation bench's seed on %s", (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase(kind);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it("writes settlement records the current schema accepts, each under its journal transaction's id, and their anchoring state", async () => {
    await seed(db, 120);
    const rows = await db.sql.q<Array<{ n: number; ids_match: boolean; brl_fx: number }>>(
      `SELECT count(*)::int AS n, bool_and("id"::text = "journal_transaction_id") AS ids_match,
              count(*) FILTER (WHERE "currency" = 'BRL' AND jsonb_array_length("breakdown"->'fx') = 2)::int AS brl_fx
         FROM "settlements"`,
    );
    expect(rows).toEqual([{ n: 120, ids_match: true, brl_fx: 24 }]);
    const leaves = await db.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM "anchor_leaves" WHERE "kind" = 'journal'`);
    expect(leaves).toEqual([{ n: 120 }]);
  });
});
