/**
 * The profit and loss by program and market (GET /v1/reports/profit-and-loss) on both engines,
 * from events booked through the real settlement service: POP captures in Brazil and Spain and a
 * refund, a full-hosting sale in Brazil, a semi-hosting sale in Spain, a storage charge to an
 * overseas-hosting seller (program by its seller, no market), a revaluation (no seller: unallocated),
 * a late event booked after the day was closed (effective at the close instant), one effective at
 * `to` (out). Expected figures come from each event's own journal postings and breakdown, never
 * from the report; the totals are checked against GET /v1/ledger/trial-balance.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../service/app.js";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { convertMinor } from "../../service/money/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, csvRows, DAY, json, openHarness, problemCode, publishDayRates, usdRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

const PNL = /^platform:(revenue:|expense:|fx_gain_loss$|fx:|reconciliation:)/;
const FROM = `${DAY}T00:00:00.000Z`;
const CLOSE = "2024-12-03T00:00:00.000Z";
const TO = "2024-12-03T12:00:00.000Z";

interface Line {
  account: string;
  normalBalance: string;
  debits: string;
  credits: string;
  net: string;
}
interface Group {
  program?: string | null;
  market?: string | null;
  unallocated: boolean;
  lines: Line[];
  debits: string;
  credits: string;
  revenue: string;
  expenses: string;
  netResult: string;
  exchangeDifferences?: string;
}
interface Report {
  from: string;
  to: string;
  currency: string;
  by: string[];
  groups: Group[];
  accounts: Line[];
  totals: Omit<Group, "lines" | "unallocated" | "program" | "market">;
  reconciliation: { reconciles: boolean; revenue: string; expenses: string; netResult: string; accounts: Array<Line & { currency: string; reconciles: boolean }> };
  otherCurrencies: Array<Line & { currency: string }>;
}
interface Posting {
  account: string;
  currency: string;
  direction: "debit" | "credit";
  phase: string;
  amount: string;
}
interface Tx {
  id: string;
  effectiveAt: string;
  postings: Posting[];
}

/** What a booked transaction is, as the test knows it from what it sent (never from the report). */
interface Booked {
  tx: Tx;
  program: string | null;
  market: string | null;
}

/** Per group key and account: [debits, credits] of the USD P&L postings of `booked`, effective in [from, to). */
function expected(booked: readonly Booked[], from: string, to: string, key: (b: Booked) => string): Map<string, Map<string, [bigint, bigint]>> {
  const out = new Map<string, Map<string, [bigint, bigint]>>();
  for (const b of booked) {
    const at = Date.parse(b.tx.effectiveAt);
    if (at < Date.parse(from) || at >= Date.parse(to)) continue;
    for (const p of b.tx.postings) {
      if (!PNL.test(p.account) || p.currency !== "USD" || !(p.phase === "posted" || p.phase === "commit")) continue;
      const g = out.get(key(b)) ?? new Map<string, [bigint, bigint]>();
      const [d, c] = g.get(p.account) ?? [0n, 0n];
      g.set(p.account, p.direction === "debit" ? [d + BigInt(p.amount), c] : [d, c + BigInt(p.amount)]);
      out.set(key(b), g);
    }
  }
  return out;
}

/** The report's groups in the same shape. */
function reported(r: Report, key: (g: Group) => string): Map<string, Map<string, [bigint, bigint]>> {
  return new Map(r.groups.map((g) => [key(g), new Map(g.lines.map((l) => [l.account, [BigInt(l.debits), BigInt(l.credits)] as [bigint, bigint]]))]));
}

const net = (g: Map<string, [bigint, bigint]> | undefined) => [...(g?.values() ?? [])].reduce((s, [d, c]) => s + c - d, 0n);

describe.each(kinds)("profit and loss by program and market on %s", (kind) => {
  let h: Harness;
  let writer: IssuedKey;
  const booked: Booked[] = [];
  const breakdowns = new Map<string, { lines: Record<string, string>; gatewayFee: { expenseUsd: string } }>();
  let chargeUsd = 0n;
  let revaluationChange = 0n;

  const tx = async (id: string) => json<Tx>(await h.get(`/v1/transactions/${id}`));
  const event = async (e: Record<string, unknown>, program: string) => {
    const r = await h.signedPost("/v1/settlements/events", e);
    if (r.statusCode !== 201) throw new Error(r.body);
    const body = json<{ settlement: { breakdown: { lines: Record<string, string>; gatewayFee: { expenseUsd: string } } }; transaction: Tx }>(r);
    breakdowns.set(String(e["gatewayEventId"]), body.settlement.breakdown);
    booked.push({ tx: await tx(body.transaction.id), program, market: String(e["market"]) });
  };
  const report = async (query: string, key: IssuedKey = h.keys.finance) => {
    const r = await h.get(`/v1/reports/profit-and-loss?${query}`, key);
    expect(r.statusCode, r.body).toBe(200);
    return json<Report>(r);
  };

  beforeAll(async () => {
    h = await openHarness({ kind });
    writer = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    await publishDayRates(h);
    const next = await h.post("/v1/fx/rates", { rates: usdRates(["BRL", "CNY", "EUR"], "2024-12-03", new Date(CLOSE)) }, h.keys.admin);
    if (next.statusCode !== 201) throw new Error(next.body);

    await event(capture({ gatewayEventId: "pl-pop-br", settlementId: "ORD-PL-1" }), "pop");
    await event(capture({ type: "refund", gatewayEventId: "pl-pop-br-r", originalEventId: "pl-pop-br", settlementId: "ORD-PL-1", amount: "3000", gatewayFee: "0", occurredAt: `${DAY}T11:00:00.000Z` }), "pop");
    await event(capture({ gatewayEventId: "pl-pop-es", settlementId: "ORD-PL-2", market: "ES", currency: "EUR", amount: "8000", gatewayFee: "240", occurredAt: `${DAY}T10:00:00.000Z` }), "pop");
    await event(capture({ gatewayEventId: "pl-full-br", settlementId: "ORD-PL-3", sellerId: "S-FULL-GZ-01", supplyPrice: "6000", occurredAt: `${DAY}T12:00:00.000Z` }), "full_hosting");
    await event(capture({ gatewayEventId: "pl-semi-es", settlementId: "ORD-PL-4", sellerId: "S-SEMI-HZ-01", market: "ES", currency: "EUR", amount: "12000", gatewayFee: "300", occurredAt: `${DAY}T13:00:00.000Z` }), "semi_hosting");

    // A storage charge: the transaction names its seller, not its program nor a market.
    const charged = await h.post("/v1/sellers/S-OVS-NB-01/charges", { chargeId: "STORAGE-PL", kind: "storage", amount: "1500", occurredAt: `${DAY}T20:00:00.000Z`, note: "storage" }, writer);
    if (charged.statusCode !== 201) throw new Error(charged.body);
    chargeUsd = 1500n;
    booked.push({ tx: await tx(json<{ charge: { transactionId: string } }>(charged).charge.transactionId), program: "overseas_hosting", market: null });

    // The day's positions revalued at its last instant (no seller: unallocated), then the day closed.
    const revalued = await h.post("/v1/fx/revaluations?at=2024-12-02T23:59:59.999Z", {}, writer);
    if (revalued.statusCode !== 201) throw new Error(revalued.body);
    booked.push({ tx: await tx(json<{ revaluation: { transactionId: string } }>(revalued).revaluation.transactionId), program: null, market: null });
    const closed = await h.post("/v1/ledger/periods/close", { before: CLOSE, note: "2 December" }, writer);
    if (closed.statusCode !== 201) throw new Error(closed.body);

    // A late event of the closed day: the ledger books it effective at the close instant.
    await event(capture({ gatewayEventId: "pl-pop-br-late", settlementId: "ORD-PL-5", amount: "5000", gatewayFee: "150", occurredAt: `${DAY}T15:00:00.000Z` }), "pop");
    // The positions revalued at the next day's rates, in the open period: an unrealised result no seller owns.
    const again = await h.post("/v1/fx/revaluations?at=2024-12-03T06:00:00.000Z", {}, writer);
    if (again.statusCode !== 201) throw new Error(again.body);
    const revaluation = json<{ revaluation: { transactionId: string; lines: Array<{ change: string }> } }>(again).revaluation;
    revaluationChange = revaluation.lines.reduce((sum, l) => sum + BigInt(l.change), 0n);
    booked.push({ tx: await tx(revaluation.transactionId), program: null, market: null });
    // Effective at `to` exactly: out of [from, to).
    await event(capture({ gatewayEventId: "pl-pop-br-at-to", settlementId: "ORD-PL-6", amount: "7000", gatewayFee: "200", occurredAt: TO }), "pop");
  }, 180_000);
  afterAll(async () => h?.close());

  it("the booked events are what the test says they are", () => {
    const late = booked.find((b) => b.tx.postings.length > 0 && b.tx.effectiveAt === CLOSE);
    expect(late, "the late event is effective at the close instant").toBeDefined();
    expect(booked.filter((b) => b.program === null).flatMap((b) => b.tx.postings.map((p) => p.account))).toContain("platform:fx:unrealised_gain_loss");
  });

  it("groups by program: each group's accounts are its events' P&L postings, the unallocated revaluation apart", async () => {
    const r = await report(`from=${FROM}&to=${TO}`);
    expect([r.currency, r.by, r.from, r.to]).toEqual(["USD", ["program"], FROM, TO]);
    const key = (p: string | null | undefined) => p ?? "(unallocated)";
    const want = expected(booked, FROM, TO, (b) => key(b.program));
    expect(reported(r, (g) => key(g.program))).toEqual(want);
    expect(r.groups.map((g) => [g.program, g.unallocated])).toEqual([
      ["full_hosting", false],
      ["overseas_hosting", false],
      ["pop", false],
      ["semi_hosting", false],
      [null, true],
    ]);
    for (const g of r.groups) {
      expect(BigInt(g.netResult), String(g.program)).toBe(net(want.get(key(g.program))));
      expect(BigInt(g.revenue) - BigInt(g.expenses)).toBe(BigInt(g.netResult));
    }
    // The storage charge is the overseas seller's whole P&L here: its amount, as charged.
    expect(r.groups.find((g) => g.program === "overseas_hosting")!.lines).toEqual([{ account: "platform:revenue:storage", normalBalance: "credit", debits: "0", credits: chargeUsd.toString(), net: chargeUsd.toString() }]);
    // The unallocated group lists the revaluation's account, its result what the revaluation says it booked.
    expect(r.groups.at(-1)!.lines.map((l) => l.account)).toEqual(["platform:fx:unrealised_gain_loss"]);
    expect(revaluationChange).not.toBe(0n);
    expect(BigInt(r.groups.at(-1)!.netResult)).toBe(revaluationChange);
    // Full hosting: the sale as revenue, its cost of sales and the payment fee as expenses.
    const full = r.groups.find((g) => g.program === "full_hosting")!;
    expect(full.lines.map((l) => l.account)).toEqual(expect.arrayContaining(["platform:revenue:sales", "platform:expense:cost_of_sales", "platform:expense:payment_fees"]));
    const costOfSales = full.lines.find((l) => l.account === "platform:expense:cost_of_sales")!;
    expect(BigInt(full.expenses)).toBe(BigInt(costOfSales.debits) + BigInt(full.lines.find((l) => l.account === "platform:expense:payment_fees")!.debits));
  });

  it("groups by program and market from the events' own breakdowns: Spain's POP sale alone is its commission, markup and fee", async () => {
    const r = await report(`from=${FROM}&to=${TO}&by=program,market`);
    expect(r.by).toEqual(["program", "market"]);
    const key = (p: string | null | undefined, m: string | null | undefined) => `${p ?? "-"}/${m ?? "-"}`;
    expect(reported(r, (g) => key(g.program, g.market))).toEqual(expected(booked, FROM, TO, (b) => key(b.program, b.market)));
    expect(r.groups.map((g) => [key(g.program, g.market), g.unallocated])).toEqual([
      ["full_hosting/BR", false],
      ["pop/BR", false],
      ["pop/ES", false],
      ["semi_hosting/ES", false],
      ["overseas_hosting/-", true],
      ["-/-", true],
    ]);
    const b = breakdowns.get("pl-pop-es")!;
    const popEs = r.groups.find((g) => g.program === "pop" && g.market === "ES")!;
    const credit = (account: string) => popEs.lines.find((l) => l.account === account)?.credits ?? "0";
    expect([credit("platform:revenue:commission"), credit("platform:revenue:fx_markup"), credit("platform:revenue:payment_fee_recovery")]).toEqual([b.lines["commission"], b.lines["fxMarkup"], b.lines["paymentFeeRecovery"]]);
    expect(popEs.lines.find((l) => l.account === "platform:expense:payment_fees")!.debits).toBe(b.gatewayFee.expenseUsd);
    expect(BigInt(popEs.netResult)).toBe(BigInt(b.lines["commission"]!) + BigInt(b.lines["fxMarkup"]!) + BigInt(b.lines["paymentFeeRecovery"]!) - BigInt(b.gatewayFee.expenseUsd));
  });

  it("groups by market: the charge and the revaluation, which name no market, are unallocated", async () => {
    const r = await report(`from=${FROM}&to=${TO}&by=market`);
    const key = (m: string | null | undefined) => m ?? "(unallocated)";
    expect(reported(r, (g) => key(g.market))).toEqual(expected(booked, FROM, TO, (b) => key(b.market)));
    expect(r.groups.map((g) => [g.market, g.unallocated, "program" in g])).toEqual([
      ["BR", false, false],
      ["ES", false, false],
      [null, true, false],
    ]);
  });

  it("reconciles to the trial balance of the same period: totals equal the P&L accounts' movement there", async () => {
    for (const [from, to] of [
      [FROM, TO],
      [FROM, CLOSE],
    ] as const) {
      const r = await report(`from=${from}&to=${to}&by=program,market`);
      const tb = json<{ accounts: Array<{ account: string; currency: string; debits: string; credits: string }> }>(await h.get(`/v1/ledger/trial-balance?from=${from}&to=${to}`));
      const pnl = tb.accounts.filter((a) => PNL.test(a.account) && a.currency === "USD");
      const tbNet = pnl.reduce((s, a) => s + BigInt(a.credits) - BigInt(a.debits), 0n);
      expect(r.reconciliation.reconciles).toBe(true);
      expect([BigInt(r.totals.netResult), BigInt(r.reconciliation.netResult)]).toEqual([tbNet, tbNet]);
      expect(r.accounts.map((a) => [a.account, a.debits, a.credits])).toEqual(pnl.filter((a) => a.debits !== "0" || a.credits !== "0").map((a) => [a.account, a.debits, a.credits]));
      // And the events' own postings (the late one only in the longer period; the one at `to` in neither).
      expect(BigInt(r.totals.netResult)).toBe(net(expected(booked, from, to, () => "all").get("all")));
      expect(r.otherCurrencies).toEqual([]);
    }
    const day = await report(`from=${FROM}&to=${CLOSE}`);
    const longer = await report(`from=${FROM}&to=${TO}`);
    const late = booked.find((b) => b.tx.effectiveAt === CLOSE && b.program === "pop")!;
    const lateNet = net(expected([late], FROM, TO, () => "x").get("x"));
    expect(lateNet).not.toBe(0n);
    // The closed day's report leaves out the late event (effective at the close instant) and the next day's revaluation.
    expect(BigInt(longer.totals.netResult) - BigInt(day.totals.netResult)).toBe(lateNet + revaluationChange);
    // One more millisecond takes in the event effective at `to`.
    const atTo = booked.at(-1)!;
    const more = await report(`from=${FROM}&to=2024-12-03T12:00:00.001Z`);
    expect(BigInt(more.totals.netResult) - BigInt(longer.totals.netResult)).toBe(net(expected([atTo], FROM, "2024-12-03T12:00:00.001Z", () => "x").get("x")));
  });

  it("answers CSV with the same figures: each group's lines and totals, the totals, the trial balance and whether it reconciles", async () => {
    const j = await report(`from=${FROM}&to=${TO}&by=program`);
    const r = await h.get(`/v1/reports/profit-and-loss?from=${FROM}&to=${TO}&by=program&format=csv`);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.headers["content-type"]).toContain("text/csv");
    const [header, ...rows] = csvRows(r.body);
    const col = (name: string) => header!.indexOf(name);
    expect(header).toEqual(["scope", "row", "program", "market", "unallocated", "account", "normal_balance", "currency", "debits", "credits", "net", "net_major", "reconciles"]);
    const find = (scope: string, row: string, program = "") => rows.find((x) => x[col("scope")] === scope && x[col("row")] === row && x[col("program")] === program);
    expect(find("total", "net_result")![col("net")]).toBe(j.totals.netResult);
    expect(find("trial_balance", "net_result")![col("reconciles")]).toBe("true");
    expect(find("group", "net_result", "pop")![col("net")]).toBe(j.groups.find((g) => g.program === "pop")!.netResult);
    const unallocated = rows.filter((x) => x[col("scope")] === "group" && x[col("unallocated")] === "true" && x[col("row")] === "line");
    expect(unallocated.map((x) => x[col("account")])).toEqual(["platform:fx:unrealised_gain_loss"]);
    const n = BigInt(find("total", "net_result")![col("net")]!);
    expect(find("total", "net_result")![col("net_major")]).toBe(`${n < 0n ? "-" : ""}${(n < 0n ? -n : n) / 100n}.${((n < 0n ? -n : n) % 100n).toString().padStart(2, "0")}`);
  });

  it("an adjustment naming nobody is unallocated line by line; a P&L account moved in another currency is listed apart, outside the totals", async () => {
    const before = await report(`from=${FROM}&to=${TO}`);
    const spec = (code: string, currency: string, normalBalance: "debit" | "credit") => ({ code, currency, ownerType: "platform" as const, ownerId: "platform", normalBalance, allowNegative: true });
    // A gateway's cost found by a reconciliation (USD), and a bank's charges in a EUR account: neither names a seller or market.
    for (const [key, account, currency, amount] of [
      ["pl-adj-usd", "platform:reconciliation:gateway_costs", "USD", 250n],
      ["pl-adj-eur", "platform:expense:bank_charges", "EUR", 90n],
    ] as const) {
      const r = await h.services.ledger.post({
        idempotencyKey: key,
        effectiveAt: new Date("2024-12-03T08:00:00.000Z"),
        metadata: { source: "test adjustment" },
        accounts: [spec(account, currency, "debit"), spec("platform:cash:bank", currency, "debit")],
        postings: [
          { account, currency, direction: "debit", amount },
          { account: "platform:cash:bank", currency, direction: "credit", amount },
        ],
      });
      expect(r.status).toBe("created");
    }
    const r = await report(`from=${FROM}&to=${TO}`);
    const unallocated = r.groups.at(-1)!;
    expect(unallocated.unallocated).toBe(true);
    expect(unallocated.lines.find((l) => l.account === "platform:reconciliation:gateway_costs")).toEqual({ account: "platform:reconciliation:gateway_costs", normalBalance: "debit", debits: "250", credits: "0", net: "-250" });
    expect(BigInt(before.totals.netResult) - BigInt(r.totals.netResult)).toBe(250n);
    expect(BigInt(r.totals.expenses) - BigInt(before.totals.expenses)).toBe(250n);
    expect(r.otherCurrencies).toEqual([{ account: "platform:expense:bank_charges", normalBalance: "debit", currency: "EUR", debits: "90", credits: "0", net: "-90" }]);
    expect(r.reconciliation.reconciles).toBe(true);
    expect(r.reconciliation.accounts.find((a) => a.currency === "EUR")).toMatchObject({ account: "platform:expense:bank_charges", debits: "90", reconciles: true });
    expect(r.reconciliation.netResult).toBe(r.totals.netResult);
  });

  it("states the exchange differences apart (IAS 21.52(a)): a listing's checkout difference is revenue, the acquirer's spread an expense, neither of them an exchange difference", async () => {
    const before = await report(`from=${FROM}&to=${TO}`);
    const movement = (r: Report, account: string) => {
      const l = r.accounts.find((a) => a.account === account);
      return l === undefined ? 0n : BigInt(l.net);
    };
    // A POP sale listed at 199.00 CNY, paid in BRL: the platform's checkout difference, on the sale's own breakdown.
    await event(capture({ gatewayEventId: "pl-listed", settlementId: "ORD-PL-LISTED", listingPrice: "19900", listingCurrency: "CNY", occurredAt: "2024-12-03T09:00:00.000Z" }), "pop");
    const checkoutFx = BigInt(breakdowns.get("pl-listed")!.lines["checkoutFx"]!);
    expect(checkoutFx).not.toBe(0n);
    // The acquirer remits the whole BRL receivable 1% below the published mid value at its instant.
    const at = new Date("2024-12-03T10:00:00.000Z");
    const receivable = BigInt(json<{ posted: string }>(await h.get("/v1/accounts/gateway%3Aadyen%3Areceivable/BRL/balance")).posted);
    const midUsd = convertMinor(receivable, "BRL", "USD", (await h.services.fx.latestRate("BRL", "USD", at)).rate, "half-even");
    const settled = (midUsd * 99n) / 100n;
    const remit = await h.signedPost("/v1/remittances", { gateway: "adyen", remittanceId: "PL-PO-1", currency: "BRL", amount: receivable.toString(), settledCurrency: "USD", settledAmount: settled.toString(), occurredAt: at.toISOString() });
    expect(remit.statusCode, remit.body).toBe(201);
    const remitted = json<{ remittance: { transactionId: string; realised: string; conversion: string } }>(remit).remittance;
    expect(BigInt(remitted.conversion)).toBe(settled - midUsd);
    booked.push({ tx: await tx(remitted.transactionId), program: null, market: null });

    const r = await report(`from=${FROM}&to=${TO}`);
    // The checkout difference is revenue of its own; the spread an expense; the exchange difference only the remittance's realised FX.
    expect(movement(r, "platform:revenue:checkout_fx") - movement(before, "platform:revenue:checkout_fx")).toBe(checkoutFx);
    expect(movement(r, "platform:expense:fx_conversion") - movement(before, "platform:expense:fx_conversion")).toBe(settled - midUsd);
    expect(r.accounts.find((a) => a.account === "platform:expense:fx_conversion")?.normalBalance).toBe("debit");
    expect(BigInt(r.totals.exchangeDifferences!) - BigInt(before.totals.exchangeDifferences!)).toBe(BigInt(remitted.realised));
    // Each group's exchange differences: the net of platform:fx_gain_loss and platform:fx:* among its lines, part of its revenue.
    for (const g of r.groups) {
      const fx = g.lines.filter((l) => /^platform:(fx_gain_loss$|fx:)/.test(l.account)).reduce((t, l) => t + BigInt(l.net), 0n);
      expect(BigInt(g.exchangeDifferences!), String(g.program)).toBe(fx);
    }
    expect(r.groups.at(-1)!.lines.map((l) => l.account)).toEqual(expect.arrayContaining(["platform:expense:fx_conversion", "platform:fx:unrealised_gain_loss"]));
    // And in the CSV, beside each group's net result and the total's.
    const csv = csvRows((await h.get(`/v1/reports/profit-and-loss?from=${FROM}&to=${TO}&format=csv`)).body);
    const col = (name: string) => csv[0]!.indexOf(name);
    const row = csv.find((x) => x[col("scope")] === "total" && x[col("row")] === "exchange_differences");
    expect(row?.[col("net")]).toBe(r.totals.exchangeDifferences);
    expect(csv.filter((x) => x[col("scope")] === "group" && x[col("row")] === "exchange_differences").length).toBe(r.groups.length);
    expect(r.reconciliation.reconciles).toBe(true);
  });

  it("writes a token's P&L rows in major units with its decimals in CSV, as the trial balance CSV does (the helper both use)", async () => {
    // Gas paid in the vault's token, on a P&L account, in a period of its own.
    const spec = (code: string, normalBalance: "debit" | "credit") => ({ code, currency: "USDC", ownerType: "platform" as const, ownerId: "platform", normalBalance, allowNegative: true });
    const booked = await h.services.ledger.post({
      idempotencyKey: "pl-usdc-gas",
      effectiveAt: new Date("2024-12-05T08:00:00.000Z"),
      metadata: { source: "test gas" },
      accounts: [spec("platform:expense:gas", "debit"), spec("treasury:vault:USDC", "debit")],
      postings: [
        { account: "platform:expense:gas", currency: "USDC", direction: "debit", amount: 1_234_567n },
        { account: "treasury:vault:USDC", currency: "USDC", direction: "credit", amount: 1_234_567n },
      ],
    });
    expect(booked.status).toBe("created");
    // The services as a stack with a chain has them once the token's decimals (6) are read from its contract.
    const exponentOf = (code: string) => (code === "USDC" ? 6 : h.services.exponentOf(code));
    const app = await buildApp({ services: { ...h.services, exponentOf }, config: h.config, logger: false });
    try {
      const get = async (url: string) => {
        const r = await app.inject({ method: "GET", url, headers: { authorization: `Bearer ${h.keys.finance.key}` } });
        expect(r.statusCode, r.body).toBe(200);
        return csvRows(r.body);
      };
      const period = "from=2024-12-05T00:00:00.000Z&to=2024-12-06T00:00:00.000Z";
      const [pnlHeader, ...pnl] = await get(`/v1/reports/profit-and-loss?${period}&format=csv`);
      const [tbHeader, ...tb] = await get(`/v1/ledger/trial-balance?${period}&format=csv`);
      const p = (name: string) => pnlHeader!.indexOf(name);
      const t = (name: string) => tbHeader!.indexOf(name);
      const gas = pnl.filter((x) => x[p("account")] === "platform:expense:gas" && x[p("currency")] === "USDC");
      expect(gas.map((x) => [x[p("scope")], x[p("net")], x[p("net_major")]])).toEqual([
        ["trial_balance", "-1234567", "-1.234567"],
        ["other_currency", "-1234567", "-1.234567"],
      ]);
      const tbGas = tb.find((x) => x[t("account")] === "platform:expense:gas" && x[t("currency")] === "USDC")!;
      expect([tbGas[t("debits")], tbGas[t("debits_major")]]).toEqual(["1234567", "1.234567"]);
    } finally {
      await app.close();
    }
  });

  it("refuses bad from, to and by naming the field, a period over 366 days, and keys without finance:read", async () => {
    const fields = (r: { body: string }) => (json<{ errors?: Array<{ field: string }> }>(r as never).errors ?? []).map((e) => e.field);
    const bad = async (query: string, field: string) => {
      const r = await h.get(`/v1/reports/profit-and-loss?${query}`);
      expect(r.statusCode, r.body).toBe(400);
      expect(fields(r), r.body).toContain(field);
    };
    await bad(`from=${FROM}&to=${TO}&by=seller`, "query.by");
    await bad(`from=${FROM}&to=${TO}&by=program,program`, "query.by");
    await bad(`from=${TO}&to=${FROM}`, "query.to");
    await bad(`from=${FROM}&to=${FROM}`, "query.to");
    await bad(`from=yesterday&to=${TO}`, "query.from");
    await bad(`from=${FROM}`, "query.to");
    const long = await h.get("/v1/reports/profit-and-loss?from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:01Z");
    expect([long.statusCode, problemCode(long), fields(long)], long.body).toEqual([400, "ENT_REQUEST_VALIDATION", ["query.to"]]); // as every other date error of a route
    expect((await h.get("/v1/reports/profit-and-loss?from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:00Z")).statusCode).toBe(200); // 366 days
    const gateway = await h.get(`/v1/reports/profit-and-loss?from=${FROM}&to=${TO}`, h.keys.gateway);
    expect([gateway.statusCode, problemCode(gateway)]).toEqual([403, "ENT_AUTH_INSUFFICIENT_SCOPE"]);
    expect((await h.get(`/v1/reports/profit-and-loss?from=${FROM}&to=${TO}`, null)).statusCode).toBe(401);
  });
});
