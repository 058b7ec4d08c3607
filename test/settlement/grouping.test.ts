/**
 * Concurrent single posts are grouped into batches (SettlementService.postEvent) and batches of
 * captures go through one multi-row insert: through the real ledger and database, every caller
 * still gets its own answer — created once, replays `exists` with the same transaction, bad items
 * their own error code — and nothing is booked twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import type { Ledger } from "../../service/ledger/types.js";
import { SettlementService, type SettlementEvent } from "../../service/settlement/index.js";
import { eventKey } from "../../service/settlement/plan.js";
import { capture, followUp } from "./fixtures.js";
import { testDatabaseKinds } from "../support/db.js";
import { openSettlementHarness, type SettlementHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("grouped settlement posting on %s", (kind) => {
  let h: SettlementHarness;

  beforeAll(async () => {
    h = await openSettlementHarness(kind);
    const from = new Date("2025-03-01T00:00:00Z");
    const until = new Date("2025-04-01T00:00:00Z");
    await h.fx.publishRates([
      { base: "BRL", quote: "USD", rate: "0.18", source: "test", asOf: from, validFrom: from, validUntil: until },
      { base: "USD", quote: "CNY", rate: "7.2", source: "test", asOf: from, validFrom: from, validUntil: until },
    ]);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  /** The service over a ledger that counts postBatch calls (the grouping is the point). */
  function counted(): { service: SettlementService; calls: () => number } {
    let n = 0;
    const ledger: Ledger = new Proxy(h.ledger, {
      get(target, prop, receiver) {
        if (prop === "postBatch") return (txs: Parameters<Ledger["postBatch"]>[0]) => (n++, target.postBatch(txs));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    return { service: new SettlementService({ ledger, fx: h.fx, repository: h.repository }), calls: () => n };
  }

  const ev = (id: string, over: Partial<SettlementEvent> = {}) =>
    capture({ sellerId: "S-POP-SZ-01", category: "home", gatewayEventId: id, settlementId: `G-${id}`, ...over });

  it("answers 60 concurrent callers individually with far fewer ledger batches", async () => {
    const { service, calls } = counted();
    const events = Array.from({ length: 40 }, (_, i) => ev(`g1-${i}`, { amount: 10_000n + BigInt(i) }));
    const outcome = (p: Promise<{ status: string; transaction: { id: string } }>) =>
      p.then(
        (r) => `${r.status}:${r.transaction.id}`,
        (e: unknown) => (isAppError(e) ? e.code : `unexpected ${String(e)}`),
      );
    const all = await Promise.all([
      ...events.map((e) => outcome(service.postEvent(e))),
      // the same deliveries again, concurrently with the first ones
      ...events.slice(0, 10).map((e) => outcome(service.postEvent(e))),
      // bad items in the same groups
      ...Array.from({ length: 5 }, (_, i) => outcome(service.postEvent(ev(`g1-bad-${i}`, { sellerId: "S-NOBODY" })))),
      ...Array.from({ length: 5 }, (_, i) => outcome(service.postEvent(ev(`g1-${i}`, { amount: 20_000n })))),
    ]);
    const firsts = all.slice(0, 40);
    const again = all.slice(40, 50);
    // Each event booked exactly once: one "created", its repeat the same transaction as "exists".
    for (let i = 0; i < 10; i++) {
      const pair = [firsts[i], again[i]].sort();
      expect(pair[0]?.startsWith("created:"), `event ${i}: ${pair.join(", ")}`).toBe(true);
      expect(pair[1]).toBe(`exists:${pair[0]?.slice("created:".length)}`);
    }
    expect(firsts.slice(10).every((o) => o.startsWith("created:"))).toBe(true);
    expect(new Set(firsts.map((o) => o.split(":")[1])).size).toBe(40);
    expect(all.slice(50, 55)).toEqual(Array<string>(5).fill("ENT_SETTLEMENT_UNKNOWN_SELLER"));
    expect(all.slice(55)).toEqual(Array<string>(5).fill("ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT"));
    expect(calls()).toBeLessThan(20);
    for (const e of events)
      expect((await h.settlement.getSettlement(eventKey(e.gateway, e.gatewayEventId))).status).toBe("posted");
  });

  it("keeps a batch's answers keyed by index, across captures, replays, follow-ups and failures", async () => {
    const cap = ev("g2-cap");
    const batch: SettlementEvent[] = [
      ...Array.from({ length: 30 }, (_, i) => ev(`g2-${i}`)),
      followUp("refund", "g2-ref", { amount: 2_500n }, cap),
      cap,
      ev("g2-0"), // duplicate of item 0 inside the batch: a replay of it
      ev("g2-bad", { market: "XX" }),
      ev("g2-1", { amount: 20_000n }), // same id as item 1, different body
    ];
    const results = await h.settlement.postEvents(batch);
    const status = results.map((r) => (r.status === "error" ? r.error.code : r.status));
    expect(status.slice(0, 30)).toEqual(Array<string>(30).fill("created"));
    expect(status.slice(30)).toEqual([
      "created",
      "created",
      "exists",
      "ENT_SETTLEMENT_UNKNOWN_MARKET",
      "ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT",
    ]);
    const r0 = results[0];
    const dup = results[32];
    if (r0?.status !== "created" || dup?.status !== "exists") throw new Error("unexpected statuses");
    expect(dup.transaction.id).toBe(r0.transaction.id);
    // A second delivery of the whole batch books nothing new.
    const again = await h.settlement.postEvents(batch);
    expect(again.map((r) => (r.status === "error" ? r.error.code : r.status))).toEqual([
      ...Array<string>(33).fill("exists"),
      "ENT_SETTLEMENT_UNKNOWN_MARKET",
      "ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT",
    ]);
    const net = await h.netPerCurrency();
    expect(Object.values(net).every((v) => v === 0n)).toBe(true);
  });

  it("books a batch of follow-ups against captures recorded earlier, each against its own capture", async () => {
    const caps = Array.from({ length: 8 }, (_, i) => ev(`g3-cap-${i}`));
    expect((await h.settlement.postEvents(caps)).every((r) => r.status === "created")).toBe(true);
    const batch = [
      ...caps.map((c, i) => followUp("refund", `g3-ref-${i}`, { amount: 1_000n * BigInt(i + 1) }, c)),
      followUp("refund", "g3-ref-again", { amount: 9_000n }, caps[7]), // 8,000 + 9,000 > 10,000
      followUp("refund", "g3-ref-orphan", { amount: 1n, originalEventId: "g3-never" }, caps[0]),
    ];
    const results = await h.settlement.postEvents(batch);
    const status = results.map((r) => (r.status === "error" ? r.error.code : r.status));
    expect(status).toEqual([
      ...Array<string>(8).fill("created"),
      "ENT_SETTLEMENT_REFUND_EXCEEDS_CAPTURE",
      "ENT_SETTLEMENT_UNKNOWN_CAPTURE",
    ]);
    for (const [i, r] of results.slice(0, 8).entries()) {
      if (r.status === "error") throw new Error("unreachable");
      expect(r.settlement.captureKey).toBe(eventKey("adyen", `g3-cap-${i}`));
      expect(r.settlement.sequence).toBe(1);
      expect(r.settlement.breakdown.lines.gross).toBe(1_000n * BigInt(i + 1));
    }
  });
});
