/**
 * Properties of the ledger core, fuzzed with fast-check: whatever sequence of transfers (some of
 * them unbalanced, overdrawing or replayed) is thrown at it, every currency nets to zero, every
 * balance equals the sum of its postings, and the chain verifies. The frozen hash vector of the
 * canonical encoding is in hash.unit.test.ts.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedger, type AccountSpec, type LedgerService, type TransactionInput } from "../../service/ledger/index.js";
import { freshDatabase, type TestDatabase } from "../support/db.js";

const CURRENCIES = ["USD", "EUR", "JPY"] as const;
const accounts: AccountSpec[] = CURRENCIES.flatMap((currency) =>
  [0, 1, 2, 3].map((i) => ({
    code: `seller:P${i}:available`,
    currency,
    ownerType: "seller" as const,
    ownerId: `P${i}`,
    normalBalance: "credit" as const,
    // Two accounts per currency may go negative (the funding side), two may not.
    allowNegative: i < 2,
  })),
);

describe("ledger properties (PGlite)", () => {
  let db: TestDatabase;
  let ledger: LedgerService;
  beforeAll(async () => {
    db = await freshDatabase("pglite");
    ledger = createLedger(db);
    await ledger.ensureAccounts(accounts);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it("keeps every currency at zero and every balance equal to its postings", async () => {
    let n = 0;
    const transfer = fc.record({
      currency: fc.constantFrom(...CURRENCIES),
      from: fc.integer({ min: 0, max: 3 }),
      to: fc.integer({ min: 0, max: 3 }),
      amount: fc.bigInt({ min: 1n, max: 10n ** 20n }),
      skew: fc.constantFrom(0n, 0n, 0n, 1n),
      replay: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(transfer, { minLength: 1, maxLength: 12 }), async (items) => {
        const batch: TransactionInput[] = items.map((t) => ({
          idempotencyKey: t.replay && n > 0 ? `p-${n - 1}` : `p-${n++}`,
          postings: [
            { account: `seller:P${t.from}:available`, currency: t.currency, direction: "debit", amount: t.amount },
            { account: `seller:P${t.to}:available`, currency: t.currency, direction: "credit", amount: t.amount + t.skew },
          ],
        }));
        const results = await ledger.postBatch(batch);
        results.forEach((r, i) => {
          if (items[i]!.skew !== 0n && !items[i]!.replay) expect(r.status === "error" && r.error.code).toBe("ENT_LEDGER_UNBALANCED");
        });
        const nets = await db.sql.q<Array<{ net: string }>>(
          `SELECT sum("posted_debits" - "posted_credits")::text AS net FROM "ledger_accounts" GROUP BY "currency"`,
        );
        for (const x of nets) expect(x.net).toBe("0");
        const drift = await db.sql.q(
          `SELECT a."id" FROM "ledger_accounts" a LEFT JOIN (
             SELECT "account_id", sum(CASE WHEN "direction" = 'debit' THEN "amount" ELSE 0 END) d,
                    sum(CASE WHEN "direction" = 'credit' THEN "amount" ELSE 0 END) c
               FROM "ledger_postings" GROUP BY "account_id") p ON p."account_id" = a."id"
            WHERE a."posted_debits" <> coalesce(p.d, 0) OR a."posted_credits" <> coalesce(p.c, 0)
               OR (NOT a."allow_negative" AND a."posted_credits" < a."posted_debits")`,
        );
        expect(drift).toEqual([]);
      }),
      { numRuns: 40 },
    );
    expect((await ledger.verifyChain()).ok).toBe(true);
  }, 120_000);
});
