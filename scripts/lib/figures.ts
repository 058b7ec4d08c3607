import { loadavg } from "node:os";
import { pathToFileURL } from "node:url";

/**
 * Benchmark figures: every bench prints a readable table and, as its very last line, one JSON
 * object `{"figures":[...]}` so figures can be compared over time. Targets live here, in the
 * benchmarks, never in timed tests.
 */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** Human-readable target, e.g. ">= 6000" or "<= 10". */
  target: string;
  met: boolean;
  /** For a ratio figure: the two figures of the same run it divides (value = ours / base). */
  of?: { ours: number; base: number };
  /** The machine's 1-minute load average when the figure was taken (2 cores here: above ~0.5 is not idle). */
  load: number;
}

/** The 1-minute load average now, to 2 decimals: printed beside every figure. */
function loadNow(): number {
  return Math.round(loadavg()[0]! * 100) / 100;
}

export type Comparison = ">=" | "<=";

export function figure(name: string, value: number, unit: string, cmp: Comparison, target: number): Figure {
  return { name, value, unit, target: `${cmp} ${target}`, met: cmp === ">=" ? value >= target : value <= target, load: loadNow() };
}

/**
 * A ratio figure: `ours / base`, both measured in the same run, with the two operands kept in the
 * figure (and the JSON line) so the table shows what was divided by what. Without a target, reported.
 */
export function ratio(name: string, ours: number, base: number, cmp?: Comparison, target?: number): Figure {
  const value = base > 0 ? Math.round((ours / base) * 100) / 100 : 0;
  const f = cmp === undefined || target === undefined ? info(name, value, "x") : figure(name, value, "x", cmp, target);
  return { ...f, of: { ours, base } };
}

/** A figure with no target (reported for information, e.g. peak memory of a run with none set). */
export function info(name: string, value: number, unit: string): Figure {
  return { name, value, unit, target: "-", met: true, load: loadNow() };
}

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error("median of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) throw new Error("percentile of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** Print the table, then the JSON line (which must stay the last line of the bench's output). */
export function report(title: string, figures: Figure[]): void {
  const rows = figures.map((f) => [f.name, fmt(f.value), f.unit, f.of ? `${fmt(f.of.ours)} / ${fmt(f.of.base)}` : "", f.target, f.met ? "yes" : "NO", f.load.toFixed(2)]);
  const head = ["figure", "value", "unit", "ratio of", "target", "met", "load"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  console.log(`\n${title}\n`);
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
  console.log("");
  console.log(JSON.stringify({ figures }));
}

/**
 * Runs a bench module as a command (`npx tsx scripts/bench/x.ts [--url postgresql://...] [--seconds N]`)
 * when it is the entry point; a failure exits non-zero.
 */
export function runBenchCli(
  moduleUrl: string,
  title: string,
  bench: (opts: { databaseUrl?: string; seconds?: number }) => Promise<Figure[]>,
): void {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? "").href) return;
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const databaseUrl = arg("--url");
  const seconds = arg("--seconds");
  bench({ ...(databaseUrl ? { databaseUrl } : {}), ...(seconds ? { seconds: Number(seconds) } : {}) })
    .then((figures) => report(title, figures))
    .catch((e: unknown) => {
      console.error(e);
      process.exit(1);
    });
}
