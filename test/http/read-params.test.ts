/**
 * Read parameters are bounded by schema: a NUL byte (which PostgreSQL cannot store or compare),
 * an over-long value, an id or cursor past the BIGINT range is a 4xx naming the field, never a
 * 500; `meta.__proto__` and friends are ordinary metadata keys, never a filter silently dropped.
 * Every GET route of /openapi.json is swept with a NUL in each parameter, and with a parameter it
 * does not take. On PGlite and PostgreSQL.
 */
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseKinds } from "../support/db.js";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();
const BEYOND_INT8 = "9999999999999999999";
const NUL = "%00";

function fieldsOf(r: LightMyRequestResponse): string[] {
  return (json<{ errors?: Array<{ field: string }> }>(r).errors ?? []).map((e) => e.field);
}

function expectRefused(r: LightMyRequestResponse, status: number, field: string): void {
  expect(r.statusCode, `${r.statusCode} ${r.body}`).toBe(status);
  expect(fieldsOf(r), r.body).toContain(field);
}

describe.each(kinds)("read parameters on %s", (kind) => {
  let h: Harness;
  let settlementId: string;
  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "rp-1", settlementId: "ORD-RP-1" }));
    expect(r.statusCode, r.body).toBe(201);
    settlementId = json<{ settlement: { id: string } }>(r).settlement.id;
  });
  afterAll(async () => h?.close());

  describe("NUL bytes", () => {
    it("in a meta.<key> value or key of GET /v1/transactions: 400 naming the field", async () => {
      expectRefused(await h.get(`/v1/transactions?meta.settlementId=ORD${NUL}`), 400, "query.meta.settlementId");
      const key = await h.get(`/v1/transactions?meta.settle${NUL}mentId=x`);
      expect(key.statusCode).toBe(400);
      expect(fieldsOf(key).some((f) => f.startsWith("query.meta.settle"))).toBe(true);
    });

    it("in ?account=, an account path, a settlement id, an FX quote id: 400 naming the field", async () => {
      expectRefused(await h.get(`/v1/transactions?account=seller:S-POP-SZ-01:available${NUL}`), 400, "query.account");
      expectRefused(await h.get(`/v1/accounts/seller:S-POP-SZ-01${NUL}:available/CNY/balance`), 400, "params.account");
      expectRefused(await h.get(`/v1/accounts/seller:S-POP-SZ-01${NUL}:available/CNY/history`), 400, "params.account");
      expectRefused(await h.get(`/v1/settlements/${settlementId}${NUL}`), 400, "params.id");
      expectRefused(await h.get(`/v1/settlements/settlement:adyen:rp-1${NUL}/proof`), 400, "params.id");
      expectRefused(await h.get(`/v1/orders/ORD-RP-1${NUL}/settlements`), 400, "params.settlementId");
      expectRefused(await h.get(`/v1/fx/quotes/fxq_1${NUL}`), 400, "params.id");
      expectRefused(await h.get(`/v1/fx/rates/USD${NUL}/BRL`), 400, "params.base");
    });

    it("anywhere in a JSON body (escaped \\u0000), nested or in a key: 400 naming the field", async () => {
      const rates = [{ base: "USD", quote: "BRL", rate: "5.1", source: "bank\u0000", asOf: "2024-12-02T00:00:00Z" }];
      expectRefused(await h.post("/v1/fx/rates", { rates }, h.keys.admin), 400, "rates.0.source");
      expectRefused(await h.post("/v1/admin/api-keys", { name: "a\u0000b", scopes: ["finance:read"] }, h.keys.admin), 400, "name");
      const weird = await h.post("/v1/admin/api-keys", { name: "ok", scopes: ["finance:read"], ["x\u0000"]: 1 }, h.keys.admin);
      expect(weird.statusCode).toBe(400);
      expect(fieldsOf(weird)).toEqual(["x\\u0000"]);
      // An escaped backslash followed by "u0000" is six ordinary characters, not a NUL.
      const literal = await h.post("/v1/admin/api-keys", { name: "back\\u0000slash", scopes: ["finance:read"] }, h.keys.admin);
      expect(literal.statusCode, literal.body).toBe(201);
    });

    it("in any parameter of any GET route: 4xx, never 500 (every route of /openapi.json)", async () => {
      const doc = json<{ paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }> }>> }>(await h.app.inject({ url: "/openapi.json" }));
      let probes = 0;
      for (const [path, ops] of Object.entries(doc.paths)) {
        const op = ops["get"];
        if (op === undefined) continue;
        const params = op.parameters ?? [];
        const base = path.replace(/\{([^}]+)\}/g, (_m, name: string) => (name === "currency" ? "BRL" : name === "code" ? "ENT_INTERNAL" : "x1"));
        for (const p of params.filter((x) => x.in === "path" || x.in === "query")) {
          const url =
            p.in === "path"
              ? path.replace(/\{([^}]+)\}/g, (_m, name: string) => (name === p.name ? `x${NUL}` : name === "currency" ? "BRL" : name === "code" ? "ENT_INTERNAL" : "x1"))
              : `${base}?${p.name}=x${NUL}`;
          const r = await h.get(url, h.keys.admin);
          probes++;
          expect(r.statusCode, `${url}: ${r.statusCode} ${r.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
          expect(r.statusCode, `${url}: ${r.statusCode} ${r.body.slice(0, 300)}`).toBeLessThan(500);
        }
      }
      expect(probes).toBeGreaterThan(30);
    });
  });

  describe("unknown query parameters", () => {
    it("are refused by name on every GET route of /openapi.json, whether it declares parameters or none", async () => {
      // A route without declared parameters used to ignore one: a misspelt filter silently did nothing.
      const doc = json<{ paths: Record<string, Record<string, unknown>> }>(await h.app.inject({ url: "/openapi.json" }));
      let probes = 0;
      for (const path of Object.keys(doc.paths).filter((p) => p.startsWith("/v1/") && doc.paths[p]!["get"] !== undefined)) {
        const url = `${path.replace(/\{([^}]+)\}/g, (_m, name: string) => (name === "currency" ? "BRL" : name === "id" ? settlementId : "x1"))}?zzUnknown=1`;
        const r = await h.get(url, h.keys.admin);
        // A path the route refuses first (its id's own format) never reaches the query's check.
        if (fieldsOf(r).some((f) => f.startsWith("params."))) continue;
        probes++;
        expectRefused(r, 400, "query.zzUnknown");
      }
      expect(probes).toBeGreaterThan(40);
    });
  });

  describe("dates", () => {
    it("an instant, day or month before 1970 or in year 0 in any query of any GET route: 400 naming it (every route of /openapi.json)", async () => {
      // Year 0 reached PostgreSQL ("date/time field value out of range": a 500) on a dozen routes.
      type Param = { in: string; name: string; schema?: { format?: string; pattern?: string } };
      const doc = json<{ paths: Record<string, Record<string, { parameters?: Param[] }>> }>(await h.app.inject({ url: "/openapi.json" }));
      const probe = (p: Param): string[] | null => {
        if (p.schema?.format === "date-time") return ["0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z"];
        if (p.schema?.pattern?.endsWith("-(0[1-9]|[12][0-9]|3[01])$") === true) return ["0000-01-01", "1969-12-31"];
        if (p.schema?.pattern?.endsWith("-(0[1-9]|1[0-2])$") === true) return ["0000-01", "1969-12"];
        return null;
      };
      let probes = 0;
      for (const [path, ops] of Object.entries(doc.paths)) {
        const base = path.replace(/\{([^}]+)\}/g, (_m, name: string) => (name === "currency" ? "BRL" : name === "sellerId" ? "S-POP-SZ-01" : "x1"));
        for (const p of (ops["get"]?.parameters ?? []).filter((x) => x.in === "query")) {
          for (const value of probe(p) ?? []) {
            const r = await h.get(`${base}?${p.name}=${value}`, h.keys.admin);
            probes++;
            expectRefused(r, 400, `query.${p.name}`);
          }
        }
      }
      expect(probes).toBeGreaterThan(20);
    });
  });

  describe("BIGINT ids and cursors", () => {
    it("an id beyond int8: 400 naming the field, or 404 where the id is also an event key", async () => {
      expectRefused(await h.get(`/v1/transactions/${BEYOND_INT8}`), 400, "params.id");
      expectRefused(await h.get(`/v1/transactions/${BEYOND_INT8}/proof`), 400, "params.id");
      expectRefused(await h.get(`/v1/payouts/${BEYOND_INT8}`), 400, "params.id");
      expectRefused(await h.get(`/v1/payouts/batches/${BEYOND_INT8}`), 400, "params.id");
      expectRefused(await h.get(`/v1/anchoring/batches/${BEYOND_INT8}`), 400, "params.id");
      expectRefused(await h.get(`/v1/sellers/S-POP-SZ-01/payout-destination?chainId=${BEYOND_INT8}`), 400, "query.chainId");
      // A settlement reference may be an event key: a number that fits no record is simply not found.
      const settlement = await h.get(`/v1/settlements/${BEYOND_INT8}`);
      expect([settlement.statusCode, problemCode(settlement)]).toEqual([404, "ENT_SETTLEMENT_NOT_FOUND"]);
      // The largest int8 is a well-formed id that does not exist.
      const max = await h.get("/v1/transactions/9223372036854775807");
      expect([max.statusCode, problemCode(max)]).toEqual([404, "ENT_LEDGER_TRANSACTION_NOT_FOUND"]);
      expectRefused(await h.get("/v1/transactions/9223372036854775808"), 400, "params.id");
    });

    it("a cursor beyond int8 (forged): 400 naming the cursor", async () => {
      const forged = Buffer.from(`v1:${BEYOND_INT8}`).toString("base64url");
      const list = await h.get(`/v1/transactions?cursor=${forged}`);
      expect([list.statusCode, problemCode(list)]).toEqual([400, "ENT_LEDGER_INVALID_CURSOR"]);
      expect(fieldsOf(list)).toEqual(["cursor"]);
      const history = await h.get(`/v1/accounts/seller:S-POP-SZ-01:held/CNY/history?cursor=${forged}`);
      expect([history.statusCode, problemCode(history)]).toEqual([400, "ENT_LEDGER_INVALID_CURSOR"]);
      expectRefused(await h.get(`/v1/payouts?cursor=${BEYOND_INT8}`), 400, "query.cursor");
      expectRefused(await h.get(`/v1/anchoring/batches?before=${BEYOND_INT8}`), 400, "query.before");
    });
  });

  describe("lengths", () => {
    it("caps path and query values: 400 naming the field", async () => {
      expectRefused(await h.get(`/v1/transactions?account=${"a".repeat(201)}`), 400, "query.account");
      expectRefused(await h.get(`/v1/accounts/${"a".repeat(201)}/CNY/balance`), 400, "params.account");
      expectRefused(await h.get(`/v1/settlements/${"a".repeat(256)}`), 400, "params.id");
      // Past the longest parameter of any route the router refuses the path itself, as a problem.
      const huge = await h.get(`/v1/settlements/${"a".repeat(300)}`);
      expect([huge.statusCode, problemCode(huge)]).toEqual([414, "ENT_HTTP_PARAM_TOO_LONG"]);
      const badEscape = await h.get("/v1/settlements/%zz");
      expect([badEscape.statusCode, problemCode(badEscape)]).toEqual([400, "ENT_HTTP_BAD_REQUEST"]);
      expectRefused(await h.get(`/v1/fx/quotes/${"q".repeat(65)}`), 400, "params.id");
      expectRefused(await h.get(`/v1/transactions?meta.settlementId=${"x".repeat(201)}`), 400, "query.meta.settlementId");
      expectRefused(await h.get(`/v1/transactions?meta.${"k".repeat(65)}=x`), 400, `query.meta.${"k".repeat(65)}`);
    });
  });

  describe("meta.<key> names", () => {
    it("treats __proto__, constructor and prototype as ordinary keys: the filter applies (no match), never dropped", async () => {
      const all = json<{ items: unknown[] }>(await h.get("/v1/transactions"));
      expect(all.items.length).toBeGreaterThan(0);
      for (const key of ["__proto__", "constructor", "prototype"]) {
        const r = await h.get(`/v1/transactions?meta.${key}=x`);
        expect(r.statusCode, r.body).toBe(200);
        expect(json<{ items: unknown[] }>(r).items, key).toEqual([]);
      }
      // And combined with a filter that matches, the result is still filtered.
      const both = json<{ items: unknown[] }>(await h.get("/v1/transactions?meta.settlementId=ORD-RP-1&meta.__proto__=x"));
      expect(both.items).toEqual([]);
      const one = json<{ items: unknown[] }>(await h.get("/v1/transactions?meta.settlementId=ORD-RP-1"));
      expect(one.items).toHaveLength(1);
    });
  });
});
