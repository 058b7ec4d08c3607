/**
 * Operations endpoints, public and not rate limited (probes and scrapers must never be throttled
 * into reporting an outage): liveness, readiness (database reachable, every migration applied),
 * Prometheus metrics.
 */
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { HttpErrors } from "../errors.js";
import { problems } from "../schemas/common.js";
import { TAGS } from "../plugins/docs.js";

const ReadyView = Type.Object({ status: Type.Literal("ready"), database: Type.String(), kind: Type.String() });

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get("/healthz", {
    config: { rateLimit: false },
    logLevel: "warn",
    schema: { tags: [TAGS.ops], summary: "Liveness: the process is up", response: { 200: Type.Object({ status: Type.Literal("ok") }) } },
  }, async () => ({ status: "ok" as const }));

  app.get("/readyz", {
    config: { rateLimit: false },
    logLevel: "warn",
    schema: {
      tags: [TAGS.ops],
      summary: "Readiness: database reachable and migrations applied",
      response: { 200: ReadyView, ...problems(503) },
    },
  }, async () => {
    const r = await app.services.readiness();
    if (!r.ok) {
      throw HttpErrors.notReady(r.database === "unreachable" ? "the database is unreachable" : `${r.pendingMigrations.length} migration(s) not applied`, {
        details: { database: r.database, pendingMigrations: r.pendingMigrations },
      });
    }
    return { status: "ready" as const, database: r.database, kind: app.services.databaseKind };
  });

  app.get("/metrics", {
    config: { rateLimit: false },
    logLevel: "warn",
    schema: {
      tags: [TAGS.ops],
      summary: "Prometheus metrics",
      produces: ["text/plain"],
      response: { 200: Type.String({ description: "Prometheus text exposition format" }) },
    },
  }, async (_request, reply) => {
    const body = await app.metrics.registry.metrics();
    return reply.type(app.metrics.registry.contentType).send(body);
  });
}
