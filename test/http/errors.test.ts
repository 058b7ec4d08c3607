import { AjvCompiler } from "@fastify/ajv-compiler";
import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";
import Fastify from "fastify";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices } from "../../service/services.js";
import { app, buildApp, serverOptions } from "../../service/app.js";
import { capture, json, openHarness, problemCode, type Harness } from "./harness.js";

describe("problem documents", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ env: { BODY_LIMIT_BYTES: "2048" }, programData: false });
  });
  afterAll(async () => h.close());

  it("has request and response schemas that fastify's own compilers accept, all of them (the app compiles each on first use)", async () => {
    // The same app with fastify's eager compilers: a schema they cannot compile fails ready().
    const compiled = { validators: [] as string[], serializers: [] as string[] };
    const ajv = AjvCompiler();
    const validators = (...args: Parameters<typeof ajv>): ReturnType<typeof ajv> => {
      const compile = ajv(...args) as (route: { method: string; url: string }) => unknown;
      return ((route: { method: string; url: string }) => {
        compiled.validators.push(`${route.method} ${route.url}`);
        return compile(route);
      }) as unknown as ReturnType<typeof ajv>;
    };
    const serializers = (...args: Parameters<ReturnType<typeof SerializerSelector>>): ReturnType<ReturnType<typeof SerializerSelector>> => {
      const compile = SerializerSelector()(...args);
      return (route) => {
        compiled.serializers.push(`${route.method} ${route.url}`);
        return compile(route);
      };
    };
    const withBody: string[] = [];
    const withResponse: string[] = [];
    const instance = Fastify({ ...serverOptions(h.config, false), schemaController: { compilersFactory: { buildValidator: validators, buildSerializer: serializers } } });
    instance.addHook("onRoute", (route) => {
      const name = `${String(route.method)} ${route.url}`;
      if (route.schema?.body || route.schema?.querystring || route.schema?.params) withBody.push(name);
      if (route.schema?.response) withResponse.push(name);
    });
    await instance.register(app, { services: h.services, config: h.config });
    await instance.ready();
    await instance.close();
    expect(withResponse.length).toBeGreaterThan(80);
    expect(withBody.length).toBeGreaterThan(40);
    for (const route of withResponse) expect(compiled.serializers, route).toContain(route);
    for (const route of withBody) expect(compiled.validators, route).toContain(route);
  });

  it("has every RFC 9457 member plus a stable code and the request id", async () => {
    const r = await h.app.inject({ url: "/v1/nothing-here", headers: { "x-request-id": "req-abc" } });
    expect(r.statusCode).toBe(404);
    expect(r.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(r.headers["x-request-id"]).toBe("req-abc");
    expect(json(r)).toEqual({
      type: "/problems/ENT_HTTP_ROUTE_NOT_FOUND",
      title: "No such route",
      status: 404,
      detail: "no route GET /v1/nothing-here",
      instance: "/v1/nothing-here",
      code: "ENT_HTTP_ROUTE_NOT_FOUND",
      requestId: "req-abc",
    });
  });

  it("replaces a request id that is not short and plain", async () => {
    const r = await h.app.inject({ url: "/v1/nothing-here", headers: { "x-request-id": "evil line ".padEnd(80, "x") } });
    expect(json<{ requestId: string }>(r).requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("resolves every problem type to its catalogue entry", async () => {
    const r = await h.app.inject({ url: "/problems/ENT_HTTP_MALFORMED_JSON" });
    expect(json(r)).toEqual({ code: "ENT_HTTP_MALFORMED_JSON", status: 400, title: "Malformed JSON body", type: "/problems/ENT_HTTP_MALFORMED_JSON" });
    const all = json<Array<{ code: string }>>(await h.app.inject({ url: "/problems" })).map((p) => p.code);
    expect(all).toEqual(expect.arrayContaining(["ENT_AUTH_SIGNATURE_REPLAYED", "ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT", "ENT_FX_RATE_STALE", "ENT_LEDGER_UNBALANCED", "ENT_INTERNAL"]));
    expect(problemCode(await h.app.inject({ url: "/problems/ENT_NOPE" }))).toBe("ENT_REQUEST_NOT_FOUND");
  });

  it("maps malformed JSON to 400 ENT_HTTP_MALFORMED_JSON", async () => {
    const r = await h.post("/v1/fx/rates", '{"rates": [', h.keys.admin);
    expect(r.statusCode).toBe(400);
    expect(problemCode(r)).toBe("ENT_HTTP_MALFORMED_JSON");
    const empty = await h.app.inject({ method: "POST", url: "/v1/fx/rates", headers: { "content-type": "application/json", authorization: `Bearer ${h.keys.admin.key}` } });
    expect(problemCode(empty)).toBe("ENT_HTTP_MALFORMED_JSON");
  });

  it("refuses prototype poisoning as malformed JSON", async () => {
    const r = await h.post("/v1/fx/rates", '{"rates": [], "__proto__": {"admin": true}}', h.keys.admin);
    expect(problemCode(r)).toBe("ENT_HTTP_MALFORMED_JSON");
    expect(json<{ detail: string }>(r).detail).toBe("a __proto__ key, or constructor.prototype, is not accepted in a JSON body");
    const ctor = await h.post("/v1/fx/rates", '{"rates": [], "constructor": {"prototype": {"admin": true}}}', h.keys.admin);
    expect(json<{ detail: string }>(ctor).detail).toBe("a __proto__ key, or constructor.prototype, is not accepted in a JSON body");
  });

  it("refuses a JSON body declared in another charset than UTF-8 (RFC 8259): 415, where it was read as UTF-8 anyway", async () => {
    const body = JSON.stringify({ rates: [] });
    const r = await h.post("/v1/fx/rates", body, h.keys.admin, { "content-type": "application/json; charset=utf-16" });
    expect([r.statusCode, problemCode(r)]).toEqual([415, "ENT_HTTP_UNSUPPORTED_MEDIA_TYPE"]);
    for (const charset of ["utf-8", "UTF-8", '"utf-8"']) {
      const ok = await h.post("/v1/fx/rates", body, h.keys.admin, { "content-type": `application/json; charset=${charset}` });
      expect(ok.statusCode, charset).not.toBe(415);
    }
  });

  it("maps a body above BODY_LIMIT_BYTES to 413 ENT_HTTP_BODY_TOO_LARGE", async () => {
    const r = await h.post("/v1/fx/rates", { rates: [{ base: "USD", quote: "BRL", rate: "5.1", source: "x".repeat(3000), asOf: "2024-12-02T00:00:00Z" }] }, h.keys.admin);
    expect(r.statusCode).toBe(413);
    expect(problemCode(r)).toBe("ENT_HTTP_BODY_TOO_LARGE");
  });

  it("maps an unsupported content type to 415 ENT_HTTP_UNSUPPORTED_MEDIA_TYPE", async () => {
    const r = await h.app.inject({ method: "POST", url: "/v1/fx/rates", payload: "rates=1", headers: { "content-type": "text/plain", authorization: `Bearer ${h.keys.admin.key}` } });
    expect(r.statusCode).toBe(415);
    expect(problemCode(r)).toBe("ENT_HTTP_UNSUPPORTED_MEDIA_TYPE");
    expect(json<{ detail: string }>(r).detail).toBe("send the body as application/json");
  });

  it("answers what Node's HTTP parser refuses (headers over 16 KiB, bytes that are not HTTP) as problem documents too", async () => {
    const server = Fastify(serverOptions(h.config, false));
    server.get("/v1/x", async () => ({}));
    const url = new URL(await server.listen({ port: 0, host: "127.0.0.1" }));
    try {
      const raw = (request: string) =>
        new Promise<string>((resolve, reject) => {
          let answer = "";
          const socket = connect(Number(url.port), "127.0.0.1", () => socket.end(request));
          socket.on("data", (d: Buffer) => (answer += d.toString()));
          socket.on("close", () => resolve(answer));
          socket.on("error", reject);
        });
      const long = await raw(`GET /v1/x?sellerId=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(long).toMatch(/^HTTP\/1.1 431 /);
      expect(long).toContain("Content-Type: application/problem+json");
      const problem = JSON.parse(long.slice(long.indexOf("\r\n\r\n") + 4)) as { code: string; status: number; type: string };
      expect(problem).toMatchObject({ code: "ENT_HTTP_HEADERS_TOO_LARGE", status: 431, type: "/problems/ENT_HTTP_HEADERS_TOO_LARGE" });
      const garbage = await raw("HELLO\r\n\r\n");
      expect(garbage).toMatch(/^HTTP\/1.1 400 /);
      expect(garbage).toContain('"code":"ENT_HTTP_BAD_REQUEST"');
    } finally {
      await server.close();
    }
  });

  it("lists each invalid field of a request", async () => {
    const r = await h.signedPost("/v1/settlements/events", capture({ amount: "-5", occurredAt: "yesterday", type: "gift" }));
    expect(problemCode(r)).toBe("ENT_REQUEST_VALIDATION");
    const fields = json<{ errors: Array<{ field: string; message: string }> }>(r).errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(["amount", "occurredAt", "type"]));
  });

  it("hides the message of a batch item that failed unexpectedly (it may carry SQL)", async () => {
    const services = createServices(h.db, h.config);
    const settlement = Object.create(services.settlement) as typeof services.settlement;
    settlement.postEvents = (events) =>
      Promise.resolve(events.map(() => ({ status: "error" as const, error: { code: "ENT_INTERNAL", message: "Raw query failed. Code: `40P01`. UPDATE settlements SET ..." } })));
    const app = await buildApp({ services: { ...services, settlement }, config: h.config, logger: false });
    try {
      const payload = JSON.stringify({ events: [capture({ gatewayEventId: "hidden-1" })] });
      const { signedHeaders } = await import("../../service/http/auth/signature.js");
      const r = await app.inject({ method: "POST", url: "/v1/settlements/events/batch", payload, headers: { "content-type": "application/json", authorization: `Bearer ${h.keys.gateway.key}`, ...signedHeaders(h.keys.gateway.signingSecret, payload) } });
      expect(r.statusCode).toBe(200);
      const item = json<{ results: Array<{ status: string; error: { code: string; message: string } }> }>(r).results[0];
      expect(item?.error.code).toBe("ENT_INTERNAL");
      expect(r.body).not.toMatch(/40P01|UPDATE|Raw query/);
      expect(item?.error.message).toContain(String(r.headers["x-request-id"]));
    } finally {
      await app.close();
    }
  });

  it("answers an unexpected failure with an opaque 500 ENT_INTERNAL: no message, no SQL, no stack", async () => {
    const services = createServices(h.db, h.config);
    const broken = {
      ...services,
      ledger: {
        ...services.ledger,
        verifyChain: () => Promise.reject(new Error('relation "ledger_secret" does not exist: SELECT * FROM ledger_secret')),
      },
    };
    const app = await buildApp({ services: broken, config: h.config, logger: false });
    try {
      const r = await app.inject({ url: "/v1/journal/verify", headers: { authorization: `Bearer ${h.keys.finance.key}` } });
      expect(r.statusCode).toBe(500);
      expect(problemCode(r)).toBe("ENT_INTERNAL");
      expect(r.body).not.toMatch(/ledger_secret|SELECT|at .*\.ts/);
      expect(json<{ detail: string; requestId: string }>(r).detail).toContain(json<{ requestId: string }>(r).requestId);
    } finally {
      await app.close();
    }
  });
});
