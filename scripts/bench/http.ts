/**
 * Service throughput over real HTTP: full settlement events (FX conversion with evidence, program
 * fees and taxes, idempotency with a share of replays), signed like a gateway signs them.
 *
 * The service runs in a CHILD process on a loopback port (so its event loop and memory are its
 * own, and its peak RSS is the service's alone), bundled and run by plain node as deployed
 * (`http-service.ts`); the load comes from this process over keep-alive
 * connections (node:http Agent). Bounded in time AND in count.
 *  - single: 32 concurrent clients, one event per request -> events/s, p50/p99 latency;
 *  - batch:  4 concurrent clients, 500 events per request with `Prefer: return=minimal` (booked
 *    items answered by their ids) -> events/s; then, shorter, every item answered in full;
 *  - pipeline: the same 32 clients on requests that fail validation (no domain work) -> req/s, and
 *    the single-event rate as a ratio of it;
 *  - memory: the service's RSS idle after start (before any load, once start-up work has settled),
 *    its peak RSS during start-up, and its peak RSS over the run;
 *  - two instances (PostgreSQL only): a second service process joins the same database and the 32
 *    clients are split across both -> events/s (reported; PGlite is single-process).
 * Standalone: `npx tsx scripts/bench/http.ts [--url postgresql://...] [--seconds 8]`; with
 * BENCH_CHILD_PROF=<folder> each service process leaves a CPU profile there (where its time goes).
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import http from "node:http";
import path from "node:path";
import { build } from "esbuild";
import { historicalUsdRate } from "../../service/fx/index.js";
import { signedHeaders } from "../../service/http/auth/signature.js";
import { MARKETS } from "../../service/settlement/index.js";
import { PROJECT_ROOT } from "../../service/root.js";
import type { Ready, Stats } from "./http-service.js";
import { freshPostgres } from "../lib/bench-db.js";
import { benchSupplyPrice } from "../lib/bench-settlements.js";
import { figure, info, percentile, ratio, runBenchCli, type Figure } from "../lib/figures.js";

const CLIENTS = 32;
const BATCH_CLIENTS = 4;
const BATCH_SIZE = 500;
const MAX_SINGLE_EVENTS = 200_000;
const MAX_BATCH_EVENTS = 2_000_000;
/** One event in this many is a replay of an earlier one (answered `exists`). */
const REPLAY_EVERY = 20;


// ---------------------------------------------------------------------------------------------
// Parent: the load.

function signedBody(secret: string, body: string): Record<string, string> {
  return signedHeaders(secret, body);
}

function request(agent: http.Agent, port: number, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function eventFactory(ready: Ready, runId: string) {
  let n = 0;
  const issued: Array<Record<string, unknown>> = [];
  return () => {
    // A replay (answered `exists`) of an event sent at least 500 events earlier, hence already
    // answered: a duplicate of an event still in flight, signed in the same millisecond, would be
    // the same signature and rightly refused as a replayed request.
    if (issued.length > 1_000 && n % REPLAY_EVERY === 0) {
      n++;
      return issued[(n * 7919) % (issued.length - 500)] as Record<string, unknown>;
    }
    const i = n++;
    const market = ready.markets[i % ready.markets.length]!;
    const seller = ready.sellers[(i >> 3) % ready.sellers.length]!;
    const amount = 1_000 + (i % 97) * 113;
    const event: Record<string, unknown> = {
      type: "capture",
      gateway: "bench",
      gatewayEventId: `${runId}-${i}`,
      settlementId: `ORD-${runId}-${i}`,
      sellerId: seller.id,
      market: market.code,
      category: seller.program === "pop" ? "electronics" : "home",
      currency: market.currency,
      amount: String(amount),
      gatewayFee: String(Math.floor((amount * 29) / 1000)),
      occurredAt: new Date().toISOString(),
      ...(seller.program === "full_hosting" ? { supplyPrice: String(benchSupplyPrice(market.currency, BigInt(amount))) } : {}),
      ...(market.region === undefined ? {} : { shipToRegion: market.region }),
    };
    if (issued.length < 5_000) issued.push(event);
    return event;
  };
}

/** `ports`: the instances to spread the clients over (client i talks to ports[i % n]); default the one of `ready`. */
async function runSingle(ready: Ready, seconds: number, maxEvents: number, runId: string, ports: readonly number[] = [ready.port]) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const next = eventFactory(ready, runId);
  const latencies: number[] = [];
  let errors = 0;
  let firstError = "";
  let sent = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      const port = ports[client % ports.length]!;
      while (performance.now() < deadline && sent < maxEvents) {
        sent++;
        const body = JSON.stringify(next());
        const headers = { authorization: `Bearer ${ready.key}`, ...(signedBody(ready.signingSecret, body)) };
        const t0 = performance.now();
        const r = await request(agent, port, "/v1/settlements/events", body, headers);
        latencies.push(performance.now() - t0);
        if (r.status !== 201 && r.status !== 200) {
          errors++;
          firstError ||= `${r.status} ${r.body.slice(0, 300)}`;
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return { rate: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), count: latencies.length, errors, firstError };
}

/**
 * The HTTP pipeline alone: authenticated, signed requests whose body fails schema validation, so
 * everything but the domain work runs (key check, HMAC over the raw body, JSON parse, validation,
 * problem rendering). The ceiling the HTTP layer puts on the event rate.
 */
async function runPipeline(ready: Ready, seconds: number, runId: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  let done = 0;
  let unexpected = 0;
  let n = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < deadline) {
        const body = JSON.stringify({ type: "capture", gatewayEventId: `${runId}-${n++}`, amount: 1 });
        const r = await request(agent, ready.port, "/v1/settlements/events", body, { authorization: `Bearer ${ready.key}`, ...signedBody(ready.signingSecret, body) });
        if (r.status !== 400) unexpected++;
        done++;
      }
    }),
  );
  agent.destroy();
  if (unexpected > 0) throw new Error(`pipeline bench: ${unexpected} responses were not the expected 400`);
  return done / ((performance.now() - start) / 1000);
}

/** `minimal`: ask for booked items by their ids only (`Prefer: return=minimal`), as a gateway that keeps its own copy would. */
async function runBatch(ready: Ready, seconds: number, maxEvents: number, runId: string, minimal: boolean) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: BATCH_CLIENTS });
  const next = eventFactory(ready, runId);
  let events = 0;
  let itemErrors = 0;
  let firstError = "";
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: BATCH_CLIENTS }, async () => {
      while (performance.now() < deadline && events < maxEvents) {
        const batch = Array.from({ length: BATCH_SIZE }, next);
        const body = JSON.stringify({ events: batch });
        const headers = { authorization: `Bearer ${ready.key}`, ...(signedBody(ready.signingSecret, body)), ...(minimal ? { prefer: "return=minimal" } : {}) };
        const t0 = performance.now();
        const r = await request(agent, ready.port, "/v1/settlements/events/batch", body, headers);
        latencies.push(performance.now() - t0);
        if (r.status !== 200) {
          itemErrors += BATCH_SIZE;
          firstError ||= `${r.status} ${r.body.slice(0, 300)}`;
          continue;
        }
        const results = (JSON.parse(r.body) as { results: Array<{ status: string; settlementId?: string; settlement?: unknown; error?: { code: string; message: string } }> }).results;
        for (const x of results) {
          if (x.status === "error") {
            itemErrors++;
            firstError ||= `${x.error?.code} ${x.error?.message}`;
          } else if ((minimal ? x.settlementId : x.settlement) === undefined) {
            itemErrors++;
            firstError ||= `a ${x.status} item without its ${minimal ? "settlementId" : "settlement"}`;
          }
        }
        events += results.length;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return { rate: events / elapsed, count: events, errors: itemErrors, firstError, p99: latencies.length > 0 ? percentile(latencies, 99) : 0 };
}

/** The secrets key of this bench run (SECRETS_KEY of every service child it starts). */
const RUN_SECRETS_KEY = randomBytes(32).toString("hex");

/** The real USD rates of 2024-12-02 for every market currency and CNY, as the service child publishes them (JSON). */
function usdRates(): string {
  const currencies = [...new Set([...MARKETS.map((m) => m.currency), "CNY"])].filter((c) => c !== "USD");
  return JSON.stringify(Object.fromEntries(currencies.map((c) => [c, historicalUsdRate(c, "2024-12-02").rate])));
}

let bundled: Promise<string> | null = null;

/**
 * The service child as a deployment runs it: bundled by esbuild like `dist/server.mjs` and run by
 * plain node, so no TypeScript loader sits in its memory figures. Built once per bench process.
 */
function serviceBundle(): Promise<string> {
  bundled ??= (async () => {
    const outfile = path.join(PROJECT_ROOT, "dist", "bench-http-service.mjs");
    await build({
      entryPoints: [path.join(PROJECT_ROOT, "scripts", "bench", "http-service.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node24",
      packages: "external",
      outfile,
      logLevel: "warning",
    });
    return outfile;
  })();
  return bundled;
}

async function startChild(databaseUrl: string | undefined, opts: { join?: boolean } = {}): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = fork(await serviceBundle(), [], {
    // BENCH_CHILD_PROF=<folder>: the service writes a V8 CPU profile there when it exits.
    execArgv: process.env.BENCH_CHILD_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CHILD_PROF}`] : [],
    env: { ...process.env, BENCH_SECRETS_KEY: RUN_SECRETS_KEY, BENCH_USD_RATES: usdRates(), ...(databaseUrl ? { BENCH_CHILD_DATABASE_URL: databaseUrl } : {}), ...(opts.join === true ? { BENCH_CHILD_JOIN: "1" } : {}) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`bench service exited early with code ${code}`)));
    child.on("message", (m: Ready | Stats) => {
      if (m.type === "ready") resolve({ child, ready: m });
    });
  });
}

function ask(child: ChildProcess): Promise<Stats> {
  return new Promise((resolve) => {
    const on = (m: Ready | Stats) => {
      if (m.type === "stats") {
        child.off("message", on);
        resolve(m);
      }
    };
    child.on("message", on);
    child.send({ type: "stats" });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  // Drop the "exited early" rejection of startChild before listening for the expected exit.
  child.removeAllListeners("exit");
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.send({ type: "stop" });
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The same single-event load split over two service processes on one database (the first one
 * still running): what a second instance adds. The two share the machine's cores with each other
 * and with PostgreSQL, so on a small machine the figure shows the cost of coordination more than
 * the gain of a second process.
 */
async function twoInstances(databaseUrl: string, ready: Ready, seconds: number, runId: string): Promise<Figure[]> {
  const second = await startChild(databaseUrl, { join: true });
  try {
    const ports = [ready.port, second.ready.port];
    await runSingle(ready, 1, 2_000, `${runId}w2`, ports);
    const r = await runSingle(ready, seconds, MAX_SINGLE_EVENTS, `${runId}s2`, ports);
    if (r.firstError) console.error(`[bench http two instances] first single-event error: ${r.firstError}`);
    return [
      info(`HTTP settlement events/s, ${CLIENTS} clients split over 2 instances on one database (PostgreSQL)`, Math.round(r.rate), "events/s"),
      info(`HTTP settlement event p99 latency, 2 instances (PostgreSQL)`, Math.round(r.p99 * 10) / 10, "ms"),
      figure(`HTTP single-event errors, 2 instances (PostgreSQL)`, r.errors, `of ${r.count}`, "<=", 0),
    ];
  } finally {
    await stopChild(second.child);
  }
}

export async function benchHttp(opts: { databaseUrl?: string; seconds?: number }): Promise<Figure[]> {
  const seconds = opts.seconds ?? 8;
  const pgdb = opts.databaseUrl ? await freshPostgres(opts.databaseUrl, "entrepot_bench_http") : null;
  const where = pgdb ? "PostgreSQL" : "PGlite";
  try {
    const { child, ready } = await startChild(pgdb?.url);
    try {
      const runId = randomBytes(3).toString("hex");
      await runSingle(ready, 1, 2_000, `${runId}w`); // warm-up: JIT, pools, caches
      const single = await runSingle(ready, seconds, MAX_SINGLE_EVENTS, `${runId}s`);
      const batch = await runBatch(ready, seconds, MAX_BATCH_EVENTS, `${runId}b`, true);
      // The same with every booked item answered in full (about 5 KB each): shorter, for comparison.
      const batchFull = await runBatch(ready, Math.min(seconds, 4), MAX_BATCH_EVENTS, `${runId}f`, false);
      const pipeline = await runPipeline(ready, Math.min(seconds, 3), `${runId}p`);
      const stats = await ask(child);
      if (single.firstError) console.error(`[bench http ${where}] first single-event error: ${single.firstError}`);
      if (batch.firstError) console.error(`[bench http ${where}] first batch item error: ${batch.firstError}`);
      if (batchFull.firstError) console.error(`[bench http ${where}] first batch item error (full answers): ${batchFull.firstError}`);
      const two = pgdb === null ? [] : await twoInstances(pgdb.url, ready, seconds, runId);
      const mib = (bytes: number) => Math.round(bytes / 1_048_576);
      // Issue 14: the batch endpoint's target is set on PostgreSQL; on PGlite the rate is reported.
      const batchName = `HTTP batch settlement events/s, ${BATCH_SIZE}/request, return=minimal (${where})`;
      const batchFigure = pgdb ? figure(batchName, Math.round(batch.rate), "events/s", ">=", 10000) : info(batchName, Math.round(batch.rate), "events/s");
      return [
        figure(`HTTP settlement events/s, ${CLIENTS} clients (${where})`, Math.round(single.rate), "events/s", ">=", 3000),
        figure(`HTTP settlement event p99 latency, ${CLIENTS} clients (${where})`, Math.round(single.p99 * 10) / 10, "ms", "<=", 50),
        info(`HTTP settlement event p50 latency (${where})`, Math.round(single.p50 * 10) / 10, "ms"),
        figure(`HTTP single-event errors (${where})`, single.errors, `of ${single.count}`, "<=", 0),
        batchFigure,
        figure(`HTTP batch item errors (${where})`, batch.errors, `of ${batch.count}`, "<=", 0),
        info(`HTTP batch request p99 latency (${where})`, Math.round(batch.p99), "ms"),
        info(`HTTP batch settlement events/s, ${BATCH_SIZE}/request, every item in full (${where})`, Math.round(batchFull.rate), "events/s"),
        figure(`HTTP batch item errors, every item in full (${where})`, batchFull.errors, `of ${batchFull.count}`, "<=", 0),
        info(`HTTP pipeline only (auth+HMAC+validation, no domain work) req/s (${where})`, Math.round(pipeline), "req/s"),
        ratio(`HTTP settlement events / pipeline-only req, ${CLIENTS} clients (${where})`, Math.round(single.rate), Math.round(pipeline), ">=", 0.5),
        figure(`service RSS idle after start (${where})`, mib(ready.idleRssBytes), "MiB", "<=", pgdb ? 250 : 500),
        info(`service peak RSS during start-up (${where})`, mib(ready.startupPeakRssBytes), "MiB"),
        info(`service peak RSS during the HTTP bench (${where})`, mib(stats.maxRssBytes), "MiB"),
        ...two,
      ];
    } finally {
      await stopChild(child);
    }
  } finally {
    await pgdb?.drop();
  }
}

runBenchCli(import.meta.url, "HTTP service", benchHttp);
