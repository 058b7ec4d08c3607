/**
 * Delivery-based auto-release of POP proceeds, through the real ledger and settlement service on a
 * fresh database: under a fee schedule with `autoConfirmFrom: "delivery"` the maintenance worker
 * releases held proceeds `autoConfirmDays` after the order's delivery evidence, never without one.
 *
 * Before: every POP capture was released `autoConfirmDays` after the sale, shipped or not, so the
 * proceeds of an order never shipped were paid out and the buyer's refund fell on the platform.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FEE_SCHEDULES, type FeeSchedule, type SettlementEvent, type SettlementService } from "../../service/settlement/index.js";
import { MAX_FULFILMENT_ENTRIES } from "../../service/settlement/fulfilment.js";
import { capture } from "./fixtures.js";
import { marchRate, openSettlementHarness, type SettlementHarness } from "./harness.js";
import { testDatabaseKinds } from "../support/db.js";

const kinds = await testDatabaseKinds();
const SELLER = "S-POP-SZ-01";
const DAY = 86_400_000;
const at = (iso: string) => new Date(iso);

const popAny = FEE_SCHEDULES.find((s) => s.id === "pop-any-2024") as FeeSchedule;
/** POP books: released 15 days after delivery; overdue 10 days after the sale without one. */
const ON_DELIVERY: FeeSchedule = { ...popAny, id: "pop-books-delivery", category: "books", effectiveFrom: at("2025-01-01T00:00:00Z"), autoConfirmFrom: "delivery", deliveryDeadlineDays: 10 };

describe.each(kinds)("delivery evidence and delivery-based auto-release on %s", (kind) => {
  let h: SettlementHarness;

  beforeAll(async () => {
    h = await openSettlementHarness(kind);
    await h.fx.publishRates([marchRate("BRL", "USD", "0.18"), marchRate("USD", "CNY", "7.2")]);
    await h.settlement.saveProgramData({ schedules: [ON_DELIVERY] });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  /** A POP order of books captured on 2025-03-01 10:00 (the delivery-based schedule). */
  const book = (id: string, over: Partial<SettlementEvent> = {}) => capture({ gatewayEventId: id, settlementId: `ORD-${id}`, sellerId: SELLER, category: "books", ...over });
  const types = async (settlementId: string) => (await h.settlement.listForOrder(settlementId)).map((r) => `${r.event.type} ${r.event.occurredAt.toISOString()}`);
  const delivered = (id: string, deliveredAt: string, over: object = {}) => ({
    gateway: "adyen",
    settlementId: `ORD-${id}`,
    status: "delivered" as const,
    carrier: "Cainiao",
    trackingNumber: "LP00123456789CN",
    shippedAt: at("2025-03-02T08:00:00Z"),
    deliveredAt: at(deliveredAt),
    ...over,
  });

  it("does not release a delivery-based POP capture past autoConfirmDays with no delivery evidence", async () => {
    expect((await h.settlement.postEvent(book("nd-1"))).status).toBe("created");
    // 92 days after the sale, far past its 15 days: the order was never shipped.
    expect((await h.settlement.releaseDue(at("2025-06-01T00:00:00Z"))).map((r) => r.status)).toEqual([]);
    expect(await types("ORD-nd-1")).toEqual(["capture 2025-03-01T10:00:00.000Z"]);
    const cap = await h.settlement.getSettlement("settlement:adyen:nd-1");
    expect([cap.breakdown.sellerBucket, cap.breakdown.autoConfirmAt, cap.breakdown.confirmOnDelivery]).toEqual(["held", null, { days: 15, deadline: "2025-03-11T10:00:00.000Z" }]);
  });

  it("releases one delivered N days ago autoConfirmDays after its delivery, not before, and once", async () => {
    expect((await h.settlement.postEvent(book("dl-1"))).status).toBe("created");
    expect((await h.settlement.recordFulfilment(delivered("dl-1", "2025-03-05T12:00:00Z"), "test")).status).toBe("created");
    // Due on 03-20 12:00 (delivery + 15 days), not at the sale's 03-16 10:00.
    expect(await h.settlement.releaseDue(at("2025-03-20T11:59:59Z"))).toEqual([]);
    const released = await h.settlement.releaseDue(at("2025-03-20T12:00:00Z"));
    expect(released.map((r) => r.status)).toEqual(["created"]);
    expect(await types("ORD-dl-1")).toEqual(["capture 2025-03-01T10:00:00.000Z", "release 2025-03-20T12:00:00.000Z"]);
    expect(await h.settlement.releaseDue(at("2025-06-01T00:00:00Z"))).toEqual([]);
  });

  it("keeps capture-based schedules as they were: a POP order of another category is released 15 days after its sale", async () => {
    const home = capture({ gatewayEventId: "cb-1", settlementId: "ORD-cb-1", sellerId: SELLER });
    expect((await h.settlement.postEvent(home)).status).toBe("created");
    expect((await h.settlement.getSettlement("settlement:adyen:cb-1")).breakdown.confirmOnDelivery).toBeUndefined();
    expect((await h.settlement.releaseDue(at("2025-03-16T10:00:00Z"))).map((r) => r.status)).toEqual(["created"]);
    expect(await types("ORD-cb-1")).toEqual(["capture 2025-03-01T10:00:00.000Z", "release 2025-03-16T10:00:00.000Z"]);
  });

  it("keeps the history append-only: the same body again is answered, a correction is the next entry and the latest counts", async () => {
    expect((await h.settlement.postEvent(book("hist-1"))).status).toBe("created");
    const shipped = { ...delivered("hist-1", "2025-03-05T12:00:00Z"), status: "shipped" as const, deliveredAt: null };
    const first = await h.settlement.recordFulfilment(shipped, "api-key:1");
    expect([first.status, first.fulfilment.sequence]).toEqual(["created", 1]);
    const again = await h.settlement.recordFulfilment(shipped, "api-key:2");
    expect([again.status, again.fulfilment.id, again.fulfilment.recordedBy]).toEqual(["exists", first.fulfilment.id, "api-key:1"]);
    expect((await h.settlement.recordFulfilment(delivered("hist-1", "2025-03-05T12:00:00Z"), "api-key:1")).fulfilment.sequence).toBe(2);
    // A delivery corrected back to a shipment: the order is no longer delivered, nothing is released.
    expect((await h.settlement.recordFulfilment(shipped, "api-key:1")).fulfilment.sequence).toBe(3);
    expect((await h.settlement.fulfilments("ORD-hist-1")).map((f) => [f.sequence, f.status])).toEqual([[1, "shipped"], [2, "delivered"], [3, "shipped"]]);
    expect(await h.settlement.releaseDue(at("2025-06-01T00:00:00Z"))).toEqual([]);
    await expect(h.sql.q(`UPDATE order_fulfilments SET status = 'delivered' WHERE settlement_id = 'ORD-hist-1'`)).rejects.toThrow(/append-only/);
    await expect(h.sql.q(`DELETE FROM order_fulfilments WHERE settlement_id = 'ORD-hist-1'`)).rejects.toThrow(/append-only/);
  });

  it("books nothing for evidence: the journal holds the same transactions before and after", async () => {
    expect((await h.settlement.postEvent(book("nb-1"))).status).toBe("created");
    const count = async () => (await h.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM ledger_transactions`))[0]!.n;
    const before = await count();
    await h.settlement.recordFulfilment(delivered("nb-1", "2025-03-04T00:00:00Z"), "test");
    expect(await count()).toBe(before);
  });

  it("lists an order past its delivery deadline without a delivery as overdue, until it is delivered", async () => {
    expect((await h.settlement.postEvent(book("od-1", { occurredAt: at("2025-03-20T10:00:00Z") }))).status).toBe("created");
    const overdue = async (asOf: string) => (await h.settlement.overdueDeliveries(at(asOf), { limit: 500 })).filter((o) => o.settlementId === "ORD-od-1");
    expect(await overdue("2025-03-30T09:59:59Z")).toEqual([]);
    expect((await overdue("2025-03-30T10:00:00Z")).map((o) => [o.gateway, o.sellerId, o.deadline.toISOString(), o.latest])).toEqual([["adyen", SELLER, "2025-03-30T10:00:00.000Z", null]]);
    // Shipped is not delivered: still overdue, with its shipment.
    await h.settlement.recordFulfilment({ ...delivered("od-1", "2025-03-31T00:00:00Z"), shippedAt: at("2025-03-28T00:00:00Z"), status: "shipped", deliveredAt: null }, "test");
    expect((await overdue("2025-03-31T00:00:00Z")).map((o) => o.latest?.status)).toEqual(["shipped"]);
    await h.settlement.recordFulfilment({ ...delivered("od-1", "2025-03-31T00:00:00Z"), shippedAt: at("2025-03-28T00:00:00Z") }, "test");
    expect(await overdue("2025-03-31T00:00:00Z")).toEqual([]);
    // A capture-based order is never overdue, nor one whose proceeds were released or refunded.
    const listed = (await h.settlement.overdueDeliveries(at("2025-12-01T00:00:00Z"), { limit: 500 })).map((o) => o.settlementId);
    expect(listed).toContain("ORD-nd-1");
    expect(listed).not.toContain("ORD-cb-1");
    expect(listed).not.toContain("ORD-dl-1");
  });

  it("refuses evidence that cannot be true: 400 ENT_FULFILMENT_INVALID naming each field", async () => {
    expect((await h.settlement.postEvent(book("bad-1"))).status).toBe("created");
    const refused = async (over: object) => {
      try {
        await h.settlement.recordFulfilment(delivered("bad-1", "2025-03-05T00:00:00Z", over), "test");
      } catch (e) {
        const err = e as { code: string; status: number; fields: Array<{ field: string }> };
        return [err.code, err.status, err.fields.map((f) => f.field)];
      }
      return "accepted";
    };
    const future = new Date(Date.now() + DAY);
    expect(await refused({ shippedAt: future, deliveredAt: future })).toEqual(["ENT_FULFILMENT_INVALID", 400, ["shippedAt", "deliveredAt"]]);
    expect(await refused({ deliveredAt: at("2025-03-02T07:59:59Z") })).toEqual(["ENT_FULFILMENT_INVALID", 400, ["deliveredAt"]]);
    expect(await refused({ shippedAt: at("2025-03-01T09:00:00Z") })).toEqual(["ENT_FULFILMENT_INVALID", 400, ["shippedAt"]]);
    expect(await refused({ deliveredAt: null })).toEqual(["ENT_FULFILMENT_INVALID", 400, ["deliveredAt"]]);
    expect(await refused({ status: "shipped" })).toEqual(["ENT_FULFILMENT_INVALID", 400, ["deliveredAt"]]);
    expect(await refused({ trackingNumber: "LP 001" })).toEqual(["ENT_FULFILMENT_INVALID", 400, ["trackingNumber"]]);
    // A right-to-left override would show "\u202eSPU" as "UPS" wherever the evidence is cited.
    expect(await refused({ carrier: "\u202eSPU" })).toEqual(["ENT_FULFILMENT_INVALID", 400, ["carrier"]]);
    expect(await h.settlement.fulfilments("ORD-bad-1")).toEqual([]);
  });

  it("appends corrections sent at once one after another (no writer refused), and at most MAX_FULFILMENT_ENTRIES per order", async () => {
    expect((await h.settlement.postEvent(book("many-1"))).status).toBe("created");
    const shipment = (i: number) => ({ ...delivered("many-1", "2025-03-05T00:00:00Z"), status: "shipped" as const, deliveredAt: null, trackingNumber: `1Z${String(i).padStart(8, "0")}` });
    // Eight different corrections at once (two instances' worth): every one appended, in some order.
    const first = await Promise.all(Array.from({ length: 8 }, (_, i) => h.settlement.recordFulfilment(shipment(i), "test")));
    expect(first.map((r) => r.status)).toEqual(Array(8).fill("created"));
    expect(first.map((r) => r.fulfilment.sequence).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (let i = 8; i < MAX_FULFILMENT_ENTRIES; i++) await h.settlement.recordFulfilment(shipment(i), "test");
    await expect(h.settlement.recordFulfilment(shipment(MAX_FULFILMENT_ENTRIES), "test")).rejects.toMatchObject({ code: "ENT_FULFILMENT_TOO_MANY_ENTRIES", status: 409 });
    // The latest again is still answered.
    expect((await h.settlement.recordFulfilment(shipment(MAX_FULFILMENT_ENTRIES - 1), "test")).status).toBe("exists");
    expect(await h.settlement.fulfilments("ORD-many-1")).toHaveLength(MAX_FULFILMENT_ENTRIES);
  });

  it("releases a later capture of an order delivered before it at its own instant, never before it", async () => {
    expect((await h.settlement.postEvent(book("late-1"))).status).toBe("created");
    expect((await h.settlement.recordFulfilment(delivered("late-1", "2025-03-02T09:00:00Z"), "test")).status).toBe("created");
    // A second payment of the same order, after its delivery + 15 days.
    expect((await h.settlement.postEvent(book("late-1b", { settlementId: "ORD-late-1", occurredAt: at("2025-03-20T09:00:00Z") }))).status).toBe("created");
    await h.settlement.releaseDue(at("2025-03-21T00:00:00Z"));
    expect((await types("ORD-late-1")).sort()).toEqual(["capture 2025-03-01T10:00:00.000Z", "capture 2025-03-20T09:00:00.000Z", "release 2025-03-17T09:00:00.000Z", "release 2025-03-20T09:00:00.000Z"]);
  });

  it("keeps another gateway's order unknown: 404 ENT_FULFILMENT_ORDER_NOT_FOUND naming settlementId", async () => {
    expect((await h.settlement.postEvent(book("iso-1"))).status).toBe("created");
    await h.settlement.recordFulfilment(delivered("iso-1", "2025-03-05T00:00:00Z"), "test");
    const notFound = { code: "ENT_FULFILMENT_ORDER_NOT_FOUND", status: 404, fields: [{ field: "settlementId", message: "no capture of this order" }] };
    await expect(h.settlement.recordFulfilment(delivered("iso-1", "2025-03-05T00:00:00Z", { gateway: "stripe" }), "test")).rejects.toMatchObject(notFound);
    await expect(h.settlement.fulfilments("ORD-iso-1", { gateway: "stripe" })).rejects.toMatchObject(notFound);
    await expect(h.settlement.fulfilments("ORD-none", {})).rejects.toMatchObject(notFound);
    expect((await h.settlement.fulfilments("ORD-iso-1", { gateway: "adyen" })).length).toBe(1);
  });

  it("releases a delivered order once when two instances' workers run at the same time", async () => {
    const orders = Array.from({ length: 20 }, (_, i) => book(`two-${i}`, { occurredAt: at("2025-03-25T10:00:00Z") }));
    expect((await h.settlement.postEvents(orders)).every((r) => r.status === "created")).toBe(true);
    for (const o of orders) await h.settlement.recordFulfilment(delivered(o.gatewayEventId, "2025-03-27T00:00:00Z", { shippedAt: at("2025-03-26T00:00:00Z") }), "test");
    const other: SettlementService = h.another();
    const asOf = at("2025-04-11T00:00:00Z");
    await Promise.all([h.settlement.releaseDue(asOf), other.releaseDue(asOf)]);
    const releases = await h.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM settlements WHERE event_type = 'release' AND settlement_id LIKE 'ORD-two-%'`);
    expect(releases[0]!.n).toBe(20);
    expect(Object.values(await h.netPerCurrency()).every((n) => n === 0n)).toBe(true);
  });

  it("refuses a schedule whose delivery options do not hold: 400 ENT_SETTLEMENT_INVALID_SCHEDULE naming the field", async () => {
    const refused = (s: Partial<FeeSchedule>) => h.settlement.saveProgramData({ schedules: [{ ...ON_DELIVERY, id: "pop-bad", ...s }] });
    await expect(refused({ autoConfirmFrom: undefined })).rejects.toMatchObject({ code: "ENT_SETTLEMENT_INVALID_SCHEDULE", fields: [{ field: "deliveryDeadlineDays" }] });
    await expect(refused({ deliveryDeadlineDays: 0 })).rejects.toMatchObject({ code: "ENT_SETTLEMENT_INVALID_SCHEDULE", fields: [{ field: "deliveryDeadlineDays" }] });
    await expect(refused({ holdUntilConfirmation: false })).rejects.toMatchObject({ code: "ENT_SETTLEMENT_INVALID_SCHEDULE", fields: [{ field: "autoConfirmFrom" }] });
    await expect(refused({ autoConfirmFrom: "shipment" as never })).rejects.toMatchObject({ code: "ENT_SETTLEMENT_INVALID_SCHEDULE", fields: [{ field: "autoConfirmFrom" }] });
    // Read back as published: the delivery-based version keeps its options.
    expect((await h.settlement.listSchedules()).find((s) => s.id === ON_DELIVERY.id)).toMatchObject({ autoConfirmFrom: "delivery", deliveryDeadlineDays: 10 });
    expect((await h.settlement.listSchedules()).find((s) => s.id === "pop-any-2024")).not.toHaveProperty("autoConfirmFrom");
  });
});
