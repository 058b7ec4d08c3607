/**
 * The maintenance tick: pending transfers past their timeout are voided and held POP proceeds are
 * released once due, through the real ledger and settlement service on a fresh test database.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMaintenanceTick, startMaintenance } from "../service/maintenance.js";
import { capture, followUp } from "./settlement/fixtures.js";
import { openSettlementHarness, type SettlementHarness } from "./settlement/harness.js";

describe("maintenance tick on pglite", () => {
  let h: SettlementHarness;
  // The ledger's clock, moved by hand: a pending transfer expires by it, not by the wall clock.
  let clock = new Date("2026-01-01T00:00:00Z");

  beforeAll(async () => {
    h = await openSettlementHarness("pglite", { now: () => clock });
    await h.fx.publishRates([
      { base: "BRL", quote: "USD", rate: "0.18", source: "test", asOf: new Date("2025-03-01T00:00:00Z"), validFrom: new Date("2025-03-01T00:00:00Z"), validUntil: new Date("2025-04-01T00:00:00Z") },
      { base: "USD", quote: "CNY", rate: "7.2", source: "test", asOf: new Date("2025-03-01T00:00:00Z"), validFrom: new Date("2025-03-01T00:00:00Z"), validUntil: new Date("2025-04-01T00:00:00Z") },
    ]);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  it("voids a pending transfer once its timeout has passed, and only then", async () => {
    const accounts = (["treasury:T1", "platform:float"] as const).map((code) => ({
      code,
      currency: "USD",
      ownerType: code.startsWith("treasury") ? ("treasury" as const) : ("platform" as const),
      ownerId: code,
      normalBalance: "debit" as const,
      allowNegative: true,
    }));
    const posted = await h.ledger.post({
      idempotencyKey: "maint-pending-1",
      pending: true,
      pendingTimeoutSeconds: 1,
      accounts,
      postings: [
        { account: "treasury:T1", currency: "USD", direction: "debit", amount: 500n },
        { account: "platform:float", currency: "USD", direction: "credit", amount: 500n },
      ],
    });
    expect(posted.transaction.status).toBe("pending");
    expect((await runMaintenanceTick(h)).expiredPending).toBe(0);
    clock = new Date(clock.getTime() + 999);
    expect((await runMaintenanceTick(h)).expiredPending).toBe(0);
    clock = new Date(clock.getTime() + 1);
    expect((await runMaintenanceTick(h)).expiredPending).toBe(1);
    expect((await h.ledger.getTransaction(posted.transaction.id))?.status).toBe("voided");
    expect((await h.ledger.balance("platform:float", "USD")).pendingCredits).toBe(0n);
  });

  it("releases held POP proceeds when their auto-confirm date has come, exactly once", async () => {
    const cap = capture({ gatewayEventId: "maint-cap-1", settlementId: "MAINT-ORD-1", sellerId: "S-POP-SZ-01" });
    const r = await h.settlement.postEvent(cap);
    expect(r.status).toBe("created");
    const before = await runMaintenanceTick(h, new Date("2025-03-02T00:00:00Z"));
    expect(before.released).toBe(0);
    const due = await runMaintenanceTick(h, new Date("2025-06-01T00:00:00Z"));
    expect(due.released).toBeGreaterThan(0);
    expect(due.releaseErrors).toBe(0);
    expect((await runMaintenanceTick(h, new Date("2025-06-01T00:00:00Z"))).released).toBe(0);
  });

  it("pages past captures that stay candidates but owe nothing (fully refunded before release)", async () => {
    // Old behaviour to guard against: a page of the oldest captures, all owing nothing, hid every later one.
    const caps = [1, 2, 3].map((i) =>
      capture({ gatewayEventId: `page-cap-${i}`, settlementId: `PAGE-ORD-${i}`, sellerId: "S-POP-SZ-01", occurredAt: new Date(`2025-03-0${i}T10:00:00Z`) }),
    );
    for (const c of caps) expect((await h.settlement.postEvent(c)).status).toBe("created");
    const refund = followUp("refund", "page-ref-1", { amount: caps[0]!.amount, occurredAt: new Date("2025-03-01T12:00:00Z") }, caps[0]);
    expect((await h.settlement.postEvent(refund)).status).toBe("created");

    const asOf = new Date("2025-06-01T00:00:00Z");
    const first = await h.settlement.releaseDue(asOf, 1);
    const second = await h.settlement.releaseDue(asOf, 1);
    expect(first.map((r) => r.status)).toEqual(["created"]);
    expect(second.map((r) => r.status)).toEqual(["created"]);
    expect(await h.settlement.releaseDue(asOf, 1)).toEqual([]);
  });
});

const noDeadlines = () => Promise.resolve({ checked: 0, overdue: 0 });

describe("maintenance tick, refused releases", () => {
  it("stops paging when asked to (the loop stopping, the term over): a backlog does not hold a graceful close or outlive the leadership", async () => {
    let calls = 0;
    const services = {
      ledger: { expirePending: () => Promise.resolve(0) },
      // An endless backlog of due releases, 500 a page.
      settlement: { releaseDue: () => (calls++, Promise.resolve(Array.from({ length: 500 }, () => ({ status: "created" })) as never)), checkDeliveryDeadlines: noDeadlines },
    };
    let more = 3;
    const r = await runMaintenanceTick(services, new Date("2025-06-01T00:00:00Z"), () => more-- > 0);
    expect(calls).toBe(4);
    expect(r.released).toBe(2_000);
  });

  it("counts them by error code with the first message, and stops paging on a page of only refusals", async () => {
    const refused = (code: string, message: string) => ({ status: "error" as const, error: { code, message } });
    const pages = [
      [...Array.from({ length: 499 }, () => ({ status: "created" })), refused("ENT_SETTLEMENT_LEDGER_REJECTED", "ledger refused settlement:adyen:auto-release.a: numeric field overflow")],
      [refused("ENT_SETTLEMENT_LEDGER_REJECTED", "ledger refused settlement:adyen:auto-release.b: numeric field overflow"), refused("ENT_SETTLEMENT_NOTHING_TO_RELEASE", "capture x has no held proceeds to release")],
      [{ status: "created" }],
    ];
    let calls = 0;
    const services = {
      ledger: { expirePending: () => Promise.resolve(0) },
      settlement: { releaseDue: () => Promise.resolve(pages[calls++] as never), checkDeliveryDeadlines: noDeadlines },
    };
    const r = await runMaintenanceTick(services, new Date("2025-06-01T00:00:00Z"));
    expect(calls).toBe(2);
    expect(r).toEqual({
      expiredPending: 0,
      released: 499,
      releaseErrors: 3,
      releaseErrorCodes: {
        ENT_SETTLEMENT_LEDGER_REJECTED: { count: 2, first: "ledger refused settlement:adyen:auto-release.a: numeric field overflow" },
        ENT_SETTLEMENT_NOTHING_TO_RELEASE: { count: 1, first: "capture x has no held proceeds to release" },
      },
      newReleaseErrors: 3,
      newReleaseErrorCodes: {
        ENT_SETTLEMENT_LEDGER_REJECTED: { count: 2, first: "ledger refused settlement:adyen:auto-release.a: numeric field overflow" },
        ENT_SETTLEMENT_NOTHING_TO_RELEASE: { count: 1, first: "capture x has no held proceeds to release" },
      },
      deadlinesChecked: 0,
      overdueDeliveries: 0,
    });
  });

  it("logs a refusal at error level on its first attempt only: its retries (with backoff) are info", async () => {
    const refused = (attempt: number) => ({ status: "error" as const, error: { code: "ENT_SETTLEMENT_LEDGER_REJECTED", message: `ledger refused settlement:adyen:auto-release~7 (${attempt})` }, attempt });
    const pages = [[refused(1)], [refused(2)], [refused(3), refused(1)]];
    let calls = 0;
    const errors: Array<{ obj: object; msg: string }> = [];
    const infos: Array<{ obj: object; msg: string }> = [];
    const log = { error: (obj: object, msg: string) => void errors.push({ obj, msg }), info: (obj: object, msg: string) => void infos.push({ obj, msg }) };
    let done = () => undefined as void;
    const ticked = new Promise<void>((resolve) => (done = resolve));
    const services = {
      ledger: { expirePending: () => Promise.resolve(0) },
      settlement: {
        releaseDue: () => {
          if (calls === pages.length) done();
          return Promise.resolve((pages[calls++] ?? []) as never);
        },
        checkDeliveryDeadlines: noDeadlines,
      },
    };
    const loop = startMaintenance(services, { intervalMs: 1, log });
    await ticked;
    await loop.stop();
    expect(errors.map((e) => [e.msg, e.obj])).toEqual([
      ["some due releases were refused", { releaseErrors: 1, byCode: { ENT_SETTLEMENT_LEDGER_REJECTED: { count: 1, first: "ledger refused settlement:adyen:auto-release~7 (1)" } } }],
      ["some due releases were refused", { releaseErrors: 1, byCode: { ENT_SETTLEMENT_LEDGER_REJECTED: { count: 1, first: "ledger refused settlement:adyen:auto-release~7 (1)" } } }],
    ]);
    expect(infos.filter((i) => i.msg.startsWith("due releases still refused")).map((i) => (i.obj as { releaseErrors: number }).releaseErrors)).toEqual([1, 1]);
  });
});
