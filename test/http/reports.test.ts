/**
 * The dashboard's report routes on both engines: settlement volumes aggregated in SQL per UTC day,
 * market, currency and event type; the overview's balances (equal per currency, as the journal
 * balances) and gross (the accounts against their normal side apart, per owner type), anchoring
 * position without a chain, payouts, and open reconciliation exceptions by age.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readOverview } from "../../service/overview.js";
import type { AccountSpec } from "../../service/ledger/index.js";
import { treasuryAccountSpec } from "../../service/treasury/accounts.js";
import { PayoutRepository } from "../../service/payouts/repository.js";
import { BankStore } from "../../service/payouts/bank/store.js";
import { AnchorStore } from "../../service/anchoring/store.js";
import { ADYEN_COLUMNS } from "../../service/reconciliation/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { adyenRow, capture, DAY, json, openHarness, problemCode, publishDayRates, usdRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

/** One matching row, one amount mismatch (150.00 reported, 149.90 booked), one the ledger lacks: two exceptions. */
const REPORT = [
  ADYEN_COLUMNS.join(","),
  adyenRow({ "Psp Reference": "PSP-1", "Modification Reference": "rep-1", "Merchant Reference": "ORD-R-1", "Gross Credit (GC)": "149.90", "Net Credit (NC)": "145.56", "Commission (NC)": "4.34" }),
  adyenRow({ "Psp Reference": "PSP-2", "Modification Reference": "rep-2", "Merchant Reference": "ORD-R-2", "Gross Credit (GC)": "150.00", "Net Credit (NC)": "145.66", "Commission (NC)": "4.34" }),
  adyenRow({ "Psp Reference": "PSP-9", "Modification Reference": "rep-ghost", "Merchant Reference": "ORD-R-9", "Gross Credit (GC)": "10.00", "Net Credit (NC)": "9.71", "Commission (NC)": "0.29" }),
].join("\r\n");

interface Volume {
  day: string;
  market: string;
  currency: string;
  eventType: string;
  count: number;
  amountMinor: string;
}
interface OverviewBody {
  settlements: { latestOccurredAt: string | null };
  balances: Array<{
    currency: string;
    debitBalances: string;
    creditBalances: string;
    accounts: number;
    debitNormal: { accounts: number; onNormalSide: string; againstNormalSide: string; accountsAgainst: number };
    creditNormal: { accounts: number; onNormalSide: string; againstNormalSide: string; accountsAgainst: number };
    againstNormal: Array<{ ownerType: string; accounts: number; balance: string; largest: Array<{ account: string; normalBalance: string; balance: string }> }>;
  }>;
  anchoring: { journalHead: string; anchoredThrough: string | null; lagTransactions: number; oldestUnanchoredAt: string | null };
  payouts: Array<{ rail: string; state: string; currency: string; count: number; amountMinor: string }>;
  exceptions: Array<{ ageBucket: string; count: number }>;
  cashExceptions: Array<{ ageBucket: string; count: number }>;
  bankPayoutExceptions: number;
}

describe.each(kinds)("report routes on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    const next = await h.post("/v1/fx/rates", { rates: usdRates(["BRL", "CNY"], "2024-12-03", new Date("2024-12-03T00:00:00.000Z")) }, h.keys.admin);
    if (next.statusCode !== 201) throw new Error(next.body);
    const events = [
      capture({ gatewayEventId: "rep-1", settlementId: "ORD-R-1", occurredAt: `${DAY}T08:00:00.000Z` }),
      capture({ gatewayEventId: "rep-2", settlementId: "ORD-R-2", occurredAt: `${DAY}T23:59:59.000Z` }),
      capture({ type: "refund", gatewayEventId: "rep-1-r", originalEventId: "rep-1", settlementId: "ORD-R-1", amount: "1000", gatewayFee: "0", occurredAt: `${DAY}T12:00:00.000Z` }),
      capture({ gatewayEventId: "rep-3", settlementId: "ORD-R-3", amount: "5000", occurredAt: "2024-12-03T00:00:00.000Z" }),
    ];
    for (const e of events) {
      const r = await h.signedPost("/v1/settlements/events", e);
      if (r.statusCode !== 201) throw new Error(r.body);
    }
  }, 120_000);
  afterAll(async () => h.close());

  it("aggregates volumes per UTC day, market, currency and event type, to exclusive", async () => {
    const r = await h.get(`/v1/reports/volumes?from=${DAY}T00:00:00Z&to=2024-12-04T00:00:00Z`);
    expect(r.statusCode, r.body).toBe(200);
    expect(json<{ items: Volume[] }>(r).items).toEqual([
      { day: DAY, market: "BR", currency: "BRL", eventType: "capture", count: 2, amountMinor: "29980" },
      { day: DAY, market: "BR", currency: "BRL", eventType: "refund", count: 1, amountMinor: "1000" },
      { day: "2024-12-03", market: "BR", currency: "BRL", eventType: "capture", count: 1, amountMinor: "5000" },
    ]);
    const first = json<{ items: Volume[] }>(await h.get(`/v1/reports/volumes?from=${DAY}T00:00:00Z&to=2024-12-03T00:00:00Z`));
    expect(first.items.map((i) => i.day)).toEqual([DAY, DAY]);
  });

  it("refuses a missing, reversed or longer than 366 days range naming the field, and keys without finance:read", async () => {
    const missing = await h.get(`/v1/reports/volumes?from=${DAY}T00:00:00Z`);
    expect([missing.statusCode, missing.body.includes("to")]).toEqual([400, true]);
    const reversed = await h.get(`/v1/reports/volumes?from=${DAY}T00:00:00Z&to=2024-12-01T00:00:00Z`);
    expect([reversed.statusCode, problemCode(reversed)]).toEqual([400, "ENT_SETTLEMENT_INVALID_FILTER"]);
    expect(reversed.body).toContain('"field":"query.to"');
    expect((await h.get("/v1/reports/volumes?from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:00Z")).statusCode).toBe(200); // 366 days (2024 is a leap year)
    const long = await h.get("/v1/reports/volumes?from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:01Z");
    expect([long.statusCode, problemCode(long)]).toEqual([400, "ENT_SETTLEMENT_INVALID_FILTER"]);
    expect(long.body).toContain('"field":"query.to"'); // as the trial balance's and every other date error of a route
    expect((await h.get(`/v1/reports/volumes?from=${DAY}T00:00:00Z&to=2024-12-04T00:00:00Z`, h.keys.gateway)).statusCode).toBe(403);
    expect((await h.get("/v1/reports/overview", h.keys.gateway)).statusCode).toBe(403);
  });

  it("answers the overview: balances that balance per currency, the journal position without a chain, open exceptions by age", async () => {
    const imported = await h.app.inject({ method: "POST", url: "/v1/reconciliation/imports?format=adyen_settlement_details", payload: REPORT, headers: { "content-type": "text/csv", authorization: `Bearer ${h.keys.admin.key}` } });
    expect(imported.statusCode, imported.body).toBe(201);
    const run = await h.post("/v1/reconciliation/runs", { importIds: [json<{ import: { id: string } }>(imported).import.id] }, h.keys.admin);
    expect(run.statusCode, run.body).toBe(201);

    const r = await h.get("/v1/reports/overview");
    expect(r.statusCode, r.body).toBe(200);
    const o = json<OverviewBody>(r);
    expect(o.balances.length).toBeGreaterThan(0);
    for (const b of o.balances) expect(b.debitBalances, b.currency).toBe(b.creditBalances);
    const brl = o.balances.find((b) => b.currency === "BRL");
    expect(BigInt(brl?.debitBalances ?? "0")).toBeGreaterThan(0n);

    const txs = json<{ items: Array<{ sequence: string; bookedAt: string }> }>(await h.get("/v1/transactions?limit=1000"));
    const oldest = txs.items.at(-1)!;
    expect(o.anchoring).toEqual({ journalHead: txs.items[0]!.sequence, anchoredThrough: null, lagTransactions: Number(txs.items[0]!.sequence), oldestUnanchoredAt: oldest.bookedAt });

    expect(o.payouts).toEqual([]);
    const queue = json<{ openByAge: Record<string, number> }>(await h.get("/v1/reconciliation/exceptions?status=open"));
    const open = Object.values(queue.openByAge).reduce((a, b) => a + b, 0);
    expect(open).toBeGreaterThan(0);
    expect(o.exceptions).toEqual([
      { ageBucket: "0-7", count: open },
      { ageBucket: "8-30", count: 0 },
      { ageBucket: "over-30", count: 0 },
    ]);
    // The bank's queues beside it, as their own routes count them.
    const cash = json<{ openByAge: Record<string, number> }>(await h.get("/v1/cash/exceptions?status=open")).openByAge;
    expect(o.cashExceptions).toEqual(["0-7", "8-30", "over-30"].map((ageBucket) => ({ ageBucket, count: cash[ageBucket] })));
    expect(o.bankPayoutExceptions).toBe(h.services.bank === undefined ? 0 : json<{ open: number }>(await h.get("/v1/payouts/bank/exceptions")).open);
  });

  it("says when the latest settlement occurred, by time: a late event booked last does not move it back", async () => {
    const rates = await h.post("/v1/fx/rates", { rates: usdRates(["BRL", "CNY"], "2024-11-30", new Date("2024-11-30T00:00:00.000Z")) }, h.keys.admin);
    expect(rates.statusCode, rates.body).toBe(201);
    const late = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "rep-late", settlementId: "ORD-R-LATE", occurredAt: "2024-11-30T10:00:00.000Z" }));
    expect(late.statusCode, late.body).toBe(201);
    // The newest record by id is the late one...
    const newest = json<{ items: Array<{ event: { occurredAt: string } }> }>(await h.get("/v1/settlements?limit=1"));
    expect(newest.items[0]?.event.occurredAt).toBe("2024-11-30T10:00:00.000Z");
    // ...but the latest to have occurred is still rep-3's.
    expect(json<OverviewBody>(await h.get("/v1/reports/overview")).settlements).toEqual({ latestOccurredAt: "2024-12-03T00:00:00.000Z" });
  });

  it("lists vault and bank payouts apart by rail, and counts lag from the anchored sequence", async () => {
    const o = await readOverview({
      ledger: h.services.ledger,
      anchoring: { anchoredThrough: async () => 2n } as never,
      payouts: { summary: async () => [{ state: "final", currency: "CNY", count: 2, amount: 500n }] } as never,
      bank: { summary: async () => [{ state: "instructed", currency: "CNY", count: 1, amount: 70n }], exceptions: async () => ({ items: [], open: 3 }) } as never,
      cash: { exceptions: async () => ({ items: [], openByAge: { "0-7": 1, "8-30": 0, "over-30": 2 } }) },
    });
    expect([o.bankPayoutExceptions, o.cashExceptions.map((x) => x.count)]).toEqual([3, [1, 0, 2]]);
    expect(o.payouts).toEqual([
      { rail: "stablecoin", state: "final", currency: "CNY", count: 2, amount: 500n },
      { rail: "bank", state: "instructed", currency: "CNY", count: 1, amount: 70n },
    ]);
    expect(o.anchoring.anchoredThrough).toBe(2n);
    expect(o.anchoring.lagTransactions).toBe(o.anchoring.journalHead - 2n);
    const third = await h.services.ledger.getTransaction("3");
    expect(o.anchoring.oldestUnanchoredAt).toEqual(third?.bookedAt);
    expect(o.exceptions).toEqual([]);
  });

  it("reads the last sequence of a batch seen on chain, not of one only built or submitted", async () => {
    const anchor = `0x${"ab".repeat(20)}`;
    const store = new AnchorStore(h.db.sql, 31337n, anchor);
    expect(await store.anchoredThrough()).toBeNull();
    const h66 = `0x${"00".repeat(32)}`;
    for (const [id, last, status] of [[1n, 2n, "final"], [2n, 3n, "observed"], [3n, 4n, "submitted"]] as const) {
      await h.db.sql.q(
        `INSERT INTO anchor_batches (chain_id, anchor_address, batch_id, root, leaf_count, journal_count, first_sequence, last_sequence, currency_totals, totals_digest, previous_root, status, sender_key,
                                     tx_hash, block_number, block_hash)
         VALUES ($1, $2, $3, $4, 1, 1, $5, $5, '[]'::jsonb, $4, $4, $6, $7, $8, $9, $8)`,
        31337n, anchor, id, h66, last, status, `anchor:31337:${anchor}:${id}`, status === "submitted" ? null : h66, status === "submitted" ? null : 10n,
      );
    }
    expect(await store.anchoredThrough()).toBe(3n);
    expect(await new AnchorStore(h.db.sql, 1n, anchor).anchoredThrough()).toBeNull();
  });

  it("sums vault and bank payouts per state and currency in SQL", async () => {
    expect(await new PayoutRepository(h.db.sql).summary()).toEqual([]);
    // Rows as the rail leaves them in states that need no file or journal references.
    for (const [id, seller, status, amount] of [["E2E-1", "S-A", "rejected", "700"], ["E2E-2", "S-B", "rejected", "300"], ["E2E-3", "S-C", "planned", "50"]] as const) {
      await h.db.sql.q(
        `INSERT INTO bank_payouts (seller_id, currency, amount, end_to_end_id, status, account, reserve_request, created_by) VALUES ($1, 'CNY', $2::numeric, $3, $4, '{}'::jsonb, '{}'::jsonb, 'test')`,
        seller, amount, id, status,
      );
    }
    expect(await new BankStore(h.db.sql).summary()).toEqual([
      { state: "planned", currency: "CNY", count: 1, amount: 50n },
      { state: "rejected", currency: "CNY", count: 2, amount: 1000n },
    ]);
  });
  it("shows each side's balances gross: a treasury bank funded beyond its balance, a tax account and FX clearing against their normal side", async () => {
    // XTS (ISO 4217's testing code): a currency of this test alone, so every figure is exact.
    const c = "XTS";
    const treasury = (code: string) => treasuryAccountSpec(code, c) as AccountSpec;
    const fx = ["USD", "PLN", "KRW", "EUR", "CNY", "BRL"].map((q) => `fx:${c}-${q}`);
    const accounts: AccountSpec[] = [
      ...["treasury:bank", `treasury:vault:${c}`, ...fx].map(treasury),
      { code: "seller:S-XTS:available", currency: c, ownerType: "seller", ownerId: "S-XTS", normalBalance: "credit", allowNegative: false },
      { code: `tax:${c}:payable`, currency: c, ownerType: "tax_authority", ownerId: c, normalBalance: "credit", allowNegative: true },
      { code: "platform:revenue:XTS", currency: c, ownerType: "platform", ownerId: "platform", normalBalance: "credit", allowNegative: true },
    ];
    const leg = (account: string, direction: "debit" | "credit", amount: bigint) => ({ account, currency: c, direction, amount });
    const txs = [
      // The vault funded through FX clearing (debit-normal, so against its side), as the treasury books it.
      [leg(`treasury:vault:${c}`, "debit", 5021n), ...fx.map((a, i) => leg(a, "credit", [5000n, 11n, 4n, 3n, 2n, 1n][i] as bigint))],
      [leg("treasury:bank", "debit", 3000n), leg("seller:S-XTS:available", "credit", 3000n)],
      // More moved from the bank into the vault than the bank held: 1,000 below zero.
      [leg(`treasury:vault:${c}`, "debit", 4000n), leg("treasury:bank", "credit", 4000n)],
      [leg(`tax:${c}:payable`, "debit", 200n), leg("platform:revenue:XTS", "credit", 200n)],
    ];
    for (const [i, postings] of txs.entries()) {
      const r = await h.services.ledger.post({ idempotencyKey: `overview-gross-${i}`, postings, accounts });
      expect(r.status).toBe("created");
    }

    const o = json<OverviewBody>(await h.get("/v1/reports/overview", h.keys.finance));
    expect(o.balances.find((b) => b.currency === c)).toEqual({
      currency: c,
      debitBalances: "3000",
      creditBalances: "3000",
      accounts: 11,
      debitNormal: { accounts: 8, onNormalSide: "9021", againstNormalSide: "-6021", accountsAgainst: 7 },
      creditNormal: { accounts: 3, onNormalSide: "3200", againstNormalSide: "-200", accountsAgainst: 1 },
      // The bank first, FX clearing (both ways by design) last: its five largest of six.
      againstNormal: [
        { ownerType: "treasury", accounts: 1, balance: "-1000", largest: [{ account: "treasury:bank", normalBalance: "debit", balance: "-1000" }] },
        { ownerType: "tax_authority", accounts: 1, balance: "-200", largest: [{ account: `tax:${c}:payable`, normalBalance: "credit", balance: "-200" }] },
        {
          ownerType: "fx_clearing",
          accounts: 6,
          balance: "-5021",
          largest: [
            { account: `fx:${c}-USD`, normalBalance: "debit", balance: "-5000" },
            { account: `fx:${c}-PLN`, normalBalance: "debit", balance: "-11" },
            { account: `fx:${c}-KRW`, normalBalance: "debit", balance: "-4" },
            { account: `fx:${c}-EUR`, normalBalance: "debit", balance: "-3" },
            { account: `fx:${c}-CNY`, normalBalance: "debit", balance: "-2" },
          ],
        },
      ],
    });
    // The other currencies' gross figures add up to their net ones.
    for (const b of o.balances) {
      expect(BigInt(b.debitNormal.onNormalSide) + BigInt(b.debitNormal.againstNormalSide), b.currency).toBe(BigInt(b.debitBalances));
      expect(BigInt(b.creditNormal.onNormalSide) + BigInt(b.creditNormal.againstNormalSide), b.currency).toBe(BigInt(b.creditBalances));
      expect(b.againstNormal.reduce((n, g) => n + g.accounts, 0), b.currency).toBe(b.debitNormal.accountsAgainst + b.creditNormal.accountsAgainst);
    }
  });
});
