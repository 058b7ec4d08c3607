/**
 * Boot failures an operator meets when starting several instances, each reported in one line naming
 * the variable to fix (never a stack, never a password):
 *  - DATABASE_URL unparsable (checked at config time), unreachable, naming a database or role that
 *    does not exist: `cannot open PostgreSQL at user@host:port/database: <reason>`;
 *  - HOST that cannot be bound;
 *  - an instance that may run the workers, without CHAIN_RPC_URL, on a database already anchoring on
 *    a chain: it would take the worker lease and run them without anchoring, so it does not boot.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../service/config.js";
import { openInstanceServices, startServer, startWorkerInstance } from "../../service/server.js";
import { createServices, type OpenServices } from "../../service/services.js";
import { freshDatabase, postgresReachable, TEST_DATABASE_URL, type TestDatabase } from "../support/db.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SECRETS_KEY = randomBytes(32).toString("hex");
const PASSWORD = "hunter2-not-shown";
const pg = await postgresReachable();

/** `DATABASE_URL` on the test server, with a password that must never be printed. */
function testServerUrl(database: string, user?: string): string {
  const u = new URL(TEST_DATABASE_URL);
  u.pathname = `/${database}`;
  if (user !== undefined) u.username = user;
  u.password = PASSWORD;
  return u.toString();
}

async function bootError(env: Record<string, string>): Promise<string> {
  const config = loadConfig({ PORT: "0", LOG_LEVEL: "silent", SECRETS_KEY, ...env });
  const e = await startServer(config, { printKeys: () => undefined }).then(
    async (s) => {
      await s.close();
      return null;
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConfigError);
  return (e as ConfigError).message;
}

describe("DATABASE_URL at boot", () => {
  it("refuses at config time a URL the driver cannot parse (a port that is not a number), without the value", () => {
    const url = `postgresql://app:${PASSWORD}@db.internal:54x2/ledger`;
    expect(() => loadConfig({ DATABASE_URL: url })).toThrow(/^invalid configuration: DATABASE_URL is not a valid URL \(check the port is a number/);
    try {
      loadConfig({ DATABASE_URL: url });
    } catch (e) {
      expect(String(e)).not.toContain(PASSWORD);
    }
    expect(() => loadConfig({ DATABASE_URL: "postgresql://app@db.internal:99999/ledger" })).toThrow(/^invalid configuration: DATABASE_URL is not a valid URL/);
    expect(loadConfig({ DATABASE_URL: "postgresql:///ledger?host=/var/run/postgresql" }).databaseUrl).toBe("postgresql:///ledger?host=/var/run/postgresql");
  });

  it("names DATABASE_URL, host:port and database when nothing listens there, never the password", async () => {
    const message = await bootError({ DATABASE_URL: `postgresql://app:${PASSWORD}@127.0.0.1:5999/ledger` });
    expect(message).toMatch(/^invalid configuration: DATABASE_URL cannot open PostgreSQL at app@127\.0\.0\.1:5999\/ledger: connect ECONNREFUSED 127\.0\.0\.1:5999/);
    expect(message).not.toContain(PASSWORD);
    expect(message).not.toContain("\n");
  });

  it.runIf(pg)("names DATABASE_URL when the database does not exist [PostgreSQL]", async () => {
    const name = `entrepot_missing_${randomBytes(4).toString("hex")}`;
    const message = await bootError({ DATABASE_URL: testServerUrl(name) });
    expect(message).toMatch(new RegExp(`^invalid configuration: DATABASE_URL cannot open PostgreSQL at \\S+@\\S+:\\d+/${name}: database "${name}" does not exist$`));
    expect(message).not.toContain(PASSWORD);
  });

  it.runIf(pg)("names DATABASE_URL when the role does not exist [PostgreSQL]", async () => {
    const message = await bootError({ DATABASE_URL: testServerUrl("postgres", "nouser") });
    // Trust authentication says the role does not exist; password authentication that it failed.
    expect(message).toMatch(/^invalid configuration: DATABASE_URL cannot open PostgreSQL at nouser@\S+:\d+\/postgres: (role "nouser" does not exist|password authentication failed for user "nouser")$/);
    expect(message).not.toContain(PASSWORD);
  });

  it("node service/server.ts prints one line naming DATABASE_URL and exits 2 (no stack trace)", { timeout: 60_000 }, async () => {
    const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), ["service/server.ts"], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"], DATABASE_URL: `postgresql://app:${PASSWORD}@127.0.0.1:5999/x`, SECRETS_KEY, PORT: "0", LOG_LEVEL: "silent" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(err).toMatch(/^failed to start: invalid configuration: DATABASE_URL cannot open PostgreSQL at app@127\.0\.0\.1:5999\/x: connect ECONNREFUSED 127\.0\.0\.1:5999 \(is PostgreSQL running there\?\)\n$/);
    expect(err).not.toContain(PASSWORD);
    expect(code).toBe(2);
  });
});

describe("HOST at boot", () => {
  it("refuses at config time four dotted numbers that are no IPv4 address", () => {
    expect(() => loadConfig({ HOST: "999.1.1.1" })).toThrow(/^invalid configuration: HOST must be a host name or IP address, got "999\.1\.1\.1"/);
  });

  it("names HOST when it cannot be bound", async () => {
    const db = await freshDatabase("pglite");
    const config = loadConfig({ PORT: "0", LOG_LEVEL: "silent", HOST: "no-such-host.invalid", ROLE: "http" });
    await expect(startServer(config, { services: open(db, config), printKeys: () => undefined })).rejects.toThrow(
      /^invalid configuration: HOST no-such-host\.invalid does not resolve \(E[A-Z_]+\): set HOST to an address of this machine/,
    );
  });
});

describe("an instance without CHAIN_RPC_URL on a database that anchors on a chain", () => {
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.close().catch(() => undefined);
    db = undefined;
  });

  const tie = async (d: TestDatabase) => {
    await d.sql.q(`INSERT INTO chain_sender_chains (chain_id, genesis_hash) VALUES (31337, $1)`, `0x${"ab".repeat(32)}`);
  };
  const ANCHORS = /^invalid configuration: CHAIN_RPC_URL is not set, and this database anchors on chain 31337: set CHAIN_RPC_URL \(with that chain's deployment record in DEPLOYMENTS_DIR\), or ROLE=http$/;

  it("ROLE=all and ROLE=workers refuse to boot, naming CHAIN_RPC_URL, and never stand for the worker lease", async () => {
    db = await freshDatabase("pglite");
    await tie(db);
    const all = loadConfig({ PORT: "0", LOG_LEVEL: "silent" });
    await expect(startServer(all, { services: open(db, all, false), printKeys: () => undefined })).rejects.toThrow(ANCHORS);
    const workers = loadConfig({ ROLE: "workers", LOG_LEVEL: "silent" });
    await expect(startWorkerInstance(workers, { services: open(db, workers, false) })).rejects.toThrow(ANCHORS);
    // Nobody took the lease: the instance with the chain takes it with the first token.
    expect(await createServices(db, all).leases.acquire("workers", "probe", 60_000)).toEqual({ acquired: true, token: 1n });
  });

  it("ROLE=http boots (it serves the API; its proofs answer 503 without a chain)", async () => {
    db = await freshDatabase("pglite");
    await tie(db);
    const http = loadConfig({ PORT: "0", LOG_LEVEL: "silent", ROLE: "http" });
    const s = await startServer(http, { services: open(db, http, false), printKeys: () => undefined });
    try {
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it("boots on a database that never anchored", async () => {
    db = await freshDatabase("pglite");
    const workers = loadConfig({ ROLE: "workers", LOG_LEVEL: "silent" });
    const w = await startWorkerInstance(workers, { services: open(db, workers, false) });
    await w.close();
  });

  it("openInstanceServices passes other errors through unchanged", async () => {
    const config = loadConfig({ LOG_LEVEL: "silent", DATABASE_URL: "postgresql://app@127.0.0.1:5999/x" });
    // No SECRETS_KEY with DATABASE_URL: the secrets key's own error, before the database is touched.
    await expect(openInstanceServices(config)).rejects.toThrow(/^invalid configuration: SECRETS_KEY is required/);
  });
});

/** Services on `db` as server.ts opens them; `closeDb` false leaves the database to the test. */
function open(db: TestDatabase, config: ReturnType<typeof loadConfig>, closeDb = true): OpenServices {
  const services = createServices(db, config);
  return {
    ...services,
    close: async () => {
      services.webhooks.close();
      if (closeDb) await db.close();
    },
  };
}
