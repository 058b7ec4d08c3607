import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate, openDatabase } from "../../service/db/index.js";
import { pgConnection, type SqlConnection } from "../../service/db/index.js";
import { isAppError } from "../../service/errors.js";
import { emptyPostgresDatabase, freshDatabase, postgresReachable, testDatabaseKinds, type TestDatabase } from "../support/db.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("migrator on %s", (kind) => {
  // The migrator's own tests start from an empty database, never from the tests' migrated template.
  it("applies every migration once, then is a no-op", async () => {
    const db = await freshDatabase(kind, { template: false });
    try {
      const all = await loadMigrations();
      expect(db.migrations!.applied).toEqual(all.map((m) => m.name));
      const rows = await db.sql.q<Array<{ name: string; checksum: string }>>(`SELECT "name", "checksum" FROM "_entrepot_migrations" ORDER BY "name"`);
      expect(rows).toEqual(all.map((m) => ({ name: m.name, checksum: m.checksum })));
    } finally {
      await db.close();
    }
  }, 60_000);

  it("fails loudly when an applied migration changed, and rolls back a failing one", async () => {
    const db = await freshDatabase(kind, { template: false });
    try {
      const all = await loadMigrations();
      const changed = all.map((m, i) => (i === 0 ? { ...m, checksum: "0".repeat(64) } : m));
      const e1 = await runMigrate(db, changed);
      expect(isAppError(e1) && e1.code).toBe("ENT_DB_MIGRATION_CHECKSUM");
      const bad = [...all, { name: "29990101000000_bad", sql: `CREATE TABLE "zz_half" (a int); SELECT no_such_function();`, checksum: "x".repeat(64) }];
      const e2 = await runMigrate(db, bad);
      expect(isAppError(e2) && e2.code).toBe("ENT_DB_MIGRATION_FAILED");
      const left = await db.sql.q(`SELECT 1 FROM pg_class WHERE relname = 'zz_half'`);
      expect(left).toEqual([]);
      // A database a newer version migrated, opened by this one (a rolled-back binary): said as such.
      await db.sql.q(`INSERT INTO "_entrepot_migrations" ("name", "checksum") VALUES ('29990101000000_from_the_future', $1)`, "f".repeat(64));
      const e3 = await runMigrate(db, all);
      expect(isAppError(e3) && e3.code).toBe("ENT_DB_NEWER_VERSION");
      expect(isAppError(e3) && e3.details).toEqual({ migrations: ["29990101000000_from_the_future"], latestKnown: all[all.length - 1]!.name });
      expect((e3 as Error).message).toMatch(/migrated by a newer version of Entrepot.*restore the backup/);
      // One this version should have but whose file is gone: still a missing migration.
      const e4 = await runMigrate(db, all.slice(1));
      expect(isAppError(e4) && e4.code).toBe("ENT_DB_MIGRATION_MISSING");
    } finally {
      await db.close();
    }
  }, 60_000);
});

/** Run the migrator on ONE connection of the test database (a transaction needs a single session). */
async function runMigrate(db: TestDatabase, migrations: Awaited<ReturnType<typeof loadMigrations>>): Promise<unknown> {
  const client = db.url ? new pg.Client({ connectionString: db.url }) : null;
  await client?.connect();
  const conn: SqlConnection = client
    ? pgConnection(client)
    : { query: (s, p) => db.sql.q(s, ...(p ?? [])), exec: async (s) => void (await db.sql.q(s)) };
  try {
    await migrate(conn, migrations);
  } catch (e) {
    return e;
  } finally {
    await client?.end();
  }
  throw new Error("expected the migrator to fail");
}

describe.runIf(await postgresReachable())("migrator under concurrency (PostgreSQL)", () => {
  const drops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const d of drops) await d();
  });

  it("two processes starting at once: one applies, the other waits and finds it done", async () => {
    const target = await emptyPostgresDatabase();
    drops.push(() => target.drop());
    const clients = [new pg.Client({ connectionString: target.url }), new pg.Client({ connectionString: target.url })];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const results = await Promise.all(clients.map((c) => migrate(pgConnection(c))));
      const applied = results.map((r) => r.applied.length).sort();
      expect(applied[0]).toBe(0);
      expect(applied[1]).toBe((await loadMigrations()).length);
      const db = await openDatabase({ url: target.url });
      expect(db.migrations!.applied).toEqual([]);
      await db.close();
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  }, 60_000);
});
