/**
 * Migration 20261220130000_seller_gateways on a database with sellers and settlements: each seller
 * accepts the gateways that already posted settlements for it (so nothing running is refused), set
 * by "migration" with a first entry in its trail; a seller with no settlement accepts none (no
 * row). The trail is append-only. Both engines, from a database migrated up to the one before.
 */
import { afterEach, describe, expect, it } from "vitest";
import { migratedUpTo, testDatabaseKinds } from "../support/db.js";

const kinds = await testDatabaseKinds();
const TARGET = "20261220130000_seller_gateways";

describe.each(kinds)("the seller gateways migration on %s", (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("gives each seller the gateways of its settlements, none to a seller without any, and keeps the trail append-only", async () => {
    const { conn, rest } = await migratedUpTo(kind, TARGET, cleanups);
    await conn.exec(
      `INSERT INTO "settlement_sellers" ("id", "name", "program", "payout_currency", "home_country") VALUES
         ('S-TWO', 'Two gateways', 'pop', 'CNY', 'CN'), ('S-ONE', 'One gateway', 'pop', 'USD', 'HK'), ('S-NEW', 'No settlement yet', 'pop', 'USD', 'HK')`,
    );
    let id = 0;
    const settlement = (seller: string, gateway: string, type: string, sequence: number, capture: string) => {
      id++;
      return conn.query(
        `INSERT INTO "settlements" ("id", "event_key", "capture_key", "sequence", "event_type", "gateway", "gateway_event_id", "settlement_id", "seller_id",
           "market", "category", "currency", "amount", "gateway_fee", "occurred_at", "program", "breakdown", "refunded_delta", "journal_transaction_id", "request_hash")
         VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8, $9, 'US', 'home', 'USD', 1000, 0, now(), 'pop', '{}', 0, $10, repeat('a', 64))`,
        [id, `settlement:${gateway}:e${id}`, `settlement:${gateway}:${capture}`, sequence, type, gateway, `e${id}`, `ORD-${id}`, seller, String(id)],
      );
    };
    await settlement("S-TWO", "stripe", "capture", 0, "e1");
    await settlement("S-TWO", "stripe", "refund", 1, "e1");
    await settlement("S-TWO", "adyen", "capture", 0, "e3");
    await settlement("S-ONE", "adyen", "capture", 0, "e4");
    await settlement("S-ONE", "adyen", "release", 1, "e4");

    await rest();
    const sets = await conn.query(`SELECT "seller_id", "gateways"::text[] AS "gateways", "set_by" FROM "settlement_seller_gateways" ORDER BY "seller_id"`);
    expect(sets.map((r) => [r["seller_id"], r["gateways"], r["set_by"]])).toEqual([
      ["S-ONE", ["adyen"], "migration"],
      ["S-TWO", ["adyen", "stripe"], "migration"],
    ]);
    const trail = await conn.query(`SELECT "seller_id", "gateways"::text[] AS "gateways", "previous_gateways", "set_by" FROM "settlement_seller_gateway_changes" ORDER BY "seller_id"`);
    expect(trail.map((r) => [r["seller_id"], r["gateways"], r["previous_gateways"], r["set_by"]])).toEqual([
      ["S-ONE", ["adyen"], null, "migration"],
      ["S-TWO", ["adyen", "stripe"], null, "migration"],
    ]);
    await expect(conn.exec(`UPDATE "settlement_seller_gateway_changes" SET "set_by" = 'someone else'`)).rejects.toThrow(/append-only/);
    await expect(conn.exec(`DELETE FROM "settlement_seller_gateway_changes"`)).rejects.toThrow(/append-only/);
  });
});
