/**
 * A period form's state, shared by the views that take a period (the books' trial balance, the tax
 * returns): a month (in the reader's zone or UTC's) or the two instants, read from and written to
 * the URL as RFC 3339 instants.
 */
import { isoToLocalInput, monthBounds, monthOf } from "./format";

/**
 * The period form: a month (in the reader's zone or UTC's) or the two instants. The month field is
 * the browser's own (a month, then a year, each typed in its part): it is read once it is left or
 * the form is sent, never rebuilt while typed (a year's first digit is year 0002 until the rest comes).
 */
export interface PeriodForm {
  from: string;
  to: string;
  month: string;
  zone: "local" | "utc";
  /** The month was typed since the instants were last set from it. */
  monthDirty: boolean;
}

export function periodForm(fromIso: string, toIso: string): PeriodForm {
  const m = fromIso !== "" && toIso !== "" ? monthOf(fromIso, toIso) : null;
  return { from: isoToLocalInput(fromIso), to: isoToLocalInput(toIso), month: m?.month ?? "", zone: m?.zone ?? "local", monthDirty: false };
}

/** The form with its instants set from its month, or null when the month is not a complete one. */
export function fromMonth<F extends PeriodForm>(f: F): F | null {
  const b = monthBounds(f.month, f.zone);
  return b === null ? null : { ...f, ...b, monthDirty: false };
}

export const NOT_A_MONTH = "is not a month the ledger can take: choose a month and a year of four digits";
export const NOT_AN_INSTANT = "is not a date and time the ledger can take: a day, a month, a year of four digits and a time";
