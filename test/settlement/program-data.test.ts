/**
 * Program data published through the settlement service, on both engines, with a clock of its own:
 * a fee schedule version effective tomorrow is ignored today and used from tomorrow (also by
 * another instance, within a second), versions are immutable, a version may not start in the past,
 * program data is re-read ahead of its expiry without events waiting for it, and a seller is
 * onboarded once.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FEE_SCHEDULES, SettlementService, type FeeSchedule } from "../../service/settlement/index.js";
import { DEFAULT_EVENT_LIMITS } from "../../service/settlement/validate.js";
import { rejected } from "../support/app-errors.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture } from "./fixtures.js";
import { gate, heldMethod } from "../support/held.js";
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

  it("re-reads program data ahead of its expiry without making events wait, and a read that a publish here overtook is read again", async () => {
    // The repository as the service sees it, with the last read of program data held back at will.
    let reads = 0;
    const answers = gate();
    const repository = heldMethod(h.repository, "listTaxRules", (listTaxRules) => async () => {
      reads++;
      await answers.wait();
      return listTaxRules();
    });
    const a = new SettlementService({ ledger: h.ledger, fx: h.fx, repository, limits: { ...DEFAULT_EVENT_LIMITS, now: () => clock } });
    const b = instance();
    const t0 = new Date("2025-03-07T12:00:00Z").getTime();
    const ms = (n: number) => new Date(t0 + n);
    const ev = (id: string, n: number) => capture({ sellerId: "S-POP-SZ-01", gatewayEventId: id, settlementId: `ORD-${id}`, occurredAt: ms(n) });
    clock = ms(0);
    const old = (await a.postEvent(ev("rd-0", -1_000))).settlement.breakdown.scheduleId;
    expect(reads).toBe(1);
    const base = FEE_SCHEDULES.find((f) => f.id === old) ?? FEE_SCHEDULES[0]!;
    const version = (id: string, from: number, commissionBps: number): FeeSchedule => ({ ...base, id, market: "BR", category: "*", effectiveFrom: ms(from), commissionBps });
    expect((await b.publishProgramItem({ kind: "schedule", schedule: version("pop-br-rd-1", 500, 1_700) }, "key-admin")).status).toBe("created");

    // At 800 ms the data is past its refresh age but under a second old: the event is answered from
    // it at once, while the read it started is held back; the next event starts no second read.
    const open = answers.hold();
    clock = ms(800);
    expect((await a.postEvent(ev("rd-1", 600))).settlement.breakdown.scheduleId).toBe(old);
    expect((await a.postEvent(ev("rd-2", 600))).settlement.breakdown.scheduleId).toBe(old);
    expect(reads).toBe(2);
    open();
    await vi.waitFor(async () => expect((await a.postEvent(ev(`rd-3-${Date.now()}`, 700))).settlement.breakdown.scheduleId).toBe("pop-br-rd-1"));
    expect(reads).toBe(2);

    // Past a second the event waits for the read. A version published through this instance while
    // that read is under way is in force for it: the read is made again.
    const late = answers.hold();
    clock = ms(2_500);
    let answered: string | null = null;
    const waiting = a.postEvent(ev("rd-4", 2_500)).then((r) => (answered = r.settlement.breakdown.scheduleId));
    await vi.waitFor(() => expect(reads).toBe(3));
    expect((await a.publishProgramItem({ kind: "schedule", schedule: version("pop-br-rd-2", 2_500, 1_800) }, "key-admin")).status).toBe("created");
    expect(answered).toBeNull();
    late();
    await waiting;
    expect(answered).toBe("pop-br-rd-2");
    expect(reads).toBe(4);
  });

  it("onboards a seller once: the same again exists, other content is a conflict, a bad program or currency is refused by field", async () => {
    const a = instance();
    const seller = { id: "S-POP-NEW-01", name: "Xiamen Tea Co", program: "pop" as const, payoutCurrency: "USD", homeCountry: "CN", gateways: ["adyen"] };
    expect((await a.publishProgramItem({ kind: "seller", seller }, "key-admin")).status).toBe("created");
    expect((await a.publishProgramItem({ kind: "seller", seller }, "key-admin")).status).toBe("exists");
    expect((await codeOf(a.publishProgramItem({ kind: "seller", seller: { ...seller, program: "semi_hosting" } }, "key-admin"))).code).toBe("ENT_SETTLEMENT_PROGRAM_DATA_CONFLICT");
    expect((await codeOf(a.publishProgramItem({ kind: "seller", seller: { ...seller, id: "S-X", payoutCurrency: "XYZ" } }, null))).field).toBe("payoutCurrency");
    const r = await a.postEvent(capture({ sellerId: seller.id, gatewayEventId: "pd-new-1", settlementId: "ORD-NEW-1", occurredAt: new Date("2025-03-06T10:00:00Z") }));
    expect(r.status).toBe("created");
    expect(r.settlement.breakdown.payoutCurrency).toBe("USD");
  });
});
