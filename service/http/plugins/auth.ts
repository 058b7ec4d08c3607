/**
 * Authentication and authorisation for every route that declares `config.auth`:
 *  - onRequest: `Authorization: Bearer <key>` -> the key's principal, then the scope check (a
 *    wrong key never learns whether the route exists beyond its 401/403);
 *  - preValidation (after the body is read, before it is validated): the HMAC signature of
 *    signed routes, over the raw bytes. Unsigned garbage is a 401, not a 400 that describes it.
 * Routes without `config.auth` are public (health, metrics, docs).
 *
 * Failed authentications are counted per client address: the per-key rate limit cannot apply to
 * a caller without a valid key, and each unknown key costs a database lookup. Above
 * AUTH_FAILURE_LIMIT per window the address is refused (429) before any lookup.
 */
import type { FastifyInstance } from "fastify";
import { isAppError } from "../../errors.js";
import { HttpErrors } from "../errors.js";
import { hasScope } from "../auth/keys.js";
import { ReplayCache, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifySignature } from "../auth/signature.js";

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(",") : v;
}

/** Fixed-window failure counter per client address, bounded in size. */
class FailureCounter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxAddresses = 100_000,
  ) {}

  blocked(address: string, nowMs: number): number | null {
    const w = this.windows.get(address);
    if (w === undefined || w.resetAt <= nowMs) return null;
    return w.count >= this.limit ? w.resetAt - nowMs : null;
  }

  fail(address: string, nowMs: number): void {
    const w = this.windows.get(address);
    if (w !== undefined && w.resetAt > nowMs) {
      w.count++;
      return;
    }
    if (this.windows.size >= this.maxAddresses) {
      for (const [k, v] of this.windows) if (v.resetAt <= nowMs) this.windows.delete(k);
      if (this.windows.size >= this.maxAddresses) this.windows.delete(this.windows.keys().next().value as string);
    }
    this.windows.set(address, { count: 1, resetAt: nowMs + this.windowMs });
  }
}

export async function authPlugin(app: FastifyInstance): Promise<void> {
  const windowSeconds = app.appConfig.auth.replayWindowSeconds;
  const replay = new ReplayCache(windowSeconds * 1000);
  const failures = new FailureCounter(app.appConfig.http.authFailureLimit, app.appConfig.http.rateLimitWindowMs);
  const AUTH_FAILURES = new Set(["ENT_AUTH_MISSING_KEY", "ENT_AUTH_INVALID_KEY", "ENT_AUTH_REVOKED_KEY", "ENT_AUTH_SIGNATURE_MISSING", "ENT_AUTH_SIGNATURE_INVALID", "ENT_AUTH_SIGNATURE_EXPIRED", "ENT_AUTH_SIGNATURE_REPLAYED"]);
  app.addHook("onError", async (request, _reply, error) => {
    if (isAppError(error) && AUTH_FAILURES.has(error.code)) failures.fail(request.ip, Date.now());
  });
  app.decorateRequest("principal", null);
  app.decorateRequest("rawBody", undefined);

  app.addHook("onRequest", async (request) => {
    const auth = request.routeOptions.config.auth;
    if (auth === undefined) return;
    const wait = failures.blocked(request.ip, Date.now());
    if (wait !== null) {
      throw HttpErrors.rateLimited(`too many failed authentications from this address; retry in ${Math.ceil(wait / 1000)} s`, { details: { retryAfterSeconds: Math.ceil(wait / 1000) } });
    }
    const h = request.headers.authorization;
    if (h === undefined || h.trim() === "") throw HttpErrors.missingKey("send the API key as Authorization: Bearer <key>");
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m === null) throw HttpErrors.invalidKey("the Authorization header must be Bearer <key>");
    const principal = await app.services.apiKeys.authenticate(m[1] as string);
    if (!auth.scopes.some((s) => hasScope(principal.scopes, s))) {
      throw HttpErrors.insufficientScope(`this route needs one of the scopes ${auth.scopes.join(", ")}; key ${principal.keyId} has ${principal.scopes.join(", ") || "none"}`, {
        details: { required: auth.scopes, granted: [...principal.scopes] },
      });
    }
    request.principal = principal;
  });

  app.addHook("preValidation", async (request) => {
    const auth = request.routeOptions.config.auth;
    if (auth?.signed !== true || request.principal === null) return;
    verifySignature({
      keyId: request.principal.keyId,
      secret: request.principal.signingSecret,
      timestamp: header(request.headers[TIMESTAMP_HEADER]),
      signature: header(request.headers[SIGNATURE_HEADER]),
      rawBody: request.rawBody ?? Buffer.alloc(0),
      windowSeconds,
      nowMs: Date.now(),
      replay,
    });
  });
}
