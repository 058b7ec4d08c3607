/**
 * Every error the service can return has a stable, prefixed machine code (`ENT_<AREA>_<WHAT>`),
 * an HTTP status and a human title. Modules declare their errors with `defineError` in their own
 * `errors.ts`; the HTTP layer renders any `AppError` as RFC 9457 problem+json and everything else
 * as an opaque 500 (logged with the request id, never echoed).
 */
export interface FieldIssue {
  /** JSON pointer or dotted path of the offending field, e.g. `/amount` or `postings.1.currency`. */
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly fields: FieldIssue[] | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    def: Pick<ErrorDefinition, "code" | "status" | "title">,
    detail: string,
    extra: { fields?: FieldIssue[]; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(detail, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "AppError";
    this.code = def.code;
    this.status = def.status;
    this.title = def.title;
    this.fields = extra.fields;
    this.details = extra.details;
  }
}

export interface ErrorDefinition {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  /** Build an AppError of this kind with a specific detail message. */
  (detail: string, extra?: { fields?: FieldIssue[]; details?: Record<string, unknown>; cause?: unknown }): AppError;
}

const registry = new Map<string, ErrorDefinition>();

export function defineError(code: string, status: number, title: string): ErrorDefinition {
  // `ENT_<AREA>_<WHAT>`, or `ENT_<WHAT>` for the few cross-cutting codes (ENT_INTERNAL).
  if (!/^ENT_[A-Z0-9]+(?:_[A-Z0-9]+)*$/.test(code)) throw new Error(`error code ${code} does not follow ENT_<AREA>_<WHAT>`);
  if (registry.has(code)) throw new Error(`error code ${code} is defined twice`);
  const def = ((detail: string, extra?: Parameters<ErrorDefinition>[1]) => new AppError(def, detail, extra)) as ErrorDefinition;
  Object.defineProperties(def, {
    code: { value: code },
    status: { value: status },
    title: { value: title },
  });
  registry.set(code, def);
  return def;
}

/** All codes defined so far (for the docs and a test that every code is documented). */
export function errorCatalogue(): ErrorDefinition[] {
  return [...registry.values()].sort((a, b) => a.code.localeCompare(b.code));
}

/** The HTTP status a code answers alone (a batch item's error carries it); 500 for a code not defined. */
export function statusOfCode(code: string): number {
  return registry.get(code)?.status ?? 500;
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** One line for a log or a stored `error` column: `<code>: <detail>` for an AppError, else the message; capped. */
export function errorSummary(e: unknown, max = 500): string {
  if (isAppError(e)) return `${e.code}: ${e.message}`.slice(0, max);
  return (e instanceof Error ? e.message : String(e)).slice(0, max);
}

/** Cross-cutting errors that belong to no single module. */
export const Errors = {
  validation: defineError("ENT_REQUEST_VALIDATION", 400, "Request validation failed"),
  notFound: defineError("ENT_REQUEST_NOT_FOUND", 404, "Resource not found"),
  internal: defineError("ENT_INTERNAL", 500, "Internal error"),
} as const;
