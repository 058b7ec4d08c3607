import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, openHarness, problemCode, type Harness } from "./harness.js";

describe("FX routes", () => {
  let h: Harness;
  const now = () => new Date();
  beforeAll(async () => {
    h = await openHarness({ env: { FX_MAX_RATE_AGE_SECONDS: "3600", FX_MARKUP_BPS: "50" }, programData: false });
  });
  afterAll(async () => h.close());
  // Each test publishes the rates it reads (in force from now), so any test runs alone.
  const publish = async (quote: string, rate: string) => {
    const r = await h.post("/v1/fx/rates", { rates: [{ base: "USD", quote, rate, source: "ops-test", asOf: now().toISOString() }] }, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
  };

  it("publishes rates (admin) and is idempotent per pair, source and validFrom", async () => {
    const rate = { base: "USD", quote: "BRL", rate: "6.0412", source: "ops-test", asOf: now().toISOString() };
    const r = await h.post("/v1/fx/rates", { rates: [rate] }, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    const first = json<{ rates: Array<{ id: string; rate: string }> }>(r).rates[0];
    expect(first?.rate).toBe("6.0412");
    const again = json<{ rates: Array<{ id: string }> }>(await h.post("/v1/fx/rates", { rates: [rate] }, h.keys.admin)).rates[0];
    expect(again?.id).toBe(first?.id);
    const conflict = await h.post("/v1/fx/rates", { rates: [{ ...rate, rate: "6.5" }] }, h.keys.admin);
    expect(conflict.statusCode).toBe(409);
    expect(problemCode(conflict)).toBe("ENT_FX_RATE_CONFLICT");
  });

  it("refuses an unknown currency: 400 ENT_MONEY_UNKNOWN_CURRENCY naming the field", async () => {
    const r = await h.post("/v1/fx/rates", { rates: [{ base: "USD", quote: "XYZ", rate: "1.1", source: "t", asOf: now().toISOString() }] }, h.keys.admin);
    expect(r.statusCode).toBe(400);
    expect(problemCode(r)).toBe("ENT_MONEY_UNKNOWN_CURRENCY");
    expect(json<{ errors: Array<{ field: string }> }>(r).errors[0]?.field).toBe("rates.0.quote");
    const q = await h.signedPost("/v1/fx/quotes", { base: "QQQ", quote: "USD" });
    expect(problemCode(q)).toBe("ENT_MONEY_UNKNOWN_CURRENCY");
  });

  it("resolves the rate in force, inverse and through the pivot", async () => {
    await publish("BRL", "6.0412");
    await publish("CNY", "7.2456");
    const direct = json<{ rate: string; path: string }>(await h.get("/v1/fx/rates/USD/BRL"));
    expect(direct).toMatchObject({ rate: "6.0412", path: "USD->BRL" });
    const cross = await h.get("/v1/fx/rates/BRL/CNY", h.keys.gateway);
    expect(cross.statusCode, cross.body).toBe(200);
    expect(json<{ path: string; legs: unknown[] }>(cross)).toMatchObject({ path: "BRL->USD->CNY" });
  });

  it("answers ENT_FX_RATE_NOT_FOUND for a pair never published and ENT_FX_RATE_STALE for an old rate", async () => {
    const missing = await h.get("/v1/fx/rates/USD/KRW");
    expect(missing.statusCode).toBe(422);
    expect(problemCode(missing)).toBe("ENT_FX_RATE_NOT_FOUND");
    const old = new Date(Date.now() - 2 * 3600_000);
    await h.post("/v1/fx/rates", { rates: [{ base: "USD", quote: "EUR", rate: "0.92", source: "ops-test", asOf: old.toISOString(), validUntil: new Date(Date.now() + 3600_000).toISOString() }] }, h.keys.admin);
    const stale = await h.get("/v1/fx/rates/USD/EUR");
    expect(stale.statusCode).toBe(422);
    expect(problemCode(stale)).toBe("ENT_FX_RATE_STALE");
  });

  it("locks a quote (signed gateway write) with the configured markup and reads it back", async () => {
    await publish("BRL", "6.0412");
    const r = await h.signedPost("/v1/fx/quotes", { base: "BRL", quote: "USD" });
    expect(r.statusCode, r.body).toBe(201);
    const q = json<{ id: string; markupBps: number; midRate: string; allInRate: string; expiresAt: string }>(r);
    expect(q.markupBps).toBe(50);
    expect(Number(q.allInRate)).toBeLessThan(Number(q.midRate));
    const back = await h.get(`/v1/fx/quotes/${q.id}`);
    expect(json(back)).toEqual(q);
    const unsigned = await h.post("/v1/fx/quotes", { base: "BRL", quote: "USD" }, h.keys.gateway);
    expect(problemCode(unsigned)).toBe("ENT_AUTH_SIGNATURE_MISSING");
    const missing = await h.get("/v1/fx/quotes/fxq_nope");
    expect(missing.statusCode).toBe(404);
    expect(problemCode(missing)).toBe("ENT_FX_QUOTE_NOT_FOUND");
  });

  it("refuses an FX write from a gateway key: 403", async () => {
    const r = await h.post("/v1/fx/rates", { rates: [{ base: "USD", quote: "BRL", rate: "1", source: "x", asOf: now().toISOString() }] }, h.keys.gateway);
    expect(problemCode(r)).toBe("ENT_AUTH_INSUFFICIENT_SCOPE");
  });
});
