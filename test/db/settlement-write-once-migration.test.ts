/**
 * Migration 20261209100000_settlement_write_once on a database written by the old protocol: a
 * record left "pending" whose request the ledger booked (same idempotency key) is completed with
 * that transaction, one the ledger never booked is withdrawn (a redelivery books it afresh), and
 * posted records are kept; every record takes its transaction's id. Both engines, from a database migrated up to the one before.
 */
import { afterEach, describe, expect, it } from "vitest";
import { migratedUpTo, testDatabaseKinds } from "../support/db.js";

const kinds = await testDatabaseKinds();
const TARGET = "20261209100000_settlement_write_once";

describe.each(kinds)("the settlement write-once migration on %s", (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const before = () => migratedUpTo(kind, TARGET, cleanups);

  it("completes pending records the ledger booked, withdraws the others, keeps the posted ones", async () => {
    const { conn, rest } = await before();
    await conn.exec(
      `INSERT INTO "ledger_transactions" ("id", "kind", "status", "idempotency_key", "request_hash", "metadata", "effective_at", "booked_at", "previous_hash", "hash")
       VALUES (41, 'standard', 'posted', 'adyen:booked', repeat('a', 64), '{}', now(), now(), repeat('0', 64), repeat('1', 64)),
              (42, 'standard', 'posted', 'adyen:posted', repeat('b', 64), '{}', now(), now(), repeat('1', 64), repeat('2', 64))`,
    );
    const record = (key: string, status: string, tx: string | null) =>
      conn.query(
        `INSERT INTO "settlements" ("event_key", "capture_key", "sequence", "event_type", "gateway", "gateway_event_id", "settlement_id", "seller_id",
           "market", "category", "currency", "amount", "gateway_fee", "occurred_at", "program", "breakdown", "fx", "journal_request", "refunded_delta",
           "status", "journal_transaction_id", "request_hash")
         VALUES ($1::text, $1::text, 0, 'capture', 'adyen', $1::text, 'ORD', 'S-1', 'US', 'home', 'USD', 100, 3, now(), 'pop', '{}', '[]',
           jsonb_build_object('idempotencyKey', $1::text), 0, $2, $3, repeat('c', 64))`,
        [key, status, tx],
      );
    await record("adyen:booked", "pending", null);
    await record("adyen:lost", "pending", null);
    await record("adyen:posted", "posted", "42");
    await rest();
    const rows = await conn.query<{ id: string; event_key: string; status: string; journal_transaction_id: string }>(
      `SELECT "id"::text AS "id", "event_key", "status", "journal_transaction_id" FROM "settlements" ORDER BY "event_key"`,
    );
    // Each record takes its journal transaction's id.
    expect(rows).toEqual([
      { id: "41", event_key: "adyen:booked", status: "posted", journal_transaction_id: "41" },
      { id: "42", event_key: "adyen:posted", status: "posted", journal_transaction_id: "42" },
    ]);
    const columns = await conn.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = 'settlements' AND column_name = 'journal_request'`);
    expect(columns).toEqual([]);
    await expect(conn.exec(`UPDATE "settlements" SET "status" = 'pending'`)).rejects.toThrow(/settlements_status_check/);
  }, 60_000);
});
