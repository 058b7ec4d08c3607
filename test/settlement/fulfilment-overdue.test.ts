/**
 * An order past its delivery deadline without a delivery is announced once: the maintenance tick
 * checks each passed deadline once (`order_delivery_deadlines`, filled by a trigger at capture) and
 * a trigger writes `order.fulfilment_overdue` in the same transaction, delivered here to a real
 * receiver by the real dispatcher and validated against /openapi.json's schema. Two service
 * instances ticking at once on one database send it once; delivered, refunded, charged-back and
 * released orders are never announced; evidence that comes later withdraws nothing.
 *
 * And the overdue listing reads the stored deadlines through their index: on PostgreSQL, with
 * 30,000 captures of which 3,000 carry a deadline, its plan walks `order_delivery_deadlines` and
 * reads each listed capture by its id, never a range of the settlements. Before, on the same rows,
 * it walked `settlements_pkey` from the cursor filtering every capture's JSON (892 rows read and
 * dropped for a page of 100, an estimated cost of 504,148 against 12,532 now; a page in a stretch
 * of ids with few delivery-based captures reads up to the whole table).
 *
 * Before: no event was ever sent for an overdue order (the listing was read on demand only).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMaintenanceTick } from "../../service/maintenance.js";
import { OVERDUE_LISTING } from "../../service/settlement/fulfilment-repository.js";
import { FEE_SCHEDULES, type FeeSchedule, type SettlementEvent } from "../../service/settlement/index.js";
import type { WebhookEventBody } from "../../service/webhooks/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { expectValidBodies, tapWebhooks, type WebhookTap } from "../webhooks/contract.js";
import { capture, followUp } from "./fixtures.js";
import { marchRate, openSettlementHarness, type SettlementHarness } from "./harness.js";

const kinds = await testDatabaseKinds();
const SELLER = "S-POP-SZ-01";
const at = (iso: string) => new Date(iso);

const popAny = FEE_SCHEDULES.find((s) => s.id === "pop-any-2024") as FeeSchedule;
/** POP books: released 15 days after delivery; overdue 10 days after the sale without one. */
const ON_DELIVERY: FeeSchedule = { ...popAny, id: "pop-books-delivery-overdue", category: "books", effectiveFrom: at("2025-01-01T00:00:00Z"), autoConfirmFrom: "delivery", deliveryDeadlineDays: 10 };

/** Captured 2025-03-01 10:00: deadline 2025-03-11 10:00. */
const DEADLINE = at("2025-03-11T10:00:00Z");

describe.each(kinds)("order.fulfilment_overdue on %s", { timeout: 120_000 }, (kind) => {
  let h: SettlementHarness;
  let tap: WebhookTap;
  const received: WebhookEventBody[] = [];
  const overdueEvents = () => received.filter((b) => b.type === "order.fulfilment_overdue");

  beforeAll(async () => {
    h = await openSettlementHarness(kind);
    await h.fx.publishRates([marchRate("BRL", "USD", "0.18"), marchRate("USD", "CNY", "7.2")]);
    await h.settlement.saveProgramData({ schedules: [ON_DELIVERY] });
    tap = await tapWebhooks(h.sql, { eventTypes: ["order.fulfilment_overdue"] });
  }, 120_000);

  afterAll(async () => {
    await tap?.close();
    await h?.close();
  });

  const book = (id: string, over: Partial<SettlementEvent> = {}) => capture({ gatewayEventId: id, settlementId: `ORD-${id}`, sellerId: SELLER, category: "books", ...over });
  const evidence = (id: string, status: "shipped" | "delivered", deliveredAt: string | null) => ({
    gateway: "adyen",
    settlementId: `ORD-${id}`,
    status,
    carrier: "Cainiao",
    trackingNumber: "LP00123456789CN",
    shippedAt: at("2025-03-02T08:00:00Z"),
    deliveredAt: deliveredAt === null ? null : at(deliveredAt),
  });
  // Every body the receiver has answered so far (deliverAll answers them all, not the new ones).
  const deliver = async () => {
    received.splice(0, received.length, ...(await tap.deliverAll()));
  };

  it("announces each order not delivered by its deadline once, across two instances ticking at once", async () => {
    const post = async (e: SettlementEvent) => expect((await h.settlement.postEvent(e)).status).toBe("created");
    await post(book("none"));
    await post(book("shipped"));
    await h.settlement.recordFulfilment(evidence("shipped", "shipped", null), "test");
    await post(book("delivered"));
    await h.settlement.recordFulfilment(evidence("delivered", "delivered", "2025-03-05T00:00:00Z"), "test");
    const refunded = book("refunded");
    await post(refunded);
    await post(followUp("refund", "refunded-r", { amount: refunded.amount }, refunded));
    const charged = book("charged");
    await post(charged);
    await post(followUp("chargeback", "charged-cb", { amount: charged.amount, gatewayFee: 0n }, charged));
    const released = book("released");
    await post(released);
    await post(followUp("release", "released-r", {}, released));
    // An order paid in two captures: one announcement.
    await post(book("twice-1", { settlementId: "ORD-twice" }));
    await post(book("twice-2", { settlementId: "ORD-twice", occurredAt: at("2025-03-01T10:00:00Z") }));
    // Captured later: its deadline (03-21) has not passed at the ticks below.
    await post(book("later", { occurredAt: at("2025-03-11T10:00:00Z") }));

    const [deadlines] = await h.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM order_delivery_deadlines`);
    expect(deadlines!.n).toBe(9);

    // One millisecond early: nothing is checked.
    expect((await runMaintenanceTick({ ledger: h.ledger, settlement: h.settlement }, new Date(DEADLINE.getTime() - 1))).deadlinesChecked).toBe(0);
    await deliver();
    expect(overdueEvents()).toEqual([]);

    // Two instances (each its own ledger writer), three ticks each, all at once.
    const other = h.another();
    const ticks = await Promise.all(
      [h.settlement, other, h.settlement, other, h.settlement, other].map((settlement) => runMaintenanceTick({ ledger: h.ledger, settlement }, DEADLINE)),
    );
    expect(ticks.reduce((n, t) => n + t.deadlinesChecked, 0)).toBe(8);
    await deliver();
    const events = overdueEvents();
    expect(events.map((e) => e.data["settlementId"]).sort()).toEqual(["ORD-none", "ORD-shipped", "ORD-twice"]);
    expectValidBodies(events);
    const shipped = events.find((e) => e.data["settlementId"] === "ORD-shipped")!;
    expect(shipped.subject).toBe("order:adyen:ORD-shipped");
    expect(shipped.data).toMatchObject({
      gateway: "adyen",
      sellerId: SELLER,
      capturedAt: "2025-03-01T10:00:00.000Z",
      deliveryDeadline: "2025-03-11T10:00:00.000Z",
      latest: { status: "shipped", carrier: "Cainiao", trackingNumber: "LP00123456789CN", shippedAt: "2025-03-02T08:00:00.000Z" },
    });
    expect(events.find((e) => e.data["settlementId"] === "ORD-none")!.data["latest"]).toBeNull();
  });

  it("never sends it again: evidence after the event withdraws nothing, later ticks add nothing", async () => {
    await h.settlement.recordFulfilment(evidence("none", "delivered", "2025-03-12T00:00:00Z"), "test");
    await runMaintenanceTick({ ledger: h.ledger, settlement: h.settlement }, at("2025-03-12T00:00:00Z"));
    await runMaintenanceTick({ ledger: h.ledger, settlement: h.another() }, at("2025-03-12T00:00:00Z"));
    await deliver();
    expect(overdueEvents().map((e) => e.data["settlementId"]).sort()).toEqual(["ORD-none", "ORD-shipped", "ORD-twice"]);
    // The later capture's deadline passes: announced then, once.
    await Promise.all([h.settlement, h.another()].map((settlement) => runMaintenanceTick({ ledger: h.ledger, settlement }, at("2025-03-21T10:00:00Z"))));
    await deliver();
    expect(overdueEvents().map((e) => e.data["settlementId"]).sort()).toEqual(["ORD-later", "ORD-none", "ORD-shipped", "ORD-twice"]);
    const [row] = await h.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM webhook_events WHERE type = 'order.fulfilment_overdue'`);
    expect(row!.n).toBe(4);
  });

  it("lists the same orders overdue from the stored deadlines, keyset-paged", async () => {
    const all = await h.settlement.overdueDeliveries(at("2025-12-01T00:00:00Z"), { limit: 500 });
    expect(all.map((o) => o.settlementId).sort()).toEqual(["ORD-later", "ORD-shipped", "ORD-twice", "ORD-twice"]);
    const first = await h.settlement.overdueDeliveries(at("2025-12-01T00:00:00Z"), { limit: 2 });
    const rest = await h.settlement.overdueDeliveries(at("2025-12-01T00:00:00Z"), { limit: 500, afterId: first[1]!.captureId });
    expect([...first, ...rest].map((o) => o.captureId)).toEqual(all.map((o) => o.captureId));
    expect(all.find((o) => o.settlementId === "ORD-later")!.deadline.toISOString()).toBe("2025-03-21T10:00:00.000Z");
  });
});

describe.runIf(kinds.includes("postgres"))("the overdue listing's plan on postgres", { timeout: 180_000 }, () => {
  let h: SettlementHarness;

  beforeAll(async () => {
    h = await openSettlementHarness("postgres");
    await h.fx.publishRates([marchRate("BRL", "USD", "0.18"), marchRate("USD", "CNY", "7.2")]);
    await h.settlement.saveProgramData({ schedules: [ON_DELIVERY] });
    // Two real captures, one under the delivery-based schedule, as templates for 30,000 rows
    // (settlements only: the plan, not the ledger, is under test). One in 10 copies of the
    // delivery-based one, the rest capture-based.
    expect((await h.settlement.postEvent(book("tpl-delivery"))).status).toBe("created");
    expect((await h.settlement.postEvent(capture({ gatewayEventId: "tpl-plain", settlementId: "ORD-tpl-plain", sellerId: SELLER }))).status).toBe("created");
    await h.sql.q(
      `INSERT INTO settlements (id, created_at, event_key, capture_key, sequence, event_type, gateway, gateway_event_id, settlement_id, seller_id, market, category,
                                currency, amount, gateway_fee, occurred_at, program, breakdown, refunded_delta, journal_transaction_id, request_hash)
       SELECT 1000000 + g, t.created_at, 'bulk:' || g, 'bulk:' || g, 1, 'capture', t.gateway, 'bulk-' || g, 'ORD-bulk-' || g, t.seller_id, t.market, t.category,
              t.currency, t.amount, t.gateway_fee, t.occurred_at + g * interval '1 minute', t.program, t.breakdown, 0, (1000000 + g)::text, t.request_hash
         FROM generate_series(1, 30000) g
         JOIN settlements t ON t.event_key = CASE WHEN g % 10 = 0 THEN 'settlement:adyen:tpl-delivery' ELSE 'settlement:adyen:tpl-plain' END`,
    );
    await h.sql.q(`ANALYZE settlements`);
    await h.sql.q(`ANALYZE order_delivery_deadlines`);
  }, 180_000);

  afterAll(async () => {
    await h?.close();
  });

  const book = (id: string) => capture({ gatewayEventId: id, settlementId: `ORD-${id}`, sellerId: SELLER, category: "books" });

  it("reads the stored deadlines by index, never the settlements in sequence", async () => {
    const [{ n }] = (await h.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM order_delivery_deadlines`)) as [{ n: number }];
    expect(n).toBe(3001);
    const overdue = await h.settlement.overdueDeliveries(at("2025-12-01T00:00:00Z"), { limit: 100 });
    expect(overdue.length).toBe(100);
    // The listing's statement as the repository sends it, with its parameters bound.
    const plan = (await h.sql.q<Array<{ "QUERY PLAN": string }>>(`EXPLAIN ${OVERDUE_LISTING}`, at("2025-12-01T00:00:00Z"), 0n, 100)).map((r) => r["QUERY PLAN"]).join("\n");
    expect(plan).not.toMatch(/Seq Scan on settlements/);
    expect(plan).toMatch(/Index (Only )?Scan using (order_delivery_deadlines_pkey|order_delivery_deadlines_deadline_idx) on order_delivery_deadlines d/);
    // The listed captures themselves: one lookup by id each, not a walk of the table from the cursor.
    const lines = plan.split("\n");
    const captures = lines.flatMap((l, i) => (/Scan.* on settlements s\b/.test(l) ? [`${l.trim()} ${lines[i + 1]!.trim()}`] : []));
    expect(captures).toEqual([expect.stringMatching(/^(-> {2})?Index Scan using settlements_pkey on settlements s .*Index Cond: \(id = d\.capture_id\)$/)]);
  });
});

