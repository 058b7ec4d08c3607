/**
 * Storage billed by volume x days, as a controller checks it by hand: December 2024 (31 days) of an
 * overseas-hosting seller's stock in a German warehouse.
 *
 * Rates: the program's schedule for every market bills USD 0.45 per m3 per day ("45" minor units)
 * from 2024-01-01; a German schedule bills 0.50 from 2024-12-16.
 * Snapshots: 2.0 m3 on 2024-11-20 (before the month: it holds into December), 1.5 m3 on 2024-12-10,
 * 333,333 cm3 on 2024-12-20, and one on 2025-01-05 (after the month: ignored).
 *
 *   Dec  1- 9   9 d x 2,000,000 cm3 = 18,000,000 cm3-days = 18 m3-days x 45 = 810
 *   Dec 10-15   6 d x 1,500,000 cm3 =  9,000,000             9        x 45 = 405
 *   Dec 16-19   4 d x 1,500,000 cm3 =  6,000,000             6        x 50 = 300
 *   Dec 20-31  12 d x   333,333 cm3 =  3,999,996             3.999996 x 50 = 199.9998
 *                                      36,999,996 cm3-days                  1714.9998 -> 1715 (half-even, once)
 */
import { describe, expect, it } from "vitest";
import { FEE_SCHEDULES } from "../../service/settlement/data.js";
import { computeStorage, m3Days, storageEvidence, storagePeriod, type StockSnapshot } from "../../service/settlement/storage.js";
import type { FeeSchedule } from "../../service/settlement/types.js";
import { isAppError } from "../../service/errors.js";

const ovs = FEE_SCHEDULES.find((s) => s.id === "overseas-any-2024") as FeeSchedule;
const SCHEDULES: FeeSchedule[] = [
  { ...ovs, id: "ovs-any-storage", storageRate: "45" },
  { ...ovs, id: "ovs-DE-storage-dec", market: "DE", effectiveFrom: new Date("2024-12-16T00:00:00Z"), storageRate: "50" },
];
const snap = (date: string, volumeCm3: bigint, warehouse = "WH-DE-1"): StockSnapshot => ({ sellerId: "S-OVS-1", warehouse, country: "DE", date, volumeCm3 });
const DECEMBER = [snap("2024-11-20", 2_000_000n), snap("2024-12-10", 1_500_000n), snap("2024-12-20", 333_333n), snap("2025-01-05", 9_000_000n)];

describe("storage by volume x days", () => {
  const c = computeStorage({ sellerId: "S-OVS-1", program: "overseas_hosting", warehouse: "WH-DE-1", country: "DE", period: "2024-12", snapshots: DECEMBER, schedules: SCHEDULES });

  it("bills each day the snapshot in force at the rate of the schedule in force, and rounds once", () => {
    expect(c.segments.map((s) => [s.from, s.to, s.days, s.volumeCm3, s.rate, s.scheduleId, s.volumeDaysCm3, s.cost])).toEqual([
      ["2024-12-01", "2024-12-09", 9, 2_000_000n, "45", "ovs-any-storage", 18_000_000n, "810"],
      ["2024-12-10", "2024-12-15", 6, 1_500_000n, "45", "ovs-any-storage", 9_000_000n, "405"],
      ["2024-12-16", "2024-12-19", 4, 1_500_000n, "50", "ovs-DE-storage-dec", 6_000_000n, "300"],
      ["2024-12-20", "2024-12-31", 12, 333_333n, "50", "ovs-DE-storage-dec", 3_999_996n, "199.9998"],
    ]);
    expect(c.segments.reduce((n, s) => n + s.days, 0)).toBe(31);
    expect(c.volumeDaysCm3).toBe(36_999_996n);
    expect(c.exact).toBe("1714.9998");
    expect(c.amount).toBe(1_715n);
    expect(m3Days(c.volumeDaysCm3)).toBe("36.999996");
  });

  it("records every figure as evidence", () => {
    const e = storageEvidence(c);
    expect(e).toMatchObject({
      "storage.period": "2024-12",
      "storage.from": "2024-12-01",
      "storage.to": "2025-01-01",
      "storage.warehouse": "WH-DE-1",
      "storage.country": "DE",
      "storage.volumeDaysCm3": "36999996",
      "storage.m3Days": "36.999996",
      "storage.exact": "1714.9998",
      "storage.rounding": "half-even",
      "storage.amount": "1715",
      "storage.segments": "4",
      "storage.segment.0": "2024-12-01..2024-12-09 9 d x 2000000 cm3 (snapshot 2024-11-20) at 45 (schedule ovs-any-storage) = 18000000 cm3-days, 810",
    });
  });

  it("does not bill the days before the first snapshot, nor a schedule without a storage rate", () => {
    const late = computeStorage({ sellerId: "S-OVS-1", program: "overseas_hosting", warehouse: "WH-2", country: "FR", period: "2024-12", snapshots: [snap("2024-12-25", 1_000_000n, "WH-2")], schedules: SCHEDULES });
    // Dec 1-24 unbilled (no stock known); Dec 25-31: 7 d x 1 m3 x 45 = 315 (France: the any-market schedule).
    expect(late.segments.map((s) => [s.from, s.to, s.rate, s.volumeDaysCm3, s.cost])).toEqual([
      ["2024-12-01", "2024-12-24", null, 0n, "0"],
      ["2024-12-25", "2024-12-31", "45", 7_000_000n, "315"],
    ]);
    expect(late.amount).toBe(315n);
    // A program whose schedules carry no storage rate (full hosting: the stock is the platform's) is not billed.
    const full = computeStorage({ sellerId: "S-FULL-1", program: "full_hosting", warehouse: "WH-DE-1", country: "DE", period: "2024-12", snapshots: DECEMBER, schedules: FEE_SCHEDULES });
    expect([full.amount, full.volumeDaysCm3]).toEqual([0n, 0n]);
  });

  it("knows a month's days and refuses what is not a month", () => {
    expect(storagePeriod("2024-02")).toMatchObject({ from: "2024-02-01", to: "2024-03-01", days: 29 });
    expect(storagePeriod("2024-12")).toMatchObject({ from: "2024-12-01", to: "2025-01-01", days: 31 });
    for (const bad of ["2024-13", "2024-1", "24-12", "2024-12-01"]) {
      try {
        storagePeriod(bad);
        throw new Error(`accepted ${bad}`);
      } catch (e) {
        expect(isAppError(e) && e.code).toBe("ENT_STORAGE_RUN_INVALID");
      }
    }
  });
});
