/**
 * Charges no order carries (storage for a period, a service invoiced on its own), as a finance team
 * books them: in USD, taken from the seller's available balance in its payout currency at the mid
 * rate, credited to the service's revenue line, once per charge id, and on the seller's statement.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { convertMinor } from "../../service/money/index.js";
import { csvRows, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

describe("seller charges", () => {
  let h: Harness;
  let writer: IssuedKey;
  const body = { chargeId: "STORAGE-2024-12-NB01", kind: "warehousing", amount: "1500", occurredAt: `${DAY}T20:00:00.000Z`, note: "storage 2024-12-02: 1.8 m3 x 1 day" };
  const balance = async (account: string, currency: string) => BigInt(json<{ posted: string }>(await h.get(`/v1/accounts/${account}/${currency}/balance`)).posted);

  beforeAll(async () => {
    h = await openHarness();
    await publishDayRates(h);
    writer = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
  });
  afterAll(async () => h.close());

  it("charges a CNY seller a storage fee priced in USD, at the day's mid rate, once", async () => {
    const created = await h.post("/v1/sellers/S-OVS-NB-01/charges", body, writer);
    expect(created.statusCode, created.body).toBe(201);
    const { charge } = json<{ charge: { currency: string; charged: string; rate: string; transactionId: string } }>(created);
    expect(charge.currency).toBe("CNY");
    // 15.00 USD at the day's published USD->CNY rate, half-even to the fen.
    expect(BigInt(charge.charged)).toBe(convertMinor(1500n, "USD", "CNY", charge.rate, "half-even"));
    expect(await balance("seller:S-OVS-NB-01:available", "CNY")).toBe(-BigInt(charge.charged));
    expect(await balance("platform:revenue:warehousing", "USD")).toBe(1500n);
    expect((await h.post("/v1/sellers/S-OVS-NB-01/charges", body, writer)).statusCode).toBe(200);
    const changed = await h.post("/v1/sellers/S-OVS-NB-01/charges", { ...body, amount: "1600" }, writer);
    expect([changed.statusCode, problemCode(changed)]).toEqual([409, "ENT_SETTLEMENT_CHARGE_CONFLICT"]);
    const tx = json<{ metadata: Record<string, string> }>(await h.get(`/v1/transactions/${charge.transactionId}`));
    expect(tx.metadata).toMatchObject({ kind: "seller_charge", feeKind: "warehousing", "fx.USD-CNY.rate": charge.rate });
    const statement = json<{ accounts: Array<{ account: string; lines: Array<{ what: string }> }> }>(
      await h.get(`/v1/sellers/S-OVS-NB-01/statements?from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z`),
    );
    expect(statement.accounts.find((a) => a.account === "seller:S-OVS-NB-01:available")?.lines.map((l) => l.what)).toContain("seller_charge");
    // The CSV and the PDF name the charge, as the JSON's description does.
    const csv = csvRows((await h.get(`/v1/sellers/S-OVS-NB-01/statements?from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z&format=csv`)).body);
    const col = (name: string) => csv[0]!.indexOf(name);
    const line = csv.find((r) => r[col("what")] === "seller_charge")!;
    expect(line[col("charge_id")]).toBe(body.chargeId);
    expect(line[col("description")]).toContain(body.note);
    const pdf = await h.get(`/v1/sellers/S-OVS-NB-01/statements?from=${DAY}T00:00:00Z&to=${DAY}T23:59:59Z&format=pdf`);
    // (The PDF's reference column holds 19 characters.)
    expect(pdf.rawPayload.toString("latin1")).toContain(body.chargeId.slice(0, 19));
  });

  it("refuses an unknown seller, a read-only key, a bad kind or amount, a future instant, more than an event may carry or older", async () => {
    expect((await h.post("/v1/sellers/S-NOBODY/charges", { ...body, chargeId: "X1" }, writer)).statusCode).toBe(404);
    expect((await h.post("/v1/sellers/S-OVS-NB-01/charges", { ...body, chargeId: "X2" }, h.keys.finance)).statusCode).toBe(403);
    for (const bad of [{ kind: "marketing" }, { amount: "0" }, { amount: "-5" }, { note: "" }, { occurredAt: new Date(Date.now() + 3_600_000).toISOString() }]) {
      const r = await h.post("/v1/sellers/S-OVS-NB-01/charges", { ...body, chargeId: "X3", ...bad }, writer);
      expect(r.statusCode, JSON.stringify(bad)).toBe(400);
    }
    // The events' bounds: no larger than MAX_AMOUNT_MINOR, no older than EVENT_MAX_AGE_DAYS.
    for (const [bad, field] of [[{ amount: "1000000000000001" }, "amount"], [{ occurredAt: "1970-01-01T00:00:00Z" }, "occurredAt"]] as const) {
      const r = await h.post("/v1/sellers/S-OVS-NB-01/charges", { ...body, chargeId: "X4", ...bad }, writer);
      expect([r.statusCode, problemCode(r)], r.body).toEqual([400, "ENT_SETTLEMENT_INVALID_EVENT"]);
      expect(json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)).toEqual([field]);
    }
    // The bound holds in the currency charged too: 10^15 USD cents is about 7.2 x 10^15 fen for this
    // CNY seller, past MAX_AMOUNT_MINOR of CNY (the attacker's case was 201).
    const converted = await h.post("/v1/sellers/S-OVS-NB-01/charges", { ...body, chargeId: "X4", amount: "1000000000000000" }, writer);
    expect([converted.statusCode, problemCode(converted), json<{ errors: Array<{ field: string }> }>(converted).errors.map((e) => e.field)]).toEqual([400, "ENT_SETTLEMENT_INVALID_EVENT", ["amount"]]);
    expect(json<{ detail: string }>(converted).detail).toMatch(/^amount converts to \d+ CNY minor units at .*, above the limit of 1000000000000000$/);
    expect((await h.post("/v1/sellers/S-OVS-NB-01/charges", { ...body, chargeId: "X4", amount: "100000000000000" }, writer)).statusCode).toBe(201);
  });
});
