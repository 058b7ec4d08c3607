import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocate, split } from "../../service/money/index.js";
import { isAppError } from "../../service/errors.js";

const amountArb = fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n });
const bigRatiosArb = fc
  .array(fc.bigInt({ min: 0n, max: 10n ** 12n }), { minLength: 1, maxLength: 20 })
  .filter((r) => r.some((x) => x > 0n));
const numberRatiosArb = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 100, noNaN: true, noDefaultInfinity: true })), { minLength: 1, maxLength: 12 })
  .filter((r) => r.some((x) => x > 0));

/** |share x total - amount x ratio| < total  <=>  share is floor or ceil of the exact value. */
function withinOneUnit(amount: bigint, ratios: bigint[], shares: bigint[]): boolean {
  const total = ratios.reduce((a, b) => a + b, 0n);
  return shares.every((s, i) => {
    const diff = s * total - amount * (ratios[i] as bigint);
    return (diff < 0n ? -diff : diff) < total;
  });
}

describe("allocate (largest remainder)", () => {
  it("examples", () => {
    expect(allocate(100n, [1n, 1n, 1n])).toEqual([34n, 33n, 33n]);
    expect(allocate(-100n, [1n, 1n, 1n])).toEqual([-34n, -33n, -33n]);
    expect(allocate(5n, [1, 1])).toEqual([3n, 2n]);
    expect(allocate(7n, [0n, 1n])).toEqual([0n, 7n]);
    expect(allocate(1001n, [70, 20, 10])).toEqual([701n, 200n, 100n]);
    expect(allocate(10n, [0.5, 0.25, 0.25])).toEqual([5n, 3n, 2n]);
    expect(allocate(0n, [1n, 2n])).toEqual([0n, 0n]);
    expect(split(10n, 3)).toEqual([4n, 3n, 3n]);
  });

  it("property: shares sum to the original (no unit lost or created)", () => {
    fc.assert(
      fc.property(amountArb, bigRatiosArb, (amount, ratios) => {
        expect(allocate(amount, ratios).reduce((a, b) => a + b, 0n)).toBe(amount);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: each share is within one unit of its exact proportional value", () => {
    fc.assert(
      fc.property(amountArb, bigRatiosArb, (amount, ratios) => {
        expect(withinOneUnit(amount, ratios, allocate(amount, ratios))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: the extra units go to the largest remainders, lowest index first on ties", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), bigRatiosArb, (amount, ratios) => {
        const total = ratios.reduce((a, b) => a + b, 0n);
        const shares = allocate(amount, ratios);
        const rem = ratios.map((r) => (amount * r) % total);
        const bumped = shares.map((s, i) => s * total > amount * (ratios[i] as bigint));
        for (let i = 0; i < shares.length; i++) {
          for (let j = 0; j < shares.length; j++) {
            if (!bumped[i] || bumped[j] || (rem[j] as bigint) === 0n) continue;
            // i got a unit that j did not: i's remainder is larger, or equal with i before j.
            const ri = rem[i] as bigint;
            const rj = rem[j] as bigint;
            expect(ri > rj || (ri === rj && i < j)).toBe(true);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("property: zero ratios get zero, signs follow the amount, allocate(-a) = -allocate(a)", () => {
    fc.assert(
      fc.property(amountArb, bigRatiosArb, (amount, ratios) => {
        const shares = allocate(amount, ratios);
        ratios.forEach((r, i) => {
          if (r === 0n) expect(shares[i]).toBe(0n);
          const s = shares[i] as bigint;
          expect(amount >= 0n ? s >= 0n : s <= 0n).toBe(true);
        });
        expect(allocate(-amount, ratios)).toEqual(shares.map((s) => -s));
      }),
      { numRuns: 1000 },
    );
  });

  it("property: deterministic, and equal ratios get shares in index order (larger first)", () => {
    fc.assert(
      fc.property(amountArb, fc.integer({ min: 1, max: 50 }), (amount, n) => {
        const a = split(amount, n);
        expect(split(amount, n)).toEqual(a);
        const abs = a.map((s) => (s < 0n ? -s : s));
        for (let i = 1; i < abs.length; i++) expect((abs[i - 1] as bigint) >= (abs[i] as bigint)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("property: scaling all ratios by a constant changes nothing", () => {
    fc.assert(
      fc.property(amountArb, bigRatiosArb, fc.bigInt({ min: 1n, max: 10n ** 6n }), (amount, ratios, k) => {
        expect(allocate(amount, ratios.map((r) => r * k))).toEqual(allocate(amount, ratios));
      }),
      { numRuns: 500 },
    );
  });

  it("property: number weights behave like their exact decimal values", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }), numberRatiosArb, (amount, weights) => {
        const shares = allocate(amount, weights);
        expect(shares.reduce((a, b) => a + b, 0n)).toBe(amount);
        weights.forEach((w, i) => {
          if (w === 0) expect(shares[i]).toBe(0n);
        });
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ["empty", []],
    ["all zero", [0n, 0n]],
    ["negative", [1n, -1n]],
    ["NaN", [1, Number.NaN]],
    ["infinite", [1, Number.POSITIVE_INFINITY]],
  ] as Array<[string, bigint[] | number[]]>)("rejects %s ratios with ENT_MONEY_INVALID_RATIOS", (_name, ratios) => {
    try {
      allocate(10n, ratios);
      expect.unreachable();
    } catch (e) {
      expect(isAppError(e) && e.code).toBe("ENT_MONEY_INVALID_RATIOS");
    }
  });
});
