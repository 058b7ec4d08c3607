/**
 * Fresh databases for tests: one per test file (or per describe block), never shared.
 * - "pglite": an in-memory PGlite loaded from the migrated template (templates.ts).
 * - "postgres": a new database created on the server at TEST_DATABASE_URL (default
 *   postgresql://postgres@127.0.0.1:5432/test) as a copy of the migrated template database, and
 *   dropped (WITH FORCE) on close.
 * Either way `openDatabase` still runs the migrator on it (a no-op that checks the checksums).
 * `{ template: false }` migrates from scratch instead: for the migrator's own tests (test/db).
 * `testDatabaseKinds()` says which kinds this run can use and prints a line when PostgreSQL is
 * unreachable, so a PGlite-only run is visible in the output (CI has PostgreSQL).
 */
import { randomBytes } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { loadMigrations, migrate, openDatabase, pgConnection, pgliteConnection, type Database, type SqlConnection } from "../../service/db/index.js";
import { pgliteTemplate, postgresTemplate } from "./templates.js";

export type DatabaseKind = "pglite" | "postgres";

export const TEST_DATABASE_URL = process.env["TEST_DATABASE_URL"] ?? "postgresql://postgres@127.0.0.1:5432/test";

export interface TestDatabase extends Database {
  /** Connection string of the fresh PostgreSQL database (so a test can open a second, independent pool). */
  url: string | null;
}

let reachable: Promise<boolean> | null = null;

export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } catch (e) {
      // CI has PostgreSQL: there, the concurrency suites must run, never skip quietly.
      if (process.env["REQUIRE_POSTGRES"] === "1") {
        throw new Error(`REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at ${redact(TEST_DATABASE_URL)}`, { cause: e });
      }
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/** The database kinds to parametrise suites over: always PGlite, plus PostgreSQL when reachable. */
export async function testDatabaseKinds(): Promise<DatabaseKind[]> {
  if (await postgresReachable()) return ["pglite", "postgres"];
  console.warn(`[test/support/db] PostgreSQL unreachable at ${redact(TEST_DATABASE_URL)}: running on PGlite ONLY`);
  return ["pglite"];
}

export interface FreshDatabaseOptions {
  poolSize?: number;
  /** Copy the migrated template (default true); false: an empty database migrated by `openDatabase`. */
  template?: boolean;
}

export async function freshDatabase(kind: DatabaseKind, opts: FreshDatabaseOptions = {}): Promise<TestDatabase> {
  const template = opts.template !== false;
  if (kind === "pglite") {
    const db = await openDatabase({ dataDir: ":memory:", ...(template ? { loadDataDir: await pgliteTemplate() } : {}) });
    return { ...db, url: null };
  }
  const name = `entrepot_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await admin(template ? `CREATE DATABASE "${name}" TEMPLATE "${await postgresTemplate(TEST_DATABASE_URL)}"` : `CREATE DATABASE "${name}"`);
  const url = databaseUrl(name);
  let db: Database;
  try {
    db = await openDatabase({ url, ...(opts.poolSize === undefined ? {} : { poolSize: opts.poolSize }) });
  } catch (e) {
    await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    throw e;
  }
  return {
    ...db,
    url,
    close: async () => {
      await db.close();
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/** An empty (unmigrated) fresh database; returns its URL and a drop function. */
export async function emptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `entrepot_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await admin(`CREATE DATABASE "${name}"`);
  return { url: databaseUrl(name), drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

/**
 * A migration's test: one session on a new database with every migration before `target` applied,
 * and `rest` to apply the others; what it opens is closed by the functions pushed on `cleanups`.
 */
export async function migratedUpTo(kind: DatabaseKind, target: string, cleanups: Array<() => Promise<void>>): Promise<{ conn: SqlConnection; rest: () => Promise<void> }> {
  const all = await loadMigrations();
  const at = all.findIndex((m) => m.name === target);
  if (at <= 0) throw new Error(`migration ${target} is not after the first one`);
  let conn: SqlConnection;
  if (kind === "postgres") {
    const empty = await emptyPostgresDatabase();
    cleanups.push(() => empty.drop());
    const client = new pg.Client({ connectionString: empty.url });
    await client.connect();
    cleanups.push(() => client.end());
    conn = pgConnection(client);
  } else {
    const lite = new PGlite();
    cleanups.push(() => lite.close());
    conn = pgliteConnection(lite);
  }
  await migrate(conn, all.slice(0, at));
  return { conn, rest: async () => void (await migrate(conn, all)) };
}

function databaseUrl(name: string): string {
  const u = new URL(TEST_DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}
