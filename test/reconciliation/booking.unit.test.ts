/**
 * The pure rules of when a resolution's adjusting entry is effective (reconciliation/booking.ts,
 * cash `bookingInstant`) and which normal side the accounts a resolution opens get.
 */
import { describe, expect, it } from "vitest";
import { bookingInstant } from "../../service/cash/service.js";
import { isAppError } from "../../service/errors.js";
import { adjustmentAccountSpecs, adjustmentEffectiveAt, exceptionInstant } from "../../service/reconciliation/index.js";

const PERIOD_TO = new Date("2025-01-01T00:00:00.000Z");
const row = (occurredAt: string) => ({ line: 2, occurredAt });

describe("exceptionInstant", () => {
  it("is the report row's instant, the latest of several rows", () => {
    expect(exceptionInstant({ rule: "gateway_cost_row", evidence: { report: row("2024-12-18T08:30:00.000Z") } }, PERIOD_TO).toISOString()).toBe("2024-12-18T08:30:00.000Z");
    const rows = { report: [row("2024-12-03T10:00:00.000Z"), row("2024-12-04T10:00:00.000Z")], ledger: row("2024-12-01T00:00:00.000Z") };
    expect(exceptionInstant({ rule: "one_to_many", evidence: rows }, PERIOD_TO).toISOString()).toBe("2024-12-04T10:00:00.000Z");
  });

  it("is the ledger event's instant when no report row is involved", () => {
    expect(exceptionInstant({ rule: "unmatched", evidence: { ledger: row("2024-12-09T11:00:00.000Z") } }, PERIOD_TO).toISOString()).toBe("2024-12-09T11:00:00.000Z");
  });

  it("is the last instant of the run's period for a total over the period, or an item naming no instant", () => {
    expect(exceptionInstant({ rule: "fee_total", evidence: { report: [row("2024-12-02T00:00:00.000Z")] } }, PERIOD_TO).toISOString()).toBe("2024-12-31T23:59:59.999Z");
    expect(exceptionInstant({ rule: "unmatched", evidence: { reason: "x" } }, PERIOD_TO).toISOString()).toBe("2024-12-31T23:59:59.999Z");
  });
});

describe("adjustmentEffectiveAt", () => {
  const now = new Date("2026-12-06T09:00:00.000Z");

  it("takes the instant requested over the derived one", () => {
    expect(adjustmentEffectiveAt(new Date("2024-12-31T12:00:00Z"), new Date("2024-12-18T00:00:00Z"), now).toISOString()).toBe("2024-12-31T12:00:00.000Z");
    expect(adjustmentEffectiveAt(undefined, new Date("2024-12-18T00:00:00Z"), now).toISOString()).toBe("2024-12-18T00:00:00.000Z");
  });

  it("refuses a requested instant in the future, naming adjustment.effectiveAt; never derives one past now", () => {
    let fields: unknown;
    try {
      adjustmentEffectiveAt(new Date(now.getTime() + 1), new Date("2024-12-18T00:00:00Z"), now);
    } catch (e) {
      if (!isAppError(e)) throw e;
      fields = [e.code, e.fields];
    }
    expect(fields).toEqual(["ENT_REQUEST_VALIDATION", [{ field: "adjustment.effectiveAt", message: "must not be in the future" }]]);
    expect(adjustmentEffectiveAt(undefined, new Date("2027-01-01T00:00:00Z"), now)).toEqual(now);
  });

  it("refuses a requested instant older than an event may be (EVENT_MAX_AGE_DAYS): not 1970 for last week's bank line", () => {
    const refusal = (requested: Date, maxAgeMs?: number) => {
      try {
        adjustmentEffectiveAt(requested, new Date("2024-12-18T00:00:00Z"), now, maxAgeMs);
        return null;
      } catch (e) {
        if (!isAppError(e)) throw e;
        return [e.code, e.fields?.[0]?.field];
      }
    };
    expect(refusal(new Date("1970-01-01T00:00:00Z"))).toEqual(["ENT_REQUEST_VALIDATION", "adjustment.effectiveAt"]);
    // At the bound, accepted; a day past it (a bound of 30 days), refused.
    expect(refusal(new Date(now.getTime() - 3_660 * 86_400_000))).toBeNull();
    expect(refusal(new Date(now.getTime() - 31 * 86_400_000), 30 * 86_400_000)).toEqual(["ENT_REQUEST_VALIDATION", "adjustment.effectiveAt"]);
  });
});

describe("bookingInstant", () => {
  it("is the booking day's first instant in UTC, else the value day's; a date-time with an offset is that instant", () => {
    expect(bookingInstant({ bookingDate: "2024-12-21", valueDate: "2024-12-23" })?.toISOString()).toBe("2024-12-21T00:00:00.000Z");
    expect(bookingInstant({ bookingDate: null, valueDate: "2024-12-23" })?.toISOString()).toBe("2024-12-23T00:00:00.000Z");
    expect(bookingInstant({ bookingDate: "2024-12-21T10:15:00+01:00", valueDate: null })?.toISOString()).toBe("2024-12-21T09:15:00.000Z");
    // Local to the bank, zone unknown: its day, not this machine's reading of it.
    expect(bookingInstant({ bookingDate: "2024-12-21T23:30:00", valueDate: null })?.toISOString()).toBe("2024-12-21T00:00:00.000Z");
    expect(bookingInstant({ bookingDate: null, valueDate: null })).toBeNull();
    expect(bookingInstant({ bookingDate: "21.12.2024", valueDate: null })).toBeNull();
  });
});

describe("adjustmentAccountSpecs", () => {
  it("opens a suspense account credit-normal and a reconciliation difference debit-normal", () => {
    const specs = adjustmentAccountSpecs([
      { account: "platform:suspense:unidentified_receipts", currency: "KWD" },
      { account: "platform:reconciliation:bank_charges", currency: "KWD" },
      { account: "platform:cash:bank", currency: "KWD" },
    ]);
    expect(specs.map((s) => [s.code, s.normalBalance])).toEqual([
      ["platform:suspense:unidentified_receipts", "credit"],
      ["platform:reconciliation:bank_charges", "debit"],
    ]);
  });
});
