/**
 * Cash reconciliation (service/cash): the platform's bank statements (camt.053) imported by finance
 * and matched against remittances and bank payouts.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Type } from "typebox";
import { TAGS } from "../plugins/docs.js";
import { bearer, Int8Id, LimitQuery, problems } from "../schemas/common.js";

const TAG = TAGS.reconciliation;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const EntryView = Type.Object({
  index: Type.Integer(),
  side: Type.String({ enum: ["debit", "credit"] }),
  currency: Type.String(),
  amount: Type.String({ description: "Minor units" }),
  status: Type.String({ description: "BOOK, PDNG or INFO (only BOOK entries count and are matched)" }),
  bookingDate: Nullable(Type.String()),
  bankReference: Nullable(Type.String()),
  texts: Type.Array(Type.String(), { description: "The entry's references and free texts, where a payer's reference is found" }),
  match: Nullable(Type.Object({ kind: Type.String({ enum: ["remittance", "bank_payout"] }), ref: Type.String(), transactionId: Nullable(Type.String()) })),
  exception: Nullable(Type.String({ enum: ["unmatched"] })),
});

export const CashStatementView = Type.Object({
  id: Type.String(),
  messageId: Type.String(),
  statementId: Type.String(),
  account: Type.String(),
  currency: Type.String(),
  sequence: Nullable(Type.String()),
  opening: Type.String({ description: "OPBD, minor units (negative: overdrawn)" }),
  closing: Type.String({ description: "CLBD, minor units" }),
  difference: Type.String({ description: "closing - opening - the booked entries: 0 when the statement adds up" }),
  gap: Nullable(Type.Object({ previousStatementId: Type.String(), previousClosing: Type.String() }, { description: "The previous statement of this account closed at another balance: one is missing" })),
  entries: Type.Array(EntryView),
  matched: Type.Integer(),
  unmatched: Type.Integer(),
  inTransit: Type.Array(Type.Object({ ref: Type.String(), currency: Type.String(), amount: Type.String(), occurredAt: Type.String(), transactionId: Type.String() })),
  ledgerBalance: Type.String({ description: "platform:cash:bank in the statement's currency, as booked now" }),
  importedAt: Type.String({ format: "date-time" }),
  importedBy: Type.String(),
});

function by(request: FastifyRequest): string {
  return request.principal ? `api-key:${request.principal.keyId}` : "anonymous";
}

export async function cashRoutes(app: FastifyInstance): Promise<void> {
  const read = { auth: { scopes: ["finance:read" as const] } };
  const write = { auth: { scopes: ["finance:write" as const] } };
  app.addContentTypeParser(["application/xml", "text/xml"], { parseAs: "string" }, (_request, body, done) => done(null, body));

  app.post("/v1/cash/statements", {
    config: write,
    schema: {
      tags: [TAG],
      summary: "Import the platform's bank statement (camt.053) and reconcile it",
      description:
        "Body: a camt.053 (.001.02 to .001.13) as `application/xml`. Per statement: opening + booked entries = closing (else `difference`), the opening equal to the account's previous statement's closing (else `gap`), each booked entry matched once: a credit to a remittance (same currency and settled amount, the remittance id in the entry's references or texts), a debit to a final bank payout (EndToEndId and the amount the bank debited); anything else is an `unmatched` exception. Remittances booked up to the statement's last day and not yet on any statement are `inTransit`. Nothing is booked. The same file again answers 200 `exists`. Not a camt.053, or no OPBD/CLBD: 422 ENT_CASH_STATEMENT_INVALID.",
      security: bearer,
      consumes: ["application/xml"],
      body: Type.String({ description: "camt.053 XML" }),
      response: {
        201: Type.Object({ status: Type.Literal("created"), statements: Type.Array(CashStatementView) }),
        200: Type.Object({ status: Type.Literal("exists"), statements: Type.Array(CashStatementView) }),
        ...problems(400, 401, 403, 413, 415, 422, 429),
      },
    },
  }, async (request, reply) => {
    const r = await app.services.cash.importStatement(request.body as string, by(request));
    return reply.status(r.status === "created" ? 201 : 200).send(r);
  });

  app.get("/v1/cash/statements", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "List imported bank statements with their reconciliation, newest first",
      security: bearer,
      querystring: Type.Object({ limit: Type.Optional(LimitQuery) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(CashStatementView) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const { limit } = request.query as { limit?: string };
    return { items: await app.services.cash.list(limit === undefined ? 50 : Number(limit)) };
  });

  app.get("/v1/cash/statements/:id", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Get one imported bank statement with its reconciliation",
      security: bearer,
      params: Type.Object({ id: Int8Id("^[0-9]{1,19}$", "Statement id, decimal") }),
      response: { 200: CashStatementView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => app.services.cash.get(BigInt((request.params as { id: string }).id)));
}
