/**
 * The maintenance worker's releases against a gateway that squats their ids, and against releases
 * the ledger keeps refusing: through the real ledger and settlement service on a fresh database.
 *
 * Before: a gateway that posted `auto-release.<its capture>` first left that capture held for good
 * (ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT every tick), and 500 such refusals, read first by id every
 * tick, kept every later release (of any gateway) from being reached at all.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMaintenanceTick } from "../../service/maintenance.js";
import type { Ledger } from "../../service/ledger/types.js";
import { SettlementService, type SettlementEvent } from "../../service/settlement/index.js";
import { capture, followUp } from "./fixtures.js";
import { marchRate, openSettlementHarness, type SettlementHarness } from "./harness.js";
import { testDatabaseKinds } from "../support/db.js";

const kinds = await testDatabaseKinds();
const SELLER = "S-POP-SZ-01";
/** Past every test capture's auto-confirm instant (15 days after early March 2025). */
const AS_OF = new Date("2025-06-01T00:00:00Z");

describe.each(kinds)("auto-releases on %s", (kind) => {
  let h: SettlementHarness;

  beforeAll(async () => {
    h = await openSettlementHarness(kind);
    await h.fx.publishRates([marchRate("BRL", "USD", "0.18"), marchRate("USD", "CNY", "7.2")]);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  const pop = (gatewayEventId: string, over: Partial<SettlementEvent> = {}) => capture({ gatewayEventId, settlementId: `ORD-${gatewayEventId}`, sellerId: SELLER, ...over });
  const types = async (settlementId: string) => (await h.settlement.listForOrder(settlementId)).map((r) => `${r.event.type} ${r.event.gatewayEventId}`);
  /** What the code before the prefixes were reserved let a gateway do: take a record's event key (test-only rewrite). */
  const squat = async (gatewayEventId: string, asId: string) => {
    const key = `settlement:adyen:${gatewayEventId}`;
    await h.sql.q(`UPDATE settlements SET event_key = $1, gateway_event_id = $2, capture_key = CASE WHEN capture_key = $3 THEN $1 ELSE capture_key END WHERE event_key = $3`, `settlement:adyen:${asId}`, asId, key);
  };

  it("refuses a gateway's capture under the release prefix: 400 ENT_SETTLEMENT_RESERVED_EVENT_ID naming gatewayEventId", async () => {
    const refused = await h.settlement.postEvents([pop("auto-release.hj-1", { amount: 1n, gatewayFee: 0n }), pop("auto-reserve.hj-1", { amount: 1n, gatewayFee: 0n })]);
    expect(refused.map((r) => (r.status === "error" ? [r.error.code, r.error.fields?.map((f) => f.field)] : r.status))).toEqual([
      ["ENT_SETTLEMENT_RESERVED_EVENT_ID", ["events.0.gatewayEventId"]],
      ["ENT_SETTLEMENT_RESERVED_EVENT_ID", ["events.1.gatewayEventId"]],
    ]);
    await expect(h.settlement.postEvent(followUp("release", "auto-release.x", {}, pop("hj-0")))).rejects.toMatchObject({ code: "ENT_SETTLEMENT_RESERVED_EVENT_ID", status: 400 });
  });

  it("still releases a capture whose old release id a gateway squatted before the prefix was reserved, exactly once", async () => {
    const victim = pop("hj-1");
    expect((await h.settlement.postEvent(victim)).status).toBe("created");
    // The squat, as the old code booked it: a capture of 1 under `auto-release.hj-1`.
    expect((await h.settlement.postEvent(pop("squat-hj-1", { amount: 1n, gatewayFee: 0n }))).status).toBe("created");
    await squat("squat-hj-1", "auto-release.hj-1");
    const capId = (await h.settlement.getSettlement("settlement:adyen:hj-1")).id;

    const first = await h.settlement.releaseDue(AS_OF);
    expect(first.map((r) => r.status)).toEqual(["created"]); // the squat of 1 holds nothing (its fees exceed it)
    expect(await types("ORD-hj-1")).toEqual(["capture hj-1", `release auto-release~${capId}`]);
    expect(await h.settlement.releaseDue(AS_OF)).toEqual([]);
    expect((await h.ledger.balance(`seller:${SELLER}:held`, "CNY")).posted).toBe(0n);
  });

  it("recognises a release booked under the old id: the capture is not released twice", async () => {
    const cap = pop("old-1");
    expect((await h.settlement.postEvent(cap)).status).toBe("created");
    expect((await h.settlement.postEvent(followUp("release", "old-1-rel", { occurredAt: new Date("2025-03-16T10:00:00Z") }, cap))).status).toBe("created");
    await squat("old-1-rel", "auto-release.old-1"); // as the worker booked it before
    expect(await h.settlement.releaseDue(AS_OF)).toEqual([]);
    expect(await types("ORD-old-1")).toEqual(["capture old-1", "release auto-release.old-1"]);
  });

  it("takes a gateway's own release booked while the worker planned its release for no refusal: nothing recorded, nothing answered", async () => {
    const cap = pop("race-1");
    expect((await h.settlement.postEvent(cap)).status).toBe("created");
    let raced = false;
    // The gateway's release lands between the worker's read of the chain and its booking.
    const racing = new Proxy(h.ledger, {
      get(target, prop) {
        if (prop === "postBatch") {
          return async (txs: Parameters<Ledger["postBatch"]>[0]) => {
            if (!raced && txs.some((t) => t.idempotencyKey.includes("auto-release~"))) {
              raced = true;
              expect((await h.settlement.postEvent(followUp("release", "race-1-rel", { occurredAt: new Date("2025-03-20T10:00:00Z") }, cap))).status).toBe("created");
            }
            return target.postBatch(txs);
          };
        }
        const v: unknown = Reflect.get(target, prop);
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const worker = new SettlementService({ ledger: racing, fx: h.fx, repository: h.repository });
    const tick = await runMaintenanceTick({ ledger: h.ledger, settlement: worker }, AS_OF);
    expect(raced).toBe(true);
    expect([tick.released, tick.releaseErrors, tick.newReleaseErrors], JSON.stringify(tick.releaseErrorCodes)).toEqual([0, 0, 0]);
    expect(await types("ORD-race-1")).toEqual(["capture race-1", "release race-1-rel"]);
    expect(await h.sql.q(`SELECT capture_key FROM settlement_release_failures WHERE capture_key = $1`, "settlement:adyen:race-1")).toEqual([]);
  });

  it("backs off releases the ledger keeps refusing, so 501 of them do not keep a due release of another gateway from being reached", async () => {
    // adyen's releases are refused (as a frozen account or a squatted id would have them), stripe's booked.
    const refusing = new Proxy(h.ledger, {
      get(target, prop) {
        if (prop === "postBatch") {
          return async (txs: Parameters<Ledger["postBatch"]>[0]) => {
            const refused = (i: number) => txs[i]!.idempotencyKey.startsWith("settlement:adyen:auto-release");
            const passed = await target.postBatch(txs.filter((_, i) => !refused(i)));
            let next = 0;
            return txs.map((_, i) => (refused(i) ? { status: "error" as const, error: { code: "ENT_LEDGER_TEST_REFUSED", message: "refused by the test" } } : passed[next++]!));
          };
        }
        const v: unknown = Reflect.get(target, prop);
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const worker = new SettlementService({ ledger: refusing, fx: h.fx, repository: h.repository });
    const stuck = Array.from({ length: 501 }, (_, i) => pop(`stuck-${i}`, { occurredAt: new Date("2025-03-02T10:00:00Z") }));
    expect((await h.settlement.postEvents(stuck)).every((r) => r.status === "created")).toBe(true);
    const victim = pop("victim-1", { gateway: "stripe", occurredAt: new Date("2025-03-03T10:00:00Z") });
    expect((await h.settlement.postEvent(victim)).status).toBe("created");
    const tick = (at: Date) => runMaintenanceTick({ ledger: h.ledger, settlement: worker }, at);
    const failures = async () =>
      (await h.sql.q<Array<{ n: number; attempts: number; code: string }>>(`SELECT count(*)::int AS n, max(attempts) AS attempts, max(last_code) AS code FROM settlement_release_failures`))[0]!;

    const t1 = await tick(AS_OF);
    expect([t1.released, t1.releaseErrors, Object.keys(t1.releaseErrorCodes)]).toEqual([0, 500, ["ENT_SETTLEMENT_LEDGER_REJECTED"]]);
    expect([t1.newReleaseErrors, t1.releaseErrorCodes["ENT_SETTLEMENT_LEDGER_REJECTED"]?.first]).toEqual([500, "ledger refused settlement:adyen:auto-release~" + (await h.settlement.getSettlement("settlement:adyen:stuck-0")).id + ": refused by the test"]);
    // The next tick (30 s later on a real clock) skips the 500 refused ones and reaches the rest.
    const t2 = await tick(AS_OF);
    expect([t2.released, t2.releaseErrors, t2.newReleaseErrors]).toEqual([1, 1, 1]);
    expect(await types("ORD-victim-1")).toEqual(["capture victim-1", expect.stringMatching(/^release auto-release~[0-9]+$/)]);
    // Refused ones are not tried again (nor reported again) before their next attempt...
    expect(await tick(AS_OF)).toMatchObject({ released: 0, releaseErrors: 0 });
    expect(await failures()).toMatchObject({ n: 501, attempts: 1, code: "ENT_SETTLEMENT_LEDGER_REJECTED" });
    // ...a minute later, then two, doubling.
    const t4 = await tick(new Date(AS_OF.getTime() + 60_000));
    expect([t4.released, t4.releaseErrors, t4.newReleaseErrors]).toEqual([0, 500, 0]); // reported again, but not as new (info, not error)
    expect(await failures()).toMatchObject({ n: 501, attempts: 2 });
    expect(await tick(new Date(AS_OF.getTime() + 90_000))).toMatchObject({ releaseErrors: 1 }); // the 501st, still on its first backoff
    expect(await tick(new Date(AS_OF.getTime() + 150_000))).toMatchObject({ releaseErrors: 0 });
    // Once the cause is gone, all of them are released and their failures forgotten.
    const fixed = await runMaintenanceTick({ ledger: h.ledger, settlement: h.settlement }, new Date(AS_OF.getTime() + 86_400_000));
    expect([fixed.released, fixed.releaseErrors]).toEqual([501, 0]);
    expect((await failures()).n).toBe(0);
    expect((await h.ledger.balance(`seller:${SELLER}:held`, "CNY")).posted).toBe(0n);
  }, 300_000);
});
