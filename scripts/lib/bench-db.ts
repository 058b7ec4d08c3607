/**
 * Databases for the benchmarks: every PostgreSQL bench runs in a FRESH database created next to
 * the given URL and dropped afterwards, so figures never depend on leftovers; PGlite runs in memory.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, type Database } from "../../service/db/index.js";

async function admin(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Creates an empty database beside `url`; `drop()` removes it (connections forced closed). */
export async function freshPostgres(url: string, prefix = "entrepot_bench"): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString("hex")}`;
  await admin(url, `CREATE DATABASE "${name}"`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

/** An opened, migrated database: in-memory PGlite without a URL, else a fresh PostgreSQL database. */
export async function freshTarget(url: string | undefined, poolSize: number): Promise<{ db: Database; close(): Promise<void> }> {
  if (!url) {
    const db = await openDatabase({ dataDir: ":memory:" });
    return { db, close: () => db.close() };
  }
  const fresh = await freshPostgres(url);
  try {
    const db = await openDatabase({ url: fresh.url, poolSize });
    return {
      db,
      close: async () => {
        await db.close();
        await fresh.drop();
      },
    };
  } catch (e) {
    await fresh.drop();
    throw e;
  }
}
