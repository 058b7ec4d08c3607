/**
 * The composition root: one database, optionally one chain, and the module services built on them
 * with options from the validated config. `app.ts` receives these already constructed (so tests
 * and the benchmark can build them on a test database) and never opens anything itself; the
 * background workers are started by `server.ts` (`startWorkers`).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { openDatabase, type Database, type PrismaClient } from "./db/index.js";
import { loadMigrations } from "./db/index.js";
import { sqlState } from "./db/errors.js";
import { MIGRATIONS_TABLE } from "./db/migrator.js";
import { AnchorService } from "./anchoring/index.js";
import { PeriodClosing } from "./closing.js";
import { bindDeployment, type BindingOptions, type BoundDeployment } from "./chain/binding.js";
import { ChainIndexer } from "./chain/indexer/index.js";
import { connectChain, type ChainConnection } from "./chain/runtime.js";
import { TxSender } from "./chain/sender.js";
import { WorkerLog } from "./worker-log.js";
import { currentFence, instanceId, LeaseStore } from "./leader/index.js";
import type { DeploymentRecord } from "./chain/deployment-record.js";
import { FxService, PrismaFxRepository } from "./fx/index.js";
import { createLedger } from "./ledger/index.js";
import type { Ledger } from "./ledger/types.js";
import { BankRail, PayoutService } from "./payouts/index.js";
import { CashReconciliation } from "./cash/index.js";
import { ReconciliationService, ReconRepository } from "./reconciliation/index.js";
import { FxRealisation, PrismaSettlementRepository, SettlementService } from "./settlement/index.js";
import { PrismaStorageRepository } from "./settlement/storage-repository.js";
import { StorageBilling } from "./settlement/storage-service.js";
import { DEFAULT_MAX_AMOUNT_MINOR, maxAmountFor } from "./settlement/validate.js";
import { STABLECOIN_CURRENCY, tokenDecimalsOf, TreasuryService, type TokenDecimals } from "./treasury/index.js";
import type { Config } from "./config.js";
import { ApiKeyService, PrismaApiKeyRepository } from "./http/auth/keys.js";
import { newSecretsKey, SecretBox } from "./http/auth/secret-box.js";
import { resolveSecretsKey } from "./http/auth/secrets-key.js";
import { ConsoleSessions, PrismaSessionRepository } from "./http/auth/sessions.js";
import { DatabaseReplayGuard, type ReplayGuard } from "./http/shared-state/replay-claims.js";
import { WindowCounters } from "./http/shared-state/window-counters.js";
import { WebhookService } from "./webhooks/index.js";
import { exponentOrNull, type ExponentOf } from "./money/index.js";

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
  /** Gateway remittances (realised FX) and revaluations of open FX positions. */
  realisation: FxRealisation;
  /** Warehouse stock snapshots and storage billed per period by volume x days. */
  storage: StorageBilling;
  apiKeys: ApiKeyService;
  /** Web console sessions (an API key exchanged for a cookie), shared by every instance through the database. */
  sessions: ConsoleSessions;
  /** What every instance on the database shares at the HTTP edge: signature claims, rate and failure counters. */
  sharedState: { replay: ReplayGuard; counters: WindowCounters };
  /** Payouts through the bank rail (pain.001 / camt.054); absent without `config.bank` (tests; routes then answer 503). */
  bank?: BankRail;
  /** The platform's bank statements (camt.053) reconciled against remittances and bank payouts. */
  cash: CashReconciliation;
  /** Payouts through the vault; absent when no chain is configured (routes then answer 503). */
  payouts?: PayoutService;
  /** The vault's funding and claims booked in the ledger; absent when no chain is configured. */
  treasury?: TreasuryService;
  /** Anchoring of the journal on chain (proofs, batches); absent when no chain is configured (routes then answer 503). */
  anchoring?: AnchorService;
  /** Gateway report reconciliation; without a chain, runs skip the chain check and digests are not anchored. */
  reconciliation?: ReconciliationService;
  /** Period closes with their reports, anchored when a chain is configured. */
  closing: PeriodClosing;
  /** The chain side, when CHAIN_RPC_URL is configured. */
  chain?: ChainServices;
  /** Webhook endpoints and the delivery worker (the outbox is written by database triggers). */
  webhooks: WebhookService;
  /** Where the background workers log; `server.ts` points it at the app's logger. */
  workerLog: WorkerLog;
  /** Each ledger asset's exponent for major units in exports: ISO 4217's, or the token's decimals once read from the chain. */
  exponentOf: ExponentOf;
  /** The worker leader's lease (service/leader): which instance on this database runs the workers. */
  leases: LeaseStore;
  /** This process's name as a worker lease holder (host:pid:random): readiness tells whether it leads. */
  instanceId: string;
  readiness(): Promise<Readiness>;
}

export interface ChainServices extends Omit<ChainConnection, "close"> {
  sender: TxSender;
  indexer: ChainIndexer;
  /** The payout token's decimals: the vault's bookings and the exponent of the ledger's USDC. */
  tokenDecimals: TokenDecimals;
  /** Records this deployment for the chain on a new database, or checks it against the recorded one (chain/binding.ts). */
  bindDeployment(opts: BindingOptions): Promise<BoundDeployment>;
}

/** Where the `api_keys` trigger announces a changed key's id. */
const API_KEYS_CHANNEL = "entrepot_api_keys";

/** Without configuration (tests, benches): loopback receivers allowed, 10 s timeout. */
const DEFAULT_WEBHOOKS: Config["webhooks"] = { allowPrivate: true, timeoutMs: 10_000, maxInFlight: 64, maxPerEndpoint: 16, maxPerOwner: 16, pollIntervalMs: 250, retryDelaysMs: undefined, retentionDays: 30 };

export interface OpenServices extends Services {
  close(): Promise<void>;
}

/**
 * `config.secrets.key` seals the API keys' signing secrets; without one (tests and benches on a
 * throw-away database) a random key serves this process only. `openServices`, the production
 * path, always resolves a persistent key first (http/auth/secrets-key.ts).
 */
export function createServices(
  db: Pick<Database, "prisma" | "kind" | "sql" | "listen">,
  config: Pick<Config, "fx"> & Partial<Pick<Config, "chain" | "secrets" | "auth" | "settlement" | "webhooks" | "bank" | "http">>,
  connection?: ChainConnection,
): Services {
  const ledger = createLedger(db);
  const fx = new FxService(new PrismaFxRepository(db.prisma), {
    pivot: config.fx.pivot,
    defaultMarkupBps: config.fx.defaultMarkupBps,
    quoteTtlSeconds: config.fx.quoteTtlSeconds,
    rateValiditySeconds: config.fx.rateValiditySeconds,
    ...(config.fx.maxRateAgeSeconds === undefined ? {} : { maxRateAgeSeconds: config.fx.maxRateAgeSeconds }),
  });
  const settlement = new SettlementService({
    ledger,
    fx,
    repository: new PrismaSettlementRepository(db.prisma, db.sql),
    ...(config.settlement === undefined ? {} : { limits: { ...config.settlement, now: () => new Date() } }),
  });
  const realisation = new FxRealisation(ledger, fx, () => new Date(), config.settlement?.maxAgeMs);
  const storage = new StorageBilling({ repository: new PrismaStorageRepository(db.prisma), settlement });
  const box = new SecretBox(config.secrets?.key ?? newSecretsKey(), config.secrets?.previousKeys ?? []);
  const apiKeys = new ApiKeyService(new PrismaApiKeyRepository(db.prisma), { box });
  const sessions = new ConsoleSessions(new PrismaSessionRepository(db.prisma), apiKeys, { idleTimeoutSeconds: config.auth?.consoleSessionIdleSeconds ?? 1_800 });
  const sharedState = {
    replay: new DatabaseReplayGuard(db.sql, (config.auth?.replayWindowSeconds ?? 300) * 1000),
    counters: new WindowCounters(db.sql),
  };
  const workerLog = new WorkerLog();
  // A key revoked, rotated or bound through any instance is forgotten here at its commit (the
  // `api_keys` trigger of migration 20261216100000_api_key_notify), not up to 5 s later.
  db.listen?.(API_KEYS_CHANNEL, { onNotify: (id) => apiKeys.forget(id), onGap: () => apiKeys.forgetAll(), log: workerLog.child("api-keys") });
  const chain = connection === undefined || config.chain === undefined ? undefined : chainServices(db, config.chain, connection, workerLog);
  const anchoring =
    chain === undefined || config.chain === undefined
      ? undefined
      : new AnchorService({
          sql: db.sql,
          ledger,
          provider: chain.provider,
          chainId: chain.chainId,
          anchor: chain.record.contracts.SettlementAnchor.address,
          sender: chain.sender,
          anchorer: chain.keys.anchorer.address,
          indexer: chain.indexer,
          batchMaxCount: config.chain.anchorBatchMaxCount,
          batchMaxAgeMs: config.chain.anchorBatchMaxAgeSeconds * 1000,
          log: workerLog.child("anchoring"),
        });
  const leases = new LeaseStore(db.sql);
  const bank =
    config.bank === undefined
      ? undefined
      : new BankRail({
          sql: db.sql,
          ledger,
          sellers: settlement,
          leases,
          debtor: { ...config.bank.account, clearingSystem: null, clearingMember: null },
          instruction: config.bank.instruction,
          outbox: config.bank.outbox,
          inbox: config.bank.inbox,
          minAmount: config.bank.minAmount,
          owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
          rates: fx,
          log: workerLog.child("bank"),
        });
  // A seller with a bank account is paid by the bank rail only.
  const vaultSellers = bank === undefined ? settlement : { listSellers: async () => bank.vaultSellers(await settlement.listSellers()) };
  const payouts =
    chain === undefined || config.chain === undefined
      ? undefined
      : new PayoutService({
          sql: db.sql,
          ledger,
          fx,
          sellers: settlement,
          payable: vaultSellers,
          chain: { chainId: chain.chainId, provider: chain.provider, record: chain.record, sender: chain.sender, index: chain.indexer, payer: chain.keys.payer.address },
          minAmount: config.chain.payoutMinAmount,
          maxPerBatch: config.chain.payoutMaxPerBatch,
          intervalMs: config.chain.payoutIntervalSeconds * 1000,
          tokenDecimals: chain.tokenDecimals,
          log: workerLog.child("payouts"),
        });
  const treasury =
    chain === undefined || payouts === undefined
      ? undefined
      : new TreasuryService({
          sql: db.sql,
          ledger,
          chain: { chainId: chain.chainId, provider: chain.provider, record: chain.record, index: chain.indexer },
          claimants: payouts,
          tokenDecimals: chain.tokenDecimals,
          log: workerLog.child("treasury"),
        });
  if (chain !== undefined && anchoring !== undefined && payouts !== undefined) {
    chain.indexer.onChange((c) => anchoring.onIndexed(c));
    chain.indexer.onChange((c) => payouts.onIndexed(c));
  }
  // Without the AnchorService, runs skip the chain check and their digests are not anchored.
  // An adjusting entry moves no more than an event may (MAX_AMOUNT_MINOR, per currency).
  const maxAmount = (currency: string) => (config.settlement === undefined ? DEFAULT_MAX_AMOUNT_MINOR : maxAmountFor({ maxAmountMinor: config.settlement.maxAmountMinor }, currency));
  const maxAgeMs = config.settlement?.maxAgeMs;
  const reconciliation = new ReconciliationService({
    repository: new ReconRepository(db.sql),
    settlement,
    ledger,
    chain: anchoring ?? null,
    maxAmount,
    ...(maxAgeMs === undefined ? {} : { maxAgeMs }),
    ...(config.http === undefined ? {} : { maxImportBytes: config.http.importLimit }),
  });
  const webhooks = new WebhookService({ sql: db.sql, box, config: config.webhooks ?? DEFAULT_WEBHOOKS, catalogue: settlement, dispatcher: { log: workerLog.child("webhooks") } });
  const closing = new PeriodClosing(ledger, anchoring ?? null, realisation, () => new Date(), config.fx.closeMaxRateAgeDays * 86_400_000);
  return {
    databaseKind: db.kind,
    ledger,
    fx,
    settlement,
    apiKeys,
    sessions,
    sharedState,
    ...(payouts === undefined ? {} : { payouts }),
    ...(bank === undefined ? {} : { bank }),
    cash: new CashReconciliation({ sql: db.sql, ledger, account: config.bank?.account ?? null, maxAmount, ...(maxAgeMs === undefined ? {} : { maxAgeMs }), ...(bank === undefined ? {} : { bankPayouts: bank }) }),
    ...(treasury === undefined ? {} : { treasury }),
    ...(anchoring === undefined ? {} : { anchoring }),
    reconciliation,
    closing,
    realisation,
    storage,
    ...(chain === undefined ? {} : { chain }),
    webhooks,
    workerLog,
    exponentOf: assetExponents(chain?.tokenDecimals),
    leases,
    instanceId: instanceId(),
    readiness: () => readiness(db.prisma),
  };
}

function chainServices(db: Pick<Database, "sql">, config: Config["chain"], connection: ChainConnection, log: WorkerLog): ChainServices {
  const { provider, chainId, record, keys } = connection;
  const sender = new TxSender({
    sql: db.sql,
    provider,
    chainId,
    signers: [keys.anchorer, keys.payer],
    stuckAfterMs: config.stuckAfterSeconds * 1000,
    feeBumpPercent: config.feeBumpPercent,
    reorgDepth: config.confirmations,
    record,
    log: log.child("sender"),
    // A worker leader's calls carry its term's fence; an operator's route calls carry none.
    fence: currentFence,
  });
  const indexer = new ChainIndexer({
    sql: db.sql,
    provider,
    record,
    confirmations: config.confirmations,
    safeDepth: config.safeDepth,
    log: log.child("indexer"),
  });
  return {
    provider,
    chainId,
    record,
    keys,
    rpcStatus: () => connection.rpcStatus(),
    sender,
    indexer,
    tokenDecimals: tokenDecimalsOf({ record, provider }),
    bindDeployment: (opts) => bindDeployment(db.sql, record, opts),
  };
}

/**
 * ISO 4217's exponents, and the stablecoin's decimals once read. Asked for USDC before they are
 * known, it answers null (exports leave the major amount empty) and starts a read in the background.
 */
function assetExponents(token: TokenDecimals | undefined): ExponentOf {
  return (code) => {
    if (code !== STABLECOIN_CURRENCY || token === undefined) return exponentOrNull(code);
    if (token.known === null) token.read().catch(() => undefined);
    return token.known;
  };
}

/**
 * Opens the database (and the chain when configured) and builds the services. The secrets key is
 * resolved first, so a missing one stops the boot before anything opens; `localSecretsKey` lets
 * `npm start` keep a key file in DATA_DIR even with DATABASE_URL (its stack is local).
 * `deployment`: the record to use instead of reading `DEPLOYMENTS_DIR` (npm start hands over the
 * one it just deployed, which another stack started at the same time may have overwritten on disk).
 */
export async function openServices(
  config: Pick<Config, "databaseUrl" | "dataDir" | "dbPoolSize" | "fx" | "chain" | "secrets" | "auth"> & Partial<Pick<Config, "settlement" | "webhooks" | "bank" | "http">>,
  opts: { deployment?: DeploymentRecord; localSecretsKey?: boolean } = {},
): Promise<OpenServices> {
  const secrets = await resolveSecretsKey(config, { createLocal: opts.localSecretsKey === true });
  const withKey = { ...config, secrets: { ...config.secrets, key: secrets.key } };
  const { rpcUrl } = config.chain;
  const connection = rpcUrl === undefined ? undefined : await connectChain({ ...config.chain, rpcUrl, ...(opts.deployment === undefined ? {} : { record: opts.deployment }) });
  try {
    const db = config.databaseUrl !== undefined
      ? await openDatabase({ url: config.databaseUrl, poolSize: config.dbPoolSize })
      : await openDatabase({ dataDir: `${config.dataDir}/pglite` });
    const services = createServices(db, withKey, connection);
    return {
      ...services,
      close: async () => {
        services.webhooks.close();
        await db.close();
        connection?.close();
      },
    };
  } catch (e) {
    connection?.close();
    throw e;
  }
}

/** SQLSTATE undefined_table. */
const UNDEFINED_TABLE = "42P01";

/** What /readyz says of the database (exported for its test). */
export async function readiness(prisma: Pick<PrismaClient, "$queryRawUnsafe">): Promise<Readiness> {
  const wanted = (await loadMigrations()).map((m) => m.name);
  try {
    await prisma.$queryRawUnsafe("SELECT 1");
  } catch {
    return { ok: false, database: "unreachable", pendingMigrations: [] };
  }
  let applied: string[] = [];
  try {
    // The migrator's bookkeeping table, read-only: reachable is not enough, the schema must be current.
    const rows = await prisma.$queryRawUnsafe<Array<{ name: string }>>(`SELECT "name" FROM "${MIGRATIONS_TABLE}"`);
    applied = rows.map((r) => r.name);
  } catch (e) {
    // No bookkeeping table: nothing was ever migrated. Any other failure (the connection lost
    // between the two reads) says nothing about the schema: unreachable, never "every migration pending".
    if (sqlState(e) !== UNDEFINED_TABLE) return { ok: false, database: "unreachable", pendingMigrations: [] };
    applied = [];
  }
  const pendingMigrations = wanted.filter((n) => !applied.includes(n));
  return { ok: pendingMigrations.length === 0, database: "reachable", pendingMigrations };
}
