import type { SqlRunner } from "./db/sql.js";

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

/**
 * An item's OpenItems in one statement (one snapshot), counted, summed and cut in SQL: `open` is a
 * WITH clause defining a relation named `open` with `currency` and `amount` (minor units, null when
 * the item has none) columns; `ref` the expression of a row's ref, `order` the refs' order (a total
 * order: the same refs every time). Only the per-currency totals and the first `limit` refs come
 * back, never the open rows themselves. `limit` is the statement's last parameter.
 */
export async function readOpenItems<R>(
  sql: SqlRunner,
  q: { open: string; ref: string; order: string; params: readonly unknown[]; limit: number },
): Promise<{ count: number; amounts: OpenItems["amounts"]; refs: R[] }> {
  const [row] = await sql.q<Array<{ totals: unknown; refs: unknown }>>(
    `${q.open}
     SELECT (SELECT coalesce(json_agg(t), '[]') FROM (SELECT currency, count(*)::int AS n, sum(amount)::text AS amount FROM open GROUP BY currency) t) AS totals,
            (SELECT coalesce(json_agg(f.ref ORDER BY f.o), '[]')
               FROM (SELECT ${q.ref} AS ref, row_number() OVER (ORDER BY ${q.order}) AS o FROM open ORDER BY ${q.order} LIMIT $${q.params.length + 1}) f) AS refs`,
    ...q.params,
    q.limit,
  );
  const parsed = <T>(v: unknown): T => (typeof v === "string" ? JSON.parse(v) : v) as T;
  const totals = parsed<Array<{ currency: string | null; n: number; amount: string | null }>>(row?.totals ?? []);
  return { count: totals.reduce((n, t) => n + Number(t.n), 0), amounts: amountsOf(totals), refs: parsed<R[]>(row?.refs ?? []) };
}
