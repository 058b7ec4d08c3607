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
import { ConfigError, loadConfig, type Config } from "./config.js";
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
  const services = opts.services ?? (await openServices(config));
  let app: FastifyInstance | undefined;
  try {
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
      close: () => (closing ??= (async () => {
        await workers?.stop();
        await server.close();
        await services.close();
      })()),
    };
  } catch (e) {
    await app?.close().catch(() => undefined);
    await services.close().catch(() => undefined);
    throw e;
  }
}

/** Listens; a port already taken is reported by its variable, not as a stack trace. */
async function listen(app: FastifyInstance, config: Config): Promise<string> {
  try {
    return await app.listen({ port: config.port, host: config.host });
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "EADDRINUSE") {
      throw new ConfigError("PORT", `${config.port} on ${config.host} is already in use (another Entrepot?): stop it, or set PORT to a free port (PORT=0 picks one)`);
    }
    throw e;
  }
}

export async function startWorkerInstance(config: Config, opts: { services?: OpenServices } = {}): Promise<RunningWorkers> {
  const services = opts.services ?? (await openServices(config));
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
    process.stderr.write(`failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  });
}
