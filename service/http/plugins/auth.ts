/**
 * Authentication and authorisation for every route that declares `config.auth`:
 *  - onRequest: `Authorization: Bearer <key>` -> the key's principal, then the scope check (a
 *    wrong key never learns whether the route exists beyond its 401/403);
 *  - preValidation (after the body is read, before it is validated): the HMAC signature of
 *    signed routes, and of every write a gateway key makes (`mustSign`: managing its webhook
 *    endpoints too, or its bearer key alone could send its settlement events elsewhere), over the
 *    raw bytes, against the key's live signing secrets; every signature value the header carries
 *    (the match and any other) is then claimed once in the replay store every instance shares. Unsigned garbage is a 401, not a 400 that
 *    describes it.
 * Routes without `config.auth` are public (health, metrics, docs).
 *
 * A request WITHOUT an Authorization header that carries the console session cookie is
 * authenticated by its session instead (auth/sessions.ts): the principal is the session key's
 * current one; a state-changing method must carry the session's `x-csrf-token`; signed routes are
 * never reachable by session. Session failures are not counted in the lockout: a session token is
 * 256 random bits (nothing to guess), and a browser's stale cookie must not lock its office out.
 *
 * Failed authentications feed the shared lockout (auth/lockout.ts), which only ever turns a
 * FAILURE into 429: valid credentials always pass. Which gateway a key reaches is the routes'
 * business (auth/reach.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isAppError, type AppError } from "../../errors.js";
import { HttpErrors } from "../errors.js";
import { hasScope, liveSecrets } from "../auth/keys.js";
import { AuthLockout } from "../auth/lockout.js";
import { CSRF_HEADER, csrfMatches, sessionTokenOf } from "../auth/sessions.js";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from "../auth/signature.js";
import type { RouteAuth } from "../types.js";
import type { Principal } from "../auth/keys.js";

/** Methods a console session may use without its CSRF token (they change nothing). */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Whether this request must be signed: a signed route, or a write (any method but GET, HEAD,
 * OPTIONS) by a gateway key on a route a gateway key may call, as the README says gateway writes are.
 */
export function mustSign(auth: RouteAuth, method: string, principal: Principal): boolean {
  if (auth.signed === true) return true;
  return !SAFE_METHODS.has(method) && auth.scopes.includes("gateway:write") && principal.scopes.includes("gateway:write");
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(",") : v;
}

function tooMany(reply: FastifyReply, retryAtMs: number, nowMs: number): AppError {
  const seconds = Math.max(1, Math.ceil((retryAtMs - nowMs) / 1000));
  reply.header("retry-after", String(seconds));
  return HttpErrors.rateLimited(`too many failed authentications; retry in ${seconds} s`, { details: { retryAfterSeconds: seconds } });
}

/** At most one forced re-read of a key per interval; remembers a bounded number of keys. */
class RefreshGate {
  private readonly last = new Map<string, number>();
  constructor(
    private readonly intervalMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  allow(keyId: string, nowMs: number): boolean {
    const at = this.last.get(keyId);
    if (at !== undefined && nowMs - at < this.intervalMs) return false;
    this.last.delete(keyId);
    if (this.last.size >= this.maxKeys) this.last.delete(this.last.keys().next().value as string);
    this.last.set(keyId, nowMs);
    return true;
  }
}

export async function authPlugin(app: FastifyInstance): Promise<void> {
  const { apiKeys, sessions, sharedState } = app.services;
  const { http } = app.appConfig;
  const windowSeconds = app.appConfig.auth.replayWindowSeconds;
  const lockout = new AuthLockout(sharedState.counters, {
    perKeyAndAddress: http.authFailureLimit,
    perKey: http.authFailureKeyLimit,
    perAddress: http.authFailureAddressLimit,
    windowMs: http.rateLimitWindowMs,
  });
  const refreshes = new RefreshGate(1_000);
  app.decorateRequest("principal", null);
  app.decorateRequest("rawBody", undefined);

  /** Counts the failure; answers what to throw (the failure itself, or 429 past a limit). */
  async function failed(request: FastifyRequest, reply: FastifyReply, error: AppError, knownKeyId: string | null): Promise<AppError> {
    const verdict = await lockout.fail(knownKeyId, request.ip);
    return verdict.locked ? tooMany(reply, verdict.retryAtMs, Date.now()) : error;
  }

  // Sign-in (routes/sessions.ts) presents a key outside the Authorization header: its failures
  // count exactly as a bearer key's.
  app.decorate("authFailures", {
    failed,
    assertKeylessAllowed(request: FastifyRequest, reply: FastifyReply): void {
      const blocked = lockout.keylessBlockedUntil(request.ip);
      if (blocked !== null) throw tooMany(reply, blocked, Date.now());
    },
  });

  function assertScope(auth: RouteAuth, principal: Principal): void {
    if (!auth.scopes.some((s) => hasScope(principal.scopes, s))) {
      throw HttpErrors.insufficientScope(`this route needs one of the scopes ${auth.scopes.join(", ")}; key ${principal.keyId} has ${principal.scopes.join(", ") || "none"}`, {
        details: { required: auth.scopes, granted: [...principal.scopes] },
      });
    }
  }

  async function bySession(request: FastifyRequest, auth: RouteAuth, token: string): Promise<void> {
    if (auth.signed === true) throw HttpErrors.sessionNotAccepted("this route takes a request signed by a gateway's API key (Authorization: Bearer and a signature), not a console session");
    const s = await sessions.check(token);
    if (!s.ok) throw s.error;
    if (!SAFE_METHODS.has(request.method) && !csrfMatches(header(request.headers[CSRF_HEADER]), s.session.csrfHash)) {
      throw HttpErrors.csrf(`a ${request.method} by console session must carry the session's CSRF token in the ${CSRF_HEADER} header`, { fields: [{ field: CSRF_HEADER, message: "missing or not this session's CSRF token" }] });
    }
    assertScope(auth, s.principal);
    request.principal = s.principal;
  }

  app.addHook("onRequest", async (request, reply) => {
    const auth = request.routeOptions.config.auth;
    if (auth === undefined) return;
    const h = request.headers.authorization;
    if (h === undefined) {
      const token = sessionTokenOf(request.headers.cookie);
      if (token !== undefined) return bySession(request, auth, token);
    }
    const m = h === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m === null) {
      const blocked = lockout.keylessBlockedUntil(request.ip);
      if (blocked !== null) throw tooMany(reply, blocked, Date.now());
      const error = h === undefined || h.trim() === "" ? HttpErrors.missingKey("send the API key as Authorization: Bearer <key>") : HttpErrors.invalidKey("the Authorization header must be Bearer <key>");
      throw await failed(request, reply, error, null);
    }
    const v = await apiKeys.verify(m[1] as string);
    if ("error" in v) {
      if (v.knownKeyId === null) {
        const blocked = lockout.keylessBlockedUntil(request.ip);
        if (blocked !== null) throw tooMany(reply, blocked, Date.now());
      }
      throw await failed(request, reply, v.error, v.knownKeyId);
    }
    assertScope(auth, v.principal);
    request.principal = v.principal;
  });

  app.addHook("preValidation", async (request, reply) => {
    const auth = request.routeOptions.config.auth;
    if (auth === undefined || request.principal === null || !mustSign(auth, request.method, request.principal)) return;
    const keyId = request.principal.keyId;
    const nowMs = Date.now();
    const input = {
      timestamp: header(request.headers[TIMESTAMP_HEADER]),
      signature: header(request.headers[SIGNATURE_HEADER]),
      rawBody: request.rawBody ?? Buffer.alloc(0),
      // The target as the client sent it (path and query), which a v2 signature covers.
      request: { method: request.method, target: request.raw.url ?? request.url },
      windowSeconds,
      nowMs,
    };
    let presented: string[];
    try {
      presented = verifySignature({ ...input, secrets: liveSecrets(request.principal, nowMs) });
    } catch (e) {
      if (!isAppError(e)) throw e;
      // The key may have been rotated through another instance since this one cached it: check the
      // database before calling the signature wrong, at most once a second per key (a stream of
      // bad signatures must not become a stream of lookups).
      if (e.code !== HttpErrors.signatureInvalid.code || !refreshes.allow(keyId, nowMs)) throw await failed(request, reply, e, keyId);
      apiKeys.forget(keyId);
      const fresh = await apiKeys.verify(request.headers.authorization?.replace(/^Bearer\s+/i, "").trim() ?? "");
      if ("error" in fresh) throw await failed(request, reply, fresh.error, fresh.knownKeyId);
      request.principal = fresh.principal;
      try {
        presented = verifySignature({ ...input, secrets: liveSecrets(fresh.principal, nowMs) });
      } catch (again) {
        if (!isAppError(again)) throw again;
        throw await failed(request, reply, again, keyId);
      }
    }
    // Every value the header carries is claimed, the match and the others: one already used makes
    // this request a replay (a value left unclaimed could be sent again alone, to another route).
    const claimed = await Promise.all(presented.map((signature) => sharedState.replay.claim(keyId, signature, nowMs)));
    if (claimed.includes(false)) {
      throw await failed(request, reply, HttpErrors.signatureReplayed("this signature was already used; sign the retry again with a new timestamp"), keyId);
    }
  });
}
