/**
 * Migrated templates, so a test database is a copy instead of a fresh migration (measured here: a
 * fresh in-memory PGlite ~1.4 s for initdb + 12 migrations, a copy of the migrated data folder
 * ~0.35 s; PostgreSQL CREATE + migrate ~0.3 s, CREATE ... TEMPLATE ~0.05 s).
 *
 * Both are keyed by a hash of the migration files (and, for PGlite, its version: the data folder is
 * its Postgres build's on-disk format), so a changed migration gets a new template and an old one is
 * never used by mistake.
 * - PGlite: one PGlite is migrated and `dumpDataDir()`-ed to node_modules/.cache/entrepot-test/
 *   pglite-<key>.tar (written to a temporary name, then renamed: concurrent builders never expose a
 *   half-written file). Each process reads it once; every fresh PGlite loads it.
 * - PostgreSQL: database `entrepot_template_<key>`, built under a session advisory lock (one builder
 *   at a time, across vitest workers and concurrent runs) as `..._building`, marked IS_TEMPLATE and
 *   ALLOW_CONNECTIONS false, then renamed (the final name is the "ready" mark). CREATE DATABASE ...
 *   TEMPLATE fails while anyone is connected to the template; nobody can connect to this one, so
 *   concurrent copies never collide.
 *   Templates of older migration sets stay on the server (a few MB each; other checkouts may still
 *   use them): test/README.md says how to drop them.
 * The vitest globalSetup (global-setup.ts) builds both before any worker starts; a process that
 * finds one missing builds it itself, so a single file run outside that setup still works.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { loadMigrations, migrate, pgConnection, pgliteConnection } from "../../service/db/index.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CACHE_DIR = path.join(ROOT, "node_modules", ".cache", "entrepot-test");
/** Session advisory lock key of the template builder: "ENTTPL01" as ASCII, fits in int8. */
const BUILD_LOCK_KEY = "4994002622226755633";

let migrationsKey: Promise<string> | null = null;

/** sha256 over every migration's name and checksum, shortened: the templates' key. */
export function templateKey(): Promise<string> {
  migrationsKey ??= (async () => {
    const h = createHash("sha256");
    for (const m of await loadMigrations()) h.update(`${m.name}\u0000${m.checksum}\n`);
    return h.digest("hex").slice(0, 16);
  })();
  return migrationsKey;
}

async function pgliteVersion(): Promise<string> {
  // The package does not export its package.json; read the installed one.
  const pkg = JSON.parse(await readFile(path.join(ROOT, "node_modules", "@electric-sql", "pglite", "package.json"), "utf8")) as { version: string };
  return pkg.version;
}

let pgliteBlob: Promise<Blob> | null = null;

/** The migrated PGlite data folder as a tarball, built (and cached on disk) when missing. */
export function pgliteTemplate(): Promise<Blob> {
  pgliteBlob ??= (async () => {
    const file = path.join(CACHE_DIR, `pglite-${await pgliteVersion()}-${await templateKey()}.tar`);
    try {
      return new Blob([await readFile(file)]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const lite = new PGlite();
    let blob: Blob;
    try {
      await migrate(pgliteConnection(lite));
      // Uncompressed: loading a gzipped dump took ~0.55 s against ~0.35 s, for every database.
      blob = await lite.dumpDataDir("none");
    } finally {
      await lite.close();
    }
    await mkdir(CACHE_DIR, { recursive: true });
    // Older migration sets' tarballs are ~40 MB each and never read again.
    for (const old of await readdir(CACHE_DIR)) {
      if (old.startsWith("pglite-") && old.endsWith(".tar") && path.join(CACHE_DIR, old) !== file) await rm(path.join(CACHE_DIR, old), { force: true });
    }
    const partial = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.partial`;
    await writeFile(partial, new Uint8Array(await blob.arrayBuffer()));
    await rename(partial, file);
    return blob;
  })();
  pgliteBlob.catch(() => {
    pgliteBlob = null;
  });
  return pgliteBlob;
}

const postgresTemplates = new Map<string, Promise<string>>();

/** Name of the migrated template database on the server at `adminUrl`, built when missing. */
export function postgresTemplate(adminUrl: string): Promise<string> {
  let name = postgresTemplates.get(adminUrl);
  if (!name) {
    name = buildPostgresTemplate(adminUrl);
    postgresTemplates.set(adminUrl, name);
    name.catch(() => postgresTemplates.delete(adminUrl));
  }
  return name;
}

async function buildPostgresTemplate(adminUrl: string): Promise<string> {
  const name = `entrepot_template_${await templateKey()}`;
  const building = `${name}_building`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // Session lock: released by the server if this process dies mid-build.
    await admin.query(`SELECT pg_advisory_lock(${BUILD_LOCK_KEY})`);
    const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name]);
    if (exists.rowCount === 1) return name;
    // A builder killed before its rename left this behind.
    await admin.query(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${building}"`);
    const u = new URL(adminUrl);
    u.pathname = `/${building}`;
    const client = new pg.Client({ connectionString: u.toString() });
    await client.connect();
    try {
      await migrate(pgConnection(client));
    } finally {
      await client.end();
    }
    await admin.query(`ALTER DATABASE "${building}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    // The final name appears only now, complete: its existence is the "ready" mark.
    await admin.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
    return name;
  } finally {
    await admin.end();
  }
}
