/**
 * The Entrepot HTTP application as a Fastify plugin: it receives already-constructed services and
 * the validated config, registers the shared plugins (errors, auth, rate limits, metrics, docs)
 * and the versioned routes, and never listens (`server.ts` does; tests use `inject`).
 */
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import { Type } from "typebox";
import type { Config } from "./config.js";
import { INT8_MAX } from "./db/int8.js";
import type { Services } from "./services.js";
import "./http/types.js";
import { lazySerializers, lazyValidators } from "./http/compilers.js";
import { authPlugin } from "./http/plugins/auth.js";
import { docsPlugin } from "./http/plugins/docs.js";
import { clientError, errorsPlugin, frameworkError, MAX_PARAM_LENGTH } from "./http/plugins/errors.js";
import { metricsPlugin } from "./http/plugins/metrics.js";
import { rateLimitPlugin } from "./http/plugins/rate-limit.js";
import { shared } from "./http/plugins/shared.js";
import { isInstant, problems } from "./http/schemas/common.js";
import { adminRoutes } from "./http/routes/admin.js";
import { anchoringRoutes } from "./http/routes/anchoring.js";
import { fxRoutes } from "./http/routes/fx.js";
import { realisationRoutes } from "./http/routes/realisation.js";
import { storageRoutes } from "./http/routes/storage.js";
import { orderRoutes } from "./http/routes/orders.js";
import { healthRoutes } from "./http/routes/health.js";
import { journalRoutes } from "./http/routes/journal.js";
import { payoutRoutes } from "./http/routes/payouts.js";
import { bankRoutes } from "./http/routes/bank.js";
import { cashRoutes } from "./http/routes/cash.js";
import { consoleRoutes } from "./http/routes/console.js";
import { reconciliationRoutes } from "./http/routes/reconciliation.js";
import { reportRoutes } from "./http/routes/reports.js";
import { sessionRoutes } from "./http/routes/sessions.js";
import { settlementRoutes } from "./http/routes/settlements.js";
import { webhookRoutes } from "./http/routes/webhooks.js";
import { ItemError, SettlementView, TransactionView } from "./http/schemas/views.js";

export interface AppOptions {
  services: Services;
  config: Config;
}

/** Secrets never reach a log line, whatever a serializer or a debug statement tries to print. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  'req.headers["entrepot-signature"]',
  "headers.authorization",
  'headers["entrepot-signature"]',
  // The console session token and its CSRF token.
  "req.headers.cookie",
  'req.headers["x-csrf-token"]',
  "headers.cookie",
  'headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  "key",
  "signingSecret",
];

/** Digits whose value is at most 2^63-1 (the routes' patterns say which digits are allowed). */
function isInt8Decimal(s: string): boolean {
  return /^[0-9]{1,19}$/.test(s) && BigInt(s) <= INT8_MAX;
}

const NO_QUERY = Type.Object({}, { additionalProperties: false });

/** Server-level options: these cannot be set from inside a plugin. */
export function serverOptions(config: Config, logger: FastifyServerOptions["logger"] = undefined): FastifyServerOptions {
  return {
    logger: logger ?? { level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } },
    bodyLimit: config.http.bodyLimit,
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    trustProxy: config.http.trustProxy,
    // A caller's X-Request-Id is kept for correlation only when it is short and plain: it ends up
    // in every log line and problem document of the request.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && /^[A-Za-z0-9._:-]{1,64}$/.test(given) ? given : randomUUID();
    },
    // Fastify's own 503 while closing is a bare JSON without our code or Retry-After: the errors
    // plugin answers those requests with a problem document instead (ENT_HTTP_SHUTTING_DOWN).
    return503OnClosing: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
    forceCloseConnections: "idle",
    schemaController: { compilersFactory: { buildValidator: lazyValidators(), buildSerializer: lazySerializers() } },
    ajv: {
      customOptions: {
        // No coercion: a JSON number must never become an amount string (or vice versa) silently.
        coerceTypes: false,
        // Unknown fields are refused by name, not silently dropped.
        removeAdditional: false,
        allErrors: true,
        // Decimal strings that fit a BIGINT column (ids, cursors): a larger one is a 400 naming
        // the field instead of a database range error (schemas/common.ts, Int8Id).
        formats: { int8: { type: "string", validate: isInt8Decimal } },
      },
      // After ajv-formats: its `date-time` bounds neither the UTC instant nor the precision (schemas/common.ts).
      onCreate: (ajv) => void ajv.addFormat("date-time", { type: "string", validate: isInstant }),
    },
  };
}

async function entrepot(app: FastifyInstance, opts: AppOptions): Promise<void> {
  app.decorate("services", opts.services);
  app.decorate("appConfig", opts.config);
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });

  await app.register(shared(metricsPlugin));
  await app.register(shared(errorsPlugin));
  await app.register(shared(docsPlugin));
  await app.register(shared(authPlugin));
  await app.register(shared(rateLimitPlugin));

  // A /v1 route that takes no query parameters refuses one (400 naming it), as a route that
  // declares its parameters refuses an unknown one: a misspelt filter is never silently ignored.
  app.addHook("onRoute", (route) => {
    if (route.url.startsWith("/v1/") && route.schema !== undefined && route.schema.querystring === undefined) {
      route.schema = { ...route.schema, querystring: NO_QUERY };
    }
    // Any /v1 route may answer 503 with Retry-After (the database failed transiently, the ledger
    // is unavailable, the instance is stopping): the same request again is safe. /openapi.json says
    // so on every route, so a generated client has the retryable case.
    const response = route.schema?.response as Record<string, unknown> | undefined;
    if (route.url.startsWith("/v1/") && route.schema !== undefined && response !== undefined && response["503"] === undefined) {
      route.schema = { ...route.schema, response: { ...response, ...problems(503) } };
    }
  });

  app.addSchema(TransactionView);
  app.addSchema(SettlementView);
  app.addSchema(ItemError);

  await app.register(healthRoutes);
  await app.register(sessionRoutes);
  await app.register(settlementRoutes);
  await app.register(journalRoutes);
  await app.register(fxRoutes);
  await app.register(realisationRoutes);
  await app.register(storageRoutes);
  await app.register(orderRoutes);
  await app.register(adminRoutes);
  await app.register(anchoringRoutes);
  await app.register(payoutRoutes);
  await app.register(bankRoutes);
  await app.register(cashRoutes);
  await app.register(reconciliationRoutes);
  await app.register(webhookRoutes);
  await app.register(reportRoutes);
  await app.register(consoleRoutes);
}

export const app = shared(entrepot);
export default app;

/** A ready-to-use instance (tests, the benchmark, server.ts). */
export async function buildApp(opts: AppOptions & { logger?: FastifyServerOptions["logger"] }): Promise<FastifyInstance> {
  const instance = Fastify(serverOptions(opts.config, opts.logger));
  await instance.register(app, { services: opts.services, config: opts.config });
  await instance.ready();
  return instance;
}
