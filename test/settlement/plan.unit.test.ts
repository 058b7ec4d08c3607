import { describe, expect, it } from "vitest";
import { FEE_SCHEDULES, TAX_RULES } from "../../service/settlement/data.js";
import { cumulativeShare, inclusiveTax, planCapture, planFollowUp } from "../../service/settlement/plan.js";
import { selectSchedule, selectTaxRule } from "../../service/settlement/schedules.js";
import { validateEvent } from "../../service/settlement/validate.js";
import type { PostingPlan, RateEvidence, Seller, SettlementEvent } from "../../service/settlement/types.js";
import { convertMinor, invertRate, rateFraction } from "../../service/money/index.js";
import { capture, followUp, movement, netByCurrency, rate, show, stateOf } from "./fixtures.js";
import { caught, thrownCode as codeOf } from "../support/app-errors.js";

const POP: Seller = { id: "S-POP-1", name: "Pop", program: "pop", payoutCurrency: "CNY", homeCountry: "CN" };
const FULL: Seller = { id: "S-FULL-1", name: "Full", program: "full_hosting", payoutCurrency: "CNY", homeCountry: "CN" };
const SEMI: Seller = { id: "S-SEMI-1", name: "Semi", program: "semi_hosting", payoutCurrency: "USD", homeCountry: "CN" };
const OVS: Seller = { id: "S-OVS-1", name: "Overseas", program: "overseas_hosting", payoutCurrency: "CNY", homeCountry: "CN" };

function plan(seller: Seller, event: SettlementEvent, buyerToUsd: string | null, usdToPayout: string | null): PostingPlan {
  const schedule = selectSchedule(FEE_SCHEDULES, seller.program, event.market, event.category, event.occurredAt);
  const taxRule = selectTaxRule(TAX_RULES, event.market, event.occurredAt);
  if (schedule === null || taxRule === null) throw new Error("test data missing");
  return planCapture({
    event,
    seller,
    schedule,
    taxRule,
    rates: {
      buyerToUsd: buyerToUsd === null ? null : rate(event.currency, "USD", buyerToUsd, "Q-1"),
      usdToPayout: usdToPayout === null ? null : rate("USD", seller.payoutCurrency, usdToPayout),
    },
  });
}

function expectBalanced(p: PostingPlan): void {
  for (const [cur, n] of Object.entries(netByCurrency(p.postings))) expect(n, `net ${cur}`).toBe(0n);
  for (const posting of p.postings) expect(posting.amount > 0n).toBe(true);
  expectPayoutLegsListed(p);
  expectLegsRecompute(p);
}

/** Each leg's amounts follow from its rate as its basis says (types.ts FxLeg), half-even. */
function expectLegsRecompute(p: PostingPlan): void {
  const abs = (n: bigint) => (n < 0n ? -n : n);
  for (const l of p.breakdown.fx) {
    if (l.basis === "share") continue; // shares of the capture's leg, line by line
    const [fixed, computed, from, to, rate] =
      l.basis === "inverse" ? [l.toAmount, l.fromAmount, l.to, l.from, invertRate(rateFraction(l.rate))] : [l.fromAmount, l.toAmount, l.from, l.to, rateFraction(l.rate)];
    expect(convertMinor(abs(fixed), from, to, rate, "half-even"), `${l.from}-${l.to} ${l.basis ?? "forward"} at ${l.rate}`).toBe(abs(computed));
  }
}

/** Every payout-currency amount that goes through fx:P-USD is a listed USD->P leg: what each side of the conversion moved. */
function expectPayoutLegsListed(p: PostingPlan): void {
  const P = p.breakdown.payoutCurrency;
  if (P === "USD") return;
  const legs = p.breakdown.fx.filter((l) => l.from === "USD" && l.to === P);
  const sum = (f: (l: (typeof legs)[number]) => bigint) => legs.reduce((a, l) => a + f(l), 0n);
  expect(sum((l) => l.toAmount), `${P} listed`).toBe(movement(p.postings, `fx:${P}-USD`, P));
}

describe("inclusive tax and cumulative shares", () => {
  it("extracts the tax contained in a gross, half-even", () => {
    expect(inclusiveTax(10_000n, 2000)).toBe(1667n); // 1666.67
    expect(inclusiveTax(12_100n, 2100)).toBe(2100n); // exact
    expect(inclusiveTax(5_000n, 0)).toBe(0n);
  });
  it("takes back a whole line exactly at the end and nothing at the start", () => {
    expect(cumulativeShare(1667n, 0n, 10_000n)).toBe(0n);
    expect(cumulativeShare(1667n, 10_000n, 10_000n)).toBe(1667n);
    expect(cumulativeShare(-12n, 5_000n, 10_000n)).toBe(-6n);
  });
});

describe("POP: BRL capture for a CNY-paid seller", () => {
  const p = plan(POP, capture(), "0.18", "7.2");

  it("books the exact postings", () => {
    // tax 10000 x 20/120 = 1666.67 -> 1667; net 8333 BRL x 0.18 = 1499.94 -> 1500 USD cents;
    // commission 8% = 120; fee 350 x 0.18 = 63; seller 1317 USD x 7.2 = 9482.4 -> 9482 fen held.
    // The fee is kept by the gateway out of the BRL it converts: an expense of 63 USD, and the
    // BRL position is 8333 - 350 = 7983 (worth 1500 - 63 = 1437 USD).
    expect(show(p.postings)).toEqual(
      [
        "D gateway:adyen:receivable BRL 9650",
        "D platform:expense:payment_fees USD 63",
        "C tax:BR:BR_REMESSA_CONFORME:payable BRL 1667",
        "C fx:BRL-USD BRL 7983",
        "D fx:BRL-USD USD 1437",
        "C platform:revenue:commission USD 120",
        "C platform:revenue:payment_fee_recovery USD 63",
        "C fx:CNY-USD USD 1317",
        "D fx:CNY-USD CNY 9482",
        "C seller:S-POP-1:held CNY 9482",
      ].sort(),
    );
    expectBalanced(p);
  });

  it("records the FX evidence, the schedule and the auto-confirm instant", () => {
    expect(p.breakdown.scheduleId).toBe("pop-any-2024");
    expect(p.breakdown.fx.map((l) => [l.from, l.to, l.rate, l.fromAmount, l.toAmount])).toEqual([
      ["BRL", "USD", "0.18", 8333n, 1500n],
      ["USD", "CNY", "7.2", 1317n, 9482n],
    ]);
    expect(p.metadata["fx.BRL-USD.quoteId"]).toBe("Q-1");
    expect(p.metadata["fx.USD-CNY.rate"]).toBe("7.2");
    expect(p.idempotencyKey).toBe("settlement:adyen:cap-1");
    expect(p.breakdown.autoConfirmAt).toBe("2025-03-16T10:00:00.000Z");
  });

  it("lists every conversion of a chargeback and its reversal: the seller's share at the capture's rate, the fee at today's", () => {
    const cap = capture();
    const rates = { buyerToUsd: rate("BRL", "USD", "0.17"), usdToPayout: rate("USD", "CNY", "7.1") };
    const cb = followUp("chargeback", "cb-1", { amount: 10_000n, gatewayFee: 500n });
    const cbPlan = planFollowUp({ event: cb, capture: stateOf(cap, p), rates });
    // The whole seller share (1317 USD -> 9482 CNY at 7.2) comes back at the capture's rate; the
    // 5.00 BRL fee costs 85 USD at 0.17 and is charged to the seller at today's 7.1: 604 CNY.
    expect(cbPlan.breakdown.fx.map((l) => [`${l.from}-${l.to}`, l.rate, l.fromAmount, l.toAmount])).toEqual([
      ["BRL-USD", "0.17", -8333n, -1417n],
      ["USD-CNY", "7.2", -1317n, -9482n],
      ["BRL-USD", "0.17", -500n, -85n],
      ["USD-CNY", "7.1", -85n, -604n],
    ]);
    // The journal metadata keeps each rate of a pair: the first under fx.<pair>, the next numbered.
    expect(cbPlan.metadata).toMatchObject({ "fx.BRL-USD.rate": "0.17", "fx.USD-CNY.rate": "7.2", "fx.USD-CNY.2.rate": "7.1" });
    expect(cbPlan.metadata["fx.BRL-USD.2.rate"]).toBeUndefined();
    expectBalanced(cbPlan);
    const rev = followUp("chargeback_reversal", "cbr-1", { amount: 10_000n, originalEventId: "cb-1" });
    const revPlan = planFollowUp({ event: rev, capture: stateOf(cap, p, [{ event: cb, plan: cbPlan }]), chargebackId: "cb-1", rates });
    expect(revPlan.breakdown.fx.map((l) => [`${l.from}-${l.to}`, l.rate, l.fromAmount, l.toAmount])).toEqual([
      ["BRL-USD", "0.17", 8333n, 1417n],
      ["USD-CNY", "7.2", 1317n, 9482n],
    ]);
    expectBalanced(revPlan);
  });

  it("a partial refund at a new rate takes back 30% of every line and books the FX difference", () => {
    const cap = capture();
    const r = followUp("refund", "ref-1", { amount: 3_000n });
    const rp = planFollowUp({ event: r, capture: stateOf(cap, p), rates: { buyerToUsd: rate("BRL", "USD", "0.17"), usdToPayout: null } });
    // tax share 500, commission 36, fee 19 (18.9), seller 395 USD / 2845 CNY (2844.6);
    // net 2500 BRL now costs 425 USD while 450 USD is taken back: a 25 cent FX gain.
    expect(show(rp.postings)).toEqual(
      [
        "C gateway:adyen:receivable BRL 3000",
        "D tax:BR:BR_REMESSA_CONFORME:payable BRL 500",
        "D fx:BRL-USD BRL 2500",
        "C fx:BRL-USD USD 425",
        "D platform:revenue:commission USD 36",
        "D platform:revenue:payment_fee_recovery USD 19",
        "D fx:CNY-USD USD 395",
        "C platform:fx_gain_loss USD 25",
        "C fx:CNY-USD CNY 2845",
        "D seller:S-POP-1:held CNY 2845",
      ].sort(),
    );
    expect(rp.breakdown.fxDifference).toBe(25n);
    expect(rp.refundedDelta).toBe(3_000n);
    expectBalanced(rp);
  });

  it("release moves held to available, and a refund after it debits available (may go negative)", () => {
    const cap = capture();
    const rel = followUp("release", "rel-1");
    const relPlan = planFollowUp({ event: rel, capture: stateOf(cap, p), rates: { buyerToUsd: null, usdToPayout: null } });
    expect(show(relPlan.postings)).toEqual(["C seller:S-POP-1:available CNY 9482", "D seller:S-POP-1:held CNY 9482"]);
    const r = followUp("refund", "ref-2", { amount: 10_000n });
    const rp = planFollowUp({ event: r, capture: stateOf(cap, p, [{ event: rel, plan: relPlan }]), rates: { buyerToUsd: rate("BRL", "USD", "0.18"), usdToPayout: null } });
    expect(movement(rp.postings, "seller:S-POP-1:available", "CNY")).toBe(9482n);
    expect(movement(rp.postings, "seller:S-POP-1:held", "CNY")).toBe(0n);
    expect(rp.breakdown.sellerBucket).toBe("available");
    expect(rp.breakdown.fxDifference).toBe(0n); // same rate: full refund takes back exactly
    expectBalanced(rp);
    expect(
      codeOf(() =>
        planFollowUp({ event: followUp("release", "rel-2"), capture: stateOf(cap, p, [{ event: rel, plan: relPlan }]), rates: { buyerToUsd: null, usdToPayout: null } }),
      ),
    ).toBe("ENT_SETTLEMENT_NOTHING_TO_RELEASE");
  });
});

describe("a state tax on top of the national one: Sao Paulo's ICMS on a BRL import", () => {
  const icms = TAX_RULES.find((r) => r.id === "tax-BR-SP-icms-2023-08")!;
  const cap = capture();
  const schedule = selectSchedule(FEE_SCHEDULES, "pop", "BR", "home", cap.occurredAt)!;
  const national = selectTaxRule(TAX_RULES, "BR", cap.occurredAt)!;
  const p = planCapture({ event: cap, seller: POP, schedule, taxRule: national, stateTaxRule: icms, rates: { buyerToUsd: rate("BRL", "USD", "0.18"), usdToPayout: rate("USD", "CNY", "7.2") } });

  it("books ICMS to Sao Paulo and the import tax to the federal authority, both in BRL", () => {
    // ICMS 17% of the whole 10000 = 1700; import tax 20% of the goods in the 8300 left: 1383; net
    // 6917 BRL x 0.18 = 1245 USD; commission 8% = 100 (99.6); fee 63; seller 1082 USD x 7.2 = 7790.
    expect(show(p.postings)).toEqual(
      [
        "D gateway:adyen:receivable BRL 9650",
        "D platform:expense:payment_fees USD 63",
        "C tax:BR-SP:BR_ICMS:payable BRL 1700",
        "C tax:BR:BR_REMESSA_CONFORME:payable BRL 1383",
        "C fx:BRL-USD BRL 6567",
        "D fx:BRL-USD USD 1182",
        "C platform:revenue:commission USD 100",
        "C platform:revenue:payment_fee_recovery USD 63",
        "C fx:CNY-USD USD 1082",
        "D fx:CNY-USD CNY 7790",
        "C seller:S-POP-1:held CNY 7790",
      ].sort(),
    );
    expect(p.breakdown.stateTax).toEqual({ ruleId: "tax-BR-SP-icms-2023-08", scheme: "BR_ICMS", rateBps: 1700, region: "BR-SP", collectedBy: "marketplace" });
    expect([p.breakdown.lines.tax, p.breakdown.lines.stateTax]).toEqual([1383n, 1700n]);
    expectBalanced(p);
  });

  it("a refund takes both taxes back pro rata, each from its own authority's account", () => {
    const rp = planFollowUp({ event: followUp("refund", "ref-icms", { amount: 3_000n }), capture: stateOf(cap, p), rates: { buyerToUsd: rate("BRL", "USD", "0.18"), usdToPayout: null } });
    // 30% of 1700 = 510 and of 1383 = 414.9 -> 415: the 2075 BRL net go back through fx:BRL-USD.
    expect(movement(rp.postings, "tax:BR-SP:BR_ICMS:payable", "BRL")).toBe(510n);
    expect(movement(rp.postings, "tax:BR:BR_REMESSA_CONFORME:payable", "BRL")).toBe(415n);
    expect(movement(rp.postings, "fx:BRL-USD", "BRL")).toBe(3_000n - 510n - 415n);
    expectBalanced(rp);
    // The rest of the order refunded: every tax line is back to zero, to the unit.
    const rest = planFollowUp({
      event: followUp("refund", "ref-icms-2", { amount: 7_000n }),
      capture: stateOf(cap, p, [{ event: followUp("refund", "ref-icms", { amount: 3_000n }), plan: rp }]),
      rates: { buyerToUsd: rate("BRL", "USD", "0.18"), usdToPayout: null },
    });
    expect(movement(rest.postings, "tax:BR-SP:BR_ICMS:payable", "BRL") + 510n).toBe(1_700n);
    expect(movement(rest.postings, "tax:BR:BR_REMESSA_CONFORME:payable", "BRL") + 415n).toBe(1_383n);
  });
});

describe("full hosting: the seller gets the supply price in CNY whatever the buyer paid", () => {
  const cap = capture({ sellerId: "S-FULL-1", supplyPrice: 6_000n, gatewayEventId: "cap-full" });
  const p = plan(FULL, cap, "0.18", "7.2");

  it("books the sale as principal: gross revenue, the supply at the spot rate applied to it, no FX result; the platform bears the fee", () => {
    // The sale: 8333 BRL at 0.18 = 1500 USD cents of revenue. Supply 60.00 CNY at the day's 7.2 costs
    // 6000/7.2 = 833.33 -> 833, the cost of sales and the payable's USD alike (IAS 21.21: no exchange
    // difference at first recognition; the schedule's planning rate 7.1 books nothing). Margin
    // 1500 - 833 = 667 (shown, not booked). The fee (63 USD) is the platform's.
    expect(show(p.postings)).toEqual(
      [
        "D gateway:adyen:receivable BRL 9650",
        "D platform:expense:payment_fees USD 63",
        "C tax:BR:BR_REMESSA_CONFORME:payable BRL 1667",
        "C fx:BRL-USD BRL 7983",
        "D fx:BRL-USD USD 1437",
        "C platform:revenue:sales USD 1500",
        "D platform:expense:cost_of_sales USD 833",
        "C fx:CNY-USD USD 833",
        "D fx:CNY-USD CNY 6000",
        "C seller:S-FULL-1:available CNY 6000",
      ].sort(),
    );
    expectBalanced(p);
    // Nobody charges the supplier the fee; its 63 USD are the platform's expense, shown as such.
    expect(p.breakdown.gatewayFee).toMatchObject({ usd: 0n, borneBy: "platform", expenseUsd: 63n });
    // The supplier's 60.00 CNY were fixed, their USD cost derived: the leg says so.
    expect(p.breakdown.fx.find((l) => l.to === "CNY")).toMatchObject({ fromAmount: 833n, toAmount: 6000n, basis: "inverse" });
  });

  it("pays the same CNY when the buyer's currency is worth less (a smaller margin, no FX result)", () => {
    const q = plan(FULL, cap, "0.15", "7.2");
    expect(movement(q.postings, "seller:S-FULL-1:available", "CNY")).toBe(-6_000n);
    expect(q.breakdown.lines.margin).toBe(1250n - 833n);
    expect(movement(q.postings, "platform:fx_gain_loss", "USD")).toBe(0n);
    expectBalanced(q);
  });

  const rates = { buyerToUsd: rate("BRL", "USD", "0.18"), usdToPayout: null };
  const returns = [...show(planFollowUp({ event: followUp("refund", "r-buyer", { amount: 5_000n }, cap), capture: stateOf(cap, p), rates }).postings)];

  it("a customer return is the platform's: the sale is undone, the goods go back into its stock at cost, the supplier keeps its price", () => {
    // Half the order: 5000 BRL gross, 834 tax, 4166 BRL = 750 cents of sales; cost 833 / 2 = 416.5 -> 417.
    expect(returns).toEqual(
      [
        "C gateway:adyen:receivable BRL 5000",
        "D tax:BR:BR_REMESSA_CONFORME:payable BRL 834",
        "D fx:BRL-USD BRL 4166",
        "C fx:BRL-USD USD 750",
        "D platform:revenue:sales USD 750",
        "C platform:expense:cost_of_sales USD 417",
        "D platform:inventory:returned_goods USD 417",
      ].sort(),
    );
  });

  it("a return for a supplier defect is repaid by the supplier pro rata; a chargeback's goods are a loss", () => {
    const defect = planFollowUp({ event: followUp("refund", "r-defect", { amount: 5_000n, returnReason: "supplier_defect" }, cap), capture: stateOf(cap, p), rates });
    // The supplier repays 3000 CNY (half its 6000), taken back at the capture's rate: 417 cents
    // (half of 833), the very cost taken off cost of sales; nothing to FX gain/loss. What the 3000
    // CNY are worth today is fx:CNY-USD's position, realised and revalued there (realisation.ts).
    expect(show(defect.postings)).toEqual(
      [
        "C gateway:adyen:receivable BRL 5000",
        "D tax:BR:BR_REMESSA_CONFORME:payable BRL 834",
        "D fx:BRL-USD BRL 4166",
        "C fx:BRL-USD USD 750",
        "D platform:revenue:sales USD 750",
        "C platform:expense:cost_of_sales USD 417",
        "D fx:CNY-USD USD 417",
        "C fx:CNY-USD CNY 3000",
        "D seller:S-FULL-1:available CNY 3000",
      ].sort(),
    );
    const cb = planFollowUp({ event: followUp("chargeback", "cb-1", { amount: 5_000n }, cap), capture: stateOf(cap, p), rates });
    expect(show(cb.postings)).toContain("D platform:expense:chargeback_losses USD 417");
    expect(movement(cb.postings, "seller:S-FULL-1:available", "CNY")).toBe(0n);
    // After a customer return of half, a defect return of the rest charges the supplier only its half.
    const afterBuyer = stateOf(cap, p, [{ event: followUp("refund", "r-buyer", { amount: 5_000n }, cap), plan: planFollowUp({ event: followUp("refund", "r-buyer", { amount: 5_000n }, cap), capture: stateOf(cap, p), rates }) }]);
    const rest = planFollowUp({ event: followUp("refund", "r-rest", { amount: 5_000n, returnReason: "supplier_defect" }, cap), capture: afterBuyer, rates });
    expect(movement(rest.postings, "seller:S-FULL-1:available", "CNY")).toBe(3_000n);
    expectBalanced(defect);
    expectBalanced(rest);
  });

  describe("cost of sales at the spot rate of the day (IAS 21.21), as a group controller checked it", () => {
    // The controller's orders (USD->CNY spot of each day): cost of sales by hand is the supply price
    // over the rate applied to it, half-even, where the planning rate (7.1) gave 10563, 3944, 3521 and
    // 7042 and booked the difference as an "FX gain".
    const orders = [
      { market: "ES", currency: "EUR", amount: 15_000n, buyerToUsd: "1.05", supply: 75_000n, spot: "7.27272588859538", cost: 10_313n },
      { market: "KR", currency: "KRW", amount: 80_000n, buyerToUsd: "0.00072", supply: 28_000n, spot: "7.25867969917965", cost: 3_857n },
      { market: "US", currency: "USD", amount: 6_000n, buyerToUsd: null, supply: 25_000n, spot: "7.27805491990847", cost: 3_435n },
      { market: "SA", currency: "SAR", amount: 40_000n, buyerToUsd: "0.2666", supply: 50_000n, spot: "7.28233122000717", cost: 6_866n },
    ] as const;
    const book = (o: (typeof orders)[number]) => {
      const c = capture({ sellerId: "S-FULL-1", market: o.market, currency: o.currency, amount: o.amount, gatewayFee: 0n, supplyPrice: o.supply, gatewayEventId: `cap-fx-${o.market}` });
      return { c, p: plan(FULL, c, o.buyerToUsd, o.spot) };
    };

    it.each(orders)("$market: the supply of $supply fen at $spot costs $cost cents, and nothing goes to platform:fx_gain_loss", (o) => {
      const { p: q } = book(o);
      const byHand = convertMinor(o.supply, "CNY", "USD", invertRate(rateFraction(o.spot)), "half-even");
      expect(byHand).toBe(o.cost);
      expect(movement(q.postings, "platform:expense:cost_of_sales", "USD")).toBe(o.cost);
      expect(q.postings.filter((x) => x.account === "platform:fx_gain_loss")).toEqual([]);
      expect([q.breakdown.lines.costOfSales, q.breakdown.lines.fxGainLoss, q.breakdown.lines.sellerUsd]).toEqual([o.cost, 0n, o.cost]);
      expect(q.breakdown.lines.margin).toBe(q.breakdown.lines.sales - o.cost);
      // The payable is booked at the same USD (fx:CNY-USD), with the rate applied as its evidence.
      expect(movement(q.postings, "fx:CNY-USD", "USD")).toBe(-o.cost);
      expect(q.breakdown.fx.find((l) => l.to === "CNY")).toMatchObject({ rate: o.spot, fromAmount: o.cost, toAmount: o.supply, basis: "inverse" });
      expect(q.metadata["fx.USD-CNY.rate"]).toBe(o.spot);
      expectBalanced(q);
    });

    it("a partial buyer return puts the goods back into stock at the capture cost's share, and books no FX result", () => {
      const { c, p: q } = book(orders[0]);
      const r = { buyerToUsd: rate("EUR", "USD", "1.02"), usdToPayout: rate("USD", "CNY", "7.31") };
      const r1 = followUp("refund", "fx-r1", { amount: 4_500n }, c);
      const p1 = planFollowUp({ event: r1, capture: stateOf(c, q), rates: r });
      // 30% of the order: 10313 x 4500 / 15000 = 3093.9 -> 3094 of inventory, off cost of sales.
      const share = cumulativeShare(10_313n, 4_500n, 15_000n);
      expect(share).toBe(3_094n);
      expect(movement(p1.postings, "platform:inventory:returned_goods", "USD")).toBe(share);
      expect(movement(p1.postings, "platform:expense:cost_of_sales", "USD")).toBe(-share);
      expect(p1.breakdown.lines.fxGainLoss).toBe(0n);
      // The supplier keeps its price: nothing of its payable moves on the platform's own return.
      expect(movement(p1.postings, "seller:S-FULL-1:available", "CNY")).toBe(0n);
      // The rest of the order, returned too: the goods in stock add up to the capture's cost exactly.
      const r2 = followUp("refund", "fx-r2", { amount: 10_500n }, c);
      const p2 = planFollowUp({ event: r2, capture: stateOf(c, q, [{ event: r1, plan: p1 }]), rates: r });
      expect(movement(p1.postings, "platform:inventory:returned_goods", "USD") + movement(p2.postings, "platform:inventory:returned_goods", "USD")).toBe(10_313n);
      expectBalanced(p1);
      expectBalanced(p2);
    });

    it("a supplier-defect return takes back cost of sales at the capture's spot cost share, the supplier's share at the capture's rate", () => {
      const { c, p: q } = book(orders[0]);
      const r = { buyerToUsd: rate("EUR", "USD", "1.05"), usdToPayout: rate("USD", "CNY", "7.40") };
      const d = planFollowUp({ event: followUp("refund", "fx-d1", { amount: 4_500n, returnReason: "supplier_defect" }, c), capture: stateOf(c, q), rates: r });
      // 22500 fen of the 75000 come back at the capture's 7.2727...: 3094 cents, as much as cost of
      // sales gives back. Today's 7.40 moves nothing here: the fen sit in fx:CNY-USD at their booked
      // value, a monetary position the revaluation and the bank payout restate and realise.
      expect(movement(d.postings, "platform:expense:cost_of_sales", "USD")).toBe(-3_094n);
      expect(movement(d.postings, "fx:CNY-USD", "USD")).toBe(3_094n);
      expect(movement(d.postings, "fx:CNY-USD", "CNY")).toBe(-22_500n);
      expect(d.breakdown.fx.find((l) => l.to === "CNY")).toMatchObject({ rate: orders[0].spot, fromAmount: -3_094n, toAmount: -22_500n, basis: "share" });
      expect(d.postings.filter((x) => x.account === "platform:fx_gain_loss")).toEqual([]);
      expectBalanced(d);
    });

    it("a capture booked at the planning rate before: a return values its goods at the spot cost share and takes back the variance", () => {
      // As the ledger holds such a capture: cost of sales 845 at 7.1, 833 at the day's 7.2, 12 of "FX gain".
      const old = { ...p, breakdown: { ...p.breakdown, lines: { ...p.breakdown.lines, costOfSales: 845n, fxGainLoss: 12n, margin: 655n } } };
      const back = planFollowUp({ event: followUp("refund", "r-old", { amount: 5_000n }, cap), capture: stateOf(cap, old), rates });
      expect(movement(back.postings, "platform:expense:cost_of_sales", "USD")).toBe(-423n);
      expect(movement(back.postings, "platform:fx_gain_loss", "USD")).toBe(6n);
      expect(movement(back.postings, "platform:inventory:returned_goods", "USD")).toBe(417n);
      expectBalanced(back);
    });
  });

  it("requires the supply price", () => {
    expect(codeOf(() => plan(FULL, capture({ sellerId: "S-FULL-1" }), "0.18", "7.2"))).toBe("ENT_SETTLEMENT_MISSING_SUPPLY_PRICE");
  });

  describe("when the supply price is worth more than the order's gross", () => {
    // 10000 BRL at 0.18 = 1800 cents; at the USD->CNY mid 7.2 = 12960 fen: the most the platform buys for.
    it("accepts up to the gross at the plan's mid rates, to the fen", () => {
      const at = plan(FULL, { ...cap, supplyPrice: 12_960n }, "0.18", "7.2");
      expect(movement(at.postings, "seller:S-FULL-1:available", "CNY")).toBe(-12_960n);
      expectBalanced(at);
    });

    it("refuses one fen more, naming supplyPrice with the limit (422 ENT_SETTLEMENT_SUPPLY_PRICE_OUT_OF_RANGE)", () => {
      const e = caught(() => plan(FULL, { ...cap, supplyPrice: 12_961n }, "0.18", "7.2"));
      expect([e.code, e.status]).toEqual(["ENT_SETTLEMENT_SUPPLY_PRICE_OUT_OF_RANGE", 422]);
      expect(e.fields).toEqual([{ field: "supplyPrice", message: "must be at most 12960 CNY minor units: the order's gross of 10000 BRL at the mid rate" }]);
      expect(e.details).toMatchObject({ limit: "12960", currency: "CNY", gross: "10000", grossCurrency: "BRL", grossUsd: "1800" });
    });

    it("refuses the tester's 10^15 CNY fen for a 10 EUR sale, and values the gross at mid, not at the all-in rate", () => {
      const eur = capture({ sellerId: "S-FULL-1", market: "DE", currency: "EUR", amount: 1_000n, gatewayFee: 0n, supplyPrice: 10n ** 15n, gatewayEventId: "x5-1-14929" });
      expect(codeOf(() => plan(FULL, eur, "1.065", "7.1"))).toBe("ENT_SETTLEMENT_SUPPLY_PRICE_OUT_OF_RANGE");
      // 1000 EUR cents at mid 1.065 = 1065 cents; x 7.1 = 7561.5 -> 7561 fen (rounded down), with a 150 bps markup configured.
      const marked = (from: string, to: string, mid: string, allIn: string): RateEvidence => ({ ...rate(from, to, allIn), midRate: mid, markupBps: 150 });
      const schedule = selectSchedule(FEE_SCHEDULES, "full_hosting", "DE", "home", eur.occurredAt)!;
      const taxRule = selectTaxRule(TAX_RULES, "DE", eur.occurredAt)!;
      const rates = { buyerToUsd: marked("EUR", "USD", "1.065", "1.049"), usdToPayout: marked("USD", "CNY", "7.1", "6.99") };
      const limit = (supplyPrice: bigint) => () => planCapture({ event: { ...eur, category: "home", supplyPrice }, seller: FULL, schedule, taxRule, rates });
      expect(limit(7_561n)().breakdown.lines.sellerMain).toBe(7_561n);
      expect(caught(limit(7_562n)).fields?.[0]?.message).toMatch(/^must be at most 7561 CNY minor units/);
    });

    it("bounds a USD-paid supplier by the gross in USD", () => {
      const usdFull: Seller = { ...FULL, payoutCurrency: "USD" };
      const usd = capture({ sellerId: "S-FULL-1", market: "US", currency: "USD", amount: 5_000n, gatewayFee: 0n, shipping: 0n, supplyPrice: 5_000n });
      expect(plan(usdFull, usd, null, null).breakdown.lines.sellerMain).toBe(5_000n);
      expect(caught(() => plan(usdFull, { ...usd, supplyPrice: 5_001n }, null, null)).details).toMatchObject({ limit: "5000", currency: "USD" });
    });
  });
});

describe("semi hosting: EUR capture in Spain for a USD-paid seller", () => {
  const cap = capture({ sellerId: "S-SEMI-1", market: "ES", currency: "EUR", amount: 5_000n, gatewayFee: 150n, gatewayEventId: "cap-semi" });
  const p = plan(SEMI, cap, "1.08", null);

  it("books IOSS VAT, the reduced commission, logistics and the 10% reserve", () => {
    // VAT 5000 x 21/121 = 867.77 -> 868; net 4132 x 1.08 = 4462.56 -> 4463; commission 3% = 134;
    // fee 162; logistics 450; seller 3717, reserve 10% = 372, available 3345. Position: 4132 - 150
    // = 3982 EUR worth 4463 - 162 = 4301 USD.
    expect(show(p.postings)).toEqual(
      [
        "D gateway:adyen:receivable EUR 4850",
        "D platform:expense:payment_fees USD 162",
        "C tax:ES:EU_IOSS:payable EUR 868",
        "C fx:EUR-USD EUR 3982",
        "D fx:EUR-USD USD 4301",
        "C platform:revenue:commission USD 134",
        "C platform:revenue:payment_fee_recovery USD 162",
        "C platform:revenue:logistics USD 450",
        "C seller:S-SEMI-1:available USD 3345",
        "C seller:S-SEMI-1:reserve USD 372",
      ].sort(),
    );
    expect(p.breakdown.reserveReleaseAt).toBe("2025-03-31T10:00:00.000Z");
    expectBalanced(p);
  });

  it("releases the reserve only when due", () => {
    const early = followUp("reserve_release", "rr-1", {}, cap);
    expect(codeOf(() => planFollowUp({ event: early, capture: stateOf(cap, p), rates: { buyerToUsd: null, usdToPayout: null } }))).toBe("ENT_SETTLEMENT_RESERVE_NOT_DUE");
    const due = followUp("reserve_release", "rr-2", { occurredAt: new Date("2025-03-31T10:00:00Z") }, cap);
    const rp = planFollowUp({ event: due, capture: stateOf(cap, p), rates: { buyerToUsd: null, usdToPayout: null } });
    expect(show(rp.postings)).toEqual(["C seller:S-SEMI-1:available USD 372", "D seller:S-SEMI-1:reserve USD 372"]);
  });

  it("a chargeback takes back from the reserve share too, and its reversal gives it back", () => {
    const cb = followUp("chargeback", "cb-1", { amount: 5_000n, gatewayFee: 1_500n }, cap);
    const cbPlan = planFollowUp({ event: cb, capture: stateOf(cap, p), rates: { buyerToUsd: rate("EUR", "USD", "1.08"), usdToPayout: null } });
    expect(movement(cbPlan.postings, "seller:S-SEMI-1:reserve", "USD")).toBe(372n);
    // The 15.00 EUR chargeback fee is passed on: 16.20 USD from the seller's available balance; so
    // is the logistics fee (4.50 USD): the parcel was shipped, a service rendered, not refunded.
    expect(movement(cbPlan.postings, "seller:S-SEMI-1:available", "USD")).toBe(3345n + 1620n + 450n);
    expect(movement(cbPlan.postings, "platform:revenue:logistics", "USD")).toBe(0n);
    expect(cbPlan.breakdown.gatewayFee).toEqual({ buyer: 1500n, usd: 1620n, payout: 1620n, borneBy: "seller", expenseUsd: 1620n });
    expectBalanced(cbPlan);
    const rev = followUp("chargeback_reversal", "cbr-1", { amount: 5_000n, originalEventId: "cb-1" }, cap);
    const state = stateOf(cap, p, [{ event: cb, plan: cbPlan }]);
    const revPlan = planFollowUp({ event: rev, capture: state, chargebackId: "cb-1", rates: { buyerToUsd: rate("EUR", "USD", "1.08"), usdToPayout: null } });
    expect(movement(revPlan.postings, "seller:S-SEMI-1:reserve", "USD")).toBe(-372n);
    expect(movement(revPlan.postings, "seller:S-SEMI-1:available", "USD")).toBe(-3345n - 450n);
    expect(revPlan.refundedDelta).toBe(-5_000n);
    expectBalanced(revPlan);
    const after = stateOf(cap, p, [
      { event: cb, plan: cbPlan },
      { event: rev, plan: revPlan },
    ]);
    expect(after.refunded).toBe(0n);
    expect(Object.values(after.reversedLines).every((v) => v === 0n)).toBe(true);
    expect(
      codeOf(() =>
        planFollowUp({ event: { ...rev, gatewayEventId: "cbr-2" }, capture: after, chargebackId: "cb-1", rates: { buyerToUsd: rate("EUR", "USD", "1.08"), usdToPayout: null } }),
      ),
    ).toBe("ENT_SETTLEMENT_REVERSAL_EXCEEDS_CHARGEBACK");
  });
});

describe("overseas hosting: KRW (no minor units) in Korea for a CNY-paid seller", () => {
  const cap = capture({ sellerId: "S-OVS-1", market: "KR", currency: "KRW", amount: 30_000n, gatewayFee: 900n, gatewayEventId: "cap-ovs" });
  const p = plan(OVS, cap, "0.00072", "7.2");

  it("books commission, warehousing, fulfilment and a 5% reserve; no tax under the de-minimis rule", () => {
    // 30000 KRW x 0.00072 = 21.60 USD = 2160 cents; fee 900 x 0.00072 = 0.648 -> 65 cents;
    // commission 5% = 108; seller 2160-108-65-120-280 = 1587 -> x7.2 = 11426.4 -> 11426 fen;
    // reserve 5% = 571.3 -> 571. Position 30000 - 900 = 29100 KRW worth 2160 - 65 = 2095 cents.
    expect(show(p.postings)).toEqual(
      [
        "D gateway:adyen:receivable KRW 29100",
        "D platform:expense:payment_fees USD 65",
        "C fx:KRW-USD KRW 29100",
        "D fx:KRW-USD USD 2095",
        "C platform:revenue:commission USD 108",
        "C platform:revenue:payment_fee_recovery USD 65",
        "C platform:revenue:warehousing USD 120",
        "C platform:revenue:fulfilment USD 280",
        "C fx:CNY-USD USD 1587",
        "D fx:CNY-USD CNY 11426",
        "C seller:S-OVS-1:available CNY 10855",
        "C seller:S-OVS-1:reserve CNY 571",
      ].sort(),
    );
    expectBalanced(p);
  });

  it("a full refund charges the seller the warehousing and fulfilment rendered, at the capture's rate, unless the schedule refunds them", () => {
    const refund = followUp("refund", "r-ovs", { amount: 30_000n }, cap);
    const rates = { buyerToUsd: rate("KRW", "USD", "0.00072"), usdToPayout: rate("USD", "CNY", "7.2") };
    const kept = planFollowUp({ event: refund, capture: stateOf(cap, p), rates });
    // 120 + 280 = 400 cents x 7.2 = 2880 fen on top of the proceeds taken back (10855 + 571).
    expect(movement(kept.postings, "seller:S-OVS-1:available", "CNY")).toBe(10_855n + 2_880n);
    expect(movement(kept.postings, "platform:revenue:warehousing", "USD")).toBe(0n);
    expect(movement(kept.postings, "platform:revenue:fulfilment", "USD")).toBe(0n);
    expectBalanced(kept);
    const schedule = selectSchedule(FEE_SCHEDULES, "overseas_hosting", cap.market, cap.category, cap.occurredAt)!;
    const taxRule = selectTaxRule(TAX_RULES, cap.market, cap.occurredAt)!;
    const refundable = planCapture({ event: cap, seller: OVS, schedule: { ...schedule, serviceFeesRefundable: true }, taxRule, rates });
    const back = planFollowUp({ event: refund, capture: stateOf(cap, refundable), rates });
    expect(movement(back.postings, "seller:S-OVS-1:available", "CNY")).toBe(10_855n);
    expect(movement(back.postings, "platform:revenue:warehousing", "USD")).toBe(120n);
    expectBalanced(back);
  });

  it("a fee adjustment charges (or credits) the seller through USD into CNY", () => {
    const adj = followUp("fee_adjustment", "adj-1", { gatewayFee: -500n }, cap);
    const ap = planFollowUp({ event: adj, capture: stateOf(cap, p), rates: { buyerToUsd: rate("KRW", "USD", "0.00072"), usdToPayout: rate("USD", "CNY", "7.2") } });
    // -500 KRW = -36 cents = -259.2 -> -259 fen: the seller gets 2.59 CNY back. The expense (in USD)
    // goes down by 36 cents, and the 500 KRW come back into the position the acquirer converts.
    expect(show(ap.postings)).toEqual(
      [
        "C platform:expense:payment_fees USD 36",
        "D fx:KRW-USD USD 36",
        "C fx:KRW-USD KRW 500",
        "D gateway:adyen:receivable KRW 500",
        "D platform:revenue:payment_fee_recovery USD 36",
        "C fx:CNY-USD USD 36",
        "D fx:CNY-USD CNY 259",
        "C seller:S-OVS-1:available CNY 259",
      ].sort(),
    );
    expectBalanced(ap);
    // Both conversions are evidence: KRW->USD (which made 500 KRW into 36 cents) and USD->CNY, in
    // the breakdown and in the journal metadata (and so in the anchored leaf).
    expect(ap.breakdown.fx.map((l) => [`${l.from}-${l.to}`, l.rate, l.fromAmount, l.toAmount])).toEqual([
      ["KRW-USD", "0.00072", 500n, 36n],
      ["USD-CNY", "7.2", 36n, 259n],
    ]);
    expect(ap.metadata).toMatchObject({ "fx.KRW-USD.rate": "0.00072", "fx.USD-CNY.rate": "7.2" });
  });

  describe("when a fee credit-back exceeds the fees charged on the order", () => {
    const rates = { buyerToUsd: rate("KRW", "USD", "0.00072"), usdToPayout: rate("USD", "CNY", "7.2") };
    const adjust = (id: string, gatewayFee: bigint) => followUp("fee_adjustment", id, { gatewayFee }, cap);
    /** The state after `steps` booked in order (each planned on the state before it). */
    const after = (...steps: SettlementEvent[]) => {
      const booked: Array<{ event: SettlementEvent; plan: PostingPlan }> = [];
      for (const event of steps) booked.push({ event, plan: planFollowUp({ event, capture: stateOf(cap, p, booked), rates }) });
      return stateOf(cap, p, booked);
    };
    const credit = (state: ReturnType<typeof stateOf>, gatewayFee: bigint) => () => planFollowUp({ event: adjust("credit", gatewayFee), capture: state, rates });

    it("credits back at most the capture's fee (900 KRW), 422 ENT_SETTLEMENT_FEE_CREDIT_EXCEEDS_CHARGED naming gatewayFee with the limit", () => {
      expect(movement(credit(after(), -900n)().postings, "seller:S-OVS-1:available", "CNY")).toBeLessThan(0n);
      const e = caught(credit(after(), -901n));
      expect([e.code, e.status]).toEqual(["ENT_SETTLEMENT_FEE_CREDIT_EXCEEDS_CHARGED", 422]);
      expect(e.fields).toEqual([{ field: "gatewayFee", message: "must be at least -900: at most the 900 KRW minor units of fees still charged on the order" }]);
      expect(e.details).toMatchObject({ limit: "900", currency: "KRW", feesCharged: "900", givenBackByRefunds: "0" });
    });

    it("counts earlier adjustments both ways and the fees charged on follow-ups", () => {
      const credited = after(adjust("a-1", -500n));
      expect(codeOf(credit(credited, -401n))).toBe("ENT_SETTLEMENT_FEE_CREDIT_EXCEEDS_CHARGED");
      expect(credit(credited, -400n)().breakdown.gatewayFee.buyer).toBe(-400n);
      const charged = after(adjust("a-2", 200n), followUp("refund", "r-fee", { amount: 3_000n, gatewayFee: 100n }, cap));
      // 900 + 200 + 100 charged; the refund of a tenth gave the seller back 90 of the capture's fee.
      expect(caught(credit(charged, -1_111n)).details).toMatchObject({ limit: "1110", feesCharged: "1200", givenBackByRefunds: "90" });
      expect(credit(charged, -1_110n)().breakdown.gatewayFee.buyer).toBe(-1_110n);
    });

    it("leaves nothing to credit back once a full refund gave the seller the fee recovery back", () => {
      const refunded = after(followUp("refund", "r-all", { amount: 30_000n }, cap));
      expect(caught(credit(refunded, -1n)).details).toMatchObject({ limit: "0", feesCharged: "900", givenBackByRefunds: "900" });
      // A chargeback reversal charges the recovery again: it can be credited back again.
      const half = after(followUp("refund", "r-half", { amount: 15_000n }, cap));
      expect(codeOf(credit(half, -451n))).toBe("ENT_SETTLEMENT_FEE_CREDIT_EXCEEDS_CHARGED");
      expect(credit(half, -450n)().breakdown.gatewayFee.buyer).toBe(-450n);
    });

    it("does not give a credited-back fee again with a refund: a gateway fee of the whole gross, credited back, then refunded leaves the seller as with no fee", () => {
      // Before: capture (fee = gross), credit-back of it, full refund: the refund gave the fee
      // recovery back again and the seller kept 96.00 USD that nobody paid (the receivable nets 0).
      const usdOvs: Seller = { ...OVS, payoutCurrency: "USD" };
      const at = (fee: bigint) => capture({ sellerId: "S-OVS-1", market: "US", currency: "USD", amount: 10_000n, gatewayFee: fee, shipping: 0n, gatewayEventId: `c-${fee}` });
      const none = { buyerToUsd: null, usdToPayout: null };
      const run = (fee: bigint) => {
        const c = at(fee);
        const cp = plan(usdOvs, c, null, null);
        const steps: Array<{ event: SettlementEvent; plan: PostingPlan }> = [];
        for (const event of [...(fee === 0n ? [] : [followUp("fee_adjustment", "credit", { gatewayFee: -fee }, c)]), followUp("refund", "all", { amount: 10_000n }, c)]) {
          steps.push({ event, plan: planFollowUp({ event, capture: stateOf(c, cp, steps), rates: none }) });
        }
        const plans = [cp, ...steps.map((x) => x.plan)];
        plans.forEach(expectBalanced);
        const net = (account: string) => plans.reduce((a, x) => a + movement(x.postings, account, "USD"), 0n);
        return { seller: net("seller:S-OVS-1:available") + net("seller:S-OVS-1:reserve"), recovery: net("platform:revenue:payment_fee_recovery"), receivable: net("gateway:adyen:receivable") };
      };
      const withFee = run(10_000n);
      expect(withFee).toEqual(run(0n));
      expect([withFee.recovery, withFee.receivable]).toEqual([0n, 0n]);
    });

    it("refuses the tester's 1,000,000-cent credit-back on a USD 100.00 capture with a 300-cent fee", () => {
      const semi: Seller = { id: "S-SEMI-1", name: "Semi", program: "semi_hosting", payoutCurrency: "USD", homeCountry: "CN" };
      const usd = capture({ sellerId: "S-SEMI-1", market: "US", currency: "USD", amount: 10_000n, gatewayFee: 300n, shipping: 0n, gatewayEventId: "fa-cap-1" });
      const cp = plan(semi, usd, null, null);
      const adj = followUp("fee_adjustment", "fa-adj-1", { gatewayFee: -1_000_000n }, usd);
      const e = caught(() => planFollowUp({ event: adj, capture: stateOf(usd, cp), rates: { buyerToUsd: null, usdToPayout: null } }));
      expect([e.code, e.details?.limit]).toEqual(["ENT_SETTLEMENT_FEE_CREDIT_EXCEEDS_CHARGED", "300"]);
    });
  });

  it("with a markup configured, a fee charged to the seller is converted at mid: no markup on a charge, nothing left inside fx:CNY-USD", () => {
    const marked = (from: string, to: string, mid: string, allIn: string): RateEvidence => ({ ...rate(from, to, allIn), midRate: mid, markupBps: 150 });
    const adj = followUp("fee_adjustment", "adj-2", { gatewayFee: 500n }, cap);
    const ap = planFollowUp({ event: adj, capture: stateOf(cap, p), rates: { buyerToUsd: marked("KRW", "USD", "0.00072", "0.0007092"), usdToPayout: marked("USD", "CNY", "7.2", "7.092") } });
    // 500 KRW cost 36 cents at mid; the seller pays those 36 cents, 259 fen at mid (not 35 cents and
    // 248 fen at the all-in rates): recovery equals the expense and the position is at mid.
    expect(movement(ap.postings, "platform:revenue:payment_fee_recovery", "USD")).toBe(-36n);
    expect(movement(ap.postings, "platform:expense:payment_fees", "USD")).toBe(36n);
    expect(movement(ap.postings, "seller:S-OVS-1:available", "CNY")).toBe(259n);
    expect([movement(ap.postings, "fx:CNY-USD", "USD"), movement(ap.postings, "fx:CNY-USD", "CNY")]).toEqual([36n, -259n]);
    expect(movement(ap.postings, "platform:revenue:fx_markup", "USD")).toBe(0n);
    expect(ap.breakdown.fx.map((l) => [`${l.from}-${l.to}`, l.rate, l.markupBps])).toEqual([
      ["KRW-USD", "0.00072", undefined],
      ["USD-CNY", "7.2", undefined],
    ]);
    expectBalanced(ap);
  });
});

describe("when nothing is converted: a USD order for a USD-paid seller", () => {
  const POP_USD: Seller = { id: "S-POP-USD", name: "Pop USD", program: "pop", payoutCurrency: "USD", homeCountry: "HK" };
  const cap = capture({ gatewayEventId: "us-cap", settlementId: "ORD-US", sellerId: POP_USD.id, market: "US", category: "stationery", currency: "USD", amount: 10_000n, gatewayFee: 300n, occurredAt: new Date("2026-12-05T10:00:00Z") });
  const rates = { buyerToUsd: null, usdToPayout: null };
  // New York's 4% on 100.00: 3.85 of state tax, half of it 1.925, and half of every other line x.5.
  const schedule = selectSchedule(FEE_SCHEDULES, "pop", "US", "stationery", cap.occurredAt);
  const taxRule = selectTaxRule(TAX_RULES, "US", cap.occurredAt);
  const stateTaxRule = TAX_RULES.find((r) => r.region === "US-NY");
  if (schedule === null || taxRule === null || stateTaxRule === undefined) throw new Error("test data missing");
  const p = planCapture({ event: cap, seller: POP_USD, schedule, taxRule, stateTaxRule, rates });
  const parts = (l: PostingPlan["breakdown"]["lines"]) => l.tax + l.stateTax + l.commission + l.paymentFeeRecovery + l.logistics + l.warehousing + l.fulfilment + l.fxMarkup + l.sellerMain + l.sellerReserve;

  it("refunds in halves book no FX result: each refund's parts add up to its gross, together the capture's", () => {
    expect(parts(p.breakdown.lines)).toBe(10_000n);
    const r1 = followUp("refund", "us-r1", { amount: 5_000n }, cap);
    const p1 = planFollowUp({ event: r1, capture: stateOf(cap, p), rates });
    const r2 = followUp("refund", "us-r2", { amount: 5_000n }, cap);
    const p2 = planFollowUp({ event: r2, capture: stateOf(cap, p, [{ event: r1, plan: p1 }]), rates });
    for (const r of [p1, p2]) {
      expect(r.postings.filter((x) => x.account === "platform:fx_gain_loss")).toEqual([]);
      expect(r.breakdown.fxDifference).toBe(0n);
      expect(parts(r.breakdown.lines)).toBe(5_000n);
      expect(r.breakdown.lines.netUsd).toBe(5_000n - r.breakdown.lines.tax - r.breakdown.lines.stateTax);
      expectBalanced(r);
    }
    // Half of 3.85 of tax, 6.73 of commission and 86.42 for the seller: the tax and commission go up
    // first (1.93, 3.37), the seller takes the rest (43.20), and the second half what is left.
    const figures = (r: PostingPlan) => [r.breakdown.lines.stateTax, r.breakdown.lines.commission, r.breakdown.lines.paymentFeeRecovery, r.breakdown.lines.sellerMain];
    expect([figures(p), figures(p1), figures(p2)]).toEqual([
      [385n, 673n, 300n, 8642n],
      [193n, 337n, 150n, 4320n],
      [192n, 336n, 150n, 4322n],
    ]);
    for (const k of ["tax", "stateTax", "commission", "paymentFeeRecovery", "sellerMain", "sellerReserve", "sellerUsd", "netUsd"] as const) {
      expect(p1.breakdown.lines[k] + p2.breakdown.lines[k], k).toBe(p.breakdown.lines[k]);
    }
  });

  it("a chargeback and its reversal move parts that add up to their amounts", () => {
    const cb = followUp("chargeback", "us-cb", { amount: 3_333n }, cap);
    const pc = planFollowUp({ event: cb, capture: stateOf(cap, p), rates });
    expect(parts(pc.breakdown.lines)).toBe(3_333n);
    expect(pc.breakdown.fxDifference).toBe(0n);
    const rev = followUp("chargeback_reversal", "us-cbr", { amount: 3_333n, originalEventId: "us-cb" }, cap);
    const pr = planFollowUp({ event: rev, capture: stateOf(cap, p, [{ event: cb, plan: pc }]), rates, chargebackId: "us-cb" });
    expect(parts(pr.breakdown.lines)).toBe(-3_333n);
    expect(pr.breakdown.fxDifference).toBe(0n);
    expectBalanced(pr);
  });
});

describe("follow-up validation", () => {
  const cap = capture();
  const p = plan(POP, cap, "0.18", "7.2");
  const rates = { buyerToUsd: rate("BRL", "USD", "0.18"), usdToPayout: rate("USD", "CNY", "7.2") };

  it("refuses a refund above what is left of the capture", () => {
    const r1 = followUp("refund", "r1", { amount: 6_000n });
    const p1 = planFollowUp({ event: r1, capture: stateOf(cap, p), rates });
    const r2 = followUp("refund", "r2", { amount: 4_001n });
    expect(codeOf(() => planFollowUp({ event: r2, capture: stateOf(cap, p, [{ event: r1, plan: p1 }]), rates }))).toBe("ENT_SETTLEMENT_REFUND_EXCEEDS_CAPTURE");
  });
  it("refuses a currency or seller other than the capture's", () => {
    expect(codeOf(() => planFollowUp({ event: followUp("refund", "r3", { amount: 10n, currency: "USD" }), capture: stateOf(cap, p), rates }))).toBe(
      "ENT_SETTLEMENT_CURRENCY_MISMATCH",
    );
    expect(codeOf(() => planFollowUp({ event: followUp("refund", "r4", { amount: 10n, sellerId: "S-X" }), capture: stateOf(cap, p), rates }))).toBe(
      "ENT_SETTLEMENT_REFERENCE_MISMATCH",
    );
  });
  it("refuses a conversion without a rate", () => {
    expect(codeOf(() => planFollowUp({ event: followUp("refund", "r5", { amount: 10n }), capture: stateOf(cap, p), rates: { buyerToUsd: null, usdToPayout: null } }))).toBe(
      "ENT_SETTLEMENT_FX_UNAVAILABLE",
    );
  });
});

describe("listing price: the seller's proceeds fixed in the currency they priced in", () => {
  it("POP, listed at 108.00 CNY and paid in CNY: the seller gets the listing less fees, the platform takes the checkout difference as revenue", () => {
    const p = plan(POP, capture({ listingPrice: 10_800n, listingCurrency: "CNY" }), "0.18", "7.2");
    // Net of the tax's share 10800 x 8333/10000 = 8999.64 -> 9000 fen, worth 9000/7.2 = 1250 USD
    // cents; commission 8% = 100, fee 350 BRL x 0.18 = 63: 163 cents = 1173.6 -> 1174 fen, so the
    // seller gets 9000 - 1174 = 7826 fen (costing 1087 cents). The buyer's 8333 BRL are worth 1500
    // cents: the platform keeps 1500 - 163 - 1087 = 250, its checkout difference: a price it set at
    // the sale (platform:revenue:checkout_fx), no exchange difference (nothing to platform:fx_gain_loss).
    expect(show(p.postings)).toEqual(
      [
        "D gateway:adyen:receivable BRL 9650",
        "D platform:expense:payment_fees USD 63",
        "C tax:BR:BR_REMESSA_CONFORME:payable BRL 1667",
        "C fx:BRL-USD BRL 7983",
        "D fx:BRL-USD USD 1437",
        "C platform:revenue:commission USD 100",
        "C platform:revenue:payment_fee_recovery USD 63",
        "C platform:revenue:checkout_fx USD 250",
        "C fx:CNY-USD USD 1087",
        "D fx:CNY-USD CNY 7826",
        "C seller:S-POP-1:held CNY 7826",
      ].sort(),
    );
    expect([p.breakdown.lines.checkoutFx, p.breakdown.lines.fxGainLoss]).toEqual([250n, 0n]);
    expect(p.metadata).toMatchObject({ listingPrice: "10800", listingCurrency: "CNY" });
    expectBalanced(p);
  });

  it("a refund of a listed order takes its share of the checkout difference back from revenue; what the rate moved since is the exchange difference", () => {
    const cap = capture({ listingPrice: 10_800n, listingCurrency: "CNY" });
    const p = plan(POP, cap, "0.18", "7.2");
    const r = followUp("refund", "ref-listed", { amount: 3_000n }, cap);
    const rp = planFollowUp({ event: r, capture: stateOf(cap, p), rates: { buyerToUsd: rate("BRL", "USD", "0.17"), usdToPayout: null } });
    // 30% of each line (half-even): tax 1667 -> 500, commission 100 -> 30, fee 63 -> 18.9 -> 19, the
    // checkout difference 250 -> 75, the seller's 1087 USD -> 326.1 -> 326 and 7826 fen -> 2347.8 ->
    // 2348. The 2500 BRL net of tax were worth 450 at the capture's 0.18 and cost 425 at 0.17: the
    // 25 is the exchange difference (platform:fx_gain_loss); the 75 leave checkout_fx, where they were.
    expect(show(rp.postings)).toEqual(
      [
        "C gateway:adyen:receivable BRL 3000",
        "D tax:BR:BR_REMESSA_CONFORME:payable BRL 500",
        "D fx:BRL-USD BRL 2500",
        "C fx:BRL-USD USD 425",
        "D platform:revenue:commission USD 30",
        "D platform:revenue:payment_fee_recovery USD 19",
        "D platform:revenue:checkout_fx USD 75",
        "D fx:CNY-USD USD 326",
        "C fx:CNY-USD CNY 2348",
        "D seller:S-POP-1:held CNY 2348",
        "C platform:fx_gain_loss USD 25",
      ].sort(),
    );
    expect([rp.breakdown.lines.checkoutFx, rp.breakdown.lines.fxGainLoss, rp.breakdown.fxDifference]).toEqual([75n, 0n, 25n]);
    expectBalanced(rp);
  });

  it("a capture booked before the checkout difference was revenue: its refund takes that share back from platform:fx_gain_loss, where the capture booked it", () => {
    const cap = capture({ listingPrice: 10_800n, listingCurrency: "CNY" });
    const p = plan(POP, cap, "0.18", "7.2");
    // As the ledger holds such a capture: the 250 in fxGainLoss (platform:fx_gain_loss), no checkoutFx.
    const old = { ...p, breakdown: { ...p.breakdown, lines: { ...p.breakdown.lines, fxGainLoss: 250n, checkoutFx: 0n } } };
    const rp = planFollowUp({ event: followUp("refund", "ref-old-listed", { amount: 3_000n }, cap), capture: stateOf(cap, old), rates: { buyerToUsd: rate("BRL", "USD", "0.17"), usdToPayout: null } });
    // 75 taken back from platform:fx_gain_loss, the exchange difference of 25 credited to it: 50 net.
    expect(movement(rp.postings, "platform:fx_gain_loss", "USD")).toBe(50n);
    expect(rp.postings.filter((x) => x.account === "platform:revenue:checkout_fx")).toEqual([]);
    expect([rp.breakdown.lines.checkoutFx, rp.breakdown.lines.fxGainLoss, rp.breakdown.fxDifference]).toEqual([0n, 75n, 25n]);
    expectBalanced(rp);
  });

  it("semi hosting, listed at 54.00 USD: a weaker euro at checkout is the platform's loss, not the seller's", () => {
    const cap = capture({ sellerId: "S-SEMI-1", market: "ES", currency: "EUR", amount: 5_000n, gatewayFee: 150n, listingPrice: 5_400n, listingCurrency: "USD" });
    const at108 = plan(SEMI, cap, "1.08", null);
    const at105 = plan(SEMI, cap, "1.05", null);
    // Listing net of VAT: 5400 x 4132/5000 = 4462.56 -> 4463; commission 3% = 134; logistics 450.
    // At 1.08 the fee is 162 and the euros are worth 4463: seller 3717, checkout difference 0. At 1.05
    // the fee is 157.5 -> 158 and the euros are worth 4338.6 -> 4339: seller 3721, the platform
    // loses 124 on its price (platform:revenue:checkout_fx debited), no exchange difference.
    const seller = (p: PostingPlan) => p.breakdown.lines.sellerMain + p.breakdown.lines.sellerReserve;
    expect([seller(at108), at108.breakdown.lines.checkoutFx]).toEqual([3717n, 0n]);
    expect([seller(at105), at105.breakdown.lines.checkoutFx, at105.breakdown.lines.fxGainLoss]).toEqual([3721n, -124n, 0n]);
    expect(movement(at105.postings, "platform:revenue:checkout_fx", "USD")).toBe(124n);
    expect(at105.postings.filter((x) => x.account === "platform:fx_gain_loss")).toEqual([]);
    expect(at105.breakdown.lines.commission).toBe(134n);
    expectBalanced(at105);
  });

  it("refuses a listing in a third currency, on full hosting, or on a follow-up", () => {
    const eur = capture({ sellerId: "S-SEMI-1", market: "ES", currency: "EUR", amount: 5_000n, listingPrice: 5_000n, listingCurrency: "EUR" });
    expect(codeOf(() => plan(SEMI, eur, "1.08", null))).toBe("ENT_SETTLEMENT_INVALID_EVENT");
    const full = capture({ sellerId: "S-FULL-1", supplyPrice: 6_000n, listingPrice: 7_000n, listingCurrency: "CNY" });
    expect(codeOf(() => plan(FULL, { ...full, supplyPrice: undefined }, "0.18", "7.2"))).toBe("ENT_SETTLEMENT_INVALID_EVENT");
    expect(codeOf(() => validateEvent(full))).toBe("ENT_SETTLEMENT_INVALID_EVENT");
    expect(codeOf(() => validateEvent({ ...followUp("refund", "r-l", { amount: 100n }), listingPrice: 100n, listingCurrency: "CNY" }))).toBe("ENT_SETTLEMENT_INVALID_EVENT");
    // A listing price without its currency takes the seller's on file; a seller without one is refused.
    expect(validateEvent(capture({ listingPrice: 100n })).listingPrice).toBe(100n);
    expect(codeOf(() => plan(POP, capture({ listingPrice: 100n }), "0.18", "7.2"))).toBe("ENT_SETTLEMENT_INVALID_EVENT");
    const listed = plan({ ...POP, listingCurrency: "CNY" }, capture({ listingPrice: 7_000n }), "0.18", "7.2");
    expect(listed.metadata.listingCurrency).toBe("CNY");
    expect(listed.metadata.listingPrice).toBe("7000");
  });
});
