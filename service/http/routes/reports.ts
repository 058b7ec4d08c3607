/**
 * Dashboard figures for the web console: settlement volumes per UTC day (aggregated in SQL by the
 * settlement module), the overview (service/overview.ts: balances, anchoring lag, payouts,
 * open exceptions), and the profit and loss by program and market (service/profit-and-loss.ts).
 * Reads only; finance:read.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { AGAINST_NORMAL_LARGEST, OWNER_TYPES, type BalanceSide } from "../../ledger/index.js";
import { readOverview } from "../../overview.js";
import { csvLine } from "../../csv.js";
import { formatMajorOrNull, type ExponentOf } from "../../money/index.js";
import { MAX_PNL_RANGE_MS, pnlDimensions, profitAndLoss, type PnlLine, type PnlTotals, type ProfitAndLoss } from "../../profit-and-loss.js";
import { namingQuery, periodOf, wantsCsv } from "../query.js";
import { AGE_BUCKETS } from "../../reconciliation/index.js";
import { bearer, DateTime, problems } from "../schemas/common.js";
import { TAGS } from "../plugins/docs.js";

const AgeCount = Type.Object({
  ageBucket: Type.String({ enum: [...AGE_BUCKETS], description: "Days since first seen, as the queues' age filter: 0-7, 8-30, over-30" }),
  count: Type.Integer(),
});
const Minor = Type.String({ pattern: "^-?[0-9]+$", description: "Integer minor units of the line's currency" });

const VolumesQuery = Type.Object(
  {
    from: { ...DateTime, description: "occurredAt at or after" },
    to: { ...DateTime, description: "occurredAt before (exclusive); after from and at most 366 days after it, else 400 ENT_SETTLEMENT_INVALID_FILTER naming query.to" },
  },
  { additionalProperties: false },
);

const VolumesView = Type.Object({
  items: Type.Array(
    Type.Object({
      day: Type.String({ pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description: "UTC day of occurredAt" }),
      market: Type.String(),
      currency: Type.String(),
      eventType: Type.String(),
      count: Type.Integer(),
      amountMinor: { ...Minor, description: "Sum of the events' amount, in minor units of currency" },
    }),
  ),
});

const BalanceSideView = (side: "debit-normal" | "credit-normal") =>
  Type.Object(
    {
      accounts: Type.Integer({ description: `How many ${side} accounts` }),
      onNormalSide: { ...Minor, description: "Sum of their posted balances on the normal side (positive)" },
      againstNormalSide: { ...Minor, description: "Sum of their posted balances against it (negative; 0: none)" },
      accountsAgainst: Type.Integer({ description: "How many of them have a balance against their normal side" }),
    },
    { description: `The ${side} accounts gross: onNormalSide + againstNormalSide is the net balance` },
  );

const OverviewView = Type.Object({
  settlements: Type.Object({
    latestOccurredAt: Type.Union([DateTime, Type.Null()], {
      description: "When the latest posted settlement record occurred (its occurredAt; null: none): by time, so a late event booked last does not move it back. The end of the volumes a dashboard shows by default",
    }),
  }),
  balances: Type.Array(
    Type.Object({
      currency: Type.String(),
      debitBalances: { ...Minor, description: "Posted balances of the debit-normal accounts (assets: receivables, cash; and expenses)" },
      creditBalances: { ...Minor, description: "Posted balances of the credit-normal accounts (liabilities: sellers' balances, tax payable; and revenue)" },
      accounts: Type.Integer(),
      debitNormal: BalanceSideView("debit-normal"),
      creditNormal: BalanceSideView("credit-normal"),
      againstNormal: Type.Array(
        Type.Object({
          ownerType: Type.String({ enum: [...OWNER_TYPES], description: "Whose accounts: fx_clearing ones swing both ways by design; a treasury (bank, vault) or seller account against its normal side is not" }),
          accounts: Type.Integer({ description: "How many accounts of this owner type are against their normal side" }),
          balance: { ...Minor, description: "Their posted balances summed, signed in each account's normal direction (negative)" },
          largest: Type.Array(
            Type.Object({
              account: Type.String({ description: "Account code" }),
              normalBalance: Type.Union([Type.Literal("debit"), Type.Literal("credit")]),
              balance: { ...Minor, description: "Posted balance, signed in the account's normal direction (negative)" },
            }),
            { description: `The largest of them by amount, largest first (at most ${AGAINST_NORMAL_LARGEST})` },
          ),
        }),
        {
          description: "The accounts whose posted balance is against their normal side, per owner type: the largest sum first, fx_clearing last; [] when none",
        },
      ),
    }),
  ),
  anchoring: Type.Object({
    journalHead: Type.String({ description: "Sequence of the newest journal transaction (0: empty journal)" }),
    anchoredThrough: Type.Union([Type.String(), Type.Null()], { description: "Last journal sequence in a batch seen on chain (observed, safe or final); null: none, or no chain" }),
    lagTransactions: Type.Integer({ description: "How many journal transactions come after anchoredThrough (a count, so a JSON number)" }),
    oldestUnanchoredAt: Type.Union([DateTime, Type.Null()], { description: "When the oldest of them was booked; null: all anchored" }),
  }),
  payouts: Type.Array(
    Type.Object({
      rail: Type.Union([Type.Literal("stablecoin"), Type.Literal("bank")]),
      state: Type.String(),
      currency: Type.String(),
      count: Type.Integer(),
      amountMinor: { ...Minor, description: "Sum in the seller's payout currency, minor units" },
    }),
  ),
  exceptions: Type.Array(AgeCount),
  cashExceptions: Type.Array(AgeCount, { description: "Open unmatched bank statement entries (GET /v1/cash/exceptions) by age since imported" }),
  bankPayoutExceptions: Type.Integer({ description: "Open bank payout exceptions (GET /v1/payouts/bank/exceptions); 0 without a bank rail" }),
});

const PnlQuery = Type.Object(
  {
    from: { ...DateTime, description: "Transactions effective at or after" },
    to: { ...DateTime, description: `Transactions effective before (exclusive); at most ${MAX_PNL_RANGE_MS / 86_400_000} days after from` },
    by: Type.Optional(
      Type.String({
        enum: ["program", "market", "program,market", "market,program"],
        description: "Group by the seller's program (default), the market of the transaction, or both",
      }),
    ),
    format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv")], { description: "csv: the same as Accept: text/csv" })),
  },
  { additionalProperties: false },
);

const Usd = { ...Minor, description: "USD minor units" };
const PnlLineView = Type.Object({
  account: Type.String({ description: "P&L account code" }),
  normalBalance: Type.Union([Type.Literal("debit"), Type.Literal("credit")], { description: "credit: income (revenue, FX results); debit: expense" }),
  debits: Usd,
  credits: Usd,
  net: { ...Minor, description: "credits - debits: income positive, an expense negative" },
});
const PnlTotalsProps = {
  debits: Usd,
  credits: Usd,
  revenue: { ...Minor, description: "The credit-normal accounts' credits - debits (revenue and FX results; a loss negative)" },
  expenses: { ...Minor, description: "The debit-normal accounts' debits - credits" },
  netResult: { ...Minor, description: "revenue - expenses (the lines' net summed)" },
  exchangeDifferences: {
    ...Minor,
    description:
      "The exchange differences recognised in profit or loss (IAS 21.52(a)), part of `revenue`: the net (credits - debits, a gain positive) of platform:fx_gain_loss (follow-ups at today's rate against the capture's values), platform:fx:realised_gain_loss (positions closed by remittances and bank payouts, at mid) and platform:fx:unrealised_gain_loss (revaluations). Not the acquirer's or bank's conversion spreads (platform:expense:fx_conversion) nor a listing's checkout difference (platform:revenue:checkout_fx)",
  },
};
const ProfitAndLossView = Type.Object({
  from: DateTime,
  to: DateTime,
  currency: Type.Literal("USD", { description: "The reporting currency: every amount below (but otherCurrencies') is in its minor units" }),
  by: Type.Array(Type.String({ enum: ["program", "market"] })),
  groups: Type.Array(
    Type.Object({
      program: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "When grouped by program: the transactions' `program`, else the program of the seller they name; null: none (unallocated)" })),
      market: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: "When grouped by market: the transactions' `market`; null: none (unallocated)" })),
      unallocated: Type.Boolean({ description: "A dimension grouped by is null: what the journal does not attribute (revaluations, remittances' realised FX, a charge's market...), listed account by account" }),
      lines: Type.Array(PnlLineView, { description: "Each P&L account the group's transactions moved, by code" }),
      ...PnlTotalsProps,
    }),
    { description: "Allocated groups by program and market, the unallocated ones last" },
  ),
  accounts: Type.Array(PnlLineView, { description: "Each P&L account, all groups together" }),
  totals: Type.Object(PnlTotalsProps, { description: "All groups together" }),
  reconciliation: Type.Object(
    {
      reconciles: Type.Boolean({ description: "Every P&L account's debits and credits in the groups equal the trial balance's for the period (GET /v1/ledger/trial-balance's period debits and credits), summed per account by a query of its own that does not group, in the same snapshot" }),
      revenue: { ...Minor, description: "The trial balance's revenue for the same accounts (USD)" },
      expenses: { ...Minor, description: "The trial balance's expenses (USD)" },
      netResult: { ...Minor, description: "The trial balance's net result (USD): totals.netResult when it reconciles" },
      accounts: Type.Array(Type.Object({ ...PnlLineView.properties, currency: Type.String(), reconciles: Type.Boolean() }), { description: "The trial balance's movement of each P&L account that moved (every currency)" }),
    },
    { description: "The check against the trial balance" },
  ),
  otherCurrencies: Type.Array(Type.Object({ ...PnlLineView.properties, currency: Type.String() }), {
    description: "P&L accounts that moved in a currency other than USD (a bank's charges in a non-USD account), in minor units of that currency: outside the groups and totals, never converted here",
  }),
});

const PNL_COLUMNS = ["scope", "row", "program", "market", "unallocated", "account", "normal_balance", "currency", "debits", "credits", "net", "net_major", "reconciles"] as const;

function pnlLineJson(l: PnlLine) {
  return { account: l.account, normalBalance: l.normalBalance, debits: l.debits.toString(), credits: l.credits.toString(), net: l.net.toString() };
}
function pnlTotalsJson(t: PnlTotals) {
  return { debits: t.debits.toString(), credits: t.credits.toString(), revenue: t.revenue.toString(), expenses: t.expenses.toString(), netResult: t.netResult.toString(), exchangeDifferences: t.exchangeDifferences.toString() };
}

function profitAndLossView(r: ProfitAndLoss): Static<typeof ProfitAndLossView> {
  return {
    from: r.from.toISOString(),
    to: r.to.toISOString(),
    currency: r.currency,
    by: r.by,
    groups: r.groups.map((g) => ({
      ...("program" in g ? { program: g.program ?? null } : {}),
      ...("market" in g ? { market: g.market ?? null } : {}),
      unallocated: g.unallocated,
      lines: g.lines.map(pnlLineJson),
      ...pnlTotalsJson(g),
    })),
    accounts: r.accounts.map(pnlLineJson),
    totals: pnlTotalsJson(r.totals),
    reconciliation: {
      reconciles: r.reconciliation.reconciles,
      revenue: r.reconciliation.revenue.toString(),
      expenses: r.reconciliation.expenses.toString(),
      netResult: r.reconciliation.netResult.toString(),
      accounts: r.reconciliation.accounts.map((a) => ({ ...pnlLineJson(a), currency: a.currency, reconciles: a.reconciles })),
    },
    otherCurrencies: r.otherCurrencies.map((a) => ({ ...pnlLineJson(a), currency: a.currency })),
  };
}

/**
 * The report as rows: per group (`scope` group) a `line` per account then its `revenue`, `expenses`,
 * `net_result` and `exchange_differences` (the part of revenue IAS 21.52(a) discloses); the same for all groups (`scope` total); the trial balance's figures per account
 * and its net result (`scope` trial_balance, `reconciles` true or false); the P&L accounts moved in
 * another currency (`scope` other_currency). Amounts in minor and major units of the row's currency
 * (major empty for a token whose exponent the ledger does not know), as the trial balance CSV writes them.
 */
function profitAndLossCsv(r: ProfitAndLoss, exponentOf: ExponentOf): string {
  const major = (v: bigint, currency: string) => formatMajorOrNull(v, currency, exponentOf);
  const grouped = (g: { program?: string | null; market?: string | null }) => [g.program ?? null, g.market ?? null];
  const lineRow = (scope: string, group: (string | null)[], unallocated: boolean | null, l: PnlLine, currency: string, reconciles: boolean | null = null) =>
    csvLine([scope, "line", ...group, unallocated === null ? null : String(unallocated), l.account, l.normalBalance, currency, l.debits, l.credits, l.net, major(l.net, currency), reconciles === null ? null : String(reconciles)]);
  const totalRows = (scope: string, group: (string | null)[], unallocated: boolean | null, t: Pick<PnlTotals, "revenue" | "expenses" | "netResult"> & { exchangeDifferences?: bigint }, reconciles: boolean | null = null) =>
    (
      [
        ["revenue", t.revenue],
        ["expenses", t.expenses],
        ["net_result", t.netResult],
        ...(t.exchangeDifferences === undefined ? [] : [["exchange_differences", t.exchangeDifferences] as const]),
      ] as const
    )
      .map(([row, v]) => csvLine([scope, row, ...group, unallocated === null ? null : String(unallocated), null, null, r.currency, null, null, v, major(v, r.currency), row === "net_result" && reconciles !== null ? String(reconciles) : null]))
      .join("");
  let out = csvLine(PNL_COLUMNS);
  for (const g of r.groups) {
    for (const l of g.lines) out += lineRow("group", grouped(g), g.unallocated, l, r.currency);
    out += totalRows("group", grouped(g), g.unallocated, g);
  }
  for (const l of r.accounts) out += lineRow("total", [null, null], null, l, r.currency);
  out += totalRows("total", [null, null], null, r.totals);
  for (const a of r.reconciliation.accounts) out += lineRow("trial_balance", [null, null], null, a, a.currency, a.reconciles);
  out += totalRows("trial_balance", [null, null], null, r.reconciliation, r.reconciliation.reconciles);
  for (const a of r.otherCurrencies) out += lineRow("other_currency", [null, null], null, a, a.currency);
  return out;
}

const sideView = (s: BalanceSide) => ({ accounts: s.accounts, onNormalSide: s.onNormalSide.toString(), againstNormalSide: s.againstNormalSide.toString(), accountsAgainst: s.accountsAgainst });

export async function reportRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  app.get("/v1/reports/volumes", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.reports],
      summary: "Settlement volumes per day, market, currency and event type",
      description: "Posted settlement records with occurredAt in [from, to) (at most 366 days, else 400 ENT_SETTLEMENT_INVALID_FILTER naming `query.to`), per UTC day, market, buyer currency and event type: how many, and the sum of their amount in minor units of that currency. Ordered by day, market, currency, event type.",
      security: bearer,
      querystring: VolumesQuery,
      response: { 200: VolumesView, ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const q = request.query as Static<typeof VolumesQuery>;
    const rows = await namingQuery(services.settlement.volumes(new Date(q.from), new Date(q.to)));
    return { items: rows.map((r) => ({ day: r.day, market: r.market, currency: r.currency, eventType: r.eventType, count: r.count, amountMinor: r.amount.toString() })) };
  });

  app.get("/v1/reports/profit-and-loss", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.reports],
      summary: "Profit and loss of a period by seller program and/or market (USD)",
      description:
        "The movements of the platform's income and expense accounts (`platform:revenue:*`, `platform:expense:*`, `platform:fx_gain_loss`, `platform:fx:realised_gain_loss`, `platform:fx:unrealised_gain_loss`, `platform:reconciliation:*`) by effective instant as the trial balance counts them: transactions effective in [from, to) (at most 366 days, else 400 ENT_REQUEST_VALIDATION naming `query.to`), posted and commit legs, a late event in a closed period where the ledger dated it (the close instant). Grouped by `by` (default `program`): a transaction's program is its metadata's `program` (every settlement event), else the program of the seller its metadata names (`sellerId`: a charge such as storage, a payout's realised FX, bank charges, an adjusting entry); its market is its metadata's `market`. A transaction naming none of them (a revaluation, a remittance's realised FX, a charge's market) is in an `unallocated` group, account by account: nothing is dropped. Each group: per account its debits, credits and net (credits - debits, income positive), `revenue` (credit-normal accounts, FX results included), `expenses` (debit-normal accounts), `netResult`, and `exchangeDifferences`: the part of revenue that is exchange differences (IAS 21.52(a): `platform:fx_gain_loss`, `platform:fx:realised_gain_loss`, `platform:fx:unrealised_gain_loss`; not the acquirer's or bank's conversion spreads, `platform:expense:fx_conversion`, nor a listing's checkout difference, `platform:revenue:checkout_fx`). `totals` and `accounts`: all groups together; `reconciliation`: the trial balance's period debits and credits of the same accounts, summed per account by a query of its own (no grouping) in the same snapshot, and `reconciles` (every account's debits and credits equal). Amounts in USD minor units; a P&L account moved in another currency is in `otherCurrencies`, in its own, outside the totals. At most 10,000 account and group rows per period (else 400 ENT_REQUEST_VALIDATION naming `query.to`). `format=csv` (or Accept: text/csv): the same figures as rows (`scope` group, total, trial_balance, other_currency; `row` line, revenue, expenses, net_result, and exchange_differences for a group and the total), in minor and major units (major with ISO 4217's exponent, a token's decimals once read from its contract, empty when the ledger does not know them: as the trial balance and journal CSVs).",
      security: bearer,
      querystring: PnlQuery,
      response: { 200: ProfitAndLossView, ...problems(400, 401, 403, 429) },
    },
  }, async (request, reply) => {
    const q = request.query as Static<typeof PnlQuery>;
    const by = pnlDimensions(q.by);
    const r = await namingQuery(profitAndLoss(services, periodOf(q.from, q.to), by));
    if (!wantsCsv(q.format, request.headers.accept)) return profitAndLossView(r);
    reply.header("content-disposition", `attachment; filename="profit-and-loss-${by.join("-")}-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}.csv"`);
    return reply.type("text/csv; charset=utf-8").send(profitAndLossCsv(r, services.exponentOf));
  });

  app.get("/v1/reports/overview", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.reports],
      summary: "Dashboard overview: balances, anchoring lag, payouts, open exceptions",
      description:
        "`settlements.latestOccurredAt`: when the latest posted settlement record occurred. `balances`: per currency, the posted balances now of debit-normal accounts (assets) and of credit-normal accounts (liabilities and revenue), from the accounts' running totals: equal when the journal balances. Netted, they hide an account against its normal side (a bank account gone negative), so each side is also given gross (`debitNormal`, `creditNormal`: the balances on the normal side and those against it apart, how many accounts are against it), and `againstNormal` lists those accounts per owner type (`fx_clearing` swings both ways by design, last) with the largest of them. `anchoring`: the journal head, the last sequence anchored in a batch seen on chain, how many transactions wait, and when the oldest of them was booked. `payouts`: vault (`stablecoin`) and `bank` payouts per state and currency. `exceptions`: open gateway reconciliation exceptions by age since first seen; `cashExceptions`: open unmatched bank statement entries by age; `bankPayoutExceptions`: open bank payout exceptions.",
      security: bearer,
      response: { 200: OverviewView, ...problems(401, 403, 429) },
    },
  }, async () => {
    const o = await readOverview(services);
    return {
      settlements: { latestOccurredAt: o.settlements.latestOccurredAt?.toISOString() ?? null },
      balances: o.balances.map((b) => ({
        currency: b.currency,
        debitBalances: b.debitBalances.toString(),
        creditBalances: b.creditBalances.toString(),
        accounts: b.accounts,
        debitNormal: sideView(b.debitNormal),
        creditNormal: sideView(b.creditNormal),
        againstNormal: b.againstNormal.map((g) => ({
          ownerType: g.ownerType,
          accounts: g.accounts,
          balance: g.balance.toString(),
          largest: g.largest.map((a) => ({ account: a.account, normalBalance: a.normalBalance, balance: a.balance.toString() })),
        })),
      })),
      anchoring: {
        journalHead: o.anchoring.journalHead.toString(),
        anchoredThrough: o.anchoring.anchoredThrough?.toString() ?? null,
        lagTransactions: Number(o.anchoring.lagTransactions),
        oldestUnanchoredAt: o.anchoring.oldestUnanchoredAt?.toISOString() ?? null,
      },
      payouts: o.payouts.map((p) => ({ rail: p.rail, state: p.state, currency: p.currency, count: p.count, amountMinor: p.amount.toString() })),
      exceptions: o.exceptions,
      cashExceptions: o.cashExceptions,
      bankPayoutExceptions: o.bankPayoutExceptions,
    };
  });
}
