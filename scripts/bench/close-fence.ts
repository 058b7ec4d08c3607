/**
 * How long a fenced period close holds the journal head lock (every journal writer waits that long):
 * npm start's demo data (December), plus `--extra N` converted captures in fx:BRL-USD and fx:EUR-USD
 * (2 postings each in an FX position), then December's close checked under the lock 7 times: the
 * plan at B - 1 ms read through the lock's transaction, and the whole locked transaction. Each run
 * throws from inside the lock once measured (rolled back: nothing closes), so the runs repeat. The
 * journal's tables are analyzed after the load, as autovacuum would.
 * Embedded PGlite in memory by default; BENCH_DATABASE_URL: an EMPTY PostgreSQL database to fill.
 *   npx tsx scripts/bench/close-fence.ts --extra 50000
 */
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../service/config.js";
import { openDatabase } from "../../service/db/index.js";
import { createServices } from "../../service/services.js";
import { loadDemo, loadDemoPeriodEnd, loadDemoRemittances, loadDemoStorage, DEMO_SELLERS } from "../../service/settlement/demo.js";
import { FEE_SCHEDULES, MARKETS, TAX_RULES } from "../../service/settlement/index.js";

const url = process.env["BENCH_DATABASE_URL"];
const extraArg = process.argv.indexOf("--extra");
const extra = extraArg >= 0 ? Number(process.argv[extraArg + 1]) : 0;
if (!Number.isSafeInteger(extra) || extra < 0) throw new Error("--extra: a number of transactions");
const db = await openDatabase(url ? { url } : { dataDir: ":memory:" });
const config = loadConfig({ LOG_LEVEL: "silent", SECRETS_KEY: randomBytes(32).toString("hex"), DEMO: "true" });
const services = createServices(db, config);
await services.settlement.saveProgramData({ markets: MARKETS, taxRules: TAX_RULES, schedules: FEE_SCHEDULES, sellers: DEMO_SELLERS });
const t0 = performance.now();
const summary = await loadDemo({ settlement: services.settlement, fx: services.fx, log: () => undefined });
await loadDemoRemittances({ realisation: services.realisation, fx: services.fx, log: () => undefined });
await loadDemoStorage({ storage: services.storage, fx: services.fx, log: () => undefined });
await loadDemoPeriodEnd({ realisation: services.realisation, fx: services.fx, log: () => undefined }, undefined, config.fx.closeMaxRateAgeDays);
if (summary.errors.length > 0) throw new Error(`${summary.errors.length} demo event(s) refused`);
console.log(`demo loaded: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const ledger = services.ledger;
if (extra > 0) {
  // Converted captures into December in fx:BRL-USD and fx:EUR-USD: 4 postings each, 2 of them in an FX position.
  const t1 = performance.now();
  const specs = (c: string) => [
    { code: `fx:${c}-USD`, currency: c, ownerType: "fx_clearing" as const, ownerId: `${c}-USD`, normalBalance: "debit" as const, allowNegative: true },
    { code: `fx:${c}-USD`, currency: "USD", ownerType: "fx_clearing" as const, ownerId: `${c}-USD`, normalBalance: "debit" as const, allowNegative: true },
    { code: "gateway:bench:receivable", currency: c, ownerType: "gateway" as const, ownerId: "bench", normalBalance: "debit" as const, allowNegative: true },
    { code: "seller:BENCH:available", currency: "USD", ownerType: "seller" as const, ownerId: "BENCH", normalBalance: "credit" as const, allowNegative: true },
  ];
  const CHUNK = 2000;
  for (let from = 0; from < extra; from += CHUNK) {
    const inputs = Array.from({ length: Math.min(CHUNK, extra - from) }, (_, k) => {
      const i = from + k;
      const c = i % 2 === 0 ? "BRL" : "EUR";
      return {
        idempotencyKey: `bench:fence:${i}`,
        postings: [
          { account: "gateway:bench:receivable", currency: c, direction: "debit" as const, amount: 1000n },
          { account: `fx:${c}-USD`, currency: c, direction: "credit" as const, amount: 1000n },
          { account: `fx:${c}-USD`, currency: "USD", direction: "debit" as const, amount: 200n },
          { account: "seller:BENCH:available", currency: "USD", direction: "credit" as const, amount: 200n },
        ],
        effectiveAt: new Date(Date.parse("2024-12-03T00:00:00Z") + (i % (27 * 86_400)) * 1000),
        accounts: specs(c),
      };
    });
    const r = await ledger.postBatch(inputs);
    const bad = r.find((x) => x.status === "error");
    if (bad) throw new Error(JSON.stringify(bad));
  }
  console.log(`extra: ${extra} transactions (${extra * 2} postings in FX positions) in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
}

// Statistics of the bulk load, as autovacuum would gather them shortly after it (10% of a table
// changed): the plans measured are those of a database in service, not of one filled a second ago.
await db.sql.q(`ANALYZE ledger_transactions`);
await db.sql.q(`ANALYZE ledger_postings`);
await db.sql.q(`ANALYZE ledger_accounts`);

const before = new Date("2025-01-01T00:00:00Z");
const at = new Date(before.getTime() - 1);
const realisation = services.realisation;
const holds: number[] = [];
const checks: number[] = [];
const sentinel = new Error("measured");
for (let run = 0; run < 7; run++) {
  const rates = await realisation.closingRates(at);
  let checkMs = 0;
  let lockedAt = 0;
  const start = performance.now();
  try {
    await ledger.closePeriod({
      before,
      note: "measure",
      check: async (journal) => {
        lockedAt = performance.now();
        const plan = await realisation.previewRevaluation(at, { journal, rates });
        checkMs = performance.now() - lockedAt;
        if (run === 0) console.log(`plan: ${plan.lines.length} lines, ${plan.skipped.length} skipped`);
        throw sentinel;
      },
    });
  } catch (e) {
    if (e !== sentinel) throw e;
  }
  holds.push(performance.now() - start);
  checks.push(checkMs);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(1);
console.log(`${db.kind}${extra ? ` +${extra} tx` : ""}: fenced check under the lock median ${med(checks)} ms (max ${Math.max(...checks).toFixed(1)}), lock transaction median ${med(holds)} ms (runs: ${checks.map((x) => x.toFixed(1)).join(", ")})`);
await db.close();
