/**
 * Reconciliation of 1,000,000 gateway report rows against the ledger (targets: <= 30 s, <= 1 GiB
 * peak RSS of the process doing the work).
 *
 * What is timed, in a CHILD process whose peak RSS (sampled, and its own high-water mark) is the memory
 * figure: importing an Adyen Settlement details report of `rows` rows from a file (streamed: hashed,
 * parsed, validated, compressed, stored) and one run over it (the ledger window read through
 * SettlementService.iterateForReconciliation, the file re-read from the database, matching, the
 * chain states of every posted event read through the real AnchorService, the exceptions and the
 * run persisted, the digest computed). With PGlite the database lives in that process and counts
 * in its RSS; with PostgreSQL it is the server's.
 *
 * What is seeded, untimed, in bulk and honestly said: booking a million events through the
 * settlement engine would take tens of minutes here (the settlement bench measures that path), so
 * the `settlements` rows are written by one INSERT ... SELECT generate_series per 100,000 with the
 * columns the engine writes (ids, amounts, fees, instants, journal transaction id,
 * a breakdown with an FX leg for the BRL ones); the ledger's journal itself is not
 * written (reconciliation never reads it). The anchoring state is seeded the same way, as the
 * anchoring worker leaves it: 200 final batches of 5,000 journal leaves in `anchor_batches` /
 * `anchor_leaves`. The report is generated to a temporary file: 99.9 % of rows match, the rest are
 * planted amount mismatches, duplicates, rows missing from the ledger and events missing from the
 * report, plus one MerchantPayout per batch of 10,000 rows.
 *
 * Standalone: `npx tsx scripts/bench/reconciliation.ts [--url postgresql://...] [--rows 1000000]`.
 */
import { spawn } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { JsonRpcProvider } from "ethers";
import { AnchorService } from "../../service/anchoring/index.js";
import { openDatabase, type Database } from "../../service/db/index.js";
import { FxService, PrismaFxRepository } from "../../service/fx/index.js";
import { createLedger } from "../../service/ledger/index.js";
import { convertMinor, formatMinor, parseRateFraction } from "../../service/money/index.js";
import { ADYEN_COLUMNS, ReconciliationService, ReconRepository } from "../../service/reconciliation/index.js";
import { PrismaSettlementRepository, SettlementService } from "../../service/settlement/index.js";
import { freshPostgres } from "../lib/bench-db.js";
import { figure, info, runBenchCli, type Figure } from "../lib/figures.js";
import { peakRssBytes } from "../lib/rss.js";

const CHAIN_ID = 31_337n;
const ANCHOR = "0x1111111111111111111111111111111111111111";
const START = Date.parse("2025-03-03T00:00:00Z");
const SPAN_MS = 6 * 86_400_000;
const LEAVES_PER_BATCH = 5000;
/** The BRL -> USD rate the seeded settlements recorded (their `fx` leg) and the report applies. */
const BRL_USD = parseRateFraction("0.17")!;

interface ChildResult {
  rows: number;
  importMs: number;
  runMs: number;
  exceptions: Record<string, number>;
  matchedRows: number;
  maxRssKiB: number;
  workPeakRssKiB: number;
  /** CPU time of the process during the timed work (user + system). */
  cpuMs: number;
  fileBytes: number;
  phases: Record<string, number>;
}

/** Deterministic per-row data shared by the seeding SQL and the CSV generator. */
const currencyOf = (g: number) => (g % 10 < 7 ? "EUR" : g % 10 < 9 ? "BRL" : "KRW");
const amountOf = (g: number) => (currencyOf(g) === "KRW" ? 1000n * BigInt(10 + (g % 90)) : BigInt(1000 + ((g * 7919) % 90_000)));
const feeOf = (g: number) => amountOf(g) / 35n;
const atOf = (g: number, n: number) => START + Math.floor((g / n) * SPAN_MS);

export async function seed(db: Database, n: number): Promise<void> {
  const step = 100_000;
  for (let lo = 1; lo <= n; lo += step) {
    const hi = Math.min(n, lo + step - 1);
    // The same functions as currencyOf/amountOf/feeOf/atOf above, in SQL.
    await db.sql.q(
      `INSERT INTO settlements (id, event_key, capture_key, sequence, event_type, gateway, gateway_event_id, settlement_id, seller_id,
         market, category, currency, amount, gateway_fee, occurred_at, program, breakdown, refunded_delta,
         status, journal_transaction_id, request_hash)
       SELECT g, 'settlement:adyen:BENCH' || g, 'settlement:adyen:BENCH' || g, 0, 'capture', 'adyen', 'BENCH' || g, 'ORD-' || g,
         'S-POP-HK-0' || (g % 5), c.market, 'electronics', c.cur, c.amount, c.amount / 35,
         to_timestamp(($3::float8 + floor((g::float8 / $4) * $5)) / 1000), 'pop',
         jsonb_build_object('program', 'pop', 'buyerCurrency', c.cur, 'settlementCurrency', 'USD', 'fx',
           CASE WHEN c.cur = 'BRL' THEN '[{"from":"BRL","to":"USD","rate":"0.17","quoteId":null,"source":"bench","asOf":"2025-03-03T00:00:00.000Z","fromAmount":"0","toAmount":"0"},{"from":"USD","to":"USD","rate":"1","quoteId":null,"source":"bench","asOf":"2025-03-03T00:00:00.000Z","fromAmount":"0","toAmount":"0"}]'::jsonb
                ELSE '[]'::jsonb END),
         0, 'posted', g::text, repeat('0', 64)
       FROM generate_series($1::int, $2::int) g
       CROSS JOIN LATERAL (SELECT CASE WHEN g % 10 < 7 THEN 'EUR' WHEN g % 10 < 9 THEN 'BRL' ELSE 'KRW' END AS cur,
         CASE WHEN g % 10 < 7 THEN 'ES' WHEN g % 10 < 9 THEN 'BR' ELSE 'KR' END AS market,
         CASE WHEN g % 10 = 9 THEN 1000 * (10 + g % 90) ELSE 1000 + ((g::int8 * 7919) % 90000) END AS amount) c`,
      lo, hi, START, n, SPAN_MS,
    );
  }
  const batches = Math.ceil(n / LEAVES_PER_BATCH);
  await db.sql.q(
    `INSERT INTO anchor_batches (chain_id, anchor_address, batch_id, root, leaf_count, journal_count, first_sequence, last_sequence,
       currency_totals, totals_digest, previous_root, status, sender_key, tx_hash, block_number, block_hash)
     SELECT $1, $2, b, '0x' || lpad(to_hex(b), 64, '0'), $3, $3, (b - 1) * $3 + 1, b * $3, '[]', '0x' || repeat('0', 64),
       '0x' || lpad(to_hex(b - 1), 64, '0'), 'final', 'bench:' || b, '0x' || lpad(to_hex(b), 64, 'a'), b, '0x' || lpad(to_hex(b), 64, 'b')
     FROM generate_series(1, $4::int) b`,
    CHAIN_ID, ANCHOR, LEAVES_PER_BATCH, batches,
  );
  for (let lo = 1; lo <= n; lo += step) {
    const hi = Math.min(n, lo + step - 1);
    await db.sql.q(
      `INSERT INTO anchor_leaves (chain_id, anchor_address, batch_id, position, kind, subject_id, leaf_hash, leaf_values)
       SELECT $1, $2, (g - 1) / $5 + 1, (g - 1) % $5, 'journal', g::text, '0x' || lpad(to_hex(g), 64, 'c'), '{}'
       FROM generate_series($3::int, $4::int) g`,
      CHAIN_ID, ANCHOR, lo, hi, LEAVES_PER_BATCH,
    );
  }
  // Statistics, as autovacuum would have them on a live database after such growth (without them
  // the planner may scan a million rows per page).
  await db.sql.q(`ANALYZE settlements`);
  await db.sql.q(`ANALYZE anchor_batches`);
  await db.sql.q(`ANALYZE anchor_leaves`);
}

/** Writes the Adyen report for ledger events 1..n with the planted discrepancies; returns its size. */
export async function writeReport(path: string, n: number): Promise<number> {
  const out = createWriteStream(path);
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once("drain", () => r())));
  await write(`${ADYEN_COLUMNS.join(",")}\r\n`);
  const pad = (v: number) => String(v).padStart(2, "0");
  const cet = (ms: number) => {
    const d = new Date(ms + 3_600_000);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  };
  const batchNet = new Map<string, bigint>();
  let buf = "";
  const flushBatch = async (batch: number) => {
    const eur = batchNet.get(`${batch}`) ?? 0n;
    buf += `EntrepotMarketplace,EntrepotMarketplaceEU,,,,${cet(START + SPAN_MS)},CET,MerchantPayout,"TX${batch}XT batch ${batch}, EntrepotMarketplaceEU",,,,,EUR,${formatMinor(eur, "EUR")},,,,,,,,${batch},,,,,,,\r\n`;
    batchNet.delete(`${batch}`);
  };
  for (let g = 1; g <= n; g++) {
    const batch = Math.floor((g - 1) / 10_000) + 1;
    if (g % 2000 === 7) continue; // missing at the gateway (0.05 %)
    const cur = currencyOf(g);
    let amount = amountOf(g);
    if (g % 2000 === 11) amount += 100n; // amount mismatch (0.05 %)
    const fee = feeOf(g);
    let line: string;
    if (cur === "BRL") {
      // Settled in USD at the recorded rate: costs and net stated in USD (rounded half-up).
      const grossUsd = convertMinor(amount, "BRL", "USD", BRL_USD, "half-up");
      const feeUsd = convertMinor(fee, "BRL", "USD", BRL_USD, "half-up");
      line = `EntrepotMarketplace,EntrepotMarketplaceEU,PSP${g},ORD-${g},elo,${cet(atOf(g, n))},CET,Settled,BENCH${g},BRL,,${formatMinor(amount, "BRL")},0.17,USD,,${formatMinor(grossUsd - feeUsd, "USD")},,${formatMinor(feeUsd, "USD")},,,elo,,${batch},,,,,,,\r\n`;
    } else {
      const net = amount - fee;
      if (cur === "EUR") batchNet.set(`${batch}`, (batchNet.get(`${batch}`) ?? 0n) + net * (g % 2000 === 13 ? 2n : 1n));
      line = `EntrepotMarketplace,EntrepotMarketplaceEU,PSP${g},ORD-${g},visa,${cet(atOf(g, n))},CET,Settled,BENCH${g},${cur},,${formatMinor(amount, cur)},1,${cur},,${formatMinor(net, cur)},,,,${formatMinor(fee, cur)},visaclassic,,${batch},,,,,,,\r\n`;
    }
    buf += line;
    if (g % 2000 === 13) buf += line; // duplicate (0.05 %)
    if (g % 2000 === 17) buf += `EntrepotMarketplace,EntrepotMarketplaceEU,PSPX${g},ORD-X${g},visa,${cet(atOf(g, n))},CET,Settled,GHOST${g},EUR,,12.34,1,EUR,,12.00,,,,0.34,visaclassic,,${batch},,,,,,,\r\n`; // missing in the ledger
    if (g % 2000 === 17) batchNet.set(`${batch}`, (batchNet.get(`${batch}`) ?? 0n) + 1200n);
    if (g % 10_000 === 0 || g === n) await flushBatch(batch);
    if (buf.length > 1 << 20) {
      await write(buf);
      buf = "";
    }
  }
  await write(buf);
  out.end();
  await new Promise<void>((resolve, reject) => out.on("finish", resolve).on("error", reject));
  return (await stat(path)).size;
}

/** The timed part, in this (child) process. */
export async function child(args: { url?: string; dataDir?: string; report: string; rows: number }): Promise<ChildResult> {
  const db = await openDatabase(args.url !== undefined ? { url: args.url, poolSize: 4 } : { dataDir: args.dataDir! });
  try {
    const ledger = createLedger(db);
    const fx = new FxService(new PrismaFxRepository(db.prisma));
    const settlement = new SettlementService({ ledger, fx, repository: new PrismaSettlementRepository(db.prisma, db.sql) });
    // The real AnchorService's read path (statesOf): its provider and sender are never used here.
    const anchor = new AnchorService({
      sql: db.sql,
      ledger,
      provider: new JsonRpcProvider("http://127.0.0.1:9", CHAIN_ID, { staticNetwork: true }),
      chainId: CHAIN_ID,
      anchor: ANCHOR,
      sender: { submit: () => Promise.reject(new Error("bench: no sending")), get: () => Promise.resolve(null) },
      anchorer: ANCHOR,
    });
    const phases: Record<string, number> = {};
    const recon = new ReconciliationService({ repository: new ReconRepository(db.sql), settlement, ledger, chain: anchor, onPhase: (p, ms) => (phases[p] = Math.round(ms)) });
    // Sampled RSS while the timed work runs (the high-water mark also covers opening the database: PGlite's
    // WebAssembly start-up alone peaks near 1.1 GiB before settling around 0.5 GiB).
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 25);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const imp = await recon.importReport({ format: "adyen_settlement_details", body: createReadStream(args.report, { highWaterMark: 1 << 20 }) });
    const t1 = performance.now();
    const run = await recon.run({ importIds: [imp.import.id], from: new Date(START), to: new Date(START + SPAN_MS + 1), rules: { chain: { graceSeconds: 0, requiredState: "final" } } });
    const t2 = performance.now();
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    return {
      workPeakRssKiB: Math.round(peak / 1024),
      cpuMs: Math.round((process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000),
      rows: imp.import.rowCount,
      importMs: t1 - t0,
      runMs: t2 - t1,
      exceptions: run.summary.exceptions.byCategory,
      matchedRows: run.summary.matched.rows,
      maxRssKiB: Math.round(peakRssBytes() / 1024),
      fileBytes: Number(imp.import.byteSize),
      phases,
    };
  } finally {
    await db.close();
  }
}

function runChild(args: { url?: string; dataDir?: string; report: string; rows: number }): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", JSON.stringify(args)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    p.on("error", reject);
    p.on("close", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`reconciliation bench child exited with ${code}: ${out.slice(-2000)}`));
      try {
        resolve(JSON.parse(last) as ChildResult);
      } catch (e) {
        reject(new Error(`reconciliation bench child printed no result: ${out.slice(-2000)}`, { cause: e }));
      }
    });
  });
}

export async function benchReconciliation(opts: { databaseUrl?: string; seconds?: number; rows?: number }): Promise<Figure[]> {
  const n = opts.rows ?? Number(process.env["BENCH_RECON_ROWS"] ?? 1_000_000);
  const dir = await mkdtemp(join(tmpdir(), "entrepot-recon-bench-"));
  const where = opts.databaseUrl ? "PostgreSQL" : "PGlite";
  const pgDb = opts.databaseUrl ? await freshPostgres(opts.databaseUrl) : null;
  try {
    const target = pgDb !== null ? { url: pgDb.url } : { dataDir: join(dir, "pglite") };
    const db = await openDatabase(pgDb !== null ? { url: pgDb.url, poolSize: 2 } : { dataDir: target.dataDir! });
    const s0 = performance.now();
    try {
      await seed(db, n);
    } finally {
      await db.close();
    }
    const seedS = (performance.now() - s0) / 1000;
    const report = join(dir, "settlement_detail_report_batch_bench.csv");
    await writeReport(report, n);
    const r = await runChild({ ...target, report, rows: n });
    if (r.rows < n * 0.99 || r.rows > n * 1.01) throw new Error(`bench import read ${r.rows} rows for ${n} ledger events`);
    const totalS = (r.importMs + r.runMs) / 1000;
    const exceptions = Object.values(r.exceptions).reduce((a, b) => a + b, 0);
    const label = `${n.toLocaleString("en-US")} Adyen rows (${where})`;
    return [
      figure(`reconciliation of ${label}: import + run, s`, Math.round(totalS * 10) / 10, "s", "<=", 30),
      figure(`reconciliation of ${label}: peak RSS while importing and running (sampled every 25 ms)`, Math.round(r.workPeakRssKiB / 1024), "MiB", "<=", 1024),
      info(`reconciliation (${where}): peak RSS of the process (its high-water mark), database start-up included`, Math.round(r.maxRssKiB / 1024), "MiB"),
      info(`reconciliation (${where}): import (stream, validate, compress, store), s`, Math.round(r.importMs / 100) / 10, "s"),
      info(`reconciliation (${where}): run (ledger window, match, chain states, persist), s`, Math.round(r.runMs / 100) / 10, `s (ms: ${Object.entries(r.phases).map(([k, v]) => `${k} ${v}`).join(", ")})`),
      info(`reconciliation (${where}): CPU time of the process during import + run`, Math.round(r.cpuMs / 100) / 10, "s"),
      info(`reconciliation (${where}): report rows/s end to end`, Math.round(r.rows / totalS), "rows/s"),
      info(`reconciliation (${where}): report file`, Math.round(r.fileBytes / 1024 / 1024), "MiB"),
      info(`reconciliation (${where}): matched rows / exceptions`, r.matchedRows, `rows (${exceptions} exceptions: ${Object.entries(r.exceptions).map(([k, v]) => `${k} ${v}`).join(", ")})`),
      info(`reconciliation (${where}): seeding (untimed above), s`, Math.round(seedS), "s"),
    ];
  } finally {
    await pgDb?.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child" && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  child(JSON.parse(process.argv[3] ?? "{}") as Parameters<typeof child>[0])
    .then((r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    })
    .catch((e: unknown) => {
      console.error(e);
      process.exit(1);
    });
} else {
  runBenchCli(import.meta.url, "Reconciliation", (o) => {
    const i = process.argv.indexOf("--rows");
    return benchReconciliation({ ...o, ...(i >= 0 ? { rows: Number(process.argv[i + 1]) } : {}) });
  });
}
