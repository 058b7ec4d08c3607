/**
 * `npx tsx service/db/tools/generate-migration.ts` (run from the repository root, after the
 * db:generate command): shows what the SQL migrations are missing for the current schema.prisma.
 * It applies all migrations to a throw-away in-memory PGlite, compares the resulting catalogue with
 * the schema's DMMF (service/db/catalogue.ts) and prints every difference: `+` facts the schema has
 * and the migrations do not create (write SQL for them), `-` facts the migrations create that the
 * schema no longer has. Exit code 1 when there is drift.
 *
 * Emitting the SQL itself needs Prisma's WebAssembly schema engine (npm package
 * `@prisma/schema-engine-wasm`, version matching prisma 7.10.1), which is not installed here; until
 * it is, write migrations by hand in Prisma's style (see migrations/20261124143000_init) and use
 * this tool and `npx vitest run test/db` to prove they match the schema.
 */
import { readFileSync } from "node:fs";
import { actualCatalogue, diffCatalogues, expectedCatalogue, type Datamodel } from "../catalogue.js";
import { openDatabase } from "../index.js";

async function main(): Promise<void> {
  const snapshot = JSON.parse(readFileSync(new URL("../generated/dmmf.json", import.meta.url), "utf8")) as { datamodel: Datamodel };
  const db = await openDatabase({ dataDir: ":memory:" });
  try {
    const diff = diffCatalogues(expectedCatalogue(snapshot.datamodel), await actualCatalogue(db.sql));
    if (diff.length === 0) {
      console.log("migrations match schema.prisma: nothing to generate");
      return;
    }
    console.log(`schema.prisma and the migrations differ (${diff.length} facts):`);
    for (const d of diff) console.log(`  ${d}`);
    process.exitCode = 1;
  } finally {
    await db.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
