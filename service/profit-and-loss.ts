/**
 * The platform's profit and loss for a period, by seller program and/or market: the movements of
 * its income and expense accounts (the P&L accounts, PNL_ACCOUNT_PREFIXES) by effective instant, as
 * the trial balance counts them ([from, to), posted and commit legs, a late event where the ledger
 * dated it), grouped by what each journal transaction names of itself in its metadata:
 * - program: the transaction's `program` (every settlement event books its seller's program as it
 *   applied), else the program on file of the seller it names (`sellerId`: a charge such as a
 *   storage run's, a payout's realised FX, a bank's charges on a return, an adjusting entry);
 * - market: the transaction's `market` (every settlement event).
 * A transaction naming neither (a revaluation, a remittance's realised FX, an adjustment of a
 * gateway's totals, a charge has no market) is in an explicit unallocated group, line by line.
 *
 * Its grand totals are checked against the trial balance's period debits and credits of the same
 * accounts, read in the same snapshot by a query that does not group (Ledger.movementsByMetadata), per account:
 * `reconciliation.reconciles` says whether the groups add up to it. Reporting currency USD: every
 * income and expense of the settlement engine is booked in USD; a P&L account that moved in another
 * currency (a bank's charges in a non-USD bank account) is listed apart (`otherCurrencies`), in its
 * own currency, outside the totals, never converted here.
 */
import { Errors } from "./errors.js";
import type { Ledger, NormalBalance } from "./ledger/types.js";
import { Accounts, SETTLEMENT_CURRENCY, type SettlementService } from "./settlement/index.js";

/**
 * The P&L accounts by code: revenue (`platform:revenue:*`: fees, the FX markup, a listing price's
 * checkout difference), expenses (`platform:expense:*`: payment fees, cost of sales, chargeback
 * losses, bank charges, the acquirer's and the bank's conversion spreads), the exchange differences
 * (EXCHANGE_DIFFERENCE_ACCOUNTS) and the reconciliation differences booked by resolutions
 * (`platform:reconciliation:*`: a gateway's costs, differences).
 * Not: cash, payouts in transit, returned goods (an asset), suspense (owed until its payer is known).
 */
export const PNL_ACCOUNT_PREFIXES = ["platform:revenue:", "platform:expense:", "platform:fx_gain_loss", "platform:fx:", "platform:reconciliation:"] as const;

/**
 * The exchange differences recognised in profit or loss (IAS 21.52(a)): a follow-up's difference
 * between the capture's values and today's rate (`platform:fx_gain_loss`), a position closed by a
 * remittance or a payout against its booked value, at mid (`platform:fx:realised_gain_loss`), the
 * revaluation of open positions (`platform:fx:unrealised_gain_loss`). Not: the markup on sellers'
 * conversions and a listing's checkout difference (revenue), the acquirer's and the bank's spreads
 * (`platform:expense:fx_conversion`). `platform:fx_gain_loss` also holds, from before they were kept
 * apart, the checkout differences of captures booked then (and their follow-ups' take-backs).
 */
export const EXCHANGE_DIFFERENCE_ACCOUNTS: readonly string[] = [Accounts.fxGainLoss, Accounts.fxRealised, Accounts.fxUnrealised];

export const PNL_DIMENSIONS = ["program", "market"] as const;
export type PnlDimension = (typeof PNL_DIMENSIONS)[number];

/** A report spans at most this (a leap year), as the volumes report. */
export const MAX_PNL_RANGE_MS = 366 * 86_400_000;

/** One P&L account's movement: `net` is income positive (credits - debits), whatever its normal side. */
export interface PnlLine {
  account: string;
  normalBalance: NormalBalance;
  debits: bigint;
  credits: bigint;
  net: bigint;
}

/** Revenue: credit-normal accounts' credits - debits (FX results included, a loss negative); expenses: debit-normal accounts' debits - credits; netResult = revenue - expenses. */
export interface PnlTotals {
  debits: bigint;
  credits: bigint;
  revenue: bigint;
  expenses: bigint;
  netResult: bigint;
  /** The net of the EXCHANGE_DIFFERENCE_ACCOUNTS (credits - debits, a gain positive): the part of `revenue` IAS 21.52(a) discloses. */
  exchangeDifferences: bigint;
}

export interface PnlGroup extends PnlTotals {
  /** Present when grouped by it; null: the transactions name no program (and no seller on file). */
  program?: string | null;
  /** Present when grouped by it; null: the transactions name no market. */
  market?: string | null;
  /** True when a dimension grouped by is null: what the journal does not attribute, never dropped. */
  unallocated: boolean;
  lines: PnlLine[];
}

export interface ProfitAndLoss {
  from: Date;
  to: Date;
  currency: typeof SETTLEMENT_CURRENCY;
  by: PnlDimension[];
  groups: PnlGroup[];
  /** Per P&L account, all groups together. */
  accounts: PnlLine[];
  totals: PnlTotals;
  /** The trial balance's figures for the same accounts and period, and whether the groups add up to them, account by account (every currency). */
  reconciliation: {
    reconciles: boolean;
    revenue: bigint;
    expenses: bigint;
    netResult: bigint;
    accounts: Array<PnlLine & { currency: string; reconciles: boolean }>;
  };
  /** P&L accounts that moved in a currency other than USD: in their own currency, outside the totals. */
  otherCurrencies: Array<PnlLine & { currency: string }>;
}

type Sources = { ledger: Pick<Ledger, "movementsByMetadata">; settlement: Pick<SettlementService, "sellerPrograms"> };

/** `by` as the query gives it ("program", "market", "program,market", "market,program"), in PNL_DIMENSIONS order; 400 naming `query.by` otherwise. */
export function pnlDimensions(by: string | undefined): PnlDimension[] {
  if (by === undefined) return ["program"];
  const parts = by.split(",");
  const ok = parts.length > 0 && parts.every((p) => (PNL_DIMENSIONS as readonly string[]).includes(p)) && new Set(parts).size === parts.length;
  if (!ok) throw Errors.validation("by is program, market or program,market", { fields: [{ field: "query.by", message: "program, market or program,market" }] });
  return PNL_DIMENSIONS.filter((d) => parts.includes(d));
}

function line(account: string, normalBalance: NormalBalance, debits: bigint, credits: bigint): PnlLine {
  return { account, normalBalance, debits, credits, net: credits - debits };
}

function totalsOf(lines: readonly PnlLine[]): PnlTotals {
  const t: PnlTotals = { debits: 0n, credits: 0n, revenue: 0n, expenses: 0n, netResult: 0n, exchangeDifferences: 0n };
  for (const l of lines) {
    t.debits += l.debits;
    t.credits += l.credits;
    if (l.normalBalance === "credit") t.revenue += l.net;
    else t.expenses -= l.net;
    if (EXCHANGE_DIFFERENCE_ACCOUNTS.includes(l.account)) t.exchangeDifferences += l.net;
  }
  t.netResult = t.revenue - t.expenses;
  return t;
}

/** Adds a movement to the line of its account in `lines` (kept by code). */
function addTo(lines: Map<string, PnlLine>, account: string, normalBalance: NormalBalance, debits: bigint, credits: bigint): void {
  const l = lines.get(account) ?? line(account, normalBalance, 0n, 0n);
  l.debits += debits;
  l.credits += credits;
  l.net = l.credits - l.debits;
  lines.set(account, l);
}

const byCode = (a: PnlLine, b: PnlLine) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0);

export async function profitAndLoss(s: Sources, period: { from: Date; to: Date }, by: readonly PnlDimension[]): Promise<ProfitAndLoss> {
  if (period.from.getTime() >= period.to.getTime()) throw Errors.validation("from must be before to", { fields: [{ field: "to", message: "must be after from" }] });
  if (period.to.getTime() - period.from.getTime() > MAX_PNL_RANGE_MS) {
    throw Errors.validation("from and to are at most 366 days apart", { fields: [{ field: "to", message: "at most 366 days after from" }] });
  }
  const withProgram = by.includes("program");
  const withMarket = by.includes("market");
  const groupBy = [...(withProgram ? [["program", "sellerId"]] : []), ...(withMarket ? [["market"]] : [])];
  const m = await s.ledger.movementsByMetadata({ codePrefixes: PNL_ACCOUNT_PREFIXES }, period, groupBy);

  const sellers = [...new Set(m.rows.flatMap((r) => (withProgram && r.groups[0]?.key === "sellerId" && r.groups[0].value !== null ? [r.groups[0].value] : [])))];
  const programs = await s.settlement.sellerPrograms(sellers);

  const groups = new Map<string, { program: string | null; market: string | null; lines: Map<string, PnlLine> }>();
  const accounts = new Map<string, PnlLine>();
  const other = new Map<string, PnlLine & { currency: string }>();
  for (const r of m.rows) {
    if (r.currency !== SETTLEMENT_CURRENCY) {
      const key = `${r.currency}\u0000${r.account}`;
      const o = other.get(key) ?? { ...line(r.account, r.normalBalance, 0n, 0n), currency: r.currency };
      o.debits += r.debits;
      o.credits += r.credits;
      o.net = o.credits - o.debits;
      other.set(key, o);
      continue;
    }
    let program: string | null = null;
    let market: string | null = null;
    let i = 0;
    if (withProgram) {
      const g = r.groups[i++]!;
      program = g.key === "program" ? g.value : g.key === "sellerId" && g.value !== null ? (programs.get(g.value) ?? null) : null;
    }
    if (withMarket) market = r.groups[i]!.value;
    const key = `${program ?? ""}\u0000${market ?? ""}`;
    const group = groups.get(key) ?? { program, market, lines: new Map<string, PnlLine>() };
    addTo(group.lines, r.account, r.normalBalance, r.debits, r.credits);
    groups.set(key, group);
    addTo(accounts, r.account, r.normalBalance, r.debits, r.credits);
  }

  const out: PnlGroup[] = [...groups.values()].map((g) => {
    const lines = [...g.lines.values()].sort(byCode);
    return {
      ...(withProgram ? { program: g.program } : {}),
      ...(withMarket ? { market: g.market } : {}),
      unallocated: (withProgram && g.program === null) || (withMarket && g.market === null),
      lines,
      ...totalsOf(lines),
    };
  });
  // Allocated groups by program then market; the unallocated ones last.
  const sortKey = (g: PnlGroup) => `${g.unallocated ? 1 : 0}\u0000${g.program ?? "\uffff"}\u0000${g.market ?? "\uffff"}`;
  out.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));

  const totalLines = [...accounts.values()].sort(byCode);
  const otherLines = [...other.values()].sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : byCode(a, b)));
  // The trial balance's own figures for these accounts: each must be what the groups hold of it.
  const reportOf = (currency: string, account: string) => (currency === SETTLEMENT_CURRENCY ? accounts.get(account) : other.get(`${currency}\u0000${account}`));
  const tbAccounts = m.trialBalance.map((a) => {
    const mine = reportOf(a.currency, a.account);
    return { ...line(a.account, a.normalBalance, a.debits, a.credits), currency: a.currency, reconciles: mine !== undefined && mine.debits === a.debits && mine.credits === a.credits };
  });
  const seen = new Set(tbAccounts.map((a) => `${a.currency}\u0000${a.account}`));
  const missingFromTb = [...totalLines.map((l) => `${SETTLEMENT_CURRENCY}\u0000${l.account}`), ...other.keys()].some((k) => !seen.has(k));
  const tbTotals = totalsOf(tbAccounts.filter((a) => a.currency === SETTLEMENT_CURRENCY));
  return {
    from: period.from,
    to: period.to,
    currency: SETTLEMENT_CURRENCY,
    by: [...by],
    groups: out,
    accounts: totalLines,
    totals: totalsOf(totalLines),
    reconciliation: {
      reconciles: !missingFromTb && tbAccounts.every((a) => a.reconciles),
      revenue: tbTotals.revenue,
      expenses: tbTotals.expenses,
      netResult: tbTotals.netResult,
      accounts: tbAccounts,
    },
    otherCurrencies: otherLines,
  };
}
