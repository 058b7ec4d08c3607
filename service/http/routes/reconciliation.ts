/**
 * Reconciliation: import gateway settlement reports (CSV bodies, streamed), run three-way
 * reconciliations, read reports as JSON or CSV (filters: category, market, gateway, seller,
 * currency), resolve exceptions, re-queue and prove a run's report digest. Reading needs
 * finance:read; importing, running and resolving need admin. Without the service
 * (`services.reconciliation` absent) every route answers 503 ENT_RECON_UNAVAILABLE.
 */
import { TAGS } from "../plugins/docs.js";
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type, type Static } from "typebox";
import { defineError, isAppError } from "../../errors.js";
import { remittanceView, RemittanceView } from "./realisation.js";
import {
  AGE_BUCKETS,
  CATEGORIES,
  DEFAULT_RULES,
  REPORT_FORMATS,
  itemJson,
  summaryCsv,
  type AgeBucket,
  type ImportRecord,
  type ItemFilter,
  type ReconciliationService,
  type Resolution,
  type RunRecord,
} from "../../reconciliation/index.js";
import { itemCsvLine, itemsCsvHeader } from "../../reconciliation/report.js";
import { itemErrorView, transactionView } from "../schemas/views.js";
import { Amount, bearer, CurrencyCode, DateTime, Identifier, LimitQuery, problems, Text } from "../schemas/common.js";

const TAG = TAGS.reconciliation;
const unavailable = defineError("ENT_RECON_UNAVAILABLE", 503, "Reconciliation not configured");
const bodyRequired = defineError("ENT_RECON_BODY_REQUIRED", 400, "Report body required");
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const ImportId = Type.String({ pattern: "^imp_[0-9a-f]{20}$", description: "Import id" });
const RunId = Type.String({ pattern: "^run_[0-9a-f]{20}$", description: "Run id" });
const Json = Type.Record(Type.String(), Type.Unknown());

const ImportView = Type.Object({
  id: Type.String(),
  gateway: Type.String(),
  format: Type.String({ enum: [...REPORT_FORMATS] }),
  sha256: Type.String({ description: "sha256 of the file's bytes: a file is imported once" }),
  contentSha256: Nullable(Type.String({ description: "sha256 of the file's content up to byte order mark, line endings and trailing blank lines: a re-saved copy of a report is the same import (null: imported before it was kept)" })),
  fileName: Nullable(Type.String()),
  byteSize: Type.String(),
  lineCount: Type.Integer(),
  rowCount: Type.Integer({ description: "Valid records" }),
  errorCount: Type.Integer({ description: "Records refused (not read as rows), each listed with its line; a record may have several errors, one per malformed cell (`summary.errorEntries` counts them)" }),
  minOccurredAt: Nullable(Type.String({ format: "date-time" })),
  maxOccurredAt: Nullable(Type.String({ format: "date-time" })),
  summary: Json,
  importedBy: Nullable(Type.String()),
  createdAt: Type.String({ format: "date-time" }),
});

const ImportErrorView = Type.Object({
  seq: Type.Integer(),
  line: Type.Integer({ description: "Physical line of the file (1 = header)" }),
  column: Nullable(Type.String()),
  code: Type.String(),
  message: Type.String(),
});

const ItemView = Type.Object({
  seq: Type.Integer({ description: "Item id within the run" }),
  category: Type.String({ enum: [...CATEGORIES] }),
  rule: Type.String(),
  gateway: Type.String(),
  market: Nullable(Type.String()),
  sellerId: Nullable(Type.String()),
  currency: Nullable(Type.String()),
  settlementId: Nullable(Type.String()),
  gatewayReference: Nullable(Type.String()),
  gatewayEventId: Nullable(Type.String()),
  journalTransactionId: Nullable(Type.String()),
  lines: Type.Array(Type.Integer()),
  reportAmount: Nullable(Type.String()),
  ledgerAmount: Nullable(Type.String()),
  difference: Nullable(Type.String()),
  evidence: Json,
});

const RunView = Type.Object({
  id: Type.String(),
  gateway: Type.String(),
  periodFrom: Type.String({ format: "date-time" }),
  periodTo: Type.String({ format: "date-time" }),
  importIds: Type.Array(Type.String()),
  rules: Json,
  rulesVersion: Type.String(),
  rulesSha256: Type.String(),
  summary: Json,
  itemCount: Type.Integer(),
  matchedSha256: Type.String(),
  digest: Type.String({ description: "0x sha256 of the canonical report (items, then the run header); anchored as document reconciliation_report/<id>" }),
  startedAt: Type.String({ format: "date-time" }),
  finishedAt: Type.String({ format: "date-time" }),
  createdBy: Nullable(Type.String()),
});

const PostingBody = Type.Object(
  {
    account: Text(200, 1),
    currency: CurrencyCode,
    direction: Type.Union([Type.Literal("debit"), Type.Literal("credit")]),
    amount: Type.String({ pattern: "^[1-9][0-9]{0,37}$", description: "Positive integer minor units" }),
  },
  { additionalProperties: false },
);

const adjustmentFields = {
  postings: Type.Array(PostingBody, { minItems: 2, maxItems: 50 }),
  description: Type.Optional(Text(500)),
  effectiveAt: Type.Optional({
    ...DateTime,
    description:
      "When the entry is effective, overriding the instant of what it corrects (a report row's time; a bank entry's booking date at 00:00 UTC); not in the future (else 400 ENT_REQUEST_VALIDATION naming adjustment.effectiveAt). In a closed period the ledger books it at the close instant and keeps this instant as metadata.originalEffectiveAt",
  }),
};

/** A resolution of a bank statement entry (the cash queue): its entry is bounded by the bank entry itself, and by what each gateway receivable it credits holds. */
export const ResolutionBody = Type.Object(
  {
    note: Text(4000, 1),
    adjustment: Type.Optional(
      Type.Object(
        {
          ...adjustmentFields,
          exceedsReceivable: Type.Optional(
            Type.Boolean({
              description:
                "true: the entry credits a gateway's receivable beyond its balance on purpose, leaving it negative (the platform owes the gateway the excess: an overpayment to net or pay back; the note says why). Without it, each `gateway:<g>:receivable` the entry credits must hold at least what it credits when it is booked: else 422 ENT_CASH_RESOLUTION_EXCEEDS_RECEIVABLE naming the posting (`details`: account, currency, balance, amount); credit it up to its balance and the rest to `platform:suspense:unidentified_receipts` to keep the excess apart",
            }),
          ),
        },
        { additionalProperties: false, description: "An adjusting journal entry, posted through the ledger (must balance per currency)" },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ResolutionBody = Static<typeof ResolutionBody>;

const ReconResolutionBody = Type.Object(
  {
    note: Text(4000, 1),
    adjustment: Type.Optional(
      Type.Object(
        {
          ...adjustmentFields,
          exceedsException: Type.Optional(
            Type.Boolean({
              description:
                "true: the entry goes beyond the exception's own amount on purpose (the note says why). Without it, the entry moves at most the exception's amount per currency (its difference, else the amount of the side there) and no other currency: else 422 ENT_RECON_ADJUSTMENT_EXCEEDS_EXCEPTION naming adjustment.postings",
            }),
          ),
        },
        { additionalProperties: false, description: "An adjusting journal entry, posted through the ledger (must balance per currency)" },
      ),
    ),
  },
  { additionalProperties: false },
);
type ReconResolutionBody = Static<typeof ReconResolutionBody>;

const ResolutionView = Type.Object({
  runId: Type.String(),
  itemSeq: Type.Integer(),
  note: Type.String(),
  adjustment: Nullable(
    Type.Object({
      postings: Type.Array(Type.Object({ account: Type.String(), currency: Type.String(), direction: Type.String(), amount: Amount })),
      description: Type.Optional(Type.String()),
      effectiveAt: Type.Optional(Type.String({ format: "date-time", description: "The effective instant requested, when one was" })),
      exceedsException: Type.Optional(Type.Boolean({ description: "Requested: the entry goes beyond the exception's amount" })),
    }),
  ),
  journalTransactionId: Nullable(Type.String()),
  resolvedBy: Nullable(Type.String()),
  createdAt: Type.String({ format: "date-time" }),
});

const RunBody = Type.Object(
  {
    importIds: Type.Array(ImportId, { minItems: 1, maxItems: 50 }),
    from: Type.Optional(DateTime),
    to: Type.Optional(DateTime),
    rules: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "Overrides of the matching rules (see GET /v1/reconciliation/rules)" })),
  },
  { additionalProperties: false },
);
type RunBody = Static<typeof RunBody>;

const ReportQuery = Type.Object(
  {
    category: Type.Optional(Type.String({ enum: [...CATEGORIES] })),
    market: Type.Optional(Type.String({ pattern: "^[A-Z]{2}$" })),
    gateway: Type.Optional(Identifier),
    seller: Type.Optional(Identifier),
    currency: Type.Optional(CurrencyCode),
    limit: Type.Optional(LimitQuery),
    cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,9}$", description: "Item seq to continue after (nextCursor)" })),
    format: Type.Optional(Type.String({ enum: ["json", "csv"], description: "csv: the same as Accept: text/csv" })),
    part: Type.Optional(Type.String({ enum: ["items", "summary"], description: "CSV only: the items table (default) or the summary" })),
  },
  { additionalProperties: false },
);
type ReportQuery = Static<typeof ReportQuery>;

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

function importView(i: ImportRecord) {
  return { ...i, byteSize: i.byteSize.toString(), minOccurredAt: iso(i.minOccurredAt), maxOccurredAt: iso(i.maxOccurredAt), createdAt: i.createdAt.toISOString(), summary: i.summary as unknown as Record<string, unknown> };
}

function runView(r: RunRecord) {
  return {
    ...r,
    periodFrom: r.periodFrom.toISOString(),
    periodTo: r.periodTo.toISOString(),
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt.toISOString(),
    rules: r.rules as Record<string, unknown>,
    summary: r.summary as unknown as Record<string, unknown>,
  };
}

function resolutionView(r: Resolution) {
  return {
    ...r,
    adjustment:
      r.adjustment === null
        ? null
        : { ...r.adjustment, postings: r.adjustment.postings.map((p) => ({ ...p, amount: p.amount.toString() })), ...(r.adjustment.effectiveAt === undefined ? {} : { effectiveAt: r.adjustment.effectiveAt.toISOString() }) },
    createdAt: r.createdAt.toISOString(),
  };
}

function filterOf(q: ReportQuery): ItemFilter {
  return {
    ...(q.category === undefined ? {} : { category: q.category as ItemFilter["category"] & string }),
    ...(q.market === undefined ? {} : { market: q.market }),
    ...(q.gateway === undefined ? {} : { gateway: q.gateway }),
    ...(q.seller === undefined ? {} : { sellerId: q.seller }),
    ...(q.currency === undefined ? {} : { currency: q.currency }),
  };
}

function wantsCsv(request: FastifyRequest, q: ReportQuery): boolean {
  if (q.format !== undefined) return q.format === "csv";
  const accept = request.headers.accept ?? "";
  return /\btext\/csv\b/.test(accept) && !/\bapplication\/json\b/.test(accept);
}

/** The content types a report body may be sent as. */
const REPORT_BODY_TYPES = ["text/csv", "application/csv", "text/plain"] as const;

export async function reconciliationRoutes(app: FastifyInstance): Promise<void> {
  const read = { auth: { scopes: ["finance:read" as const] } };
  // Imports, runs and resolutions: a finance team's work, apart from the admin key that issues keys.
  const write = { auth: { scopes: ["finance:write" as const] } };
  const service = (): ReconciliationService => {
    const s = app.services.reconciliation;
    if (s === undefined) throw unavailable("reconciliation is not configured in this process");
    return s;
  };
  const who = (request: FastifyRequest) => request.principal?.keyId;

  // A report is streamed, never buffered: the parser hands the request stream itself to the route,
  // which hashes, validates and compresses it chunk by chunk (the size limit is the service's).
  app.addContentTypeParser([...REPORT_BODY_TYPES], (_request, payload, done) => {
    done(null, payload);
  });

  app.post("/v1/reconciliation/imports", {
    // The body is a stream, so the route has no body schema to validate; /openapi.json still
    // documents it, as the file it is.
    config: { ...write, swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, body: Type.String({ description: "the report file (CSV)" }) }, url }) },
    schema: {
      tags: [TAG],
      summary: "Import a gateway settlement report (CSV body)",
      description:
        "Body: the report file as `text/csv`, streamed. `format`: `adyen_settlement_details` (Adyen Settlement details report) or `stripe_itemized_balance` (Stripe balance_change_from_activity.itemized). A file without the format's columns is refused (ENT_RECON_REPORT_FORMAT, naming them); malformed records are refused and listed on the import with line and column (`errorCount` counts the records, one error per malformed cell); a malformed record that ran on over several lines (a stray quote) refuses only its first line, reading resumes at the next. The same file again, or the same report re-saved with other line endings, without a byte order mark or with blank lines at its end, answers 200 `exists` with the original import.",
      security: bearer,
      consumes: [...REPORT_BODY_TYPES],
      querystring: Type.Object(
        {
          format: Type.String({ enum: [...REPORT_FORMATS] }),
          gateway: Type.Optional(Identifier),
          fileName: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9._ -]{1,255}$" })),
          timezone: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_+\\-/]{1,64}$", description: "IANA zone of the report's local times: required for a Stripe report in its default time-zone variant (`created` instead of `created_utc`)" })),
        },
        { additionalProperties: false },
      ),
      response: { 201: Type.Object({ status: Type.String(), import: ImportView }), 200: Type.Object({ status: Type.String(), import: ImportView }), ...problems(400, 401, 403, 409, 413, 415, 429, 503) },
    },
  }, async (request, reply) => {
    const q = request.query as { format: string; gateway?: string; fileName?: string; timezone?: string };
    const s = service();
    const body = request.body as AsyncIterable<Uint8Array> | undefined;
    if (body === undefined || typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== "function") {
      throw bodyRequired("send the report as the request body with Content-Type: text/csv");
    }
    const r = await s.importReport({
      format: q.format,
      ...(q.gateway === undefined ? {} : { gateway: q.gateway }),
      ...(q.fileName === undefined ? {} : { fileName: q.fileName }),
      ...(q.timezone === undefined ? {} : { timeZone: q.timezone }),
      body,
      ...(who(request) === undefined ? {} : { importedBy: who(request)! }),
    });
    return reply.status(r.status === "created" ? 201 : 200).send({ status: r.status, import: importView(r.import) });
  });

  const ListQuery = (idPattern: typeof ImportId) =>
    Type.Object(
      {
        gateway: Type.Optional(Identifier),
        before: Type.Optional({ ...idPattern, description: "The last id of the previous page" }),
        limit: Type.Optional(Type.String({ pattern: "^(?:[1-9][0-9]?|1[0-9]{2}|200)$", description: "Page size, 1-200 (default 50)" })),
      },
      { additionalProperties: false },
    );
  type ListParams = { gateway?: string; before?: string; limit?: string };
  const page = <T extends { id: string }>(items: T[], limit: number) => ({ nextBefore: items.length === limit ? (items.at(-1)?.id ?? null) : null });

  app.get("/v1/reconciliation/imports", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Imports, newest first",
      security: bearer,
      querystring: ListQuery(ImportId),
      response: { 200: Type.Object({ items: Type.Array(ImportView), nextBefore: Nullable(Type.String()) }), ...problems(400, 401, 403, 429, 503) },
    },
  }, async (request) => {
    const q = request.query as ListParams;
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    const items = await service().listImports({ ...q, limit });
    return { items: items.map(importView), ...page(items, limit) };
  });

  app.get("/v1/reconciliation/runs", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Runs, newest first",
      security: bearer,
      querystring: ListQuery(RunId),
      response: { 200: Type.Object({ items: Type.Array(RunView), nextBefore: Nullable(Type.String()) }), ...problems(400, 401, 403, 429, 503) },
    },
  }, async (request) => {
    const q = request.query as ListParams;
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    const items = await service().listRuns({ ...q, limit });
    return { items: items.map(runView), ...page(items, limit) };
  });

  app.get("/v1/reconciliation/imports/:id", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "An import, with its malformed records (line, column, why)",
      security: bearer,
      params: Type.Object({ id: ImportId }),
      querystring: Type.Object({ limit: Type.Optional(LimitQuery), errorsAfter: Type.Optional(Type.String({ pattern: "^[0-9]{1,9}$" })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ import: ImportView, errors: Type.Array(ImportErrorView), nextErrorsCursor: Nullable(Type.String()) }), ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const q = request.query as { limit?: string; errorsAfter?: string };
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    const s = service();
    const imp = await s.getImport(id);
    const errors = await s.listImportErrors(id, { afterSeq: q.errorsAfter === undefined ? -1 : Number(q.errorsAfter), limit });
    return { import: importView(imp), errors, nextErrorsCursor: errors.length === limit ? String(errors[errors.length - 1]!.seq) : null };
  });

  app.post("/v1/reconciliation/imports/:id/remittances", {
    config: write,
    schema: {
      tags: [TAG],
      summary: "Book the remittances of an import's payout lines",
      description:
        "Each payout line of the report (Adyen MerchantPayout, Stripe payout) is what reached the bank: per buyer currency of the rows it pays out, one remittance (as POST /v1/remittances) clears the gateway's receivable and realises the acquirer's FX. Its id is the payout's batch (Adyen Batch Number, Stripe payout id), with `-<currency>` when the payout covers rows in several buyer currencies or an earlier payout line of the same batch (Adyen pays each currency separately) took the batch id (then `-<payout currency>-<currency>` if that is taken too), so a second call answers each `exists`. Rows paid out unconverted settle in their own currency; converted rows clear what the ledger booked for their events (the rounding of a fee converted back is realised as FX) and settle the sum of their nets. Per item: `created`, `exists` or `error` with its code (one bad item never fails the others); a payout whose rows do not add up to it, or whose side in the buyer currency is unknown, is listed under `skipped` with the reason.",
      security: bearer,
      params: Type.Object({ id: ImportId }),
      response: {
        200: Type.Object({
          importId: Type.String(),
          gateway: Type.String(),
          items: Type.Array(
            Type.Object({
              remittanceId: Type.String(),
              batch: Type.String(),
              line: Type.Integer({ description: "The payout row's line in the report" }),
              status: Type.Union([Type.Literal("created"), Type.Literal("exists"), Type.Literal("error")]),
              remittance: Type.Optional(RemittanceView),
              error: Type.Optional(Type.Ref("ItemError")),
            }),
          ),
          skipped: Type.Array(Type.Object({ batch: Type.String(), line: Type.Integer(), currency: Nullable(Type.String()), reason: Type.String() })),
        }),
        ...problems(400, 401, 403, 404, 429, 503),
      },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const derived = await service().payoutRemittances(id);
    const items = [];
    for (const r of derived.remittances) {
      const head = { remittanceId: r.remittanceId, batch: r.batch, line: r.line };
      try {
        const booked = await app.services.realisation.remit({
          gateway: derived.gateway,
          remittanceId: r.remittanceId,
          currency: r.currency,
          amount: r.amount,
          settledCurrency: r.settledCurrency,
          settledAmount: r.settledAmount,
          occurredAt: r.occurredAt,
        });
        items.push({ ...head, status: booked.status, remittance: remittanceView(booked.remittance) });
      } catch (e) {
        if (!isAppError(e)) throw e;
        items.push({ ...head, status: "error" as const, error: itemErrorView(e) });
      }
    }
    return { importId: id, gateway: derived.gateway, items, skipped: derived.skipped };
  });

  app.get("/v1/reconciliation/rules", {
    config: read,
    schema: { tags: [TAG], summary: "The default matching rules (data; a run may override any field)", security: bearer, response: { 200: Json, ...problems(401, 403, 429) } },
  }, async () => DEFAULT_RULES as unknown as Record<string, unknown>);

  app.post("/v1/reconciliation/runs", {
    config: write,
    schema: {
      tags: [TAG],
      summary: "Run a three-way reconciliation",
      description: "Reconciles the imports (one gateway) against the ledger over [from, to) (default: the span of the imports' rows) and the chain; stores the run immutably and queues its report digest for anchoring. Rows the imports refused are named in `summary.refusedAtImport` (per import, count and first lines) and in the reason (`evidence.refusedAtImport`) of the exceptions they may explain: missing at the gateway, a payout batch or fee total that does not add up.",
      security: bearer,
      body: RunBody,
      response: { 201: RunView, ...problems(400, 401, 403, 404, 415, 429, 503) },
    },
  }, async (request, reply) => {
    const b = request.body as RunBody;
    const run = await service().run({
      importIds: b.importIds,
      ...(b.from === undefined ? {} : { from: new Date(b.from) }),
      ...(b.to === undefined ? {} : { to: new Date(b.to) }),
      ...(b.rules === undefined ? {} : { rules: b.rules }),
      ...(who(request) === undefined ? {} : { createdBy: who(request)! }),
    });
    return reply.status(201).send(runView(run));
  });

  app.get("/v1/reconciliation/runs/:id", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "A run's report: summary and exception items, as JSON or CSV",
      description: "Filters: category, market, gateway, seller, currency. JSON pages items (limit, cursor); CSV (`Accept: text/csv` or `format=csv`) streams every matching item, or the summary with `part=summary`.",
      security: bearer,
      params: Type.Object({ id: RunId }),
      querystring: ReportQuery,
      response: {
        200: {
          description: "The report",
          content: {
            "application/json": { schema: Type.Object({ run: RunView, items: Type.Array(ItemView), nextCursor: Nullable(Type.String()), resolutions: Type.Array(ResolutionView) }) },
            "text/csv": { schema: Type.String() },
          },
        },
        ...problems(400, 401, 403, 404, 429, 503),
      },
    },
  }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const q = request.query as ReportQuery;
    const s = service();
    const run = await s.getRun(id);
    const filter = filterOf(q);
    if (wantsCsv(request, q)) return sendCsv(reply, s, run, filter, q.part ?? "items");
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    const items = await s.listItems(id, filter, { afterSeq: q.cursor === undefined ? 0 : Number(q.cursor), limit });
    const resolutions = await s.listResolutions(id);
    return reply.type("application/json").send({
      run: runView(run),
      items: items.map(itemJson),
      nextCursor: items.length === limit ? String(items[items.length - 1]!.seq) : null,
      resolutions: resolutions.map(resolutionView),
    });
  });

  const ExceptionId = Type.String({ pattern: "^[0-9a-f]{64}$", description: "An exception's identity across runs" });
  const ExceptionsQuery = Type.Object(
    {
      gateway: Type.Optional(Identifier),
      status: Type.Optional(Type.String({ enum: ["open", "resolved"] })),
      category: Type.Optional(Type.String({ enum: [...CATEGORIES] })),
      owner: Type.Optional(Text(120, 1)),
      age: Type.Optional(Type.String({ enum: [...AGE_BUCKETS], description: "Days since first seen: 0-7, 8-30, over-30" })),
      after: Type.Optional(ExceptionId),
      limit: Type.Optional(LimitQuery),
    },
    { additionalProperties: false },
  );
  const ExceptionView = Type.Object({
    exceptionId: ExceptionId,
    status: Type.String({ enum: ["open", "resolved"] }),
    runId: Type.String({ description: "The run of its latest occurrence (item: item.seq)" }),
    item: ItemView,
    firstSeenAt: DateTime,
    lastSeenAt: DateTime,
    ageDays: Type.Integer(),
    ageBucket: Type.String({ enum: [...AGE_BUCKETS] }),
    runs: Type.Integer({ description: "Runs that found it" }),
    owner: Nullable(Type.String()),
  });

  app.get("/v1/reconciliation/exceptions", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "The exception queue across runs",
      description: "Each exception once, by its identity across runs (gateway, category, currency, references, amounts, and the batch and instant of the report row it stands for), with its latest occurrence, when it was first seen (its age), how many runs found it and its owner; oldest first. `openByAge` counts the open ones per age bucket. An exception resolved in any run is resolved.",
      security: bearer,
      querystring: ExceptionsQuery,
      response: {
        200: Type.Object({ items: Type.Array(ExceptionView), nextAfter: Nullable(Type.String()), openByAge: Type.Record(Type.String(), Type.Integer()) }),
        ...problems(400, 401, 403, 429, 503),
      },
    },
  }, async (request) => {
    const q = request.query as { gateway?: string; status?: "open" | "resolved"; category?: string; owner?: string; age?: AgeBucket; after?: string; limit?: string };
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    const now = Date.now();
    const { entries, openByAge } = await service().listExceptions({
      ...(q.gateway === undefined ? {} : { gateway: q.gateway }),
      ...(q.status === undefined ? {} : { status: q.status }),
      ...(q.category === undefined ? {} : { category: q.category }),
      ...(q.owner === undefined ? {} : { owner: q.owner }),
      ...(q.age === undefined ? {} : { ageBucket: q.age }),
      ...(q.after === undefined ? {} : { after: q.after }),
      limit,
    });
    return {
      items: entries.map((e) => {
        const ageDays = Math.floor((now - e.firstSeenAt.getTime()) / 86_400_000);
        return {
          exceptionId: e.exceptionId,
          status: e.status,
          runId: e.runId,
          item: itemJson(e.item),
          firstSeenAt: e.firstSeenAt.toISOString(),
          lastSeenAt: e.lastSeenAt.toISOString(),
          ageDays,
          ageBucket: ageDays <= 7 ? "0-7" : ageDays <= 30 ? "8-30" : "over-30",
          runs: e.runs,
          owner: e.owner,
        };
      }),
      nextAfter: entries.length === limit ? (entries.at(-1)?.exceptionId ?? null) : null,
      openByAge,
    };
  });

  app.put("/v1/reconciliation/exceptions/:exceptionId/owner", {
    config: write,
    schema: {
      tags: [TAG],
      summary: "Assign an exception to someone (owner null: unassign)",
      security: bearer,
      params: Type.Object({ exceptionId: ExceptionId }),
      body: Type.Object({ owner: Type.Union([Text(120, 1), Type.Null()]) }, { additionalProperties: false }),
      response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 415, 429, 503) },
    },
  }, async (request, reply) => {
    const { exceptionId } = request.params as { exceptionId: string };
    const { owner } = request.body as { owner: string | null };
    await service().assignException(exceptionId, owner, who(request));
    return reply.status(204).send();
  });

  app.post("/v1/reconciliation/runs/:id/exceptions/:itemId/resolution", {
    config: write,
    schema: {
      tags: [TAG],
      summary: "Resolve an exception: a note and, optionally, an adjusting journal entry",
      description: "The adjusting entry is posted through the ledger with the idempotency key `recon:<runId>:<itemId>`, effective when what it corrects happened: the report row's instant (the latest of its rows), else the ledger event's, else the last instant of the run's period (a total over the period); `adjustment.effectiveAt` overrides it (not in the future, else 400 ENT_REQUEST_VALIDATION naming `adjustment.effectiveAt`). An instant in a closed period is booked at the close instant, the instant kept as `metadata.originalEffectiveAt` (a closed period never changes). It may post only to the run's gateway's receivable `gateway:<g>:receivable`, `platform:reconciliation:<name>` (debit-normal) and `platform:suspense:<name>` (credit-normal: money held until its payer is known), opened on first use, and no posting above MAX_AMOUNT_MINOR: else 422 ENT_RECON_ADJUSTMENT_INVALID naming the posting (a seller's balance, a tax payable, another gateway's receivable, the bank cash); `<name>` is 1-64 of `a-z 0-9` with `_ - .` inside, else 400 ENT_REQUEST_VALIDATION naming `adjustment.postings.<i>.account`. It books the exception: per currency at most the exception's own amount (its `difference`, else the amount of the side there: a row missing in the ledger its `reportAmount`) and no currency the exception is not in, else 422 ENT_RECON_ADJUSTMENT_EXCEEDS_EXCEPTION naming `adjustment.postings`, unless `adjustment.exceedsException` is true (the note says why; the journal transaction carries `metadata.exceedsException`); an exception without an amount is not bounded. Written once: the same request again answers 200 `exists`, another one ENT_RECON_RESOLUTION_CONFLICT.",
      security: bearer,
      params: Type.Object({ id: RunId, itemId: Type.String({ pattern: "^[1-9][0-9]{0,8}$" }) }),
      body: ReconResolutionBody,
      response: {
        201: Type.Object({ status: Type.String(), resolution: ResolutionView, transaction: Nullable(Type.Ref("Transaction")) }),
        200: Type.Object({ status: Type.String(), resolution: ResolutionView, transaction: Nullable(Type.Ref("Transaction")) }),
        ...problems(400, 401, 403, 404, 409, 415, 422, 429, 503),
      },
    },
  }, async (request, reply) => {
    const { id, itemId } = request.params as { id: string; itemId: string };
    const b = request.body as ReconResolutionBody;
    const r = await service().resolve(id, Number(itemId), {
      note: b.note,
      ...(b.adjustment === undefined
        ? {}
        : {
            adjustment: {
              postings: b.adjustment.postings.map((p) => ({ account: p.account, currency: p.currency, direction: p.direction, amount: BigInt(p.amount) })),
              ...(b.adjustment.description === undefined ? {} : { description: b.adjustment.description }),
              ...(b.adjustment.effectiveAt === undefined ? {} : { effectiveAt: new Date(b.adjustment.effectiveAt) }),
              ...(b.adjustment.exceedsException === undefined ? {} : { exceedsException: b.adjustment.exceedsException }),
            },
          }),
      ...(who(request) === undefined ? {} : { resolvedBy: who(request)! }),
    });
    return reply.status(r.status === "created" ? 201 : 200).send({
      status: r.status,
      resolution: resolutionView(r.resolution),
      transaction: r.transaction === null ? null : transactionView(r.transaction),
    });
  });

  app.post("/v1/reconciliation/runs/:id/anchor", {
    config: write,
    schema: {
      tags: [TAG],
      summary: "Queue the run's report digest for anchoring again (idempotent)",
      security: bearer,
      params: Type.Object({ id: RunId }),
      response: { 200: Type.Object({ runId: Type.String(), digest: Type.String(), queued: Type.Boolean() }), ...problems(401, 403, 404, 429, 503) },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const s = service();
    const run = await s.getRun(id);
    if (!s.chainConfigured) throw unavailable("no anchoring service is configured in this process");
    return { runId: run.id, digest: run.digest, queued: await s.anchor(run) };
  });

  app.get("/v1/reconciliation/runs/:id/proof", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Inclusion proof of the run's report digest (the JSON `npm run verify` reads)",
      security: bearer,
      params: Type.Object({ id: RunId }),
      response: { 200: Json, ...problems(401, 403, 404, 409, 429, 503) },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const proof = await service().proof(id);
    return JSON.parse(JSON.stringify(proof, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))) as Record<string, unknown>;
  });
}

async function sendCsv(reply: FastifyReply, s: ReconciliationService, run: RunRecord, filter: ItemFilter, part: string): Promise<FastifyReply> {
  reply.header("content-disposition", `attachment; filename="${run.id}-${part}.csv"`);
  reply.header("x-entrepot-run-digest", run.digest);
  reply.type("text/csv; charset=utf-8");
  if (part === "summary") return reply.send(summaryCsv(run));
  // Streamed page by page: a run's exceptions are never all in memory for a download.
  async function* rows(): AsyncGenerator<string> {
    yield itemsCsvHeader();
    for await (const page of s.iterateItems(run.id, filter)) yield page.map(itemCsvLine).join("");
  }
  return reply.send(Readable.from(rows()));
}
