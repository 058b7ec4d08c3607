/**
 * Many writers on the same hot accounts, from TWO independent pools and ledger instances (as two
 * processes would be): no lost update, no deadlock, a gapless verified chain.
 * Runs on real PostgreSQL; PGlite (one connection, one process) cannot show these races.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../service/db/index.js";
import { createLedger, type AccountSpec, type LedgerService } from "../../service/ledger/index.js";
import { freshDatabase, postgresReachable, TEST_DATABASE_URL, type TestDatabase } from "../support/db.js";

const reachable = await postgresReachable();
if (!reachable) console.warn(`[ledger concurrency] PostgreSQL unreachable at ${TEST_DATABASE_URL}: concurrency suite SKIPPED (CI runs it)`);

const HOT = 10;
const WRITERS = 16;
const PER_WRITER = 60;

describe.runIf(reachable)("ledger concurrency on PostgreSQL", () => {
  let first: TestDatabase;
  let second: Database;
  let a: LedgerService;
  let b: LedgerService;

  beforeAll(async () => {
    first = await freshDatabase("postgres");
    second = await openDatabase({ url: first.url! });
    a = createLedger(first);
    b = createLedger(second);
  }, 60_000);
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it(`${WRITERS} writers x ${PER_WRITER} transfers over ${HOT} hot accounts from two pools lose no update`, async () => {
    const specs: AccountSpec[] = Array.from({ length: HOT }, (_, i) => ({
      code: `platform:hot-${i}:revenue`,
      currency: i % 2 ? "EUR" : "USD",
      ownerType: "platform",
      ownerId: `hot-${i}`,
      normalBalance: "credit",
      allowNegative: true,
    }));
    await a.ensureAccounts(specs);
    const sameCurrency = (i: number) => specs.filter((s) => s.currency === specs[i]!.currency);
    let expected = 0;
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        const ledger = w % 2 ? b : a;
        for (let n = 0; n < PER_WRITER; n++) {
          const pool = sameCurrency(w % HOT);
          const from = pool[(w + n) % pool.length]!;
          const to = pool[(w + n + 1) % pool.length]!;
          const r = await ledger.post({
            idempotencyKey: `c-${w}-${n}`,
            postings: [
              { account: from.code, currency: from.currency, direction: "debit", amount: BigInt(1 + ((w * 7 + n) % 97)) },
              { account: to.code, currency: to.currency, direction: "credit", amount: BigInt(1 + ((w * 7 + n) % 97)) },
            ],
          });
          expect(r.status).toBe("created");
          expected++;
        }
      }),
    );
    // Replays from the other pool answer "exists" and change nothing.
    expect((await b.post({
      idempotencyKey: "c-0-0",
      postings: [
        { account: specs[0]!.code, currency: "USD", direction: "debit", amount: 1n },
        { account: specs[2]!.code, currency: "USD", direction: "credit", amount: 1n },
      ],
    })).status).toBe("exists");

    const [count] = await first.prisma.$queryRawUnsafe<Array<{ n: bigint }>>(`SELECT count(*)::bigint AS n FROM "ledger_transactions"`);
    expect(count!.n).toBe(BigInt(expected));
    // Every account's stored totals equal the sum of its postings (no lost update).
    const mismatches = await first.prisma.$queryRawUnsafe<unknown[]>(`
      SELECT a."code" FROM "ledger_accounts" a
        LEFT JOIN (SELECT "account_id",
                          sum(CASE WHEN "direction" = 'debit' THEN "amount" ELSE 0 END) AS d,
                          sum(CASE WHEN "direction" = 'credit' THEN "amount" ELSE 0 END) AS c
                     FROM "ledger_postings" GROUP BY "account_id") p ON p."account_id" = a."id"
       WHERE a."posted_debits" <> coalesce(p.d, 0) OR a."posted_credits" <> coalesce(p.c, 0)`);
    expect(mismatches).toEqual([]);
    // Each currency nets to zero, and each account's last balance_after equals its balance.
    const nets = await first.prisma.$queryRawUnsafe<Array<{ currency: string; net: string }>>(`
      SELECT "currency", sum("posted_debits" - "posted_credits")::text AS net FROM "ledger_accounts" GROUP BY "currency"`);
    for (const n of nets) expect(n.net).toBe("0");
    for (const s of specs) {
      const bal = await a.balance(s.code, s.currency);
      const [last] = (await a.history(s.code, s.currency, { limit: 1 })).items;
      expect(last?.balanceAfter ?? 0n).toBe(bal.posted);
    }
    const chain = await b.verifyChain();
    expect(chain.ok).toBe(true);
    expect(chain.checked).toBe(BigInt(expected));
  }, 120_000);
});
