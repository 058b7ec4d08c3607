/**
 * Storage billed per period by volume x days, from warehouse stock snapshots: what an overseas
 * warehouse really charges, whether anything sold. Pure computation; storage-service.ts records the
 * snapshots and charges the result through the seller-charge path (charges.ts).
 *
 * A snapshot says how much of a seller's stock (cubic centimetres) a warehouse held on a day. It
 * holds from that day until the day before the next snapshot of the same seller and warehouse, so a
 * snapshot taken before the period still counts for the period's first days. For each day of the
 * period (a calendar month, UTC) the volume in force is billed at the storage rate of the fee
 * schedule in force that day (00:00 UTC) for the seller's program and the warehouse's country (the
 * schedule's market; category "*"), in USD minor units per cubic metre per day. Consecutive days
 * with the same snapshot and schedule form a segment:
 *
 *   segment cost (exact) = volume cm3 x days x rate / 1,000,000
 *   charge = the sum of the segments' exact costs, rounded ONCE, half-even, to USD minor units
 *
 * Days before the seller's first snapshot in that warehouse, and days whose schedule has no
 * storage rate, are not billed (listed with a null rate in the evidence).
 */
import { MoneyDecimal, roundToInteger } from "../money/index.js";
import { SettlementErrors } from "./errors.js";
import { selectSchedule } from "./schedules.js";
import type { FeeSchedule, ProgramKind } from "./types.js";

/** One seller's stock volume in one warehouse on one day. */
export interface StockSnapshot {
  sellerId: string;
  /** The warehouse's id. */
  warehouse: string;
  /** ISO 3166 alpha-2 country of the warehouse: the market whose fee schedule prices its storage. */
  country: string;
  /** YYYY-MM-DD (UTC day). */
  date: string;
  /** Cubic centimetres, >= 0 (0: the stock was emptied). */
  volumeCm3: bigint;
}

export interface StorageSegment {
  /** First and last day (inclusive). */
  from: string;
  to: string;
  days: number;
  /** The snapshot's date in force (null: before the first snapshot). */
  snapshotDate: string | null;
  volumeCm3: bigint;
  scheduleId: string | null;
  /** USD minor units per m3 per day; null: not billed. */
  rate: string | null;
  /** volume x days, cm3-days (0 when not billed). */
  volumeDaysCm3: bigint;
  /** Exact cost in USD minor units, a decimal string (before the one rounding). */
  cost: string;
}

export interface StorageComputation {
  sellerId: string;
  warehouse: string;
  country: string;
  period: string;
  /** The period's first day and the day after its last. */
  from: string;
  to: string;
  segments: StorageSegment[];
  /** Billed cm3-days. */
  volumeDaysCm3: bigint;
  /** Exact total, USD minor units. */
  exact: string;
  rounding: "half-even";
  /** The charge, USD minor units. */
  amount: bigint;
}

const DAY_MS = 86_400_000;
const CM3_PER_M3 = 1_000_000n;
const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** A storage period "YYYY-MM": its first day and the first day after it (UTC), and its number of days. */
export function storagePeriod(period: string): { from: string; to: string; days: number; end: Date } {
  const m = PERIOD.exec(period);
  if (m === null) {
    throw SettlementErrors.invalidStorageRun(`period ${JSON.stringify(period)} is not a month`, { fields: [{ field: "period", message: "must be a calendar month YYYY-MM, e.g. 2024-12" }] });
  }
  const start = Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
  const end = Date.UTC(Number(m[1]), Number(m[2]), 1);
  return { from: dayOf(start), to: dayOf(end), days: Math.round((end - start) / DAY_MS), end: new Date(end) };
}

/**
 * The storage of one seller in one warehouse for `period`. `snapshots` are that seller's snapshots
 * in that warehouse (any dates, any order); `schedules` every fee schedule version.
 */
export function computeStorage(input: {
  sellerId: string;
  program: ProgramKind;
  warehouse: string;
  country: string;
  period: string;
  snapshots: readonly StockSnapshot[];
  schedules: readonly FeeSchedule[];
}): StorageComputation {
  const p = storagePeriod(input.period);
  const snaps = [...input.snapshots].filter((s) => s.date < p.to).sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  const segments: StorageSegment[] = [];
  let exact = new MoneyDecimal(0);
  let volumeDays = 0n;
  let k = -1;
  const first = Date.parse(`${p.from}T00:00:00Z`);
  for (let i = 0; i < p.days; i++) {
    const at = first + i * DAY_MS;
    const day = dayOf(at);
    while (k + 1 < snaps.length && (snaps[k + 1] as StockSnapshot).date <= day) k++;
    const snap = k < 0 ? null : (snaps[k] as StockSnapshot);
    const schedule = selectSchedule(input.schedules, input.program, input.country, "*", new Date(at));
    const rate = snap === null ? null : (schedule?.storageRate ?? null);
    const last = segments[segments.length - 1];
    if (last !== undefined && last.snapshotDate === (snap?.date ?? null) && last.scheduleId === (schedule?.id ?? null) && last.rate === rate) {
      last.to = day;
      last.days++;
    } else {
      segments.push({ from: day, to: day, days: 1, snapshotDate: snap?.date ?? null, volumeCm3: snap?.volumeCm3 ?? 0n, scheduleId: schedule?.id ?? null, rate, volumeDaysCm3: 0n, cost: "0" });
    }
  }
  for (const s of segments) {
    if (s.rate === null) continue;
    s.volumeDaysCm3 = s.volumeCm3 * BigInt(s.days);
    // The rate multiplies: decimal.js here, exact; the one rounding is on the total below.
    const cost = new MoneyDecimal(s.volumeDaysCm3.toString()).times(s.rate).div(CM3_PER_M3.toString());
    s.cost = cost.toFixed();
    exact = exact.plus(cost);
    volumeDays += s.volumeDaysCm3;
  }
  return {
    sellerId: input.sellerId,
    warehouse: input.warehouse,
    country: input.country,
    period: input.period,
    from: p.from,
    to: p.to,
    segments,
    volumeDaysCm3: volumeDays,
    exact: exact.toFixed(),
    rounding: "half-even",
    amount: roundToInteger(exact, "half-even"),
  };
}

/** cm3-days as m3-days with up to 6 decimals, for reading (e.g. 46500000 -> "46.5"). */
export function m3Days(volumeDaysCm3: bigint): string {
  const whole = volumeDaysCm3 / CM3_PER_M3;
  const frac = (volumeDaysCm3 % CM3_PER_M3).toString().padStart(6, "0").replace(/0+$/, "");
  return frac === "" ? whole.toString() : `${whole}.${frac}`;
}

/** The deterministic charge id of a seller's storage in a warehouse for a period: a re-run charges nothing twice. */
export function storageChargeId(period: string, warehouse: string): string {
  return `storage:${period}:${warehouse}`;
}

/** The charge's evidence (journal metadata `evidence.*`): every figure of the computation. */
export function storageEvidence(c: StorageComputation): Record<string, string> {
  const e: Record<string, string> = {
    "storage.period": c.period,
    "storage.from": c.from,
    "storage.to": c.to,
    "storage.warehouse": c.warehouse,
    "storage.country": c.country,
    "storage.unit": "rate in USD minor units per m3 per day; volume in cm3",
    "storage.volumeDaysCm3": c.volumeDaysCm3.toString(),
    "storage.m3Days": m3Days(c.volumeDaysCm3),
    "storage.exact": c.exact,
    "storage.rounding": c.rounding,
    "storage.amount": c.amount.toString(),
    "storage.segments": String(c.segments.length),
  };
  c.segments.forEach((s, i) => {
    e[`storage.segment.${i}`] =
      `${s.from}..${s.to} ${s.days} d x ${s.volumeCm3} cm3 (snapshot ${s.snapshotDate ?? "none"}) at ${s.rate ?? "no rate"} (schedule ${s.scheduleId ?? "none"}) = ${s.volumeDaysCm3} cm3-days, ${s.cost}`;
  });
  return e;
}

/** The charge's note, e.g. "storage 2024-12 at WH-DE-1: 46.5 m3-days". */
export function storageNote(c: StorageComputation): string {
  return `storage ${c.period} at ${c.warehouse}: ${m3Days(c.volumeDaysCm3)} m3-days`;
}
