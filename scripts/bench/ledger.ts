/**
 * Ledger core throughput: two-leg transfers through `post()` with 16 concurrent writers over 1,000
 * accounts and over 10 hot accounts, and batched posting (1,000 per `postBatch`). Runs against a
 * fresh database: on PostgreSQL a new database created next to `databaseUrl` and dropped after;
 * without a URL an in-memory PGlite.
 * On PostgreSQL, the same run also measures the comparison points of scripts/bench/peers.ts (a
 * pgledger-shaped SQL peer driven the same way, the minimal durable-insert limit bare and on the
 * project's own journal schema) and prints each ledger figure's ratio to them.
 * Standalone: `npx tsx scripts/bench/ledger.ts [--url postgresql://...] [--seconds 3]`.
 */
import { createLedger, type AccountSpec, type LedgerService, type TransactionInput } from "../../service/ledger/index.js";
import { freshTarget } from "../lib/bench-db.js";
import { figure, info, ratio, runBenchCli, type Figure } from "../lib/figures.js";
import { benchInsertLimitBare, benchInsertLimitOwnSchema, benchPgledgerPeer } from "./peers.js";

const WRITERS = 16;
const BATCH = 1000;
/** Connections of the ledger under test; the SQL peer gets the same number. */
const POOL = 4;

export async function benchLedger(opts: { databaseUrl?: string; seconds?: number }): Promise<Figure[]> {
  const seconds = opts.seconds ?? 3;
  const target = await freshTarget(opts.databaseUrl, POOL);
  let closed = false;
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
    const ours = [
      figure(`ledger transfers/s, ${WRITERS} writers, 1,000 accounts (${where})`, Math.round(wideRate), "transfers/s", ">=", 6000),
      figure(`ledger transfers/s, ${WRITERS} writers, 10 hot accounts (${where})`, Math.round(hotRate), "transfers/s", ">=", 6000),
      figure(`ledger batched transfers/s, ${BATCH} per request (${where})`, Math.round(batchRate), "transfers/s", ">=", 50000),
    ];
    await target.close();
    closed = true;
    if (!opts.databaseUrl) return ours;
    return [...ours, ...(await comparisons(opts.databaseUrl, seconds, { wideRate, hotRate, batchRate }))];
  } finally {
    if (!closed) await target.close();
  }
}

/** PostgreSQL only: the peer and the limits on the same server, right after our own figures. */
async function comparisons(url: string, seconds: number, ours: { wideRate: number; hotRate: number; batchRate: number }): Promise<Figure[]> {
  const peer = await benchPgledgerPeer(url, { seconds, writers: WRITERS, pool: POOL });
  const bare = await benchInsertLimitBare(url, seconds);
  const own = await benchInsertLimitOwnSchema(url, seconds);
  const r = Math.round;
  return [
    info(`pgledger-shaped SQL peer transfers/s, ${WRITERS} writers, 1,000 accounts (PostgreSQL)`, r(peer.wide), "transfers/s"),
    ratio(`ledger / pgledger-shaped peer, 1,000 accounts (PostgreSQL)`, r(ours.wideRate), r(peer.wide), ">=", 3),
    info(`pgledger-shaped SQL peer transfers/s, ${WRITERS} writers, 10 hot accounts (PostgreSQL)`, r(peer.hot), "transfers/s"),
    // No target in issue 14 for the hot case: the ratio is reported.
    ratio(`ledger / pgledger-shaped peer, 10 hot accounts (PostgreSQL)`, r(ours.hotRate), r(peer.hot)),
    info(`durable-insert limit, bare tables: 1 statement + 1 commit per ${BATCH} two-leg transfers (PostgreSQL)`, r(bare), "transfers/s"),
    ratio(`ledger batched / bare durable-insert limit (PostgreSQL)`, r(ours.batchRate), r(bare), ">=", 0.5),
    info(`durable-insert limit, project's journal schema (migrations), same statement shape (PostgreSQL)`, r(own), "transfers/s"),
    ratio(`ledger batched / durable-insert limit on own schema (PostgreSQL)`, r(ours.batchRate), r(own), ">=", 0.5),
  ];
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
