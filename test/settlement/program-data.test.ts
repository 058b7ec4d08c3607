/**
 * Program data published through the settlement service, on both engines, with a clock of its own:
 * a fee schedule version effective tomorrow is ignored today and used from tomorrow (also by
 * another instance, within a second), versions are immutable, a version may not start in the past,
 * and a seller is onboarded once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FEE_SCHEDULES, SettlementService, type FeeSchedule } from "../../service/settlement/index.js";
import { DEFAULT_EVENT_LIMITS } from "../../service/settlement/validate.js";
import { rejected } from "../chain/support/app-errors.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture } from "./fixtures.js";
import { marchRate, openSettlementHarness, type SettlementHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

async function codeOf(p: Promise<unknown>): Promise<{ code: string; field: string | undefined }> {
  const e = await rejected(p);
  return { code: e.code, field: e.fields?.[0]?.field };
}

describe.each(kinds)("program data published through the service on %s", (kind) => {
  let h: SettlementHarness;
  let clock = new Date("2025-03-05T12:00:00Z");
  const instance = () => new SettlementService({ ledger: h.ledger, fx: h.fx, repository: h.repository, limits: { ...DEFAULT_EVENT_LIMITS, now: () => clock } });

  beforeAll(async () => {
    h = await openSettlementHarness(kind);
    await h.fx.publishRates([marchRate("BRL", "USD", "0.18"), marchRate("USD", "CNY", "7.2")]);
  }, 120_000);
  afterAll(async () => h?.close());

  it("uses a fee schedule version from its effectiveFrom on: ignored today, in force tomorrow, on another instance too", async () => {
    const a = instance();
    const b = instance();
    const ev = (id: string, at: string) => capture({ sellerId: "S-POP-SZ-01", gatewayEventId: id, settlementId: `ORD-${id}`, occurredAt: new Date(at) });
    const before = await b.postEvent(ev("pd-0", "2025-03-05T11:00:00Z"));
    const current = before.settlement.breakdown.scheduleId;

    const base = FEE_SCHEDULES.find((f) => f.id === current)!;
    const next: FeeSchedule = { ...base, id: "pop-br-2025-03-06", market: "BR", category: "*", effectiveFrom: new Date("2025-03-06T00:00:00Z"), commissionBps: 1_500 };
    expect((await a.publishProgramItem({ kind: "schedule", schedule: next }, "key-admin")).status).toBe("created");
    expect((await a.publishProgramItem({ kind: "schedule", schedule: next }, "key-admin")).status).toBe("exists");
    expect(await codeOf(a.publishProgramItem({ kind: "schedule", schedule: { ...next, commissionBps: 1_600 } }, "key-admin"))).toEqual({ code: "ENT_SETTLEMENT_PROGRAM_DATA_CONFLICT", field: "id" });
    expect(await codeOf(a.publishProgramItem({ kind: "schedule", schedule: { ...next, id: "retroactive", effectiveFrom: new Date("2025-03-01T00:00:00Z") } }, "key-admin"))).toEqual({
      code: "ENT_SETTLEMENT_INVALID_SCHEDULE",
      field: "effectiveFrom",
    });
    expect(await codeOf(a.publishProgramItem({ kind: "schedule", schedule: { ...next, id: "too-much", commissionBps: 10_001 } }, "key-admin"))).toMatchObject({ field: "commissionBps" });

    // Today: the version in force is still the old one.
    expect((await a.postEvent(ev("pd-1", "2025-03-05T12:00:00Z"))).settlement.breakdown.scheduleId).toBe(current);
    // Tomorrow: the new one, here and on the other instance (whose program data is more than a second old).
    clock = new Date("2025-03-06T12:00:00Z");
    const tomorrow = await a.postEvent(ev("pd-2", "2025-03-06T11:00:00Z"));
    expect(tomorrow.settlement.breakdown.scheduleId).toBe(next.id);
    expect(tomorrow.settlement.breakdown.lines.commission).toBeGreaterThan(before.settlement.breakdown.lines.commission);
    expect((await b.postEvent(ev("pd-3", "2025-03-06T11:30:00Z"))).settlement.breakdown.scheduleId).toBe(next.id);
    // A late event of yesterday keeps yesterday's version.
    expect((await b.postEvent(ev("pd-4", "2025-03-05T23:00:00Z"))).settlement.breakdown.scheduleId).toBe(current);
  });

  it("onboards a seller once: the same again exists, other content is a conflict, a bad program or currency is refused by field", async () => {
    const a = instance();
    const seller = { id: "S-POP-NEW-01", name: "Xiamen Tea Co", program: "pop" as const, payoutCurrency: "USD", homeCountry: "CN" };
    expect((await a.publishProgramItem({ kind: "seller", seller }, "key-admin")).status).toBe("created");
    expect((await a.publishProgramItem({ kind: "seller", seller }, "key-admin")).status).toBe("exists");
    expect((await codeOf(a.publishProgramItem({ kind: "seller", seller: { ...seller, program: "semi_hosting" } }, "key-admin"))).code).toBe("ENT_SETTLEMENT_PROGRAM_DATA_CONFLICT");
    expect((await codeOf(a.publishProgramItem({ kind: "seller", seller: { ...seller, id: "S-X", payoutCurrency: "XYZ" } }, null))).field).toBe("payoutCurrency");
    const r = await a.postEvent(capture({ sellerId: seller.id, gatewayEventId: "pd-new-1", settlementId: "ORD-NEW-1", occurredAt: new Date("2025-03-06T10:00:00Z") }));
    expect(r.status).toBe("created");
    expect(r.settlement.breakdown.payoutCurrency).toBe("USD");
  });
});
