/**
 * The database's own error codes, and the one place that classifies driver errors. Both drivers
 * (node-postgres and PGlite) surface the SQLSTATE as `code`; Prisma wraps a unique violation as
 * P2002 with the constraint in `meta`. Callers ask these functions, never a `code` string.
 */
import { defineError, isAppError, type AppError } from "../errors.js";

export const DbErrors = {
  migrationChecksum: defineError("ENT_DB_MIGRATION_CHECKSUM", 500, "An applied migration was changed after it was applied"),
  migrationMissing: defineError("ENT_DB_MIGRATION_MISSING", 500, "An applied migration is missing from the migrations folder"),
  /** Every unknown applied migration is later than this version's last: a newer version migrated the database. */
  newerVersion: defineError("ENT_DB_NEWER_VERSION", 500, "The database was migrated by a newer version of Entrepot"),
  migrationFailed: defineError("ENT_DB_MIGRATION_FAILED", 500, "A database migration failed"),
  /** Another live process holds the embedded database folder (PGlite is single-process). */
  dataDirInUse: defineError("ENT_DB_DATA_DIR_IN_USE", 500, "The embedded database folder is in use by another process"),
  /** A transient failure (deadlock, lost connection) persisted through the retries: retry later (503, Retry-After). */
  unavailable: defineError("ENT_DB_UNAVAILABLE", 503, "The database is temporarily unavailable"),
} as const;

/**
 * The SQLSTATE (or Prisma code) of a driver error, if it has one. Prisma's driver adapter wraps the
 * server's error in one of its own (P2039 "Database error", P2010 "Raw query failed", P1017...), with
 * the SQLSTATE (or the socket's code) in `meta.driverAdapterError.cause.originalCode`: that one is
 * the answer, as the same failure through the raw runner would give it.
 */
export function sqlState(e: unknown): string | undefined {
  const inner = (e as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } } | null)?.meta?.driverAdapterError?.cause?.originalCode;
  if (typeof inner === "string") return inner;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Prisma's own codes for a connection that failed or went away (no SQLSTATE inside). */
const PRISMA_CONNECTION_CODES = new Set(["P1001", "P1002", "P1008", "P1017"]);

/** The error's text with Prisma's `meta` (where it names the constraint). */
function errorText(e: unknown): string {
  if (e === null || typeof e !== "object") return String(e);
  const err = e as { message?: unknown; meta?: unknown; constraint?: unknown };
  return `${typeof err.message === "string" ? err.message : ""} ${typeof err.constraint === "string" ? err.constraint : ""} ${err.meta === undefined ? "" : JSON.stringify(err.meta)}`;
}

/**
 * A unique violation (SQLSTATE 23505, or Prisma's P2002); with `constraint`, only of that constraint.
 * One rule for every module: the code decides, the constraint name is matched in the message/meta.
 */
export function isUniqueViolation(e: unknown, constraint?: string): boolean {
  const code = sqlState(e);
  const unique = code === "23505" || code === "P2002" || (code === undefined && /duplicate key value violates unique constraint/i.test(errorText(e)));
  return unique && (constraint === undefined || errorText(e).includes(constraint));
}

/** SQLSTATE 22003: a value out of its column's range (a NUMERIC(38,0) total, an int8 id). */
export function isNumericOverflow(e: unknown): boolean {
  return sqlState(e) === "22003";
}

/**
 * A failure worth retrying as is: deadlock (40P01), serialization failure (40001, except the ledger's
 * own stale-plan refusal, which its writer handles), lock timeout (55P03), the server going away
 * (57P01-57P03, class 08 connection exceptions, a database not accepting connections) and a
 * connection dropped under the driver.
 */
export function isTransient(e: unknown): boolean {
  const code = sqlState(e);
  if (code === "40P01" || code === "55P03" || code === "57P01" || code === "57P02" || code === "57P03") return true;
  if (code === "40001") return !/^ledger flush is (stale|early)/.test((e as { message?: unknown }).message as string);
  if (code !== undefined && code.startsWith("08")) return true;
  if (code === "ECONNRESET" || code === "ECONNREFUSED" || code === "EPIPE" || code === "ETIMEDOUT") return true;
  if (code !== undefined && PRISMA_CONNECTION_CODES.has(code)) return true;
  return /Connection terminated|connection closed|Client has encountered a connection error|is not currently accepting connections/i.test(errorText(e));
}

/** The 503 an exhausted transient failure becomes (the HTTP layer adds Retry-After). */
export function unavailable(e: unknown): AppError {
  return DbErrors.unavailable(`the database failed transiently (${sqlState(e) ?? "connection"}); retry later`, { details: { retryAfterSeconds: 1 }, cause: e });
}

/**
 * Runs `fn` again after a transient failure, with exponential backoff and jitter, at most
 * `attempts` times; then throws ENT_DB_UNAVAILABLE. Only for work that is safe to repeat as a
 * whole (one statement, or a transaction that rolled back). Other errors pass through untouched.
 */
export async function retryTransient<T>(fn: () => Promise<T>, opts: { attempts?: number; backoffMs?: number } = {}): Promise<T> {
  const attempts = Math.max(1, opts.attempts ?? 5);
  const backoff = opts.backoffMs ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e)) throw e;
      if (attempt >= attempts) throw unavailable(e);
      await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1) * (0.5 + Math.random())));
    }
  }
}

/**
 * The stable code of a failure for a log line, as the HTTP layer answers it: a transient database
 * failure is ENT_DB_UNAVAILABLE and `transient`, and so is a 503 AppError caused by one (the
 * exhausted retries of `retryTransient`, the ledger's ENT_LEDGER_UNAVAILABLE), under its own code;
 * any other AppError keeps its code; anything else is ENT_INTERNAL. `sqlState`: the driver's code
 * (SQLSTATE, or the socket's for a lost connection) when the database raised it; never its
 * message, which may quote SQL.
 */
export function failureCodes(e: unknown): { code: string; transient: boolean; sqlState?: string } {
  const stateOf = (x: unknown) => {
    const state = sqlState(x);
    return state === undefined ? {} : { sqlState: state };
  };
  if (isAppError(e)) {
    const transient = e.status === 503 && e.cause !== undefined && isTransient(e.cause);
    return { code: e.code, transient, ...(transient ? stateOf(e.cause) : {}) };
  }
  if (isTransient(e)) return { code: DbErrors.unavailable.code, transient: true, ...stateOf(e) };
  // Other errors carry codes of their own (ENOENT, ERR_...): only a SQLSTATE is the database's.
  const state = sqlState(e);
  return { code: "ENT_INTERNAL", transient: false, ...(state !== undefined && /^[0-9A-Z]{5}$/.test(state) ? { sqlState: state } : {}) };
}

/** A transient driver error as ENT_DB_UNAVAILABLE (503, retry); anything else unchanged. */
export function transientAsAppError(e: unknown): unknown {
  return !isAppError(e) && isTransient(e) ? unavailable(e) : e;
}
