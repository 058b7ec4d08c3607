/** The events a webhook endpoint can subscribe to, and the module's records. */

export const WEBHOOK_EVENT_TYPES = [
  "settlement.booked",
  "settlement.anchored",
  "settlement.final",
  "payout.sent",
  "payout.failed",
  "payout.final",
  "payout.deferred",
  "payout.cancelled",
  "payout.claimed",
  "bank_payout.instructed",
  "bank_payout.final",
  "bank_payout.rejected",
  "bank_payout.returned",
  "bank_payout.partially_paid",
  "bank_payout.cancelled",
  "bank_payout.exception_opened",
  "bank_payout.exception_resolved",
  "anchoring.batch_final",
  "reconciliation.run_completed",
  "reconciliation.exception_opened",
  "reconciliation.exception_resolved",
  "order.fulfilment_overdue",
  "journal.verification_failed",
  "webhook.test",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * What a gateway key may subscribe to (always filtered to its own gateway). Payouts, vault or bank,
 * are operators' business: a seller's payout is not its gateway's to see.
 */
export const GATEWAY_EVENT_TYPES: readonly WebhookEventType[] = ["settlement.booked", "settlement.anchored", "settlement.final", "webhook.test"];

export interface EndpointFilter {
  gateway: string | null;
  sellerId: string | null;
  market: string | null;
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  /** Event types, or ["*"]. */
  eventTypes: string[];
  filter: EndpointFilter;
  /** The gateway whose key manages it; null = operators. */
  ownerGateway: string | null;
  status: "active" | "disabled";
  previousSecretValidUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** pending: due at nextAttemptAt; waiting: behind an open delivery of the same subject; then delivered or dead. */
export type DeliveryStatus = "pending" | "waiting" | "delivered" | "dead";

export interface WebhookDelivery {
  endpointId: string;
  eventId: bigint;
  type: string;
  subject: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

export interface WebhookAttempt {
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
}

/** The JSON body POSTed to an endpoint. */
export interface WebhookEventBody {
  id: string;
  type: string;
  createdAt: string;
  subject: string;
  data: Record<string, unknown>;
}

/** Who manages endpoints: an operator (null gateway) or one gateway's key. */
export interface EndpointOwner {
  gateway: string | null;
  keyId: string;
}

export function eventIdText(id: bigint): string {
  return `evt_${id}`;
}
