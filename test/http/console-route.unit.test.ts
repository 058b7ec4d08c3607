/**
 * /console as the service serves it: the page for every view's URL with a strict CSP, its hashed
 * assets cached for good, `config.json` offering a chain endpoint only when it is safe to publish,
 * and a clear 503 where the console was never built.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../service/config.js";
import { consoleRoutes } from "../../service/http/routes/console.js";
import { errorsPlugin } from "../../service/http/plugins/errors.js";
import { shared } from "../../service/http/plugins/shared.js";
import type { Services } from "../../service/services.js";

async function appWith(dist: string, env: Record<string, string>): Promise<FastifyInstance> {
  const app = Fastify();
  app.decorate("appConfig", loadConfig(env));
  app.decorate("services", { chain: { chainId: 31337n } } as unknown as Services);
  await app.register(shared(errorsPlugin));
  await app.register(consoleRoutes, { dist });
  await app.ready();
  return app;
}

/** A GET whose path is sent as written, dot segments included (as `curl --path-as-is`). */
function rawGet(url: string): Promise<{ status: number; type: string; body: string }> {
  const { hostname, port } = new URL(url);
  const pathAsIs = url.slice(url.indexOf("/", "http://".length));
  return new Promise((resolve, reject) => {
    request({ host: hostname, port, path: pathAsIs }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
    }).on("error", reject).end();
  });
}

describe("the console's routes", () => {
  let dist: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    dist = await mkdtemp(path.join(tmpdir(), "entrepot-console-dist-"));
    await mkdir(path.join(dist, "assets"));
    await writeFile(path.join(dist, "index.html"), '<!doctype html><script type="module" src="/console/assets/index-abc.js"></script>');
    await writeFile(path.join(dist, "assets", "index-abc.js"), "console.log(1)");
    app = await appWith(dist, { CHAIN_RPC_URL: "http://127.0.0.1:8545" });
  });
  afterAll(async () => {
    await app.close();
    await rm(dist, { recursive: true, force: true });
  });

  it("answers the page at every view's URL, with a CSP that allows no inline script and nothing from elsewhere", async () => {
    for (const url of ["/console/", "/console/settlements/6", "/console/accounts/seller%3AS-1%3Aavailable/CNY?at=2024-12-11T00:00:00Z"]) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(200);
      expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(r.body).toContain("/console/assets/index-abc.js");
      const csp = String(r.headers["content-security-policy"]);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(r.headers["x-frame-options"]).toBe("DENY");
    }
    const bare = await app.inject({ url: "/console" });
    expect([bare.statusCode, bare.headers["location"]]).toEqual([301, "/console/"]);
  });

  it("serves hashed assets as immutable, and a missing one as 404 (never the page)", async () => {
    const r = await app.inject({ url: "/console/assets/index-abc.js" });
    expect(r.statusCode).toBe(200);
    expect(r.headers["cache-control"]).toContain("immutable");
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect((await app.inject({ url: "/console/assets/missing.js" })).statusCode).toBe(404);
    expect((await app.inject({ url: "/console/assets/../index.html" })).body).not.toContain("console.log");
  });

  it("refuses a path that climbs out of the assets: 403 ENT_HTTP_PATH_FORBIDDEN, status, code and title agreeing", async () => {
    // Over a socket: inject (as a browser, or curl without --path-as-is) resolves the dot segments first.
    const address = await app.listen({ host: "127.0.0.1", port: 0 }); // closed with the app (afterAll)
    for (const url of ["/console/assets/../../../package.json", "/console/assets/../index.html"]) {
      const r = await rawGet(`${address}${url}`);
      const p = JSON.parse(r.body) as { status: number; code: string; title: string };
      expect([r.status, r.type, p.status, p.code, p.title], url).toEqual([403, "application/problem+json", 403, "ENT_HTTP_PATH_FORBIDDEN", "Path refused"]);
    }
  });

  it("offers a loopback chain endpoint, never a remote CHAIN_RPC_URL that may hold a provider key; CONSOLE_RPC_URL decides", async () => {
    expect((await app.inject({ url: "/console/config.json" })).json()).toEqual({ rpcUrl: "http://127.0.0.1:8545", chainId: "31337", finalityDepth: 12 });
    const remote = await appWith(dist, { CHAIN_RPC_URL: "https://mainnet.example-provider.io/v3/SECRETKEY" });
    try {
      expect((await remote.inject({ url: "/console/config.json" })).json()).toEqual({ rpcUrl: null, chainId: "31337", finalityDepth: 12 });
    } finally {
      await remote.close();
    }
    // The depth at which the service counts an anchor final, so the page's "final" is the service's.
    const chosen = await appWith(dist, { CHAIN_RPC_URL: "https://mainnet.example-provider.io/v3/SECRETKEY", CONSOLE_RPC_URL: "https://rpc.example.org", CHAIN_CONFIRMATIONS: "3" });
    try {
      expect((await chosen.inject({ url: "/console/config.json" })).json()).toEqual({ rpcUrl: "https://rpc.example.org", chainId: "31337", finalityDepth: 3 });
    } finally {
      await chosen.close();
    }
    expect(() => loadConfig({ CONSOLE_RPC_URL: "javascript:alert(1)" })).toThrow(/CONSOLE_RPC_URL/);
  });

  it("answers 503 ENT_CONSOLE_NOT_BUILT, naming the command, where the console was never built", async () => {
    const empty = await mkdtemp(path.join(tmpdir(), "entrepot-console-empty-"));
    const bare = await appWith(empty, {});
    try {
      const r = await bare.inject({ url: "/console/" });
      expect(r.statusCode).toBe(503);
      expect(r.json<{ code: string; detail: string }>()).toMatchObject({ code: "ENT_CONSOLE_NOT_BUILT", detail: expect.stringContaining("npm run build") as unknown });
    } finally {
      await bare.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});
