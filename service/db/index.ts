/**
 * Database access for every module: `openDatabase()` gives a Prisma client over embedded PGlite
 * (default: a data folder; in memory for tests) or PostgreSQL (when a URL is given), with all
 * migrations applied. Same schema, same SQL migrations, for both.
 */
import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import type pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "./generated/client.js";
import { migrate, type MigrateResult, type SqlConnection } from "./migrator.js";
import { lockDataDir } from "./dir-lock.js";
import { initdbInChild } from "./pglite-initdb.js";
import { listenPostgres, type ListenHandlers, type Listener } from "./listen.js";
import { createPool, pgliteSqlRunner, pgSqlRunner, withClient, type SqlRunner } from "./sql.js";

export { PrismaClient } from "./generated/client.js";
export { Prisma } from "./generated/client.js";
export { migrate, loadMigrations, type SqlConnection, type MigrateResult } from "./migrator.js";
export { DbErrors } from "./errors.js";
export type { SqlRunner, Statement, TxRunner } from "./sql.js";
export { lockDataDir, type DirLock } from "./dir-lock.js";
export { INT8_MAX, isNonNegativeInt8, isPositiveInt8 } from "./int8.js";

export const DEFAULT_PGLITE_DIR = ".data/pglite";

export interface OpenDatabaseOptions {
  /** PostgreSQL connection string; when absent, embedded PGlite is used. */
  url?: string;
  /** PGlite data folder (default `.data/pglite`); `":memory:"` for a throw-away in-memory database. */
  dataDir?: string;
  /**
   * PGlite only: start from this data-folder tarball (`PGlite.dumpDataDir()`) instead of an empty
   * cluster; the tests' migrated template, which skips initdb and the migrations (seconds per database).
   * Migrations still run, so a stale tarball is brought up to date (or refused) like any database.
   */
  loadDataDir?: Blob;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
}

export interface Database {
  prisma: PrismaClient;
  kind: "pglite" | "postgres";
  /** Raw SQL over the same driver, for measured hot paths only (see sql.ts). */
  sql: SqlRunner;
  /** Migrations applied by this open (empty when the database was up to date). */
  migrations: MigrateResult | null;
  /** PostgreSQL only: notifications on `channel`, on a connection of their own (listen.ts); closed with the database. */
  listen?(channel: string, handlers: ListenHandlers): Listener;
  close(): Promise<void>;
}

export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  return opts.url ? openPostgres(opts.url, opts) : openPglite(opts.dataDir ?? DEFAULT_PGLITE_DIR, opts);
}

export function pgliteConnection(db: PGlite): SqlConnection {
  return {
    query: async <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => (await db.query<T>(sql, params)).rows,
    exec: async (script: string) => {
      await db.exec(script);
    },
  };
}

export function pgConnection(client: pg.ClientBase): SqlConnection {
  return {
    query: async <T extends Record<string, unknown>>(sql: string, params?: unknown[]) => (await client.query<T>(sql, params)).rows,
    exec: async (script: string) => {
      await client.query(script);
    },
  };
}

/**
 * PGlite's PostgreSQL runs inside the process's WebAssembly memory, which only grows: every buffer
 * PostgreSQL ever touches stays resident. Sized for one embedded process (server defaults assume a
 * machine of its own): shared buffers 32 MB instead of 128, and the per-operation memories small
 * (migrations build indexes with maintenance_work_mem at every fresh start). Measured idle 10 s
 * after start (dist/server.mjs, a fresh folder): 511-586 MiB before, 414-470 MiB after.
 */
const PGLITE_MEMORY_PARAMS = ["-c", "shared_buffers=32MB", "-c", "wal_buffers=256kB", "-c", "work_mem=1MB", "-c", "maintenance_work_mem=8MB", "-c", "temp_buffers=1MB"];

async function openPglite(dataDir: string, opts: OpenDatabaseOptions): Promise<Database> {
  const memory = dataDir === ":memory:";
  // PGlite is single-process: a folder another live process has open is refused, not shared.
  const lock = memory ? null : await lockDataDir(dataDir);
  let lite: PGlite;
  let migrations: MigrateResult | null = null;
  try {
    if (!memory) await mkdir(dataDir, { recursive: true });
    if (!memory && !opts.loadDataDir) await initdbInChild(dataDir);
    const load = { startParams: [...PGlite.defaultStartParams, ...PGLITE_MEMORY_PARAMS], ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}) };
    lite = memory ? new PGlite(load) : new PGlite(dataDir, load);
    await lite.waitReady;
  } catch (e) {
    await lock?.release();
    throw e;
  }
  try {
    if (opts.migrate !== false) migrations = await migrate(pgliteConnection(lite));
  } catch (e) {
    await lite.close();
    await lock?.release();
    throw e;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(lite) });
  return {
    prisma,
    kind: "pglite",
    sql: pgliteSqlRunner(lite),
    migrations,
    close: async () => {
      await prisma.$disconnect();
      await lite.close();
      await lock?.release();
    },
  };
}

async function openPostgres(url: string, opts: OpenDatabaseOptions): Promise<Database> {
  // Hot-path statements are prepared (named) per connection to skip re-parsing; force_custom_plan
  // keeps PostgreSQL from caching a generic plan chosen while the tables were still small (a
  // sequential scan that would then stay forever as the journal grows).
  const pool = createPool({ connectionString: url, max: opts.poolSize ?? 10, options: "-c plan_cache_mode=force_custom_plan" });
  // An idle client's network error must not crash the process; the pool replaces the client.
  pool.on("error", () => undefined);
  let migrations: MigrateResult | null = null;
  try {
    if (opts.migrate !== false) migrations = await withClient(pool, (client) => migrate(pgConnection(client)));
  } catch (e) {
    await pool.end();
    throw e;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const listeners = new Set<Listener>();
  return {
    prisma,
    kind: "postgres",
    sql: pgSqlRunner(pool),
    migrations,
    listen: (channel, handlers) => {
      const l = listenPostgres(url, channel, handlers);
      listeners.add(l);
      return l;
    },
    close: async () => {
      await Promise.all([...listeners].map((l) => l.close()));
      await prisma.$disconnect();
      await pool.end();
    },
  };
}
