/**
 * The period-close checklist's cash and reconciliation items past CHECKLIST_REFS open entries, on
 * both engines: more than 20 unmatched bank statement entries (booked in the period, after it, by
 * booking date, date-time or value date; some resolved) and more than 20 gateway reconciliation
 * exceptions (one resolved): the counts and amounts are exact (checked against the queues, which
 * list every entry), `refs` are the first 20 in the queue's order, and each item is one statement
 * answering totals and refs only (never the open entries themselves). dayInstantSql, the SQL of a
 * bank entry's instant, answers what dayInstant answers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlRunner } from "../../service/db/index.js";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { CashReconciliation } from "../../service/cash/index.js";
import { bookingInstant, dayInstantSql } from "../../service/cash/service.js";
import { CHECKLIST_REFS } from "../../service/checklist.js";
import { ADYEN_COLUMNS, ReconRepository } from "../../service/reconciliation/index.js";
import { PLATFORM_ACCOUNT } from "../support/bank.js";
import { camt053 } from "../support/camt054.js";
import { testDatabaseKinds } from "../support/db.js";
import { adyenRow, DAY, json, openHarness, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();
const PAST = "2024-12-04T00:00:00.000Z";

interface Item {
  kind: string;
  status: string;
  count: number;
  amounts: Array<{ currency: string; amount: string }>;
  refs: Array<{ id: string; href: string }>;
}

/** A runner that passes every statement to `sql` and records its text and how many rows it answered. */
function recording(sql: SqlRunner): { sql: SqlRunner; seen: Array<{ text: string; rows: number }> } {
  const seen: Array<{ text: string; rows: number }> = [];
  const runner: SqlRunner = {
    async q<T extends unknown[]>(text: string, ...params: unknown[]): Promise<T> {
      const rows = await sql.q<T>(text, ...params);
      seen.push({ text, rows: rows.length });
      return rows;
    },
    transaction: (fn, first) => sql.transaction(fn, first),
  };
  return { sql: runner, seen };
}

describe.each(kinds)(`the checklist's cash and reconciliation items past ${CHECKLIST_REFS} refs on %s`, (kind) => {
  let h: Harness;
  let writer: IssuedKey;
  const itemOf = async (kindOf: string) => {
    const r = await h.get(`/v1/ledger/periods/checklist?before=${encodeURIComponent(PAST)}`);
    expect(r.statusCode, r.body).toBe(200);
    return json<{ items: Item[] }>(r).items.find((i) => i.kind === kindOf)!;
  };

  beforeAll(async () => {
    h = await openHarness({ kind });
    writer = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it("dayInstantSql answers what dayInstant answers, text by text (never a cast error)", async () => {
    const texts = [
      "2024-12-02", " 2024-12-02 ", "2024-12-02T10:30", "2024-12-02T10:30:15.5", "2024-12-02T25:99", "2024-12-02T10:30Z", "2024-12-02T10:30:15.123456Z",
      "2024-12-02T23:30-05:00", "2024-12-02T00:15+01:00", "2024-12-02T24:00Z", "2024-12-02T24:30Z", "2024-12-02T23:60Z", "2024-12-02T10:00+24:00", "2024-12-02T10:00+23:59",
      "2024-02-30", "2024-02-31T12:00Z", "2024-12-32", "2024-12-00", "2024-13-01", "2024-00-10", "0000-12-02", "2024-12", "yesterday", "", null,
    ];
    // As epoch milliseconds: a driver reads a year-0 instant (1 BC) differently, the instant is the same.
    const [row] = await h.db.sql.q<Array<Record<string, string | null>>>(
      `SELECT ${texts.map((_, i) => `(extract(epoch FROM ${dayInstantSql(`$${i + 1}::text`)}) * 1000)::bigint::text AS t${i}`).join(", ")}`,
      ...texts,
    );
    const fromSql = texts.map((_, i) => row![`t${i}`] ?? null);
    expect(fromSql).toEqual(texts.map((t) => bookingInstant({ bookingDate: t, valueDate: null })?.getTime().toString() ?? null));
  });

  it("counts and sums every open unmatched bank entry of the period, names the first 20 oldest first, in one statement", async () => {
    // 27 credits: 24 booked in the period (dates, and date-times with a zone: 2024-12-02T23:30-05:00 is the 3rd in UTC), 3 after it.
    const days = ["2024-12-02", "2024-12-02T23:30:00-05:00", "2024-12-01", "2024-12-03"];
    const dates = Array.from({ length: 27 }, (_, i) => ({ bookingDate: i >= 24 ? "2024-12-05" : days[i % days.length]! }));
    const entries = dates.map((d, i) => ({ endToEndId: "NOTPROVIDED", currency: "USD", amount: BigInt(1000 + i * 37), side: "credit" as const, remittanceInfo: `UNKNOWN PAYER ${i}`, ...d }));
    const statement = camt053({ messageId: "HSBC-053-MANY", statementId: "STMT-MANY-2024-12-02", sequence: 1, account: { ...PLATFORM_ACCOUNT, accountCurrency: "USD" }, day: DAY, opening: 1_000_000n, entries });
    const imported = await h.app.inject({ method: "POST", url: "/v1/cash/statements", payload: statement, headers: { "content-type": "application/xml", authorization: `Bearer ${writer.key}` } });
    expect(imported.statusCode, imported.body).toBe(201);
    const statementId = json<{ statements: Array<{ id: string }> }>(imported).statements[0]!.id;
    // Two resolved: no longer open.
    for (const index of [2, 5]) {
      const r = await h.post(`/v1/cash/statements/${statementId}/entries/${index}/resolution`, { note: "identified: a customer's direct transfer" }, writer);
      expect(r.statusCode, r.body).toBe(201);
    }
    // What the item must say, from the queue (every open entry, oldest first) and the period's end.
    const queue = json<{ items: Array<{ statementId: string; entry: { index: number; currency: string; amount: string }; agedFrom: string }> }>(await h.get("/v1/cash/exceptions?status=open&limit=1000"));
    const inPeriod = queue.items.filter((x) => Date.parse(x.agedFrom) < Date.parse(PAST));
    expect(inPeriod).toHaveLength(22);
    const item = await itemOf("cash_exceptions");
    expect([item.status, item.count]).toEqual(["open", 22]);
    expect(item.amounts).toEqual([{ currency: "USD", amount: inPeriod.reduce((t, x) => t + BigInt(x.entry.amount), 0n).toString() }]);
    expect(item.refs).toHaveLength(CHECKLIST_REFS);
    expect(item.refs.map((r) => r.id)).toEqual(inPeriod.slice(0, CHECKLIST_REFS).map((x) => `${x.statementId}/${x.entry.index}`));

    // One statement, answering one row (the totals and the refs), whatever the number of entries.
    const rec = recording(h.db.sql);
    const cash = new CashReconciliation({ sql: rec.sql, ledger: h.services.ledger, account: null });
    const direct = await cash.openExceptionsIn({ from: null, to: new Date(PAST) }, CHECKLIST_REFS);
    expect(rec.seen.map((s) => s.rows)).toEqual([1]);
    expect(rec.seen[0]!.text).toMatch(/LIMIT/);
    expect({ ...direct, amounts: direct.amounts.map((a) => ({ currency: a.currency, amount: a.amount.toString() })) }).toEqual({ count: item.count, amounts: item.amounts, refs: item.refs });
  });

  it("counts and sums every open reconciliation exception of a run over the period, names the first 20 by first seen, in one statement", async () => {
    // 23 rows the ledger does not hold: each a missing_in_ledger exception of its own.
    const rows = Array.from({ length: 23 }, (_, i) => {
      const gross = 1000 + i * 113;
      const fee = 29 + i;
      const major = (v: number) => `${Math.floor(v / 100)}.${String(v % 100).padStart(2, "0")}`;
      return adyenRow({ "Psp Reference": `PSP-MANY-${i}`, "Modification Reference": `evt-many-${i}`, "Merchant Reference": `ORD-MANY-${i}`, "Gross Credit (GC)": major(gross), "Net Credit (NC)": major(gross - fee), "Commission (NC)": major(fee) });
    });
    const imported = await h.app.inject({ method: "POST", url: "/v1/reconciliation/imports?format=adyen_settlement_details", payload: [ADYEN_COLUMNS.join(","), ...rows].join("\r\n"), headers: { "content-type": "text/csv", authorization: `Bearer ${h.keys.admin.key}` } });
    expect(imported.statusCode, imported.body).toBe(201);
    const run = await h.post("/v1/reconciliation/runs", { importIds: [json<{ import: { id: string } }>(imported).import.id] }, h.keys.admin);
    expect(run.statusCode, run.body).toBe(201);
    type Entry = { runId: string; item: { seq: number; currency: string | null; reportAmount: string | null; ledgerAmount: string | null; difference: string | null } };
    const open = async () => json<{ items: Entry[] }>(await h.get("/v1/reconciliation/exceptions?status=open&limit=1000")).items;
    const first = (await open())[0]!;
    const resolved = await h.post(`/v1/reconciliation/runs/${first.runId}/exceptions/${first.item.seq}/resolution`, { note: "checked with the acquirer" }, writer);
    expect(resolved.statusCode, resolved.body).toBe(201);
    const queue = await open();
    expect(queue.length).toBeGreaterThan(CHECKLIST_REFS);
    const stake = (e: Entry) => {
      const v = BigInt(e.item.difference ?? e.item.reportAmount ?? e.item.ledgerAmount ?? "0");
      return v < 0n ? -v : v;
    };
    const sums = new Map<string, bigint>();
    for (const e of queue) if (e.item.currency !== null) sums.set(e.item.currency, (sums.get(e.item.currency) ?? 0n) + stake(e));
    const item = await itemOf("reconciliation_exceptions");
    expect([item.status, item.count]).toEqual(["open", queue.length]);
    expect(item.amounts).toEqual([...sums].sort(([a], [b]) => a.localeCompare(b)).map(([currency, amount]) => ({ currency, amount: amount.toString() })));
    expect(item.refs).toHaveLength(CHECKLIST_REFS);
    // Every ref an open exception of the queue, none twice (one run: first seen is the same for all of them).
    const ids = new Set(queue.map((e) => `${e.runId}/${e.item.seq}`));
    expect(item.refs.every((r) => ids.has(r.id))).toBe(true);
    expect(new Set(item.refs.map((r) => r.id)).size).toBe(CHECKLIST_REFS);

    const rec = recording(h.db.sql);
    const direct = await new ReconRepository(rec.sql).openExceptionsIn({ from: null, to: new Date(PAST) }, CHECKLIST_REFS);
    expect(rec.seen.map((s) => s.rows)).toEqual([1]);
    expect({ ...direct, amounts: direct.amounts.map((a) => ({ currency: a.currency, amount: a.amount.toString() })) }).toEqual({ count: item.count, amounts: item.amounts, refs: item.refs });
  });
});
