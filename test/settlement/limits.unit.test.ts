import { describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { DEFAULT_EVENT_LIMITS, validateEvent, type EventLimits } from "../../service/settlement/validate.js";
import type { SettlementEvent } from "../../service/settlement/types.js";

const NOW = new Date("2026-12-03T12:00:00Z");
const limits: EventLimits = { ...DEFAULT_EVENT_LIMITS, maxAmountMinor: { default: 10n ** 15n, byCurrency: { KRW: 10n ** 13n } }, now: () => NOW };

function capture(over: Partial<SettlementEvent> = {}): SettlementEvent {
  return {
    type: "capture",
    gateway: "adyen",
    gatewayEventId: "ev-1",
    settlementId: "order-1",
    sellerId: "seller-1",
    market: "US",
    category: "apparel",
    currency: "USD",
    amount: 1999n,
    gatewayFee: 50n,
    occurredAt: new Date("2026-12-03T11:59:00Z"),
    ...over,
  };
}

/** The field a refusal names (and that it is a 400 with a stable code). */
function refusedField(e: SettlementEvent, field = ""): string {
  try {
    validateEvent(e, field, limits);
  } catch (err) {
    if (!isAppError(err)) throw err;
    expect(err.code).toBe("ENT_SETTLEMENT_INVALID_EVENT");
    expect(err.status).toBe(400);
    return err.fields?.[0]?.field ?? "";
  }
  throw new Error("accepted");
}

describe("event limits", () => {
  it("accepts an event inside every bound, the largest amount included", () => {
    expect(validateEvent(capture({ amount: 10n ** 15n, gatewayFee: 0n }), "", limits).amount).toBe(10n ** 15n);
  });

  it("refuses 2^63 and 10^15 + 1 minor units, naming the field", () => {
    expect(refusedField(capture({ amount: 2n ** 63n }))).toBe("amount");
    expect(refusedField(capture({ amount: 10n ** 15n + 1n, gatewayFee: 0n }))).toBe("amount");
    expect(refusedField(capture({ type: "fee_adjustment", amount: 0n, gatewayFee: -(10n ** 15n + 1n), originalEventId: "ev-0" }))).toBe("gatewayFee");
    expect(refusedField(capture({ supplyPrice: 10n ** 16n }))).toBe("supplyPrice");
  });

  it("applies a per-currency limit", () => {
    expect(refusedField(capture({ currency: "KRW", amount: 10n ** 13n + 1n }))).toBe("amount");
    expect(validateEvent(capture({ currency: "KRW", amount: 10n ** 13n }), "", limits).currency).toBe("KRW");
  });

  it("refuses occurredAt in the year 9999, ahead of the clock beyond the skew, or older than the window", () => {
    expect(refusedField(capture({ occurredAt: new Date("9999-01-01T00:00:00Z") }))).toBe("occurredAt");
    expect(refusedField(capture({ occurredAt: new Date(NOW.getTime() + 5 * 60_000 + 1) }))).toBe("occurredAt");
    expect(validateEvent(capture({ occurredAt: new Date(NOW.getTime() + 5 * 60_000) }), "", limits).type).toBe("capture");
    expect(refusedField(capture({ occurredAt: new Date("1990-01-01T00:00:00Z") }))).toBe("occurredAt");
  });

  it("names the field inside a batch", () => {
    expect(refusedField(capture({ amount: 2n ** 63n }), "events.3")).toBe("events.3.amount");
  });
});
