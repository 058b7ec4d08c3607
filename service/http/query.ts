/** Query parameters several routes read the same way. */
import { Errors } from "../errors.js";

/** [from, to) from the query, `from` before `to` (400 naming query.to otherwise). */
export function periodOf(from: string, to: string): { from: Date; to: Date };
export function periodOf(from: string | undefined, to: string): { from?: Date; to: Date };
export function periodOf(from: string | undefined, to: string): { from?: Date; to: Date } {
  if (from !== undefined && Date.parse(from) >= Date.parse(to)) {
    throw Errors.validation("query.to must be after query.from", { fields: [{ field: "query.to", message: "must be after from" }] });
  }
  return { ...(from === undefined ? {} : { from: new Date(from) }), to: new Date(to) };
}

/** CSV when `format=csv`, or without a format when the client accepts text/csv. */
export function wantsCsv(format: string | undefined, accept: string | undefined): boolean {
  return format === "csv" || (format === undefined && (accept ?? "").includes("text/csv"));
}
