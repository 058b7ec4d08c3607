/**
 * Allocation of an amount in minor units by ratios, by largest remainder (Hamilton's method):
 * each share starts at floor(|amount| x ratio / total) and the units left over go one each to
 * the shares with the largest remainders, lowest index first on ties.
 *
 * Invariants (property-tested in test/money/allocation.property.unit.test.ts):
 * - the shares sum exactly to `amount` (no unit lost or created);
 * - every share is within one unit of its exact proportional value (floor or ceil of it);
 * - a zero ratio gets exactly zero; a negative amount gives the negated shares of its absolute
 *   value, so allocate(-a) = -allocate(a);
 * - the result depends only on the inputs (no randomness, no floating point).
 * Why floors cannot overshoot: sum(floor(x_i)) <= sum(x_i) = |amount|, and the leftover
 * sum(rem_i) / total is an integer < number of non-zero remainders, so it fits one unit each.
 */
import { MoneyErrors } from "./errors.js";
import { MoneyDecimal } from "./rounding.js";

function invalidRatios(message: string) {
  return MoneyErrors.invalidRatios(`ratios: ${message}`, { fields: [{ field: "ratios", message }] });
}

/** Turn number weights into exact integers by scaling with the largest number of decimals. */
function toIntegerRatios(ratios: readonly (bigint | number)[]): bigint[] {
  if (ratios.every((r) => typeof r === "bigint")) return [...(ratios)];
  const decimals = ratios.map((r, i) => {
    if (typeof r === "bigint") return new MoneyDecimal(r.toString());
    if (typeof r !== "number" || !Number.isFinite(r)) throw invalidRatios(`ratio ${i} must be a finite number or a bigint`);
    // The shortest round-trip spelling of the double: 0.1 stays 0.1, not 0.1000000000000000055.
    return new MoneyDecimal(r);
  });
  const places = Math.max(0, ...decimals.map((d) => d.decimalPlaces()));
  // Shortest spellings of doubles have <= 17 significant digits and <= 342 decimal places
  // (5e-324), so the scaled values are exact integers; bigint division handles their size.
  if (places > 400) throw invalidRatios("ratios must have at most 400 decimal places");
  const factor = new MoneyDecimal(10).pow(places);
  return decimals.map((d) => BigInt(d.times(factor).toFixed(0)));
}

/**
 * Split `amount` into `ratios.length` shares proportional to `ratios`.
 * allocate(100n, [1n, 1n, 1n]) -> [34n, 33n, 33n]; allocate(-5n, [1, 1]) -> [-3n, -2n];
 * allocate(7n, [0n, 1n]) -> [0n, 7n].
 */
export function allocate(amount: bigint, ratios: readonly bigint[] | readonly number[]): bigint[] {
  if (typeof amount !== "bigint") throw new TypeError("amount must be a bigint of minor units");
  if (ratios.length === 0) throw invalidRatios("at least one ratio is required");
  const weights = toIntegerRatios(ratios);
  let total = 0n;
  for (const [i, w] of weights.entries()) {
    if (w < 0n) throw invalidRatios(`ratio ${i} must not be negative`);
    total += w;
  }
  if (total === 0n) throw invalidRatios("at least one ratio must be greater than zero");

  const negative = amount < 0n;
  const magnitude = negative ? -amount : amount;
  const shares: bigint[] = [];
  const remainders: bigint[] = [];
  let allocated = 0n;
  for (const w of weights) {
    const exact = magnitude * w;
    const share = exact / total;
    shares.push(share);
    remainders.push(exact % total);
    allocated += share;
  }
  let leftover = magnitude - allocated;
  if (leftover > 0n) {
    const order = weights.map((_, i) => i);
    // Largest remainder first; the stable index order breaks ties deterministically.
    order.sort((a, b) => {
      const ra = remainders[a] as bigint;
      const rb = remainders[b] as bigint;
      return ra === rb ? a - b : rb > ra ? 1 : -1;
    });
    for (const i of order) {
      if (leftover === 0n) break;
      shares[i] = (shares[i] as bigint) + 1n;
      leftover -= 1n;
    }
  }
  return negative ? shares.map((s) => -s) : shares;
}

/** Split `amount` into `parts` shares as equal as possible, the larger ones first. */
export function split(amount: bigint, parts: number): bigint[] {
  if (!Number.isInteger(parts) || parts < 1 || parts > 1_000_000) {
    throw invalidRatios("parts must be an integer between 1 and 1 000 000");
  }
  return allocate(amount, new Array<bigint>(parts).fill(1n));
}
