/**
 * Signing secrets at rest: sealed with AES-256-GCM under SECRETS_KEY (no usable secret in the
 * table), rotatable with two live secrets (both verify until the old one expires or the rotation
 * is finished), and clear-text secrets of keys issued before encryption sealed at boot,
 * idempotently, also after a change of SECRETS_KEY (SECRETS_KEY_PREVIOUS). On PGlite and PostgreSQL.
 */
import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../service/app.js";
import { loadConfig } from "../../service/config.js";
import { loadMigrations, migrate, openDatabase, pgConnection, pgliteConnection, type Database } from "../../service/db/index.js";
import { hashKey, newKey, newSigningSecret, type IssuedKey } from "../../service/http/auth/keys.js";
import { secretsKeyId } from "../../service/http/auth/secret-box.js";
import { createServices } from "../../service/services.js";
import { emptyPostgresDatabase, testDatabaseKinds, type DatabaseKind } from "../support/db.js";
import { capture, json, openHarness, problemCode, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();
const THIS_MIGRATION = "20261203120000_http_trust";

describe.each(kinds)("signing secrets on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ kind, programData: false });
  });
  afterAll(async () => h?.close());

  const events = "/v1/settlements/events";
  /** Reaching validation (400 on an empty body) proves the signature was accepted. Each send signs anew (its own timestamp). */
  let sends = 0;
  const signedWith = (key: IssuedKey, secret: string) => h.signedPost(events, {}, { ...key, signingSecret: secret }, { at: new Date(Date.now() - 1_000 * ++sends) });

  it("stores no usable secret: each ciphertext beside the fingerprint of the key that sealed it", async () => {
    const created = json<IssuedKey>(await h.post("/v1/admin/api-keys", { name: "sealed", scopes: ["gateway:write"], gateway: "adyen" }, h.keys.admin));
    const rows = await h.db.prisma.apiKey.findMany();
    const dump = JSON.stringify(rows);
    for (const k of [created, h.keys.admin, h.keys.gateway, h.keys.finance]) {
      expect(dump).not.toContain(k.signingSecret);
      expect(dump).not.toContain(k.signingSecret.slice(6)); // without the whsec_ prefix
      expect(dump).not.toContain(k.key.slice(17));
    }
    const row = rows.find((r) => r.id === created.id)!;
    expect(row.signingSecret).toBeNull();
    expect(row.signingSecretKeyId).toBe(secretsKeyId(h.config.secrets.key!));
    expect(row.signingSecretCiphertext).toMatch(/^[A-Za-z0-9+/]+=*$/);
    // And the sealed secret works.
    expect((await signedWith(created, created.signingSecret)).statusCode).toBe(400);
  });

  it("rotates: the new secret is shown once, both verify during the rotation, only the new one after it is finished", async () => {
    const key = await h.services.apiKeys.create({ name: "rotating", scopes: ["gateway:write"], gateway: "adyen" });
    const rotated = await h.post(`/v1/admin/api-keys/${key.id}/rotate-signing-secret`, {}, h.keys.admin);
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(rotated.headers["cache-control"]).toBe("no-store");
    const body = json<{ key: { previousSigningSecretValidUntil: string }; signingSecret: string }>(rotated);
    expect(body.signingSecret).toMatch(/^whsec_/);
    expect(body.signingSecret).not.toBe(key.signingSecret);
    const until = Date.parse(body.key.previousSigningSecretValidUntil);
    expect(until - Date.now()).toBeGreaterThan(23 * 3_600_000);
    expect(JSON.stringify(await h.db.prisma.apiKey.findUniqueOrThrow({ where: { id: key.id } }))).not.toContain(body.signingSecret);

    expect((await signedWith(key, key.signingSecret)).statusCode).toBe(400);
    expect((await signedWith(key, body.signingSecret)).statusCode).toBe(400);
    const again = await h.post(`/v1/admin/api-keys/${key.id}/rotate-signing-secret`, {}, h.keys.admin);
    expect([again.statusCode, problemCode(again)]).toEqual([409, "ENT_AUTH_ROTATION_IN_PROGRESS"]);

    const finished = await h.post(`/v1/admin/api-keys/${key.id}/finish-signing-secret-rotation`, {}, h.keys.admin);
    expect(finished.statusCode).toBe(200);
    expect(json<{ previousSigningSecretValidUntil: string | null }>(finished).previousSigningSecretValidUntil).toBeNull();
    expect(problemCode(await signedWith(key, key.signingSecret))).toBe("ENT_AUTH_SIGNATURE_INVALID");
    expect((await signedWith(key, body.signingSecret)).statusCode).toBe(400);
    // Finishing twice is harmless; a new rotation may start.
    expect((await h.post(`/v1/admin/api-keys/${key.id}/finish-signing-secret-rotation`, {}, h.keys.admin)).statusCode).toBe(200);
    expect((await h.post(`/v1/admin/api-keys/${key.id}/rotate-signing-secret`, { previousValidUntil: new Date(Date.now() + 60_000).toISOString() }, h.keys.admin)).statusCode).toBe(200);
  });

  it("stops verifying the replaced secret at its expiry", async () => {
    const key = await h.services.apiKeys.create({ name: "expiring", scopes: ["gateway:write"], gateway: "adyen" });
    const { signingSecret } = await h.services.apiKeys.rotateSigningSecret(key.id, new Date(Date.now() + 3_600_000));
    expect((await signedWith(key, key.signingSecret)).statusCode).toBe(400);
    // The expiry passes (moved into the past rather than waited for).
    await h.db.prisma.apiKey.update({ where: { id: key.id }, data: { previousSigningSecretExpiresAt: new Date(Date.now() - 1_000) } });
    h.services.apiKeys.forget(key.id);
    expect(problemCode(await signedWith(key, key.signingSecret))).toBe("ENT_AUTH_SIGNATURE_INVALID");
    expect((await signedWith(key, signingSecret)).statusCode).toBe(400);
  });

  it("refuses bad rotation windows and unknown keys; rotation is admin-only", async () => {
    const key = await h.services.apiKeys.create({ name: "windows", scopes: ["gateway:write"], gateway: "adyen" });
    const past = await h.post(`/v1/admin/api-keys/${key.id}/rotate-signing-secret`, { previousValidUntil: new Date(Date.now() - 1_000).toISOString() }, h.keys.admin);
    expect([past.statusCode, json<{ errors: Array<{ field: string }> }>(past).errors[0]?.field]).toEqual([400, "previousValidUntil"]);
    const far = await h.post(`/v1/admin/api-keys/${key.id}/rotate-signing-secret`, { previousValidUntil: new Date(Date.now() + 40 * 86_400_000).toISOString() }, h.keys.admin);
    expect(far.statusCode).toBe(400);
    expect(problemCode(await h.post("/v1/admin/api-keys/0123456789ab/rotate-signing-secret", {}, h.keys.admin))).toBe("ENT_AUTH_KEY_NOT_FOUND");
    expect(problemCode(await h.post(`/v1/admin/api-keys/${key.id}/rotate-signing-secret`, {}, h.keys.finance))).toBe("ENT_AUTH_INSUFFICIENT_SCOPE");
  });

  it("accepts a secret rotated through another instance at once, although this one cached the key", async () => {
    const other = createServices(h.db, h.config);
    const key = await h.services.apiKeys.create({ name: "cached elsewhere", scopes: ["gateway:write"], gateway: "adyen" });
    expect((await signedWith(key, key.signingSecret)).statusCode).toBe(400); // this instance caches the key
    const { signingSecret } = await other.apiKeys.rotateSigningSecret(key.id, new Date(Date.now() + 60_000));
    expect((await signedWith(key, signingSecret)).statusCode).toBe(400);
    expect((await signedWith(key, key.signingSecret)).statusCode).toBe(400);
  });

  it("refuses, with a stable code, a key sealed under a secrets key this instance does not have", async () => {
    const stranger = createServices(h.db, loadConfig({ LOG_LEVEL: "silent", SECRETS_KEY: randomBytes(32).toString("hex") }));
    const app = await buildApp({ services: stranger, config: h.config, logger: false });
    try {
      const r = await app.inject({ method: "POST", url: events, payload: "{}", headers: { "content-type": "application/json", authorization: `Bearer ${h.keys.gateway.key}` } });
      // 503 with Retry-After: another instance (that has the key) or a restart with it can answer.
      expect([r.statusCode, problemCode(r)]).toEqual([503, "ENT_AUTH_SECRETS_KEY_MISMATCH"]);
      expect(r.headers["retry-after"]).toBeDefined();
      expect(r.body).not.toContain(secretsKeyId(h.config.secrets.key!));
    } finally {
      await app.close();
    }
  });
});

/** A database migrated up to the migration before this change, as an existing deployment's is. */
async function legacyDatabase(kind: DatabaseKind): Promise<{ open(): Promise<Database>; insertLegacyKey(row: Record<string, unknown>): Promise<void>; drop(): Promise<void> }> {
  const before = (await loadMigrations()).filter((m) => m.name < THIS_MIGRATION);
  if (kind === "pglite") {
    const dir = await mkdtemp(path.join(tmpdir(), "entrepot-legacy-"));
    const lite = new PGlite(dir);
    await migrate(pgliteConnection(lite), before);
    return {
      insertLegacyKey: async (r) => {
        await lite.query(`INSERT INTO api_keys (id, name, scopes, key_hash, signing_secret) VALUES ($1, $2, $3, $4, $5)`, [r["id"], r["name"], r["scopes"], r["keyHash"], r["signingSecret"]]);
        await lite.close();
      },
      open: () => openDatabase({ dataDir: dir }),
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const empty = await emptyPostgresDatabase();
  const client = new pg.Client({ connectionString: empty.url });
  await client.connect();
  await migrate(pgConnection(client), before);
  return {
    insertLegacyKey: async (r) => {
      await client.query(`INSERT INTO api_keys (id, name, scopes, key_hash, signing_secret) VALUES ($1, $2, $3, $4, $5)`, [r["id"], r["name"], r["scopes"], r["keyHash"], r["signingSecret"]]);
      await client.end();
    },
    open: () => openDatabase({ url: empty.url }),
    drop: () => empty.drop(),
  };
}

describe.each(kinds)("keys issued before encryption and gateway binding, on %s", (kind) => {
  const key = newKey();
  const id = key.slice(4, 16);
  const secret = newSigningSecret();
  const k1 = randomBytes(32).toString("hex");
  const k2 = randomBytes(32).toString("base64");
  let legacy: Awaited<ReturnType<typeof legacyDatabase>>;
  let db: Database;
  beforeAll(async () => {
    legacy = await legacyDatabase(kind);
    await legacy.insertLegacyKey({ id, name: "old gateway", scopes: ["gateway:write"], keyHash: hashKey(key), signingSecret: secret });
    db = await legacy.open(); // applies this change's migration
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await legacy?.drop();
  });

  it("migrates an existing gateway key to no gateway, its secret still in clear until boot", async () => {
    const row = await db.prisma.apiKey.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ gateway: null, signingSecret: secret, signingSecretCiphertext: null });
  });

  it("seals clear secrets at boot, once; the gateway's signatures keep verifying; the key is refused until bound", async () => {
    const config = loadConfig({ LOG_LEVEL: "silent", SECRETS_KEY: k1 });
    const services = createServices(db, config);
    expect(await services.apiKeys.sealStoredSecrets()).toEqual({ sealed: 1 });
    expect(await services.apiKeys.sealStoredSecrets()).toEqual({ sealed: 0 });
    const row = await db.prisma.apiKey.findUniqueOrThrow({ where: { id } });
    expect(row.signingSecret).toBeNull();
    expect(row.signingSecretKeyId).toBe(secretsKeyId(config.secrets.key!));
    expect(JSON.stringify(row)).not.toContain(secret.slice(6));

    const app = await buildApp({ services, config, logger: false });
    try {
      const post = (body: unknown) => {
        const payload = JSON.stringify(body);
        return app.inject({ method: "POST", url: "/v1/settlements/events", payload, headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...signedHeadersFor(secret, payload) } });
      };
      expect(problemCode(await post(capture({ gatewayEventId: "old-1" })))).toBe("ENT_AUTH_GATEWAY_UNBOUND");
      await services.apiKeys.bindGateway(id, "adyen");
      expect((await post({})).statusCode).toBe(400); // signature accepted, empty body refused by the schema
    } finally {
      await app.close();
    }
  });

  it("re-seals under a new SECRETS_KEY while the old one is SECRETS_KEY_PREVIOUS, and refuses to boot with neither", async () => {
    const rotated = loadConfig({ LOG_LEVEL: "silent", SECRETS_KEY: k2, SECRETS_KEY_PREVIOUS: k1 });
    const services = createServices(db, rotated);
    expect(await services.apiKeys.sealStoredSecrets()).toEqual({ sealed: 1 });
    expect((await db.prisma.apiKey.findUniqueOrThrow({ where: { id } })).signingSecretKeyId).toBe(secretsKeyId(rotated.secrets.key!));
    expect((await services.apiKeys.authenticate(key)).signingSecrets.map((s) => s.secret)).toEqual([secret]);

    const wrong = createServices(db, loadConfig({ LOG_LEVEL: "silent", SECRETS_KEY: k1 }));
    await expect(wrong.apiKeys.sealStoredSecrets()).rejects.toMatchObject({ code: "ENT_AUTH_SECRETS_KEY_MISMATCH" });
  });
});

/** The documented signing scheme, computed here independently of the service's helpers. */
function signedHeadersFor(secret: string, payload: string): Record<string, string> {
  const ts = (Date.now() / 1000).toFixed(3);
  return { "entrepot-timestamp": ts, "entrepot-signature": `v1=${createHmac("sha256", secret).update(`${ts}.${payload}`, "utf8").digest("hex")}` };
}
