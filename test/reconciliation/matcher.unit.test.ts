/**
 * Unit tests of the matcher's rules (pure: an in-memory ledger window, report rows built directly,
 * and a small in-memory ChainView in place of the anchoring service — the end-to-end suite uses
 * the real one). Tolerances, the fallback rules, fee totals, the chain check's parameters, the
 * leftover cap, and rule validation.
 */
import { describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { parseRateFraction } from "../../service/money/index.js";
import { EventCode, LedgerWindow } from "../../service/reconciliation/ledger-window.js";
import { Matcher } from "../../service/reconciliation/matcher.js";
import { resolveRules, type ChainView, type ReportRow } from "../../service/reconciliation/index.js";
import { EVENT_TYPES, type ReconciliationRecord, type SettlementEventType } from "../../service/settlement/index.js";

const T0 = Date.parse("2025-03-03T10:00:00Z");
const H = 3_600_000;
const PERIOD = { from: new Date("2025-03-01T00:00:00Z"), to: new Date("2025-03-20T00:00:00Z") };

function ev(id: string, over: Partial<ReconciliationRecord> = {}): ReconciliationRecord {
  return {
    id: "1",
    gatewayEventId: id,
    settlementId: `ORD-${id}`,
    type: "capture",
    sellerId: "S-1",
    market: "ES",
    currency: "EUR",
    amount: 1000n,
    gatewayFee: 30n,
    occurredAt: new Date(T0),
    recordedAt: new Date(T0),
    journalTransactionId: `tx-${id}`,
    originalEventId: null,
    buyerToUsdRate: null,
    ...over,
  };
}

let line = 1;
function row(ref: string | null, over: Partial<ReportRow> = {}): ReportRow {
  line++;
  return {
    source: 0,
    line,
    recordType: "Settled",
    kind: "capture",
    rowId: ref ?? `row-${line}`,
    refs: ref === null ? {} : { modification_reference: ref },
    settlementRef: null,
    occurredAt: T0,
    currency: "EUR",
    amount: 1000n,
    fee: 30n,
    feeSlack: 0n,
    rate: null,
    netCurrency: "EUR",
    net: 970n,
    batch: null,
    ...over,
  };
}

function windowOf(events: ReconciliationRecord[]): LedgerWindow {
  const w = new LedgerWindow(2); // small on purpose: exercises growth
  for (const e of events) w.add(e);
  return w;
}

class Chain implements ChainView {
  calls = 0;
  constructor(private readonly states: Record<string, string>) {}
  async statesOf(ids: readonly string[]) {
    this.calls++;
    return new Map(ids.filter((id) => this.states[id] !== undefined).map((id) => [id, { state: this.states[id] as "final", batchId: 7n }]));
  }
  async enqueueDocument(): Promise<void> {}
}

async function match(events: ReconciliationRecord[], rows: ReportRow[], rules: unknown = {}, chain: ChainView | null = null, leftoverCap?: number) {
  const m = new Matcher({
    gateway: "adyen",
    period: PERIOD,
    rules: resolveRules({ chain: { enabled: chain !== null }, ...(rules as object) }),
    window: windowOf(events),
    sources: [{ importId: "imp_1", format: "adyen_settlement_details" }],
    now: new Date(T0 + 48 * H),
    ...(leftoverCap === undefined ? {} : { leftoverCap }),
  });
  for (const r of rows) m.row(r);
  return m.finish(chain);
}

const cats = (o: Awaited<ReturnType<typeof match>>) => o.items.map((i) => `${i.category}/${i.rule}/${i.gatewayEventId ?? i.gatewayReference}`);

describe("Matcher", () => {
  it("reports each gateway cost or correction once, with the entry that books it; a duplicated line is a duplicate only", async () => {
    const rows = [
      row(null, { rowId: "txn_nc1", kind: "other", recordType: "network_cost", currency: "USD", amount: null, fee: null, netCurrency: "USD", net: -6n }),
      row(null, { rowId: "txn_nc1", kind: "other", recordType: "network_cost", currency: "USD", amount: null, fee: null, netCurrency: "USD", net: -6n }),
      row(null, { rowId: "txn_adj", kind: "other", recordType: "other_adjustment", currency: "USD", amount: null, fee: null, netCurrency: "USD", net: 250n }),
      row(null, { rowId: "txn_zero", kind: "other", recordType: "other_adjustment", currency: "USD", amount: null, fee: null, netCurrency: "USD", net: 0n }),
    ];
    const out = await match([], rows);
    expect(cats(out)).toEqual(["gateway_cost/gateway_cost_row/txn_nc1", "duplicate/duplicate_reference/txn_nc1", "gateway_cost/gateway_cost_row/txn_adj"]);
    const postings = (i: number) => (out.items[i]!.evidence as { proposedAdjustment: { postings: Array<{ account: string; direction: string; amount: string }> } }).proposedAdjustment.postings.map((p) => `${p.direction} ${p.account} ${p.amount}`);
    expect(postings(0)).toEqual(["debit platform:reconciliation:gateway_costs 6", "credit gateway:adyen:receivable 6"]);
    expect(postings(2)).toEqual(["debit gateway:adyen:receivable 250", "credit platform:reconciliation:gateway_costs 250"]);
    expect(out.items.map((i) => i.difference)).toEqual([-6n, null, 250n]);
  });

  it("applies the amount tolerance: inside it a match, beyond it an amount mismatch", async () => {
    const events = [ev("A", { amount: 1000n }), ev("B", { amount: 1000n })];
    const o = await match(events, [row("A", { amount: 1005n }), row("B", { amount: 1006n })], { amountToleranceMinor: 5 });
    expect(cats(o)).toEqual(["amount_mismatch/exact_reference/B"]);
    expect(o.items[0]).toMatchObject({ difference: 6n, reportAmount: 1006n, ledgerAmount: 1000n });
  });

  it("compares fees with their own tolerance", async () => {
    const o = await match([ev("A", { gatewayFee: 30n }), ev("B", { gatewayFee: 30n })], [row("A", { fee: 31n }), row("B", { fee: 33n })], { feeToleranceMinor: 1 });
    expect(cats(o)).toEqual(["amount_mismatch/exact_reference/B"]);
    expect(o.items[0]!.evidence).toMatchObject({ field: "gatewayFee" });
  });

  it("matches by amount + currency within the date window only, preferring the same order", async () => {
    const events = [ev("A", { settlementId: "ORD-X", occurredAt: new Date(T0 + 10 * H) }), ev("B", { settlementId: "ORD-Y", occurredAt: new Date(T0 + 1 * H) }), ev("C", { amount: 777n, occurredAt: new Date(T0 + 100 * H) })];
    const o = await match(events, [row("zz1", { settlementRef: "ORD-X" }), row("zz2", { amount: 777n })], { dateWindowHours: 72 });
    expect(o.summary.matched.byRule).toMatchObject({ amount_date_window: 1 });
    expect(cats(o).sort()).toEqual(["missing_at_gateway/unmatched/B", "missing_at_gateway/unmatched/C", "missing_in_ledger/unmatched/zz2"]);
  });

  it("matches one row to the sum of an order's events (many-to-one) and several rows to one event (one-to-many)", async () => {
    const events = [
      ev("A1", { settlementId: "ORD-M", amount: 600n, occurredAt: new Date(T0 - 200 * H) }),
      ev("A2", { settlementId: "ORD-M", amount: 400n, occurredAt: new Date(T0 - 200 * H) }),
      ev("B", { settlementId: "ORD-N", amount: 1000n, occurredAt: new Date(T0 - 200 * H) }),
    ];
    const rows = [
      row("r1", { settlementRef: "ORD-M", amount: 1000n }),
      row("r2", { settlementRef: "ORD-N", amount: 300n, fee: 10n }),
      row("r3", { settlementRef: "ORD-N", amount: 700n, fee: 20n }),
    ];
    const o = await match(events, rows);
    expect(o.summary.matched.byRule).toEqual({ many_to_one: 2, one_to_many: 2 });
    expect(cats(o)).toEqual(["timing_difference/many_to_one/A1", "timing_difference/many_to_one/A2", "timing_difference/one_to_many/B"]);
  });

  it("pairs the only row and the only event of an order that disagree (merchant reference)", async () => {
    const o = await match([ev("A", { settlementId: "ORD-P", amount: 1000n })], [row("unknown", { settlementRef: "ORD-P", amount: 1234n })]);
    expect(cats(o)).toEqual(["amount_mismatch/merchant_reference/A"]);
    expect(o.items[0]).toMatchObject({ difference: 234n, lines: [expect.any(Number)] });
  });

  it("stores every settlement event type under its own code and reads it back", () => {
    const w = windowOf(EVENT_TYPES.map((type) => ev(`E-${type}`, { type })));
    expect(EVENT_TYPES.map((_, i) => w.typeOf(i))).toEqual([...EVENT_TYPES]);
    expect(new Set(Object.values(EventCode)).size).toBe(EVENT_TYPES.length);
  });

  it("compares a fee row matched by reference with the fee adjustment's fee, not its amount", async () => {
    const fa = ev("F", { type: "fee_adjustment", amount: 0n, gatewayFee: 250n });
    const fee = (amount: bigint) => row("F", { kind: "fee", recordType: "Fee", amount, fee: amount });
    expect(cats(await match([fa], [fee(250n)]))).toEqual([]);
    const off = await match([fa], [fee(260n)]);
    expect(cats(off)).toEqual(["amount_mismatch/exact_reference/F"]);
    expect(off.items[0]).toMatchObject({ reportAmount: 260n, ledgerAmount: 250n, evidence: { field: "gatewayFee" } });
  });

  it("never expects internal bookings (release, reserve_release) at the gateway, nor matches rows to them", async () => {
    const internal = [ev("R1", { type: "release", settlementId: "ORD-Z" }), ev("R2", { type: "reserve_release", settlementId: "ORD-Z" })];
    expect(cats(await match(internal, []))).toEqual([]);
    const o = await match(internal, [row("zz", { settlementRef: "ORD-Z" })]);
    expect(cats(o)).toEqual(["missing_in_ledger/unmatched/zz"]);
    expect(o.summary.matched.rows).toBe(0);
  });

  it("compares fee rows without a reference with the period's fee adjustments in total", async () => {
    const fa = (id: string, fee: bigint) => ev(id, { type: "fee_adjustment" as SettlementEventType, amount: 0n, gatewayFee: fee });
    const fees = [row(null, { kind: "fee", recordType: "Fee", amount: 250n, fee: 250n, rowId: "Transaction Fees March" })];
    expect(cats(await match([fa("F1", 100n), fa("F2", 150n)], fees))).toEqual([]);
    const off = await match([fa("F1", 100n), fa("F2", 140n)], [row(null, { kind: "fee", recordType: "Fee", amount: 250n, fee: 250n, rowId: "Transaction Fees March" })]);
    expect(cats(off)).toEqual(["amount_mismatch/fee_total/null"]);
    expect(off.items[0]).toMatchObject({ reportAmount: 250n, ledgerAmount: 240n, difference: 10n, currency: "EUR" });
  });

  it("checks FX only into the settlement currency, against the recorded rate, in basis points", async () => {
    const ev6 = ev("A", { currency: "BRL", buyerToUsdRate: "0.17" });
    const near = row("A", { currency: "BRL", netCurrency: "USD", rate: parseRateFraction("0.1708")! });
    expect(cats(await match([ev6], [near], { fxToleranceBps: 50 }))).toEqual([]);
    const far = row("A", { currency: "BRL", netCurrency: "USD", rate: parseRateFraction("0.1709")! });
    const o = await match([ev6], [far], { fxToleranceBps: 50 });
    expect(cats(o)).toEqual(["fx_difference/exact_reference/A"]);
    expect(o.items[0]!.evidence).toMatchObject({ differenceBps: "52.941" });
  });

  it("checks the chain for posted events past the grace period, at the required state", async () => {
    const events = [ev("A", { recordedAt: new Date(T0) }), ev("B"), ev("C"), ev("D", { recordedAt: new Date(T0 + 47.9 * H) })];
    const rows = events.map((e) => row(e.gatewayEventId));
    const chain = new Chain({ "tx-A": "final", "tx-B": "queued", "tx-C": "submitted" });
    const o = await match(events, rows, { chain: { requiredState: "submitted", graceSeconds: 3600 } }, chain);
    expect(cats(o)).toEqual(["missing_on_chain/chain_state/B"]);
    expect(o.summary.chain).toEqual({ checked: 3, notAnchored: 1, byState: { final: 1, queued: 1, submitted: 1 }, enabled: true });
    const strict = await match(events, events.map((e) => row(e.gatewayEventId)), { chain: { requiredState: "final", graceSeconds: 0 } }, chain);
    expect(cats(strict).sort()).toEqual(["missing_on_chain/chain_state/B", "missing_on_chain/chain_state/C", "missing_on_chain/chain_state/D"]);
    const off = new Chain({});
    const disabled = await match(events, events.map((e) => row(e.gatewayEventId)), { chain: { enabled: false } }, off);
    expect(off.calls).toBe(0);
    expect(disabled.summary.chain.enabled).toBe(false);
  });

  it("reports rows beyond the leftover cap as missing at once, counted in the summary", async () => {
    const rows = [row("x1"), row("x2"), row("x3")];
    const o = await match([], rows, {}, null, 1);
    expect(o.summary.leftoverCapped).toBe(2);
    expect(cats(o)).toEqual(["missing_in_ledger/unmatched/x2", "missing_in_ledger/unmatched/x3", "missing_in_ledger/unmatched/x1"]);
  });

  it("commits to the matched pairs with a digest that changes with them", async () => {
    const a = await match([ev("A"), ev("B")], [row("A"), row("B")]);
    line = 1;
    const b = await match([ev("A"), ev("B")], [row("A"), row("B")]);
    line = 1;
    const c = await match([ev("A"), ev("B")], [row("B"), row("A")]);
    expect(a.matchedSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b.matchedSha256).not.toBe(c.matchedSha256);
  });
});

describe("matching rules as data", () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (isAppError(e)) return `${e.code} ${e.fields?.[0]?.field ?? ""}`;
      throw e;
    }
    return "ok";
  };
  it("names the rows refused at import in the summary and in the exceptions they may explain (missing at the gateway, a payout batch)", async () => {
    const m = new Matcher({
      gateway: "adyen",
      period: PERIOD,
      rules: resolveRules({ chain: { enabled: false } }),
      window: windowOf([ev("A"), ev("B", { occurredAt: new Date(T0 + H) })]),
      sources: [{ importId: "imp_1", format: "adyen_settlement_details" }],
      now: new Date(T0 + 48 * H),
    });
    m.row(row("A", { batch: "42" }));
    m.refusedRecord(0, 4); // B's row, with two bad cells: one row refused
    m.refusedRecord(0, 4);
    m.refusedRecord(0, 9);
    m.row(row(null, { kind: "payout", recordType: "MerchantPayout", rowId: "payout-42", refs: {}, amount: 1940n, net: -1940n, fee: null, batch: "42" }));
    const o = await m.finish(null);
    expect(o.summary.refusedAtImport).toMatchObject({ rows: 2, imports: [{ importId: "imp_1", rows: 2, lines: [4, 9] }] });
    const note = "2 rows were refused at import and are not in this run (import imp_1, lines 4, 9): check them first, a refused row may be the one missing here";
    expect(o.summary.refusedAtImport.note).toContain(note);
    const missing = o.items.find((i) => i.category === "missing_at_gateway")!;
    expect(missing.gatewayEventId).toBe("B");
    expect(missing.evidence["reason"]).toMatch(/^the ledger booked this gateway event; no row of the report matches it under any rule\. 2 rows were refused/);
    expect(missing.evidence["refusedAtImport"]).toEqual({ rows: 2, imports: [{ importId: "imp_1", rows: 2, lines: [4, 9] }] });
    const payout = o.items.find((i) => i.rule === "payout_batch")!;
    expect(payout.evidence["reason"]).toContain(note);
    // Without refused rows, the reasons are what they were.
    const clean = await match([ev("A"), ev("B", { occurredAt: new Date(T0 + H) })], [row("A")]);
    expect(clean.summary.refusedAtImport).toEqual({ rows: 0, imports: [], note: null });
    expect(clean.items.find((i) => i.category === "missing_at_gateway")!.evidence["reason"]).toBe("the ledger booked this gateway event; no row of the report matches it under any rule");
  });

  it("reports a line sent twice as a duplicate and counts it once in its payout batch", async () => {
    const a = row("A", { batch: "42", net: 970n });
    const twice = { ...a, line: a.line + 1 }; // the same bytes on the next line
    const b = row(null, { kind: "other", recordType: "Fee", rowId: "fee-1", refs: {}, amount: -50n, net: -50n, fee: null, batch: "42" });
    const feeTwice = { ...b, line: b.line + 1 };
    const payout = row(null, { kind: "payout", recordType: "MerchantPayout", rowId: "payout-42", refs: {}, amount: 920n, net: -920n, fee: null, batch: "42" });
    const o = await match([ev("A")], [a, twice, b, feeTwice, payout]);
    expect(cats(o).filter((c) => c.startsWith("duplicate"))).toHaveLength(2);
    // 970 - 50 = 920 is what the batch paid out: no false "payout short".
    expect(cats(o).filter((c) => c.includes("payout")), JSON.stringify(o.items.map((i) => i.evidence), (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).toEqual([]);
    expect(o.summary.payoutBatches).toEqual({ checked: 1, mismatched: 0 });
  });

  it("does not call a capture booked minutes before its row a timing difference when the period is the report's own span", async () => {
    const early = ev("A", { occurredAt: new Date(T0 - 3 * 60_000) });
    const rows = () => [row("A", { occurredAt: T0 }), row(null, { rowId: "late", refs: {}, occurredAt: T0 + H, kind: "other", recordType: "Fee", net: null })];
    const run = (periodFromReport: boolean) => {
      const m = new Matcher({
        gateway: "adyen",
        period: { from: new Date(T0), to: new Date(T0 + H + 1) }, // the rows' span, as a run without dates takes it
        periodFromReport,
        rules: resolveRules({ chain: { enabled: false } }),
        window: windowOf([early]),
        sources: [{ importId: "imp_1", format: "adyen_settlement_details" }],
        now: new Date(T0 + 48 * H),
      });
      for (const r of rows()) m.row(r);
      return m.finish(null);
    };
    expect(cats(await run(true))).toEqual([]);
    // A period someone named is another matter: booked before it is a timing difference.
    expect(cats(await run(false))).toEqual(["timing_difference/exact_reference/A"]);
  });

  it("validates overrides by name and refuses unknown rules", () => {
    expect(code(() => resolveRules({ fxToleranceBps: 25, chain: { requiredState: "final" } }))).toBe("ok");
    expect(code(() => resolveRules({ fuzzy: true }))).toBe("ENT_RECON_INVALID_RULES rules.fuzzy");
    expect(code(() => resolveRules({ amountToleranceMinor: -1 }))).toBe("ENT_RECON_INVALID_RULES rules.amountToleranceMinor");
    expect(code(() => resolveRules({ chain: { requiredState: "unanchored" } }))).toBe("ENT_RECON_INVALID_RULES rules.chain.requiredState");
    expect(code(() => resolveRules({ references: { stripe_itemized_balance: ["psp_reference"] } }))).toBe("ENT_RECON_INVALID_RULES rules.references.stripe_itemized_balance");
    expect(resolveRules({ references: { stripe_itemized_balance: ["balance_transaction_id"] } }).references.stripe_itemized_balance).toEqual(["balance_transaction_id"]);
  });

  it("sums the rows of one event exactly however large: rows near the bound never wrap around", async () => {
    const big = 2n ** 62n;
    // Three rows of 2^62 on one event (a split capture): the sum, 3 * 2^62, is beyond int64.
    const rows = ["a", "b", "c"].map((k) => row("EV-BIG", { rowId: `EV-BIG-${k}`, amount: big, fee: big }));
    const out = await match([ev("EV-BIG", { amount: big, gatewayFee: 30n })], rows);
    const mismatch = out.items.find((i) => i.category === "amount_mismatch");
    expect(mismatch).toMatchObject({ reportAmount: 3n * big, ledgerAmount: big, difference: 2n * big });
    // The fees too: amounts agree (1000 in three rows), the fees sum past int64.
    const feeRows = [
      row("EV-FEE", { rowId: "EV-FEE-a", amount: 500n, fee: big }),
      row("EV-FEE", { rowId: "EV-FEE-b", amount: 250n, fee: big }),
      row("EV-FEE", { rowId: "EV-FEE-c", amount: 250n, fee: big }),
    ];
    const fees = await match([ev("EV-FEE")], feeRows);
    expect(fees.items.find((i) => i.category === "amount_mismatch")).toMatchObject({ reportAmount: 3n * big, ledgerAmount: 30n, difference: 3n * big - 30n });
  });
});

