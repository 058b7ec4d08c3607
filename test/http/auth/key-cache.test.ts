/**
 * The API key cache of one process (service/http/auth/keys.ts) against the real `api_keys` table,
 * with the table's reads held back at will and a clock of its own: a key in use is re-read ahead of
 * its expiry without a request waiting for the read, concurrent requests share one read, a key is
 * never answered from a read older than `cacheMs`, and a revocation through this process holds even
 * against a read that was under way when it was made.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiKeyService, PrismaApiKeyRepository, type ApiKeyRepository } from "../../../service/http/auth/keys.js";
import { newSecretsKey, SecretBox } from "../../../service/http/auth/secret-box.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../../support/db.js";
import { gate, heldMethod } from "../../support/held.js";

const kinds = await testDatabaseKinds();
const CACHE_MS = 1_000;

describe.each(kinds)("API key cache on %s", (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase(kind);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  /** A service over the real table whose key reads (`find`) are counted and can be held back. */
  function service() {
    const state = { reads: 0, answered: 0, ms: Date.parse("2026-01-05T10:00:00Z") };
    const answers = gate();
    const repo = heldMethod(new PrismaApiKeyRepository(db.prisma) as ApiKeyRepository, "find", (find) => async (id) => {
      state.reads++;
      const row = await find(id);
      state.answered++;
      await answers.wait(); // the answer, as read, reaches the service late
      return row;
    });
    const keys = new ApiKeyService(repo, { box: new SecretBox(newSecretsKey()), cacheMs: CACHE_MS, now: () => new Date(state.ms) });
    return { keys, state, hold: () => answers.hold() };
  }

  it("re-reads a key in use ahead of its expiry in the background: requests go on with the cached key", async () => {
    const { keys, state, hold } = service();
    const issued = await keys.create({ name: "refresh", scopes: ["finance:read"] });
    expect((await keys.authenticate(issued.key)).keyId).toBe(issued.id);
    expect(state.reads).toBe(1);

    // Concurrent first requests after a change share one read.
    keys.forget(issued.id);
    await Promise.all(Array.from({ length: 8 }, () => keys.authenticate(issued.key)));
    expect(state.reads).toBe(2);

    // Another process revokes it. At 3/4 of cacheMs a request is still answered from the cache at
    // once, while the read it started is held back, and the next one starts no second read...
    await new PrismaApiKeyRepository(db.prisma).revoke(issued.id, new Date(state.ms));
    const open = hold();
    state.ms += 800;
    expect((await keys.authenticate(issued.key)).keyId).toBe(issued.id);
    expect((await keys.authenticate(issued.key)).keyId).toBe(issued.id);
    expect(state.reads).toBe(3);

    // ...and once that read lands, the key is refused, though less than cacheMs passed since the
    // read before it.
    open();
    await vi.waitFor(async () => expect((await keys.verify(issued.key).then((v) => ("error" in v ? v.error.code : "ok")))).toBe("ENT_AUTH_REVOKED_KEY"));
    expect(state.reads).toBe(3);
  });

  it("waits for the read once the cached key is cacheMs old: never answers from an older read", async () => {
    const { keys, state, hold } = service();
    const issued = await keys.create({ name: "expiry", scopes: ["finance:read"] });
    await keys.authenticate(issued.key);
    await new PrismaApiKeyRepository(db.prisma).revoke(issued.id, new Date(state.ms));
    const open = hold();
    state.ms += CACHE_MS;
    let answer: string | null = null;
    const pending = keys.verify(issued.key).then((v) => (answer = "error" in v ? v.error.code : "ok"));
    await new Promise((r) => setTimeout(r, 50));
    expect(answer).toBeNull();
    open();
    await pending;
    expect(answer).toBe("ENT_AUTH_REVOKED_KEY");
  });

  it("keeps a revocation made through this process although a read of the key was under way", async () => {
    const { keys, state, hold } = service();
    const issued = await keys.create({ name: "race", scopes: ["finance:read"] });
    await keys.authenticate(issued.key);
    const open = hold();
    state.ms += CACHE_MS;
    // A request reads the key (held back), then an admin revokes it through this process.
    const before = keys.verify(issued.key);
    await vi.waitFor(() => expect(state.answered).toBe(2));
    await keys.revoke(issued.id);
    open();
    await before; // it started before the revocation: either answer is fair for it
    // That read saw the key unrevoked; it must not be what later requests are answered from.
    const after = await keys.verify(issued.key);
    expect("error" in after ? after.error.code : "ok").toBe("ENT_AUTH_REVOKED_KEY");
  });
});
