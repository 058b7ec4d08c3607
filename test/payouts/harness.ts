/**
 * Real wiring for the payout tests: an in-process chain with the system deployed by deploySystem,
 * a fresh database, the real ledger, FX and settlement services, the real TxSender (payer key =
 * dev account #2) and ChainIndexer, a PayoutService on top, and the TreasuryService that books the
 * vault's funding and claims. `step()` runs one worker round (sender tick, index poll -> listener,
 * payouts execute, treasury tick) and `untilBatch()` mines blocks until a batch reaches a status.
 */
import { Wallet, type Provider } from "ethers";
import { expect } from "vitest";
import { ChainIndexer } from "../../service/chain/indexer/index.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { TxSender } from "../../service/chain/sender.js";
import { FxService, PrismaFxRepository } from "../../service/fx/index.js";
import { createLedger } from "../../service/ledger/index.js";
import type { JournalTransaction, Ledger } from "../../service/ledger/types.js";
import { mayTakeStablecoin, PayoutService, type PayoutServiceOptions } from "../../service/payouts/index.js";
import type { PayoutBatch, PayoutStatus } from "../../service/payouts/types.js";
import { DEMO_SELLERS } from "../../service/settlement/demo.js";
import { accountSpec, FEE_SCHEDULES, MARKETS, PrismaSettlementRepository, SettlementService, TAX_RULES, type Seller } from "../../service/settlement/index.js";
import { TreasuryService } from "../../service/treasury/index.js";
import { mineEmpty } from "../chain/indexer/support.js";
import { deployedSystem, type System } from "../chain/fixture.js";
import { freshDatabase, type DatabaseKind, type TestDatabase } from "../support/db.js";

export const USDC = 1_000_000n;

export interface LogLine {
  level: string;
  msg: string;
  obj: object;
}

export interface PayoutHarness {
  sys: System;
  db: TestDatabase;
  provider: Provider;
  ledger: Ledger;
  fx: FxService;
  settlement: SettlementService;
  sender: TxSender;
  indexer: ChainIndexer;
  payouts: PayoutService;
  treasury: TreasuryService;
  payer: Wallet;
  vault: string;
  logs: LogLine[];
  /** Sellers known to settlement, in the order their demo destinations were assigned (accounts #5..). */
  sellers: Seller[];
  /** Credits `amount` minor units to `seller:<id>:available` (a real, balanced ledger transaction). */
  credit(sellerId: string, currency: string, amount: bigint, key?: string): Promise<JournalTransaction>;
  step(): Promise<void>;
  untilBatch(batchId: bigint, status: PayoutStatus, maxRounds?: number): Promise<PayoutBatch>;
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  close(): Promise<void>;
}

/** Extra test sellers after the five demo ones (accounts #10..): Hong Kong companies, which the vault may pay. */
export const TEST_SELLERS: Seller[] = [
  { id: "S-TEST-USD-01", name: "Test USD seller", program: "semi_hosting", payoutCurrency: "USD", homeCountry: "HK" },
  { id: "S-TEST-CNY-01", name: "Test CNY seller", program: "semi_hosting", payoutCurrency: "CNY", homeCountry: "HK" },
  { id: "S-TEST-USD-02", name: "Test USD seller 2", program: "semi_hosting", payoutCurrency: "USD", homeCountry: "HK" },
];

export async function openPayoutHarness(kind: DatabaseKind, opts: Partial<PayoutServiceOptions> = {}): Promise<PayoutHarness> {
  const [sys, db] = await Promise.all([deployedSystem(), freshDatabase(kind)]);
  const provider = sys.connection.ethers.provider;
  const logs: LogLine[] = [];
  const log = {
    info: (obj: object, msg?: string) => logs.push({ level: "info", msg: msg ?? "", obj }),
    warn: (obj: object, msg?: string) => logs.push({ level: "warn", msg: msg ?? "", obj }),
    error: (obj: object, msg?: string) => logs.push({ level: "error", msg: msg ?? "", obj }),
  };
  const ledger = createLedger(db);
  const fx = new FxService(new PrismaFxRepository(db.prisma), { rateCacheSeconds: 0 });
  const settlement = new SettlementService({ ledger, fx, repository: new PrismaSettlementRepository(db.prisma, db.sql) });
  const sellers = [...DEMO_SELLERS, ...TEST_SELLERS];
  await settlement.saveProgramData({ markets: MARKETS, taxRules: TAX_RULES, schedules: FEE_SCHEDULES, sellers });
  const payer = new Wallet(devPrivateKey(2, sys.chainId), provider);
  const record = sys.result.record;
  const sender = new TxSender({ sql: db.sql, provider, chainId: sys.chainId, signers: [payer], record, stuckAfterMs: 600_000, log });
  const indexer = new ChainIndexer({ sql: db.sql, provider, record, confirmations: 3, safeDepth: 1, log });
  const payouts = new PayoutService({
    sql: db.sql,
    ledger,
    fx,
    sellers: settlement,
    chain: { chainId: sys.chainId, provider, record, sender, index: indexer, payer: payer.address },
    minAmount: 100n,
    intervalMs: 0,
    retryAfterMs: 0,
    log,
    ...opts,
  });
  const treasury = new TreasuryService({ sql: db.sql, ledger, chain: { chainId: sys.chainId, provider, record, index: indexer }, claimants: payouts, log });
  indexer.onChange((change) => payouts.onIndexed(change));
  // Sellers are paid to accounts #5.. in the order above (sys.others[i]); the demo's mainland-China
  // sellers get no destination (the vault may not pay them), and their accounts stay unused.
  for (const [i, s] of sellers.entries()) {
    if (mayTakeStablecoin(s)) await payouts.setDestination(s.id, sys.others[i]!.address, { by: "test" });
  }
  // A CNY rate valid now (payouts convert at the rate in force when they are planned).
  const now = Date.now();
  await fx.publishRates([{ base: "USD", quote: "CNY", rate: "7.2345", source: "test desk", asOf: new Date(now - 60_000), validFrom: new Date(now - 60_000), validUntil: new Date(now + 86_400_000) }]);

  const rpc = <T = unknown>(method: string, params: unknown[] = []) => sys.connection.provider.request({ method, params }) as Promise<T>;
  let credits = 0;
  const h: PayoutHarness = {
    sys,
    db,
    provider,
    ledger,
    fx,
    settlement,
    sender,
    indexer,
    payouts,
    treasury,
    payer,
    vault: record.contracts.SettlementVault.address,
    logs,
    sellers,
    rpc,
    async credit(sellerId, currency, amount, key = `test-credit-${++credits}-${sellerId}`) {
      const postings = [
        { account: "gateway:test:receivable", currency, direction: "debit" as const, amount },
        { account: `seller:${sellerId}:available`, currency, direction: "credit" as const, amount },
      ];
      const r = await ledger.post({
        idempotencyKey: key,
        postings,
        accounts: postings.map((p) => accountSpec(p.account, p.currency)),
        metadata: { sellerId, kind: "test-credit" },
      });
      return r.transaction;
    },
    async step() {
      await sender.tick();
      await indexer.poll();
      await payouts.execute();
      await treasury.tick();
    },
    async untilBatch(batchId, status, maxRounds = 12) {
      for (let i = 0; i < maxRounds; i++) {
        await h.step();
        const b = (await payouts.getBatch(batchId)).batch;
        if (b.status === status) return b;
        await mineEmpty(sys, 1, 1);
      }
      const b = (await payouts.getBatch(batchId)).batch;
      expect(b.status, `batch ${batchId} never reached ${status}; error: ${b.error}`).toBe(status);
      return b;
    },
    async close() {
      await sys.close();
      await db.close();
    },
  };
  return h;
}

/** Every transaction balances per currency (debits = credits), and its postings are positive. */
export function expectBalanced(tx: JournalTransaction): void {
  const sums = new Map<string, bigint>();
  for (const p of tx.postings) {
    expect(p.amount > 0n).toBe(true);
    sums.set(p.currency, (sums.get(p.currency) ?? 0n) + (p.direction === "debit" ? p.amount : -p.amount));
  }
  for (const [currency, net] of sums) expect(net, `transaction ${tx.id} in ${currency}`).toBe(0n);
}

/** All journal transactions whose metadata says they belong to payout `id` (any kind). */
export async function payoutJournal(ledger: Ledger, payoutId: bigint): Promise<JournalTransaction[]> {
  const page = await ledger.listTransactions({ metadata: { payoutId: payoutId.toString() }, limit: 100 });
  return page.items;
}

/** Mined transactions sent by `from` to `to` since `fromBlock` (what the chain really holds). */
export async function minedCalls(provider: Provider, from: string, to: string, fromBlock: number): Promise<Array<{ hash: string; data: string; status: number | null }>> {
  const head = await provider.getBlockNumber();
  const out: Array<{ hash: string; data: string; status: number | null }> = [];
  for (let n = fromBlock; n <= head; n++) {
    const block = await provider.getBlock(n, true);
    for (const tx of block?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() === from.toLowerCase() && tx.to?.toLowerCase() === to.toLowerCase()) {
        const receipt = await provider.getTransactionReceipt(tx.hash);
        out.push({ hash: tx.hash.toLowerCase(), data: tx.data, status: receipt?.status ?? null });
      }
    }
  }
  return out;
}
