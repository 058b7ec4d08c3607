/**
 * Settlement event throughput in-process (no HTTP): full capture events (FX conversion with
 * evidence, program fees, taxes, one ledger transaction each) through `postEvent` with 32
 * concurrent callers, and through `postEvents` in batches of 1,000. Runs against a fresh database:
 * on PostgreSQL a new database created next to `databaseUrl` and dropped after; without a URL an
 * in-memory PGlite. The HTTP bench (scripts/bench/http.ts) holds the end-to-end targets; these
 * figures say how much of that budget the service layer itself uses.
 * Standalone: `npx tsx scripts/bench/settlement.ts [--url postgresql://...] [--seconds 3]`.
 */
import { freshTarget } from "../lib/bench-db.js";
import { benchSettlementEngine, captureStream } from "../lib/bench-settlements.js";
import { figure, runBenchCli, type Figure } from "../lib/figures.js";

const CALLERS = 32;
const BATCH = 1000;

export async function benchSettlement(opts: { databaseUrl?: string; seconds?: number }): Promise<Figure[]> {
  const seconds = opts.seconds ?? 3;
  const target = await freshTarget(opts.databaseUrl, 16);
  try {
    const db = target.db;
    const where = db.kind === "postgres" ? "PostgreSQL" : "PGlite";
    const { settlement } = await benchSettlementEngine(db);

    const next = captureStream();

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
