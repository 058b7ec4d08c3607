/** Query parameters several routes read the same way. */
import { AppError, Errors, isAppError } from "../errors.js";

/** [from, to) from the query, `from` before `to` (400 naming query.to otherwise). */
export function periodOf(from: string, to: string): { from: Date; to: Date };
export function periodOf(from: string | undefined, to: string): { from?: Date; to: Date };
export function periodOf(from: string | undefined, to: string): { from?: Date; to: Date } {
  if (from !== undefined && Date.parse(from) >= Date.parse(to)) {
    throw Errors.validation("query.to must be after query.from", { fields: [{ field: "query.to", message: "must be after from" }] });
  }
  return { ...(from === undefined ? {} : { from: new Date(from) }), to: new Date(to) };
}

/**
 * A read over the query's period whose refusals name its bounds as the domain does (`from`, `to`: a
 * report's 366 days, the ledger's row limits) answered naming the query's parameters (`query.from`,
 * `query.to`), as periodOf and the schema do: every date error of a route names the same field.
 * Code, status, message and details stay.
 */
export async function namingQuery<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (e) {
    const bound = (field: string) => field === "from" || field === "to";
    if (!isAppError(e) || e.fields?.some((f) => bound(f.field)) !== true) throw e;
    const fields = e.fields.map((f) => (bound(f.field) ? { ...f, field: `query.${f.field}` } : f));
    throw new AppError(e, e.message, { fields, ...(e.details === undefined ? {} : { details: e.details }), cause: e });
  }
}

/** CSV when `format=csv`, or without a format when the client accepts text/csv. */
export function wantsCsv(format: string | undefined, accept: string | undefined): boolean {
  return format === "csv" || (format === undefined && (accept ?? "").includes("text/csv"));
}
