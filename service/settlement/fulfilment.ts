/**
 * Delivery evidence of an order (its shipment and delivery, posted by the order's gateway): what a
 * fee schedule with `autoConfirmFrom: "delivery"` counts the auto-release of held (POP) proceeds
 * from, as marketplaces count the buyer-protection window from delivery, never from the sale, so
 * the proceeds of an order never shipped are never paid out on a timer.
 *
 * Evidence, not money: nothing is booked in the journal. Kept per order (gateway, settlement id),
 * append-only: a correction is a new entry, the latest entry counts. Pure rules here; the table is
 * `order_fulfilments` (fulfilment-repository.ts).
 */
import { SettlementErrors } from "./errors.js";
import type { Breakdown } from "./types.js";

export const FULFILMENT_STATUSES = ["shipped", "delivered"] as const;
export type FulfilmentStatus = (typeof FULFILMENT_STATUSES)[number];

/** A carrier's tracking number: UPU S10 (`RR123456789CN`), UPS `1Z…`, USPS's 20-22 digits, dashes some carriers print. */
export const TRACKING_NUMBER = /^[A-Za-z0-9-]{4,40}$/;
export const MAX_CARRIER_LENGTH = 60;

/** What the gateway says about an order's delivery. */
export interface FulfilmentInput {
  gateway: string;
  settlementId: string;
  status: FulfilmentStatus;
  carrier: string;
  trackingNumber: string;
  shippedAt: Date;
  /** With status `delivered` only. */
  deliveredAt: Date | null;
}

/** One entry of an order's history: `sequence` 1 is its first, the highest counts. */
export interface Fulfilment extends FulfilmentInput {
  id: string;
  sequence: number;
  recordedBy: string;
  recordedAt: Date;
}

/** The key of an order's history: its gateway and settlement id. */
export function orderKey(gateway: string, settlementId: string): string {
  return `${gateway}\u0000${settlementId}`;
}

/** Characters that reorder how text around them is displayed (a carrier "\u202eSPU" reads "UPS"). */
const BIDI_CONTROLS = /[\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** At most this many entries of evidence per order and gateway (corrections included); then 409 ENT_FULFILMENT_TOO_MANY_ENTRIES. */
export const MAX_FULFILMENT_ENTRIES = 100;

/**
 * Refuses (400 ENT_FULFILMENT_INVALID naming every field at fault) evidence that cannot be true:
 * instants in the future, a shipment before the order's capture (`capturedAt`, its earliest), a
 * delivery before the shipment, a delivered order without its instant or a shipped one with one.
 */
export function checkFulfilment(input: FulfilmentInput, capturedAt: Date, now: Date): void {
  const fields: Array<{ field: string; message: string }> = [];
  const { shippedAt, deliveredAt } = input;
  if (input.carrier.trim().length === 0 || input.carrier.length > MAX_CARRIER_LENGTH) fields.push({ field: "carrier", message: `must be 1-${MAX_CARRIER_LENGTH} characters, not blank` });
  else if (BIDI_CONTROLS.test(input.carrier)) fields.push({ field: "carrier", message: "must not contain bidirectional control characters (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069): evidence is shown as written" });
  if (!TRACKING_NUMBER.test(input.trackingNumber)) fields.push({ field: "trackingNumber", message: "must be 4-40 characters of [A-Za-z0-9-]" });
  if (shippedAt.getTime() > now.getTime()) fields.push({ field: "shippedAt", message: "must not be in the future" });
  else if (shippedAt.getTime() < capturedAt.getTime()) fields.push({ field: "shippedAt", message: `must not be before the order's capture (${capturedAt.toISOString()})` });
  if (input.status === "delivered") {
    if (deliveredAt === null) fields.push({ field: "deliveredAt", message: "required when status is delivered" });
    else if (deliveredAt.getTime() > now.getTime()) fields.push({ field: "deliveredAt", message: "must not be in the future" });
    else if (deliveredAt.getTime() < shippedAt.getTime()) fields.push({ field: "deliveredAt", message: "must not be before shippedAt" });
  } else if (deliveredAt !== null) fields.push({ field: "deliveredAt", message: "only with status delivered" });
  if (fields.length > 0) {
    throw SettlementErrors.invalidFulfilment(`invalid delivery evidence for order ${input.settlementId}: ${fields.map((f) => `${f.field} ${f.message}`).join("; ")}`, { fields });
  }
}

/** Whether an entry says what `input` says (a replay of it: answered, not appended). */
export function sameFulfilment(a: FulfilmentInput, b: FulfilmentInput): boolean {
  return (
    a.gateway === b.gateway &&
    a.settlementId === b.settlementId &&
    a.status === b.status &&
    a.carrier === b.carrier &&
    a.trackingNumber === b.trackingNumber &&
    a.shippedAt.getTime() === b.shippedAt.getTime() &&
    (a.deliveredAt?.getTime() ?? null) === (b.deliveredAt?.getTime() ?? null)
  );
}

/**
 * When a capture's held proceeds are auto-released: at its `autoConfirmAt`; under a delivery-based
 * schedule `days` after the order's current evidence's `deliveredAt` (or at `capturedAt` if that is
 * later), and never (null) while its latest entry is not a delivery (none, shipped, or a delivery
 * corrected back to shipped).
 */
export function autoReleaseAt(b: Breakdown, latest: Fulfilment | undefined, capturedAt: Date): Date | null {
  if (b.confirmOnDelivery === undefined) return b.autoConfirmAt === null ? null : new Date(Date.parse(b.autoConfirmAt));
  if (latest?.status !== "delivered" || latest.deliveredAt === null) return null;
  // Never before the capture itself: an order's evidence is checked against its earliest capture,
  // and a later capture of a delivered order (a second payment) is released at its own instant.
  return new Date(Math.max(latest.deliveredAt.getTime() + b.confirmOnDelivery.days * 86_400_000, capturedAt.getTime()));
}

/** An order past its delivery deadline without a delivery (the overdue listing). */
export interface OverdueDelivery {
  /** The capture's record id. */
  captureId: string;
  gateway: string;
  settlementId: string;
  sellerId: string;
  capturedAt: Date;
  deadline: Date;
  /** The order's latest evidence (a shipment not delivered), null: none. */
  latest: Fulfilment | null;
}
