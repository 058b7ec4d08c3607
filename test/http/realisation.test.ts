/**
 * Remittances and revaluations over HTTP, as a gateway and a finance team use them: a gateway posts
 * its own remittance, signed; another gateway's key cannot post or read it; finance revalues at an
 * instant with a finance:write key and lists what was booked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, usdRates, type Harness } from "./harness.js";

describe("remittance and revaluation routes", () => {
  let h: Harness;
  let stripe: IssuedKey;
  let financeWrite: IssuedKey;
  const remittance = { gateway: "adyen", remittanceId: "ADY-PO-8841", currency: "BRL", amount: "14556", settledCurrency: "USD", settledAmount: "2390", occurredAt: `${DAY}T18:00:00.000Z` };

  beforeAll(async () => {
    h = await openHarness();
    await publishDayRates(h);
    stripe = await h.services.apiKeys.create({ name: "stripe", scopes: ["gateway:write"], gateway: "stripe" });
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    const posted = await h.signedPost("/v1/settlements/events", capture());
    expect(posted.statusCode, posted.body).toBe(201);
  });
  afterAll(async () => h.close());

  it("books a gateway's signed remittance once, with its realised FX, and only as that gateway", async () => {
    const created = await h.signedPost("/v1/remittances", remittance);
    expect(created.statusCode, created.body).toBe(201);
    const r = json<{ status: string; remittance: Record<string, string | null> }>(created).remittance;
    expect(r).toMatchObject({ gateway: "adyen", remittanceId: "ADY-PO-8841", amount: "14556", settledAmount: "2390", appliedRate: "0.1641934597" });
    // What arrived is what the cleared BRL were booked at, the exchange difference at mid and the
    // acquirer's spread against mid, whatever the day's rate was.
    expect(BigInt(r.bookedUsd ?? "") + BigInt(r.realised ?? "") + BigInt(r.conversion ?? "")).toBe(2390n);
    // Booked at the day's mid and remitted the same day: no exchange difference but a cent of rounding
    // (the capture booked the position as the gross's mid value less the fee's, each rounded); the
    // rest is the acquirer's spread.
    expect(Math.abs(Number(r.realised))).toBeLessThanOrEqual(1);
    expect((await h.signedPost("/v1/remittances", remittance, h.keys.gateway, { at: new Date(Date.now() + 5) })).statusCode).toBe(200);
    const changed = await h.signedPost("/v1/remittances", { ...remittance, settledAmount: "2391" });
    expect([changed.statusCode, problemCode(changed)]).toEqual([409, "ENT_REMITTANCE_CONFLICT"]);
    const other = await h.signedPost("/v1/remittances", { ...remittance, remittanceId: "X-1" }, stripe);
    expect([other.statusCode, problemCode(other)]).toEqual([403, "ENT_AUTH_GATEWAY_MISMATCH"]);
    expect((await h.post("/v1/remittances", { ...remittance, remittanceId: "X-2" }, h.keys.gateway)).statusCode).toBe(401);
    expect((await h.post("/v1/remittances", { ...remittance, remittanceId: "X-3" }, h.keys.finance)).statusCode).toBe(403);
    const tooMuch = await h.signedPost("/v1/remittances", { ...remittance, remittanceId: "X-4", amount: "1" });
    expect([tooMuch.statusCode, problemCode(tooMuch)]).toEqual([422, "ENT_REMITTANCE_EXCEEDS_RECEIVABLE"]);
    for (const bad of [{ amount: "-5" }, { amount: "0" }, { settledAmount: "1.5" }, { currency: "brl" }, { extra: 1 }, { occurredAt: "1900-01-01T00:00:00Z" }, { occurredAt: "0000-01-01T00:00:00Z" }]) {
      const res = await h.signedPost("/v1/remittances", { ...remittance, remittanceId: "X-5", ...bad });
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
    }
    // Older than the events' age limit (EVENT_MAX_AGE_DAYS): no capture it could clear is that old.
    const ancient = await h.signedPost("/v1/remittances", { ...remittance, remittanceId: "X-6", occurredAt: "1971-01-01T00:00:00Z" });
    expect([ancient.statusCode, problemCode(ancient), json<{ errors: Array<{ field: string }> }>(ancient).errors[0]?.field]).toEqual([400, "ENT_SETTLEMENT_INVALID_EVENT", "occurredAt"]);
    expect(json(await h.get("/v1/remittances/adyen/ADY-PO-8841", h.keys.gateway))).toMatchObject({ transactionId: r.transactionId });
    expect((await h.get("/v1/remittances/adyen/ADY-PO-8841", stripe)).statusCode).toBe(404);
    const bank = json<{ posted: string }>(await h.get("/v1/accounts/platform:cash:bank/USD/balance"));
    expect(bank.posted).toBe("2390");
  });

  it("revalues open positions with a finance:write key and lists the revaluations", async () => {
    // At the day's own rates nothing moved: the tax part the acquirer converted entered
    // fx:BRL-USD:tax at mid, its spread a conversion cost, so there is nothing to restate (at the
    // remittance's own rate the spread would be called unrealised FX here).
    const same = await h.post(`/v1/fx/revaluations?at=${encodeURIComponent(`${DAY}T20:00:00.000Z`)}`, {}, financeWrite);
    expect(same.statusCode, same.body).toBe(200);
    expect(json<{ status: string; revaluation: { lines: Array<{ currency: string; unrealised: string }> } }>(same)).toMatchObject({ status: "nothing" });
    expect(json<{ revaluation: { lines: Array<{ unrealised: string }> } }>(same).revaluation.lines.map((l) => l.unrealised)).toEqual(["0", "0"]);
    const next = await h.post("/v1/fx/rates", { rates: usdRates(["BRL", "CNY"], "2024-12-03", new Date("2024-12-03T00:00:00.000Z")) }, h.keys.admin);
    expect(next.statusCode, next.body).toBe(201);
    const url = `/v1/fx/revaluations?at=${encodeURIComponent("2024-12-03T20:00:00.000Z")}`;
    expect((await h.post(url, {}, h.keys.finance)).statusCode).toBe(403);
    expect((await h.post("/v1/fx/revaluations?at=yesterday", {}, financeWrite)).statusCode).toBe(400);
    const first = await h.post(url, {}, financeWrite);
    expect(first.statusCode, first.body).toBe(201);
    const rev = json<{ revaluation: { lines: Array<{ currency: string; position: string; unrealised: string; change: string }> } }>(first).revaluation;
    const brl = rev.lines.find((l) => l.currency === "BRL");
    // The BRL left after the remittance is the tax still owed in BRL: the federal import tax and Sao Paulo's ICMS.
    const owed = async (account: string) => BigInt(json<{ posted: string }>(await h.get(`/v1/accounts/${account}/BRL/balance`)).posted);
    expect(brl?.position).toBe(String((await owed("tax:BR:BR_REMESSA_CONFORME:payable")) + (await owed("tax:BR-SP:BR_ICMS:payable"))));
    expect(brl?.change).toBe(brl?.unrealised);
    expect((await h.post(url, {}, financeWrite)).statusCode).toBe(200);
    const listed = json<{ items: Array<{ at: string }> }>(await h.get("/v1/fx/revaluations"));
    expect(listed.items.map((i) => i.at)).toEqual(["2024-12-03T20:00:00.000Z"]);
  });
});
