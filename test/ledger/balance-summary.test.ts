/**
 * The overview's balance summary reads each side's totals and the accounts against their normal
 * side in one snapshot: while writers move accounts across zero, every answer's groups add up to
 * its sides' figures (two reads apart disagreed whenever a flush committed between them).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedger, type AccountSpec, type LedgerService } from "../../service/ledger/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";

const kinds = await testDatabaseKinds();

const specs: AccountSpec[] = Array.from({ length: 8 }, (_, i) => ({
  code: `seller:S${i}:available`,
  currency: "USD",
  ownerType: "seller",
  ownerId: `S${i}`,
  normalBalance: "credit",
  allowNegative: true,
}));

// PostgreSQL: reads and writes on several connections at once (PGlite has one).
describe.runIf(kinds.includes("postgres"))("balance summary on postgres", () => {
  let db: TestDatabase;
  let ledger: LedgerService;
  beforeAll(async () => {
    db = await freshDatabase("postgres", { poolSize: 4 });
    ledger = createLedger(db);
    await ledger.ensureAccounts(specs);
  });
  afterAll(async () => db.close());

  it("answers sides and groups from one snapshot while writers move accounts across zero", async () => {
    let seq = 0;
    let writing = true;
    // Each transfer moves 10 from one seller to another: balances cross zero both ways all the time.
    const writers = Array.from({ length: 4 }, async () => {
      while (writing) {
        const i = seq % specs.length;
        const j = (i + 1 + (seq % (specs.length - 1))) % specs.length;
        const r = await ledger.post({
          idempotencyKey: `move-${seq++}`,
          postings: [
            { account: specs[i]!.code, currency: "USD", direction: "debit", amount: 10n },
            { account: specs[j]!.code, currency: "USD", direction: "credit", amount: 10n },
          ],
        });
        expect(r.status).toBe("created");
      }
    });
    try {
      // At least 100 reads, and on until 200 transfers have committed among them.
      for (let n = 0; n < 100 || (seq < 200 && n < 10_000); n++) {
        const [usd] = await ledger.balanceSummary();
        const groups = usd!.againstNormal;
        const grouped = groups.reduce((sum, g) => sum + g.balance, 0n);
        expect(grouped, `read ${n}`).toBe(usd!.debitNormal.againstNormalSide + usd!.creditNormal.againstNormalSide);
        expect(groups.reduce((sum, g) => sum + g.accounts, 0), `read ${n}`).toBe(usd!.debitNormal.accountsAgainst + usd!.creditNormal.accountsAgainst);
      }
      expect(seq).toBeGreaterThanOrEqual(200);
    } finally {
      writing = false;
      await Promise.all(writers);
    }
  });
});
