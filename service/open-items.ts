/**
 * What a module answers for the period-close checklist (service/checklist.ts): how many of its items
 * are open in a period, their amounts per currency (minor units) where an item has one, and the
 * first few of them (`refs`, oldest first), each with the route that resolves or shows it. Counted
 * and summed in full; only `refs` is bounded.
 */
export interface OpenItems {
  count: number;
  amounts: Array<{ currency: string; amount: bigint }>;
  refs: Array<{ id: string; href: string }>;
}

/** A period [from, to): from null is the beginning of the books. */
export interface OpenPeriod {
  from: Date | null;
  to: Date;
}

/** Per-currency sums from rows of (currency, amount as text), currencies in order. */
export function amountsOf(rows: ReadonlyArray<{ currency: string | null; amount: string | null }>): OpenItems["amounts"] {
  const by = new Map<string, bigint>();
  for (const r of rows) if (r.currency !== null && r.amount !== null) by.set(r.currency, (by.get(r.currency) ?? 0n) + BigInt(r.amount));
  return [...by].sort(([a], [b]) => a.localeCompare(b)).map(([currency, amount]) => ({ currency, amount }));
}
