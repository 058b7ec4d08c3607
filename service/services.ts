/**
 * The composition root: one database, and the module services built on it with options from the
 * validated config. `app.ts` receives these already constructed (so tests and the benchmark can
 * build them on a test database) and never opens anything itself.
 */
import { openDatabase, type Database, type PrismaClient } from "./db/index.js";
import { loadMigrations } from "./db/index.js";
import { MIGRATIONS_TABLE } from "./db/migrator.js";
import { FxService, PrismaFxRepository } from "./fx/index.js";
import { createLedger } from "./ledger/index.js";
import type { Ledger } from "./ledger/types.js";
import { PrismaSettlementRepository, SettlementService } from "./settlement/index.js";
import type { Config } from "./config.js";
import { ApiKeyService, PrismaApiKeyRepository } from "./http/auth/keys.js";

export interface Readiness {
  ok: boolean;
  database: "reachable" | "unreachable";
  /** Migrations in the folder that the database has not applied (empty when ready). */
  pendingMigrations: string[];
}

export interface Services {
  databaseKind: Database["kind"];
  ledger: Ledger;
  fx: FxService;
  settlement: SettlementService;
  apiKeys: ApiKeyService;
  readiness(): Promise<Readiness>;
}

export interface OpenServices extends Services {
  close(): Promise<void>;
}

export function createServices(db: Pick<Database, "prisma" | "kind" | "sql">, config: Pick<Config, "fx">): Services {
  const ledger = createLedger(db);
  const fx = new FxService(new PrismaFxRepository(db.prisma), {
    pivot: config.fx.pivot,
    defaultMarkupBps: config.fx.defaultMarkupBps,
    quoteTtlSeconds: config.fx.quoteTtlSeconds,
    rateValiditySeconds: config.fx.rateValiditySeconds,
    ...(config.fx.maxRateAgeSeconds === undefined ? {} : { maxRateAgeSeconds: config.fx.maxRateAgeSeconds }),
  });
  const settlement = new SettlementService({ ledger, fx, repository: new PrismaSettlementRepository(db.prisma) });
  const apiKeys = new ApiKeyService(new PrismaApiKeyRepository(db.prisma));
  return { databaseKind: db.kind, ledger, fx, settlement, apiKeys, readiness: () => readiness(db.prisma) };
}

export async function openServices(config: Pick<Config, "databaseUrl" | "dataDir" | "dbPoolSize" | "fx">): Promise<OpenServices> {
  const db = config.databaseUrl !== undefined
    ? await openDatabase({ url: config.databaseUrl, poolSize: config.dbPoolSize })
    : await openDatabase({ dataDir: `${config.dataDir}/pglite` });
  return { ...createServices(db, config), close: () => db.close() };
}

async function readiness(prisma: PrismaClient): Promise<Readiness> {
  const wanted = (await loadMigrations()).map((m) => m.name);
  try {
    await prisma.$queryRawUnsafe("SELECT 1");
  } catch {
    return { ok: false, database: "unreachable", pendingMigrations: wanted };
  }
  let applied: string[] = [];
  try {
    // The migrator's bookkeeping table, read-only: reachable is not enough, the schema must be current.
    const rows = await prisma.$queryRawUnsafe<Array<{ name: string }>>(`SELECT "name" FROM "${MIGRATIONS_TABLE}"`);
    applied = rows.map((r) => r.name);
  } catch {
    applied = []; // no bookkeeping table: nothing was ever migrated
  }
  const pendingMigrations = wanted.filter((n) => !applied.includes(n));
  return { ok: pendingMigrations.length === 0, database: "reachable", pendingMigrations };
}
