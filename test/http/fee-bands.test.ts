/**
 * Per-order fees priced by weight band, through the API as a gateway and a controller meet them:
 * a banded capture books its band's fee and says which band; a capture without its weight under a
 * banded schedule is a 422 naming weightGrams, not a silent flat fee; a schedule's bands are
 * published and read back through the program administration API.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FEE_SCHEDULES } from "../../service/settlement/data.js";
import type { FeeSchedule } from "../../service/settlement/types.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();
const base = FEE_SCHEDULES.find((s) => s.id === "overseas-any-2024") as FeeSchedule;
/** Overseas hosting to Brazil: logistics by weight (up to 500 g USD 3.00, 1 kg 4.50, 2 kg 7.00, then 1.50 per 500 g), fulfilment flat 2.80, warehousing flat 1.20. */
const BR_BANDS: FeeSchedule = {
  ...base,
  id: "overseas-BR-bands-2024",
  market: "BR",
  weightBands: {
    logistics: {
      bands: [
        { upToGrams: 500, fee: 300n },
        { upToGrams: 1_000, fee: 450n },
        { upToGrams: 2_000, fee: 700n },
      ],
      beyond: { perGrams: 500, fee: 150n },
    },
  },
};

describe.each(kinds)("weight-banded fees on %s", (kind) => {
  let h: Harness;
  const ovs = (over: Record<string, unknown>) => capture({ sellerId: "S-OVS-NB-01", category: "home", ...over });

  beforeAll(async () => {
    h = await openHarness({ kind });
    await h.services.settlement.saveProgramData({ schedules: [BR_BANDS] });
    await publishDayRates(h);
  });
  afterAll(async () => h.close());

  it("books a 2.6 kg parcel at the 2 kg band plus two 500 g steps and says so in the breakdown and the journal", async () => {
    const r = await h.signedPost("/v1/settlements/events", ovs({ gatewayEventId: "band-1", settlementId: "ORD-BAND-1", weightGrams: 2_600 }));
    expect(r.statusCode, r.body).toBe(201);
    const { settlement, transaction } = json<{ settlement: { event: { weightGrams: number }; breakdown: { scheduleId: string; lines: Record<string, string>; feeBands: unknown[] } }; transaction: { id: string; metadata: Record<string, string> } }>(r);
    expect(settlement.event.weightGrams).toBe(2_600);
    expect(settlement.breakdown.scheduleId).toBe("overseas-BR-bands-2024");
    // 700 + 2 x 150 = 1000 (USD 10.00); the flat lines stay.
    expect(settlement.breakdown.lines).toMatchObject({ logistics: "1000", warehousing: "120", fulfilment: "280" });
    expect(settlement.breakdown.feeBands).toEqual([{ line: "logistics", weightGrams: 2_600, upToGrams: 2_000, bandFee: "700", extraSteps: 2, perGrams: 500, extraFee: "150", fee: "1000" }]);
    expect(transaction.metadata).toMatchObject({ weightGrams: "2600", "feeBand.logistics": "above 2000 g: 700 + 2 x 150 per 500 g = 1000" });
    const stored = json<{ event: { weightGrams: number } }>(await h.get(`/v1/settlements/settlement:adyen:band-1`));
    expect(stored.event.weightGrams).toBe(2_600);
    // A replay is the same event; the same id with another weight is another body.
    const replay = await h.signedPost("/v1/settlements/events", ovs({ gatewayEventId: "band-1", settlementId: "ORD-BAND-1", weightGrams: 2_600 }), undefined, { at: new Date(Date.now() + 1_000) });
    expect(replay.statusCode).toBe(200);
    const other = await h.signedPost("/v1/settlements/events", ovs({ gatewayEventId: "band-1", settlementId: "ORD-BAND-1", weightGrams: 900 }), undefined, { at: new Date(Date.now() + 2_000) });
    expect([other.statusCode, problemCode(other)]).toEqual([409, "ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT"]);
  });

  it("refuses a capture without weight under a banded schedule: 422 naming weightGrams, nothing booked", async () => {
    const r = await h.signedPost("/v1/settlements/events", ovs({ gatewayEventId: "band-2", settlementId: "ORD-BAND-2" }));
    expect([r.statusCode, problemCode(r)]).toEqual([422, "ENT_SETTLEMENT_WEIGHT_REQUIRED"]);
    expect(json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)).toEqual(["weightGrams"]);
    expect((await h.get(`/v1/settlements/settlement:adyen:band-2`)).statusCode).toBe(404);
    // The same seller elsewhere (flat schedule) needs no weight.
    const flat = await h.signedPost("/v1/settlements/events", ovs({ gatewayEventId: "band-3", settlementId: "ORD-BAND-3", market: "US", currency: "USD", amount: "2999", gatewayFee: "87" }));
    expect(flat.statusCode, flat.body).toBe(201);
    expect(json<{ settlement: { breakdown: { feeBands?: unknown } } }>(flat).settlement.breakdown.feeBands).toBeUndefined();
    const bad = await h.signedPost("/v1/settlements/events", ovs({ gatewayEventId: "band-4", settlementId: "ORD-BAND-4", weightGrams: 0 }));
    expect(bad.statusCode).toBe(400);
  });

  it("in a batch: the weighed capture is booked with its band, the unweighed one refused alone", async () => {
    const r = await h.signedPost("/v1/settlements/events/batch", {
      events: [ovs({ gatewayEventId: "band-b1", settlementId: "ORD-BAND-B1", weightGrams: 480 }), ovs({ gatewayEventId: "band-b2", settlementId: "ORD-BAND-B2" })],
    });
    expect(r.statusCode, r.body).toBe(200);
    const [weighed, unweighed] = json<{ results: Array<{ status: string; settlement?: { event: { weightGrams?: number }; breakdown: { lines: Record<string, string> } }; error?: { code: string } }> }>(r).results;
    expect(weighed?.status).toBe("created");
    expect(weighed?.settlement?.breakdown.lines.logistics).toBe("300"); // 480 g: up to 500 g
    expect(json<{ event: { weightGrams: number } }>(await h.get("/v1/settlements/settlement:adyen:band-b1")).event.weightGrams).toBe(480);
    expect([unweighed?.status, unweighed?.error?.code]).toEqual(["error", "ENT_SETTLEMENT_WEIGHT_REQUIRED"]);
  });

  it("publishes a schedule with weight bands and a storage rate, reads it back, refuses bands out of order", async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    const body = {
      id: `ovs-KR-bands-${kind}`,
      program: "overseas_hosting",
      market: "KR",
      category: "*",
      effectiveFrom: tomorrow,
      commissionBps: 500,
      paymentFeeBorneBy: "seller",
      fixedFees: { logistics: "0", warehousing: "120", fulfilment: "280" },
      holdUntilConfirmation: false,
      autoConfirmDays: 0,
      reserve: null,
      referenceRates: {},
      weightBands: { logistics: { bands: [{ upToGrams: 500, fee: "250" }, { upToGrams: 1000, fee: "400" }], beyond: { perGrams: 1000, fee: "300" } } },
      storageRate: "45",
    };
    const created = await h.post("/v1/fee-schedules", body, h.keys.admin);
    expect(created.statusCode, created.body).toBe(201);
    expect(json(created)).toMatchObject({ weightBands: body.weightBands, storageRate: "45" });
    expect((await h.post("/v1/fee-schedules", body, h.keys.admin)).statusCode).toBe(200);
    const listed = json<{ items: Array<{ id: string; weightBands?: unknown }> }>(await h.get("/v1/fee-schedules?market=KR"));
    expect(listed.items.find((s) => s.id === body.id)?.weightBands).toEqual(body.weightBands);
    const unordered = await h.post("/v1/fee-schedules", { ...body, id: `ovs-KR-bad-${kind}`, weightBands: { logistics: { bands: [{ upToGrams: 1000, fee: "1" }, { upToGrams: 500, fee: "2" }] } } }, h.keys.admin);
    expect([unordered.statusCode, problemCode(unordered)]).toEqual([400, "ENT_SETTLEMENT_INVALID_SCHEDULE"]);
    expect(json<{ errors: Array<{ field: string }> }>(unordered).errors[0]?.field).toBe("weightBands.logistics.bands.1.upToGrams");
  });
});
