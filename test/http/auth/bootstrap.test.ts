/**
 * First start (service/http/auth/bootstrap.ts): two instances starting together on an empty
 * database both find no key; the keys are inserted only while the table is still empty, under a
 * lock, so one of them issues the set and the other prints nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bootstrapKeys } from "../../../service/http/auth/bootstrap.js";
import { ApiKeyService, PrismaApiKeyRepository, type ApiKeyRepository } from "../../../service/http/auth/keys.js";
import { newSecretsKey, SecretBox } from "../../../service/http/auth/secret-box.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../../support/db.js";
import { heldMethod } from "../../support/held.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("bootstrap keys on %s", (kind) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase(kind);
  }, 120_000);
  afterEach(async () => {
    await db?.close();
  });

  it("two first starts at once issue one set of keys: the other issues none", async () => {
    const box = new SecretBox(newSecretsKey());
    // Each instance's emptiness check answers only once both have read the table empty.
    let counted = 0;
    let bothCounted = () => {};
    const both = new Promise<void>((r) => (bothCounted = r));
    const instance = () =>
      new ApiKeyService(
        heldMethod(new PrismaApiKeyRepository(db.prisma) as ApiKeyRepository, "count", (count) => async () => {
          const n = await count();
          if (++counted === 2) bothCounted();
          await both;
          return n;
        }),
        { box },
      );
    const [a, b] = await Promise.all([instance(), instance()].map((keys) => bootstrapKeys(keys, { demo: true, demoGateway: "adyen" })));
    expect(counted).toBe(2);
    expect([a!.length, b!.length].sort()).toEqual([0, 4]);
    const rows = await db.prisma.apiKey.findMany();
    expect(rows.map((r) => r.name).sort()).toEqual(["bootstrap admin", "demo auditor", "demo finance", "demo gateway"]);
    // The keys printed are the keys stored, and they authenticate.
    const issued = a!.length > 0 ? a! : b!;
    const keys = new ApiKeyService(new PrismaApiKeyRepository(db.prisma), { box });
    for (const k of issued) expect((await keys.get(k.id)).name).toBe(k.name);
    expect(rows.find((r) => r.name === "demo gateway")?.gateway).toBe("adyen");
    expect(rows.find((r) => r.name === "bootstrap admin")?.scopes).toEqual(["admin"]);
  });

  it("a start on a database that has keys issues none", async () => {
    const keys = new ApiKeyService(new PrismaApiKeyRepository(db.prisma), { box: new SecretBox(newSecretsKey()) });
    expect(await bootstrapKeys(keys, { demo: false })).toHaveLength(1);
    expect(await bootstrapKeys(keys, { demo: true })).toEqual([]);
    expect(await keys.createFirst([{ name: "late", scopes: ["admin"] }])).toEqual([]);
    expect(await db.prisma.apiKey.count()).toBe(1);
  });
});
