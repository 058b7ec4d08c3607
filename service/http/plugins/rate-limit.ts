/**
 * Rate limits per API key id (per client address for public routes), checked after
 * authentication so one tenant's traffic never spends another's budget and an unauthenticated
 * flood cannot exhaust a real key's allowance by naming its id. The counts live in the database
 * (shared-state/rate-limit-store.ts), so the limit is one budget across every instance.
 */
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance } from "fastify";
import { HttpErrors } from "../errors.js";
import { databaseRateLimitStore } from "../shared-state/rate-limit-store.js";

export async function rateLimitPlugin(app: FastifyInstance): Promise<void> {
  const { rateLimitMax, rateLimitWindowMs } = app.appConfig.http;
  await app.register(rateLimit, {
    global: true,
    hook: "preHandler",
    max: rateLimitMax,
    timeWindow: rateLimitWindowMs,
    store: databaseRateLimitStore(app.services.sharedState.counters),
    keyGenerator: (request) => (request.principal === null ? `ip:${request.ip}` : `key:${request.principal.keyId}`),
    errorResponseBuilder: (_request, context) =>
      HttpErrors.rateLimited(`at most ${context.max} requests per ${context.after}; retry after ${Math.ceil(context.ttl / 1000)} s`, {
        details: { limit: context.max, retryAfterSeconds: Math.ceil(context.ttl / 1000) },
      }),
  });
}
