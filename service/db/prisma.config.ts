// Prisma 7 configuration. Kept inside service/db (the repository's top level is fixed); always
// pass it explicitly: `prisma generate --config service/db/prisma.config.ts`.
// Migrations are NOT run by the Prisma CLI (its native schema engine cannot be downloaded here):
// they are SQL files applied by service/db/migrator.ts.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "prisma/config";

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  schema: path.join(here, "schema.prisma"),
  migrations: { path: path.join(here, "migrations") },
});
