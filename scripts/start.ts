/**
 * `npm start`: the service on the embedded default (PGlite in `.data/`, or DATABASE_URL when
 * set), migrations applied, the demo data set loaded (idempotent: a restart books nothing twice),
 * then serves until Ctrl-C. On the first start it prints the demo API keys, once.
 *
 *   npm start                    # demo mode on (DEMO=false to skip the demo data and keys)
 *   npm start -- --new-keys      # also issue a fresh demo gateway + finance key pair and print it
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The Prisma client is generated (git-ignored), so a fresh clone has none: generate it before the
 * service modules are loaded, instead of failing on a missing import.
 */
function ensurePrismaClient(): void {
  if (existsSync(path.join(root, "service/db/generated/client.ts"))) return;
  process.stdout.write("Entrepot: generating the Prisma client (first run)\n");
  const r = spawnSync(path.join(root, "node_modules/.bin/prisma"), ["generate", "--config", "service/db/prisma.config.ts"], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    // `generate` only checks that the schema-engine binary exists; it never runs it (offline).
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env["PRISMA_SCHEMA_ENGINE_BINARY"] ?? path.join(root, "package.json") },
  });
  if (r.status !== 0) throw new Error(`prisma generate failed (exit ${r.status ?? r.signal})`);
}

async function main(): Promise<void> {
  ensurePrismaClient();
  const { loadConfig } = await import("../service/config.js");
  const { formatIssuedKeys } = await import("../service/http/auth/bootstrap.js");
  const { closeOnSignals, startServer } = await import("../service/server.js");
  const { openServices } = await import("../service/services.js");
  const { loadDemo } = await import("../service/settlement/demo.js");
  const config = loadConfig({ DEMO: "true", LOG_LEVEL: "warn", ...process.env });
  const services = await openServices(config);
  const where = config.databaseUrl === undefined ? `embedded PGlite in ${config.dataDir}/pglite` : "PostgreSQL (DATABASE_URL)";
  process.stdout.write(`Entrepot: database ready (${where})\n`);

  if (config.demo) {
    try {
      const summary = await loadDemo({ settlement: services.settlement, fx: services.fx, log: (l) => process.stdout.write(`  ${l}\n`) });
      if (summary.errors.length > 0) {
        // The demo is the first thing a newcomer sees: a refused event is a bug to surface, not hide.
        for (const e of summary.errors) process.stderr.write(`  demo event #${e.index} refused: ${e.code} ${e.message}\n`);
        throw new Error(`${summary.errors.length} demo event(s) were refused`);
      }
    } catch (e) {
      await services.close();
      throw e;
    }
  }

  const firstStartKeys: string[] = [];
  const running = await startServer(config, { services, printKeys: (t) => firstStartKeys.push(t) });
  closeOnSignals(running);

  const extra = process.argv.includes("--new-keys")
    ? [await services.apiKeys.create({ name: "demo gateway", scopes: ["gateway:write"] }), await services.apiKeys.create({ name: "demo finance", scopes: ["finance:read"] })]
    : [];

  const out = [
    "",
    `Entrepot is listening on ${running.url}`,
    `  API reference: ${running.url}/docs/`,
    `  OpenAPI:       ${running.url}/openapi.json`,
    `  Health:        ${running.url}/healthz  ${running.url}/readyz  ${running.url}/metrics`,
    ...firstStartKeys,
    ...(extra.length > 0 ? [formatIssuedKeys(extra)] : []),
    ...(firstStartKeys.length === 0 && extra.length === 0
      ? ["API keys were printed at the first start (only their hashes are stored). `npm start -- --new-keys` issues a fresh demo pair."]
      : []),
    "",
    "Ctrl-C to stop.",
    "",
  ];
  process.stdout.write(out.join("\n"));
}

main().catch((e: unknown) => {
  // A configuration error is the user's to fix: its message names the variable, no stack needed.
  const configError = e instanceof Error && e.name === "ConfigError";
  process.stderr.write(`${configError ? e.message : `npm start failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`}\n`);
  process.exit(configError ? 2 : 1);
});
