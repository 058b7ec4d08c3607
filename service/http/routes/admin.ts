/**
 * API key administration. A created key and its signing secret are returned ONCE, in the 201
 * response (a rotated signing secret likewise, in the rotation's response); afterwards only the
 * key's id, name, scopes, gateway and dates are readable. A gateway:write key is bound to one
 * gateway when issued; a key issued before that is bound once with `/gateway`.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { MAX_ROTATION_OVERLAP_MS, SCOPES, type ApiKeyRecord } from "../auth/keys.js";
import { bearer, DateTime, GatewayName, problems, Text } from "../schemas/common.js";
import { TAGS } from "../plugins/docs.js";

const ScopeSchema = Type.Union(SCOPES.map((s) => Type.Literal(s)));
const KeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  gateway: Type.Union([Type.String(), Type.Null()], { description: "The gateway a gateway:write key posts and reads as; null for other keys (and for a gateway key issued before keys were bound, which is refused until bound)" }),
  createdAt: DateTime,
  revokedAt: Type.Union([DateTime, Type.Null()]),
  previousSigningSecretValidUntil: Type.Union([DateTime, Type.Null()], { description: "While a signing-secret rotation is in progress: until when the replaced secret still verifies" }),
});
const CreateBody = Type.Object(
  {
    name: Text(200, 1),
    scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: 4 }),
    gateway: Type.Optional({ ...GatewayName, description: "Required for a gateway:write key (the one gateway it posts and reads as); refused for other keys" }),
  },
  { additionalProperties: false },
);
const KeyId = Type.Object({ id: Type.String({ pattern: "^[0-9a-f]{12}$" }) });
const BindBody = Type.Object({ gateway: GatewayName }, { additionalProperties: false });
const RotateBody = Type.Object(
  {
    previousValidUntil: Type.Optional({ ...DateTime, description: `Until when the replaced secret keeps verifying (default 24 h from now, at most ${MAX_ROTATION_OVERLAP_MS / 86_400_000} days)` }),
  },
  { additionalProperties: false },
);
const DEFAULT_OVERLAP_MS = 86_400_000;

function keyView(r: ApiKeyRecord): Static<typeof KeyView> {
  const iso = (d: Date | null) => (d === null ? null : d.toISOString());
  return { id: r.id, name: r.name, scopes: r.scopes, gateway: r.gateway, createdAt: r.createdAt.toISOString(), revokedAt: iso(r.revokedAt), previousSigningSecretValidUntil: iso(r.previousSigningSecretValidUntil) };
}

export async function adminRoutes(app: FastifyInstance): Promise<void> {
  const { apiKeys } = app.services;
  const admin = { auth: { scopes: ["admin" as const] } };

  app.post("/v1/admin/api-keys", {
    config: admin,
    schema: {
      tags: [TAGS.admin],
      summary: "Create an API key",
      description: "The response is the only time the key and its signing secret are shown: store them now. A gateway:write key names its gateway.",
      security: bearer,
      body: CreateBody,
      response: {
        201: Type.Object({ id: Type.String(), name: Type.String(), scopes: Type.Array(Type.String()), gateway: Type.Union([Type.String(), Type.Null()]), key: Type.String(), signingSecret: Type.String(), createdAt: DateTime }),
        ...problems(400, 401, 403, 415, 429),
      },
    },
  }, async (request, reply) => {
    const body = request.body as Static<typeof CreateBody>;
    const k = await apiKeys.create({ name: body.name, scopes: body.scopes, gateway: body.gateway });
    request.log.info({ keyId: k.id, scopes: k.scopes, gateway: k.gateway, by: request.principal?.keyId }, "API key created");
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
      description: "Idempotent: revoking a revoked key keeps its first revocation instant. The key's console sessions end at once.",
      security: bearer,
      params: KeyId,
      response: { 200: KeyView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => {
    const { id } = request.params as Static<typeof KeyId>;
    const r = await apiKeys.revoke(id);
    // Its console sessions end everywhere at once (each request also re-checks the key).
    const sessions = await app.services.sessions.endForKey(id);
    request.log.info({ keyId: id, by: request.principal?.keyId, sessions }, "API key revoked");
    return keyView(r);
  });

  app.post("/v1/admin/api-keys/:id/gateway", {
    config: admin,
    schema: {
      tags: [TAGS.admin],
      summary: "Bind a gateway key to its gateway",
      description:
        "For gateway:write keys issued before keys were bound to a gateway (they are refused with ENT_AUTH_GATEWAY_UNBOUND until bound). A key's gateway is set once: the same gateway again answers the key unchanged, another is ENT_AUTH_KEY_ALREADY_BOUND; a key without gateway:write is ENT_AUTH_KEY_NOT_GATEWAY.",
      security: bearer,
      params: KeyId,
      body: BindBody,
      response: { 200: KeyView, ...problems(400, 401, 403, 404, 409, 415, 429) },
    },
  }, async (request) => {
    const { id } = request.params as Static<typeof KeyId>;
    const { gateway } = request.body as Static<typeof BindBody>;
    const r = await apiKeys.bindGateway(id, gateway);
    request.log.info({ keyId: id, gateway, by: request.principal?.keyId }, "API key bound to a gateway");
    return keyView(r);
  });

  app.post("/v1/admin/api-keys/:id/rotate-signing-secret", {
    config: admin,
    schema: {
      tags: [TAGS.admin],
      summary: "Rotate a key's signing secret",
      description:
        "Issues a new signing secret, shown once in this response. Both the new and the replaced secret verify until `previousValidUntil` (default 24 h) or until the rotation is finished, so the gateway can switch without a refused request. Refused with ENT_AUTH_ROTATION_IN_PROGRESS while a replaced secret still verifies.",
      security: bearer,
      params: KeyId,
      body: RotateBody,
      response: { 200: Type.Object({ key: KeyView, signingSecret: Type.String() }), ...problems(400, 401, 403, 404, 409, 415, 429) },
    },
  }, async (request, reply) => {
    const { id } = request.params as Static<typeof KeyId>;
    const body = request.body as Static<typeof RotateBody>;
    const until = body.previousValidUntil === undefined ? new Date(Date.now() + DEFAULT_OVERLAP_MS) : new Date(body.previousValidUntil);
    const r = await apiKeys.rotateSigningSecret(id, until);
    request.log.info({ keyId: id, previousValidUntil: until.toISOString(), by: request.principal?.keyId }, "signing secret rotated");
    return reply.header("cache-control", "no-store").send({ key: keyView(r.key), signingSecret: r.signingSecret });
  });

  app.post("/v1/admin/api-keys/:id/finish-signing-secret-rotation", {
    config: admin,
    schema: {
      tags: [TAGS.admin],
      summary: "Finish a signing-secret rotation now",
      description: "The replaced secret stops verifying at once. Idempotent.",
      security: bearer,
      params: KeyId,
      response: { 200: KeyView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => {
    const { id } = request.params as Static<typeof KeyId>;
    const r = await apiKeys.finishRotation(id);
    request.log.info({ keyId: id, by: request.principal?.keyId }, "signing secret rotation finished");
    return keyView(r);
  });
}
