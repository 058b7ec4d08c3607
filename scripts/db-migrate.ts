/**
 * `npm run db:migrate`: apply pending SQL migrations to DATABASE_URL (PostgreSQL) or, when unset,
 * to the embedded PGlite folder (PGLITE_DIR, default .data/pglite). Exits non-zero on any failure,
 * including a checksum mismatch of an already-applied migration.
 */
import { DEFAULT_PGLITE_DIR, openDatabase } from "../service/db/index.js";

async function main(): Promise<void> {
  const url = process.env["DATABASE_URL"];
  const dataDir = process.env["PGLITE_DIR"] ?? DEFAULT_PGLITE_DIR;
  const db = await openDatabase(url ? { url } : { dataDir });
  try {
    const m = db.migrations!;
    const where = url ? "PostgreSQL" : `PGlite at ${dataDir}`;
    if (m.applied.length === 0) console.log(`${where}: up to date (${m.alreadyApplied.length} migrations applied before)`);
    for (const name of m.applied) console.log(`${where}: applied ${name}`);
  } finally {
    await db.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
