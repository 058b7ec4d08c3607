/**
 * Ledger core throughput: two-leg transfers through `post()` with 16 concurrent writers over 1,000
 * accounts and over 10 hot accounts, and batched posting (1,000 per `postBatch`). Runs against a
 * fresh database: on PostgreSQL a new database created next to `databaseUrl` and dropped after;
 * without a URL an in-memory PGlite.
 * Standalone: `npx tsx scripts/bench/ledger.ts [--url postgresql://...] [--seconds 3]`.
 */
import { createLedger, type AccountSpec, type LedgerService, type TransactionInput } from "../../service/ledger/index.js";
import { freshTarget } from "../lib/bench-db.js";
import { figure, runBenchCli, type Figure } from "../lib/figures.js";

const WRITERS = 16;
const BATCH = 1000;

export async function benchLedger(opts: { databaseUrl?: string; seconds?: number }): Promise<Figure[]> {
  const seconds = opts.seconds ?? 3;
  const target = await freshTarget(opts.databaseUrl, 4);
  try {
    const db = target.db;
    const ledger = createLedger(db);
    const where = db.kind === "postgres" ? "PostgreSQL" : "PGlite";
    const wide = await accounts(ledger, "wide", 1000);
    const hot = await accounts(ledger, "hot", 10);
    let seq = 0;
    const transfer = (pool: AccountSpec[]): TransactionInput => {
      const i = Math.floor(Math.random() * pool.length);
      let j = Math.floor(Math.random() * (pool.length - 1));
      if (j >= i) j++;
      return {
        idempotencyKey: `bench-${seq++}`,
        postings: [
          { account: pool[i]!.code, currency: "USD", direction: "debit", amount: 1n + BigInt(seq % 1000) },
          { account: pool[j]!.code, currency: "USD", direction: "credit", amount: 1n + BigInt(seq % 1000) },
        ],
      };
    };

    const concurrent = async (pool: AccountSpec[]): Promise<number> => {
      const deadline = performance.now() + seconds * 1000;
      let done = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: WRITERS }, async () => {
          while (performance.now() < deadline) {
            const r = await ledger.post(transfer(pool));
            if (r.status !== "created") throw new Error(`bench transfer not created: ${r.status}`);
            done++;
          }
        }),
      );
      return done / ((performance.now() - start) / 1000);
    };

    const batched = async (): Promise<number> => {
      const deadline = performance.now() + seconds * 1000;
      let done = 0;
      const start = performance.now();
      while (performance.now() < deadline) {
        const rs = await ledger.postBatch(Array.from({ length: BATCH }, () => transfer(hot)));
        const bad = rs.find((r) => r.status !== "created");
        if (bad) throw new Error(`bench batch item failed: ${JSON.stringify(bad.status === "error" ? bad.error : bad.status)}`);
        done += rs.length;
      }
      return done / ((performance.now() - start) / 1000);
    };

    await concurrent(wide.slice(0, 50)); // warm-up
    const wideRate = await concurrent(wide);
    const hotRate = await concurrent(hot);
    const batchRate = await batched();
    const chain = await ledger.verifyChain();
    if (!chain.ok) throw new Error(`hash chain broken after the bench at ${chain.firstBreak?.sequence}`);
    return [
      figure(`ledger transfers/s, ${WRITERS} writers, 1,000 accounts (${where})`, Math.round(wideRate), "transfers/s", ">=", 6000),
      figure(`ledger transfers/s, ${WRITERS} writers, 10 hot accounts (${where})`, Math.round(hotRate), "transfers/s", ">=", 6000),
      figure(`ledger batched transfers/s, ${BATCH} per request (${where})`, Math.round(batchRate), "transfers/s", ">=", 50000),
    ];
  } finally {
    await target.close();
  }
}

async function accounts(ledger: LedgerService, prefix: string, n: number): Promise<AccountSpec[]> {
  const specs: AccountSpec[] = Array.from({ length: n }, (_, i) => ({
    code: `platform:${prefix}-${i}:bench`,
    currency: "USD",
    ownerType: "platform",
    ownerId: `${prefix}-${i}`,
    normalBalance: "credit",
    allowNegative: true,
  }));
  await ledger.ensureAccounts(specs);
  return specs;
}

runBenchCli(import.meta.url, "Ledger core", benchLedger);
