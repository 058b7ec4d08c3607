import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, REDACTED_PATHS } from "../../service/app.js";
import { sign, signedHeaders } from "../../service/http/auth/signature.js";
import { capture, json, openHarness, problemCode, type Harness } from "./harness.js";

describe("authentication and authorisation", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h.close());

  describe("API keys", () => {
    it("refuses a request without a key: 401 ENT_AUTH_MISSING_KEY", async () => {
      const r = await h.get("/v1/transactions", null);
      expect(r.statusCode).toBe(401);
      expect(problemCode(r)).toBe("ENT_AUTH_MISSING_KEY");
    });

    it("refuses a malformed key, a wrong secret and an unknown id: 401 ENT_AUTH_INVALID_KEY", async () => {
      const wrongSecret = `${h.keys.finance.key.slice(0, -4)}AAAA`;
      const unknownId = h.keys.finance.key.replace(/^ent_[0-9a-f]{12}/, "ent_000000000000");
      for (const bad of ["nonsense", wrongSecret, unknownId]) {
        const r = await h.app.inject({ url: "/v1/transactions", headers: { authorization: `Bearer ${bad}` } });
        expect(r.statusCode).toBe(401);
        expect(problemCode(r)).toBe("ENT_AUTH_INVALID_KEY");
      }
      const basic = await h.app.inject({ url: "/v1/transactions", headers: { authorization: "Basic dXNlcjpwdw==" } });
      expect(problemCode(basic)).toBe("ENT_AUTH_INVALID_KEY");
    });

    it("refuses a key without the route's scope: 403 ENT_AUTH_INSUFFICIENT_SCOPE", async () => {
      const r = await h.get("/v1/transactions", h.keys.gateway);
      expect(r.statusCode).toBe(403);
      expect(problemCode(r)).toBe("ENT_AUTH_INSUFFICIENT_SCOPE");
      const publish = await h.post("/v1/fx/rates", { rates: [] }, h.keys.finance);
      expect(problemCode(publish)).toBe("ENT_AUTH_INSUFFICIENT_SCOPE");
      const admin = await h.get("/v1/admin/api-keys", h.keys.finance);
      expect(problemCode(admin)).toBe("ENT_AUTH_INSUFFICIENT_SCOPE");
    });

    it("lets admin do what the other scopes can", async () => {
      expect((await h.get("/v1/transactions", h.keys.admin)).statusCode).toBe(200);
    });

    it("creates a key (shown once), lists keys without secrets, revokes: then 401 ENT_AUTH_REVOKED_KEY", async () => {
      const created = await h.post("/v1/admin/api-keys", { name: "ops reader", scopes: ["finance:read"] }, h.keys.admin);
      expect(created.statusCode).toBe(201);
      expect(created.headers["cache-control"]).toBe("no-store");
      const k = json<{ id: string; key: string; signingSecret: string }>(created);
      expect(k.key).toMatch(/^ent_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      const auth = { authorization: `Bearer ${k.key}` };
      expect((await h.app.inject({ url: "/v1/transactions", headers: auth })).statusCode).toBe(200);

      const list = await h.get("/v1/admin/api-keys", h.keys.admin);
      expect(list.body).not.toContain(k.key);
      expect(list.body).not.toContain(k.signingSecret);
      expect(list.body).not.toContain(h.keys.admin.key);
      expect(json<{ items: Array<{ id: string }> }>(list).items.map((i) => i.id)).toContain(k.id);

      // Only the hash is stored.
      const stored = await h.db.prisma.apiKey.findUniqueOrThrow({ where: { id: k.id } });
      expect(stored.keyHash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(stored)).not.toContain(k.key.slice(17));

      const revoked = await h.post(`/v1/admin/api-keys/${k.id}/revoke`, {}, h.keys.admin);
      expect(revoked.statusCode).toBe(200);
      expect(json<{ revokedAt: string | null }>(revoked).revokedAt).not.toBeNull();
      const after = await h.app.inject({ url: "/v1/transactions", headers: auth });
      expect(after.statusCode).toBe(401);
      expect(problemCode(after)).toBe("ENT_AUTH_REVOKED_KEY");
    });

    it("answers 404 ENT_AUTH_KEY_NOT_FOUND when revoking an unknown key", async () => {
      const r = await h.post("/v1/admin/api-keys/0123456789ab/revoke", {}, h.keys.admin);
      expect(r.statusCode).toBe(404);
      expect(problemCode(r)).toBe("ENT_AUTH_KEY_NOT_FOUND");
    });
  });

  describe("request signatures (gateway writes)", () => {
    const url = "/v1/settlements/events";
    const body = JSON.stringify(capture({ gatewayEventId: "sig-1" }));
    const send = (headers: Record<string, string>, payload = body) =>
      h.app.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", authorization: `Bearer ${h.keys.gateway.key}`, ...headers } });

    it("refuses an unsigned request: 401 ENT_AUTH_SIGNATURE_MISSING", async () => {
      const r = await send({});
      expect(r.statusCode).toBe(401);
      expect(problemCode(r)).toBe("ENT_AUTH_SIGNATURE_MISSING");
    });

    it("refuses a wrong signature, a tampered body and a malformed header: 401 ENT_AUTH_SIGNATURE_INVALID", async () => {
      const ts = Math.floor(Date.now() / 1000);
      const wrongKey = await send({ "entrepot-timestamp": String(ts), "entrepot-signature": `v1=${sign(h.keys.admin.signingSecret, ts, body)}` });
      expect(problemCode(wrongKey)).toBe("ENT_AUTH_SIGNATURE_INVALID");
      const tampered = await send(signedHeaders(h.keys.gateway.signingSecret, body), body.replace("14990", "1499"));
      expect(problemCode(tampered)).toBe("ENT_AUTH_SIGNATURE_INVALID");
      const malformed = await send({ "entrepot-timestamp": String(ts), "entrepot-signature": "sha256=abc" });
      expect(problemCode(malformed)).toBe("ENT_AUTH_SIGNATURE_INVALID");
    });

    it("refuses a timestamp outside the replay window: 401 ENT_AUTH_SIGNATURE_EXPIRED", async () => {
      const old = new Date(Date.now() - (h.config.auth.replayWindowSeconds + 5) * 1000);
      const r = await send(signedHeaders(h.keys.gateway.signingSecret, body, old));
      expect(r.statusCode).toBe(401);
      expect(problemCode(r)).toBe("ENT_AUTH_SIGNATURE_EXPIRED");
      const future = new Date(Date.now() + (h.config.auth.replayWindowSeconds + 5) * 1000);
      expect(problemCode(await send(signedHeaders(h.keys.gateway.signingSecret, body, future)))).toBe("ENT_AUTH_SIGNATURE_EXPIRED");
    });

    it("accepts a signature once and refuses it replayed: 401 ENT_AUTH_SIGNATURE_REPLAYED", async () => {
      const headers = signedHeaders(h.keys.gateway.signingSecret, body);
      const first = await send(headers);
      // Reaching the settlement module proves the signature was accepted (no program data problem here).
      expect(first.statusCode, first.body).not.toBe(401);
      const again = await send(headers);
      expect(again.statusCode).toBe(401);
      expect(problemCode(again)).toBe("ENT_AUTH_SIGNATURE_REPLAYED");
    });

    it("checks the signature before the body's schema (unsigned garbage learns nothing)", async () => {
      const r = await send({}, JSON.stringify({ nonsense: true }));
      expect(problemCode(r)).toBe("ENT_AUTH_SIGNATURE_MISSING");
    });
  });
});

describe("rate limits and log redaction", () => {
  it("limits per key: 429 ENT_HTTP_RATE_LIMITED, and another key keeps its own budget", async () => {
    const h = await openHarness({ env: { RATE_LIMIT_MAX: "3" }, programData: false });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await h.get("/v1/journal/verify", h.keys.finance)).statusCode);
      expect(codes).toEqual([200, 200, 200, 429]);
      const limited = await h.get("/v1/journal/verify", h.keys.finance);
      expect(problemCode(limited)).toBe("ENT_HTTP_RATE_LIMITED");
      expect(limited.headers["retry-after"]).toBeDefined();
      expect((await h.get("/v1/journal/verify", h.keys.admin)).statusCode).toBe(200);
      // Probes are never throttled.
      for (let i = 0; i < 5; i++) expect((await h.app.inject({ url: "/healthz" })).statusCode).toBe(200);
    } finally {
      await h.close();
    }
  });

  it("refuses an address after AUTH_FAILURE_LIMIT failed authentications: 429 ENT_HTTP_RATE_LIMITED before any key lookup", async () => {
    const h = await openHarness({ env: { AUTH_FAILURE_LIMIT: "3" }, programData: false });
    try {
      const bad = { authorization: `Bearer ${h.keys.finance.key.slice(0, -4)}AAAA` };
      for (let i = 0; i < 3; i++) expect(problemCode(await h.app.inject({ url: "/v1/transactions", headers: bad }))).toBe("ENT_AUTH_INVALID_KEY");
      const blocked = await h.get("/v1/transactions", h.keys.finance);
      expect(blocked.statusCode).toBe(429);
      expect(problemCode(blocked)).toBe("ENT_HTTP_RATE_LIMITED");
      expect((await h.app.inject({ url: "/healthz" })).statusCode).toBe(200);
      // Another address is unaffected.
      const other = await h.app.inject({ url: "/v1/transactions", headers: { authorization: `Bearer ${h.keys.finance.key}` }, remoteAddress: "10.1.2.3" });
      expect(other.statusCode).toBe(200);
    } finally {
      await h.close();
    }
  });

  it("never writes the bearer key or the signature to the log", async () => {
    const h = await openHarness({ programData: false });
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const app = await buildApp({ services: h.services, config: h.config, logger: { level: "trace", stream, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } } });
    try {
      const payload = JSON.stringify(capture({ gatewayEventId: "log-1" }));
      const sig = signedHeaders(h.keys.gateway.signingSecret, payload);
      await app.inject({ method: "POST", url: "/v1/settlements/events", payload, headers: { "content-type": "application/json", authorization: `Bearer ${h.keys.gateway.key}`, ...sig } });
      await app.inject({ url: "/v1/transactions", headers: { authorization: `Bearer ${h.keys.finance.key}` } });
      const all = lines.join("");
      expect(all.length).toBeGreaterThan(0);
      expect(all).not.toContain(h.keys.gateway.key.slice(4));
      expect(all).not.toContain(h.keys.finance.key.slice(4));
      expect(all).not.toContain(sig["entrepot-signature"]?.slice(3));
      expect(all).not.toContain(h.keys.gateway.signingSecret);
    } finally {
      await app.close();
      await h.close();
    }
  });
});
