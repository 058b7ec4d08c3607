/**
 * Matching rules are DATA: a versioned JSON document, stored with every run (and covered by its
 * digest), so a run can be re-read later with exactly the parameters that produced it. A run may
 * override any field; unknown fields and out-of-range values are refused by name.
 *
 * The rules, in the order the matcher applies them:
 *  1. exact_reference: a row matches the settlement event whose gatewayEventId equals one of its
 *     references (per format, tried in `references` order) and whose type fits the row's kind.
 *     Several rows on one event with different row ids = a split capture (one_to_many, summed);
 *     the same row id twice = duplicate.
 *  2. amount_date_window: an unmatched row matches an unmatched event of the same type and
 *     currency whose amount is within `amountToleranceMinor` and whose instant is within
 *     `dateWindowHours` (same order id preferred, then the nearest instant).
 *  3. many_to_one: one row = the sum of all unmatched events of its order, type and currency.
 *  4. one_to_many: several rows of one order, type and currency = one unmatched event.
 *  5. merchant_reference: one leftover row and one leftover event of the same order and type are
 *     paired and reported as an amount (or currency) mismatch.
 *  6. fee_total: fee rows without a matching reference vs the fee adjustments of the period, per currency.
 *  7. payout_batch: a payout row vs the sum of the net of the rows it pays out.
 * Every match is then compared: currency, amount (tolerance), fee (feeToleranceMinor), FX rate
 * (fxToleranceBps against the rate our settlement recorded), instant (timingToleranceHours); and
 * every posted event of the period is checked on chain (its journal transaction's anchor state).
 */
import { createHash } from "node:crypto";
import { ReconErrors } from "./errors.js";
import type { ReportFormat } from "./types.js";
import { canonicalJson } from "./canonical.js";

export const ANCHOR_STATES = ["unanchored", "queued", "submitted", "observed", "safe", "final"] as const;
export type AnchorStateName = (typeof ANCHOR_STATES)[number];

export interface MatchingRules {
  version: string;
  references: Record<ReportFormat, string[]>;
  amountToleranceMinor: number;
  feeToleranceMinor: number;
  dateWindowHours: number;
  timingToleranceHours: number;
  /** How far beyond the period the ledger is read, to tell a timing difference from a missing event. */
  lookaroundHours: number;
  /** Events this close to the end of the period and absent from the report are timing differences (next batch), not missing. */
  settlementLagHours: number;
  fxToleranceBps: number;
  payoutToleranceMinor: number;
  oneToMany: boolean;
  manyToOne: boolean;
  amountDateWindow: boolean;
  maxGroupSize: number;
  chain: { enabled: boolean; requiredState: AnchorStateName; graceSeconds: number };
}

export const DEFAULT_RULES: MatchingRules = {
  version: "2026-11-25.1",
  references: {
    adyen_settlement_details: ["modification_reference", "psp_reference"],
    stripe_itemized_balance: ["source_id", "balance_transaction_id"],
  },
  amountToleranceMinor: 0,
  feeToleranceMinor: 1,
  dateWindowHours: 72,
  timingToleranceHours: 48,
  lookaroundHours: 24 * 7,
  settlementLagHours: 48,
  fxToleranceBps: 50,
  payoutToleranceMinor: 0,
  oneToMany: true,
  manyToOne: true,
  amountDateWindow: true,
  maxGroupSize: 20,
  chain: { enabled: true, requiredState: "submitted", graceSeconds: 3600 },
};

const REFERENCE_NAMES: Record<ReportFormat, readonly string[]> = {
  adyen_settlement_details: ["modification_reference", "psp_reference"],
  stripe_itemized_balance: ["source_id", "balance_transaction_id"],
};

type Overrides = Partial<Omit<MatchingRules, "references" | "chain">> & {
  references?: Partial<Record<ReportFormat, string[]>>;
  chain?: Partial<MatchingRules["chain"]>;
};

function bad(field: string, message: string): never {
  throw ReconErrors.invalidRules(`rules.${field} ${message}`, { fields: [{ field: `rules.${field}`, message }] });
}

function int(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) bad(field, `must be an integer in [${min}, ${max}]`);
  return v;
}

function num(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) bad(field, `must be a number in [${min}, ${max}]`);
  return v;
}

function bool(field: string, v: unknown): boolean {
  if (typeof v !== "boolean") bad(field, "must be true or false");
  return v;
}

/** The defaults with `overrides` applied, validated (refusing unknown fields by name). */
export function resolveRules(overrides: unknown = {}): MatchingRules {
  if (overrides === null || typeof overrides !== "object" || Array.isArray(overrides)) bad("", "must be an object");
  const o = overrides as Overrides & Record<string, unknown>;
  const known = new Set(Object.keys(DEFAULT_RULES));
  for (const k of Object.keys(o)) if (!known.has(k)) bad(k, "is not a rule");
  const r: MatchingRules = structuredClone(DEFAULT_RULES);
  if (o.version !== undefined) {
    if (typeof o.version !== "string" || !/^[A-Za-z0-9._:-]{1,64}$/.test(o.version)) bad("version", "must be 1-64 characters of [A-Za-z0-9._:-]");
    r.version = o.version;
  }
  if (o.references !== undefined) {
    if (typeof o.references !== "object" || o.references === null) bad("references", "must be an object per format");
    for (const [format, names] of Object.entries(o.references)) {
      const allowed = REFERENCE_NAMES[format as ReportFormat];
      if (allowed === undefined) bad(`references.${format}`, "is not a report format");
      if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== "string" || !allowed.includes(n)) || new Set(names).size !== names.length) {
        bad(`references.${format}`, `must be a non-empty list of distinct names among ${allowed.join(", ")}`);
      }
      r.references[format as ReportFormat] = [...(names)];
    }
  }
  if (o.amountToleranceMinor !== undefined) r.amountToleranceMinor = int("amountToleranceMinor", o.amountToleranceMinor, 0, 1000);
  if (o.feeToleranceMinor !== undefined) r.feeToleranceMinor = int("feeToleranceMinor", o.feeToleranceMinor, 0, 1_000_000);
  if (o.payoutToleranceMinor !== undefined) r.payoutToleranceMinor = int("payoutToleranceMinor", o.payoutToleranceMinor, 0, 1_000_000);
  if (o.dateWindowHours !== undefined) r.dateWindowHours = num("dateWindowHours", o.dateWindowHours, 0, 24 * 90);
  if (o.timingToleranceHours !== undefined) r.timingToleranceHours = num("timingToleranceHours", o.timingToleranceHours, 0, 24 * 90);
  if (o.lookaroundHours !== undefined) r.lookaroundHours = num("lookaroundHours", o.lookaroundHours, 0, 24 * 366);
  if (o.settlementLagHours !== undefined) r.settlementLagHours = num("settlementLagHours", o.settlementLagHours, 0, 24 * 90);
  if (o.fxToleranceBps !== undefined) r.fxToleranceBps = num("fxToleranceBps", o.fxToleranceBps, 0, 10_000);
  if (o.oneToMany !== undefined) r.oneToMany = bool("oneToMany", o.oneToMany);
  if (o.manyToOne !== undefined) r.manyToOne = bool("manyToOne", o.manyToOne);
  if (o.amountDateWindow !== undefined) r.amountDateWindow = bool("amountDateWindow", o.amountDateWindow);
  if (o.maxGroupSize !== undefined) r.maxGroupSize = int("maxGroupSize", o.maxGroupSize, 2, 1000);
  if (o.chain !== undefined) {
    if (typeof o.chain !== "object" || o.chain === null) bad("chain", "must be an object");
    const chainKeys = new Set(["enabled", "requiredState", "graceSeconds"]);
    for (const k of Object.keys(o.chain)) if (!chainKeys.has(k)) bad(`chain.${k}`, "is not a rule");
    if (o.chain.enabled !== undefined) r.chain.enabled = bool("chain.enabled", o.chain.enabled);
    if (o.chain.requiredState !== undefined) {
      if (!(ANCHOR_STATES as readonly string[]).includes(o.chain.requiredState) || o.chain.requiredState === "unanchored") {
        bad("chain.requiredState", `must be one of ${ANCHOR_STATES.slice(1).join(", ")}`);
      }
      r.chain.requiredState = o.chain.requiredState;
    }
    if (o.chain.graceSeconds !== undefined) r.chain.graceSeconds = int("chain.graceSeconds", o.chain.graceSeconds, 0, 86_400 * 90);
  }
  if (r.timingToleranceHours > r.lookaroundHours) bad("timingToleranceHours", "must not exceed lookaroundHours");
  return r;
}

/** sha256 (hex) of the rules' canonical JSON: what a run's digest commits to. */
export function rulesSha256(rules: MatchingRules): string {
  return createHash("sha256").update(canonicalJson(rules)).digest("hex");
}

/** True when `state` is at least `required` in the anchoring order. */
export function stateAtLeast(state: string, required: AnchorStateName): boolean {
  const i = (ANCHOR_STATES as readonly string[]).indexOf(state);
  return i >= 0 && i >= ANCHOR_STATES.indexOf(required);
}
