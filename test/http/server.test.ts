import { createHmac } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../service/config.js";
import { newKey } from "../../service/http/auth/keys.js";
import { startServer, startWorkerInstance } from "../../service/server.js";

describe("server.ts", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "entrepot-server-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("bootstraps keys once on an empty key table, listens on loopback, and closes gracefully", async () => {
    const config = loadConfig({ PORT: "0", DATA_DIR: path.join(dir, "a"), DEMO: "true", LOG_LEVEL: "silent" });
    const printed: string[] = [];
    const first = await startServer(config, { printKeys: (t) => printed.push(t) });
    let finance: string;
    let gateway: [string, string];
    try {
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const text = printed.join("");
      expect(text.match(/Bearer ent_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/g)).toHaveLength(4);
      expect(text).toContain("scopes=admin");
      expect(text).toContain("scopes=gateway:write gateway=adyen");
      expect(text).toMatch(/demo auditor\s+scopes=finance:read\n/);
      expect(text).toContain("signing secrets encrypted under SECRETS_KEY");
      expect(text).not.toContain("only their hashes are stored");
      gateway = /demo gateway\s+scopes=gateway:write gateway=adyen\n\s+Authorization: Bearer (\S+)\n\s+signing secret \(Entrepot-Signature\): (\S+)/.exec(text)?.slice(1, 3) as [string, string];
      expect(gateway).toHaveLength(2);
      finance = /demo finance\s+scopes=finance:write\n\s+Authorization: Bearer (\S+)/.exec(text)?.[1] ?? "";
      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
      // ROLE=all on the embedded database: the same election, won at once (PGlite is one process).
      await until(() => first.workers?.isLeader() === true);
      expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
      const r = await fetch(`${first.url}/v1/journal/verify`, { headers: { authorization: `Bearer ${finance}` } });
      expect(r.status).toBe(200);
    } finally {
      await first.close();
    }
    await expect(fetch(`${first.url}/healthz`)).rejects.toThrow();

    // The secrets key was created in DATA_DIR, readable by its owner only.
    const keyFile = path.join(dir, "a", "secrets.key");
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    // A key issued before encryption (clear secret in the table) is sealed at the next boot.
    const lite = new PGlite(path.join(dir, "a", "pglite"));
    await lite.query(`UPDATE api_keys SET signing_secret = $1, signing_secret_ciphertext = NULL, signing_secret_key_id = NULL WHERE 'gateway:write' = ANY(scopes)`, [gateway[1]]);
    await lite.close();

    // Second start on the same data: nothing new is created or printed; the old keys still work,
    // the gateway's signing secret too (same key file), now sealed.
    const again: string[] = [];
    const second = await startServer(config, { printKeys: (t) => again.push(t) });
    try {
      expect(again).toEqual([]);
      expect((await fetch(`${second.url}/v1/journal/verify`, { headers: { authorization: `Bearer ${finance}` } })).status).toBe(200);
      const rows = await second.services.apiKeys.list();
      expect(rows.length).toBe(4);
      // Nothing left to seal: the boot did it.
      expect(await second.services.apiKeys.sealStoredSecrets()).toEqual({ sealed: 0 });
      const body = "{}";
      const ts = (Date.now() / 1000).toFixed(3);
      const signature = createHmac("sha256", gateway[1]).update(`${ts}.${body}`).digest("hex");
      const r = await fetch(`${second.url}/v1/settlements/events`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", authorization: `Bearer ${gateway[0]}`, "entrepot-timestamp": ts, "entrepot-signature": `v1=${signature}` },
      });
      expect(r.status).toBe(400); // signed correctly, refused by the schema only
    } finally {
      await second.close();
    }
  });

  it("refuses to start on PostgreSQL without SECRETS_KEY, naming the variable (before touching the database)", async () => {
    const config = loadConfig({ PORT: "0", DATABASE_URL: "postgresql://nobody@127.0.0.1:1/none", LOG_LEVEL: "silent" });
    await expect(startServer(config, { printKeys: () => undefined })).rejects.toThrow(/^invalid configuration: SECRETS_KEY is required with DATABASE_URL/);
    const file = loadConfig({ PORT: "0", DATABASE_URL: "postgresql://nobody@127.0.0.1:1/none", SECRETS_KEY_FILE: path.join(dir, "missing.key"), LOG_LEVEL: "silent" });
    await expect(startServer(file, { printKeys: () => undefined })).rejects.toThrow(/^invalid configuration: SECRETS_KEY_FILE cannot be read/);
  });

  it("uses BOOTSTRAP_ADMIN_KEY as the first admin key when given", async () => {
    const key = newKey();
    const config = loadConfig({ PORT: "0", DATA_DIR: path.join(dir, "b"), BOOTSTRAP_ADMIN_KEY: key, LOG_LEVEL: "silent" });
    const printed: string[] = [];
    const s = await startServer(config, { printKeys: (t) => printed.push(t) });
    try {
      expect(printed.join("").match(/Bearer /g)).toHaveLength(1);
      const r = await fetch(`${s.url}/v1/admin/api-keys`, { headers: { authorization: `Bearer ${key}` } });
      expect(r.status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it("ROLE=http serves the API and never takes the worker lease", async () => {
    const config = loadConfig({ PORT: "0", DATA_DIR: path.join(dir, "c"), ROLE: "http", MAINTENANCE_INTERVAL_SECONDS: "1", LOG_LEVEL: "silent" });
    const s = await startServer(config, { printKeys: () => undefined });
    try {
      expect(s.workers).toBeNull();
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
      // Nobody holds the lease: a probe takes it with the first token.
      expect(await s.services.leases.acquire("workers", "probe", 60_000)).toEqual({ acquired: true, token: 1n });
    } finally {
      await s.close();
    }
  });

  it("/readyz and /metrics report the worker lease: held by this instance, then no leader once it ends, readiness still 200", async () => {
    const config = loadConfig({ PORT: "0", DATA_DIR: path.join(dir, "e"), WORKER_LEASE_TTL_MS: "60000", LOG_LEVEL: "silent" });
    const s = await startServer(config, { printKeys: () => undefined });
    type Ready = { status: string; workers: { lease: string; status: string; expiresAt: string | null; thisInstance: boolean } };
    const ready = async () => {
      const r = await fetch(`${s.url}/readyz`);
      expect(r.status).toBe(200);
      return (await r.json()) as Ready;
    };
    const gauge = async () => /^entrepot_worker_lease_live (\d)$/m.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1];
    try {
      await until(() => s.workers?.isLeader() === true);
      const held = await ready();
      expect(held.workers).toMatchObject({ lease: "workers", status: "held", thisInstance: true });
      // Which host holds it is the logs' to say, not an unauthenticated probe's.
      expect(Object.keys(held.workers).sort()).toEqual(["expiresAt", "lease", "status", "thisInstance"]);
      expect(Date.parse(held.workers.expiresAt!)).toBeGreaterThan(Date.now());
      expect(await gauge()).toBe("1");
      // Every instance that could lead is gone (here: this one's workers stopped, the lease released).
      await s.workers!.stop();
      const none = await ready();
      expect(none.status).toBe("ready");
      expect(none.workers).toMatchObject({ lease: "workers", status: "no leader", thisInstance: false });
      expect(await gauge()).toBe("0");
    } finally {
      await s.close();
    }
  });

  it("ROLE=workers runs the workers under the lease, listens nowhere, and releases the lease on close", async () => {
    const config = loadConfig({ PORT: "0", DATA_DIR: path.join(dir, "d"), ROLE: "workers", WORKER_LEASE_TTL_MS: "60000", LOG_LEVEL: "silent" });
    await expect(startServer(config)).rejects.toThrow(/ROLE is workers/);
    const w = await startWorkerInstance(config);
    let holder: string;
    try {
      await until(() => w.workers.isLeader());
      const probe = await w.services.leases.acquire("workers", "probe", 60_000);
      expect(probe).toMatchObject({ acquired: false, token: 1n });
      holder = (probe as { holder: string }).holder;
      expect(holder).toContain(`:${process.pid}:`);
    } finally {
      await w.close();
    }
    // Released on close: the next instance takes over at once, with the next token.
    const again = await startWorkerInstance(config);
    try {
      await until(() => again.workers.isLeader());
      expect(await again.services.leases.acquire("workers", "probe", 60_000)).toMatchObject({ acquired: false, token: 2n });
    } finally {
      await again.close();
    }
  });
});

async function until(probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
