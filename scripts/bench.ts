/**
 * `npm run bench`: ledger core, settlement engine (in-process), HTTP service, anchoring, event index
 * catch-up, reconciliation and webhook delivery figures on the embedded default (PGlite) and on
 * PostgreSQL (BENCH_DATABASE_URL, else DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/test;
 * each bench creates a FRESH database there and drops it after). An unreachable PostgreSQL is said
 * plainly and shows as an unmet figure, never silently skipped. One table, then the JSON line last.
 * On PostgreSQL the ledger area also measures its comparison points (a pgledger-shaped SQL peer and
 * the minimal durable-insert limit, scripts/bench/peers.ts) and the HTTP area the bare pipeline and
 * the service's memory; each is printed beside our figure with its ratio and target.
 *   npm run bench -- --seconds 8
 *   npm run bench -- --seconds 2 --only ledger,http     (areas: ledger settlement http anchoring
 *                                                        indexer reconciliation webhooks; BENCH_ONLY too)
 */
import { availableParallelism, loadavg } from "node:os";
import pg from "pg";
import { figure, report, type Figure } from "./lib/figures.js";
import { benchAnchoring } from "./bench/anchoring.js";
import { benchHttp } from "./bench/http.js";
import { benchIndexer, closeIndexerBenchChain } from "./bench/indexer.js";
import { benchReconciliation } from "./bench/reconciliation.js";
import { benchLedger } from "./bench/ledger.js";
import { benchSettlement } from "./bench/settlement.js";
import { benchWebhooks } from "./bench/webhooks.js";

/** The bench areas, in the order they run (one module each under scripts/bench/). */
const AREAS: Record<string, (opts: { databaseUrl?: string; seconds?: number }) => Promise<Figure[]>> = {
  ledger: benchLedger,
  settlement: benchSettlement,
  http: benchHttp,
  anchoring: benchAnchoring,
  indexer: benchIndexer,
  reconciliation: benchReconciliation,
  webhooks: benchWebhooks,
};

const DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function reachable(url: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query("SELECT 1");
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    await c.end().catch(() => undefined);
  }
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

async function main(): Promise<void> {
  const seconds = Number(arg("--seconds") ?? process.env["BENCH_SECONDS"] ?? 8);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 120) throw new Error("--seconds must be in (0, 120]");
  const pgUrl = process.env["BENCH_DATABASE_URL"] ?? process.env["DATABASE_URL"] ?? DEFAULT_PG;
  const only = (arg("--only") ?? process.env["BENCH_ONLY"] ?? "").split(",").map((a) => a.trim()).filter((a) => a !== "");
  const unknown = only.filter((a) => !(a in AREAS));
  if (unknown.length > 0) throw new Error(`--only: unknown area(s) ${unknown.join(", ")}; known: ${Object.keys(AREAS).join(" ")}`);
  const areas = Object.entries(AREAS).filter(([name]) => only.length === 0 || only.includes(name)).map(([, run]) => run);
  const figures: Figure[] = [];

  // The machine's load before any bench work: the figures of a busy machine are not the table's.
  console.log(`bench: load average ${loadavg().map((l) => l.toFixed(2)).join(" / ")} (1 / 5 / 15 min) on ${availableParallelism()} cores before the first measurement; each figure shows the 1-min load when taken`);
  console.log(`bench: PGlite (embedded), ${seconds} s per measurement${only.length > 0 ? `, areas: ${only.join(", ")}` : ""}`);
  for (const run of areas) figures.push(...(await run({ seconds })));

  const why = await reachable(pgUrl);
  if (why === null) {
    console.log(`bench: PostgreSQL at ${redact(pgUrl)} (fresh database per bench)`);
    for (const run of areas) figures.push(...(await run({ databaseUrl: pgUrl, seconds })));
  } else {
    console.log(`bench: PostgreSQL UNREACHABLE at ${redact(pgUrl)} (${why}): PostgreSQL figures NOT measured`);
    figures.push(figure(`PostgreSQL reachable at ${redact(pgUrl)}`, 0, "bool", ">=", 1));
  }
  await closeIndexerBenchChain();
  report("Entrepot benchmark", figures);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
