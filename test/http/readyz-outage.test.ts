/**
 * GET /readyz through a database outage: 503 saying the database is unreachable (not that every
 * migration is pending), and one log line when the outage starts and one when it ends, not an
 * error with a stack at every probe.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../service/app.js";
import { loadConfig } from "../../service/config.js";
import { createServices, type Readiness } from "../../service/services.js";
import { freshDatabase, type TestDatabase } from "../support/db.js";
import { json, problemCode } from "./harness.js";

describe("GET /readyz during a database outage", () => {
  let db: TestDatabase;
  let app: FastifyInstance;
  const lines: Array<{ level: number; msg: string; err?: unknown }> = [];
  let down = false;
  beforeAll(async () => {
    db = await freshDatabase("pglite");
    const config = loadConfig({ LOG_LEVEL: "debug" });
    const services = createServices(db, config);
    const real = services.readiness.bind(services);
    // The outage as services.readiness() reports it when SELECT 1 fails.
    services.readiness = async (): Promise<Readiness> => (down ? { ok: false, database: "unreachable", pendingMigrations: ["20261125100000_chain_sender"] } : real());
    app = await buildApp({
      services,
      config,
      logger: { level: "debug", stream: { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) } },
    });
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it("answers 503 naming the unreachable database, logs the outage once at its start and once at its end", async () => {
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(200);
    down = true;
    for (let i = 0; i < 5; i++) {
      const r = await app.inject({ url: "/readyz" });
      expect(r.statusCode).toBe(503);
      expect(problemCode(r)).toBe("ENT_HTTP_NOT_READY");
      const body = json<{ detail: string; details: Record<string, unknown> }>(r);
      expect(body.detail).toBe("the database is unreachable");
      expect(body.details).toEqual({ database: "unreachable" });
      expect(r.headers["retry-after"]).toBe("1");
    }
    down = false;
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(200);

    // pino levels: 30 info, 40 warn, 50 error.
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(lines.filter((l) => l.level >= 30 && /readiness/.test(l.msg)).map((l) => [l.level, l.msg])).toEqual([
      [40, "readiness: the database does not answer; not ready until it does"],
      [30, "readiness: the database answers again"],
    ]);
  });
});
