/**
 * When a resolution's adjusting entry is effective (no I/O: the caller gives the clock). An adjusting
 * entry corrects something that happened at a known instant, so the books show it in the period of
 * that event, not on the day someone resolved the exception: a month's trial balance is only right
 * when December's gateway cost is in December. The ledger then applies its own rule for an instant
 * in a closed period (booked at the close instant, the instant kept as `originalEffectiveAt`), so a
 * resolution never changes a closed period. Used by the gateway reconciliation and the cash
 * reconciliation alike.
 */
import { Errors } from "../errors.js";
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

/**
 * The effective instant of an adjusting entry: the one requested (which must have passed: the
 * books record what happened, and an entry dated ahead would sit outside every period closed
 * meanwhile), else the derived one, never later than now (a report or statement dated ahead of
 * our clock would otherwise book in the future).
 */
export function adjustmentEffectiveAt(requested: Date | undefined, derived: Date, now: Date): Date {
  if (requested !== undefined) {
    if (requested.getTime() > now.getTime()) {
      throw Errors.validation(`${EFFECTIVE_AT_FIELD} (${requested.toISOString()}) is in the future: an adjusting entry books what already happened`, {
        fields: [{ field: EFFECTIVE_AT_FIELD, message: "must not be in the future" }],
      });
    }
    return requested;
  }
  return derived.getTime() > now.getTime() ? now : derived;
}
