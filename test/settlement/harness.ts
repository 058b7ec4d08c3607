/**
 * Real wiring for the settlement integration tests: a fresh test database (test/support), the
 * real ledger, the real fx service, and the settlement service with the demo program data.
 */
import { FxService, PrismaFxRepository } from "../../service/fx/index.js";
import type { Ledger } from "../../service/ledger/types.js";
import { DEMO_SELLERS } from "../../service/settlement/demo.js";
import {
  FEE_SCHEDULES,
  MARKETS,
  PrismaSettlementRepository,
  SettlementService,
  TAX_RULES,
  type SettlementServiceOptions,
} from "../../service/settlement/index.js";
import { createLedger, type LedgerOptions } from "../../service/ledger/index.js";
import type { SqlRunner } from "../../service/db/index.js";
import { PrismaStorageRepository } from "../../service/settlement/storage-repository.js";
import { StorageBilling } from "../../service/settlement/storage-service.js";
import { freshDatabase, type DatabaseKind } from "../support/db.js";

export interface SettlementHarness {
  settlement: SettlementService;
  ledger: Ledger;
  fx: FxService;
  repository: PrismaSettlementRepository;
  /** Stock snapshots and storage runs, charging through `settlement`. */
  storage: StorageBilling;
  /**
   * A second service instance on the same database with its own ledger writer and in-process locks,
   * as another process would be. `ledger`: options of its ledger (a fault hook, for instance);
   * `service`: options of the service itself (its chunk size, for instance).
   */
  another(ledger?: LedgerOptions, service?: Pick<SettlementServiceOptions, "chunkSize">): SettlementService;
  /** Raw SQL on the test database (test-only reads of invariants). */
  sql: SqlRunner;
  /** The PostgreSQL database's URL (another process can open it); null on PGlite. */
  url: string | null;
  /** Debits minus credits of every ledger account, per currency (must all be 0). */
  netPerCurrency(): Promise<Record<string, bigint>>;
  close(): Promise<void>;
}

/** `now`: the ledger's clock (booking times, pending timeouts); default the real time. `markupBps`: the FX markup configured (default 0). */
export async function openSettlementHarness(kind: DatabaseKind = "pglite", opts: { now?: () => Date; markupBps?: number } = {}): Promise<SettlementHarness> {
  const db = await freshDatabase(kind);
  const ledger = createLedger(db, opts.now ? { now: opts.now } : {});
  const fx = new FxService(new PrismaFxRepository(db.prisma), { rateValiditySeconds: 86_400, defaultMarkupBps: opts.markupBps ?? 0 });
  const repository = new PrismaSettlementRepository(db.prisma, db.sql);
  const make = (l: Ledger, more: Pick<SettlementServiceOptions, "chunkSize"> = {}) => new SettlementService({ ledger: l, fx, repository, maxSequenceRetries: 50, ...more });
  const settlement = make(ledger);
  await settlement.saveProgramData({
    markets: MARKETS,
    taxRules: TAX_RULES,
    schedules: FEE_SCHEDULES,
    // The demo sellers accept the two gateways these tests post as.
    sellers: DEMO_SELLERS.map((s) => ({ ...s, gateways: ["adyen", "stripe"] })),
  });
  return {
    settlement,
    ledger,
    fx,
    repository,
    storage: new StorageBilling({ repository: new PrismaStorageRepository(db.prisma), settlement }),
    another: (options = {}, service = {}) => make(createLedger(db, { ...(opts.now ? { now: opts.now } : {}), ...options }), service),
    sql: db.sql,
    url: db.url,
    async netPerCurrency() {
      // Test-only read of the ledger's running totals: the invariant is global, no API lists all accounts.
      const rows = await db.prisma.$queryRaw<Array<{ currency: string; net: string }>>`
        SELECT currency, (SUM(posted_debits) - SUM(posted_credits))::text AS net FROM ledger_accounts GROUP BY currency ORDER BY currency`;
      return Object.fromEntries(rows.map((r: { currency: string; net: string }) => [r.currency, BigInt(r.net)]));
    },
    close: () => db.close(),
  };
}

/** A published rate valid for March 2025 (the window the settlement tests' events fall in). */
export function marchRate(base: string, quote: string, rate: string) {
  return {
    base,
    quote,
    rate,
    source: "test",
    asOf: new Date("2025-03-01T00:00:00Z"),
    validFrom: new Date("2025-03-01T00:00:00Z"),
    validUntil: new Date("2025-04-01T00:00:00Z"),
  };
}
