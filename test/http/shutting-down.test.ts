/**
 * A request that reaches an instance while it stops gracefully (a keep-alive connection with a
 * request still in flight, so the connection stays open while the server closes): it is answered
 * like every other error, a problem document with a stable code and Retry-After, so a client or a
 * load balancer retries it on another instance; the request in flight still completes.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../service/app.js";
import { loadConfig } from "../../service/config.js";
import { createServices } from "../../service/services.js";
import { freshDatabase, type TestDatabase } from "../support/db.js";

describe("a request during a graceful stop", () => {
  let db: TestDatabase | undefined;
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close().catch(() => undefined);
    await db?.close().catch(() => undefined);
    app = undefined;
    db = undefined;
  });

  it("is answered 503 application/problem+json, code ENT_HTTP_SHUTTING_DOWN, Retry-After: 1", { timeout: 60_000 }, async () => {
    db = await freshDatabase("pglite");
    const config = loadConfig({ LOG_LEVEL: "silent" });
    app = await buildApp({ services: createServices(db, config), config });
    const url = new URL(await app.listen({ port: 0, host: "127.0.0.1" }));

    // The embedded database runs one transaction at a time: held here, /readyz waits for it.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    const transaction = db.sql.transaction(async (tx) => {
      await tx.q("SELECT 1");
      holding();
      await gate;
    });
    await held;

    const socket = connect(Number(url.port), "127.0.0.1");
    let received = "";
    socket.on("data", (d: Buffer) => (received += d.toString()));
    const ended = new Promise<void>((r) => socket.on("close", () => r()));
    await new Promise<void>((r) => socket.once("connect", () => r()));
    socket.write("GET /readyz HTTP/1.1\r\nHost: entrepot\r\n\r\n");
    await new Promise((r) => setTimeout(r, 200));

    const closed = app.close();
    await new Promise((r) => setTimeout(r, 100));
    // The same keep-alive connection, while the server closes.
    socket.write("GET /healthz HTTP/1.1\r\nHost: entrepot\r\n\r\n");
    await new Promise((r) => setTimeout(r, 200));
    release();
    await transaction;
    await Promise.race([ended, new Promise((r) => setTimeout(r, 10_000))]);
    socket.destroy();
    await closed;
    app = undefined;

    const responses = received.split(/(?=HTTP\/1\.1 )/);
    expect(responses).toHaveLength(2);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 200 /);
    const second = responses[1]!;
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(second).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    expect(second).toMatch(/\r\nretry-after: 1\r\n/i);
    // And the connection is not kept for another request to this instance.
    expect(second).toMatch(/\r\nconnection: close\r\n/i);
    const body = JSON.parse(second.slice(second.indexOf("\r\n\r\n") + 4)) as { code: string; status: number; detail: string };
    expect(body).toMatchObject({ code: "ENT_HTTP_SHUTTING_DOWN", status: 503 });
    expect(body.detail).toMatch(/shutting down: retry the request/);
  });
});
