/**
 * A seller's statement over HTTP: opening + every line = closing = the balance before `to`, for
 * each of the seller's accounts; a period inside the day starts from what came before; CSV too.
 */
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseKinds } from "../support/db.js";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, type Harness, csvRows } from "./harness.js";

const kinds = await testDatabaseKinds();

interface Statement {
  sellerId: string;
  accounts: Array<{ account: string; currency: string; opening: string; closing: string; lines: Array<{ transactionId: string; what: string; settlementId: string | null; phase: string; change: string; balance: string }> }>;
}

describe.each(kinds)("seller statements on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ kind });
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

  it("gives each line what reconciles its net amount: the event's amount and fees as booked, and every rate it converted at", async () => {
    interface Line { transactionId: string; what: string; change: string; event: Record<string, string> | null; rates: Array<{ pair: string; rate: string }>; token: unknown }
    const s = json<{ accounts: Array<{ account: string; lines: Line[] }> }>(await get(`${DAY}T00:00:00Z`, `${DAY}T23:59:59Z`));
    const [first, , refund] = s.accounts.find((a) => a.account === "seller:S-POP-SZ-01:held")!.lines;
    const settlement = json<{ breakdown: { lines: Record<string, string> }; fx: Array<{ from: string; to: string; rate: string }> }>(await h.get(`/v1/settlements/${first!.transactionId}`));
    // 149.90 BRL captured, 4.34 of gateway fee; the fees in USD as the settlement record has them.
    expect(first!.event).toMatchObject({ currency: "BRL", amount: "14990", gatewayFee: "434", feeCurrency: "USD", commission: settlement.breakdown.lines["commission"] });
    expect(first!.rates.map((r) => r.pair)).toEqual(expect.arrayContaining(["BRL-USD", "USD-CNY"]));
    for (const x of settlement.fx) expect(first!.rates).toContainEqual(expect.objectContaining({ pair: `${x.from}-${x.to}`, rate: x.rate }));
    expect([first!.token, refund!.event?.["amount"]]).toEqual([null, "4000"]);
    // The CSV carries the same in columns appended after the description.
    const [header, ...rows] = csvRows((await get(`${DAY}T00:00:00Z`, `${DAY}T23:59:59Z`, "&format=csv")).body);
    const col = (name: string) => header!.indexOf(name);
    const posting = rows.find((r) => r[0] === "seller:S-POP-SZ-01:held" && r[2] === "posting")!;
    expect([posting[col("event_currency")], posting[col("event_amount_minor")], posting[col("gateway_fee_minor")], posting[col("fee_currency")]]).toEqual(["BRL", "14990", "434", "USD"]);
    expect(posting[col("rates")]).toMatch(/^(?=.*BRL-USD \d)(?=.*USD-CNY \d)/);
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
    expect(header?.slice(0, 15)).toEqual(["account", "currency", "line", "effective_at", "transaction_id", "what", "settlement_id", "payout_id", "phase", "change_minor", "change", "balance_minor", "balance", "charge_id", "description"]);
    const held = lines.filter((l) => l[0] === "seller:S-POP-SZ-01:held");
    expect(held.map((l) => l[2])).toEqual(["opening", "posting", "posting", "posting", "closing"]);
    const closing = held[held.length - 1]!;
    expect(closing[12]).toBe(`${BigInt(closing[11]!) / 100n}.${(BigInt(closing[11]!) % 100n).toString().padStart(2, "0")}`);
    expect(problemCode(await h.get(`/v1/sellers/S-NOBODY/statements?from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`))).toBe("ENT_SETTLEMENT_UNKNOWN_SELLER");
    expect((await get(`${DAY}T23:59:59Z`, `${DAY}T00:00:00Z`)).statusCode).toBe(400);
    expect((await h.get(`/v1/sellers/S-POP-SZ-01/statements?from=${DAY}T00:00:00Z`)).statusCode).toBe(400);
  });

  it("answers a printable PDF that a PDF reader opens, with each account's opening, lines and closing in major units", async () => {
    const r = await get(`${DAY}T00:00:00Z`, `${DAY}T23:59:59Z`, "&format=pdf");
    expect([r.statusCode, r.headers["content-type"]]).toEqual([200, "application/pdf"]);
    expect(r.headers["content-disposition"]).toBe(`attachment; filename="statement-S-POP-SZ-01-${DAY}-${DAY}.pdf"`);
    // The cross-reference table points at each object exactly (pdf.js would repair a wrong one silently).
    const raw = r.rawPayload.toString("latin1");
    const xrefAt = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(raw)?.[1]);
    expect(raw.slice(xrefAt, xrefAt + 5)).toBe("xref\n");
    const offsets = [...raw.slice(xrefAt).matchAll(/^(\d{10}) 00000 n $/gm)].map((m) => Number(m[1]));
    expect(offsets.length).toBeGreaterThan(4);
    offsets.forEach((o, i) => expect(raw.slice(o, o + `${i + 1} 0 obj`.length)).toBe(`${i + 1} 0 obj`));
    const doc = await getDocument({ data: new Uint8Array(r.rawPayload), verbosity: 0 }).promise;
    let text = "";
    for (let i = 1; i <= doc.numPages; i++) {
      const content = await (await doc.getPage(i)).getTextContent();
      text += content.items.map((item) => ("str" in item ? `${item.str}${item.hasEOL ? "\n" : ""}` : "")).join("") + "\n";
    }
    const s = json<Statement>(await get(`${DAY}T00:00:00Z`, `${DAY}T23:59:59Z`));
    expect(text).toContain("Seller statement: Shenzhen Gadget Works (S-POP-SZ-01)");
    for (const a of s.accounts) {
      expect(text).toContain(`${a.account} (${a.currency})`);
      const closing = BigInt(a.closing);
      const major = `${closing < 0n ? "-" : ""}${(closing < 0n ? -closing : closing) / 100n}.${((closing < 0n ? -closing : closing) % 100n).toString().padStart(2, "0")}`;
      expect(text).toMatch(new RegExp(`Closing balance\\s+${major.replace(".", "\\.")}`));
    }
    expect(text.match(/ORD-ST-2/g)?.length).toBeGreaterThanOrEqual(2);
  });
});
