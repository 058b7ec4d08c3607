/**
 * What an operator reads in the log when the database fails under a request (real PostgreSQL: the
 * service's connections terminated, 57P01, and new ones refused while the database does not accept
 * connections): the 503 ENT_DB_UNAVAILABLE is one warn line with the code, the request id and the
 * driver's SQLSTATE, and no SQL, no parameters, no stack. Client errors (4xx) add no line beyond
 * Fastify's "request completed".
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../service/app.js";
import { loadConfig } from "../../service/config.js";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { createServices } from "../../service/services.js";
import { freshDatabase, type TestDatabase } from "../support/db.js";
import { problemCode } from "./harness.js";

type Line = { level: number; msg: string; reqId?: string; code?: string; sqlState?: string; err?: unknown; [k: string]: unknown };

describe("the log of a 503 for a transient database failure [PostgreSQL]", () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  let admin: pg.Client;
  let name: string;
  let finance: IssuedKey;
  const lines: Line[] = [];
  /** The same lines as written: JSON.parse keeps the last of two equal keys, the raw text shows both. */
  const raw: string[] = [];
  /** The background workers' log (the API keys' LISTEN connection reports its loss there). */
  const workerLines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];

  beforeAll(async () => {
    db = await freshDatabase("postgres");
    const url = new URL(db.url!);
    name = decodeURIComponent(url.pathname.slice(1));
    url.pathname = "/postgres";
    admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    const config = loadConfig({ LOG_LEVEL: "info", SECRETS_KEY: randomBytes(32).toString("hex") });
    const services = createServices(db, config);
    const at = (level: string) => (obj: object, msg?: string) => void workerLines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? "" });
    services.workerLog.attach({ info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") });
    finance = await services.apiKeys.create({ name: "finance", scopes: ["finance:read"] });
    app = await buildApp({
      services,
      config,
      logger: { level: "info", stream: { write: (s: string) => void (raw.push(s), lines.push(JSON.parse(s) as Line)) } },
    });
  }, 120_000);

  afterAll(async () => {
    await admin?.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`).catch(() => undefined);
    await admin?.end();
    await app?.close();
    await db?.close();
  });

  const get = (url: string) => app.inject({ method: "GET", url, headers: { authorization: `Bearer ${finance.key}` } });

  it("4xx answers add no warn or error line", async () => {
    lines.length = 0;
    expect((await get("/v1/transactions?limit=0")).statusCode).toBe(400);
    expect((await get("/v1/no-such-route")).statusCode).toBe(404);
    expect((await app.inject({ url: "/v1/transactions" })).statusCode).toBe(401);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  });

  it("a 503 ENT_DB_UNAVAILABLE is one warn line with the code, the request id and the SQLSTATE, without SQL or stack", async () => {
    expect((await get("/v1/transactions?limit=1")).statusCode).toBe(200);
    lines.length = 0;
    raw.length = 0;
    await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await get("/v1/transactions?limit=1"));
    await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);

    for (const r of answers) {
      expect(r.statusCode).toBe(503);
      expect(problemCode(r)).toBe("ENT_DB_UNAVAILABLE");
    }
    const ids = answers.map((r) => (JSON.parse(r.body) as { instance?: string; requestId?: string }).requestId ?? r.headers["x-request-id"]);
    const warns = lines.filter((l) => l.level === 40);
    expect(warns).toHaveLength(3);
    for (const [i, w] of warns.entries()) {
      expect(w).toMatchObject({ code: "ENT_DB_UNAVAILABLE", method: "GET", route: "/v1/transactions" });
      expect(typeof w.reqId).toBe("string");
      if (ids[i] !== undefined) expect(w.reqId).toBe(String(ids[i]));
      // The server's own code: 57P01 for a terminated connection, 55000 for a refused new one.
      expect(w.sqlState).toMatch(/^(57P01|55000|08[0-9A-Z]{3}|E[A-Z]+)$/);
      expect(w.err).toBeUndefined();
    }
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    // One reqId key per line (the request's logger binds it; a second one made the JSON ambiguous).
    for (const line of raw.filter((r) => r.includes('"level":40'))) expect(line.match(/"reqId":/g)).toHaveLength(1);
    const text = JSON.stringify(lines);
    expect(text).not.toMatch(/SELECT|FROM\s+"|\$1|stack/i);
    // The background side of the same outage (the API keys' notification connection, terminated
    // with 57P01) says the same code, the SQLSTATE beside it.
    await new Promise((r) => setTimeout(r, 200));
    const interrupted = workerLines.filter((l) => /notifications on .* interrupted/.test(l.msg));
    expect(interrupted).toHaveLength(1);
    expect(interrupted[0]!.obj).toMatchObject({ code: "ENT_DB_UNAVAILABLE", sqlState: "57P01", transient: true });
    // Back to normal once the database accepts connections again.
    expect((await get("/v1/transactions?limit=1")).statusCode).toBe(200);
  });
});
