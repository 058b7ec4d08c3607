import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../service/app.js";
import { ConfigError, loadConfig } from "../../service/config.js";
import { createServices } from "../../service/services.js";
import { openDatabase } from "../../service/db/index.js";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

describe("operations routes and docs", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h.close());

  it("GET /healthz answers while the process is up", async () => {
    const r = await h.app.inject({ url: "/healthz" });
    expect(r.statusCode).toBe(200);
    expect(json(r)).toEqual({ status: "ok" });
  });

  it("GET /readyz answers 200 with every migration applied", async () => {
    const r = await h.app.inject({ url: "/readyz" });
    expect(r.statusCode).toBe(200);
    // No worker ever ran on this database: nobody leads, and the instance is ready all the same.
    expect(json(r)).toEqual({
      status: "ready",
      database: "reachable",
      kind: "pglite",
      workers: { lease: "workers", status: "no leader", expiresAt: null, thisInstance: false },
      halts: [],
    });
  });

  it("GET /readyz and /metrics show a worker halted on a state only an operator resolves, as the worker leader recorded it, and stay 200", async () => {
    const leases = h.app.services.leases;
    await leases.recordHalt("anchoring", { code: "ENT_ANCHOR_BATCH_REVERTED", reason: "ENT_ANCHOR_BATCH_REVERTED: anchoring transaction 0xabc of batch 7 reverted", details: { batchId: "7", txHash: "0xabc" } });
    try {
      const r = await h.app.inject({ url: "/readyz" });
      expect(r.statusCode).toBe(200);
      const { halts } = json<{ halts: Array<Record<string, unknown>> }>(r);
      expect(halts).toEqual([{ worker: "anchoring", code: "ENT_ANCHOR_BATCH_REVERTED", reason: "ENT_ANCHOR_BATCH_REVERTED: anchoring transaction 0xabc of batch 7 reverted", details: { batchId: "7", txHash: "0xabc" }, since: expect.any(String) as string }]);
      expect((await h.app.inject({ url: "/metrics" })).body).toMatch(/^entrepot_worker_halted\{worker="anchoring",code="ENT_ANCHOR_BATCH_REVERTED"\} 1$/m);
    } finally {
      await leases.recordHalt("anchoring", null);
    }
    expect(json<{ halts: unknown[] }>(await h.app.inject({ url: "/readyz" })).halts).toEqual([]);
    expect((await h.app.inject({ url: "/metrics" })).body).not.toMatch(/^entrepot_worker_halted\{/m);
  });

  it("GET /readyz answers 503 ENT_HTTP_NOT_READY on an unmigrated database", async () => {
    const db = await openDatabase({ dataDir: ":memory:", migrate: false });
    const app = await buildApp({ services: createServices(db, h.config), config: h.config, logger: false });
    try {
      const r = await app.inject({ url: "/readyz" });
      expect(r.statusCode).toBe(503);
      expect(problemCode(r)).toBe("ENT_HTTP_NOT_READY");
      expect(json<{ details: { pendingMigrations: string[] } }>(r).details.pendingMigrations.length).toBeGreaterThan(0);
    } finally {
      await app.close();
      await db.close();
    }
  });

  it("GET /metrics exposes request counts and latency by route pattern, and ledger postings", async () => {
    await publishDayRates(h);
    const booked = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "metrics-1" }));
    expect(booked.statusCode).toBe(201);
    await h.get("/v1/settlements/adyen:nope");
    const r = await h.app.inject({ url: "/metrics" });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/plain/);
    expect(r.body).toMatch(/entrepot_http_requests_total\{method="POST",route="\/v1\/settlements\/events",status="201"\} 1/);
    // The latency histogram by route pattern (its +Inf bucket: no timing is asserted in a test).
    expect(r.body).toMatch(/entrepot_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/v1\/settlements\/:id",status="404"\} 1/);
    expect(r.body).toMatch(/entrepot_http_request_duration_seconds_count\{method="GET",route="\/v1\/settlements\/:id",status="404"\} 1/);
    expect(r.body).toMatch(/entrepot_settlement_events_total\{type="capture",result="created"\} 1/);
    expect(r.body).toMatch(/entrepot_ledger_postings_total [1-9]\d*/);
    expect(r.body).toMatch(/entrepot_http_problems_total\{code="ENT_SETTLEMENT_NOT_FOUND"\} 1/);
    expect(r.body).toContain("entrepot_process_resident_memory_bytes");
  });

  it("GET /openapi.json documents every /v1 route with a schema'd response and bearer security", async () => {
    const doc = json<{ openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[]; requestBody?: unknown }>> }>(await h.app.inject({ url: "/openapi.json" }));
    expect(doc.openapi).toBe("3.1.0");
    const routes = h.app.printRoutes({ commonPrefix: false });
    const expected = [
      ["post", "/v1/settlements/events"],
      ["post", "/v1/settlements/events/batch"],
      ["get", "/v1/settlements/{id}"],
      ["get", "/v1/settlements"],
      ["post", "/v1/sessions"],
      ["get", "/v1/sessions/current"],
      ["delete", "/v1/sessions/current"],
      ["get", "/v1/reports/volumes"],
      ["get", "/v1/reports/overview"],
      ["get", "/v1/transactions"],
      ["get", "/v1/transactions/{id}"],
      ["get", "/v1/accounts"],
      ["get", "/v1/ledger/trial-balance"],
      ["get", "/v1/journal/export"],
      ["post", "/v1/ledger/periods/close"],
      ["get", "/v1/ledger/periods"],
      ["get", "/v1/ledger/periods/{id}/report"],
      ["get", "/v1/ledger/periods/{id}/proof"],
      ["post", "/v1/sellers"],
      ["post", "/v1/fee-schedules"],
      ["get", "/v1/fee-schedules"],
      ["post", "/v1/tax-rules"],
      ["get", "/v1/tax-rules"],
      ["get", "/v1/sellers/{id}/statements"],
      ["get", "/v1/payouts/{id}/settles"],
      ["get", "/v1/sellers"],
      ["get", "/v1/accounts/{account}/{currency}/balance"],
      ["get", "/v1/accounts/{account}/{currency}/history"],
      ["get", "/v1/journal/verify"],
      ["post", "/v1/fx/rates"],
      ["get", "/v1/fx/rates/{base}/{quote}"],
      ["post", "/v1/fx/quotes"],
      ["get", "/v1/fx/quotes/{id}"],
      ["post", "/v1/admin/api-keys"],
      ["get", "/v1/admin/api-keys"],
      ["post", "/v1/admin/api-keys/{id}/revoke"],
      ["post", "/v1/admin/api-keys/{id}/gateway"],
      ["post", "/v1/admin/api-keys/{id}/rotate-signing-secret"],
      ["post", "/v1/admin/api-keys/{id}/finish-signing-secret-rotation"],
      ["get", "/v1/orders/{settlementId}/settlements"],
      ["put", "/v1/orders/{settlementId}/fulfilment"],
      ["get", "/v1/orders/{settlementId}/fulfilment"],
      ["get", "/v1/orders"],
      ["post", "/v1/sellers/{id}/charges"],
      ["post", "/v1/sellers/{id}/stock-snapshots"],
      ["get", "/v1/sellers/{id}/stock-snapshots"],
      ["post", "/v1/storage/runs"],
      ["get", "/v1/storage/runs"],
      ["get", "/v1/storage/runs/{id}"],
      ["get", "/v1/tax/returns"],
      ["post", "/v1/remittances"],
      ["get", "/v1/remittances/{gateway}/{remittanceId}"],
      ["post", "/v1/reconciliation/imports/{id}/remittances"],
      ["put", "/v1/sellers/{id}/bank-account"],
      ["get", "/v1/sellers/{id}/bank-account"],
      ["delete", "/v1/sellers/{id}/bank-account"],
      ["post", "/v1/payouts/bank/runs"],
      ["post", "/v1/payouts/bank/confirmations"],
      ["get", "/v1/payouts/bank"],
      ["get", "/v1/payouts/bank/{id}"],
      ["get", "/v1/payouts/bank/{id}/settles"],
      ["post", "/v1/cash/statements"],
      ["get", "/v1/cash/statements"],
      ["get", "/v1/cash/statements/{id}"],
      ["get", "/v1/cash/exceptions"],
      ["post", "/v1/cash/statements/{id}/entries/{index}/resolution"],
      ["get", "/v1/payouts/bank/files"],
      ["get", "/v1/payouts/bank/files/{id}"],
      ["post", "/v1/fx/revaluations"],
      ["get", "/v1/fx/revaluations"],
      ["post", "/v1/webhooks/endpoints"],
      ["get", "/v1/webhooks/endpoints"],
      ["get", "/v1/webhooks/endpoints/{id}"],
      ["post", "/v1/webhooks/endpoints/{id}/disable"],
      ["post", "/v1/webhooks/endpoints/{id}/enable"],
      ["post", "/v1/webhooks/endpoints/{id}/rotate-secret"],
      ["post", "/v1/webhooks/endpoints/{id}/test"],
      ["get", "/v1/webhooks/endpoints/{id}/deliveries"],
      ["get", "/v1/webhooks/endpoints/{id}/deliveries/{eventId}"],
      ["post", "/v1/webhooks/endpoints/{id}/deliveries/{eventId}/redeliver"],
    ] as const;
    expect(routes).toContain("settlements");
    const SIGNED = new Set(["post /v1/settlements/events", "post /v1/settlements/events/batch", "post /v1/fx/quotes", "post /v1/remittances", "put /v1/orders/{settlementId}/fulfilment"]);
    for (const [method, path] of expected) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      expect(Object.keys(op?.responses ?? {}).some((s) => s.startsWith("2")), `${method} ${path} 2xx`).toBe(true);
      expect(op?.responses["401"], `${method} ${path} 401`).toBeDefined();
      // Signed gateway routes take an API key only; the session routes read their own key or cookie.
      const security =
        path === "/v1/sessions" ? undefined
        : path === "/v1/sessions/current" ? [{ consoleSession: [] }]
        : SIGNED.has(`${method} ${path}`) ? [{ apiKey: [] }]
        : [{ apiKey: [] }, { consoleSession: [] }];
      expect(op?.security, `${method} ${path} security`).toEqual(security);
    }
    // What the framework answers before a handler runs is documented wherever it can happen.
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!Object.keys(op.responses).some((s) => /^[45]/.test(s))) continue;
        // Every /v1 route may answer 503 with Retry-After (a transient database failure, a stopping instance).
        const due = ["400", ...(path.includes("{") ? ["414"] : []), ...(method === "get" ? [] : ["413", "415"]), ...(path.startsWith("/v1/") ? ["503"] : [])];
        for (const status of due) expect(op.responses[status], `${method} ${path} ${status}`).toBeDefined();
      }
    }
    for (const p of ["/healthz", "/readyz", "/metrics"]) expect(doc.paths[p]?.["get"]).toBeDefined();
    // A body that is not JSON is documented with its own content types.
    const bodyTypes = (path: string) => Object.keys((doc.paths[path]?.["post"]?.requestBody as { content?: object } | undefined)?.content ?? {});
    expect(bodyTypes("/v1/cash/statements")).toEqual(["application/xml"]);
    expect(bodyTypes("/v1/reconciliation/imports")).toEqual(["text/csv", "application/csv", "text/plain"]);
    // Errors are documented as problem+json, and every $ref resolves inside the document.
    expect(JSON.stringify(doc.paths["/v1/settlements/events"]?.["post"]?.responses["409"])).toContain("application/problem+json");
    const full = doc as unknown as { components: { schemas: Record<string, unknown> } };
    const refs = new Set<string>();
    JSON.stringify(doc, (k, v: unknown) => {
      if (k === "$ref" && typeof v === "string") refs.add(v);
      return v;
    });
    for (const ref of refs) expect(full.components.schemas[ref.replace("#/components/schemas/", "")], ref).toBeDefined();
  });

  it("serves the API reference at /docs with its JavaScript bundle from this server (works offline)", async () => {
    const html = await h.app.inject({ url: "/docs/" });
    expect(html.statusCode).toBe(200);
    expect(html.body).toContain('src="js/scalar.js"');
    expect(html.body).not.toMatch(/<script[^>]+src="https?:/);
    expect(html.body).not.toContain("fonts.scalar.com");
    const js = await h.app.inject({ url: "/docs/js/scalar.js" });
    expect(js.statusCode).toBe(200);
    expect(js.headers["content-type"]).toMatch(/javascript/);
    expect(js.body.length).toBeGreaterThan(1_000_000);
  });
});

describe("configuration", () => {
  it("has working defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 3000, host: "127.0.0.1", databaseUrl: undefined, dataDir: ".data", auth: { replayWindowSeconds: 300 }, fx: { pivot: "USD" } });
    expect(c).toMatchObject({ role: "all", workers: { leaseTtlMs: 10_000 } });
    expect(loadConfig({ ROLE: "workers", WORKER_LEASE_TTL_MS: "1500" })).toMatchObject({ role: "workers", workers: { leaseTtlMs: 1_500 } });
    expect(c.http).toMatchObject({ bodyLimit: 1_048_576, importLimit: 1_073_741_824 });
    expect(loadConfig({ IMPORT_LIMIT_BYTES: "2097152" }).http.importLimit).toBe(2_097_152);
  });

  it.each([
    ["PORT", "http"],
    ["PORT", "70000"],
    ["LOG_LEVEL", "loud"],
    ["DATABASE_URL", "mysql://x"],
    ["RATE_LIMIT_MAX", "0"],
    ["BODY_LIMIT_BYTES", "12kb"],
    ["IMPORT_LIMIT_BYTES", "1000"],
    ["HMAC_REPLAY_WINDOW_SECONDS", "-1"],
    ["CONSOLE_SESSION_IDLE_SECONDS", "59"],
    ["CONSOLE_SESSION_IDLE_SECONDS", "86401"],
    ["FX_PIVOT", "XYZ"],
    ["FX_MARKUP_BPS", "10000"],
    ["DEMO", "maybe"],
    ["BOOTSTRAP_ADMIN_KEY", "short"],
    ["ROLE", "leader"],
    ["WORKER_LEASE_TTL_MS", "100"],
    ["SECRETS_KEY", "short"],
    ["SECRETS_KEY", "00".repeat(31)],
    ["SECRETS_KEY_PREVIOUS", `${"ab".repeat(32)},nope`],
    ["AUTH_FAILURE_KEY_LIMIT", "0"],
    ["AUTH_FAILURE_ADDRESS_LIMIT", "many"],
  ])("fails boot naming %s when it is %s", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^invalid configuration: ${name} `));
  });

  it("never repeats a secrets key in its error", () => {
    const almost = "ab".repeat(31);
    expect(() => loadConfig({ SECRETS_KEY: almost })).toThrow(/the value is not shown/);
    try {
      loadConfig({ SECRETS_KEY: almost });
    } catch (e) {
      expect(String(e)).not.toContain(almost);
    }
  });
});
