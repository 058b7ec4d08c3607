/**
 * A seller's statement over HTTP: opening + every line = closing = the balance before `to`, for
 * each of the seller's accounts; a period inside the day starts from what came before; CSV too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, type Harness, csvRows } from "./harness.js";

interface Statement {
  sellerId: string;
  accounts: Array<{ account: string; currency: string; opening: string; closing: string; lines: Array<{ transactionId: string; what: string; settlementId: string | null; phase: string; change: string; balance: string }> }>;
}

describe("seller statements", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
    await publishDayRates(h);
    const post = async (body: Record<string, unknown>) => {
      const r = await h.signedPost("/v1/settlements/events", body);
      if (r.statusCode !== 201) throw new Error(r.body);
    };
    await post(capture({ gatewayEventId: "st-1", settlementId: "ORD-ST-1", occurredAt: `${DAY}T08:00:00.000Z` }));
    await post(capture({ gatewayEventId: "st-2", settlementId: "ORD-ST-2", occurredAt: `${DAY}T10:00:00.000Z` }));
    await post({ ...capture({ type: "refund", gatewayEventId: "st-2-r", settlementId: "ORD-ST-2", amount: "4000", gatewayFee: "0", occurredAt: `${DAY}T15:00:00.000Z` }), originalEventId: "st-2" });
  });
  afterAll(async () => h.close());

  const get = (from: string, to: string, more = "") => h.get(`/v1/sellers/S-POP-SZ-01/statements?from=${from}&to=${to}${more}`);

  it("lists each account's lines between an opening and a closing that the ledger's balance confirms", async () => {
    const r = await get(`${DAY}T00:00:00Z`, `${DAY}T23:59:59Z`);
    expect(r.statusCode, r.body).toBe(200);
    const s = json<Statement>(r);
    const held = s.accounts.find((a) => a.account === "seller:S-POP-SZ-01:held" && a.currency === "CNY")!;
    expect(held.opening).toBe("0");
    expect(held.lines.map((l) => [l.what, l.settlementId])).toEqual([
      ["capture", "ORD-ST-1"],
      ["capture", "ORD-ST-2"],
      ["refund", "ORD-ST-2"],
    ]);
    for (const a of s.accounts) {
      const sum = a.lines.reduce((t, l) => t + BigInt(l.change), BigInt(a.opening));
      expect(sum.toString(), a.account).toBe(a.closing);
      if (a.lines.length > 0) expect(a.lines[a.lines.length - 1]!.balance).toBe(a.closing);
      const balance = json<{ posted: string }>(await h.get(`/v1/accounts/${encodeURIComponent(a.account)}/${a.currency}/balance?at=${DAY}T23:59:58.999Z`));
      expect(balance.posted, a.account).toBe(a.closing);
    }
    expect(BigInt(held.lines[2]!.change)).toBeLessThan(0n);
  });

  it("starts a later period from what came before it", async () => {
    const whole = json<Statement>(await get(`${DAY}T00:00:00Z`, `${DAY}T23:59:59Z`)).accounts.find((a) => a.account.endsWith(":held"))!;
    const afternoon = json<Statement>(await get(`${DAY}T12:00:00Z`, `${DAY}T23:59:59Z`)).accounts.find((a) => a.account.endsWith(":held"))!;
    expect(afternoon.opening).toBe(whole.lines[1]!.balance);
    expect(afternoon.lines.map((l) => l.what)).toEqual(["refund"]);
    expect(afternoon.closing).toBe(whole.closing);
  });

  it("answers CSV with opening, posting and closing lines in minor and major units; 404 for an unknown seller, 400 for a bad period", async () => {
    const r = await get(`${DAY}T00:00:00Z`, `${DAY}T23:59:59Z`, "&format=csv");
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/csv/);
    const [header, ...lines] = csvRows(r.body);
    expect(header).toEqual(["account", "currency", "line", "effective_at", "transaction_id", "what", "settlement_id", "payout_id", "phase", "change_minor", "change", "balance_minor", "balance"]);
    const held = lines.filter((l) => l[0] === "seller:S-POP-SZ-01:held");
    expect(held.map((l) => l[2])).toEqual(["opening", "posting", "posting", "posting", "closing"]);
    const closing = held[held.length - 1]!;
    expect(closing[12]).toBe(`${BigInt(closing[11]!) / 100n}.${(BigInt(closing[11]!) % 100n).toString().padStart(2, "0")}`);
    expect(problemCode(await h.get(`/v1/sellers/S-NOBODY/statements?from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`))).toBe("ENT_SETTLEMENT_UNKNOWN_SELLER");
    expect((await get(`${DAY}T23:59:59Z`, `${DAY}T00:00:00Z`)).statusCode).toBe(400);
    expect((await h.get(`/v1/sellers/S-POP-SZ-01/statements?from=${DAY}T00:00:00Z`)).statusCode).toBe(400);
  });
});
