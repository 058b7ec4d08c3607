/**
 * Per-order fees priced by weight band, as a controller reads them: which band a parcel falls in,
 * what it costs, what the plan books and what a return does with it.
 *
 * The schedule below (overseas hosting, Brazil): logistics up to 500 g USD 3.00, up to 1 kg 4.50,
 * up to 2 kg 7.00, then USD 1.50 per further 500 g or part of it; fulfilment USD 1.20 up to 1 kg,
 * 2.00 up to 5 kg, nothing priced beyond; warehousing stays flat at USD 1.20.
 */
import { describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { FEE_SCHEDULES, TAX_RULES } from "../../service/settlement/data.js";
import { bandFee, perOrderFees, type WeightBandTable } from "../../service/settlement/fees.js";
import { requestHash } from "../../service/settlement/codec.js";
import { planCapture, planFollowUp } from "../../service/settlement/plan.js";
import { selectTaxRule, validateSchedule } from "../../service/settlement/schedules.js";
import { validateEvent } from "../../service/settlement/validate.js";
import type { FeeSchedule, Seller } from "../../service/settlement/types.js";
import { capture, followUp, movement, netByCurrency, rate, stateOf } from "./fixtures.js";

const LOGISTICS: WeightBandTable = {
  bands: [
    { upToGrams: 500, fee: 300n },
    { upToGrams: 1_000, fee: 450n },
    { upToGrams: 2_000, fee: 700n },
  ],
  beyond: { perGrams: 500, fee: 150n },
};
const FULFILMENT: WeightBandTable = { bands: [{ upToGrams: 1_000, fee: 120n }, { upToGrams: 5_000, fee: 200n }] };
const base = FEE_SCHEDULES.find((s) => s.id === "overseas-any-2024") as FeeSchedule;
const BANDED: FeeSchedule = { ...base, id: "overseas-BR-bands", market: "BR", weightBands: { logistics: LOGISTICS, fulfilment: FULFILMENT } };
const OVS: Seller = { id: "S-OVS-1", name: "Overseas", program: "overseas_hosting", payoutCurrency: "USD", homeCountry: "CN" };

function codeOf(fn: () => unknown): { code: string; field: string | undefined } {
  try {
    fn();
  } catch (e) {
    if (isAppError(e)) return { code: e.code, field: e.fields?.[0]?.field };
    throw e;
  }
  throw new Error("expected an error");
}

describe("weight band selection", () => {
  it("prices a parcel by the first band it does not exceed (bounds inclusive)", () => {
    expect(bandFee(LOGISTICS, "logistics", 1)?.fee).toBe(300n);
    expect(bandFee(LOGISTICS, "logistics", 500)?.fee).toBe(300n); // exactly 500 g is "up to 500 g"
    expect(bandFee(LOGISTICS, "logistics", 501)).toMatchObject({ upToGrams: 1_000, fee: 450n, extraSteps: 0 });
    expect(bandFee(LOGISTICS, "logistics", 2_000)).toMatchObject({ upToGrams: 2_000, fee: 700n });
  });
  it("above the last band adds the step fee per further 500 g or part of it", () => {
    // 2001 g: 700 + 1 x 150 = 850; 2500 g: still one step; 2600 g: 700 + 2 x 150 = 1000.
    expect(bandFee(LOGISTICS, "logistics", 2_001)).toMatchObject({ upToGrams: 2_000, bandFee: 700n, extraSteps: 1, extraFee: 150n, perGrams: 500, fee: 850n });
    expect(bandFee(LOGISTICS, "logistics", 2_500)?.fee).toBe(850n);
    expect(bandFee(LOGISTICS, "logistics", 2_600)?.fee).toBe(1_000n);
    // Without `beyond` a heavier parcel has no price.
    expect(bandFee(FULFILMENT, "fulfilment", 5_001)).toBeNull();
  });
  it("replaces only the banded lines' flat fees", () => {
    const { fees, bands } = perOrderFees(BANDED, capture({ weightGrams: 1_200 }));
    // logistics: 1200 g -> up to 2 kg = 700; fulfilment: up to 5 kg = 200; warehousing flat 120.
    expect(fees).toEqual({ logistics: 700n, warehousing: 120n, fulfilment: 200n });
    expect(bands.map((b) => [b.line, b.upToGrams, b.fee])).toEqual([
      ["logistics", 2_000, 700n],
      ["fulfilment", 5_000, 200n],
    ]);
    // A schedule without bands: the flat fees, weight or not.
    expect(perOrderFees(base, capture({ weightGrams: 1_200 })).fees).toEqual({ logistics: 0n, warehousing: 120n, fulfilment: 280n });
  });
  it("refuses a capture without weight under a banded schedule, and a parcel above every band, naming weightGrams", () => {
    expect(codeOf(() => perOrderFees(BANDED, capture()))).toEqual({ code: "ENT_SETTLEMENT_WEIGHT_REQUIRED", field: "weightGrams" });
    expect(codeOf(() => perOrderFees(BANDED, capture({ weightGrams: 6_000 })))).toEqual({ code: "ENT_SETTLEMENT_WEIGHT_OUT_OF_BANDS", field: "weightGrams" });
  });
});

describe("weight band validation", () => {
  const bad = (weightBands: unknown) => codeOf(() => validateSchedule({ ...BANDED, weightBands } as FeeSchedule));
  it("accepts ascending bands with non-negative integer fees", () => {
    expect(validateSchedule(BANDED)).toBe(BANDED);
  });
  it("refuses bands out of order, empty, fractional grams, negative fees, unknown lines", () => {
    expect(bad({ logistics: { bands: [{ upToGrams: 1_000, fee: 1n }, { upToGrams: 500, fee: 2n }] } })).toEqual({ code: "ENT_SETTLEMENT_INVALID_SCHEDULE", field: "weightBands.logistics.bands.1.upToGrams" });
    expect(bad({ logistics: { bands: [] } }).field).toBe("weightBands.logistics.bands");
    expect(bad({ logistics: { bands: [{ upToGrams: 0.5, fee: 1n }] } }).field).toBe("weightBands.logistics.bands.0.upToGrams");
    expect(bad({ logistics: { bands: [{ upToGrams: 500, fee: -1n }] } }).field).toBe("weightBands.logistics.bands.0.fee");
    expect(bad({ logistics: { bands: [{ upToGrams: 500, fee: 1n }], beyond: { perGrams: 0, fee: 1n } } }).field).toBe("weightBands.logistics.beyond.perGrams");
    expect(bad({ commission: { bands: [{ upToGrams: 500, fee: 1n }] } }).field).toBe("weightBands.commission");
  });
});

describe("a banded capture in the plan", () => {
  const taxRule = selectTaxRule(TAX_RULES, "BR", new Date("2025-03-01T10:00:00Z"));
  if (taxRule === null) throw new Error("test data missing");
  const event = capture({ sellerId: OVS.id, weightGrams: 1_200 });
  const p = planCapture({ event, seller: OVS, schedule: BANDED, taxRule, rates: { buyerToUsd: rate("BRL", "USD", "0.18", "Q-1"), usdToPayout: null } });

  it("books the band's fee on the service lines and says which band in the breakdown and the metadata", () => {
    for (const [cur, n] of Object.entries(netByCurrency(p.postings))) expect(n, `net ${cur}`).toBe(0n);
    expect(p.breakdown.lines).toMatchObject({ logistics: 700n, warehousing: 120n, fulfilment: 200n });
    expect(movement(p.postings, "platform:revenue:logistics", "USD")).toBe(-700n);
    expect(movement(p.postings, "platform:revenue:fulfilment", "USD")).toBe(-200n);
    expect(p.breakdown.feeBands).toEqual([
      { line: "logistics", weightGrams: 1_200, upToGrams: 2_000, bandFee: 700n, extraSteps: 0, perGrams: null, extraFee: 0n, fee: 700n },
      { line: "fulfilment", weightGrams: 1_200, upToGrams: 5_000, bandFee: 200n, extraSteps: 0, perGrams: null, extraFee: 0n, fee: 200n },
    ]);
    expect(p.metadata).toMatchObject({ weightGrams: "1200", "feeBand.logistics": "up to 2000 g: 700", "feeBand.fulfilment": "up to 5000 g: 200" });
  });

  it("a full refund charges the seller the banded service fees (rendered), as for flat fees", () => {
    const refund = planFollowUp({ event: followUp("refund", "r-1", { amount: 10_000n }, event), capture: stateOf(event, p), rates: { buyerToUsd: rate("BRL", "USD", "0.18"), usdToPayout: null } });
    expect(movement(refund.postings, "platform:revenue:logistics", "USD")).toBe(0n);
    expect(movement(refund.postings, "platform:revenue:fulfilment", "USD")).toBe(0n);
    expect(refund.breakdown.lines).toMatchObject({ logistics: 700n, warehousing: 120n, fulfilment: 200n });
  });
});

describe("the event's weight", () => {
  it("is a positive integer of grams, on captures only", () => {
    expect(codeOf(() => validateEvent(capture({ weightGrams: 0 }))).field).toBe("weightGrams");
    expect(codeOf(() => validateEvent(capture({ weightGrams: 1.5 }))).field).toBe("weightGrams");
    expect(codeOf(() => validateEvent(followUp("refund", "r-1", { amount: 1n, weightGrams: 500 }))).field).toBe("weightGrams");
  });
  it("enters the request hash only when present: an event without it hashes as before", () => {
    // Without the fixtures' default region (a field of its own, also hashed only when present).
    const e = capture({ shipToRegion: undefined });
    // The hash the codec gave this event before weightGrams existed (computed with that codec).
    expect(requestHash(e)).toBe("28f7aad2eaf8ab237b85b85eaf0c7dadf03ee74a0cb6d8c54595d7dc03734204");
    expect(requestHash({ ...e, weightGrams: 500 })).not.toBe(requestHash(e));
  });
});
