/**
 * End to end, three-way: real settlement events booked through the real ledger, the journal
 * anchored on an in-process chain by the real anchoring service, gateway reports in both real
 * formats with discrepancies of every category planted (fixtures/README.md), each found, categorised
 * and evidenced; runs immutable in the database; a resolution with a balancing adjusting entry;
 * the report digest recomputable and queued for anchoring. On PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { CATEGORIES, reportDigest, runHeader, type ReconItem, type RunRecord } from "../../service/reconciliation/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { adyenEvents, bodyOf, fixture, lineOf, openReconHarness, stripeEvents, type ReconHarness } from "./harness.js";
import { outbox } from "../webhooks/outbox.js";
import { expectValidBodies, tapWebhooks, type WebhookTap } from "../webhooks/contract.js";

const kinds = await testDatabaseKinds();
const ADYEN = "adyen_settlement_detail_report_batch_42.csv";
const STRIPE = "stripe_balance_change_from_activity.itemized.csv";
const PERIOD = { from: new Date("2025-03-03T00:00:00Z"), to: new Date("2025-03-10T00:00:00Z") };
const RULES = { chain: { graceSeconds: 0 } };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return e.code;
    const err = e as { code?: string; message?: string };
    return err.code ?? err.message ?? "unknown";
  }
  throw new Error("expected a failure");
}

function only(items: ReconItem[], category: string, eventOrRef: string): ReconItem {
  const found = items.filter((i) => i.category === category && (i.gatewayEventId === eventOrRef || i.gatewayReference === eventOrRef));
  expect(found, `${category} for ${eventOrRef}`).toHaveLength(1);
  return found[0]!;
}

describe.each(kinds)("three-way reconciliation on %s", (kind) => {
  let h: ReconHarness;
  let tap: WebhookTap;
  let adyenRun: RunRecord;
  let adyenItems: ReconItem[];
  let stripeRun: RunRecord;
  let stripeItems: ReconItem[];
  const adyenText = fixture(ADYEN);
  const stripeText = fixture(STRIPE);

  beforeAll(async () => {
    h = await openReconHarness(kind);
    tap = await tapWebhooks(h.db.sql);
    const a = adyenEvents();
    const s = stripeEvents();
    await h.post([...a.before, ...s.before]);
    await h.anchorAll();
    // Booked after the anchoring pass: in the ledger and in the reports, not (yet) on chain.
    await h.post([...a.after, ...s.after]);
    const ai = await h.recon.importReport({ format: "adyen_settlement_details", fileName: ADYEN, body: bodyOf(adyenText) });
    const si = await h.recon.importReport({ format: "stripe_itemized_balance", fileName: STRIPE, body: bodyOf(stripeText, 777) });
    adyenRun = await h.recon.run({ importIds: [ai.import.id], ...PERIOD, rules: RULES });
    adyenItems = await h.recon.listItems(adyenRun.id);
    stripeRun = await h.recon.run({ importIds: [si.import.id], ...PERIOD, rules: RULES });
    stripeItems = await h.recon.listItems(stripeRun.id);
  }, 180_000);

  afterAll(async () => {
    await tap?.close();
    await h?.close();
  });

  describe("an Adyen settlement details report", () => {
    it("finds exactly the planted exceptions, one of every category", () => {
      const got = adyenItems.map((i) => `${i.category}:${i.gatewayEventId ?? i.gatewayReference}`).sort();
      expect(got).toEqual(
        [
          "amount_mismatch:8825000000000004",
          "currency_mismatch:8825000000000005",
          "duplicate:8825000000000007",
          "fx_difference:8825000000000006",
          "gateway_cost:null",
          "missing_at_gateway:8825000000000009",
          "missing_in_ledger:8825000000009999",
          "missing_on_chain:8825000000000014",
          "timing_difference:8825000000000008",
          "timing_difference:8825000000000016",
        ].sort(),
      );
      expect(new Set(adyenItems.map((i) => i.category))).toEqual(new Set(CATEGORIES));
    });

    it("matches the rest by the documented rules: split capture, refund by modification reference, fees in total, amount + date window", () => {
      const s = adyenRun.summary;
      expect(s.reportRows).toBe(19);
      expect(s.rowsByKind).toEqual({ capture: 13, refund: 1, chargeback: 1, chargeback_reversal: 1, fee: 1, payout: 1, other: 1 });
      // 13 rows by reference (the duplicate is not counted twice), 2 of them one split capture.
      expect(s.matched.byRule).toEqual({ exact_reference: 13, one_to_many_events: 1, fee_total: 1, amount_date_window: 1, payout_batch: 1 });
      expect(s.matched.rows).toBe(15);
      expect(s.payoutBatches).toEqual({ checked: 1, mismatched: 0 });
      expect(s.chain.enabled).toBe(true);
      expect(s.chain.notAnchored).toBe(1);
      expect(s.exceptions.total).toBe(adyenItems.length);
    });

    it("gives each exception its evidence: both sides, the rule, the difference", () => {
      const amount = only(adyenItems, "amount_mismatch", "8825000000000004");
      expect(amount).toMatchObject({ rule: "exact_reference", reportAmount: 2990n, ledgerAmount: 2850n, difference: 140n, market: "ES", sellerId: "S-POP-HK-02", currency: "EUR" });
      expect(amount.lines).toEqual([lineOf(adyenText, "8825000000000004")]);
      expect(amount.evidence).toMatchObject({ field: "amount", ledger: { amount: "2850", journalTransactionId: amount.journalTransactionId } });

      // The gateway's own deduction (DepositCorrection, 5.00 EUR off the batch) is not absorbed: it
      // is reported with the entry that books it against the receivable.
      const cost = adyenItems.find((i) => i.category === "gateway_cost")!;
      expect(cost).toMatchObject({ rule: "gateway_cost_row", currency: "EUR", reportAmount: -500n, ledgerAmount: 0n, difference: -500n });
      expect(cost.lines).toEqual([19]);
      expect(cost.evidence).toMatchObject({
        proposedAdjustment: {
          postings: [
            { account: "platform:reconciliation:gateway_costs", currency: "EUR", direction: "debit", amount: "500" },
            { account: "gateway:adyen:receivable", currency: "EUR", direction: "credit", amount: "500" },
          ],
        },
      });

      const currency = only(adyenItems, "currency_mismatch", "8825000000000005");
      expect(currency.evidence).toMatchObject({ reportCurrency: "USD", ledgerCurrency: "EUR" });

      const fx = only(adyenItems, "fx_difference", "8825000000000006");
      expect(fx.evidence).toMatchObject({ from: "BRL", to: "USD", gatewayRate: "0.18", ledgerRate: "0.17", differenceBps: "588.235", toleranceBps: 50 });

      const dup = only(adyenItems, "duplicate", "8825000000000007");
      expect(dup.lines).toEqual([lineOf(adyenText, "8825000000000007"), lineOf(adyenText, "8825000000000007", 2)]);

      const timing = only(adyenItems, "timing_difference", "8825000000000008");
      expect(timing.evidence).toMatchObject({ reportAt: "2025-03-07T08:00:00.000Z", ledgerAt: "2025-03-03T08:00:00.000Z", hoursApart: "96.00", toleranceHours: 48 });
      const lag = only(adyenItems, "timing_difference", "8825000000000016");
      expect(lag.rule).toBe("unmatched");

      const ghost = only(adyenItems, "missing_in_ledger", "8825000000009999");
      expect(ghost).toMatchObject({ settlementId: "ORD-AD-GHOST", reportAmount: 5555n, currency: "EUR", lines: [lineOf(adyenText, "8825000000009999")] });
      expect(ghost.evidence).toMatchObject({ referencesTried: { modification_reference: "8825000000009999", psp_reference: "8815000000009999" } });

      const missing = only(adyenItems, "missing_at_gateway", "8825000000000009");
      expect(missing).toMatchObject({ ledgerAmount: 1999n, lines: [], settlementId: "ORD-AD-9" });

      const chain = only(adyenItems, "missing_on_chain", "8825000000000014");
      expect(chain.evidence).toMatchObject({ state: "unanchored", requiredState: "submitted" });
      expect(chain.journalTransactionId).not.toBeNull();
    });

    it("reads the same chain states when the anchoring service is asked per journal transaction", async () => {
      // The run derives states from the anchor batches' journal ranges when it can; the plain
      // per-id path (statesOf only) must give the same report.
      const perId = h.recon.withChain({ statesOf: (ids) => h.anchor.statesOf(ids), enqueueDocument: (d) => h.anchor.enqueueDocument(d) });
      const again = await perId.run({ importIds: adyenRun.importIds, ...PERIOD, rules: RULES });
      const strip = (items: ReconItem[]) => items.map(({ seq: _s, ...rest }) => rest);
      expect(strip(await perId.listItems(again.id))).toEqual(strip(adyenItems));
      expect(again.summary.chain).toEqual(adyenRun.summary.chain);
    });

    it("stores the run immutably: the database refuses UPDATE and DELETE of runs and items", async () => {
      expect(await codeOf(h.db.sql.q(`UPDATE recon_runs SET item_count = 0 WHERE id = $1`, adyenRun.id))).toMatch(/append-only|23000/);
      expect(await codeOf(h.db.sql.q(`DELETE FROM recon_run_items WHERE run_id = $1`, adyenRun.id))).toMatch(/append-only|23000/);
      expect(await codeOf(h.db.sql.q(`UPDATE recon_imports SET row_count = 0`))).toMatch(/append-only|23000/);
      expect((await h.recon.getRun(adyenRun.id)).itemCount).toBe(adyenItems.length);
    });

    it("has a report digest anyone can recompute from the stored report, queued for anchoring", async () => {
      const stored = await h.recon.getRun(adyenRun.id);
      expect(stored.digest).toMatch(/^0x[0-9a-f]{64}$/);
      expect(reportDigest(adyenItems, runHeader(stored))).toBe(stored.digest);
      const tampered = adyenItems.map((i) => (i.seq === 1 ? { ...i, difference: (i.difference ?? 0n) + 1n } : i));
      expect(reportDigest(tampered, runHeader(stored))).not.toBe(stored.digest);
      // The digest is a document leaf of the next anchor batch; once anchored its proof is served.
      await h.anchorAll();
      const proof = (await h.recon.proof(adyenRun.id)) as { leaf?: unknown };
      expect(JSON.stringify(proof)).toContain(adyenRun.id);
    });
  });

  describe("a Stripe itemized balance report", () => {
    it("finds exactly the planted exceptions, one of every category, plus the payout that does not add up", () => {
      const got = stripeItems.map((i) => `${i.category}:${i.gatewayEventId ?? i.gatewayReference}`).sort();
      expect(got).toEqual(
        [
          "amount_mismatch:ch_3S4",
          "amount_mismatch:txn_1QEntrepotPAYO",
          "currency_mismatch:ch_3S5",
          "duplicate:dp_3S7",
          "fx_difference:ch_3S6",
          "missing_at_gateway:ch_3S10",
          "missing_in_ledger:txn_1QEntrepot00GH",
          "missing_on_chain:ch_3S12",
          "timing_difference:ch_3S9",
        ].sort(),
      );
    });

    it("reads customer-facing amounts, dispute reversals by balance transaction id, fee rows by source id", () => {
      const s = stripeRun.summary;
      expect(s.matched.byRule).toEqual({ exact_reference: 11 });
      expect(s.payoutBatches).toEqual({ checked: 1, mismatched: 1 });
      const fx = only(stripeItems, "fx_difference", "ch_3S6");
      expect(fx.evidence).toMatchObject({ from: "BRL", to: "USD", gatewayRate: "0.19", ledgerRate: "0.17" });
      const payout = only(stripeItems, "amount_mismatch", "txn_1QEntrepotPAYO");
      // The planted 1.00 short, and no more: the dispute sent twice counts once in what the payout pays.
      expect(payout).toMatchObject({ rule: "payout_batch", reportAmount: 16_340n, ledgerAmount: 16_240n, difference: 100n });
      expect(payout.evidence).toMatchObject({ batch: "po_1NvEntrepot42", rowsInBatch: 11 });
      const amount = only(stripeItems, "amount_mismatch", "ch_3S4");
      expect(amount).toMatchObject({ reportAmount: 5500n, ledgerAmount: 5000n, difference: 500n });
    });
  });

  describe("imports", () => {
    it("detects a re-imported file and answers with the original import", async () => {
      const again = await h.recon.importReport({ format: "adyen_settlement_details", body: bodyOf(adyenText, 100) });
      expect(again.status).toBe("exists");
      expect(again.import.id).toBe(adyenRun.importIds[0]);
      expect(await codeOf(h.recon.importReport({ format: "adyen_settlement_details", gateway: "adyen-eu", body: bodyOf(adyenText) }))).toBe("ENT_RECON_DUPLICATE_IMPORT");
    });

    it("keeps the file as received: the stored bytes are the imported bytes", async () => {
      const parts: Buffer[] = [];
      for await (const c of h.recon.importBytes(adyenRun.importIds[0]!)) parts.push(Buffer.from(c));
      expect(Buffer.concat(parts).toString("utf8")).toBe(adyenText);
    });
  });

  describe("resolutions", () => {
    it("announces each run, each of its exceptions and each resolution to webhooks, in their own transactions", async () => {
      const [done] = (await outbox(h.db.sql, "reconciliation.run_completed")).filter((e) => e.data.runId === adyenRun.id);
      expect(done).toMatchObject({ gateway: adyenRun.gateway, subject: `reconciliation_run:${adyenRun.id}`, data: { exceptions: adyenItems.length, digest: adyenRun.digest } });
      const opened = (await outbox(h.db.sql, "reconciliation.exception_opened")).filter((e) => e.data.runId === adyenRun.id);
      expect(opened.map((e) => e.data.itemId)).toEqual(adyenItems.map((i) => i.seq));
      expect(opened.map((e) => e.data.category)).toEqual(adyenItems.map((i) => i.category));
      // (On the Stripe run: the tests below count the Adyen run's resolutions.)
      const item = only(stripeItems, "fx_difference", "ch_3S6");
      await h.recon.resolve(stripeRun.id, item.seq, { note: "seen; nothing to book" });
      const resolved = (await outbox(h.db.sql, "reconciliation.exception_resolved")).filter((e) => e.data.runId === stripeRun.id);
      expect(resolved).toHaveLength(1);
      expect(resolved[0]).toMatchObject({ subject: `reconciliation_exception:${stripeRun.id}:${item.seq}`, gateway: stripeRun.gateway, data: { itemId: item.seq, note: "seen; nothing to book", category: "fx_difference" } });
      // Delivered, with every other event of the file so far, as /openapi.json's `webhooks` describes them.
      const seen = expectValidBodies(await tap.deliverAll(60_000));
      for (const t of ["reconciliation.run_completed", "reconciliation.exception_opened", "reconciliation.exception_resolved", "settlement.booked"]) expect(seen).toContain(t);
    });

    it("resolve an exception with a note and an adjusting entry that balances, once", async () => {
      const item = only(adyenItems, "amount_mismatch", "8825000000000004");
      const adjustment = {
        postings: [
          { account: "gateway:adyen:receivable", currency: "EUR", direction: "debit" as const, amount: 140n },
          { account: "platform:reconciliation:differences", currency: "EUR", direction: "credit" as const, amount: 140n },
        ],
      };
      const r = await h.recon.resolve(adyenRun.id, item.seq, { note: "Adyen settled 29.90; capture was booked at 28.50", adjustment });
      expect(r.status).toBe("created");
      const tx = r.transaction!;
      expect(tx.idempotencyKey).toBe(`recon:${adyenRun.id}:${item.seq}`);
      expect(tx.metadata).toMatchObject({ source: "reconciliation", runId: adyenRun.id, category: "amount_mismatch", settlementId: "ORD-AD-4" });
      const debits = tx.postings.filter((p) => p.direction === "debit").reduce((s, p) => s + p.amount, 0n);
      const credits = tx.postings.filter((p) => p.direction === "credit").reduce((s, p) => s + p.amount, 0n);
      expect(debits).toBe(credits);
      // A retry is the original; another resolution of the same item is a conflict.
      const again = await h.recon.resolve(adyenRun.id, item.seq, { note: "Adyen settled 29.90; capture was booked at 28.50", adjustment });
      expect(again.status).toBe("exists");
      expect(again.transaction?.id).toBe(tx.id);
      expect(await codeOf(h.recon.resolve(adyenRun.id, item.seq, { note: "something else" }))).toBe("ENT_RECON_RESOLUTION_CONFLICT");
      expect(await codeOf(h.db.sql.q(`DELETE FROM recon_resolutions WHERE run_id = $1`, adyenRun.id))).toMatch(/append-only|23000/);
      // The run itself is unchanged by the resolution.
      expect((await h.recon.getRun(adyenRun.id)).digest).toBe(adyenRun.digest);
    });

    it("keeps an exception's identity across runs: a re-run shows it resolved with its entry, and it cannot be booked twice", async () => {
      // Runs of their own over the same report, so this test runs alone. (Its bytes with a blank line
      // more are the same report: the import answers exists.)
      const imported = await h.recon.importReport({ format: "adyen_settlement_details", fileName: "rerun.csv", body: bodyOf(`${adyenText}\r\n`) });
      expect(imported.status).toBe("exists");
      const first = await h.recon.run({ importIds: [imported.import.id], ...PERIOD, rules: RULES });
      // (An exception no other test resolves: identity spans every run of the gateway.)
      const item = only(await h.recon.listItems(first.id), "currency_mismatch", "8825000000000005");
      const adjustment = {
        postings: [
          { account: "gateway:adyen:receivable", currency: "EUR", direction: "debit" as const, amount: 140n },
          { account: "platform:reconciliation:differences", currency: "EUR", direction: "credit" as const, amount: 140n },
        ],
      };
      const booked = await h.recon.resolve(first.id, item.seq, { note: "settled in another currency; difference booked", adjustment });
      expect(booked.status).toBe("created");
      const entries = async () => (await h.ledger.listTransactions({ metadata: { source: "reconciliation", runId: first.id } })).items.length;
      expect(await entries()).toBe(1);

      // The period run again: the same exception comes back resolved, linked to the same entry.
      const second = await h.recon.run({ importIds: [imported.import.id], ...PERIOD, rules: RULES });
      const again = only(await h.recon.listItems(second.id), "currency_mismatch", "8825000000000005");
      const carried = (await h.recon.listResolutions(second.id)).find((r) => r.itemSeq === again.seq);
      expect(carried).toMatchObject({ journalTransactionId: booked.transaction!.id, adjustment: null });
      expect(carried?.note).toMatch(new RegExp(`^carried from run ${first.id} item ${item.seq}: `));
      // Resolving it again books nothing: 409 naming the first resolution.
      let code = "";
      let details: Record<string, unknown> | undefined;
      try {
        await h.recon.resolve(second.id, again.seq, { note: "settled in another currency; difference booked", adjustment });
      } catch (e) {
        if (!isAppError(e)) throw e;
        code = e.code;
        details = e.details;
      }
      expect(code).toBe("ENT_RECON_RESOLUTION_CONFLICT");
      expect(details).toMatchObject({ resolvedInRun: first.id, resolvedItem: item.seq, journalTransactionId: booked.transaction!.id });
      expect((await h.ledger.listTransactions({ metadata: { source: "reconciliation", runId: second.id } })).items).toHaveLength(0);
      expect(await entries()).toBe(1);
      // Other exceptions of the second run stay open (or carry their own earlier resolutions).
      expect((await h.recon.listResolutions(second.id)).filter((r) => r.journalTransactionId === booked.transaction!.id)).toHaveLength(1);
    });

    it("refuses an adjusting entry that does not balance, with the ledger's code", async () => {
      const item = only(adyenItems, "missing_in_ledger", "8825000000009999");
      const bad = {
        postings: [
          { account: "gateway:adyen:receivable", currency: "EUR", direction: "debit" as const, amount: 5555n },
          { account: "platform:reconciliation:differences", currency: "EUR", direction: "credit" as const, amount: 5554n },
        ],
      };
      let code = "";
      try {
        await h.recon.resolve(adyenRun.id, item.seq, { note: "book it", adjustment: bad });
      } catch (e) {
        if (!isAppError(e)) throw e;
        code = `${e.code}/${String(e.details?.["ledgerCode"])}`;
      }
      expect(code).toBe("ENT_RECON_ADJUSTMENT_REJECTED/ENT_LEDGER_UNBALANCED");
      // Refused: no resolution was written for the item (whatever other tests resolved).
      expect((await h.recon.listResolutions(adyenRun.id)).filter((r) => r.itemSeq === item.seq)).toEqual([]);
    });
  });
});
