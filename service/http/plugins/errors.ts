/**
 * Every failure leaves as RFC 9457 problem+json with a stable `code`: domain `AppError`s as they
 * are, Fastify's own errors (validation, body limits, media types, unknown routes) mapped to
 * `ENT_HTTP_*`/`ENT_REQUEST_*` codes, anything else as an opaque ENT_INTERNAL 500 that is logged
 * with the request id and never echoed (no stack traces, no SQL, no driver messages). A transient
 * database failure is a 503 ENT_DB_UNAVAILABLE (ENT_LEDGER_UNAVAILABLE from the ledger), logged at warn with its code, the request id and the
 * driver's SQLSTATE only (no SQL, no parameters, no stack: it is an outage, not a bug). A 4xx is the
 * client's and leaves no line beyond Fastify's "request completed".
 *
 * Also owns JSON body parsing: the raw bytes are kept on the request because a gateway's HMAC
 * signature covers exactly those bytes, not a re-serialisation of the parsed object.
 */
import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import { failureCodes, transientAsAppError } from "../../db/errors.js";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Errors, isAppError, type AppError, type FieldIssue } from "../../errors.js";
import { HttpErrors } from "../errors.js";
import { PROBLEM_CONTENT_TYPE, problemOf } from "../problem.js";
import { DATE_PATTERN_MESSAGES, INSTANT_MESSAGE } from "../schemas/common.js";

interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

function fieldOf(issue: AjvIssue, context: string | undefined): string {
  const parts = issue.instancePath.split("/").filter((p) => p !== "").map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
  if (issue.keyword === "required" && typeof issue.params.missingProperty === "string") parts.push(issue.params.missingProperty);
  if (issue.keyword === "additionalProperties" && typeof issue.params.additionalProperty === "string") parts.push(issue.params.additionalProperty);
  const prefix = context === undefined || context === "body" ? [] : [context === "querystring" ? "query" : context];
  const path = [...prefix, ...parts].join(".");
  return path === "" ? (context ?? "body") : path;
}

function messageOf(issue: AjvIssue): string {
  if (issue.keyword === "additionalProperties") return "is not an accepted field";
  if (issue.keyword === "required") return "is required";
  const datePattern = issue.keyword === "pattern" ? DATE_PATTERN_MESSAGES.get(String(issue.params.pattern)) : undefined;
  if (datePattern !== undefined) return datePattern;
  if (issue.keyword === "format" && issue.params.format === "date-time") return INSTANT_MESSAGE;
  return issue.message ?? issue.keyword;
}

/** A year outside 1970-9999 fails both the pattern and the format: the pattern's words alone name it. */
function isRedundantInstantIssue(issue: AjvIssue, field: string, patternFailed: Set<string>): boolean {
  return issue.keyword === "format" && issue.params.format === "date-time" && patternFailed.has(field);
}

/** Field errors one problem lists at most: a body of many invalid fields is answered in a bounded size, the rest counted. */
export const MAX_LISTED_FIELDS = 100;

/**
 * A failed schema check as one problem naming every field (the first `maxListed`, and how many in
 * all); `validationContext` is the request part ("body", "headers", ...).
 */
export function validationProblem(error: { validation?: unknown; validationContext?: string }, maxListed = MAX_LISTED_FIELDS): AppError {
  const issues = (error.validation ?? []) as AjvIssue[];
  const seen = new Set<string>();
  const fields: FieldIssue[] = [];
  const patternFailed = new Set(issues.filter((i) => i.keyword === "pattern" && DATE_PATTERN_MESSAGES.has(String(i.params.pattern))).map((i) => fieldOf(i, error.validationContext)));
  for (const issue of issues) {
    const f = { field: fieldOf(issue, error.validationContext), message: messageOf(issue) };
    if (isRedundantInstantIssue(issue, f.field, patternFailed)) continue;
    const k = `${f.field}\u0000${f.message}`;
    if (!seen.has(k)) {
      seen.add(k);
      fields.push(f);
    }
  }
  const summary = fields.slice(0, 5).map((f) => `${f.field} ${f.message}`).join("; ");
  const listed = fields.length > maxListed ? ` (the first ${maxListed} listed)` : "";
  return Errors.validation(`${fields.length} invalid field${fields.length === 1 ? "" : "s"}${listed}: ${summary}${fields.length > 5 ? "; ..." : ""}`, { fields: fields.slice(0, maxListed) });
}

const STATIC_FILE_ERRORS = new Map([
  [403, HttpErrors.pathForbidden],
  [412, HttpErrors.preconditionFailed],
  [416, HttpErrors.rangeNotSatisfiable],
]);

/** Fastify's built-in error codes -> our stable codes. */
function mapFastifyError(error: FastifyError, request: FastifyRequest): { appError: AppError; status?: number } | null {
  if (error.validation !== undefined) return { appError: validationProblem(error) };
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { appError: HttpErrors.bodyTooLarge(`the request body exceeds the limit of this route`) };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      // A route taking another body than JSON says so in its schema (`consumes`, also in /openapi.json).
      return { appError: HttpErrors.unsupportedMediaType(`send the body as ${(request.routeOptions.schema?.consumes ?? ["application/json"]).join(" or ")}`) };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { appError: HttpErrors.malformedJson("the body is empty but the content type is application/json") };
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return { appError: HttpErrors.malformedJson("the body is not valid JSON") };
    default:
      break;
  }
  const status = error.statusCode;
  // The console's static files (@fastify/static, @fastify/send) refuse with these statuses: each its
  // own code and title, so status, code and title of the problem agree.
  const byStatus = status === undefined ? undefined : STATIC_FILE_ERRORS.get(status);
  if (byStatus !== undefined) return { appError: byStatus(byStatus === HttpErrors.pathForbidden ? "the path leaves the folder it names, or names a hidden file" : error.message) };
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's messages for client errors describe the request, never server internals.
    return { appError: HttpErrors.badRequest(error.message), status };
  }
  return null;
}

/**
 * Errors the router raises before any route or hook exists for the request (Fastify's
 * `frameworkErrors`): a path segment past `maxParamLength`, a malformed percent-encoding. Same
 * problem documents as everything else, never Fastify's own JSON.
 */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const problem =
    error.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? HttpErrors.paramTooLong(`a path parameter is longer than ${MAX_PARAM_LENGTH} characters`)
      : error.code === "FST_ERR_BAD_URL"
        ? HttpErrors.badRequest("the path is not a valid URL (bad percent-encoding)")
        : HttpErrors.badRequest("the request could not be routed");
  sendProblem(request, reply, problem);
}

/**
 * Errors Node's HTTP parser raises before Fastify has a request (Fastify's `clientErrorHandler`):
 * headers or a request line over the size limit, a request that did not arrive in time, bytes that
 * are not HTTP. Answered as the same problem documents (no request path is known: `instance` is
 * "/"), then the connection is closed, as the parser cannot go on reading it.
 */
export function clientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const e =
    error.code === "HPE_HEADER_OVERFLOW" ? HttpErrors.headersTooLarge("the request line and headers exceed 16 KiB; send long filters in fewer, shorter parameters")
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? HttpErrors.requestTimeout("the request did not arrive whole in time")
        : HttpErrors.badRequest("the request is not valid HTTP/1.1");
  if (socket.writable && (socket as Duplex & { bytesWritten?: number }).bytesWritten === 0) {
    const body = JSON.stringify(problemOf(e, "/", randomUUID()));
    socket.write(`HTTP/1.1 ${e.status} ${e.title}\r\nConnection: close\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** Longest path parameter the router accepts: event keys reach 252 characters, account codes 200. */
export const MAX_PARAM_LENGTH = 256;

export function sendProblem(request: FastifyRequest, reply: FastifyReply, e: AppError, status?: number): FastifyReply {
  const problem = problemOf(e, request.url.split("?")[0] ?? request.url, String(request.id), status);
  request.server.metrics?.problems.inc({ code: problem.code });
  // A 503 is an answer to retry: say when (the error's own hint, else one second).
  if (problem.status === 503 && !reply.hasHeader("retry-after")) {
    const hint = e.details?.["retryAfterSeconds"];
    reply.header("retry-after", String(typeof hint === "number" && hint > 0 ? Math.ceil(hint) : 1));
  }
  return reply.status(problem.status).type(PROBLEM_CONTENT_TYPE).serializer(JSON.stringify).send(problem);
}

const NUL_ESCAPE = Buffer.from("\\u0000");

/** The dotted path of the first string or key holding a NUL character, or null. */
export function nulField(v: unknown, path: string[]): string | null {
  if (typeof v === "string") return v.includes("\u0000") ? (path.length === 0 ? "body" : path.join(".")) : null;
  if (v === null || typeof v !== "object") return null;
  for (const [k, x] of Object.entries(v)) {
    if (k.includes("\u0000")) return [...path, JSON.stringify(k).slice(1, -1)].join(".");
    const found = nulField(x, [...path, k]);
    if (found !== null) return found;
  }
  return null;
}

/** An object body schema with no required field: an absent body means the same as `{}`. */
function requiresNothing(schema: unknown): boolean {
  if (schema === null || typeof schema !== "object") return false;
  const s = schema as { type?: unknown; required?: unknown };
  return s.type === "object" && (s.required === undefined || (Array.isArray(s.required) && s.required.length === 0));
}

function parsesAsJson(raw: Buffer): boolean {
  try {
    JSON.parse(raw.toString("utf8"));
    return true;
  } catch {
    return false;
  }
}

/** A 503 for a transient database failure: the code, the request and the SQLSTATE; the driver's error may quote SQL and parameters. */
function logTransient(request: FastifyRequest, e: AppError): void {
  const state = failureCodes(e).sqlState ?? "connection";
  request.log.warn(
    // No reqId here: the request's logger binds it already (twice made a duplicate JSON key).
    { code: e.code, sqlState: state, method: request.method, route: request.routeOptions.url },
    `request answered 503: the database failed transiently (${state})`,
  );
}

export async function errorsPlugin(app: FastifyInstance): Promise<void> {
  // JSON only: any other body type is a 415, never a string that then fails validation obscurely.
  app.removeAllContentTypeParsers();
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    // JSON between systems is UTF-8 (RFC 8259 section 8.1); a body declared otherwise was read as
    // UTF-8 all the same, so what the client meant and what was booked could differ.
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers["content-type"] ?? "")?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
      return done(HttpErrors.unsupportedMediaType(`send JSON as UTF-8 (RFC 8259), not charset=${charset.slice(0, 40)}`), undefined);
    }
    // The default parser is callback-style and synchronous; its return value carries nothing.
    void parseJson(request, raw.toString("utf8"), (err, value) => {
      if (err === null) {
        // PostgreSQL stores no NUL in text or JSON: refused here, naming the field, for every route
        // and every nested string (a JSON body can only carry NUL as the escape \u0000), unless the
        // route's schema refuses them item by item.
        const nul = raw.includes(NUL_ESCAPE) && request.routeOptions.config.nulByItem !== true ? nulField(value, []) : null;
        if (nul !== null) return done(Errors.validation(`1 invalid field: ${nul} must not contain NUL (\\u0000) characters`, { fields: [{ field: nul, message: "must not contain NUL (\\u0000) characters" }] }), undefined);
        return done(null, value);
      }
      const code = (err as FastifyError).code;
      if (code === "FST_ERR_CTP_EMPTY_JSON_BODY") return done(HttpErrors.malformedJson("the body is empty but the content type is application/json"), undefined);
      // Valid JSON the parser refused holds a __proto__ or constructor.prototype key (refused
      // outright against prototype pollution): say so, not "not JSON". Only on this error path.
      if (parsesAsJson(raw)) return done(HttpErrors.malformedJson("a __proto__ key, or constructor.prototype, is not accepted in a JSON body"), undefined);
      done(HttpErrors.malformedJson("the body is not valid JSON"), undefined);
    });
  });

  // A POST whose body schema requires nothing may come with no body and no content type (README: the
  // bodiless POSTs are signed over an empty body): it is read as `{}`, never refused as "body must
  // be object". A body that is sent is parsed and checked as ever.
  app.addHook("preValidation", async (request) => {
    if (request.body === undefined && requiresNothing(request.routeOptions.schema?.body)) request.body = {};
  });

  // A graceful stop (server.ts) lets requests in flight finish; one that arrives meanwhile (a
  // keep-alive connection, a balancer that has not noticed yet) is told to retry elsewhere, before
  // any authentication or handler runs. Connection: close is Fastify's, set while it closes.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onRequest", async (request, reply) => {
    if (!closing) return;
    request.log.info({ code: HttpErrors.shuttingDown.code, method: request.method, url: request.url.split("?")[0] }, "request refused: this instance is shutting down");
    return sendProblem(request, reply, HttpErrors.shuttingDown("this instance is shutting down: retry the request (another instance answers it)"));
  });

  app.setNotFoundHandler((request, reply) => {
    sendProblem(request, reply, HttpErrors.routeNotFound(`no route ${request.method} ${request.url.split("?")[0] ?? ""}`));
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isAppError(error)) {
      if (failureCodes(error).transient) logTransient(request, error);
      else if (error.status >= 500) request.log.error({ err: error }, "request failed");
      return sendProblem(request, reply, error);
    }
    // A database fault that outlasted its retries: 503 with Retry-After, never a 500.
    const transient = transientAsAppError(error);
    if (isAppError(transient)) {
      logTransient(request, transient);
      return sendProblem(request, reply, transient);
    }
    const mapped = mapFastifyError(error, request);
    if (mapped !== null) return sendProblem(request, reply, mapped.appError, mapped.status);
    // Unknown: log everything here, send nothing of it.
    request.log.error({ err: error }, "unhandled error");
    return sendProblem(request, reply, Errors.internal(`an internal error occurred; quote request id ${request.id} when reporting it`));
  });
}
