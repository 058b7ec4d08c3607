/**
 * Remittances from an imported report's payout lines, as a finance team books them: an Adyen
 * settlement details report whose BRL payment the acquirer converted to USD and paid out in batch 7,
 * imported, then POST /v1/reconciliation/imports/:id/remittances clears the receivable at the
 * acquirer's rate and realises the FX, once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADYEN_COLUMNS } from "../../service/reconciliation/index.js";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

function adyenRow(row: Partial<Record<(typeof ADYEN_COLUMNS)[number], string>>): string {
  const base: Record<string, string> = { "Company Account": "EntrepotMarketplace", "Merchant Account": "EntrepotMarketplaceBR", TimeZone: "CET", "Batch Number": "7" };
  const all = { ...base, ...row };
  return ADYEN_COLUMNS.map((c) => all[c] ?? "").join(",");
}

// 149.90 BRL at 0.17 is 25.48 USD; the 0.68 USD of commission is 4.00 BRL at that rate: the
// gateway fee the capture was booked with. Net 24.80 USD, paid out that night.
const REPORT = [
  ADYEN_COLUMNS.join(","),
  adyenRow({
    "Psp Reference": "PSP-PR-1",
    "Modification Reference": "evt-pr-1",
    "Merchant Reference": "ORD-PR-1",
    "Payment Method": "elo",
    "Creation Date": `${DAY} 11:00:00`,
    Type: "Settled",
    "Gross Currency": "BRL",
    "Gross Credit (GC)": "149.90",
    "Exchange Rate": "0.17",
    "Net Currency": "USD",
    "Net Credit (NC)": "24.80",
    "Commission (NC)": "0.68",
  }),
  adyenRow({ "Creation Date": `${DAY} 23:30:00`, Type: "MerchantPayout", "Net Currency": "USD", "Net Debit (NC)": "24.80", "Modification Reference": "TX7 batch 7" }),
].join("\r\n");

describe("remittances from a report's payout lines", () => {
  let h: Harness;
  const bal = async (account: string, currency: string) => json<{ posted: string }>(await h.get(`/v1/accounts/${account}/${currency}/balance`)).posted;

  beforeAll(async () => {
    h = await openHarness();
    await publishDayRates(h);
    const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-pr-1", settlementId: "ORD-PR-1", amount: "14990", gatewayFee: "400" }));
    if (r.statusCode !== 201) throw new Error(r.body);
  }, 120_000);
  afterAll(async () => h?.close());

  it("books the payout as a remittance: the BRL receivable cleared at the acquirer's rate, the USD at the bank, the FX realised; a second call answers exists", async () => {
    const imported = await h.app.inject({ method: "POST", url: "/v1/reconciliation/imports?format=adyen_settlement_details", payload: REPORT, headers: { "content-type": "text/csv", authorization: `Bearer ${h.keys.admin.key}` } });
    expect(imported.statusCode, imported.body).toBe(201);
    const importId = json<{ import: { id: string } }>(imported).import.id;
    expect(await bal("gateway:adyen:receivable", "BRL")).toBe("14590");

    const url = `/v1/reconciliation/imports/${importId}/remittances`;
    expect((await h.post(url, {}, h.keys.finance)).statusCode).toBe(403); // finance:read cannot book
    const r = await h.post(url, {}, h.keys.admin);
    expect(r.statusCode, r.body).toBe(200);
    const body = json<{ gateway: string; items: Array<{ remittanceId: string; status: string; line: number; remittance: { currency: string; amount: string; settledCurrency: string; settledAmount: string; appliedRate: string; realised: string; conversion: string; occurredAt: string } }>; skipped: unknown[] }>(r);
    expect(body.gateway).toBe("adyen");
    expect(body.skipped).toEqual([]);
    expect(body.items.map((i) => [i.remittanceId, i.status, i.line])).toEqual([["7", "created", 3]]);
    const rem = body.items[0]!.remittance;
    expect(rem).toMatchObject({ currency: "BRL", amount: "14590", settledCurrency: "USD", settledAmount: "2480", occurredAt: `${DAY}T22:30:00.000Z` });
    expect(rem.appliedRate).toBe("0.169979438"); // 2480 / 14590
    // The receivable is cleared; the bank holds what Adyen paid; what the BRL position was booked at
    // and what it fetched differ by the realised FX.
    expect(await bal("gateway:adyen:receivable", "BRL")).toBe("0");
    expect(await bal("platform:cash:bank", "USD")).toBe("2480");
    // The 9968 BRL the capture converted (149.90 less ICMS 25.48, import tax 20.74 and the 4.00 fee)
    // were booked at the day's mid (0.164939555...: 1644.12 -> 1644 cents), still the mid rate when
    // Adyen paid out: no exchange difference. Adyen converted the whole 14590 BRL at 0.16998, above
    // the mid value 14590 x 0.164939555... = 2406.47 -> 2406: 2480 - 2406 = 74 cents of conversion
    // gain, credited to platform:expense:fx_conversion (before the split: 50 of "realised FX", the
    // tax part's 24 left in fx:BRL-USD:tax for the revaluation).
    expect([rem.realised, rem.conversion]).toEqual(["0", "74"]);
    expect(await bal("platform:expense:fx_conversion", "USD")).toBe("-74");

    const again = json<{ items: Array<{ status: string }> }>(await h.post(url, {}, h.keys.admin));
    expect(again.items.map((i) => i.status)).toEqual(["exists"]);
    expect(await bal("platform:cash:bank", "USD")).toBe("2480");
    // It reads back as any remittance, under the payout's batch.
    expect(json<{ remittanceId: string; settledAmount: string }>(await h.get("/v1/remittances/adyen/7", h.keys.finance))).toMatchObject({ remittanceId: "7", settledAmount: "2480" });
  });

  it("answers 404 for an unknown import", async () => {
    const r = await h.post("/v1/reconciliation/imports/imp_00000000000000000000/remittances", {}, h.keys.admin);
    expect([r.statusCode, problemCode(r)]).toEqual([404, "ENT_RECON_IMPORT_NOT_FOUND"]);
  });
});
