/**
 * The profit and loss as `GET /v1/reports/profit-and-loss` answers it (service/http/routes/reports.ts
 * ProfitAndLossView), and what the console reads from it: a group's name in words, and the accounts
 * where the groups do not add up to the trial balance, with both figures.
 */

export type PnlDimension = "program" | "market";

/** The groupings the view offers, as the API's `by` takes them. */
export const PNL_GROUPINGS = [
  ["program", "program"],
  ["market", "market"],
  ["program,market", "program and market"],
] as const;

export interface PnlLine {
  account: string;
  normalBalance: "debit" | "credit";
  debits: string;
  credits: string;
  /** credits - debits: income positive, an expense negative. */
  net: string;
}

export interface PnlTotals {
  debits: string;
  credits: string;
  revenue: string;
  expenses: string;
  netResult: string;
  /** The part of revenue that is exchange differences (IAS 21.52(a)): platform:fx_gain_loss, platform:fx:realised_gain_loss, platform:fx:unrealised_gain_loss; not the conversion spreads (an expense) nor checkout differences (revenue). */
  exchangeDifferences: string;
}

export interface PnlGroup extends PnlTotals {
  program?: string | null;
  market?: string | null;
  unallocated: boolean;
  lines: PnlLine[];
}

export interface ProfitAndLoss {
  from: string;
  to: string;
  currency: string;
  by: PnlDimension[];
  groups: PnlGroup[];
  accounts: PnlLine[];
  totals: PnlTotals;
  reconciliation: {
    reconciles: boolean;
    revenue: string;
    expenses: string;
    netResult: string;
    accounts: Array<PnlLine & { currency: string; reconciles: boolean }>;
  };
  otherCurrencies: Array<PnlLine & { currency: string }>;
}

/** A grouping as the view's select holds it: "market,program" is the API's "program,market"; anything else is kept as given (the service says what is wrong with it). */
export function groupingOf(by: string | null): string {
  if (by === null || by === "") return "program";
  return by === "market,program" ? "program,market" : by;
}

/** "Program pop · market ES", "No program", "Program overseas_hosting · no market": what the group's transactions name. */
export function groupName(g: PnlGroup, by: readonly PnlDimension[]): string {
  const parts = by.map((d) => {
    const v = d === "program" ? g.program : g.market;
    return v === null || v === undefined ? `no ${d}` : `${d} ${v}`;
  });
  const text = parts.join(" · ");
  return text === "" ? "All" : `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

/** An account where the report and the trial balance differ: each side's debits and credits (null: that side has no movement of it). */
export interface PnlDifference {
  account: string;
  currency: string;
  report: { debits: string; credits: string } | null;
  trialBalance: { debits: string; credits: string } | null;
}

/**
 * The accounts that keep the report from reconciling: those the trial balance has whose groups'
 * debits or credits differ, and those the groups have and the trial balance does not (the service's
 * `reconciles` is false for either). USD accounts are the groups' (`accounts`); another currency's,
 * `otherCurrencies`.
 */
export function pnlDifferences(r: ProfitAndLoss): PnlDifference[] {
  const key = (currency: string, account: string) => `${currency}\u0000${account}`;
  const report = new Map<string, PnlLine & { currency: string }>();
  for (const a of r.accounts) report.set(key(r.currency, a.account), { ...a, currency: r.currency });
  for (const a of r.otherCurrencies) report.set(key(a.currency, a.account), a);
  const figures = (l: PnlLine | undefined) => (l === undefined ? null : { debits: l.debits, credits: l.credits });
  const out: PnlDifference[] = [];
  const inTrialBalance = new Set<string>();
  for (const t of r.reconciliation.accounts) {
    const k = key(t.currency, t.account);
    inTrialBalance.add(k);
    if (t.reconciles) continue;
    out.push({ account: t.account, currency: t.currency, report: figures(report.get(k)), trialBalance: figures(t) });
  }
  for (const [k, l] of report) if (!inTrialBalance.has(k)) out.push({ account: l.account, currency: l.currency, report: figures(l), trialBalance: null });
  return out;
}
