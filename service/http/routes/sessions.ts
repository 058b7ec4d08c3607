/**
 * Console sign-in and sign-out (auth/sessions.ts): `POST /v1/sessions` exchanges a finance or admin
 * API key for the `entrepot_session` cookie; `GET /v1/sessions/current` answers the session (with
 * its CSRF token, for a reloaded page); `DELETE /v1/sessions/current` signs out. These routes are
 * public (no `config.auth`): they read the key or the cookie themselves. A key refused at sign-in
 * counts in the failed-authentication lockout exactly as a refused bearer key does.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type, type Static } from "typebox";
import { HttpErrors } from "../errors.js";
import { CSRF_HEADER, csrfMatches, SESSION_COOKIE, sessionCookie, sessionTokenOf, type SessionInfo } from "../auth/sessions.js";
import { DateTime, problems } from "../schemas/common.js";
import { TAGS } from "../plugins/docs.js";

const SessionView = Type.Object(
  {
    keyId: Type.String(),
    name: Type.String(),
    scopes: Type.Array(Type.String()),
    gateway: Type.Union([Type.String(), Type.Null()]),
    csrfToken: Type.String({ description: `Send it as the ${CSRF_HEADER} header on every request other than GET/HEAD/OPTIONS` }),
    idleTimeoutSeconds: Type.Integer({ description: "The session ends after this long without a request (CONSOLE_SESSION_IDLE_SECONDS)" }),
    expiresAt: { ...DateTime, description: "The absolute end of the session (12 h after sign-in)" },
  },
  { $id: "ConsoleSession" },
);

const SignIn = Type.Object({ key: Type.String({ minLength: 1, maxLength: 200, description: "A finance or admin API key, ent_<id>_<secret>" }) }, { additionalProperties: false });

const cookieDoc = `Sets \`${SESSION_COOKIE}\` (HttpOnly; SameSite=Strict; Path=/; Secure over https)`;

function view(s: SessionInfo) {
  const p = s.principal;
  return { keyId: p.keyId, name: p.name, scopes: [...p.scopes], gateway: p.gateway, csrfToken: s.csrfToken, idleTimeoutSeconds: s.idleTimeoutSeconds, expiresAt: s.expiresAt.toISOString() };
}


function secure(request: FastifyRequest): boolean {
  return request.protocol === "https";
}

export async function sessionRoutes(app: FastifyInstance): Promise<void> {
  const { sessions } = app.services;
  app.addSchema(SessionView);

  const clear = (request: FastifyRequest, reply: FastifyReply) => reply.header("set-cookie", sessionCookie(null, secure(request)));

  app.post("/v1/sessions", {
    schema: {
      tags: [TAGS.sessions],
      summary: "Sign in to the console with an API key",
      description: `${cookieDoc}. The key must have finance or admin scope (a gateway-only key is ENT_AUTH_SESSION_SCOPE). An invalid or revoked key answers as on the bearer path (ENT_AUTH_INVALID_KEY, ENT_AUTH_REVOKED_KEY) and counts in the failed-authentication lockout (429 past its limit).`,
      body: SignIn,
      response: { 201: Type.Ref("ConsoleSession"), ...problems(400, 401, 403, 415, 429) },
    },
  }, async (request, reply) => {
    const { key } = request.body as Static<typeof SignIn>;
    const opened = await sessions.open(key);
    if ("error" in opened) {
      if (opened.error.code === HttpErrors.sessionScope.code) throw opened.error;
      if (opened.knownKeyId === null) app.authFailures.assertKeylessAllowed(request, reply);
      throw await app.authFailures.failed(request, reply, opened.error, opened.knownKeyId);
    }
    request.log.info({ keyId: opened.principal.keyId }, "console session opened");
    return reply.status(201).header("cache-control", "no-store").header("set-cookie", sessionCookie(opened.token, secure(request))).send(view(opened));
  });

  app.get("/v1/sessions/current", {
    schema: {
      tags: [TAGS.sessions],
      summary: "The current console session",
      description: "By the session cookie; answers the session's CSRF token again (a reloaded page recovers it). An unknown session is ENT_AUTH_SESSION_INVALID, an ended one ENT_AUTH_SESSION_EXPIRED, a revoked key's ENT_AUTH_REVOKED_KEY.",
      security: [{ consoleSession: [] }],
      response: { 200: Type.Ref("ConsoleSession"), ...problems(401, 429) },
    },
  }, async (request, reply) => {
    const token = sessionTokenOf(request.headers.cookie);
    if (token === undefined) throw HttpErrors.sessionInvalid(`no ${SESSION_COOKIE} cookie: sign in with POST /v1/sessions`);
    const s = await sessions.check(token);
    if (!s.ok) {
      clear(request, reply);
      throw s.error;
    }
    return reply.header("cache-control", "no-store").send(view(s));
  });

  app.delete("/v1/sessions/current", {
    schema: {
      tags: [TAGS.sessions],
      summary: "Sign out of the console",
      description: `Deletes the session (on every instance at once) and clears the cookie (Max-Age=0). Needs the session's ${CSRF_HEADER} header (else ENT_AUTH_CSRF). An unknown or ended session is ENT_AUTH_SESSION_INVALID and its cookie is cleared too.`,
      security: [{ consoleSession: [] }],
      response: { 204: Type.Null({ description: "Signed out" }), ...problems(401, 403, 429) },
    },
  }, async (request, reply) => {
    const token = sessionTokenOf(request.headers.cookie);
    const row = token === undefined ? null : await sessions.find(token);
    if (token === undefined || row === null) {
      clear(request, reply);
      throw HttpErrors.sessionInvalid("no such console session (signed out or ended)");
    }
    const presented = request.headers[CSRF_HEADER];
    if (!csrfMatches(Array.isArray(presented) ? presented.join(",") : presented, row.csrfHash)) {
      throw HttpErrors.csrf(`signing out needs the session's CSRF token in the ${CSRF_HEADER} header`, { fields: [{ field: CSRF_HEADER, message: "missing or not this session's CSRF token" }] });
    }
    await sessions.close(token);
    request.log.info({ keyId: row.keyId }, "console session closed");
    return clear(request, reply).status(204).send();
  });
}
