/**
 * FX where it really happens, as a controller reads it (worked example, both engines):
 *
 *   capture    10000 BRL to Sao Paulo (fee 350; ICMS 17% of the whole, 1700; Remessa Conforme 20%
 *              on the goods left, 1383 of 8300) for a CNY-paid POP seller, mid 0.18 BRL->USD and
 *              7.2 USD->CNY, markup 150 bps: the seller's proceeds are converted at mid less the
 *              markup; the markup is FX revenue on its own line; the fx:BRL-USD position is the
 *              6567 BRL the acquirer will convert beyond the 3083 of tax, at mid (1182 USD);
 *   remittance Adyen pays 9650 BRL out as 1689 USD (0.175) while the published mid rate is still
 *              0.18: the receivable clears; the 6567 BRL leave the position at 1182 USD booked, worth
 *              6567 x 0.18 = 1182.06 -> 1182 at mid: no exchange difference (realised 0); the 3083
 *              BRL of tax, converted too, go to fx:BRL-USD:tax at mid: +3083 BRL against 1737 - 1182
 *              = 555 USD (9650 x 0.18 = 1737 for the whole), the BRL to buy back for the tax
 *              authorities; what arrived less the mid value, 1689 - 1737 = -48, is the acquirer's
 *              spread, a cost (platform:expense:fx_conversion), no exchange difference (IAS 21.52(a));
 *              fx:BRL-USD itself is back to zero (before the spread was kept apart, the whole 33 of
 *              the closed part was booked as realised FX, and the tax part's 15 left in fx:BRL-USD:tax
 *              for the revaluation to call unrealised);
 *   revaluation at 0.17 the tax still owed in BRL is worth 3083 x 0.17 = 524.11 -> 524 USD against 555:
 *              31 of unrealised gain; at 0.18 again, 555: the next revaluation takes it back, -31.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FxRealisation } from "../../service/settlement/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, followUp } from "./fixtures.js";
import { marchRate, openSettlementHarness, type SettlementHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code: string }).code;
  }
  return "resolved";
}

describe.each(kinds)("FX realised where it happens, on %s", (kind) => {
  let h: SettlementHarness;
  let fxr: FxRealisation;
  const bal = async (account: string, currency: string) => {
    const b = await h.ledger.balance(account, currency).catch((e: unknown) => {
      if ((e as { code?: string }).code === "ENT_LEDGER_ACCOUNT_NOT_FOUND") return null;
      throw e;
    });
    return b === null ? 0n : b.postedDebits - b.postedCredits;
  };
  /** The BRL owed to both tax authorities (credit negative): the federal import tax and Sao Paulo's ICMS. */
  const taxOwed = async () => (await bal("tax:BR:BR_REMESSA_CONFORME:payable", "BRL")) + (await bal("tax:BR-SP:BR_ICMS:payable", "BRL"));

  beforeAll(async () => {
    h = await openSettlementHarness(kind, { markupBps: 150 });
    await h.fx.publishRates([marchRate("BRL", "USD", "0.18"), marchRate("USD", "CNY", "7.2")]);
    fxr = new FxRealisation(h.ledger, h.fx);
  }, 120_000);
  afterAll(async () => h?.close());

  it("books the markup as FX revenue and keeps the clearing position at mid", async () => {
    const r = await h.settlement.postEvent(capture({ sellerId: "S-POP-SZ-01" }));
    const lines = r.settlement.breakdown.lines;
    // 6917 BRL net of both taxes x 0.1773 = 1226.38 -> 1226 all-in against 1245 at mid: 19; the
    // seller's 1226 - 98 (8% commission) - 62 (fee at the all-in rate) = 1066 USD buy 1066 x 7.092 =
    // 7560.07 -> 7560 fen, which cost 7560 / 7.2 = 1050 at mid: 16 more.
    expect([lines.tax, lines.stateTax]).toEqual([1383n, 1700n]);
    expect([lines.netUsd, lines.fxMarkup, lines.sellerUsd]).toEqual([1226n, 19n + 16n, 1050n]);
    expect(await bal("platform:revenue:fx_markup", "USD")).toBe(-35n);
    expect(await bal("platform:expense:payment_fees", "USD")).toBe(63n);
    expect([await bal("fx:BRL-USD", "BRL"), await bal("fx:BRL-USD", "USD")]).toEqual([-6567n, 1182n]);
    expect([await bal("gateway:adyen:receivable", "BRL"), await bal("tax:BR:BR_REMESSA_CONFORME:payable", "BRL"), await bal("tax:BR-SP:BR_ICMS:payable", "BRL")]).toEqual([9650n, -1383n, -1700n]);
    for (const net of Object.values(await h.netPerCurrency())) expect(net).toBe(0n);
  });

  it("a remittance clears the receivable at the acquirer's rate and realises the difference", async () => {
    const input = { gateway: "adyen", remittanceId: "PO-2025-03-05", currency: "BRL", amount: 9650n, settledCurrency: "USD", settledAmount: 1689n, occurredAt: new Date("2025-03-05T06:00:00Z") };
    const r = await fxr.remit(input);
    expect(r.status).toBe("created");
    expect(r.remittance).toMatchObject({ appliedRate: "0.1750259067", bookedRate: "0.1799908634", bookedUsd: 1182n + 555n, realised: 0n, conversion: -48n, midRate: "0.18" });
    expect(r.remittance.settledAmount).toBe(r.remittance.bookedUsd + r.remittance.realised + r.remittance.conversion);
    expect(await bal("gateway:adyen:receivable", "BRL")).toBe(0n);
    expect(await bal("platform:cash:bank", "USD")).toBe(1689n);
    // The mid rate has not moved since the capture: no exchange difference; the acquirer's spread is a cost.
    expect(await bal("platform:fx:realised_gain_loss", "USD")).toBe(0n);
    expect(await bal("platform:expense:fx_conversion", "USD")).toBe(48n);
    // The conversion position is closed; what the acquirer converted beyond it is the tax still
    // owed in BRL, at the mid rate.
    expect([await bal("fx:BRL-USD", "BRL"), await bal("fx:BRL-USD", "USD")]).toEqual([0n, 0n]);
    expect([await bal("fx:BRL-USD:tax", "BRL"), await bal("fx:BRL-USD:tax", "USD")]).toEqual([3083n, -555n]);
    expect(-(await taxOwed())).toBe(await bal("fx:BRL-USD:tax", "BRL"));
    const tx = await h.ledger.getTransaction(r.remittance.transactionId);
    expect(tx?.metadata).toMatchObject({ kind: "remittance", "position.before": "-6567", "position.beforeUsd": "1182", midUsd: "1737", realised: "0", conversion: "-48" });
    expect(tx?.effectiveAt.toISOString()).toBe("2025-03-05T06:00:00.000Z");
    for (const net of Object.values(await h.netPerCurrency())) expect(net).toBe(0n);
  });

  it("answers the same remittance again as exists, and refuses another body under its id or more than is receivable", async () => {
    const input = { gateway: "adyen", remittanceId: "PO-2025-03-05", currency: "BRL", amount: 9650n, settledCurrency: "USD", settledAmount: 1689n, occurredAt: new Date("2025-03-05T06:00:00Z") };
    const again = await fxr.remit(input);
    expect(again.status).toBe("exists");
    expect([again.remittance.realised, again.remittance.conversion]).toEqual([0n, -48n]);
    expect(await codeOf(fxr.remit({ ...input, settledAmount: 1690n }))).toBe("ENT_REMITTANCE_CONFLICT");
    expect(await codeOf(fxr.remit({ ...input, remittanceId: "PO-2", amount: 1n }))).toBe("ENT_REMITTANCE_EXCEEDS_RECEIVABLE");
    expect(await codeOf(fxr.remit({ ...input, remittanceId: "PO-3", settledCurrency: "EUR" }))).toBe("ENT_SETTLEMENT_INVALID_EVENT");
    // Each currency it may settle in named once: a USD receivable settles in USD only.
    const message = async (p: Promise<unknown>) => p.then(() => "", (e: unknown) => (e as Error).message);
    expect(await message(fxr.remit({ ...input, remittanceId: "PO-3", settledCurrency: "EUR" }))).toMatch(/settledCurrency must be USD or BRL$/);
    expect(await message(fxr.remit({ ...input, remittanceId: "PO-5", currency: "USD", amount: 100n, settledCurrency: "EUR" }))).toMatch(/settledCurrency must be USD$/);
    expect(await codeOf(fxr.remit({ ...input, remittanceId: "PO-4", occurredAt: new Date(Date.now() + 3_600_000) }))).toBe("ENT_SETTLEMENT_INVALID_EVENT");
    expect(await bal("platform:cash:bank", "USD")).toBe(1689n);
  });

  it("revalues what is still open at the published mid rate, booking only the change each time", async () => {
    await h.fx.publishRates([{ ...marchRate("BRL", "USD", "0.17"), asOf: new Date("2025-03-20T00:00:00Z"), validFrom: new Date("2025-03-20T00:00:00Z") }]);
    const first = await fxr.revalue(new Date("2025-03-25T00:00:00Z"));
    expect(first.status).toBe("created");
    const brl = first.revaluation.lines.find((l) => l.currency === "BRL");
    // 3083 x 0.17 = 524.11 -> 524 against 555 booked: the BRL owed is 31 cheaper, a gain.
    expect(brl).toMatchObject({ position: 3083n, positionUsd: -555n, midRate: "0.17", unrealised: 31n, change: 31n });
    const cny = first.revaluation.lines.find((l) => l.currency === "CNY");
    expect(cny?.position).toBe(7560n);
    expect(await bal("fx:BRL-USD:revaluation", "USD")).toBe(31n);
    expect((await fxr.revalue(new Date("2025-03-25T00:00:00Z"))).status).toBe("exists");
    expect(await codeOf(fxr.revalue(new Date("2025-03-24T00:00:00Z")))).toBe("ENT_FX_REVALUATION_OUT_OF_ORDER");
    expect(await codeOf(fxr.revalue(new Date(Date.now() + 3_600_000)))).toBe("ENT_FX_REVALUATION_INVALID");

    await h.fx.publishRates([{ ...marchRate("BRL", "USD", "0.18"), asOf: new Date("2025-03-28T00:00:00Z"), validFrom: new Date("2025-03-28T00:00:00Z") }]);
    const second = await fxr.revalue(new Date("2025-03-30T00:00:00Z"));
    // 3083 x 0.18 = 554.94 -> 555, what it was booked at: nothing unrealised now, so this one books -31.
    expect(second.revaluation.lines.find((l) => l.currency === "BRL")).toMatchObject({ unrealised: 0n, change: -31n });
    expect(await bal("fx:BRL-USD:revaluation", "USD")).toBe(0n);
    // The positions and their revaluation together are worth zero at the mid rate (555 USD).
    expect(555n + (await bal("fx:BRL-USD:tax", "USD")) + (await bal("fx:BRL-USD:revaluation", "USD"))).toBe(0n);
    const listed = await fxr.listRevaluations({});
    expect(listed.items.map((r) => r.at.toISOString())).toEqual(["2025-03-30T00:00:00.000Z", "2025-03-25T00:00:00.000Z"]);
    for (const net of Object.values(await h.netPerCurrency())) expect(net).toBe(0n);
  });

  it("after captures, a refund and the remittance of the whole receivable, the conversion position is closed and the tax account holds the tax still owed", async () => {
    const amounts = [12_345n, 999n, 250_000n];
    for (const [i, amount] of amounts.entries()) {
      await h.settlement.postEvent(capture({ sellerId: "S-POP-SZ-01", gatewayEventId: `p-${i}`, settlementId: `ORD-P-${i}`, amount, gatewayFee: amount / 29n }));
    }
    await h.settlement.postEvent(followUp("refund", "p-ref", { amount: 100_000n, gatewayFee: 12n }, capture({ sellerId: "S-POP-SZ-01", gatewayEventId: "p-2", settlementId: "ORD-P-2", amount: 250_000n })));
    const receivable = await bal("gateway:adyen:receivable", "BRL");
    // A gateway key cannot book any gain or loss it likes: the acquirer's rate must be within 10% of
    // the published mid rate, and there must be one to compare with.
    const attempt = { gateway: "adyen", remittanceId: "PO-BAD", currency: "BRL", amount: receivable, settledCurrency: "USD", occurredAt: new Date("2025-03-06T06:00:00Z") };
    expect(await codeOf(fxr.remit({ ...attempt, settledAmount: (receivable * 15n) / 100n }))).toBe("ENT_REMITTANCE_RATE_OUT_OF_RANGE");
    expect(await codeOf(fxr.remit({ ...attempt, settledAmount: (receivable * 21n) / 100n }))).toBe("ENT_REMITTANCE_RATE_OUT_OF_RANGE");
    expect(await codeOf(fxr.remit({ ...attempt, settledAmount: (receivable * 18n) / 100n, occurredAt: new Date("2025-05-01T06:00:00Z") }))).toBe("ENT_SETTLEMENT_FX_UNAVAILABLE");
    await fxr.remit({ gateway: "adyen", remittanceId: "PO-ALL", currency: "BRL", amount: receivable, settledCurrency: "USD", settledAmount: (receivable * 176n) / 1000n, occurredAt: new Date("2025-03-06T06:00:00Z") });
    expect(await bal("gateway:adyen:receivable", "BRL")).toBe(0n);
    expect(await bal("fx:BRL-USD", "BRL")).toBe(0n);
    expect(await bal("fx:BRL-USD:tax", "BRL")).toBe(-(await taxOwed()));
    // A later capture and its remittance realise against their own conversion, not the tax held.
    await h.settlement.postEvent(capture({ sellerId: "S-POP-SZ-01", gatewayEventId: "p-late", settlementId: "ORD-P-LATE", occurredAt: new Date("2025-03-07T10:00:00Z") }));
    const late = await fxr.remit({ gateway: "adyen", remittanceId: "PO-LATE", currency: "BRL", amount: 9_650n, settledCurrency: "USD", settledAmount: 1_689n, occurredAt: new Date("2025-03-08T06:00:00Z") });
    expect([late.remittance.realised, late.remittance.conversion]).toEqual([0n, -48n]);
    for (const net of Object.values(await h.netPerCurrency())) expect(net).toBe(0n);
  });

  it("a payout in the buyer's currency, unconverted, puts that currency in the bank and leaves the position open for the platform to convert", async () => {
    await h.settlement.postEvent(capture({ sellerId: "S-POP-SZ-01", gatewayEventId: "p-brl", settlementId: "ORD-P-BRL", occurredAt: new Date("2025-03-09T10:00:00Z") }));
    const position = await bal("fx:BRL-USD", "BRL");
    const input = { gateway: "adyen", remittanceId: "PO-BRL", currency: "BRL", amount: 9_650n, settledCurrency: "BRL", settledAmount: 9_650n, occurredAt: new Date("2025-03-10T06:00:00Z") };
    expect(await codeOf(fxr.remit({ ...input, settledAmount: 9_649n }))).toBe("ENT_SETTLEMENT_INVALID_EVENT");
    const r = await fxr.remit(input);
    expect(r.remittance).toMatchObject({ appliedRate: "1", realised: 0n, settledCurrency: "BRL" });
    expect(await bal("platform:cash:bank", "BRL")).toBe(9_650n);
    expect(await bal("gateway:adyen:receivable", "BRL")).toBe(0n);
    expect(await bal("fx:BRL-USD", "BRL")).toBe(position);
    for (const net of Object.values(await h.netPerCurrency())) expect(net).toBe(0n);
  });

  it("holds a receivable at zero against remittances racing from several instances (each its own lock): the ledger refuses the one that would take it below", async () => {
    await h.settlement.postEvent(capture({ sellerId: "S-POP-SZ-01", gatewayEventId: "race-brl", settlementId: "ORD-RACE-BRL", occurredAt: new Date("2025-03-11T10:00:00Z") }));
    expect(await bal("gateway:adyen:receivable", "BRL")).toBe(9_650n);
    // Five service instances, each reading the receivable (9,650) before any of them books 3,000.
    const instances = Array.from({ length: 5 }, () => new FxRealisation(h.ledger, h.fx));
    const outcomes = await Promise.all(
      instances.map((x, i) =>
        codeOf(x.remit({ gateway: "adyen", remittanceId: `PO-RACE-${i}`, currency: "BRL", amount: 3_000n, settledCurrency: "BRL", settledAmount: 3_000n, occurredAt: new Date("2025-03-12T06:00:00Z") })),
      ),
    );
    expect(outcomes.sort()).toEqual(["ENT_REMITTANCE_EXCEEDS_RECEIVABLE", "ENT_REMITTANCE_EXCEEDS_RECEIVABLE", "resolved", "resolved", "resolved"]);
    expect(await bal("gateway:adyen:receivable", "BRL")).toBe(650n);
    for (const net of Object.values(await h.netPerCurrency())) expect(net).toBe(0n);
  });

  it("says which positions a revaluation left out, with a stable code, and keeps that in the revaluation it books", async () => {
    // April: a fresh BRL rate, none for CNY (March's expired on 1 April).
    await h.fx.publishRates([{ ...marchRate("BRL", "USD", "0.19"), asOf: new Date("2025-04-10T00:00:00Z"), validFrom: new Date("2025-04-10T00:00:00Z"), validUntil: new Date("2025-05-01T00:00:00Z") }]);
    const r = await fxr.revalue(new Date("2025-04-15T00:00:00Z"));
    expect(r.revaluation.lines.map((l) => l.currency)).toEqual(["BRL"]);
    expect(r.revaluation.skipped.map((x) => [x.currency, x.code])).toEqual([["CNY", "ENT_FX_RATE_STALE"]]);
    expect(r.revaluation.skipped[0]?.reason).toMatch(/USD->CNY|CNY->USD/);
    // Read back from the journal: the revaluation says what it did not restate.
    const [latest] = (await fxr.listRevaluations({})).items;
    expect(latest?.transactionId).toBe(r.revaluation.transactionId);
    expect(latest?.skipped).toEqual(r.revaluation.skipped);
  });

  it("answers nothing, not created, when every position is skipped: nothing is booked or recorded, the same call says so again", async () => {
    // June: no rate in force for any open position (April's BRL rate ended on 1 May).
    const at = new Date("2025-06-15T00:00:00Z");
    const before = (await fxr.listRevaluations({})).items.map((x) => x.transactionId);
    const r = await fxr.revalue(at);
    expect([r.status, r.revaluation.transactionId, r.revaluation.lines]).toEqual(["nothing", null, []]);
    expect(r.revaluation.skipped.map((x) => x.currency).sort()).toEqual(["BRL", "CNY"]);
    expect((await fxr.revalue(at)).status).toBe("nothing");
    expect((await fxr.listRevaluations({})).items.map((x) => x.transactionId)).toEqual(before);
  });

  it("keeps the acquirer's spread out of the exchange differences: a SAR remittance (pegged) shows its spread as a cost, a PLN one after the mid moved both", async () => {
    // March rates for two currencies no other test holds a position in: SAR at its 3.75 peg, PLN at 0.25
    // (EUR for the Polish VAT rule's band).
    await h.fx.publishRates([marchRate("SAR", "USD", "0.2666666667"), marchRate("PLN", "USD", "0.25"), marchRate("EUR", "USD", "1.08")]);
    await h.settlement.postEvent(capture({ sellerId: "S-POP-SZ-01", gatewayEventId: "sar-1", settlementId: "ORD-SAR-1", market: "SA", currency: "SAR", amount: 40_000n, gatewayFee: 1_200n, occurredAt: new Date("2025-03-13T10:00:00Z") }));
    const sar = { B: await bal("fx:SAR-USD", "SAR"), U: await bal("fx:SAR-USD", "USD"), receivable: await bal("gateway:adyen:receivable", "SAR") };
    const before = { realised: await bal("platform:fx:realised_gain_loss", "USD"), conversion: await bal("platform:expense:fx_conversion", "USD") };
    // No tax collected at the sale (an import to SA: customs): the position is the gross less the
    // fee, 38800 SAR, booked at the peg: 38800 x 0.2666666667 = 10346.67 -> 10347 USD.
    expect(sar).toEqual({ B: -38_800n, U: 10_347n, receivable: 38_800n });
    // The acquirer pays the 38800 SAR out at about 3.7875 SAR per USD (1% off the peg): 10244 USD,
    // against 10347 at mid. The 38800 SAR close the position at 10347 booked, worth 10347 at mid:
    // no exchange difference. The spread, 10244 - 10347 = -103, is a cost (before it was kept apart,
    // the whole -103 was booked as a realised FX loss on a pegged currency).
    const r = await fxr.remit({ gateway: "adyen", remittanceId: "PO-SAR-1", currency: "SAR", amount: 38_800n, settledCurrency: "USD", settledAmount: 10_244n, occurredAt: new Date("2025-03-14T06:00:00Z") });
    expect(r.remittance).toMatchObject({ bookedUsd: 10_347n, realised: 0n, conversion: -103n, midRate: "0.2666666667" });
    expect(await bal("platform:fx:realised_gain_loss", "USD")).toBe(before.realised);
    expect(await bal("platform:expense:fx_conversion", "USD")).toBe(before.conversion + 103n);
    expect([await bal("fx:SAR-USD", "SAR"), await bal("fx:SAR-USD", "USD")]).toEqual([0n, 0n]);
    expect([await bal("fx:SAR-USD:tax", "SAR"), await bal("fx:SAR-USD:tax", "USD")]).toEqual([0n, 0n]);

    // PLN: captured at 0.25, remitted after the mid rose to 0.26; the acquirer applies 0.2574 (1% below).
    await h.settlement.postEvent(capture({ sellerId: "S-POP-SZ-01", gatewayEventId: "pln-1", settlementId: "ORD-PLN-1", market: "PL", currency: "PLN", amount: 40_000n, gatewayFee: 1_200n, occurredAt: new Date("2025-03-13T10:00:00Z") }));
    const pln = { B: await bal("fx:PLN-USD", "PLN"), U: await bal("fx:PLN-USD", "USD"), receivable: await bal("gateway:adyen:receivable", "PLN") };
    // Polish VAT 23% inside the gross: 40000 x 23/123 = 7479.67 -> 7480; the position is the rest,
    // 38800 - 7480 = 31320 PLN, at 0.25: 7830 USD.
    expect(pln).toEqual({ B: -31_320n, U: 7_830n, receivable: 38_800n });
    await h.fx.publishRates([{ ...marchRate("PLN", "USD", "0.26"), asOf: new Date("2025-03-14T00:00:00Z"), validFrom: new Date("2025-03-14T00:00:00Z") }]);
    // 38800 x 0.2574 = 9987.12 -> 9987 USD arrive; at mid 38800 x 0.26 = 10088. The closed 31320 PLN
    // were booked at 7830 and are worth 31320 x 0.26 = 8143.2 -> 8143 at mid: 313 of realised gain
    // (an exchange difference). The tax part, 7480 PLN, at mid: 10088 - 8143 = 1945. The spread,
    // 9987 - 10088 = -101, is a cost: 9987 = (7830 + 1945) + 313 - 101. (Before: 9987 - 9775 = 212
    // of "realised FX", the spread on the closed part netted into the gain, the tax part's left in
    // fx:PLN-USD:tax for the revaluation.)
    const p = await fxr.remit({ gateway: "adyen", remittanceId: "PO-PLN-1", currency: "PLN", amount: 38_800n, settledCurrency: "USD", settledAmount: 9_987n, occurredAt: new Date("2025-03-15T06:00:00Z") });
    expect(p.remittance).toMatchObject({ bookedUsd: 7_830n + 1_945n, realised: 313n, conversion: -101n, midRate: "0.26" });
    expect(await bal("platform:fx:realised_gain_loss", "USD")).toBe(before.realised - 313n);
    expect(await bal("platform:expense:fx_conversion", "USD")).toBe(before.conversion + 103n + 101n);
    expect([await bal("fx:PLN-USD:tax", "PLN"), await bal("fx:PLN-USD:tax", "USD")]).toEqual([7_480n, -1_945n]);
    const tx = await h.ledger.getTransaction(p.remittance.transactionId);
    expect(tx?.postings.filter((x) => x.account.startsWith("platform:")).map((x) => `${x.direction} ${x.account} ${x.amount}`).sort()).toEqual([
      "credit platform:fx:realised_gain_loss 313",
      "debit platform:cash:bank 9987",
      "debit platform:expense:fx_conversion 101",
    ]);
    for (const net of Object.values(await h.netPerCurrency())) expect(net).toBe(0n);
  });
});
