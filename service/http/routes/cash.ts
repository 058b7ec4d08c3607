/**
 * Cash reconciliation (service/cash): the platform's bank statements (camt.053) imported by finance
 * and matched against remittances and bank payouts.
 */
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { TAGS } from "../plugins/docs.js";
import { bearer, Int8Id, LimitQuery, problems } from "../schemas/common.js";
import { ResolutionBody } from "./reconciliation.js";
import { actorOf } from "../auth/reach.js";
import { acceptXmlBodies, xmlBody, xmlBodyDocs } from "../xml-body.js";

const TAG = TAGS.reconciliation;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const EntryView = Type.Object({
  index: Type.Integer(),
  side: Type.String({ enum: ["debit", "credit"] }),
  currency: Type.String(),
  amount: Type.String({ description: "Minor units" }),
  status: Type.String({ description: "BOOK, PDNG or INFO (only BOOK entries count and are matched)" }),
  bookingDate: Nullable(Type.String()),
  valueDate: Nullable(Type.String()),
  bankReference: Nullable(Type.String()),
  texts: Type.Array(Type.String(), { description: "The entry's references and free texts, where a payer's reference is found" }),
  match: Nullable(Type.Object({ kind: Type.String({ enum: ["remittance", "bank_payout", "bank_return"], description: "remittance: a gateway's payout; bank_payout: the bank's debit of a bank payout; bank_return: its return after final, credited back" }), ref: Type.String(), transactionId: Nullable(Type.String()) })),
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
  unmatched: Type.Integer({ description: "Entries nothing matched, as imported" }),
  open: Type.Integer({ description: "Of those, how many are not resolved yet (GET /v1/cash/exceptions)" }),
  inTransit: Type.Array(Type.Object({ ref: Type.String(), currency: Type.String(), amount: Type.String(), occurredAt: Type.String(), transactionId: Type.String() })),
  ledgerBalance: Type.String({ description: "platform:cash:bank in the statement's currency, as booked when the statement was imported" }),
  importedAt: Type.String({ format: "date-time" }),
  importedBy: Type.String(),
});

const ResolutionView = Type.Object({
  note: Type.String(),
  adjustment: Nullable(
    Type.Object({
      postings: Type.Array(Type.Object({ account: Type.String(), currency: Type.String(), direction: Type.String(), amount: Type.String() })),
      description: Type.Optional(Type.String()),
      effectiveAt: Type.Optional(Type.String({ format: "date-time", description: "The effective instant requested, when one was" })),
      exceedsReceivable: Type.Optional(Type.Boolean({ description: "Requested: the entry credits a gateway's receivable beyond its balance (the journal transaction carries `metadata.exceedsReceivable`)" })),
    }),
  ),
  journalTransactionId: Nullable(Type.String()),
  resolvedBy: Type.String(),
  resolvedAt: Type.String({ format: "date-time" }),
});

const ExceptionView = Type.Object({
  statementId: Type.String(),
  statement: Type.String({ description: "The bank's statement id (Stmt/Id)" }),
  account: Type.String(),
  entry: EntryView,
  importedAt: Type.String({ format: "date-time" }),
  agedFrom: Type.String({ format: "date-time", description: "What the age counts from: the bank's booking date (else value date) at 00:00 UTC, or importedAt when the statement gives no date" }),
  ageDays: Type.Integer({ description: "Whole days since agedFrom" }),
  status: Type.String({ enum: ["open", "resolved"] }),
  resolution: Nullable(ResolutionView),
});

const StatementParams = Type.Object({ id: Int8Id("^[0-9]{1,19}$", "Statement id, decimal") });


export async function cashRoutes(app: FastifyInstance): Promise<void> {
  const read = { auth: { scopes: ["finance:read" as const] } };
  const write = { auth: { scopes: ["finance:write" as const] } };
  acceptXmlBodies(app);

  app.post("/v1/cash/statements", {
    config: { ...write, swaggerTransform: xmlBodyDocs("camt.053 XML") },
    schema: {
      tags: [TAG],
      summary: "Import the platform's bank statement (camt.053) and reconcile it",
      description:
        "Body: a camt.053 (.001.02 to .001.13) as `application/xml`. Per statement: opening + booked entries = closing (else `difference`), the opening equal to the account's previous statement's closing (else `gap`), each booked entry matched once: a credit to a remittance (same currency and settled amount, the remittance id in the entry's references or texts), a debit to a final bank payout (EndToEndId and the amount the bank debited); anything else is an `unmatched` exception. Remittances booked up to the statement's last day and not yet on any statement are `inTransit`. Nothing is booked. A statement is the account's with its Stmt/Id (not its ElctrncSeqNb, which banks restart): the same statement again, in any file, answers 200 `exists`; with other content 409 ENT_CASH_STATEMENT_CONFLICT naming the earlier one. The document is decoded as its BOM, XML declaration or Content-Type charset say. Every statement must be of the platform's account (BANK_ACCOUNT_IBAN or BANK_ACCOUNT_NUMBER, spaces, hyphens, dots and case aside, as for a camt.054) in BANK_ACCOUNT_CURRENCY (its Acct/Ccy, else the currency of its balances), else 422 ENT_CASH_STATEMENT_ACCOUNT naming `Stmt/Acct/Id`, `Stmt/Acct/Ccy` or `Stmt/Bal/Amt/@Ccy`, with the statement's account and currency and the expected ones in `details`, and nothing of the file is imported. Not a camt.053, or no OPBD/CLBD: 422 ENT_CASH_STATEMENT_INVALID; an entry or balance in another currency than the account's: 422 ENT_CASH_ENTRY_CURRENCY (nothing recorded).",
      security: bearer,
      consumes: ["application/xml"],
      response: {
        201: Type.Object({ status: Type.Literal("created"), statements: Type.Array(CashStatementView) }),
        200: Type.Object({ status: Type.Literal("exists"), statements: Type.Array(CashStatementView) }),
        ...problems(400, 401, 403, 409, 413, 415, 422, 429),
      },
    },
  }, async (request, reply) => {
    const { bytes, options } = xmlBody(request, "camt.053");
    const r = await app.services.cash.importStatement(bytes, actorOf(request.principal), options);
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
      params: StatementParams,
      response: { 200: CashStatementView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => app.services.cash.get(BigInt((request.params as { id: string }).id)));

  app.get("/v1/cash/exceptions", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "The bank statements' unmatched entries, oldest first",
      description: "Every `unmatched` entry across imported statements with its age since the bank booked it (`agedFrom`: its booking date, else its value date, at 00:00 UTC; the import only where the statement gives no date), open or resolved (with its note and adjusting entry); `openByAge` counts the open ones per bucket (0-7, 8-30, over 30 days).",
      security: bearer,
      querystring: Type.Object(
        { status: Type.Optional(Type.String({ enum: ["open", "resolved"] })), age: Type.Optional(Type.String({ enum: ["0-7", "8-30", "over-30"] })), limit: Type.Optional(LimitQuery) },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ items: Type.Array(ExceptionView), openByAge: Type.Object({ "0-7": Type.Integer(), "8-30": Type.Integer(), "over-30": Type.Integer() }) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const q = request.query as { status?: "open" | "resolved"; age?: "0-7" | "8-30" | "over-30"; limit?: string };
    return app.services.cash.exceptions({ ...(q.status === undefined ? {} : { status: q.status }), ...(q.age === undefined ? {} : { age: q.age }), ...(q.limit === undefined ? {} : { limit: Number(q.limit) }) });
  });

  app.post("/v1/cash/statements/:id/entries/:index/resolution", {
    config: write,
    schema: {
      tags: [TAG],
      summary: "Resolve an unmatched bank statement entry",
      description:
        "A note and, where the books lack the money (bank charges, interest, an unidentified credit), an adjusting journal entry posted through the ledger (it may post only to `platform:cash:bank`, `platform:reconciliation:*` debit-normal and `platform:suspense:*` credit-normal, opened on first use, and a gateway's existing receivable, every leg but the bank's on the other side of it, no posting above MAX_AMOUNT_MINOR, else 422 ENT_CASH_ADJUSTMENT_INVALID naming the posting; `<name>` is 1-64 of `a-z 0-9` with `_ - .` inside, else 400 ENT_REQUEST_VALIDATION naming `adjustment.postings.<i>.account`; it must balance per currency), e.g. Dr `platform:cash:bank`, Cr `platform:suspense:unidentified_receipts` for a credit nobody can name yet. The entry must move `platform:cash:bank` by exactly the bank entry's amount in its currency (a debit for a credit on the statement) and nothing else of it, and no `seller:*` account: else 422 ENT_CASH_ADJUSTMENT_INVALID. It may credit a gateway's receivable (`gateway:<g>:receivable`, net per currency) with at most its balance when booked (what the gateway owes; checked by the ledger where the entry is booked, so resolutions racing on one receivable on any instance never together pass it): else 422 ENT_CASH_RESOLUTION_EXCEEDS_RECEIVABLE naming `adjustment.postings.<i>.amount`, its first credit posting (`details`: account, currency, balance, amount), nothing booked; credit the receivable up to its balance and the rest to `platform:suspense:unidentified_receipts`, or say `adjustment.exceedsReceivable: true` (the note says why; the receivable goes negative, the platform owing the gateway the excess; kept in the resolution and as the journal transaction's `metadata.exceedsReceivable`). The entry is effective when the bank booked it: its booking date (else value date) at 00:00 UTC, or the instant of a booking date-time with an offset, or the import when the statement gives no date; `adjustment.effectiveAt` overrides it (not in the future, else 400 ENT_REQUEST_VALIDATION naming `adjustment.effectiveAt`). An instant in a closed period is booked at the close instant, the instant kept as `metadata.originalEffectiveAt` (a closed period never changes). Once per entry: the same request again answers 200 `exists`, another one 409 ENT_CASH_RESOLUTION_CONFLICT; a matched entry is 409 ENT_CASH_NOT_AN_EXCEPTION.",
      security: bearer,
      params: Type.Object({ id: StatementParams.properties.id, index: Type.String({ pattern: "^[1-9][0-9]{0,5}$", description: "The entry's index in the statement (1-based)" }) }),
      body: ResolutionBody,
      response: { 201: Type.Object({ status: Type.Literal("created"), resolution: ResolutionView }), 200: Type.Object({ status: Type.Literal("exists"), resolution: ResolutionView }), ...problems(400, 401, 403, 404, 409, 422, 429) },
    },
  }, async (request, reply) => {
    const { id, index } = request.params as { id: string; index: string };
    const b = request.body as ResolutionBody;
    const r = await app.services.cash.resolve(BigInt(id), Number(index), {
      note: b.note,
      ...(b.adjustment === undefined
        ? {}
        : {
            adjustment: {
              postings: b.adjustment.postings.map((p) => ({ ...p, amount: BigInt(p.amount) })),
              ...(b.adjustment.description === undefined ? {} : { description: b.adjustment.description }),
              ...(b.adjustment.effectiveAt === undefined ? {} : { effectiveAt: new Date(b.adjustment.effectiveAt) }),
              ...(b.adjustment.exceedsReceivable === undefined ? {} : { exceedsReceivable: b.adjustment.exceedsReceivable }),
            },
          }),
      by: actorOf(request.principal),
    });
    return reply.status(r.status === "created" ? 201 : 200).send(r);
  });
}
