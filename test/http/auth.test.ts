import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, REDACTED_PATHS } from "../../service/app.js";
import { sign, signedHeaders } from "../../service/http/auth/signature.js";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

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

    it("binds a v2 signature to the method and target: another route, endpoint id or query is 401 ENT_AUTH_SIGNATURE_INVALID; v1 is still accepted", async () => {
      // The tester's case: an empty body signed for one endpoint's /test, sent to /disable.
      const created = await h.signedPost("/v1/webhooks/endpoints", { url: "https://hooks.example.com/in", eventTypes: ["webhook.test"] });
      expect(created.statusCode, created.body).toBe(201);
      const id = json<{ endpoint: { id: string } }>(created).endpoint.id;
      const bodiless = (target: string, headers: Record<string, string>) =>
        h.app.inject({ method: "POST", url: target, headers: { authorization: `Bearer ${h.keys.gateway.key}`, ...headers } });
      const forTest = signedHeaders(h.keys.gateway.signingSecret, "", new Date(), { method: "POST", target: `/v1/webhooks/endpoints/${id}/test` });
      const moved = await bodiless(`/v1/webhooks/endpoints/${id}/disable`, forTest);
      expect([moved.statusCode, problemCode(moved)]).toEqual([401, "ENT_AUTH_SIGNATURE_INVALID"]);
      expect(json<{ detail: string }>(moved).detail).toContain(`POST /v1/webhooks/endpoints/${id}/disable`);
      expect(json<{ status: string }>(await h.get(`/v1/webhooks/endpoints/${id}`, h.keys.admin)).status).toBe("active");
      const sent = await bodiless(`/v1/webhooks/endpoints/${id}/test`, forTest);
      expect(sent.statusCode, sent.body).toBe(202);
      // The query is part of the target.
      const signedFor = signedHeaders(h.keys.gateway.signingSecret, body, new Date(), { method: "POST", target: url });
      expect(problemCode(await h.app.inject({ method: "POST", url: `${url}?x=1`, payload: body, headers: { "content-type": "application/json", authorization: `Bearer ${h.keys.gateway.key}`, ...signedFor } }))).toBe("ENT_AUTH_SIGNATURE_INVALID");
      expect((await send(signedFor)).statusCode).not.toBe(401);
      // v1, unbound, as gateways that sign it send it: still accepted (once).
      const v1 = signedHeaders(h.keys.gateway.signingSecret, body.replace("sig-1", "sig-v1"));
      expect(v1["entrepot-signature"]).toMatch(/^v1=/);
      expect((await send(v1, body.replace("sig-1", "sig-v1"))).statusCode).not.toBe(401);
    });

    it("claims every signature a header carries: a v1 sent beside v2 cannot be sent again alone, to another route", async () => {
      // The attacker's case: a gateway signs v2 and v1 (moving to v2); the captured v1 value, which
      // does not cover the route, was free to disable the endpoint the request tested.
      const created = await h.signedPost("/v1/webhooks/endpoints", { url: "https://hooks.example.com/both", eventTypes: ["webhook.test"] });
      const id = json<{ endpoint: { id: string } }>(created).endpoint.id;
      const ts = (Date.now() / 1000).toFixed(3);
      const target = `/v1/webhooks/endpoints/${id}/test`;
      const v2 = sign(h.keys.gateway.signingSecret, ts, "", { method: "POST", target });
      const v1 = sign(h.keys.gateway.signingSecret, ts, "");
      const post = (to: string, signature: string) =>
        h.app.inject({ method: "POST", url: to, headers: { authorization: `Bearer ${h.keys.gateway.key}`, "entrepot-timestamp": ts, "entrepot-signature": signature } });
      expect((await post(target, `v2=${v2},v1=${v1}`)).statusCode).toBe(202);
      const moved = await post(`/v1/webhooks/endpoints/${id}/disable`, `v1=${v1}`);
      expect([moved.statusCode, problemCode(moved)]).toEqual([401, "ENT_AUTH_SIGNATURE_REPLAYED"]);
      expect(json<{ status: string }>(await h.get(`/v1/webhooks/endpoints/${id}`, h.keys.admin)).status).toBe("active");
      // The same request's v2 value alone is a replay too.
      expect(problemCode(await post(target, `v2=${v2}`))).toBe("ENT_AUTH_SIGNATURE_REPLAYED");
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

    it("answers a replayed signature 401 before anything else, and books two deliveries of one signed request once", async () => {
      await publishDayRates(h);
      // Two deliveries of one signed request at once: one is booked, the other refused, one record.
      const once = JSON.stringify(capture({ gatewayEventId: "sig-race" }));
      const headers = signedHeaders(h.keys.gateway.signingSecret, once);
      const both = await Promise.all([send(headers, once), send(headers, once)]);
      expect(both.map((r) => r.statusCode).sort()).toEqual([201, 401]);
      expect(problemCode(both.find((r) => r.statusCode === 401)!)).toBe("ENT_AUTH_SIGNATURE_REPLAYED");
      expect(await h.db.prisma.settlement.count({ where: { gatewayEventId: "sig-race" } })).toBe(1);
      // A signed body that fails the schema, and one naming another gateway: replayed, each is 401.
      for (const payload of [JSON.stringify({ nonsense: true }), JSON.stringify(capture({ gatewayEventId: "sig-other", gateway: "stripe" }))]) {
        const signed = signedHeaders(h.keys.gateway.signingSecret, payload);
        expect((await send(signed, payload)).statusCode).toBe(payload.includes("stripe") ? 403 : 400);
        const again = await send(signed, payload);
        expect(again.statusCode).toBe(401);
        expect(problemCode(again)).toBe("ENT_AUTH_SIGNATURE_REPLAYED");
      }
      // A replay of an event already booked, under a new signature, is the settlement's replay (200).
      const redelivered = await send(signedHeaders(h.keys.gateway.signingSecret, once), once);
      expect(redelivered.statusCode).toBe(200);
      expect(json<{ status: string }>(redelivered).status).toBe("exists");
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

  describe("lockout after failed authentications (per key identity and address)", () => {
    let h: Harness;
    beforeAll(async () => {
      // The counters are fixed windows: these tests build on each other's failures, so a window that
      // ended between two of them (60 s by default, easily crossed on a loaded machine) would reset
      // them. A day's window ends only at midnight UTC.
      h = await openHarness({ env: { AUTH_FAILURE_LIMIT: "3", AUTH_FAILURE_KEY_LIMIT: "5", AUTH_FAILURE_ADDRESS_LIMIT: "4", TRUST_PROXY: "true", RATE_LIMIT_WINDOW_MS: "86400000" }, programData: false });
    });
    afterAll(async () => h.close());
    const from = (address: string, authorization?: string) =>
      h.app.inject({ url: "/v1/transactions", headers: { "x-forwarded-for": address, ...(authorization === undefined ? {} : { authorization }) } });
    const wrongSecret = (k: { key: string }) => `Bearer ${k.key.slice(0, -4)}AAAA`;

    it("refuses a key id's failures from one address past AUTH_FAILURE_LIMIT (429 with Retry-After), never the valid key", async () => {
      for (let i = 0; i < 3; i++) expect(problemCode(await from("10.0.0.1", wrongSecret(h.keys.finance)))).toBe("ENT_AUTH_INVALID_KEY");
      const locked = await from("10.0.0.1", wrongSecret(h.keys.finance));
      expect(locked.statusCode).toBe(429);
      expect(problemCode(locked)).toBe("ENT_HTTP_RATE_LIMITED");
      expect(Number(locked.headers["retry-after"])).toBeGreaterThan(0);
      // The valid finance key from the same address (another client behind the same proxy) passes.
      expect((await from("10.0.0.1", `Bearer ${h.keys.finance.key}`)).statusCode).toBe(200);
      // So does any other key from that address, valid or not (their own buckets).
      expect((await from("10.0.0.1", `Bearer ${h.keys.admin.key}`)).statusCode).toBe(200);
      expect(problemCode(await from("10.0.0.1", wrongSecret(h.keys.admin)))).toBe("ENT_AUTH_INVALID_KEY");
      // The same key id from another address has its own budget...
      expect(problemCode(await from("10.0.0.2", wrongSecret(h.keys.finance)))).toBe("ENT_AUTH_INVALID_KEY");
    });

    it("bounds an attacker rotating X-Forwarded-For against one key id (AUTH_FAILURE_KEY_LIMIT), and the key still works", async () => {
      // Five failures against the finance key id above (four from 10.0.0.1, one from 10.0.0.2):
      // the per-key limit is reached, so every further failure is refused whatever its address.
      const codes: string[] = [];
      for (let i = 1; i < 12; i++) codes.push(problemCode(await from(`10.0.1.${i}`, wrongSecret(h.keys.finance))));
      expect(new Set(codes)).toEqual(new Set(["ENT_HTTP_RATE_LIMITED"]));
      for (const address of ["10.0.1.2", "10.9.9.9"]) expect((await from(address, `Bearer ${h.keys.finance.key}`)).statusCode).toBe(200);
    });

    it("refuses key-less garbage from an address past AUTH_FAILURE_ADDRESS_LIMIT, before any lookup; other addresses and valid keys pass", async () => {
      const garbage = ["", "Bearer nonsense", "Basic dXNlcjpwdw==", `Bearer ${h.keys.finance.key.replace(/^ent_[0-9a-f]{12}/, "ent_000000000000")}`];
      for (const g of garbage) expect((await from("10.0.2.1", g === "" ? undefined : g)).statusCode).toBe(401);
      const locked = await from("10.0.2.1");
      expect(problemCode(locked)).toBe("ENT_HTTP_RATE_LIMITED");
      expect(problemCode(await from("10.0.2.1", "Bearer nonsense"))).toBe("ENT_HTTP_RATE_LIMITED");
      expect(problemCode(await from("10.0.2.2"))).toBe("ENT_AUTH_MISSING_KEY");
      expect((await from("10.0.2.1", `Bearer ${h.keys.finance.key}`)).statusCode).toBe(200);
      expect((await h.app.inject({ url: "/healthz", headers: { "x-forwarded-for": "10.0.2.1" } })).statusCode).toBe(200);
    });

    it("counts bad signatures of a valid key against that key and address, and a valid signature still passes", async () => {
      const url = "/v1/settlements/events";
      const payload = JSON.stringify(capture({ gatewayEventId: "lockout-sig" }));
      const send = (signature: Record<string, string>) =>
        h.app.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", "x-forwarded-for": "10.0.3.1", authorization: `Bearer ${h.keys.gateway.key}`, ...signature } });
      const ts = String(Math.floor(Date.now() / 1000));
      const bad = { "entrepot-timestamp": ts, "entrepot-signature": `v1=${sign(h.keys.admin.signingSecret, ts, payload)}` };
      for (let i = 0; i < 3; i++) expect(problemCode(await send(bad))).toBe("ENT_AUTH_SIGNATURE_INVALID");
      expect(problemCode(await send(bad))).toBe("ENT_HTTP_RATE_LIMITED");
      const good = await send(signedHeaders(h.keys.gateway.signingSecret, payload));
      expect(good.statusCode, good.body).not.toBe(429);
      expect(good.statusCode).not.toBe(401);
    });
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
