/**
 * Read side of the ledger: journal transactions (cursor pages, filters), one transaction,
 * balances now or at an instant, an account's posting history, and hash-chain verification.
 */
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { Errors } from "../../errors.js";
import { LedgerErrors, ORIGINAL_EFFECTIVE_AT, OWNER_TYPES, type JournalExportLine, type TrialBalance } from "../../ledger/index.js";
import { CHECKLIST_REFS, readChecklist } from "../../checklist.js";
import { csvLine } from "../../csv.js";
import { formatMajorOrNull, type ExponentOf } from "../../money/index.js";
import { AccountCode, AssetCode, bearer, CursorQuery, DateTime, Identifier, Int8Id, LimitQuery, problems, Text } from "../schemas/common.js";
import { accountView, AccountView, balanceView, BalanceView, chainView, ChainView, checklistView, ChecklistView, historyItemView, HistoryItemView, periodCloseView, PeriodCloseView, transactionView, trialBalanceView, TrialBalanceView } from "../schemas/views.js";
import { TAGS } from "../plugins/docs.js";
import { periodOf, wantsCsv } from "../query.js";

const META_PREFIX = "meta.";

const ListQuery = Type.Object(
  {
    account: Type.Optional({ ...AccountCode, description: "Only transactions with a posting on this account code" }),
    sellerId: Type.Optional(Identifier),
    from: Type.Optional(DateTime),
    to: Type.Optional(DateTime),
    limit: Type.Optional(LimitQuery),
    cursor: Type.Optional(CursorQuery),
  },
  {
    // Metadata filters: `meta.<key>=<value>`, exact match, e.g. `meta.settlementId=ORD-BR-pop`.
    patternProperties: { "^meta\\.[A-Za-z0-9_]{1,64}$": Text(200) },
    additionalProperties: false,
  },
);
type ListQuery = Static<typeof ListQuery> & Record<string, string | undefined>;

const TrialBalanceQuery = Type.Object(
  {
    from: Type.Optional(DateTime),
    to: DateTime,
    format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv")], { description: "csv: the same as Accept: text/csv" })),
  },
  { additionalProperties: false },
);

const AccountParams = Type.Object({
  account: AccountCode,
  currency: AssetCode,
});

const AccountsQuery = Type.Object(
  {
    ownerType: Type.Optional(Type.Union(OWNER_TYPES.map((t) => Type.Literal(t)))),
    ownerId: Type.Optional(Text(200)),
    prefix: Type.Optional({ ...AccountCode, description: "Account codes starting with this text, e.g. `seller:S-POP-SZ-01:`" }),
    currency: Type.Optional(AssetCode),
    limit: Type.Optional(LimitQuery),
    cursor: Type.Optional(CursorQuery),
  },
  { additionalProperties: false },
);
type AccountsQuery = Static<typeof AccountsQuery>;

const JOURNAL_EXPORT_COLUMNS = [
  "sequence",
  "effective_at",
  "booked_at",
  "transaction_kind",
  "idempotency_key",
  "description",
  "account",
  "currency",
  "direction",
  "phase",
  "amount_minor",
  "amount",
  "settlement_id",
  "seller_id",
  "gateway",
  "gateway_event_id",
  "original_effective_at",
] as const;

const TRIAL_BALANCE_COLUMNS = ["row", "account", "currency", "normal_balance", "opening", "opening_major", "debits", "debits_major", "credits", "credits_major", "closing", "closing_major", "balanced"] as const;

/**
 * The trial balance as rows: an `account` row per account and currency (opening, the period's
 * debits and credits, closing, signed in its normal direction), then a `currency` row per currency
 * (the period's debits and credits, `balanced` true or false). Amounts in minor and major units of
 * the row's currency (major empty for a token whose exponent the ledger does not know).
 */
function trialBalanceCsv(t: TrialBalance, exponentOf: ExponentOf): string {
  const both = (v: bigint, currency: string) => [v, formatMajorOrNull(v, currency, exponentOf)];
  let out = csvLine(TRIAL_BALANCE_COLUMNS);
  for (const a of t.accounts) {
    out += csvLine(["account", a.account, a.currency, a.normalBalance, ...both(a.opening, a.currency), ...both(a.debits, a.currency), ...both(a.credits, a.currency), ...both(a.closing, a.currency), null]);
  }
  for (const c of t.currencies) {
    out += csvLine(["currency", null, c.currency, null, null, null, ...both(c.debits, c.currency), ...both(c.credits, c.currency), null, null, String(c.balanced)]);
  }
  return out;
}

function journalExportLine(l: JournalExportLine, exponentOf: ExponentOf): string {
  const m = l.metadata;
  return csvLine([
    l.sequence,
    l.effectiveAt.toISOString(),
    l.bookedAt.toISOString(),
    l.kind,
    l.idempotencyKey,
    l.description,
    l.account,
    l.currency,
    l.direction,
    l.phase,
    l.amount,
    formatMajorOrNull(l.amount, l.currency, exponentOf),
    m["settlementId"] ?? null,
    m["sellerId"] ?? null,
    m["gateway"] ?? null,
    m["gatewayEventId"] ?? null,
    // A prior-period item: booked at a close's instant, effective for its sender at this one.
    m[ORIGINAL_EFFECTIVE_AT] ?? null,
  ]);
}

export async function journalRoutes(app: FastifyInstance): Promise<void> {
  const { ledger } = app.services;
  const read = { auth: { scopes: ["finance:read" as const] } };

  app.get("/v1/transactions", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "List journal transactions, newest first",
      description: "Cursor pagination (`nextCursor`). Filters: `account`, `sellerId`, `from`/`to` (booking time, `to` exclusive), and `meta.<key>=<value>` on transaction metadata.",
      security: bearer,
      querystring: ListQuery,
      response: { 200: Type.Object({ items: Type.Array(Type.Ref("Transaction")), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const q = request.query as ListQuery;
    // A prototype-less map: `meta.__proto__`, `meta.constructor` are ordinary metadata keys here,
    // never a write to Object.prototype's accessors that would drop the filter silently.
    const metadata = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(q)) if (k.startsWith(META_PREFIX) && v !== undefined) metadata[k.slice(META_PREFIX.length)] = v;
    if (q.to !== undefined) periodOf(q.from, q.to);
    const page = await ledger.listTransactions({
      ...(q.account === undefined ? {} : { account: q.account }),
      ...(q.sellerId === undefined ? {} : { sellerId: q.sellerId }),
      ...(q.from === undefined ? {} : { from: new Date(q.from) }),
      ...(q.to === undefined ? {} : { to: new Date(q.to) }),
      ...(Object.keys(metadata).length === 0 ? {} : { metadata }),
      limit: q.limit === undefined ? 100 : Number(q.limit),
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    });
    return { items: page.items.map(transactionView), nextCursor: page.nextCursor };
  });

  app.get("/v1/transactions/:id", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "Get one journal transaction",
      security: bearer,
      params: Type.Object({ id: Int8Id("^[0-9]{1,19}$", "Journal transaction id") }),
      response: { 200: Type.Ref("Transaction"), ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const t = await ledger.getTransaction(id);
    if (t === null) throw LedgerErrors.transactionNotFound(`no journal transaction ${id}`, { fields: [{ field: "params.id", message: "unknown transaction" }] });
    return transactionView(t);
  });

  app.get("/v1/accounts", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "List ledger accounts with their balances now",
      description: "In creation order, cursor pagination (`nextCursor`). Filters: `ownerType`, `ownerId`, `prefix` (of the account code), `currency` (an ISO 4217 code or a token such as USDC).",
      security: bearer,
      querystring: AccountsQuery,
      response: { 200: Type.Object({ items: Type.Array(AccountView), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const q = request.query as AccountsQuery;
    const page = await ledger.listAccounts({
      ...(q.ownerType === undefined ? {} : { ownerType: q.ownerType }),
      ...(q.ownerId === undefined ? {} : { ownerId: q.ownerId }),
      ...(q.prefix === undefined ? {} : { codePrefix: q.prefix }),
      ...(q.currency === undefined ? {} : { currency: q.currency }),
      limit: q.limit === undefined ? 100 : Number(q.limit),
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    });
    return { items: page.items.map(accountView), nextCursor: page.nextCursor };
  });

  app.get("/v1/accounts/:account/:currency/balance", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "Balance of an account, now or at an instant",
      description:
        "`?at=`: the balance by effective instant (every transaction effective at or before it, a late one included; a period's closing balance, whose end is exclusive, is the balance at its end less 1 ms: a late event re-dated into the open period is effective at its first instant). `?bookedAt=`: as the ledger held it at that booking instant (point-in-time read). At most one of the two.",
      security: bearer,
      params: AccountParams,
      querystring: Type.Object({ at: Type.Optional(DateTime), bookedAt: Type.Optional(DateTime) }, { additionalProperties: false }),
      response: { 200: BalanceView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => {
    const { account, currency } = request.params as Static<typeof AccountParams>;
    const { at, bookedAt } = request.query as { at?: string; bookedAt?: string };
    if (at !== undefined && bookedAt !== undefined) {
      throw Errors.validation("give at (effective) or bookedAt (booking), not both", { fields: [{ field: "query.bookedAt", message: "not with at" }] });
    }
    if (at !== undefined) return balanceView(await ledger.balance(account, currency, new Date(at), "effective"));
    return balanceView(await ledger.balance(account, currency, bookedAt === undefined ? undefined : new Date(bookedAt), "booked"));
  });

  app.get("/v1/ledger/trial-balance", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "Trial balance of a period, by effective instant",
      description:
        "Every account with posted amounts before `to`: its opening balance (before `from`), the period's posted debits and credits ([from, to)), its closing balance; signed in the account's normal direction. Per currency, the period's debits and credits and whether they balance. Pending legs are left out; commits count. `format=csv` (or Accept: text/csv): the same figures as rows, columns " +
        TRIAL_BALANCE_COLUMNS.join(", ") +
        " (`row` account: one per account and currency; then `row` currency: one per currency with `balanced` true or false), in minor and major units (major empty for a token without a known exponent).",
      security: bearer,
      querystring: TrialBalanceQuery,
      response: { 200: TrialBalanceView, ...problems(400, 401, 403, 429) },
    },
  }, async (request, reply) => {
    const q = request.query as Static<typeof TrialBalanceQuery>;
    const period = periodOf(q.from, q.to);
    const tb = await ledger.trialBalance(period);
    if (!wantsCsv(q.format, request.headers.accept)) return trialBalanceView(tb);
    reply.header("content-disposition", `attachment; filename="trial-balance-${q.from === undefined ? "" : `${q.from.slice(0, 10)}-`}${q.to.slice(0, 10)}.csv"`);
    return reply.type("text/csv; charset=utf-8").send(trialBalanceCsv(tb, app.services.exponentOf));
  });

  const CloseAnswer = Type.Object({ ...PeriodCloseView.properties, reportDigest: Type.String({ description: "0x sha256 of the close's report (GET …/report), queued for anchoring" }), anchored: Type.Boolean() });
  app.post("/v1/ledger/periods/close", {
    config: { auth: { scopes: ["finance:write" as const] } },
    schema: {
      tags: [TAGS.journal],
      summary: "Close every period before an instant",
      description:
        "From then on no transaction is effective before `before`: a late one (an event that occurred in a closed period) is booked effective at `before`, its own instant kept in its metadata as `originalEffectiveAt`, so the closed period's balances, trial balance and export never change again. `before` must have passed and be later than the last close (409 ENT_LEDGER_PERIOD_CLOSED otherwise): periods are not reopened. The latest close sent again (the same `before` and `note`, a retry after a lost answer) answers 200 with that close. FX positions must stand at the closing rate (IAS 21): the close plans, without booking, the revaluation at the period's last instant (`before` less 1 ms) as `POST /v1/fx/revaluations` would; if it would book a change for any `fx:<X>-USD` position, or skip one (no rate in force then: `ENT_FX_RATE_STALE`, …; a token's position, the vault's USDC, is no currency and does not count), the close is refused, 409 `ENT_LEDGER_PERIOD_FX_NOT_REVALUED` with `details.positions` per currency (what it would book in USD minor units, or why it skips) and `details.revalueAt`: publish the closing rates, `POST /v1/fx/revaluations?at=<revalueAt>`, close again. `\"fxNotRevalued\": \"accept\"` with a `note` (400 naming `note` without one) closes anyway and keeps what was left in the close's `fxNotRevalued` and its report. The closing rate is the spot rate at the period's end: a position that stands at the rate in force at `revalueAt` (its revaluation books no change) must stand at a rate observed no more than CLOSE_MAX_RATE_AGE_DAYS (default 4) before then (the rate's own `asOf`, the oldest leg's for a cross rate), else 409 `ENT_LEDGER_PERIOD_FX_RATE_STALE` with `details.rates` per currency (the rate, its `asOf`, `ageSeconds` and `maxAgeSeconds`), `details.maxAgeDays` and `details.revalueAt`: publish the period end's rates, `POST /v1/fx/revaluations?at=<revalueAt>` (the same instant again books the change), close again. `\"fxRateStale\": \"accept\"` with a `note` (400 naming `note` without one) closes anyway and keeps those rates in the close's `fxRateStale` and its report. A position of zero is not checked; a position left unrevalued refuses the close first (`ENT_LEDGER_PERIOD_FX_NOT_REVALUED`). No open position: nothing to check. What was checked is what closes: the first two checks read the journal without a lock, and a transaction effective in the period that moves an FX position (an `fx:` account), booked meanwhile, makes the close check again (bookings that move none do not); the third check runs under the journal head lock, reading through the lock's own transaction with the closing rates resolved just before, so nothing can overtake it: a gateway still posting converted events into the period does not hold the close back (its writers wait for the fenced check, about 60–70 ms on the demo's December; at 100 000 postings in FX positions 0.2 s on PostgreSQL, 0.6 s on PGlite: it grows with the FX positions' postings), and its events booked after the close are effective at `before` with `originalEffectiveAt` kept. The fence holds across instances sharing one PostgreSQL. The close refuses on these FX checks only: what else is open in the period (exceptions, payouts in transit, pending reserves) is listed by `GET /v1/ledger/periods/checklist`, not enforced.",
      security: bearer,
      body: Type.Object(
        {
          before: DateTime,
          note: Type.Optional(Text(500)),
          fxNotRevalued: Type.Optional(
            Type.Literal("accept", { description: "Close although FX positions are not revalued at the period's last instant (requires `note`): what was left is kept with the close and in its report" }),
          ),
          fxRateStale: Type.Optional(
            Type.Literal("accept", {
              description: "Close although FX positions stand at closing rates older than CLOSE_MAX_RATE_AGE_DAYS at the period's last instant (requires `note`): those rates, with their instants and ages, are kept with the close and in its report",
            }),
          ),
        },
        { additionalProperties: false },
      ),
      response: {
        201: CloseAnswer,
        200: CloseAnswer,
        ...problems(400, 401, 403, 409, 429),
      },
    },
  }, async (request, reply) => {
    const body = request.body as { before: string; note?: string; fxNotRevalued?: "accept"; fxRateStale?: "accept" };
    const r = await app.services.closing.close({
      before: new Date(body.before),
      closedBy: request.principal?.keyId ?? null,
      note: body.note ?? null,
      fxNotRevalued: body.fxNotRevalued ?? null,
      fxRateStale: body.fxRateStale ?? null,
    });
    return reply.status(r.status === "created" ? 201 : 200).send({ ...periodCloseView(r.close), reportDigest: r.digest, anchored: r.anchored });
  });

  app.get("/v1/ledger/periods/checklist", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "What is open in the period a close at `before` would close: the period-close checklist",
      description:
        "For [the latest close (or the beginning), `before`), read without booking or locking: `reconciliation_exceptions` (open exceptions of runs whose period overlaps it, amounts: the difference, else the side there, absolute; refs at their latest occurrence among those runs), `cash_exceptions` (unmatched bank statement entries the bank booked in it, absolute), `bank_payout_exceptions` (open, whenever received), `bank_payouts_in_transit` (instructed in it, not final, rejected, returned or cancelled), `vault_payouts_not_final` (planned before `before`), `fx_revaluation` (the close's own FX check at `before` less 1 ms: what `POST /v1/ledger/periods/close` would refuse with now, `closeRefusedWith`, the positions and rates in `fx`), `pending_transactions` (effective in it, their pending debits), and for information `dead_webhook_deliveries` (of events raised in it; not blocking). Each item: `status` ok | open, the full `count` and `amounts` per currency (minor units), its first " +
        String(CHECKLIST_REFS) +
        " in `refs` with the route that resolves each, and an `action`. `ended`: `before` has passed (a period still running may be listed, not closed). `ready`: it has ended, the close would not be refused and no blocking item is open. The checklist informs; the close refuses only on its FX checks. `before` not after the latest close: 400 ENT_REQUEST_VALIDATION naming `query.before`.",
      security: bearer,
      querystring: Type.Object({ before: DateTime }, { additionalProperties: false }),
      response: { 200: ChecklistView, ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const { before } = request.query as { before: string };
    const s = app.services;
    return checklistView(await readChecklist({ ledger, closing: s.closing, reconciliation: s.reconciliation, cash: s.cash, bank: s.bank, payouts: s.payouts, webhooks: s.webhooks }, new Date(before)));
  });

  app.get("/v1/ledger/periods/:id/report", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "A period close's report: the closed period's trial balance with the journal head it closed at",
      description:
        "Recomputed from the journal each time (a closed period's figures cannot change). `digest` is the 0x-prefixed sha256 of the `report` object as JSON.stringify writes it (keys in the order shown): the document anchored on chain as `ledger.period_close` (proof: GET …/proof; `npm run verify -- proof.json --anchor 0x… --document report.json` checks this answer, saved as it is, against the anchored digest).",
      security: bearer,
      params: Type.Object({ id: Int8Id("^[0-9]{1,19}$", "Period close id") }),
      response: { 200: Type.Object({ report: Type.Unknown(), digest: Type.String() }), ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => app.services.closing.report((request.params as { id: string }).id));

  app.get("/v1/ledger/periods/:id/proof", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "Inclusion proof of a period close's report digest (the JSON `npm run verify` reads)",
      security: bearer,
      params: Type.Object({ id: Int8Id("^[0-9]{1,19}$", "Period close id") }),
      response: { 200: Type.Unknown(), ...problems(400, 401, 403, 404, 409, 429, 503) },
    },
  }, async (request) => {
    const proof = await app.services.closing.proof((request.params as { id: string }).id);
    return JSON.parse(JSON.stringify(proof, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))) as unknown;
  });

  app.get("/v1/ledger/periods", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "Closed periods: the instant before which everything is closed, and every close",
      security: bearer,
      response: { 200: Type.Object({ closedBefore: Type.Union([DateTime, Type.Null()]), closes: Type.Array(PeriodCloseView) }), ...problems(401, 403, 429) },
    },
  }, async () => {
    const p = await ledger.periodCloses();
    return { closedBefore: p.closedBefore === null ? null : p.closedBefore.toISOString(), closes: p.closes.map(periodCloseView) };
  });

  app.get("/v1/journal/export", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "The journal of a period as CSV, one line per posting",
      description:
        "Transactions effective in [from, to), in journal sequence order, streamed. Columns: " +
        JOURNAL_EXPORT_COLUMNS.join(", ") +
        ". `amount_minor` is the integer amount; `amount` the same in major units (empty for a token without ISO 4217 minor units).",
      security: bearer,
      querystring: Type.Object({ from: DateTime, to: DateTime }, { additionalProperties: false }),
      response: { 200: Type.String({ description: "text/csv" }), ...problems(400, 401, 403, 429) },
    },
  }, async (request, reply) => {
    const q = request.query as { from: string; to: string };
    const period = periodOf(q.from, q.to);
    // The first page is read before the status is sent: a query that fails (a bound the schema let
    // through, an outage) is then a problem document, not a 200 with a header line and a dropped
    // connection. A later page can only fail by cutting the stream short.
    const pages = ledger.exportJournal(period);
    const first = await pages.next();
    const asCsv = (page: JournalExportLine[]) => page.map((l) => journalExportLine(l, app.services.exponentOf)).join("");
    async function* lines(): AsyncGenerator<string> {
      try {
        yield csvLine(JOURNAL_EXPORT_COLUMNS);
        for (let page = first; page.done !== true; page = await pages.next()) yield asCsv(page.value);
      } finally {
        await pages.return(undefined);
      }
    }
    reply.header("content-disposition", `attachment; filename="journal-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}.csv"`);
    reply.type("text/csv; charset=utf-8");
    return reply.send(Readable.from(lines()));
  });

  app.get("/v1/accounts/:account/:currency/history", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "Postings of an account, newest first",
      description:
        "Newest booked first, each with its transaction (`transactionId`), when it was booked (`bookedAt`) and when it is effective (`effectiveAt`, the period it counts in); a transaction booked after its period closed is effective at the close instant, `originalEffectiveAt` the instant it was for (null otherwise).",
      security: bearer,
      params: AccountParams,
      querystring: Type.Object({ limit: Type.Optional(LimitQuery), cursor: Type.Optional(CursorQuery) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(HistoryItemView), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => {
    const { account, currency } = request.params as Static<typeof AccountParams>;
    const { limit, cursor } = request.query as { limit?: string; cursor?: string };
    const page = await ledger.history(account, currency, { limit: limit === undefined ? 100 : Number(limit), ...(cursor === undefined ? {} : { cursor }) });
    return { items: page.items.map(historyItemView), nextCursor: page.nextCursor };
  });

  app.get("/v1/journal/verify", {
    config: read,
    schema: {
      tags: [TAGS.journal],
      summary: "Verify the journal's hash chain",
      description: "Recomputes every transaction's hash from its content and its predecessor's hash; `ok: false` names the first broken link and announces a `journal.verification_failed` webhook event (once per broken link). It reads the whole journal (about a quarter of a millisecond a transaction): requests that arrive while a verification runs on this instance share it and its answer, which names the head it verified up to.",
      security: bearer,
      response: { 200: ChainView, ...problems(401, 403, 429) },
    },
  }, async () => {
    const result = await ledger.verifyChain();
    const broken = result.firstBreak;
    if (!result.ok && broken !== undefined) {
      await app.services.webhooks.emit({
        type: "journal.verification_failed",
        subject: "journal",
        dedupeKey: `journal.verification_failed:${broken.sequence}:${broken.storedHash}`,
        data: { sequence: broken.sequence.toString(), transactionId: broken.transactionId, expectedHash: broken.expectedHash, storedHash: broken.storedHash, verifiedTo: result.verifiedTo.toString() },
      });
    }
    return chainView(result);
  });
}
