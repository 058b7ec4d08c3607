/** What the console's profit and loss reads from the report: a group's name, the grouping its select holds, and the accounts that keep it from reconciling, with both figures. */
import { describe, expect, it } from "vitest";
import { groupingOf, groupName, pnlDifferences, type PnlLine, type ProfitAndLoss } from "../../console/src/pnl.js";

const line = (account: string, normalBalance: "debit" | "credit", debits: string, credits: string): PnlLine => ({ account, normalBalance, debits, credits, net: (BigInt(credits) - BigInt(debits)).toString() });

function reportOf(over: Partial<ProfitAndLoss>): ProfitAndLoss {
  const accounts = [line("platform:expense:payment_fees", "debit", "300", "0"), line("platform:revenue:commission", "credit", "0", "1200")];
  return {
    from: "2024-12-01T00:00:00.000Z",
    to: "2025-01-01T00:00:00.000Z",
    currency: "USD",
    by: ["program"],
    groups: [{ program: "pop", unallocated: false, lines: accounts, debits: "300", credits: "1200", revenue: "1200", expenses: "300", netResult: "900", exchangeDifferences: "0" }],
    accounts,
    totals: { debits: "300", credits: "1200", revenue: "1200", expenses: "300", netResult: "900", exchangeDifferences: "0" },
    reconciliation: { reconciles: true, revenue: "1200", expenses: "300", netResult: "900", accounts: accounts.map((a) => ({ ...a, currency: "USD", reconciles: true })) },
    otherCurrencies: [],
    ...over,
  };
}

describe("the profit and loss in the console", () => {
  it("names a group by what its transactions name, and one that names nothing as such", () => {
    const g = { unallocated: false, lines: [], debits: "0", credits: "0", revenue: "0", expenses: "0", netResult: "0", exchangeDifferences: "0" };
    expect(groupName({ ...g, program: "pop" }, ["program"])).toBe("Program pop");
    expect(groupName({ ...g, program: null, unallocated: true }, ["program"])).toBe("No program");
    expect(groupName({ ...g, market: "ES" }, ["market"])).toBe("Market ES");
    expect(groupName({ ...g, program: "overseas_hosting", market: null, unallocated: true }, ["program", "market"])).toBe("Program overseas_hosting · no market");
    expect(groupName({ ...g, program: null, market: null, unallocated: true }, ["program", "market"])).toBe("No program · no market");
  });

  it("holds the API's default and its other spelling of both as the select's values, and keeps anything else for the service to refuse", () => {
    expect([groupingOf(null), groupingOf(""), groupingOf("market"), groupingOf("market,program"), groupingOf("program,market"), groupingOf("seller")]).toEqual(["program", "program", "market", "program,market", "program,market", "seller"]);
  });

  it("finds no difference in a report that reconciles", () => {
    expect(pnlDifferences(reportOf({}))).toEqual([]);
  });

  it("lists each account the trial balance has other figures for, one it lacks, and one in another currency, with both sides", () => {
    const base = reportOf({});
    const r = reportOf({
      accounts: [...base.accounts, line("platform:revenue:storage", "credit", "0", "50")],
      otherCurrencies: [{ ...line("platform:reconciliation:bank_charges", "debit", "90", "0"), currency: "EUR" }],
      reconciliation: {
        ...base.reconciliation,
        reconciles: false,
        accounts: [
          { ...line("platform:expense:payment_fees", "debit", "300", "0"), currency: "USD", reconciles: true },
          { ...line("platform:revenue:commission", "credit", "0", "1250"), currency: "USD", reconciles: false },
          { ...line("platform:reconciliation:bank_charges", "debit", "95", "0"), currency: "EUR", reconciles: false },
          { ...line("platform:revenue:sales", "credit", "0", "10"), currency: "USD", reconciles: false },
        ],
      },
    });
    expect(pnlDifferences(r)).toEqual([
      { account: "platform:revenue:commission", currency: "USD", report: { debits: "0", credits: "1200" }, trialBalance: { debits: "0", credits: "1250" } },
      { account: "platform:reconciliation:bank_charges", currency: "EUR", report: { debits: "90", credits: "0" }, trialBalance: { debits: "95", credits: "0" } },
      { account: "platform:revenue:sales", currency: "USD", report: null, trialBalance: { debits: "0", credits: "10" } },
      { account: "platform:revenue:storage", currency: "USD", report: { debits: "0", credits: "50" }, trialBalance: null },
    ]);
  });
});
