/**
 * vitest globalSetup of the integration project: builds the migrated database templates
 * (templates.ts) once, before any worker starts, so parallel workers never build them twice.
 * PostgreSQL's only when it is reachable (or REQUIRE_POSTGRES=1, which makes unreachable an error).
 */
import { postgresReachable, TEST_DATABASE_URL } from "./db.js";
import { pgliteTemplate, postgresTemplate } from "./templates.js";

export async function setup(): Promise<void> {
  await Promise.all([pgliteTemplate(), (async () => (await postgresReachable()) && (await postgresTemplate(TEST_DATABASE_URL)))()]);
}
