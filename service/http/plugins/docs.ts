/**
 * OpenAPI 3.1 document generated from the route schemas (@fastify/swagger), served at
 * `GET /openapi.json`; the interactive reference (Scalar) at `/docs`, with its JavaScript bundle
 * served from the package itself (no CDN: the reference works offline), loaded on the first
 * request for it (the package holds a 5 MB script that an idle service need not keep). The error catalogue is
 * served at `/problems` so every problem `type` URI resolves.
 */
import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { Type } from "typebox";
import { Errors, errorCatalogue } from "../../errors.js";
import { ProblemSchema } from "../problem.js";
import { problems } from "../schemas/common.js";
import { SCOPES } from "../auth/keys.js";
import { WEBHOOK_EVENT_TYPES } from "../../webhooks/types.js";
import { webhooksDocument } from "../../webhooks/schemas.js";

export const TAGS = {
  settlements: "settlements",
  journal: "journal",
  fx: "fx",
  admin: "admin",
  anchoring: "anchoring",
  payouts: "payouts",
  reconciliation: "reconciliation",
  webhooks: "webhooks",
  ops: "operations",
  sessions: "sessions",
  reports: "reports",
} as const;

type OpenApiDoc = { paths?: Record<string, Record<string, { responses?: Record<string, unknown>; requestBody?: { required?: boolean; content?: Record<string, { schema?: { type?: unknown; required?: unknown } }> } } | undefined> | undefined> };

const BODY_METHODS = new Set(["post", "put", "patch", "delete"]);

/**
 * The statuses the framework answers before a route's handler runs, documented on every operation
 * that can get them (as the same problem document as its other errors): 400 for a path or query
 * that cannot be read (bad percent-encoding, an unknown parameter), 414 for a path parameter over
 * the router's length, and, where a body can be sent, 413 past the body limit and 415 for a body
 * that is not the route's media type.
 */
function withFrameworkProblems(doc: OpenApiDoc): OpenApiDoc {
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(ops ?? {})) {
      // A JSON body that requires no field may be left out (plugins/errors.ts reads none as `{}`).
      const body = op?.requestBody;
      const json = body?.content?.["application/json"]?.schema;
      if (body !== undefined && json?.type === "object" && (json.required === undefined || (Array.isArray(json.required) && json.required.length === 0))) body.required = false;
      const responses = op?.responses;
      if (responses === undefined) continue;
      const problem = Object.entries(responses).find(([status]) => /^[45]/.test(status))?.[1];
      if (problem === undefined) continue;
      const add = ["400", ...(path.includes("{") ? ["414"] : []), ...(BODY_METHODS.has(method) ? ["413", "415"] : [])];
      for (const status of add) responses[status] ??= problem;
    }
  }
  return doc;
}

const ProblemTypeSchema = Type.Object({ code: Type.String(), status: Type.Integer(), title: Type.String(), type: Type.String() });

export async function docsPlugin(app: FastifyInstance): Promise<void> {
  app.addSchema(ProblemSchema);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Entrepot settlement ledger API",
        version: "1.0.0",
        description: [
          "Cross-border settlement ledger: gateways post settlement events in the buyer's currency; the service converts FX with recorded evidence, applies seller-program fees and taxes and books balanced double-entry transactions idempotently.",
          "",
          "**Amounts** are strings of integer minor units (`\"1999\"` = 19.99 USD). **Errors** are RFC 9457 `application/problem+json` documents with a stable `code`; the catalogue is at `/problems`.",
          "",
          "**Auth**: `Authorization: Bearer <api key>`; scopes " + SCOPES.map((s) => `\`${s}\``).join(", ") + " (`admin` implies the others; `finance:write` implies `finance:read`).",
          "Gateway writes are also **signed**: `Entrepot-Timestamp: <unix seconds, may carry milliseconds as 3 decimals>` and `Entrepot-Signature: v2=<hex HMAC-SHA256(signingSecret, timestamp + \".\" + METHOD + \".\" + target + \".\" + rawBody)>`, the target being the path and query as sent (`v1=<hex HMAC-SHA256(signingSecret, timestamp + \".\" + rawBody)>`, not bound to the route, is still accepted); a signature is accepted once, within the replay window.",
        ].join("\n"),
      },
      tags: [
        { name: TAGS.settlements, description: "Gateway settlement events and their records" },
        { name: TAGS.journal, description: "Journal transactions, balances, account history, hash-chain verification" },
        { name: TAGS.fx, description: "FX rates and quotes" },
        { name: TAGS.admin, description: "API keys" },
        { name: TAGS.anchoring, description: "Batches of the journal anchored on chain; inclusion proofs anyone can verify (`npm run verify`)" },
        { name: TAGS.payouts, description: "Seller payouts in the stablecoin through the vault; payout destinations" },
        { name: TAGS.reconciliation, description: "Gateway report imports, three-way reconciliation runs, exceptions and resolutions" },
        { name: TAGS.webhooks, description: "Signed, retried event notifications: endpoints, deliveries, attempts, redelivery" },
        { name: TAGS.sessions, description: "Web console sign-in: an API key exchanged for an HttpOnly session cookie; writes by session carry x-csrf-token" },
        { name: TAGS.reports, description: "Dashboard figures: settlement volumes per day, balances, anchoring lag, payouts, open exceptions" },
        { name: TAGS.ops, description: "Health, readiness, metrics, error catalogue" },
      ],
      components: {
        securitySchemes: {
          apiKey: { type: "http", scheme: "bearer", description: "ent_<id>_<secret>" },
          consoleSession: { type: "apiKey", in: "cookie", name: "entrepot_session", description: "Console session from POST /v1/sessions; non-GET requests also send the session's x-csrf-token header. Not accepted on signed gateway routes." },
        },
      },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`),
    },
    // The deliveries Entrepot POSTs to endpoints: no route describes them, so they are added here.
    transformObject: (doc) => ({ ...withFrameworkProblems(("openapiObject" in doc ? doc.openapiObject : doc.swaggerObject) as OpenApiDoc), webhooks: webhooksDocument(WEBHOOK_EVENT_TYPES) }),
  });

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  // The reference's routes as Scalar's own plugin answers them, from an inner instance built on
  // first use: the plugin cannot be registered once this app listens, and importing it at start
  // would keep its 5 MB script (twice, as source and as a string) in every idle process.
  let reference: Promise<FastifyInstance> | null = null;
  const answer = async (url: string, reply: FastifyReply) => {
    reference ??= (async () => {
      const { default: scalar } = await import("@scalar/fastify-api-reference");
      const inner = Fastify({ logger: false });
      await inner.register(scalar, {
        routePrefix: "/docs",
        configuration: { url: "/openapi.json", withDefaultFonts: false, hideClientButton: true, pageTitle: "Entrepot API reference" },
      });
      await inner.ready();
      return inner;
    })().catch((e: unknown) => {
      reference = null;
      throw e;
    });
    const r = await (await reference).inject({ url });
    const type = r.headers["content-type"];
    if (typeof type === "string") void reply.type(type);
    const location = r.headers["location"];
    if (typeof location === "string") void reply.header("location", location);
    return reply.code(r.statusCode).send(r.rawPayload);
  };
  for (const url of ["/docs", "/docs/", "/docs/js/scalar.js"]) app.get(url, { schema: { hide: true } }, (_request, reply) => answer(url, reply));

  app.get("/problems", {
    schema: { tags: [TAGS.ops], summary: "Catalogue of every problem code", response: { 200: Type.Array(ProblemTypeSchema) } },
  }, async () => errorCatalogue().map((d) => ({ code: d.code, status: d.status, title: d.title, type: `/problems/${d.code}` })));

  app.get("/problems/:code", {
    schema: {
      tags: [TAGS.ops],
      summary: "One problem code",
      params: Type.Object({ code: Type.String({ pattern: "^ENT_[A-Z0-9_]+$" }) }),
      response: { 200: ProblemTypeSchema, ...problems(404) },
    },
  }, async (request) => {
    const { code } = request.params as { code: string };
    const d = errorCatalogue().find((x) => x.code === code);
    if (d === undefined) throw Errors.notFound(`no problem code ${code}`, { fields: [{ field: "params.code", message: "unknown code" }] });
    return { code: d.code, status: d.status, title: d.title, type: `/problems/${d.code}` };
  });
}
