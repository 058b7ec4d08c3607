/**
 * Starts the service: config from the environment (validated), the secrets key (SECRETS_KEY, or a
 * local key file on the embedded database; see http/auth/secrets-key.ts), database and services,
 * signing secrets stored in clear by an older version sealed (idempotent), then what ROLE asks
 * for: `all` (default) serves the API and runs the background workers when this instance holds
 * the worker lease; `http` serves the API only; `workers` runs the workers only (no port).
 * Bootstrap keys are created on the first start of an API instance. Closes gracefully on
 * SIGINT/SIGTERM: stop the workers (releasing the lease), stop accepting, let in-flight requests
 * finish (bounded), close the database; a second signal exits at once.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { buildApp, serverOptions } from "./app.js";
import { ConfigError, describeDatabaseUrl, loadConfig, type Config } from "./config.js";
import { isAppError } from "./errors.js";
import { bootstrapKeys, formatIssuedKeys } from "./http/auth/bootstrap.js";
import { openServices, type OpenServices } from "./services.js";
import { DEMO_GATEWAY } from "./settlement/demo.js";
import { startWorkers, type Workers } from "./workers.js";

export interface RunningServer {
  app: FastifyInstance;
  services: OpenServices;
  url: string;
  log: FastifyBaseLogger;
  /** The background workers' election (null with ROLE=http). */
  workers: Workers | null;
  close(): Promise<void>;
}

/** A ROLE=workers instance: the background workers (when elected), no HTTP. */
export interface RunningWorkers {
  services: OpenServices;
  log: FastifyBaseLogger;
  workers: Workers;
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 10_000;

export async function startServer(config: Config, opts: { services?: OpenServices; printKeys?: (text: string) => void } = {}): Promise<RunningServer> {
  if (config.role === "workers") throw new ConfigError("ROLE", "is workers: this instance serves no HTTP (use startWorkerInstance)");
  const services = opts.services ?? (await openInstanceServices(config));
  let app: FastifyInstance | undefined;
  try {
    if (config.role === "all") await assertChainForWorkers(services);
    await assertDeployment(services, config);
    await services.apiKeys.sealStoredSecrets();
    await services.webhooks.sealStoredSecrets();
    const issued = await bootstrapKeys(services.apiKeys, { demo: config.demo, adminKey: config.auth.bootstrapAdminKey, demoGateway: DEMO_GATEWAY });
    if (issued.length > 0) (opts.printKeys ?? ((t) => process.stdout.write(t)))(formatIssuedKeys(issued));
    app = await buildApp({ services, config });
    const address = await listen(app, config);
    const url = address.replace("://[::1]", "://localhost");
    const server = app;
    const workers = config.role === "all" ? startWorkers(services, config, server.log) : null;
    let closing: Promise<void> | null = null;
    return {
      app: server,
      services,
      url,
      log: server.log,
      workers,
      // HTTP and the workers close together: requests arriving meanwhile are refused at once (503
      // ENT_HTTP_SHUTTING_DOWN) while the workers finish their ticks and release the lease, within
      // the one grace period closeOnSignals gives both.
      close: () => (closing ??= (async () => {
        await Promise.all([workers?.stop(), server.close()]);
        await services.close();
      })()),
    };
  } catch (e) {
    await app?.close().catch(() => undefined);
    await services.close().catch(() => undefined);
    throw e;
  }
}

/** Listens; a port already taken or a host that cannot be bound is reported by its variable, not as a stack trace. */
async function listen(app: FastifyInstance, config: Config): Promise<string> {
  try {
    return await app.listen({ port: config.port, host: config.host });
  } catch (e) {
    const code = e instanceof Error && "code" in e && typeof e.code === "string" ? e.code : undefined;
    if (code === "EADDRINUSE") {
      throw new ConfigError("PORT", `${config.port} on ${config.host} is already in use (another Entrepot?): stop it, or set PORT to a free port (PORT=0 picks one)`);
    }
    if (code === "EACCES") throw new ConfigError("PORT", `${config.port} on ${config.host} may not be bound by this user (EACCES): use a port above 1023`);
    if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_FAIL" || code === "EADDRNOTAVAIL") {
      const why = code === "EADDRNOTAVAIL" ? "is not an address of this machine" : "does not resolve";
      throw new ConfigError("HOST", `${config.host} ${why} (${code}): set HOST to an address of this machine (127.0.0.1, 0.0.0.0, ::)`);
    }
    throw e;
  }
}

/** Connection failures of the PostgreSQL driver: a socket error, or SQLSTATE class 08 (connection), 28 (role, password), 3D (database). */
const DATABASE_CONNECT_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EACCES", "ENOENT"]);
const DATABASE_CONNECT_STATES = /^(08|28|3D)|^(53300|57P03)$/;

/**
 * The boot's database failure as one line naming DATABASE_URL (where it points, never the
 * password, and the driver's reason), or null when `e` is not one. A socket error whose port or
 * host is not the database's (the chain node, opened first) is left alone.
 */
export function databaseBootError(e: unknown, databaseUrl: string | undefined): ConfigError | null {
  if (databaseUrl === undefined || !(e instanceof Error) || e instanceof ConfigError || isAppError(e)) return null;
  const o = e as Error & { code?: unknown; port?: unknown; hostname?: unknown; errors?: unknown };
  const code = typeof o.code === "string" ? o.code : "";
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return null;
  }
  if (DATABASE_CONNECT_CODES.has(code)) {
    if (typeof o.port === "number" && o.port !== Number(url.port === "" ? 5432 : url.port)) return null;
    if (typeof o.hostname === "string" && o.hostname !== url.hostname) return null;
  } else if (!DATABASE_CONNECT_STATES.test(code) && !/^Connection terminated|does not support SSL/.test(o.message)) {
    return null;
  }
  // An AggregateError (localhost: both ::1 and 127.0.0.1 refused) has an empty message.
  const first = Array.isArray(o.errors) && o.errors[0] instanceof Error ? o.errors[0].message : "";
  const reason = (o.message || first || code).replace(/\s+/g, " ").slice(0, 300);
  const hint = code === "ECONNREFUSED" ? " (is PostgreSQL running there?)" : "";
  return new ConfigError("DATABASE_URL", `cannot open PostgreSQL at ${describeDatabaseUrl(databaseUrl)}: ${reason}${hint}`);
}

/** `openServices`, with a database that cannot be reached or opened reported by DATABASE_URL in one line. */
export async function openInstanceServices(config: Config, opts: Parameters<typeof openServices>[1] = {}): Promise<OpenServices> {
  try {
    return await openServices(config, opts);
  } catch (e) {
    throw databaseBootError(e, config.databaseUrl) ?? e;
  }
}

/**
 * An instance that may run the workers needs the chain its database anchors on: without one it
 * would run them without anchoring, index or payouts (anchoring stalls in silence) while a
 * standby that has the chain waits. Such an instance does not boot.
 */
export async function assertChainForWorkers(services: Pick<OpenServices, "chain" | "leases">): Promise<void> {
  if (services.chain !== undefined) return;
  const chains = await services.leases.boundChains();
  if (chains.length === 0) return;
  throw new ConfigError(
    "CHAIN_RPC_URL",
    `is not set, and this database anchors on chain ${chains.join(", ")}: set CHAIN_RPC_URL (with that chain's deployment record in DEPLOYMENTS_DIR), or ROLE=http`,
  );
}

/**
 * Every instance with a chain, whatever its ROLE, anchors to (or serves proofs of) the contracts
 * this database anchors to: its deployment record must name them (chain/binding.ts). The first
 * instance on a new database records its own.
 */
export async function assertDeployment(services: Pick<OpenServices, "chain" | "workerLog">, config: Pick<Config, "chain">): Promise<void> {
  if (services.chain === undefined) return;
  // Before the app's logger exists, the workers' log writes warnings to stderr (worker-log.ts).
  await services.chain.bindDeployment({ allowLocalReset: config.chain.allowLocalReset, log: services.workerLog.child("chain") });
}

export async function startWorkerInstance(config: Config, opts: { services?: OpenServices } = {}): Promise<RunningWorkers> {
  const services = opts.services ?? (await openInstanceServices(config));
  try {
    await assertChainForWorkers(services);
    await assertDeployment(services, config);
  } catch (e) {
    await services.close().catch(() => undefined);
    throw e;
  }
  // A Fastify instance that never listens, for the same logger (level, redaction) as an API instance.
  const logger = Fastify({ logger: serverOptions(config).logger ?? false });
  const workers = startWorkers(services, config, logger.log);
  let closing: Promise<void> | null = null;
  return {
    services,
    log: logger.log,
    workers,
    close: () => (closing ??= (async () => {
      await workers.stop();
      await services.close();
      await logger.close();
    })()),
  };
}

/** SIGINT/SIGTERM -> graceful close; a second signal, or a close that hangs, exits at once. */
export function closeOnSignals(running: { log: Pick<FastifyBaseLogger, "info" | "error">; close(): Promise<void> }): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(130);
    signalled = true;
    running.log.info({ signal }, "closing");
    const timer = setTimeout(() => {
      running.log.error("graceful close timed out; exiting");
      process.exit(1);
    }, CLOSE_GRACE_MS);
    timer.unref();
    running.close().then(
      () => process.exit(0),
      (e: unknown) => {
        running.log.error({ err: e }, "close failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  closeOnSignals(config.role === "workers" ? await startWorkerInstance(config) : await startServer(config));
}

// Run when this file is the entry point; not when another entry (npm start's bundle, dist/start.mjs,
// in which every module shares the bundle's import.meta.url) merely includes it.
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href && /^server\.(ts|js|mjs)$/.test(path.basename(entry))) {
  main().catch((e: unknown) => {
    // An AppError's code first: the one stable thing an operator (or a search) can match.
    const code = isAppError(e) ? `${e.code}: ` : "";
    process.stderr.write(`failed to start: ${code}${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  });
}
