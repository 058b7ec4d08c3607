/**
 * Errors of the HTTP edge (`ENT_AUTH_*`, `ENT_HTTP_*`): authentication, request signing, and the
 * transport-level failures Fastify detects before a route runs (malformed JSON, body too large,
 * unsupported media type, unknown route, rate limit). Each gets a stable code like every domain
 * error, so a client can branch on `code` and never on a message.
 */
import { defineError } from "../errors.js";

export const HttpErrors = {
  missingKey: defineError("ENT_AUTH_MISSING_KEY", 401, "API key required"),
  invalidKey: defineError("ENT_AUTH_INVALID_KEY", 401, "Invalid API key"),
  revokedKey: defineError("ENT_AUTH_REVOKED_KEY", 401, "API key revoked"),
  insufficientScope: defineError("ENT_AUTH_INSUFFICIENT_SCOPE", 403, "API key lacks the required scope"),
  signatureMissing: defineError("ENT_AUTH_SIGNATURE_MISSING", 401, "Request signature required"),
  signatureInvalid: defineError("ENT_AUTH_SIGNATURE_INVALID", 401, "Invalid request signature"),
  /** The signed timestamp is outside the replay window (too old, or too far in the future). */
  signatureExpired: defineError("ENT_AUTH_SIGNATURE_EXPIRED", 401, "Request signature expired"),
  /** The same signature was already accepted inside the replay window. */
  signatureReplayed: defineError("ENT_AUTH_SIGNATURE_REPLAYED", 401, "Request signature replayed"),
  /** A console session cookie that names no session (never issued, signed out, or swept). */
  sessionInvalid: defineError("ENT_AUTH_SESSION_INVALID", 401, "Console session not valid"),
  /** A console session idle longer than CONSOLE_SESSION_IDLE_SECONDS, or past its absolute lifetime. */
  sessionExpired: defineError("ENT_AUTH_SESSION_EXPIRED", 401, "Console session expired"),
  /** A console session on a route that takes a signed API key request (gateway writes). */
  sessionNotAccepted: defineError("ENT_AUTH_SESSION_NOT_ACCEPTED", 401, "Console session not accepted on this route"),
  /** Opening a console session with a key that has neither finance nor admin scope. */
  sessionScope: defineError("ENT_AUTH_SESSION_SCOPE", 403, "API key may not open a console session"),
  /** A state-changing request by console session without the session's x-csrf-token. */
  csrf: defineError("ENT_AUTH_CSRF", 403, "CSRF token missing or wrong"),
  keyNotFound: defineError("ENT_AUTH_KEY_NOT_FOUND", 404, "API key not found"),
  /** A gateway key named another gateway than its own (in an event, batch item or quote). */
  gatewayMismatch: defineError("ENT_AUTH_GATEWAY_MISMATCH", 403, "API key bound to another gateway"),
  /** A gateway:write key issued before keys were bound to a gateway: an admin must bind it first. */
  gatewayUnbound: defineError("ENT_AUTH_GATEWAY_UNBOUND", 403, "API key not bound to a gateway"),
  /** Binding a gateway to a key without the gateway:write scope. */
  keyNotGateway: defineError("ENT_AUTH_KEY_NOT_GATEWAY", 409, "API key is not a gateway key"),
  /** A key's gateway is set once; another gateway needs another key. */
  keyAlreadyBound: defineError("ENT_AUTH_KEY_ALREADY_BOUND", 409, "API key already bound to a gateway"),
  /** A signing-secret rotation starts while the previous one still has a valid old secret. */
  rotationInProgress: defineError("ENT_AUTH_ROTATION_IN_PROGRESS", 409, "Signing secret rotation in progress"),
  /** A stored signing secret was sealed under a secrets key this process does not have (instances configured with different SECRETS_KEYs). */
  secretsKeyMismatch: defineError("ENT_AUTH_SECRETS_KEY_MISMATCH", 503, "Signing secret sealed under an unknown secrets key"),
  malformedJson: defineError("ENT_HTTP_MALFORMED_JSON", 400, "Malformed JSON body"),
  bodyTooLarge: defineError("ENT_HTTP_BODY_TOO_LARGE", 413, "Request body too large"),
  unsupportedMediaType: defineError("ENT_HTTP_UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported media type"),
  routeNotFound: defineError("ENT_HTTP_ROUTE_NOT_FOUND", 404, "No such route"),
  /** A path segment longer than any parameter of any route (the router refuses it before routing). */
  paramTooLong: defineError("ENT_HTTP_PARAM_TOO_LONG", 414, "Path parameter too long"),
  rateLimited: defineError("ENT_HTTP_RATE_LIMITED", 429, "Too many requests"),
  /** The request line and headers exceed Node's limit (16 KiB): refused by the HTTP parser, before routing. */
  headersTooLarge: defineError("ENT_HTTP_HEADERS_TOO_LARGE", 431, "Request header fields too large"),
  /** The request did not arrive whole within `requestTimeout`. */
  requestTimeout: defineError("ENT_HTTP_REQUEST_TIMEOUT", 408, "Request timeout"),
  /** Any other client error Fastify raises before the route (bad Content-Length, bad header...). */
  badRequest: defineError("ENT_HTTP_BAD_REQUEST", 400, "Bad request"),
  /** A static file path the server refuses to resolve (`..` out of its folder, a dotfile): never read, whatever exists there. */
  pathForbidden: defineError("ENT_HTTP_PATH_FORBIDDEN", 403, "Path refused"),
  /** A conditional request (If-Match, If-Unmodified-Since) on a static file whose condition fails. */
  preconditionFailed: defineError("ENT_HTTP_PRECONDITION_FAILED", 412, "Precondition failed"),
  /** A Range header on a static file that asks for bytes it does not have. */
  rangeNotSatisfiable: defineError("ENT_HTTP_RANGE_NOT_SATISFIABLE", 416, "Range not satisfiable"),
  notReady: defineError("ENT_HTTP_NOT_READY", 503, "Service not ready"),
  /** A request that arrived while this instance stops (SIGTERM): another instance answers it. */
  shuttingDown: defineError("ENT_HTTP_SHUTTING_DOWN", 503, "Instance shutting down"),
} as const;
