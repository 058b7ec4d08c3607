/**
 * Per-order service fees priced by the parcel's weight: a fee schedule may carry, for logistics,
 * warehousing or fulfilment, a table of weight bands that replaces the flat fixed fee of that line.
 * The destination is the schedule's market (a market's schedule carries that market's bands; "*"
 * every other market), effective-dated with the rest of the schedule.
 *
 *   bands  [{ upToGrams: 500, fee: 300 }, { upToGrams: 1000, fee: 450 }, { upToGrams: 2000, fee: 700 }]
 *   beyond { perGrams: 500, fee: 150 }
 *
 * A parcel is priced by the first band whose `upToGrams` it does not exceed (a band's bound is
 * inclusive: 500 g is "up to 500 g"). Heavier than the last band: the last band's fee plus `fee`
 * for each further `perGrams` or part of it (2001 g: 700 + 1 x 150; 2600 g: 700 + 2 x 150); without
 * `beyond` such a parcel is refused (ENT_SETTLEMENT_WEIGHT_OUT_OF_BANDS). Fees are USD minor units
 * like the schedule's fixed fees. A schedule with bands needs the capture's `weightGrams`
 * (ENT_SETTLEMENT_WEIGHT_REQUIRED): a flat fee in its place would be a silent mispricing.
 */
import { SettlementErrors } from "./errors.js";
import type { FeeSchedule, FixedFees, SettlementEvent } from "./types.js";

export const BANDED_FEES = ["logistics", "warehousing", "fulfilment"] as const satisfies ReadonlyArray<keyof FixedFees>;
export type BandedFee = (typeof BANDED_FEES)[number];

export interface WeightBand {
  /** Inclusive upper bound of the band, grams. */
  upToGrams: number;
  /** USD minor units. */
  fee: bigint;
}

export interface WeightBandTable {
  /** Ascending by `upToGrams`. */
  bands: WeightBand[];
  /** Above the last band: `fee` per further `perGrams` or part of it. Absent: heavier parcels are refused. */
  beyond?: { perGrams: number; fee: bigint };
}

export type WeightBands = Partial<Record<BandedFee, WeightBandTable>>;

/** Which band priced a line of a capture: what a controller reads in the breakdown. */
export interface FeeBandEvidence {
  line: BandedFee;
  weightGrams: number;
  /** The band applied (its inclusive upper bound); for a parcel above every band, the last one. */
  upToGrams: number;
  bandFee: bigint;
  /** Further `perGrams` steps charged above the last band (0 inside a band). */
  extraSteps: number;
  perGrams: number | null;
  extraFee: bigint;
  /** bandFee + extraSteps x extraFee: the line's fee. */
  fee: bigint;
}

/** Largest parcel weight accepted, grams (1,000 kg). */
export const MAX_WEIGHT_GRAMS = 1_000_000;

/** The fee of a parcel of `weightGrams` under `table`, with the band that priced it; null when it is heavier than every band and the table has no `beyond`. */
export function bandFee(table: WeightBandTable, line: BandedFee, weightGrams: number): FeeBandEvidence | null {
  for (const b of table.bands) {
    if (weightGrams <= b.upToGrams) return { line, weightGrams, upToGrams: b.upToGrams, bandFee: b.fee, extraSteps: 0, perGrams: null, extraFee: 0n, fee: b.fee };
  }
  const last = table.bands[table.bands.length - 1];
  if (last === undefined || table.beyond === undefined) return null;
  const { perGrams, fee } = table.beyond;
  const extraSteps = Math.ceil((weightGrams - last.upToGrams) / perGrams);
  return { line, weightGrams, upToGrams: last.upToGrams, bandFee: last.fee, extraSteps, perGrams, extraFee: fee, fee: last.fee + BigInt(extraSteps) * fee };
}

/**
 * The capture's per-order service fees under `schedule`: the flat fixed fee of each line, or its
 * band's fee when the schedule bands that line. Refuses (422, naming `weightGrams`) a capture without
 * a weight under a banded schedule, and a parcel heavier than a table without `beyond`.
 */
export function perOrderFees(schedule: FeeSchedule, event: SettlementEvent): { fees: FixedFees; bands: FeeBandEvidence[] } {
  const fees: FixedFees = { ...schedule.fixedFees };
  const bands: FeeBandEvidence[] = [];
  const tables = schedule.weightBands ?? {};
  for (const line of BANDED_FEES) {
    const table = tables[line];
    if (table === undefined) continue;
    const w = event.weightGrams;
    if (w === undefined) {
      throw SettlementErrors.weightRequired(`fee schedule ${schedule.id} prices ${line} by weight band: the capture needs the parcel's weightGrams`, {
        fields: [{ field: "weightGrams", message: `required: schedule ${schedule.id} prices ${line} by weight (a positive integer of grams)` }],
      });
    }
    const e = bandFee(table, line, w);
    if (e === null) {
      const max = table.bands[table.bands.length - 1]?.upToGrams ?? 0;
      throw SettlementErrors.weightOutOfBands(`a ${w} g parcel is heavier than the ${max} g of schedule ${schedule.id}'s heaviest ${line} band`, {
        fields: [{ field: "weightGrams", message: `at most ${max} g under schedule ${schedule.id}'s ${line} bands` }],
      });
    }
    fees[line] = e.fee;
    bands.push(e);
  }
  return { fees, bands };
}

/** Journal metadata of a banded capture: the weight and, per line, the band applied. Empty without bands. */
export function feeBandMetadata(bands: readonly FeeBandEvidence[] | undefined): Record<string, string> {
  const m: Record<string, string> = {};
  for (const b of bands ?? []) {
    m.weightGrams = String(b.weightGrams);
    m[`feeBand.${b.line}`] = describeBand(b);
  }
  return m;
}

/** E.g. "up to 1000 g: 450" or "above 2000 g: 700 + 2 x 150 per 500 g = 1000" (USD minor units). */
export function describeBand(b: FeeBandEvidence): string {
  if (b.extraSteps === 0) return `up to ${b.upToGrams} g: ${b.fee}`;
  return `above ${b.upToGrams} g: ${b.bandFee} + ${b.extraSteps} x ${b.extraFee} per ${b.perGrams ?? 0} g = ${b.fee}`;
}

// ---- validation (schedules.ts calls it) ----

function bad(id: string, field: string, message: string): never {
  throw SettlementErrors.invalidSchedule(`${id}: ${field} ${message}`, { fields: [{ field, message }] });
}

const isGrams = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n > 0 && n <= MAX_WEIGHT_GRAMS;

/** Bands ascending by weight, positive integer grams, non-negative integer fees (USD minor units). */
export function validateWeightBands(id: string, wb: WeightBands): void {
  for (const [line, table] of Object.entries(wb) as Array<[string, WeightBandTable | undefined]>) {
    const field = `weightBands.${line}`;
    if (!(BANDED_FEES as readonly string[]).includes(line)) bad(id, field, `is not a per-order fee: one of ${BANDED_FEES.join(", ")}`);
    if (table === undefined) continue;
    if (!Array.isArray(table.bands) || table.bands.length === 0 || table.bands.length > 50) bad(id, `${field}.bands`, "must hold 1-50 bands");
    let previous = 0;
    table.bands.forEach((b, i) => {
      if (!isGrams(b.upToGrams)) bad(id, `${field}.bands.${i}.upToGrams`, `must be a positive integer of grams, at most ${MAX_WEIGHT_GRAMS}`);
      if (b.upToGrams <= previous) bad(id, `${field}.bands.${i}.upToGrams`, `must be greater than the previous band's ${previous} g (bands ascend)`);
      previous = b.upToGrams;
      if (typeof b.fee !== "bigint" || b.fee < 0n) bad(id, `${field}.bands.${i}.fee`, "must be a non-negative integer of USD minor units");
    });
    if (table.beyond !== undefined) {
      if (!isGrams(table.beyond.perGrams)) bad(id, `${field}.beyond.perGrams`, `must be a positive integer of grams, at most ${MAX_WEIGHT_GRAMS}`);
      if (typeof table.beyond.fee !== "bigint" || table.beyond.fee < 0n) bad(id, `${field}.beyond.fee`, "must be a non-negative integer of USD minor units");
    }
  }
}

/** A schedule's storage rate (storage.ts): USD minor units per m3 per day, up to 6 decimals. */
export const STORAGE_RATE = /^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$/;

export function validateStorageRate(id: string, rate: string): void {
  if (typeof rate !== "string" || !STORAGE_RATE.test(rate)) {
    throw SettlementErrors.invalidSchedule(`${id}: storageRate must be a non-negative decimal of USD minor units per m3 per day`, {
      fields: [{ field: "storageRate", message: "must be a non-negative decimal string of USD minor units per cubic metre per day (up to 6 decimals), e.g. \"45\"" }],
    });
  }
}

// ---- JSON (stored schedule rows, breakdowns, HTTP) ----

export interface WeightBandTableJson {
  bands: Array<{ upToGrams: number; fee: string }>;
  beyond?: { perGrams: number; fee: string };
}
export type WeightBandsJson = Partial<Record<BandedFee, WeightBandTableJson>>;

export function weightBandsToJson(wb: WeightBands): WeightBandsJson {
  const out: WeightBandsJson = {};
  for (const line of BANDED_FEES) {
    const t = wb[line];
    if (t === undefined) continue;
    out[line] = {
      bands: t.bands.map((b) => ({ upToGrams: b.upToGrams, fee: b.fee.toString() })),
      ...(t.beyond === undefined ? {} : { beyond: { perGrams: t.beyond.perGrams, fee: t.beyond.fee.toString() } }),
    };
  }
  return out;
}

export function weightBandsFromJson(v: WeightBandsJson): WeightBands {
  const out: WeightBands = {};
  for (const line of BANDED_FEES) {
    const t = v[line];
    if (t === undefined) continue;
    out[line] = {
      bands: t.bands.map((b) => ({ upToGrams: b.upToGrams, fee: BigInt(b.fee) })),
      ...(t.beyond === undefined ? {} : { beyond: { perGrams: t.beyond.perGrams, fee: BigInt(t.beyond.fee) } }),
    };
  }
  return out;
}

export interface FeeBandEvidenceJson {
  line: BandedFee;
  weightGrams: number;
  upToGrams: number;
  bandFee: string;
  extraSteps: number;
  perGrams: number | null;
  extraFee: string;
  fee: string;
}

export function feeBandsToJson(bands: readonly FeeBandEvidence[]): FeeBandEvidenceJson[] {
  return bands.map((b) => ({ ...b, bandFee: b.bandFee.toString(), extraFee: b.extraFee.toString(), fee: b.fee.toString() }));
}

export function feeBandsFromJson(v: readonly FeeBandEvidenceJson[]): FeeBandEvidence[] {
  return v.map((b) => ({ ...b, bandFee: BigInt(b.bandFee), extraFee: BigInt(b.extraFee), fee: BigInt(b.fee) }));
}
