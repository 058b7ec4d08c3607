/**
 * Migration 20261218010000_recon_row_identity on a database with runs and owners: an exception's
 * identity now names the report row (its batch and instant, from the item's evidence), so two
 * charges of one amount that shared an identity get one each, and their owner follows them to
 * both; an exception without a report row (an event missing at the gateway) keeps its identity and
 * its owner. Both engines, from a database migrated up to the one before.
 */
import { afterEach, describe, expect, it } from "vitest";
import { migratedUpTo, testDatabaseKinds } from "../support/db.js";

const kinds = await testDatabaseKinds();
const TARGET = "20261218010000_recon_row_identity";

describe.each(kinds)("the reconciliation row identity migration on %s", (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const before = () => migratedUpTo(kind, TARGET, cleanups);

  it("gives two charges of one amount an identity each, owned as before, and keeps the identity of an item without a report row", async () => {
    const { conn, rest } = await before();
    await conn.exec(
      `INSERT INTO "recon_runs" ("id", "gateway", "period_from", "period_to", "import_ids", "rules", "rules_version", "rules_sha256", "summary",
         "item_count", "matched_sha256", "digest", "started_at", "finished_at")
       VALUES ('run_1', 'adyen', now() - interval '1 day', now(), '{}', '{}', 'v1', repeat('a', 64), '{}', 3, repeat('b', 64), '0x' || repeat('c', 64), now(), now())`,
    );
    const correction = (seq: number, batch: string, at: string) =>
      conn.query(
        `INSERT INTO "recon_run_items" ("run_id", "seq", "category", "rule", "currency", "lines", "report_amount", "ledger_amount", "difference", "evidence")
         VALUES ('run_1', $1, 'gateway_cost', 'gateway_cost_row', 'EUR', '{2}', -500, 0, -500, $2::jsonb)`,
        [seq, JSON.stringify({ report: { recordType: "DepositCorrection", batch, occurredAt: at, rowId: "" } })],
      );
    await correction(1, "200", "2024-12-18T19:00:00.000Z");
    await correction(2, "300", "2024-12-27T19:00:00.000Z");
    await conn.exec(
      `INSERT INTO "recon_run_items" ("run_id", "seq", "category", "rule", "currency", "gateway_event_id", "lines", "ledger_amount", "evidence")
       VALUES ('run_1', 3, 'missing_at_gateway', 'unmatched', 'EUR', 'evt-1', '{}', 1000, '{"reason": "x"}')`,
    );
    const oldId = async (seq: number) =>
      String(
        (
          await conn.query(
            `SELECT recon_exception_id(u.gateway, i.category, i.currency, i.gateway_reference, i.gateway_event_id, i.settlement_id, i.report_amount, i.ledger_amount, i.difference) AS id
               FROM recon_run_items i JOIN recon_runs u ON u.id = i.run_id WHERE i.seq = $1`,
            [seq],
          )
        )[0]!["id"],
      );
    const [shared, other, event] = [await oldId(1), await oldId(2), await oldId(3)];
    expect(shared).toBe(other); // the defect: two charges, one identity
    await conn.query(`INSERT INTO "recon_exception_owners" ("exception_id", "owner") VALUES ($1, 'ana'), ($2, 'bo')`, [shared, event]);

    await rest();
    const ids = (
      await conn.query(
        `SELECT i.seq, recon_exception_id(u.gateway, i.category, i.currency, i.gateway_reference, i.gateway_event_id, i.settlement_id, i.report_amount, i.ledger_amount, i.difference, i.evidence) AS id
           FROM recon_run_items i JOIN recon_runs u ON u.id = i.run_id ORDER BY i.seq`,
      )
    ).map((r) => String(r["id"]));
    expect(new Set(ids).size).toBe(3);
    expect(ids[2]).toBe(event);
    const owners = new Map((await conn.query(`SELECT exception_id, owner FROM recon_exception_owners`)).map((r) => [String(r["exception_id"]).trim(), String(r["owner"])]));
    expect([owners.get(ids[0]!), owners.get(ids[1]!), owners.get(ids[2]!)]).toEqual(["ana", "ana", "bo"]);
  });
});
