/** Shared builders for the settlement tests (pure data; no I/O). */
import type { PostingInput } from "../../service/ledger/types.js";
import { captureStateOf } from "../../service/settlement/plan.js";
import { followUpOf } from "../../service/settlement/validate.js";
import { DEMO_REGIONS } from "../../service/settlement/demo.js";
import type { CaptureState, PostingPlan, RateEvidence, SettlementEvent, SettlementRecord } from "../../service/settlement/types.js";

export function rate(from: string, to: string, value: string, quoteId: string | null = null): RateEvidence {
  return { from, to, rate: value, quoteId, source: "test", asOf: "2025-03-01T00:00:00.000Z" };
}

/** The buyer's state the test captures ship to in markets that levy state taxes: the demo's. */
export const TEST_REGION = DEMO_REGIONS;

/** `event` with the market's test region when it names none (pass shipToRegion: undefined in `over` to send none). */
export function withRegion<E extends { type?: unknown; market?: unknown; shipToRegion?: unknown }>(event: E, over: object = {}): E {
  const region = typeof event.market === "string" && (event.type ?? "capture") === "capture" ? TEST_REGION[event.market] : undefined;
  return region === undefined || event.shipToRegion !== undefined || "shipToRegion" in over ? event : { ...event, shipToRegion: region };
}

export function capture(over: Partial<SettlementEvent> = {}): SettlementEvent {
  return withRegion({
    type: "capture",
    gateway: "adyen",
    gatewayEventId: "cap-1",
    settlementId: "ORD-1",
    sellerId: "S-POP-1",
    market: "BR",
    category: "home",
    currency: "BRL",
    amount: 10_000n,
    gatewayFee: 350n,
    occurredAt: new Date("2025-03-01T10:00:00Z"),
    ...over,
  }, over);
}

export function followUp(type: SettlementEvent["type"], id: string, over: Partial<SettlementEvent> = {}, of: SettlementEvent = capture()): SettlementEvent {
  return {
    ...followUpOf(of),
    type,
    gatewayEventId: id,
    occurredAt: new Date(of.occurredAt.getTime() + 86_400_000),
    ...over,
  };
}

/** A capture's state after a list of follow-up plans: what the service derives from its records (captureStateOf). */
export function stateOf(cap: SettlementEvent, capPlan: PostingPlan, followUps: Array<{ event: SettlementEvent; plan: PostingPlan }> = []): CaptureState {
  const record = (event: SettlementEvent, plan: PostingPlan, i: number) =>
    ({ eventKey: plan.idempotencyKey, event, breakdown: plan.breakdown, refundedDelta: plan.refundedDelta, journalTransactionId: String(i + 1) }) as SettlementRecord;
  return captureStateOf([record(cap, capPlan, 0), ...followUps.map((f, i) => record(f.event, f.plan, i + 1))]);
}

/** Postings as "D|C account currency amount" strings, sorted, for exact comparison. */
export function show(postings: PostingInput[]): string[] {
  return postings.map((p) => `${p.direction === "debit" ? "D" : "C"} ${p.account} ${p.currency} ${p.amount}`).sort();
}

/** Net (debits - credits) per currency; must be all zero. */
export function netByCurrency(postings: PostingInput[]): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const p of postings) out[p.currency] = (out[p.currency] ?? 0n) + (p.direction === "debit" ? p.amount : -p.amount);
  return out;
}

/** Signed balance movement (+debit) of one account in one currency. */
export function movement(postings: PostingInput[], account: string, currency: string): bigint {
  let n = 0n;
  for (const p of postings) if (p.account === account && p.currency === currency) n += p.direction === "debit" ? p.amount : -p.amount;
  return n;
}

/**
 * The orders the write-once tests post (test/settlement/write-once.test.ts and its worker): order i
 * is a BRL capture, and every third one also a refund of 10.00 BRL a day later, in that order.
 */
export function ordersForCrash(n: number): SettlementEvent[][] {
  return Array.from({ length: n }, (_, i) => {
    const cap = capture({ gatewayEventId: `wo-cap-${i}`, settlementId: `WO-${i}`, sellerId: "S-POP-SZ-01" });
    return i % 3 === 0 ? [cap, followUp("refund", `wo-ref-${i}`, { amount: 1_000n }, cap)] : [cap];
  });
}
