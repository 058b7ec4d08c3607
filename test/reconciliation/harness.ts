/**
 * Real wiring for the reconciliation tests: a fresh database (test/support), the real ledger, fx
 * and settlement services with the demo program data, the real anchoring service on an in-process
 * Hardhat chain (contracts deployed by deploySystem, transactions through the real TxSender), and
 * the reconciliation service on top. The planted settlement events of the fixtures are in
 * `fixtures/README.md`.
 */
import { readFileSync } from "node:fs";
import { Wallet } from "ethers";
import { AnchorService } from "../../service/anchoring/index.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { TxSender } from "../../service/chain/sender.js";
import { FxService, PrismaFxRepository } from "../../service/fx/index.js";
import { createLedger } from "../../service/ledger/index.js";
import type { Ledger } from "../../service/ledger/types.js";
import { ReconciliationService, ReconRepository } from "../../service/reconciliation/index.js";
import { DEMO_SELLERS } from "../../service/settlement/demo.js";
import { FEE_SCHEDULES, MARKETS, PrismaSettlementRepository, SettlementService, TAX_RULES, type SettlementEvent } from "../../service/settlement/index.js";
import { deployedSystem, type System } from "../chain/fixture.js";
import { withRegion } from "../settlement/fixtures.js";
import { followUpOf } from "../../service/settlement/validate.js";
import { freshDatabase, type DatabaseKind, type TestDatabase } from "../support/db.js";

export const FIXTURES = new URL("./fixtures/", import.meta.url);

export function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), "utf8");
}

/** The 1-based line of the first (or n-th) fixture line containing `needle`. */
export function lineOf(text: string, needle: string, nth = 1): number {
  const lines = text.split(/\r?\n/);
  let seen = 0;
  for (let i = 0; i < lines.length; i++) if (lines[i]!.includes(needle) && ++seen === nth) return i + 1;
  throw new Error(`${needle} not in the fixture`);
}

export async function* bodyOf(text: string | Buffer, chunk = 4096): AsyncGenerator<Uint8Array> {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
}

const SELLER = "S-POP-HK-02";
const at = (iso: string) => new Date(iso);

function cap(gateway: string, id: string, order: string, market: string, currency: string, amount: bigint, fee: bigint, when: string): SettlementEvent {
  return withRegion({ type: "capture", gateway, gatewayEventId: id, settlementId: order, sellerId: SELLER, market, category: "electronics", currency, amount, gatewayFee: fee, occurredAt: at(when) });
}

function follow(of: SettlementEvent, type: SettlementEvent["type"], id: string, amount: bigint, fee: bigint, when: string, original = of.gatewayEventId): SettlementEvent {
  return { ...followUpOf(of), type, gatewayEventId: id, amount, gatewayFee: fee, occurredAt: at(when), originalEventId: original };
}

/** The ledger side of adyen_settlement_detail_report_batch_42.csv (see fixtures/README.md). */
export function adyenEvents(): { before: SettlementEvent[]; after: SettlementEvent[] } {
  const g = "adyen";
  const e1 = cap(g, "8825000000000001", "ORD-AD-1", "ES", "EUR", 2790n, 81n, "2025-03-03T09:00:00Z");
  const e3 = cap(g, "8815000000000003", "ORD-AD-3", "ES", "EUR", 10_000n, 290n, "2025-03-03T11:00:00Z");
  const e11 = follow(e3, "chargeback", "8845000000000011", 3000n, 0n, "2025-03-06T09:00:00Z");
  return {
    before: [
      e1,
      follow(e1, "refund", "8835000000000002", 1000n, 0n, "2025-03-04T10:00:00Z"),
      e3,
      cap(g, "8825000000000004", "ORD-AD-4", "ES", "EUR", 2850n, 83n, "2025-03-04T09:00:00Z"),
      cap(g, "8825000000000005", "ORD-AD-5", "ES", "EUR", 2690n, 78n, "2025-03-04T12:00:00Z"),
      cap(g, "8825000000000006", "ORD-AD-6", "BR", "BRL", 14_990n, 434n, "2025-03-05T09:00:00Z"),
      cap(g, "8825000000000007", "ORD-AD-7", "ES", "EUR", 4500n, 131n, "2025-03-05T10:00:00Z"),
      cap(g, "8825000000000008", "ORD-AD-8", "ES", "EUR", 3100n, 90n, "2025-03-03T08:00:00Z"),
      cap(g, "8825000000000009", "ORD-AD-9", "ES", "EUR", 1999n, 58n, "2025-03-04T15:00:00Z"),
      cap(g, "8825000000000010", "ORD-AD-10", "KR", "KRW", 39_000n, 1131n, "2025-03-05T09:00:00Z"),
      e11,
      follow(e11, "chargeback_reversal", "8855000000000012", 3000n, 0n, "2025-03-06T15:00:00Z", "8845000000000011"),
      follow(e1, "fee_adjustment", "FEE-ADJ-2025-03", 0n, 250n, "2025-03-06T18:00:00Z"),
      cap(g, "8825000000000015", "ORD-AD-15", "ES", "EUR", 3333n, 97n, "2025-03-05T11:00:00Z"),
      cap(g, "8825000000000016", "ORD-AD-16", "ES", "EUR", 2500n, 73n, "2025-03-09T10:00:00Z"),
    ],
    after: [cap(g, "8825000000000014", "ORD-AD-14", "ES", "EUR", 1200n, 35n, "2025-03-05T16:00:00Z")],
  };
}

/** The ledger side of stripe_balance_change_from_activity.itemized.csv. */
export function stripeEvents(): { before: SettlementEvent[]; after: SettlementEvent[] } {
  const g = "stripe";
  const s1 = cap(g, "ch_3S1", "ORD-ST-1", "US", "USD", 2999n, 117n, "2025-03-03T09:00:00Z");
  const s4 = cap(g, "ch_3S4", "ORD-ST-4", "US", "USD", 5000n, 175n, "2025-03-04T10:00:00Z");
  const s7 = follow(s1, "chargeback", "dp_3S7", 1999n, 1500n, "2025-03-05T10:00:00Z");
  return {
    before: [
      s1,
      cap(g, "ch_3S2", "ORD-ST-2", "BR", "BRL", 14_990n, 434n, "2025-03-03T10:00:00Z"),
      follow(s1, "refund", "re_3S3", 1000n, 0n, "2025-03-04T09:00:00Z"),
      s4,
      cap(g, "ch_3S5", "ORD-ST-5", "US", "USD", 2000n, 88n, "2025-03-04T11:00:00Z"),
      cap(g, "ch_3S6", "ORD-ST-6", "BR", "BRL", 10_000n, 290n, "2025-03-05T09:00:00Z"),
      s7,
      follow(s7, "chargeback_reversal", "txn_3S8", 1999n, 0n, "2025-03-06T10:00:00Z", "dp_3S7"),
      cap(g, "ch_3S9", "ORD-ST-9", "US", "USD", 1500n, 74n, "2025-03-03T09:00:00Z"),
      cap(g, "ch_3S10", "ORD-ST-10", "US", "USD", 1200n, 65n, "2025-03-04T12:00:00Z"),
      follow(s4, "fee_adjustment", "fee_3S11", 0n, 200n, "2025-03-06T12:00:00Z"),
    ],
    after: [cap(g, "ch_3S12", "ORD-ST-12", "US", "USD", 999n, 59n, "2025-03-05T13:00:00Z")],
  };
}

export interface ReconHarness {
  db: TestDatabase;
  ledger: Ledger;
  fx: FxService;
  settlement: SettlementService;
  anchor: AnchorService;
  recon: ReconciliationService;
  system: System;
  /** Ticks the anchoring service until every journal transaction so far is submitted (mined on the in-process chain). */
  anchorAll(): Promise<void>;
  post(events: readonly SettlementEvent[]): Promise<void>;
  close(): Promise<void>;
}

export async function openReconHarness(kind: DatabaseKind): Promise<ReconHarness> {
  const db = await freshDatabase(kind);
  const system = await deployedSystem();
  try {
    const ledger = createLedger(db);
    const fx = new FxService(new PrismaFxRepository(db.prisma), { rateValiditySeconds: 86_400 });
    const settlement = new SettlementService({ ledger, fx, repository: new PrismaSettlementRepository(db.prisma, db.sql) });
    // The demo sellers accept the two gateways these tests post as.
    await settlement.saveProgramData({ markets: MARKETS, taxRules: TAX_RULES, schedules: FEE_SCHEDULES, sellers: DEMO_SELLERS.map((s) => ({ ...s, gateways: ["adyen", "stripe"] })) });
    const validFrom = new Date("2025-03-01T00:00:00Z");
    const validUntil = new Date("2025-04-01T00:00:00Z");
    await fx.publishRates(
      [
        ["BRL", "0.17"],
        ["EUR", "1.08"],
        ["KRW", "0.00069"],
      ].map(([base, rate]) => ({ base: base!, quote: "USD", rate: rate!, source: "test", asOf: validFrom, validFrom, validUntil })),
    );
    const provider = system.connection.ethers.provider;
    const wallet = new Wallet(devPrivateKey(1, system.chainId), provider);
    const sender = new TxSender({ sql: db.sql, provider: provider, chainId: system.chainId, signers: [wallet] });
    const anchor = new AnchorService({
      sql: db.sql,
      ledger,
      provider: provider,
      chainId: system.chainId,
      anchor: system.result.record.contracts.SettlementAnchor.address,
      sender,
      anchorer: wallet.address,
      batchMaxAgeMs: 1,
    });
    const recon = new ReconciliationService({ repository: new ReconRepository(db.sql), settlement, ledger, chain: anchor });
    const post = async (events: readonly SettlementEvent[]) => {
      // One by one, in order: follow-ups name originals posted just before.
      for (const e of events) await settlement.postEvent(e);
    };
    return {
      db,
      ledger,
      fx,
      settlement,
      anchor,
      recon,
      system,
      post,
      async anchorAll() {
        const ids: string[] = [];
        for (let after = 0n; ; ) {
          const page = await ledger.listJournal(after, 1000);
          if (page.length === 0) break;
          ids.push(...page.map((t) => t.id));
          after = page[page.length - 1]!.sequence;
        }
        for (let i = 0; i < 50; i++) {
          await anchor.tick();
          await sender.tick();
          const states = await anchor.statesOf(ids);
          if (ids.every((id) => ["submitted", "observed", "safe", "final"].includes(states.get(id)?.state ?? ""))) return;
        }
        throw new Error("the journal was not anchored within 50 ticks");
      },
      async close() {
        await system.close();
        await db.close();
      },
    };
  } catch (e) {
    await system.close();
    await db.close();
    throw e;
  }
}
