/**
 * Dashboard figures for the web console: settlement volumes per UTC day (aggregated in SQL by the
 * settlement module) and the overview (service/overview.ts: balances, anchoring lag, payouts,
 * open exceptions). Reads only; finance:read.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { AGAINST_NORMAL_LARGEST, OWNER_TYPES, type BalanceSide } from "../../ledger/index.js";
import { readOverview } from "../../overview.js";
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
    to: { ...DateTime, description: "occurredAt before (exclusive); at most 366 days after from" },
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

const sideView = (s: BalanceSide) => ({ accounts: s.accounts, onNormalSide: s.onNormalSide.toString(), againstNormalSide: s.againstNormalSide.toString(), accountsAgainst: s.accountsAgainst });

export async function reportRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  app.get("/v1/reports/volumes", {
    config: { auth: { scopes: ["finance:read"] } },
    schema: {
      tags: [TAGS.reports],
      summary: "Settlement volumes per day, market, currency and event type",
      description: "Posted settlement records with occurredAt in [from, to) (at most 366 days), per UTC day, market, buyer currency and event type: how many, and the sum of their amount in minor units of that currency. Ordered by day, market, currency, event type.",
      security: bearer,
      querystring: VolumesQuery,
      response: { 200: VolumesView, ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const q = request.query as Static<typeof VolumesQuery>;
    const rows = await services.settlement.volumes(new Date(q.from), new Date(q.to));
    return { items: rows.map((r) => ({ day: r.day, market: r.market, currency: r.currency, eventType: r.eventType, count: r.count, amountMinor: r.amount.toString() })) };
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
