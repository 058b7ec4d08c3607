/**
 * Two service instances on one PostgreSQL database (two Fastify apps in this process, each with
 * its own pool and services, so nothing is shared but the database): a signed request accepted by
 * one is refused when replayed against the other, even when it was refused the first time or is
 * fired at both at once; the rate limit is one budget across both; failed authentications counted
 * by one lock out on the other. PostgreSQL only (PGlite is one in-process database).
 */
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../service/app.js";
import { openDatabase, type Database } from "../../service/db/index.js";
import { signedHeaders } from "../../service/http/auth/signature.js";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { createServices } from "../../service/services.js";
import { postgresReachable, TEST_DATABASE_URL } from "../support/db.js";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const reachable = await postgresReachable();
if (!reachable) console.warn(`[http instances] PostgreSQL unreachable at ${TEST_DATABASE_URL}: two-instance suite SKIPPED (CI runs it)`);

interface Pair {
  h: Harness;
  second: Database;
  b: FastifyInstance;
}

async function openPair(env: Record<string, string> = {}): Promise<Pair> {
  const h = await openHarness({ kind: "postgres", env });
  await publishDayRates(h);
  const second = await openDatabase({ url: h.db.url! });
  const b = await buildApp({ services: createServices(second, h.config), config: h.config, logger: false });
  return { h, second, b };
}

async function closePair(p: Pair | undefined): Promise<void> {
  await p?.b.close();
  await p?.second.close();
  await p?.h.close();
}

/** The exact bytes and headers of one signed request, to send again anywhere. */
function signed(key: IssuedKey, url: string, body: unknown) {
  const payload = JSON.stringify(body);
  const headers = { "content-type": "application/json", authorization: `Bearer ${key.key}`, ...signedHeaders(key.signingSecret, payload) };
  return (app: FastifyInstance) => app.inject({ method: "POST", url, payload, headers });
}

describe.runIf(reachable)("two instances on one PostgreSQL database", () => {
  describe("signature replay", () => {
    let p: Pair;
    beforeAll(async () => {
      p = await openPair();
    }, 120_000);
    afterAll(async () => closePair(p));

    it("refuses on instance B a signed request that instance A accepted", async () => {
      const send = signed(p.h.keys.gateway, "/v1/settlements/events", capture({ gatewayEventId: "two-1", settlementId: "ORD-TWO-1" }));
      const first = await send(p.h.app);
      expect(first.statusCode, first.body).toBe(201);
      const replayed = await send(p.b);
      expect([replayed.statusCode, problemCode(replayed)]).toEqual([401, "ENT_AUTH_SIGNATURE_REPLAYED"]);
    });

    it("refuses on B a signed request that A refused (its capture did not exist yet), after the capture arrives", async () => {
      const refund = capture({ type: "refund", gatewayEventId: "two-2-refund", originalEventId: "two-2", settlementId: "ORD-TWO-2", gatewayFee: "0", occurredAt: `${DAY}T10:00:00.000Z` });
      const send = signed(p.h.keys.gateway, "/v1/settlements/events", refund);
      const early = await send(p.h.app);
      expect([early.statusCode, problemCode(early)]).toEqual([404, "ENT_SETTLEMENT_UNKNOWN_CAPTURE"]);
      expect((await p.h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "two-2", settlementId: "ORD-TWO-2" }))).statusCode).toBe(201);
      const later = await send(p.b);
      expect([later.statusCode, problemCode(later)]).toEqual([401, "ENT_AUTH_SIGNATURE_REPLAYED"]);
      const chain = json<{ items: Array<{ event: { type: string } }> }>(await p.h.get("/v1/orders/ORD-TWO-2/settlements"));
      expect(chain.items.map((i) => i.event.type)).toEqual(["capture"]);
    });

    const readAs = (app: FastifyInstance, key: IssuedKey) => app.inject({ url: "/v1/ledger/periods", headers: { authorization: `Bearer ${key.key}` } });
    const revokeOnA = async (key: IssuedKey) => {
      const r = await p.h.app.inject({ method: "POST", url: `/v1/admin/api-keys/${key.id}/revoke`, headers: { authorization: `Bearer ${p.h.keys.admin.key}` } });
      expect(r.statusCode, r.body).toBe(200);
    };
    /** Within 2 s: the key cache alone would answer from B's copy for up to 5 s. */
    const refusedOnB = (key: IssuedKey) => expect.poll(async () => problemCode(await readAs(p.b, key)), { timeout: 2_000, interval: 25 }).toBe("ENT_AUTH_REVOKED_KEY");

    it("refuses on B a key A revoked, at once, though B had it cached as valid", async () => {
      const key = await p.h.services.apiKeys.create({ name: "revoked on A", scopes: ["finance:read"] });
      expect((await readAs(p.b, key)).statusCode).toBe(200);
      await revokeOnA(key);
      await refusedOnB(key);
    });

    it("listens again after its connection is cut: a key revoked afterwards is refused on B at once", async () => {
      const key = await p.h.services.apiKeys.create({ name: "revoked after a cut", scopes: ["finance:read"] });
      expect((await readAs(p.b, key)).statusCode).toBe(200);
      const listeners = `SELECT pid FROM pg_stat_activity WHERE application_name = 'entrepot-listen-entrepot_api_keys' AND datname = current_database()`;
      expect(await p.h.db.sql.q(listeners)).toHaveLength(2);
      await p.h.db.sql.q(`SELECT pg_terminate_backend(pid) FROM (${listeners}) l`);
      // Both instances reconnect (after 0.5 s) and listen again.
      await expect.poll(async () => (await p.h.db.sql.q(`${listeners} AND state = 'idle'`)).length, { timeout: 10_000, interval: 100 }).toBe(2);
      await new Promise((r) => setTimeout(r, 100));
      await revokeOnA(key);
      await refusedOnB(key);
    });

    it("creates one FX quote for a signed POST /v1/fx/quotes replayed on B", async () => {
      const before = await p.h.db.prisma.fxQuote.count();
      const send = signed(p.h.keys.gateway, "/v1/fx/quotes", { base: "BRL", quote: "USD", at: `${DAY}T09:00:00.000Z` });
      expect((await send(p.h.app)).statusCode).toBe(201);
      const again = await send(p.b);
      expect([again.statusCode, problemCode(again)]).toEqual([401, "ENT_AUTH_SIGNATURE_REPLAYED"]);
      expect(await p.h.db.prisma.fxQuote.count()).toBe(before + 1);
    });

    it("accepts exactly one of the same signed request fired at both instances at once", async () => {
      const send = signed(p.h.keys.gateway, "/v1/fx/quotes", { base: "BRL", quote: "USD", at: `${DAY}T09:30:00.000Z` });
      const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => send(i % 2 === 0 ? p.h.app : p.b)));
      const codes = answers.map((r) => (r.statusCode === 201 ? "created" : problemCode(r)));
      expect(codes.filter((c) => c === "created")).toHaveLength(1);
      expect(codes.filter((c) => c === "ENT_AUTH_SIGNATURE_REPLAYED")).toHaveLength(15);
    });
  });

  describe("rate limit and lockout", () => {
    let p: Pair;
    beforeAll(async () => {
      p = await openPair({ RATE_LIMIT_MAX: "10", AUTH_FAILURE_LIMIT: "3" });
    }, 120_000);
    afterAll(async () => closePair(p));
    const read = (app: FastifyInstance, authorization: string): Promise<LightMyRequestResponse> => app.inject({ url: "/v1/journal/verify", headers: { authorization } });

    it("spends one budget per key across both instances: exactly RATE_LIMIT_MAX requests pass, even fired at once", async () => {
      const key = await p.h.services.apiKeys.create({ name: "budget", scopes: ["finance:read"] });
      const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => read(i % 2 === 0 ? p.h.app : p.b, `Bearer ${key.key}`)));
      const statuses = answers.map((r) => r.statusCode);
      expect(statuses.filter((s) => s === 200)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(14);
      const limited = answers.find((r) => r.statusCode === 429)!;
      expect(problemCode(limited)).toBe("ENT_HTTP_RATE_LIMITED");
      expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
      // Another key keeps its own budget on both instances.
      const other = await p.h.services.apiKeys.create({ name: "other budget", scopes: ["finance:read"] });
      expect((await read(p.b, `Bearer ${other.key}`)).statusCode).toBe(200);
      expect((await read(p.h.app, `Bearer ${other.key}`)).statusCode).toBe(200);
    });

    it("counts failed authentications on both instances together; the valid key passes on both", async () => {
      const key = await p.h.services.apiKeys.create({ name: "target", scopes: ["finance:read"] });
      const wrong = `Bearer ${key.key.slice(0, -4)}AAAA`;
      expect(problemCode(await read(p.h.app, wrong))).toBe("ENT_AUTH_INVALID_KEY");
      expect(problemCode(await read(p.b, wrong))).toBe("ENT_AUTH_INVALID_KEY");
      expect(problemCode(await read(p.h.app, wrong))).toBe("ENT_AUTH_INVALID_KEY");
      expect(problemCode(await read(p.b, wrong))).toBe("ENT_HTTP_RATE_LIMITED");
      expect(problemCode(await read(p.h.app, wrong))).toBe("ENT_HTTP_RATE_LIMITED");
      expect((await read(p.h.app, `Bearer ${key.key}`)).statusCode).toBe(200);
      expect((await read(p.b, `Bearer ${key.key}`)).statusCode).toBe(200);
    });
  });

  describe("one lock order: the same events in opposite orders at both instances", () => {
    let p: Pair;
    beforeAll(async () => {
      p = await openPair();
    }, 120_000);
    afterAll(async () => closePair(p));

    const events = (round: number) =>
      Array.from({ length: 100 }, (_, i) =>
        capture({ gatewayEventId: `lock-${round}-${String(i).padStart(3, "0")}`, settlementId: `ORD-LOCK-${round}-${i}`, amount: String(1000 + i) }),
      );

    it("books every event of a batch posted at once to both instances in opposite orders exactly once, with no 5xx", async () => {
      for (let round = 0; round < 3; round++) {
        const forward = events(round);
        const backward = [...forward].reverse();
        const [a, b] = await Promise.all([
          signed(p.h.keys.gateway, "/v1/settlements/events/batch", { events: forward })(p.h.app),
          signed(p.h.keys.gateway, "/v1/settlements/events/batch", { events: backward })(p.b),
        ]);
        expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
        const statuses = new Map<string, string[]>();
        const collect = (r: LightMyRequestResponse, order: Array<Record<string, unknown>>) =>
          json<{ results: Array<{ index: number; status: string; error?: { code: string } }> }>(r).results.forEach((x) => {
            const id = String(order[x.index]!["gatewayEventId"]);
            statuses.set(id, [...(statuses.get(id) ?? []), x.status === "error" ? x.error!.code : x.status]);
          });
        collect(a, forward);
        collect(b, backward);
        for (const [id, got] of statuses) expect([id, got.sort()]).toEqual([id, ["created", "exists"]]);
        expect(statuses.size).toBe(100);
      }
      expect(await p.h.db.prisma.settlement.count({ where: { gatewayEventId: { startsWith: "lock-" } } })).toBe(300);
    });

    it("answers single-event redeliveries fired at both instances at once with one created and the rest exists", async () => {
      const batch = events(9).slice(0, 30);
      // Each delivery signed at its own millisecond, as a gateway's retries are.
      const base = Date.now();
      const deliver = (e: Record<string, unknown>, n: number, app: FastifyInstance) => {
        const payload = JSON.stringify(e);
        const headers = { "content-type": "application/json", authorization: `Bearer ${p.h.keys.gateway.key}`, ...signedHeaders(p.h.keys.gateway.signingSecret, payload, new Date(base + n)) };
        return app.inject({ method: "POST", url: "/v1/settlements/events", payload, headers });
      };
      const answers = await Promise.all(batch.flatMap((e, i) => [0, 1, 2, 3].map((k) => deliver(e, i * 4 + k, k % 2 === 0 ? p.h.app : p.b))));
      const codes = answers.map((r) => r.statusCode);
      expect(codes.filter((c) => c >= 500)).toEqual([]);
      expect(codes.filter((c) => c === 201)).toHaveLength(30);
      expect(codes.filter((c) => c === 200)).toHaveLength(90);
    });
  });
});

