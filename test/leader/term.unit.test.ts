/** A leadership term's deadlines, on a local clock: pure, no database. */
import { describe, expect, it } from "vitest";
import { leaseTimings, MIN_LEASE_TTL_MS, Term } from "../../service/leader/index.js";

describe("lease timings", () => {
  it("renew and poll every third of the TTL and stop a fifth of it before expiry", () => {
    expect(leaseTimings(10_000)).toEqual({ ttlMs: 10_000, renewEveryMs: 3_333, standbyPollMs: 3_333, marginMs: 2_000 });
  });

  it("leave room for two failed renewals before the workers must stop", () => {
    for (const ttl of [MIN_LEASE_TTL_MS, 1_000, 10_000, 600_000]) {
      const t = leaseTimings(ttl);
      expect(2 * t.renewEveryMs).toBeLessThan(t.ttlMs - t.marginMs);
    }
  });

  it("refuse a TTL below the minimum or not an integer", () => {
    expect(() => leaseTimings(MIN_LEASE_TTL_MS - 1)).toThrow(expect.objectContaining({ code: "ENT_LEADER_OPTION" }));
    expect(() => leaseTimings(1000.5)).toThrow(expect.objectContaining({ code: "ENT_LEADER_OPTION" }));
  });
});

describe("a term", () => {
  const timings = leaseTimings(1_000);

  it("is valid until TTL - margin after the acquiring statement was SENT, never after the database's expiry", () => {
    // Sent at 100; the database ran it at 130 (so it expires at 1130); the local deadline is earlier.
    const t = new Term(1n, 100, timings);
    expect(t.stopBy).toBe(100 + 1_000 - 200);
    expect(t.stopBy).toBeLessThan(130 + 1_000);
    expect(t.isValid(899)).toBe(true);
    expect(t.isValid(900)).toBe(false);
  });

  it("moves its deadline forward on each renewal, never back", () => {
    const t = new Term(1n, 0, timings);
    t.renewed(500);
    expect(t.stopBy).toBe(1_300);
    expect(t.renewAt).toBe(833);
    t.renewed(400); // a late answer to an older renewal
    expect(t.stopBy).toBe(1_300);
  });

  it("once ended, is never valid again", () => {
    const t = new Term(3n, 0, timings);
    t.end();
    expect(t.ended).toBe(true);
    expect(t.isValid(1)).toBe(false);
    t.renewed(10);
    expect(t.isValid(11)).toBe(false);
  });
});
