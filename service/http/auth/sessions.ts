/**
 * Console sessions: a finance or admin API key exchanged once for a cookie, so the web console
 * never keeps the key in the page.
 *
 *  - The session token is 256 random bits (base64url) carried only in the `entrepot_session`
 *    cookie (HttpOnly, SameSite=Strict). The database keeps sha256(token) as the session id, so a
 *    copy of the table opens nothing; the token is never logged.
 *  - The CSRF token is HMAC-SHA256 keyed by the session token over a fixed label. The page cannot
 *    read the cookie, so it gets the CSRF token in the sign-in answer and again from
 *    `GET /v1/sessions/current` after a reload (the cookie re-derives it; nothing secret is needed
 *    on the server, so every instance derives the same token whatever its SECRETS_KEY). Knowing it
 *    reveals nothing of the session token. sha256(csrf) is stored too, and a state-changing request
 *    must present it in `x-csrf-token`, compared in constant time.
 *  - A session ends after CONSOLE_SESSION_IDLE_SECONDS without a request, or 12 h after sign-in
 *    whatever its activity; an ended session's row is deleted when it is next presented (and stale
 *    rows at every sign-in). `last_seen_at` is written at most once a minute per session: the idle
 *    window is exact to that minute, and reads do not each cost a write.
 *  - Every request reads its session row (a sign-out on one instance ends it on all at once) and
 *    the key's CURRENT principal through the key cache: scopes follow the key, and a revoked key
 *    ends its sessions (at once through this instance, within the key cache's few seconds through
 *    another; the revoke route also deletes the key's sessions).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { AppError } from "../../errors.js";
import { HttpErrors } from "../errors.js";
import { hasScope, type ApiKeyService, type Principal } from "./keys.js";
import type { SessionRepository, StoredSession } from "./session-store.js";

export { PrismaSessionRepository, type SessionRepository, type StoredSession } from "./session-store.js";

export const SESSION_COOKIE = "entrepot_session";
export const CSRF_HEADER = "x-csrf-token";
/** Absolute lifetime of a session, whatever its activity. */
export const SESSION_LIFETIME_MS = 12 * 3_600_000;
/** `last_seen_at` is written at most this often per session. */
export const TOUCH_INTERVAL_MS = 60_000;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The CSRF token of a session token (see the header: derivable from the cookie only). */
export function csrfTokenOf(sessionToken: string): string {
  return createHmac("sha256", sessionToken).update("entrepot console csrf v1").digest("base64url");
}

/** Whether a presented CSRF header matches the stored hash (constant time; absent never matches). */
export function csrfMatches(presented: string | undefined, storedHash: string): boolean {
  if (presented === undefined || presented.length > 200) return false;
  return timingSafeEqual(Buffer.from(sha256Hex(presented), "hex"), Buffer.from(storedHash, "hex"));
}

/** The keys that may open a session: the console is for finance and admin keys, not gateways. */
export function mayOpenSession(p: Principal): boolean {
  return hasScope(p.scopes, "finance:read");
}

/** What sign-in and `GET /v1/sessions/current` answer. */
export interface SessionInfo {
  principal: Principal;
  csrfToken: string;
  idleTimeoutSeconds: number;
  expiresAt: Date;
}

export interface OpenedSession extends SessionInfo {
  /** The cookie value: the only moment it exists outside the client. */
  token: string;
}

export type SessionCheck = ({ ok: true } & SessionInfo & { session: StoredSession }) | { ok: false; error: AppError; knownKeyId: string | null };

export interface ConsoleSessionsOptions {
  idleTimeoutSeconds: number;
  now?: () => Date;
}

export class ConsoleSessions {
  readonly idleTimeoutSeconds: number;
  private readonly now: () => Date;

  constructor(
    private readonly repo: SessionRepository,
    private readonly apiKeys: ApiKeyService,
    options: ConsoleSessionsOptions,
  ) {
    this.idleTimeoutSeconds = options.idleTimeoutSeconds;
    this.now = options.now ?? (() => new Date());
  }

  /** Signs in with a bearer key; the failure is the bearer path's own (the caller counts it in the lockout). */
  async open(key: string): Promise<OpenedSession | { error: AppError; knownKeyId: string | null }> {
    const v = await this.apiKeys.verify(key);
    if ("error" in v) return v;
    if (!mayOpenSession(v.principal)) {
      return { error: HttpErrors.sessionScope(`API key ${v.principal.keyId} has ${v.principal.scopes.join(", ")}: the console takes a finance or admin key`), knownKeyId: null };
    }
    const now = this.now();
    await this.repo.deleteStale(now, new Date(now.getTime() - this.idleTimeoutSeconds * 1000));
    const token = randomBytes(32).toString("base64url");
    const csrfToken = csrfTokenOf(token);
    const expiresAt = new Date(now.getTime() + SESSION_LIFETIME_MS);
    await this.repo.insert({ id: sha256Hex(token), keyId: v.principal.keyId, csrfHash: sha256Hex(csrfToken), createdAt: now, lastSeenAt: now, expiresAt });
    return { token, csrfToken, principal: v.principal, idleTimeoutSeconds: this.idleTimeoutSeconds, expiresAt };
  }

  /** The session a cookie names, checked (idle, lifetime, key), its idle window slid. */
  async check(token: string): Promise<SessionCheck> {
    if (!TOKEN_PATTERN.test(token)) return { ok: false, error: HttpErrors.sessionInvalid("the console session cookie is malformed; sign in again"), knownKeyId: null };
    const id = sha256Hex(token);
    const row = await this.repo.find(id);
    if (row === null) return { ok: false, error: HttpErrors.sessionInvalid("no such console session (signed out or ended); sign in again"), knownKeyId: null };
    const now = this.now();
    const idleEnd = row.lastSeenAt.getTime() + this.idleTimeoutSeconds * 1000;
    if (now.getTime() >= row.expiresAt.getTime() || now.getTime() >= idleEnd) {
      await this.repo.delete(id);
      const why = now.getTime() >= row.expiresAt.getTime() ? `it ended at ${row.expiresAt.toISOString()} (12 h after sign-in)` : `it was idle more than ${this.idleTimeoutSeconds} s`;
      return { ok: false, error: HttpErrors.sessionExpired(`the console session expired: ${why}; sign in again`), knownKeyId: row.keyId };
    }
    const v = await this.apiKeys.principalById(row.keyId);
    if ("error" in v) {
      await this.repo.delete(id);
      return { ok: false, ...v };
    }
    if (now.getTime() - row.lastSeenAt.getTime() >= TOUCH_INTERVAL_MS) await this.repo.touch(id, now);
    return { ok: true, session: row, principal: v.principal, csrfToken: csrfTokenOf(token), idleTimeoutSeconds: this.idleTimeoutSeconds, expiresAt: row.expiresAt };
  }

  /** The row a cookie names, unchecked (sign-out needs only its CSRF hash). */
  async find(token: string): Promise<StoredSession | null> {
    return TOKEN_PATTERN.test(token) ? this.repo.find(sha256Hex(token)) : null;
  }

  async close(token: string): Promise<void> {
    if (TOKEN_PATTERN.test(token)) await this.repo.delete(sha256Hex(token));
  }

  /** Ends every session of a key (its revocation). */
  async endForKey(keyId: string): Promise<number> {
    return this.repo.deleteForKey(keyId);
  }
}

/**
 * The cookies of a `Cookie` header (RFC 6265 section 5.4 form: `name=value` pairs separated by
 * `;`). The first occurrence of a name wins, as browsers send the most specific path first;
 * values in double quotes lose them; a pair without `=` is ignored. No percent-decoding: our own
 * cookie is base64url.
 */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === "" || out.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    out.set(name, value);
  }
  return out;
}

/** The session token a request's Cookie header carries, if any. */
export function sessionTokenOf(cookie: string | string[] | undefined): string | undefined {
  return parseCookies(Array.isArray(cookie) ? cookie.join("; ") : cookie).get(SESSION_COOKIE);
}

/** The Set-Cookie value that sets (token) or clears (null) the session cookie. */
export function sessionCookie(token: string | null, secure: boolean): string {
  const attrs = [`${SESSION_COOKIE}=${token ?? ""}`, "HttpOnly", "SameSite=Strict", "Path=/"];
  if (token === null) attrs.push("Max-Age=0");
  if (secure) attrs.push("Secure");
  return attrs.join("; ");
}
