/**
 * Console sessions over HTTP (service/http/auth/sessions.ts), on both engines: sign-in by key,
 * reads by cookie, CSRF on writes, sign-out, idle and absolute expiry on an injected clock, a
 * revoked key, a gateway key refused, sign-in failures in the lockout, signed routes closed to
 * sessions, and one session valid on a second app instance over the same database.
 */
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../service/app.js";
import { openDatabase, type Database } from "../../service/db/index.js";
import { ConsoleSessions, PrismaSessionRepository, sha256Hex } from "../../service/http/auth/sessions.js";
import { createServices } from "../../service/services.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, json, openHarness, problemCode, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

interface SessionBody {
  keyId: string;
  name: string;
  scopes: string[];
  gateway: string | null;
  csrfToken: string;
  idleTimeoutSeconds: number;
  expiresAt: string;
}

interface SignedIn {
  cookie: string;
  token: string;
  body: SessionBody;
  setCookie: string;
}

async function signIn(app: FastifyInstance, key: string): Promise<SignedIn> {
  const r = await app.inject({ method: "POST", url: "/v1/sessions", payload: { key } });
  if (r.statusCode !== 201) throw new Error(`sign-in failed: ${r.statusCode} ${r.body}`);
  const setCookie = String(r.headers["set-cookie"]);
  const token = /^entrepot_session=([A-Za-z0-9_-]+);/.exec(setCookie)?.[1];
  if (token === undefined) throw new Error(`no session cookie: ${setCookie}`);
  return { cookie: `entrepot_session=${token}`, token, body: json<SessionBody>(r), setCookie };
}

function byCookie(app: FastifyInstance, s: SignedIn, method: "GET" | "POST" | "DELETE", url: string, opts: { payload?: unknown; csrf?: string } = {}): Promise<LightMyRequestResponse> {
  return app.inject({
    method,
    url,
    headers: { cookie: `theme=dark; ${s.cookie}`, ...(opts.csrf === undefined ? {} : { "x-csrf-token": opts.csrf }) },
    ...(opts.payload === undefined ? {} : { payload: opts.payload as object }),
  });
}

describe.each(kinds)("console sessions on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ kind, programData: false });
  });
  afterAll(async () => h.close());

  it("signs in with a finance key: 201, the session view and an HttpOnly SameSite=Strict cookie; never the token in the database", async () => {
    const s = await signIn(h.app, h.keys.finance.key);
    expect(s.setCookie).toMatch(/^entrepot_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/$/);
    expect(s.body).toEqual({
      keyId: h.keys.finance.id,
      name: "test finance",
      scopes: ["finance:read"],
      gateway: null,
      csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as unknown,
      idleTimeoutSeconds: 1800,
      expiresAt: expect.any(String) as unknown,
    });
    expect(new Date(s.body.expiresAt).getTime() - Date.now()).toBeGreaterThan(11.9 * 3_600_000);
    const row = await h.db.prisma.consoleSession.findUniqueOrThrow({ where: { id: sha256Hex(s.token) } });
    expect(row.keyId).toBe(h.keys.finance.id);
    expect(JSON.stringify(row)).not.toContain(s.token);
    expect(JSON.stringify(row)).not.toContain(s.body.csrfToken);
  });

  it("reads a finance route by cookie, and GET /v1/sessions/current answers the same CSRF token", async () => {
    const s = await signIn(h.app, h.keys.finance.key);
    const r = await byCookie(h.app, s, "GET", "/v1/transactions");
    expect(r.statusCode, r.body).toBe(200);
    const current = await byCookie(h.app, s, "GET", "/v1/sessions/current");
    expect(current.statusCode).toBe(200);
    expect(json<SessionBody>(current)).toEqual(s.body);
    // The scope check still applies: a finance session is not an admin.
    expect(problemCode(await byCookie(h.app, s, "GET", "/v1/admin/api-keys"))).toBe("ENT_AUTH_INSUFFICIENT_SCOPE");
  });

  it("needs the session's x-csrf-token on a write: 403 ENT_AUTH_CSRF without it or with another, success with it", async () => {
    const s = await signIn(h.app, h.keys.admin.key);
    const other = await signIn(h.app, h.keys.admin.key);
    const payload = { name: "made by console", scopes: ["finance:read"] };
    const without = await byCookie(h.app, s, "POST", "/v1/admin/api-keys", { payload });
    expect([without.statusCode, problemCode(without)]).toEqual([403, "ENT_AUTH_CSRF"]);
    const wrong = await byCookie(h.app, s, "POST", "/v1/admin/api-keys", { payload, csrf: other.body.csrfToken });
    expect([wrong.statusCode, problemCode(wrong)]).toEqual([403, "ENT_AUTH_CSRF"]);
    const ok = await byCookie(h.app, s, "POST", "/v1/admin/api-keys", { payload, csrf: s.body.csrfToken });
    expect(ok.statusCode, ok.body).toBe(201);
  });

  it("signs out: 204 clears the cookie and deletes the session; the cookie is then ENT_AUTH_SESSION_INVALID", async () => {
    const s = await signIn(h.app, h.keys.finance.key);
    const noCsrf = await byCookie(h.app, s, "DELETE", "/v1/sessions/current");
    expect([noCsrf.statusCode, problemCode(noCsrf)]).toEqual([403, "ENT_AUTH_CSRF"]);
    const out = await byCookie(h.app, s, "DELETE", "/v1/sessions/current", { csrf: s.body.csrfToken });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers["set-cookie"])).toMatch(/^entrepot_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0$/);
    expect(await h.db.prisma.consoleSession.count({ where: { id: sha256Hex(s.token) } })).toBe(0);
    const after = await byCookie(h.app, s, "GET", "/v1/transactions");
    expect([after.statusCode, problemCode(after)]).toEqual([401, "ENT_AUTH_SESSION_INVALID"]);
    expect(problemCode(await byCookie(h.app, s, "GET", "/v1/sessions/current"))).toBe("ENT_AUTH_SESSION_INVALID");
  });

  it("refuses a gateway-only key at sign-in: 403 ENT_AUTH_SESSION_SCOPE, no cookie", async () => {
    const r = await h.app.inject({ method: "POST", url: "/v1/sessions", payload: { key: h.keys.gateway.key } });
    expect([r.statusCode, problemCode(r)]).toEqual([403, "ENT_AUTH_SESSION_SCOPE"]);
    expect(r.headers["set-cookie"]).toBeUndefined();
  });

  it("answers a bad or revoked key at sign-in with the bearer path's codes", async () => {
    const wrongSecret = `${h.keys.finance.key.slice(0, -4)}AAAA`;
    const bad = await h.app.inject({ method: "POST", url: "/v1/sessions", payload: { key: wrongSecret } });
    expect([bad.statusCode, problemCode(bad)]).toEqual([401, "ENT_AUTH_INVALID_KEY"]);
    const k = await h.services.apiKeys.create({ name: "gone", scopes: ["finance:read"] });
    await h.services.apiKeys.revoke(k.id);
    const revoked = await h.app.inject({ method: "POST", url: "/v1/sessions", payload: { key: k.key } });
    expect([revoked.statusCode, problemCode(revoked)]).toEqual([401, "ENT_AUTH_REVOKED_KEY"]);
    const missing = await h.app.inject({ method: "POST", url: "/v1/sessions", payload: {} });
    expect(missing.statusCode).toBe(400);
  });

  it("ends the sessions of a key revoked after sign-in at once", async () => {
    const k = await h.services.apiKeys.create({ name: "soon revoked", scopes: ["finance:read"] });
    const viaRoute = await signIn(h.app, k.key);
    const viaService = await signIn(h.app, k.key);
    expect((await byCookie(h.app, viaRoute, "GET", "/v1/transactions")).statusCode).toBe(200);
    // Revoked in the key table without the route: the session follows the key's current state.
    await h.services.apiKeys.revoke(k.id);
    const r = await byCookie(h.app, viaService, "GET", "/v1/transactions");
    expect([r.statusCode, problemCode(r)]).toEqual([401, "ENT_AUTH_REVOKED_KEY"]);
    // The revoke route deletes the key's sessions too.
    const k2 = await h.services.apiKeys.create({ name: "revoked by route", scopes: ["finance:read"] });
    const s2 = await signIn(h.app, k2.key);
    expect((await h.post(`/v1/admin/api-keys/${k2.id}/revoke`, {}, h.keys.admin)).statusCode).toBe(200);
    expect(await h.db.prisma.consoleSession.count({ where: { keyId: k2.id } })).toBe(0);
    expect((await byCookie(h.app, s2, "GET", "/v1/transactions")).statusCode).toBe(401);
  });

  it("is refused on signed gateway routes: 401 ENT_AUTH_SESSION_NOT_ACCEPTED, even with the CSRF token", async () => {
    const s = await signIn(h.app, h.keys.admin.key);
    const r = await byCookie(h.app, s, "POST", "/v1/settlements/events", { payload: capture({ gatewayEventId: "by-session" }), csrf: s.body.csrfToken });
    expect([r.statusCode, problemCode(r)]).toEqual([401, "ENT_AUTH_SESSION_NOT_ACCEPTED"]);
    // An Authorization header wins over the cookie: the bearer path runs as before.
    const bearer = await h.app.inject({ url: "/v1/transactions", headers: { cookie: s.cookie, authorization: "Bearer nonsense" } });
    expect(problemCode(bearer)).toBe("ENT_AUTH_INVALID_KEY");
  });

  it("refuses an unknown or malformed session cookie: 401 ENT_AUTH_SESSION_INVALID", async () => {
    for (const cookie of ["entrepot_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "entrepot_session=short", 'entrepot_session="x y"']) {
      const r = await h.app.inject({ url: "/v1/transactions", headers: { cookie } });
      expect([r.statusCode, problemCode(r)]).toEqual([401, "ENT_AUTH_SESSION_INVALID"]);
    }
    // Without either credential, the bearer path's answer.
    expect(problemCode(await h.app.inject({ url: "/v1/transactions", headers: { cookie: "theme=dark" } }))).toBe("ENT_AUTH_MISSING_KEY");
  });

  describe("on an injected clock", () => {
    let clock: Date;
    let app: FastifyInstance;
    beforeAll(async () => {
      clock = new Date("2026-12-04T10:00:00Z");
      const sessions = new ConsoleSessions(new PrismaSessionRepository(h.db.prisma), h.services.apiKeys, { idleTimeoutSeconds: 120, now: () => clock });
      app = await buildApp({ services: { ...h.services, sessions }, config: h.config, logger: false });
    });
    afterAll(async () => app.close());
    const at = (seconds: number) => (clock = new Date(Date.parse("2026-12-04T10:00:00Z") + seconds * 1000));

    it("slides the idle window on use (written at most once a minute) and ends the session when idle: 401 ENT_AUTH_SESSION_EXPIRED, row deleted", async () => {
      at(0);
      const s = await signIn(app, h.keys.finance.key);
      expect(s.body.idleTimeoutSeconds).toBe(120);
      const id = sha256Hex(s.token);
      at(30);
      expect((await byCookie(app, s, "GET", "/v1/transactions")).statusCode).toBe(200);
      // Under a minute since sign-in: not written.
      expect((await h.db.prisma.consoleSession.findUniqueOrThrow({ where: { id } })).lastSeenAt.toISOString()).toBe("2026-12-04T10:00:00.000Z");
      at(100);
      expect((await byCookie(app, s, "GET", "/v1/transactions")).statusCode).toBe(200);
      expect((await h.db.prisma.consoleSession.findUniqueOrThrow({ where: { id } })).lastSeenAt.toISOString()).toBe("2026-12-04T10:01:40.000Z");
      at(219);
      expect((await byCookie(app, s, "GET", "/v1/transactions")).statusCode).toBe(200);
      at(219 + 120);
      const r = await byCookie(app, s, "GET", "/v1/transactions");
      expect([r.statusCode, problemCode(r)]).toEqual([401, "ENT_AUTH_SESSION_EXPIRED"]);
      expect(await h.db.prisma.consoleSession.count({ where: { id } })).toBe(0);
      expect(problemCode(await byCookie(app, s, "GET", "/v1/transactions"))).toBe("ENT_AUTH_SESSION_INVALID");
    });

    it("ends an active session 12 h after sign-in", async () => {
      at(0);
      const s = await signIn(app, h.keys.finance.key);
      for (let t = 100; t < 12 * 3600; t += 100) {
        at(t);
        const r = await byCookie(app, s, "GET", "/v1/sessions/current");
        if (r.statusCode !== 200) throw new Error(`at +${t} s: ${r.statusCode} ${r.body}`);
      }
      at(12 * 3600);
      const r = await byCookie(app, s, "GET", "/v1/transactions");
      expect([r.statusCode, problemCode(r)]).toEqual([401, "ENT_AUTH_SESSION_EXPIRED"]);
    }, 120_000);
  });

  describe("a second app instance on the same database", () => {
    let second: Database | null = null;
    let b: FastifyInstance;
    beforeAll(async () => {
      // PostgreSQL: its own pool and services; PGlite is one in-process database, so its own services only.
      second = kind === "postgres" ? await openDatabase({ url: h.db.url! }) : null;
      b = await buildApp({ services: createServices(second ?? h.db, h.config), config: h.config, logger: false });
    });
    afterAll(async () => {
      await b.close();
      await second?.close();
    });

    it("accepts a session opened on the first, with its CSRF token, and a sign-out on it ends the session on the first", async () => {
      const s = await signIn(h.app, h.keys.admin.key);
      expect((await byCookie(b, s, "GET", "/v1/transactions")).statusCode).toBe(200);
      expect(json<SessionBody>(await byCookie(b, s, "GET", "/v1/sessions/current")).csrfToken).toBe(s.body.csrfToken);
      const created = await byCookie(b, s, "POST", "/v1/admin/api-keys", { payload: { name: "via b", scopes: ["finance:read"] }, csrf: s.body.csrfToken });
      expect(created.statusCode, created.body).toBe(201);
      expect((await byCookie(b, s, "DELETE", "/v1/sessions/current", { csrf: s.body.csrfToken })).statusCode).toBe(204);
      expect(problemCode(await byCookie(h.app, s, "GET", "/v1/transactions"))).toBe("ENT_AUTH_SESSION_INVALID");
    });
  });
});

describe.each(kinds)("console sign-in and the failed-authentication lockout on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ kind, programData: false, env: { AUTH_FAILURE_LIMIT: "3", AUTH_FAILURE_KEY_LIMIT: "50", AUTH_FAILURE_ADDRESS_LIMIT: "3", RATE_LIMIT_WINDOW_MS: "86400000" } });
  });
  afterAll(async () => h.close());

  it("counts a bad key at sign-in as a bad bearer key: past the limit 429 with Retry-After, on either path", async () => {
    const wrong = `${h.keys.finance.key.slice(0, -4)}AAAA`;
    const codes: string[] = [];
    for (let i = 0; i < 2; i++) codes.push(problemCode(await h.app.inject({ method: "POST", url: "/v1/sessions", payload: { key: wrong } })));
    codes.push(problemCode(await h.app.inject({ url: "/v1/transactions", headers: { authorization: `Bearer ${wrong}` } })));
    expect(codes).toEqual(["ENT_AUTH_INVALID_KEY", "ENT_AUTH_INVALID_KEY", "ENT_AUTH_INVALID_KEY"]);
    const locked = await h.app.inject({ method: "POST", url: "/v1/sessions", payload: { key: wrong } });
    expect([locked.statusCode, problemCode(locked)]).toEqual([429, "ENT_HTTP_RATE_LIMITED"]);
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(0);
    // Valid credentials are never refused by the lockout.
    await signIn(h.app, h.keys.finance.key);
  });

  it("counts malformed keys at sign-in against the address", async () => {
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await h.app.inject({ method: "POST", url: "/v1/sessions", payload: { key: "nonsense" } })).statusCode);
    expect(codes).toEqual([401, 401, 401, 429, 429]);
  });
});
