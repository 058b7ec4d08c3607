/**
 * The pure rules of delivery evidence (service/settlement/fulfilment.ts): when held proceeds are
 * auto-released under each schedule kind, and which evidence cannot be true.
 */
import { describe, expect, it } from "vitest";
import { autoReleaseAt, checkFulfilment, sameFulfilment, type Fulfilment, type FulfilmentInput } from "../../service/settlement/fulfilment.js";
import type { Breakdown } from "../../service/settlement/types.js";

const at = (iso: string) => new Date(iso);
const input: FulfilmentInput = { gateway: "adyen", settlementId: "ORD-1", status: "delivered", carrier: "DHL", trackingNumber: "JD014600003828", shippedAt: at("2025-03-02T00:00:00Z"), deliveredAt: at("2025-03-05T00:00:00Z") };
const entry = (over: Partial<Fulfilment> = {}): Fulfilment => ({ ...input, id: "1", sequence: 1, recordedBy: "api-key:k", recordedAt: at("2025-03-05T01:00:00Z"), ...over });
const held = (over: Partial<Breakdown>) => ({ sellerBucket: "held", autoConfirmAt: null, ...over }) as Breakdown;

describe("autoReleaseAt", () => {
  const cap = at("2025-03-01T10:00:00Z");
  it("is the capture's autoConfirmAt under a capture-based schedule, whatever the evidence", () => {
    expect(autoReleaseAt(held({ autoConfirmAt: "2025-03-16T10:00:00.000Z" }), undefined, cap)).toEqual(at("2025-03-16T10:00:00Z"));
    expect(autoReleaseAt(held({ autoConfirmAt: "2025-03-16T10:00:00.000Z" }), entry(), cap)).toEqual(at("2025-03-16T10:00:00Z"));
    expect(autoReleaseAt(held({ autoConfirmAt: null }), entry(), cap)).toBeNull();
  });

  it("is `days` after the latest entry's deliveredAt under a delivery-based one, and never without a delivery", () => {
    const b = held({ confirmOnDelivery: { days: 15, deadline: null } });
    expect(autoReleaseAt(b, entry(), cap)).toEqual(at("2025-03-20T00:00:00Z"));
    expect(autoReleaseAt(held({ confirmOnDelivery: { days: 0, deadline: null } }), entry(), cap)).toEqual(at("2025-03-05T00:00:00Z"));
    expect(autoReleaseAt(b, undefined, cap)).toBeNull();
    expect(autoReleaseAt(b, entry({ status: "shipped", deliveredAt: null }), cap)).toBeNull();
  });

  it("is never before the capture itself: a later capture of an order delivered before it is released at its own instant", () => {
    const b = held({ confirmOnDelivery: { days: 15, deadline: null } });
    expect(autoReleaseAt(b, entry(), at("2025-03-25T09:00:00Z"))).toEqual(at("2025-03-25T09:00:00Z"));
  });
});

describe("checkFulfilment", () => {
  const capturedAt = at("2025-03-01T10:00:00Z");
  const now = at("2025-03-10T00:00:00Z");
  const fieldsOf = (over: Partial<FulfilmentInput>) => {
    try {
      checkFulfilment({ ...input, ...over }, capturedAt, now);
      return [];
    } catch (e) {
      return (e as { fields: Array<{ field: string }> }).fields.map((f) => f.field);
    }
  };

  it("accepts a delivery at its shipment's instant and a shipment at the capture's", () => {
    expect(fieldsOf({ shippedAt: capturedAt, deliveredAt: capturedAt })).toEqual([]);
    expect(fieldsOf({ status: "shipped", deliveredAt: null })).toEqual([]);
  });

  it("names each field that cannot be true", () => {
    expect(fieldsOf({ shippedAt: at("2025-03-01T09:59:59.999Z") })).toEqual(["shippedAt"]);
    expect(fieldsOf({ deliveredAt: at("2025-03-10T00:00:00.001Z") })).toEqual(["deliveredAt"]);
    expect(fieldsOf({ deliveredAt: at("2025-03-01T23:59:59Z") })).toEqual(["deliveredAt"]);
    expect(fieldsOf({ carrier: "  ", trackingNumber: "AB" })).toEqual(["carrier", "trackingNumber"]);
  });
});

describe("sameFulfilment", () => {
  it("tells a replay from a correction by every field, instants by value", () => {
    expect(sameFulfilment(input, { ...input, shippedAt: new Date(input.shippedAt.getTime()) })).toBe(true);
    expect(sameFulfilment(input, { ...input, deliveredAt: at("2025-03-05T00:00:00.001Z") })).toBe(false);
    expect(sameFulfilment(input, { ...input, status: "shipped", deliveredAt: null })).toBe(false);
  });
});
