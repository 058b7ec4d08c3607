/**
 * The project's own migrator (the Prisma CLI cannot run migrations here: its native schema engine
 * is not downloadable). Migrations are SQL files in Prisma's layout,
 * `migrations/<YYYYMMDDHHMMSS>_<name>/migration.sql`, applied in name order.
 *
 * All pending migrations are applied in ONE transaction holding a transaction-scoped advisory lock,
 * so two processes starting at once serialise (the second sees everything applied) and a failing
 * migration leaves the database exactly as it was. Each applied migration's sha256 is recorded; an
 * applied migration whose file changed, or vanished, is a loud error — never silently re-applied.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PROJECT_ROOT } from "../root.js";
import { DbErrors } from "./errors.js";

/** The minimum a migrator needs from a single database connection (pg client or PGlite). */
export interface SqlConnection {
  query<T extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Run a multi-statement script (simple query protocol, no parameters). */
  exec(script: string): Promise<void>;
}

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, "service", "db", "migrations");
export const MIGRATIONS_TABLE = "_entrepot_migrations";
/** Arbitrary constant key for pg_advisory_xact_lock: "ENTREPOT" as ASCII, fits in int8. */
const LOCK_KEY = "4570904863281223764";

export function checksum(sql: string): string {
  return createHash("sha256").update(sql, "utf8").digest("hex");
}

export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory() && /^\d{14}_[a-z0-9_]+$/.test(e.name))
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: checksum(sql) };
    }),
  );
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

/**
 * Applied migrations this version does not have. When every one of them sorts after this version's
 * last migration (names start with their timestamp), a newer version migrated the database: an
 * operator who rolled back the binary is told so, and that only that version or the backup taken
 * before the upgrade opens it. Otherwise a migration was removed from the folder.
 */
function unknownMigrations(unknown: string[], all: Migration[]) {
  const latest = all.reduce((max, m) => (m.name > max ? m.name : max), "");
  if (unknown.every((name) => name > latest)) {
    return DbErrors.newerVersion(
      `the database was migrated by a newer version of Entrepot: ${unknown.length} applied migration(s) after this ` +
        `version's last (${latest || "none"}), the latest ${unknown[unknown.length - 1]}; upgrades are one way: ` +
        `run that version, or restore the backup taken before the upgrade`,
      { details: { migrations: unknown, latestKnown: latest } },
    );
  }
  return DbErrors.migrationMissing(
    `migration ${unknown[0]} is recorded as applied but is not in the migrations folder` +
      (unknown.length > 1 ? ` (and ${unknown.length - 1} more)` : ""),
    { details: { migration: unknown[0], migrations: unknown } },
  );
}

export async function migrate(conn: SqlConnection, migrations?: Migration[]): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  await conn.exec("BEGIN");
  try {
    await conn.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`);
    await conn.exec(
      `CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" (
         "name" TEXT PRIMARY KEY,
         "checksum" CHAR(64) NOT NULL,
         "applied_at" TIMESTAMPTZ NOT NULL DEFAULT now())`,
    );
    const rows = await conn.query<{ name: string; checksum: string }>(
      `SELECT "name", "checksum" FROM "${MIGRATIONS_TABLE}" ORDER BY "name"`,
    );
    const byName = new Map(all.map((m) => [m.name, m]));
    const unknown = rows.filter((r) => !byName.has(r.name)).map((r) => r.name);
    if (unknown.length > 0) throw unknownMigrations(unknown, all);
    for (const row of rows) {
      const m = byName.get(row.name)!;
      if (m.checksum !== row.checksum) {
        throw DbErrors.migrationChecksum(
          `migration ${row.name} changed after it was applied (recorded sha256 ${row.checksum}, file ${m.checksum}); ` +
            `write a new migration instead (in development: recreate the database, e.g. delete .data/pglite)`,
          { details: { migration: row.name, recorded: row.checksum, file: m.checksum } },
        );
      }
    }
    const done = new Set(rows.map((r) => r.name));
    const applied: string[] = [];
    for (const m of all) {
      if (done.has(m.name)) continue;
      try {
        await conn.exec(m.sql);
      } catch (e) {
        throw DbErrors.migrationFailed(`migration ${m.name} failed: ${(e as Error).message}`, { cause: e, details: { migration: m.name } });
      }
      await conn.query(`INSERT INTO "${MIGRATIONS_TABLE}" ("name", "checksum") VALUES ($1, $2)`, [m.name, m.checksum]);
      applied.push(m.name);
    }
    await conn.exec("COMMIT");
    return { applied, alreadyApplied: [...done] };
  } catch (e) {
    await conn.exec("ROLLBACK").catch(() => undefined);
    throw e;
  }
}
