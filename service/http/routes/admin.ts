/**
 * API key administration. A created key and its signing secret are returned ONCE, in the 201
 * response; afterwards only the key's id, name, scopes and dates are readable.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { SCOPES, type ApiKeyRecord } from "../auth/keys.js";
import { bearer, DateTime, problems } from "../schemas/common.js";
import { TAGS } from "../plugins/docs.js";

const ScopeSchema = Type.Union(SCOPES.map((s) => Type.Literal(s)));
const KeyView = Type.Object({ id: Type.String(), name: Type.String(), scopes: Type.Array(Type.String()), createdAt: DateTime, revokedAt: Type.Union([DateTime, Type.Null()]) });
const CreateBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: 3 }) }, { additionalProperties: false });

function keyView(r: ApiKeyRecord): Static<typeof KeyView> {
  return { id: r.id, name: r.name, scopes: r.scopes, createdAt: r.createdAt.toISOString(), revokedAt: r.revokedAt === null ? null : r.revokedAt.toISOString() };
}

export async function adminRoutes(app: FastifyInstance): Promise<void> {
  const { apiKeys } = app.services;
  const admin = { auth: { scopes: ["admin" as const] } };

  app.post("/v1/admin/api-keys", {
    config: admin,
    schema: {
      tags: [TAGS.admin],
      summary: "Create an API key",
      description: "The response is the only time the key and its signing secret are shown: store them now.",
      security: bearer,
      body: CreateBody,
      response: {
        201: Type.Object({ id: Type.String(), name: Type.String(), scopes: Type.Array(Type.String()), key: Type.String(), signingSecret: Type.String(), createdAt: DateTime }),
        ...problems(400, 401, 403, 415, 429),
      },
    },
  }, async (request, reply) => {
    const body = request.body as Static<typeof CreateBody>;
    const k = await apiKeys.create({ name: body.name, scopes: body.scopes });
    request.log.info({ keyId: k.id, scopes: k.scopes, by: request.principal?.keyId }, "API key created");
    return reply.status(201).header("cache-control", "no-store").send({ ...k, createdAt: k.createdAt.toISOString() });
  });

  app.get("/v1/admin/api-keys", {
    config: admin,
    schema: { tags: [TAGS.admin], summary: "List API keys (never their secrets)", security: bearer, response: { 200: Type.Object({ items: Type.Array(KeyView) }), ...problems(401, 403, 429) } },
  }, async () => ({ items: (await apiKeys.list()).map(keyView) }));

  app.post("/v1/admin/api-keys/:id/revoke", {
    config: admin,
    schema: {
      tags: [TAGS.admin],
      summary: "Revoke an API key",
      description: "Idempotent: revoking a revoked key keeps its first revocation instant.",
      security: bearer,
      params: Type.Object({ id: Type.String({ pattern: "^[0-9a-f]{12}$" }) }),
      response: { 200: KeyView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const r = await apiKeys.revoke(id);
    request.log.info({ keyId: id, by: request.principal?.keyId }, "API key revoked");
    return keyView(r);
  });
}
