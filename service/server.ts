/**
 * Starts the service: config from the environment (validated), database and services, bootstrap
 * keys on first start, then listen. Closes gracefully on SIGINT/SIGTERM: stop accepting, let
 * in-flight requests finish (bounded), close the database; a second signal exits at once.
 */
import { pathToFileURL } from "node:url";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { bootstrapKeys, formatIssuedKeys } from "./http/auth/bootstrap.js";
import { openServices, type OpenServices } from "./services.js";
import { startWorkers } from "./workers.js";

export interface RunningServer {
  app: FastifyInstance;
  services: OpenServices;
  url: string;
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 10_000;

export async function startServer(config: Config, opts: { services?: OpenServices; printKeys?: (text: string) => void } = {}): Promise<RunningServer> {
  const services = opts.services ?? (await openServices(config));
  let app: FastifyInstance | undefined;
  try {
    const issued = await bootstrapKeys(services.apiKeys, { demo: config.demo, adminKey: config.auth.bootstrapAdminKey });
    if (issued.length > 0) (opts.printKeys ?? ((t) => process.stdout.write(t)))(formatIssuedKeys(issued));
    app = await buildApp({ services, config });
    const address = await app.listen({ port: config.port, host: config.host });
    const url = address.replace("://[::1]", "://localhost");
    const server = app;
    const workers = startWorkers(services, config, server.log);
    let closing: Promise<void> | null = null;
    return {
      app: server,
      services,
      url,
      close: () => (closing ??= (async () => {
        await workers.stop();
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

/** SIGINT/SIGTERM -> graceful close; a second signal, or a close that hangs, exits at once. */
export function closeOnSignals(running: RunningServer): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) process.exit(130);
    signalled = true;
    running.app.log.info({ signal }, "closing");
    const timer = setTimeout(() => {
      running.app.log.error("graceful close timed out; exiting");
      process.exit(1);
    }, CLOSE_GRACE_MS);
    timer.unref();
    running.close().then(
      () => process.exit(0),
      (e: unknown) => {
        running.app.log.error({ err: e }, "close failed");
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
  const running = await startServer(config);
  closeOnSignals(running);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
