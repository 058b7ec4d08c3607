/**
 * Integration: the settlement service through the real ledger, the real fx service and a fresh
 * test database (PGlite in memory, or PostgreSQL when TEST_DATABASE_URL is set).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { inclusiveTax, settlementToJson, type SettlementEvent, type SettlementItemResult, type SettlementResult } from "../../service/settlement/index.js";
import { capture, followUp, show } from "./fixtures.js";
import { testDatabaseKinds } from "../support/db.js";
import { openSettlementHarness, type SettlementHarness } from "./harness.js";
import { rejectionCode as codeOf } from "../support/app-errors.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("SettlementService through the real ledger on %s", (kind) => {
  let h: SettlementHarness;

  beforeAll(async () => {
    h = await openSettlementHarness(kind);
    // Round figures so the expected postings can be checked by hand (see plan.unit.test.ts).
    await h.fx.publishRates([
      {
        base: "BRL",
        quote: "USD",
        rate: "0.18",
        source: "test",
        asOf: new Date("2025-03-01T00:00:00Z"),
        validFrom: new Date("2025-03-01T00:00:00Z"),
        validUntil: new Date("2025-03-02T00:00:00Z"),
      },
      {
        base: "BRL",
        quote: "USD",
        rate: "0.17",
        source: "test",
        asOf: new Date("2025-03-02T00:00:00Z"),
        validFrom: new Date("2025-03-02T00:00:00Z"),
        validUntil: new Date("2025-04-01T00:00:00Z"),
      },
      {
        base: "USD",
        quote: "CNY",
        rate: "7.2",
        source: "test",
        asOf: new Date("2025-03-01T00:00:00Z"),
        validFrom: new Date("2025-03-01T00:00:00Z"),
        validUntil: new Date("2025-04-01T00:00:00Z"),
      },
    ]);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  function ok(r: SettlementItemResult | undefined): SettlementResult {
    if (r === undefined || r.status === "error") throw new Error(`expected success, got ${JSON.stringify(r, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`);
    return r;
  }

  const ev = (over: Partial<SettlementEvent>) => capture({ sellerId: "S-POP-SZ-01", category: "home", ...over });

  it("pays a seller in any ISO 4217 currency through USD (no CNY/USD list), and refuses a code that is none", async () => {
    await h.fx.publishRates([
      { base: "USD", quote: "EUR", rate: "0.9", source: "test", asOf: new Date("2025-03-01T00:00:00Z"), validFrom: new Date("2025-03-01T00:00:00Z"), validUntil: new Date("2025-04-01T00:00:00Z") },
    ]);
    await h.settlement.saveProgramData({ sellers: [{ id: "S-POP-EU-01", name: "Valencia Ceramics", program: "pop", payoutCurrency: "EUR", homeCountry: "ES", gateways: ["adyen"] }] });
    const r = await h.settlement.postEvent(ev({ sellerId: "S-POP-EU-01", gatewayEventId: "it-eur-1", settlementId: "IT-EUR-1" }));
    expect(r.settlement.breakdown.payoutCurrency).toBe("EUR");
    expect(r.settlement.fx.map((l) => `${l.from}-${l.to} ${l.rate}`)).toEqual(["BRL-USD 0.18", "USD-EUR 0.9"]);
    expect(r.transaction.postings.some((p) => p.account === "seller:S-POP-EU-01:held" && p.currency === "EUR" && p.amount > 0n)).toBe(true);
    // The journal carries the gross and fee lines anchoring commits to.
    expect(r.transaction.metadata).toMatchObject({ grossCurrency: "BRL", grossAmount: "10000", feeCurrency: "USD" });

    for (const payoutCurrency of ["EURO", "XYZ", ""]) {
      const refused = await h.settlement
        .saveProgramData({ sellers: [{ id: "S-BAD-01", name: "Bad", program: "pop", payoutCurrency, homeCountry: "CN" }] })
        .then(() => null, (e: unknown) => e);
      expect(isAppError(refused) && refused.fields).toEqual([{ field: "payoutCurrency", message: expect.stringMatching(/ISO 4217/) as unknown }]);
    }
    // Where a seller is established is never unknown: it decides its tax rules and whether the vault may pay it.
    for (const homeCountry of ["", "cn", "CHN"]) {
      const refused = await h.settlement
        .saveProgramData({ sellers: [{ id: "S-BAD-01", name: "Bad", program: "pop", payoutCurrency: "CNY", homeCountry }] })
        .then(() => null, (e: unknown) => e);
      expect(isAppError(refused) && refused.fields).toEqual([{ field: "homeCountry", message: expect.stringMatching(/ISO 3166/) as unknown }]);
    }
    expect((await h.settlement.listSellers()).map((s) => s.id)).not.toContain("S-BAD-01");
  });

  it("keeps the evidence of Brazil's USD 20 deduction: the rule's amount, its BRL value and the rate that converted it", async () => {
    // 60000 BRL to Sao Paulo: ICMS 10200 leaves 49800, goods above USD 50: the 60% band less USD 20,
    // which is 2000 / 0.18 = 11111 BRL (half-even).
    const r = await h.settlement.postEvent(ev({ gatewayEventId: "it-br-deduction", settlementId: "IT-BR-DEDUCTION", amount: 60_000n }));
    expect(r.transaction.metadata).toMatchObject({ "tax.deduction.currency": "USD", "tax.deduction.amount": "2000", "tax.deduction.buyer": "11111", "tax.deduction.rate": "0.18" });
    expect(show(r.transaction.postings)).toContain(`C tax:BR:BR_REMESSA_CONFORME:payable BRL ${inclusiveTax(49_800n, 6000, 11_111n)}`);
    // Below the band: no deduction, no evidence of one.
    const low = await h.settlement.postEvent(ev({ gatewayEventId: "it-br-no-deduction", settlementId: "IT-BR-NO-DEDUCTION" }));
    expect(Object.keys(low.transaction.metadata).filter((k) => k.startsWith("tax.deduction."))).toEqual([]);
  });

  it("books a POP BRL capture for a CNY-paid seller as one balanced journal transaction", async () => {
    const r = await h.settlement.postEvent(ev({ gatewayEventId: "it-cap-1", settlementId: "IT-1" }));
    expect(r.status).toBe("created");
    // 10000 BRL to Sao Paulo: ICMS 1700 (17% of the whole) and import tax 1383 (20% of the 6917 of
    // goods left) stay in BRL; 6917 x 0.18 = 1245 USD, less 8% commission (100) and the fee (63):
    // 1082 USD x 7.2 = 7790 CNY.
    expect(show(r.transaction.postings)).toContain("C seller:S-POP-SZ-01:held CNY 7790");
    expect(show(r.transaction.postings)).toContain("C tax:BR-SP:BR_ICMS:payable BRL 1700");
    expect(show(r.transaction.postings)).toContain("C tax:BR:BR_REMESSA_CONFORME:payable BRL 1383");
    // The BRL position at mid (1245 USD) less the gateway's fee, an expense in USD (63).
    expect(show(r.transaction.postings)).toContain("D fx:BRL-USD USD 1182");
    expect(show(r.transaction.postings)).toContain("D platform:expense:payment_fees USD 63");
    expect(r.transaction.metadata.settlementId).toBe("IT-1");
    expect(r.settlement.journalTransactionId).toBe(r.transaction.id);
    expect(r.settlement.status).toBe("posted");
    expect(r.settlement.fx.map((l) => l.rate)).toEqual(["0.18", "7.2"]);
    const held = await h.ledger.balance("seller:S-POP-SZ-01:held", "CNY");
    expect(held.posted).toBeGreaterThanOrEqual(7790n);
    const again = await h.settlement.getSettlement(r.settlement.id);
    expect(again.breakdown.lines.commission).toBe(100n);
    expect(again.breakdown.stateTax).toEqual({ ruleId: "tax-BR-SP-icms-2023-08", scheme: "BR_ICMS", rateBps: 1700, region: "BR-SP", collectedBy: "marketplace" });
    const json = JSON.parse(JSON.stringify(settlementToJson(again))) as { event: { amount: string }; breakdown: { lines: { sellerMain: string }; fx: Array<{ quoteId: string | null }> } };
    expect(json.event.amount).toBe("10000");
    expect(json.breakdown.lines.sellerMain).toBe("7790");
  });

  it("answers a replay with the original transaction and refuses a changed body", async () => {
    const e = ev({ gatewayEventId: "it-cap-2", settlementId: "IT-2" });
    const first = await h.settlement.postEvent(e);
    const second = await h.settlement.postEvent(e);
    expect(second.status).toBe("exists");
    expect(second.transaction.id).toBe(first.transaction.id);
    expect(await codeOf(h.settlement.postEvent({ ...e, amount: e.amount + 1n }))).toBe("ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT");
  });

  it("rejects bad references with stable codes", async () => {
    expect(await codeOf(h.settlement.postEvent(ev({ gatewayEventId: "it-x1", sellerId: "S-NOBODY" })))).toBe("ENT_SETTLEMENT_UNKNOWN_SELLER");
    expect(await codeOf(h.settlement.postEvent(ev({ gatewayEventId: "it-x2", currency: "USD" })))).toBe("ENT_SETTLEMENT_CURRENCY_MISMATCH");
    expect(await codeOf(h.settlement.postEvent(followUp("refund", "it-x3", { amount: 1n, originalEventId: "never-captured" }, ev({}))))).toBe("ENT_SETTLEMENT_UNKNOWN_CAPTURE");
    expect(await codeOf(h.settlement.postEvent(ev({ gatewayEventId: "it-x4", market: "XX" })))).toBe("ENT_SETTLEMENT_UNKNOWN_MARKET");
    // A follow-up dated before its capture (by effective instant it would give back tax never
    // collected, or take a held balance below zero, in the periods between); at the same instant it is fine.
    const cap = ev({ gatewayEventId: "it-x5-cap", settlementId: "IT-X5" });
    await h.settlement.postEvent(cap);
    const early = followUp("refund", "it-x5-ref", { amount: 100n, occurredAt: new Date(cap.occurredAt.getTime() - 86_400_000) }, cap);
    expect(await codeOf(h.settlement.postEvent(early))).toBe("ENT_SETTLEMENT_BEFORE_ORIGINAL");
    expect(await codeOf(h.settlement.postEvent(followUp("release", "it-x5-rel", { amount: 0n, occurredAt: new Date(cap.occurredAt.getTime() - 1) }, cap)))).toBe("ENT_SETTLEMENT_BEFORE_ORIGINAL");
    expect((await h.settlement.postEvent({ ...early, occurredAt: cap.occurredAt })).status).toBe("created");
    expect(await codeOf(h.settlement.getSettlement("999999999"))).toBe("ENT_SETTLEMENT_NOT_FOUND");
  });

  it("lets repeated partial refunds reach the capture exactly and no further", async () => {
    const cap = ev({ gatewayEventId: "it-cap-3", settlementId: "IT-3" });
    await h.settlement.postEvent(cap);
    for (const [i, amount] of [3_333n, 3_333n, 3_334n].entries()) {
      const r = await h.settlement.postEvent(followUp("refund", `it-ref-3-${i}`, { amount }, cap));
      expect(r.status).toBe("created");
    }
    expect(await codeOf(h.settlement.postEvent(followUp("refund", "it-ref-3-x", { amount: 1n }, cap)))).toBe("ENT_SETTLEMENT_REFUND_EXCEEDS_CAPTURE");
    // Every line came back in full: the three refunds' seller debits sum to the capture's credit.
    const chain = await h.settlement.listForOrder("IT-3");
    const sum = chain.slice(1).reduce((a, r) => a + r.breakdown.lines.sellerMain, 0n);
    expect(sum).toBe(chain[0]?.breakdown.lines.sellerMain);
  });

  it("never over-refunds under concurrent refunds from two service instances", async () => {
    const cap = ev({ gatewayEventId: "it-cap-4", settlementId: "IT-4" });
    await h.settlement.postEvent(cap);
    const other = h.another();
    const attempts = Array.from({ length: 16 }, (_, i) =>
      (i % 2 === 0 ? h.settlement : other).postEvent(followUp("refund", `it-ref-4-${i}`, { amount: 1_000n }, cap)).then(
        () => "ok",
        (e: unknown) => (isAppError(e) ? e.code : String(e)),
      ),
    );
    const outcomes = await Promise.all(attempts);
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(10);
    expect(outcomes.filter((o) => o !== "ok").every((o) => o === "ENT_SETTLEMENT_REFUND_EXCEEDS_CAPTURE" || o === "ENT_SETTLEMENT_CONCURRENT_UPDATE")).toBe(true);
    const chain = await h.settlement.listForOrder("IT-4");
    expect(chain.slice(1).reduce((a, r) => a + r.event.amount, 0n)).toBe(10_000n);
  });

  it("books a batch per item, capture and follow-ups in one call, through postBatch", async () => {
    const cap = ev({ gatewayEventId: "it-cap-5", settlementId: "IT-5" });
    const results = await h.settlement.postEvents([
      followUp("refund", "it-ref-5", { amount: 2_500n }, cap),
      cap,
      { ...cap, gatewayEventId: "it-bad", amount: -1n },
      followUp("release", "it-rel-5", {}, cap),
    ]);
    expect(ok(results[1]).status).toBe("created");
    expect(ok(results[0]).settlement.breakdown.lines.gross).toBe(2_500n);
    expect(results[2]).toMatchObject({ status: "error", error: { code: "ENT_SETTLEMENT_INVALID_EVENT" } });
    expect(ok(results[3]).settlement.breakdown.released).toBe(ok(results[1]).settlement.breakdown.lines.sellerMain - ok(results[0]).settlement.breakdown.lines.sellerMain);
  });

  it("a refund after payout leaves the seller's available balance negative, never silently lost", async () => {
    const seller = "S-POP-HK-02"; // POP, paid in USD
    const cap = ev({ gatewayEventId: "it-cap-6", settlementId: "IT-6", sellerId: seller });
    const c = await h.settlement.postEvent(cap);
    await h.settlement.postEvent(followUp("release", "it-rel-6", {}, cap));
    const proceeds = c.settlement.breakdown.lines.sellerMain;
    // The payout module would do this: pay out everything available.
    await h.ledger.post({
      idempotencyKey: "it-payout-6",
      postings: [
        { account: `seller:${seller}:available`, currency: "USD", direction: "debit", amount: proceeds },
        { account: "treasury:payouts", currency: "USD", direction: "credit", amount: proceeds },
      ],
      accounts: [{ code: "treasury:payouts", currency: "USD", ownerType: "treasury", ownerId: "platform", normalBalance: "debit", allowNegative: true }],
    });
    const before = await h.ledger.balance(`seller:${seller}:available`, "USD");
    await h.settlement.postEvent(followUp("refund", "it-ref-6", { amount: cap.amount }, cap));
    const after = await h.ledger.balance(`seller:${seller}:available`, "USD");
    expect(after.posted).toBe(before.posted - proceeds);
    expect(after.posted).toBeLessThan(0n);
  });

  it("auto-confirms held POP proceeds once due, exactly once", async () => {
    // A capture with the fields only a capture carries (listing price, ship-from): its release is still valid.
    await h.settlement.postEvent(ev({ gatewayEventId: "it-listed", settlementId: "IT-LISTED", listingPrice: 9_000n, listingCurrency: "CNY", shipFrom: "CN" }));
    expect(await h.settlement.releaseDue(new Date("2025-03-10T00:00:00Z"))).toEqual([]); // not due yet (15 days)
    const released = await h.settlement.releaseDue(new Date("2025-03-20T00:00:00Z"));
    expect(released.length).toBeGreaterThan(0);
    expect(released.every((r) => r.status === "created")).toBe(true);
    expect((await h.ledger.balance("seller:S-POP-SZ-01:held", "CNY")).posted).toBe(0n);
    expect(await h.settlement.releaseDue(new Date("2025-03-20T00:00:00Z"))).toEqual([]);
  });

  it("leaves every currency of the whole ledger netting to zero", async () => {
    expect(await h.netPerCurrency()).toEqual(Object.fromEntries(Object.keys(await h.netPerCurrency()).map((c) => [c, 0n])));
    expect((await h.ledger.verifyChain()).ok).toBe(true);
  });
});
