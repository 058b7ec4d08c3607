/**
 * When a resolution's adjusting entry is effective (no I/O: the caller gives the clock). An adjusting
 * entry corrects something that happened at a known instant, so the books show it in the period of
 * that event, not on the day someone resolved the exception: a month's trial balance is only right
 * when December's gateway cost is in December. The ledger then applies its own rule for an instant
 * in a closed period (booked at the close instant, the instant kept as `originalEffectiveAt`), so a
 * resolution never changes a closed period. Used by the gateway reconciliation and the cash
 * reconciliation alike.
 */
import type { AppError, ErrorDefinition } from "../errors.js";
import { Errors, isAppError } from "../errors.js";
import { LedgerErrors } from "../ledger/errors.js";
import type { PostingInput } from "../ledger/index.js";
import type { ReconItem } from "./types.js";

/** The request field that overrides the derived instant (named in errors). */
export const EFFECTIVE_AT_FIELD = "adjustment.effectiveAt";

/** Epoch milliseconds of the `occurredAt` of one report row's evidence (or of each of a list). */
function rowInstants(v: unknown): number[] {
  const rows = Array.isArray(v) ? v : v !== null && typeof v === "object" ? [v] : [];
  return rows.map((r) => Date.parse(String((r as Record<string, unknown>)["occurredAt"]))).filter((ms) => Number.isFinite(ms));
}

/**
 * The instant an exception's adjusting entry belongs to, from the item's evidence: the report
 * row's instant (the latest one's when several rows make the exception: it exists once the last
 * of them happened); else the ledger event's (an event the report lacks); else the last instant of
 * the run's period (a total over the period, e.g. the fee rows against the fee adjustments, or an
 * item that names no instant).
 */
export function exceptionInstant(item: Pick<ReconItem, "rule" | "evidence">, periodTo: Date): Date {
  const endOfPeriod = new Date(periodTo.getTime() - 1);
  // A total over the period: its evidence lists only the first rows, and no one row is its instant.
  if (item.rule === "fee_total") return endOfPeriod;
  const e = item.evidence;
  const report = rowInstants(e["report"]);
  if (report.length > 0) return new Date(Math.max(...report));
  const reportAt = Date.parse(String(e["reportAt"]));
  if (Number.isFinite(reportAt)) return new Date(reportAt);
  const ledger = rowInstants(e["ledger"]);
  if (ledger.length > 0) return new Date(Math.max(...ledger));
  return endOfPeriod;
}

/** EVENT_MAX_AGE_DAYS' default: how far back an adjusting entry may be dated, as an event may. */
export const DEFAULT_ADJUSTMENT_MAX_AGE_MS = 3_660 * 86_400_000;

/**
 * The effective instant of an adjusting entry: the one requested (which must have passed: the
 * books record what happened, and an entry dated ahead would sit outside every period closed
 * meanwhile; and no older than an event may be, `maxAgeMs`: not 1970 for a bank line of last
 * week), else the derived one, never later than now (a report or statement dated ahead of our
 * clock would otherwise book in the future).
 */
export function adjustmentEffectiveAt(requested: Date | undefined, derived: Date, now: Date, maxAgeMs: number = DEFAULT_ADJUSTMENT_MAX_AGE_MS): Date {
  if (requested !== undefined) {
    if (requested.getTime() > now.getTime()) {
      throw Errors.validation(`${EFFECTIVE_AT_FIELD} (${requested.toISOString()}) is in the future: an adjusting entry books what already happened`, {
        fields: [{ field: EFFECTIVE_AT_FIELD, message: "must not be in the future" }],
      });
    }
    if (requested.getTime() < now.getTime() - maxAgeMs) {
      const days = Math.round(maxAgeMs / 86_400_000);
      throw Errors.validation(`${EFFECTIVE_AT_FIELD} (${requested.toISOString()}) is more than ${days} days ago (EVENT_MAX_AGE_DAYS), older than any event may be`, {
        fields: [{ field: EFFECTIVE_AT_FIELD, message: `must be within the last ${days} days` }],
      });
    }
    return requested;
  }
  return derived.getTime() > now.getTime() ? now : derived;
}

/** What an adjusting entry may post to, beyond the platform's reconciliation and suspense accounts. */
export interface AdjustmentScope {
  /** The gateways whose receivable it may move (a gateway reconciliation: the run's gateway only). */
  gateways: ReadonlySet<string> | "any";
  /** The platform's bank cash (a bank statement entry's own leg). */
  bank: boolean;
  /** The largest amount of one posting, minor units of its currency (MAX_AMOUNT_MINOR). */
  maxAmount: (currency: string) => bigint;
}

/**
 * The name of a `platform:reconciliation:<name>` or `platform:suspense:<name>` account, the accounts
 * an adjusting entry may open: lower-case letters and digits, with `_`, `-` or `.` inside (like
 * every such account the platform books: `bank_charges`, `unidentified_receipts`). Not free text: a
 * trailing space opened a second `unidentified_receipts` that reads the same in the trial balance,
 * and markup or a path in a code is carried into every report and export that lists accounts.
 */
export const ADJUSTMENT_ACCOUNT_NAME = /^[a-z0-9](?:[a-z0-9_.-]{0,62}[a-z0-9])?$/;

/**
 * An adjusting entry corrects a reconciliation difference: it moves the platform's reconciliation
 * (costs, differences) and suspense accounts, the receivable of the gateway concerned, and for a
 * bank entry the bank cash; never a seller's balance (paid out at the next run), a tax payable (a
 * return's figure), another gateway's receivable or the platform's other books, and no amount
 * beyond the events' bound. Refused, naming the posting, with `refuse`'s code.
 */
export function checkAdjustmentScope(postings: readonly Pick<PostingInput, "account" | "currency" | "amount">[], scope: AdjustmentScope, refuse: (message: string, field: string, why: string) => AppError): void {
  postings.forEach((p, i) => {
    const [head, owner, tail, ...more] = p.account.split(":");
    const allowed =
      (head === "platform" && (owner === "reconciliation" || owner === "suspense") && tail !== undefined && tail !== "" && more.length === 0) ||
      (head === "gateway" && owner !== undefined && tail === "receivable" && more.length === 0 && (scope.gateways === "any" || scope.gateways.has(owner))) ||
      (scope.bank && p.account === "platform:cash:bank");
    if (!allowed) {
      const may = ["platform:reconciliation:<name>", "platform:suspense:<name>", scope.gateways === "any" ? "a gateway's receivable" : [...scope.gateways].map((g) => `gateway:${g}:receivable`).join(", "), ...(scope.bank ? ["platform:cash:bank"] : [])];
      throw refuse(`adjustment.postings.${i} posts to ${p.account}: an adjusting entry may post to ${may.join(", ")} only`, `adjustment.postings.${i}.account`, `not an account an adjusting entry may move (${may.join(", ")})`);
    }
    if (head === "platform" && (owner === "reconciliation" || owner === "suspense") && !ADJUSTMENT_ACCOUNT_NAME.test(tail ?? "")) {
      // Bad input rather than an entry out of scope: the request names an account no one could open.
      throw Errors.validation(`adjustment.postings.${i}.account ${JSON.stringify(p.account.slice(0, 120))}: the name after platform:${owner}: must be 1-64 lower-case letters and digits, with _ - . inside`, {
        fields: [{ field: `adjustment.postings.${i}.account`, message: "platform:reconciliation:<name> or platform:suspense:<name>, <name> of [a-z0-9], with _ - . inside (e.g. bank_charges)" }],
      });
    }
    const max = scope.maxAmount(p.currency);
    if (p.amount > max) throw refuse(`adjustment.postings.${i} moves ${p.amount} minor units of ${p.currency}, more than the ${max} any event may`, `adjustment.postings.${i}.amount`, `at most ${max}`);
  });
}

/**
 * What an exception's adjusting entry may move, per currency (minor units): the exception's own
 * amount. Its difference when both sides are known in one currency (an amount, fee or FX mismatch:
 * the entry books the difference); else each side that is there, in its currency (a row missing in
 * the ledger: the row's amount; an event missing in the report: the event's; a currency mismatch:
 * the report's amount in the report's currency, the event's in its own). Null when the exception
 * carries no amount (nothing to bound by).
 */
export function exceptionBound(item: Pick<ReconItem, "currency" | "reportAmount" | "ledgerAmount" | "difference" | "evidence">): Map<string, bigint> | null {
  const abs = (v: bigint) => (v < 0n ? -v : v);
  const out = new Map<string, bigint>();
  const add = (currency: unknown, amount: bigint | null) => {
    if (typeof currency !== "string" || amount === null) return;
    out.set(currency, abs(amount) > (out.get(currency) ?? 0n) ? abs(amount) : (out.get(currency) ?? 0n));
  };
  if (item.difference !== null) add(item.currency, item.difference);
  else {
    const e = item.evidence;
    const row = e["report"] !== null && typeof e["report"] === "object" && !Array.isArray(e["report"]) ? (e["report"] as Record<string, unknown>)["currency"] : undefined;
    add(e["reportCurrency"] ?? row ?? item.currency, item.reportAmount);
    add(e["ledgerCurrency"] ?? item.currency, item.ledgerAmount);
  }
  return out.size === 0 ? null : out;
}

/**
 * An adjusting entry books the exception, not more: in each currency its debits (as its credits)
 * stay within `exceptionBound`, and it moves no currency the exception is not in; unless the
 * request says it goes beyond (`exceedsException`, the resolution's note saying why). Refused with
 * `refuse` naming `adjustment.postings`; an exception without an amount is not bounded.
 */
export function checkAdjustmentBound(
  postings: readonly Pick<PostingInput, "currency" | "direction" | "amount">[],
  bound: ReadonlyMap<string, bigint> | null,
  refuse: (message: string, details: Record<string, string>) => AppError,
): void {
  if (bound === null) return;
  const sides = new Map<string, { debit: bigint; credit: bigint }>();
  for (const p of postings) {
    const s = sides.get(p.currency) ?? { debit: 0n, credit: 0n };
    s[p.direction] += p.amount;
    sides.set(p.currency, s);
  }
  for (const [currency, s] of sides) {
    const moved = s.debit > s.credit ? s.debit : s.credit;
    const max = bound.get(currency) ?? 0n;
    if (moved <= max) continue;
    const allowed = [...bound].map(([c, v]) => `${v} ${c}`).join(", ");
    throw refuse(
      `the adjusting entry moves ${moved} minor units of ${currency}, ${bound.has(currency) ? `more than the exception's ${max}` : `a currency the exception is not in (it is ${allowed})`}: an adjusting entry books the exception; one that goes beyond says so with "exceedsException": true and a note saying why`,
      { currency, moved: moved.toString(), exceptionAmount: max.toString() },
    );
  }
}

/**
 * The ledger's refusal of an adjusting entry, as the resolution's own answer: a key already booked
 * with another entry is `conflict` (409), any other 4xx `rejected` naming its fields under
 * `adjustment.` with `details.ledgerCode`; anything else (a 5xx, a fault) as it was.
 */
export function adjustmentRefusal(e: unknown, defs: { conflict: ErrorDefinition; rejected: ErrorDefinition }, conflictDetail: string): unknown {
  if (!isAppError(e)) return e;
  if (e.code === LedgerErrors.idempotencyConflict.code) return defs.conflict(conflictDetail, { cause: e });
  if (e.status >= 500) return e;
  return defs.rejected(`the ledger refused the adjusting entry: ${e.message}`, {
    ...(e.fields === undefined ? {} : { fields: e.fields.map((f) => ({ field: f.field.startsWith("adjustment.") ? f.field : `adjustment.${f.field}`, message: f.message })) }),
    details: { ledgerCode: e.code },
    cause: e,
  });
}
