/**
 * `postedAtEffective`: an account's posted totals as of an effective instant, read as its running
 * totals less what is effective after that instant, which is what a fenced period close's FX check
 * reads under the journal head lock. Through the real ledger on both engines: it equals the posted
 * part of `balance(…, at, "effective")` (the sum of the history) at every instant around late,
 * future-dated, pending, committed and voided transactions; and on PostgreSQL its plan reads the
 * transactions effective after the instant by their index and their postings by transaction, never
 * the account's postings (before: the check summed every posting of each `fx:` account effective by
 * the period's end, 220 ms under the lock with 100,000 of them; docs/performance.md).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedger, type AccountSpec, type LedgerService, type TransactionInput } from "../../service/ledger/index.js";
import { POSTED_AT_EFFECTIVE } from "../../service/ledger/store.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";

const kinds = await testDatabaseKinds();

const specs: AccountSpec[] = [
  { code: "fx:BRL-USD", currency: "BRL", ownerType: "fx_clearing", ownerId: "BRL-USD", normalBalance: "debit", allowNegative: true },
  { code: "gateway:gw:receivable", currency: "BRL", ownerType: "gateway", ownerId: "gw", normalBalance: "debit", allowNegative: true },
];
const day = (d: number) => new Date(Date.UTC(2025, 0, d, 12));

function move(key: string, amount: bigint, effectiveAt: Date, over: Partial<TransactionInput> = {}): TransactionInput {
  return {
    idempotencyKey: key,
    postings: [
      { account: "gateway:gw:receivable", currency: "BRL", direction: "debit", amount },
      { account: "fx:BRL-USD", currency: "BRL", direction: "credit", amount },
    ],
    effectiveAt,
    accounts: specs,
    ...over,
  };
}

describe.each(kinds)("postedAtEffective on %s", (kind) => {
  let db: TestDatabase;
  let ledger: LedgerService;

  beforeAll(async () => {
    db = await freshDatabase(kind);
    ledger = createLedger(db);
    // In booking order: effective instants out of order (a late one, one far ahead), a reversal
    // the other way, a pending reserve committed and one voided.
    await ledger.post(move("m1", 1_000n, day(10)));
    await ledger.post(move("m2", 250n, day(3)));
    await ledger.post(move("m3", 4_000n, day(28)));
    await ledger.post({ ...move("m4", 600n, day(12)), postings: move("m4", 600n, day(12)).postings.map((p) => ({ ...p, direction: p.direction === "debit" ? "credit" : "debit" })) });
    const held = await ledger.post(move("p1", 700n, day(15), { pending: true, pendingTimeoutSeconds: 3_600 }));
    await ledger.commitPending(held.transaction.id, "p1-commit");
    const dropped = await ledger.post(move("p2", 900n, day(16), { pending: true, pendingTimeoutSeconds: 3_600 }));
    await ledger.voidPending(dropped.transaction.id, "p2-void");
    await ledger.post(move("m5", 333n, day(10)));
  }, 60_000);

  afterAll(async () => {
    await db?.close();
  });

  it("equals the posted part of the effective balance at every instant", async () => {
    const instants = [day(1), day(3), new Date(day(3).getTime() - 1), day(10), new Date(day(10).getTime() + 1), day(12), day(14), day(15), day(16), day(27), day(28), day(31), new Date("2030-01-01T00:00:00Z")];
    for (const code of ["fx:BRL-USD", "gateway:gw:receivable"]) {
      for (const at of instants) {
        const summed = await ledger.balance(code, "BRL", at, "effective");
        expect(await ledger.postedAtEffective(code, "BRL", at), `${code} at ${at.toISOString()}`).toEqual({ postedDebits: summed.postedDebits, postedCredits: summed.postedCredits });
      }
    }
    expect(await ledger.postedAtEffective("fx:EUR-USD", "EUR", day(10))).toBeNull();
  });

  // A plan is PostgreSQL's: defined on that engine only (not a skipped test on PGlite).
  if (kind === "postgres") {
    it("reads what is effective after the instant by index, never the account's postings", async () => {
      // 20,000 more postings on the account before the instant, one after: a plan free to choose
      // would sum the account's postings; this one reads the one transaction after.
      for (let from = 0; from < 10_000; from += 2_000) {
        await ledger.postBatch(Array.from({ length: 2_000 }, (_, k) => move(`bulk-${from + k}`, 1n, new Date(day(2).getTime() + (from + k) * 1000))));
      }
      await db.sql.q(`ANALYZE ledger_transactions`);
      await db.sql.q(`ANALYZE ledger_postings`);
      const plan = (await db.sql.q<Array<{ "QUERY PLAN": string }>>(`EXPLAIN ${POSTED_AT_EFFECTIVE}`, "fx:BRL-USD", "BRL", day(20))).map((r) => r["QUERY PLAN"]).join("\n");
      expect(plan).toMatch(/Index (Only )?Scan using ledger_transactions_effective_at_idx on ledger_transactions t/);
      expect(plan).toMatch(/Index Scan using ledger_postings_transaction_id_idx on ledger_postings p/);
      expect(plan).not.toMatch(/ledger_postings_account_booked_idx|Seq Scan on ledger_postings/);
      const summed = await ledger.balance("fx:BRL-USD", "BRL", day(20), "effective");
      expect(await ledger.postedAtEffective("fx:BRL-USD", "BRL", day(20))).toEqual({ postedDebits: summed.postedDebits, postedCredits: summed.postedCredits });
    });
  }
});
