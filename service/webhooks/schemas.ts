/**
 * The bodies Entrepot POSTs to webhook endpoints, as TypeBox schemas: the envelope, and for every
 * event type the `data` its trigger (or, for the two events no row change raises, its `emit` call)
 * writes. They are published in /openapi.json's top-level `webhooks` (plugins/docs.ts), so an
 * integrator generates the receiver's types from the same document as the client's.
 *
 * Written from what is emitted, not from the README: the latest definition of each trigger function
 * in service/db/migrations (a later migration replaces a function), `journal.ts`'s verification and
 * `service.ts`'s test event. A field a trigger writes from a nullable column is nullable here
 * (jsonb_build_object keeps the key with JSON null). `data` allows no other field, so a field added
 * to a trigger without its schema fails test/webhooks/schemas.test.ts, which validates real
 * deliveries against /openapi.json.
 */
import { Type, type TSchema } from "typebox";
import type { WebhookEventType } from "./types.js";

const nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** Integers of any size (ids, amounts in minor units, block numbers) travel as decimal strings. */
const Int = (description: string) => Type.String({ pattern: "^-?(0|[1-9][0-9]*)$", description });
/** Every instant in a delivery, `data`'s too, as the REST API writes it (store.ts rewrites the triggers' form). */
const Instant = (description: string) => Type.String({ format: "date-time", pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$", description: `${description} (UTC, milliseconds)` });
const Hex = (description: string) => Type.String({ pattern: "^0x[0-9a-fA-F]*$", description });
const Currency = Type.String({ description: "ISO 4217 code, or a token symbol (USDC)" });

const object = (properties: Record<string, TSchema>, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description === undefined ? {} : { description }) });

// settlement.*: `webhook_settlement_event` (migration 20261203140000_webhooks), from the journal
// transaction's metadata.
const settlement = {
  eventKey: Type.String({ description: "`settlement:<gateway>:<gatewayEventId>`" }),
  eventType: Type.String({ description: "capture, refund, chargeback, …, release" }),
  gateway: Type.String(),
  gatewayEventId: Type.String(),
  orderId: Type.String({ description: "The settlementId" }),
  sellerId: Type.String(),
  market: Type.String(),
  program: Type.String(),
  journalTransactionId: Int("The settlement's journal transaction"),
  bookedAt: Instant("When the journal transaction was booked"),
  effectiveAt: Instant("The settlement's effective instant"),
};
// The batch part of settlement.anchored, settlement.final and anchoring.batch_final (mined, so
// the hash and block are set: anchor_batches_block_check).
const anchor = {
  batchId: Int("The anchoring batch's id on its contract"),
  chainId: Int("EIP-155 chain id"),
  anchorAddress: Hex("The anchor contract"),
  root: Hex("The batch's Merkle root"),
  txHash: Hex("The anchoring transaction"),
  blockNumber: Int("Its block"),
};
const payout = object({
  payoutId: Int("The payout's id"),
  batchId: Int("Its payout batch"),
  sellerId: Type.String(),
  status: Type.String({ description: "sent, failed, final or cancelled" }),
  outcome: nullable(Type.String({ description: "At final: paid, or deferred (claimable from the vault)" })),
  currency: Currency,
  amount: Int("What the seller's balance pays, in the currency's minor units"),
  usdAmount: Int("Its USD value in cents"),
  tokenAmount: Int("Stablecoin base units sent"),
  address: Hex("The seller's destination"),
  chainId: Int("EIP-155 chain id"),
  vault: Hex("The vault contract"),
  txHash: nullable(Hex("The vault call, once sent")),
  blockNumber: nullable(Int("Its block, once mined")),
  error: nullable(Type.String({ description: "Why the call failed" })),
});
const money = (description: string) => nullable(object({ currency: Currency, amount: Int("Minor units") }, description));
const bankPayout = object({
  id: Int("The bank payout's id (not a vault payout's)"),
  sellerId: Type.String(),
  currency: Currency,
  amount: Int("Minor units"),
  endToEndId: Type.String(),
  fileId: nullable(Type.String({ description: "The pain.001 file that instructed it" })),
  status: Type.String({ description: "planned, instructed, final, rejected, returned, partially_paid or cancelled" }),
  settled: money("What the bank debited, once final or partially paid"),
  paid: money("What the bank paid of `amount` (the payout's currency), once partially paid"),
  returned: money("What the bank credited back, once returned"),
  returnedAt: nullable(Instant("When the return was booked")),
  reason: nullable(Type.String()),
});
const bankException = object({
  id: Int("The exception's id"),
  payoutId: nullable(Int("The bank payout it concerns, if any of ours")),
  sellerId: nullable(Type.String()),
  messageId: nullable(Type.String()),
  endToEndId: nullable(Type.String()),
  outcome: Type.String(),
  code: Type.String(),
  detail: Type.String(),
  status: Type.Union([Type.Literal("open"), Type.Literal("resolved")]),
  resolutionNote: nullable(Type.String({ description: "resolution.note, kept for the endpoints that read it" })),
  resolution: nullable(
    object({
      note: nullable(Type.String()),
      resolvedBy: nullable(Type.String({ description: "An operator's key, or `system` when the rail overtook the exception" })),
      resolvedAt: Instant("When it was resolved"),
      journalTransactionId: nullable(Int("The journal transaction the resolution names")),
      cashEntry: nullable(object({ statementId: Int("The cash statement"), index: Type.Integer({ description: "The entry's index in it" }) })),
    }, "Null while open"),
  ),
});

/** What each event type's `data` holds. */
export const WEBHOOK_EVENT_DATA: Record<WebhookEventType, ReturnType<typeof object>> = {
  "settlement.booked": object(settlement),
  "settlement.anchored": object({ ...settlement, ...anchor }),
  "settlement.final": object({ ...settlement, ...anchor }),
  "payout.sent": payout,
  "payout.failed": payout,
  "payout.final": payout,
  "payout.deferred": payout,
  "payout.cancelled": payout,
  "payout.claimed": object({
    sellerId: nullable(Type.String()),
    address: Hex("The account that claimed"),
    to: nullable(Hex("Where the tokens went")),
    tokenAmount: Int("Stablecoin base units claimed"),
    chainId: Int("EIP-155 chain id"),
    vault: Hex("The vault contract"),
    txHash: Hex("The claim transaction"),
    logIndex: Type.Integer(),
    blockNumber: Int("Its block"),
    journalTransactionId: nullable(Int("The treasury's booking of the claim")),
  }),
  "bank_payout.instructed": bankPayout,
  "bank_payout.final": bankPayout,
  "bank_payout.rejected": bankPayout,
  "bank_payout.returned": bankPayout,
  "bank_payout.partially_paid": bankPayout,
  "bank_payout.cancelled": bankPayout,
  "bank_payout.exception_opened": bankException,
  "bank_payout.exception_resolved": bankException,
  "anchoring.batch_final": object({
    ...anchor,
    leafCount: Type.Integer(),
    firstSequence: Int("First journal sequence in the batch"),
    lastSequence: Int("Last journal sequence in the batch"),
    currencyTotals: Type.Array(Type.Object({ currency: Currency, total: Int("Sum of the batch's postings in the currency") }, { additionalProperties: false })),
  }),
  "reconciliation.run_completed": object({
    runId: Type.String(),
    gateway: Type.String(),
    periodFrom: Instant("The period's start"),
    periodTo: Instant("The period's end"),
    exceptions: Type.Integer({ description: "How many exceptions the run found" }),
    summary: Type.Record(Type.String(), Type.Unknown(), { description: "As in GET /v1/reconciliation/runs/:id" }),
    digest: Hex("The run's report digest (queued for anchoring)"),
  }),
  "reconciliation.exception_opened": object({
    runId: Type.String(),
    itemId: Type.Integer(),
    category: Type.String(),
    rule: Type.String(),
    gateway: Type.String(),
    market: nullable(Type.String()),
    sellerId: nullable(Type.String()),
    currency: nullable(Currency),
    settlementId: nullable(Type.String()),
    gatewayReference: nullable(Type.String()),
    gatewayEventId: nullable(Type.String()),
    reportAmount: nullable(Int("Minor units")),
    ledgerAmount: nullable(Int("Minor units")),
    difference: nullable(Int("Minor units")),
  }),
  "reconciliation.exception_resolved": object({
    runId: Type.String(),
    itemId: Type.Integer(),
    // The trigger joins the exception with a LEFT JOIN (no foreign key holds the item).
    category: nullable(Type.String()),
    note: Type.String(),
    journalTransactionId: nullable(Type.String({ description: "The adjusting entry's journal transaction, if any" })),
    resolvedBy: nullable(Type.String()),
  }),
  // `webhook_on_order_overdue` (migration 20261222100000_fulfilment_deadline).
  "order.fulfilment_overdue": object({
    captureId: Int("The capture's record id (its journal transaction)"),
    gateway: Type.String(),
    settlementId: Type.String({ description: "The order" }),
    sellerId: Type.String(),
    market: Type.String(),
    capturedAt: Instant("The capture's instant"),
    deliveryDeadline: Instant("The capture + the schedule's deliveryDeadlineDays"),
    latest: nullable(
      object({
        status: Type.String({ description: "shipped (a delivery would not be overdue)" }),
        carrier: Type.String(),
        trackingNumber: Type.String(),
        shippedAt: Instant("When it was shipped"),
      }, "The order's latest delivery evidence when the deadline was checked; null: none"),
    ),
  }),
  "journal.verification_failed": object({
    sequence: Int("The broken link's sequence"),
    transactionId: Type.String({ description: "The transaction at that link, or `head`" }),
    expectedHash: Type.String(),
    storedHash: Type.String(),
    verifiedTo: Int("The head the verification read up to"),
  }),
  "webhook.test": object({ endpointId: Type.String(), message: Type.String() }),
};

const SUMMARY: Record<WebhookEventType, string> = {
  "settlement.booked": "A settlement's journal transaction committed",
  "settlement.anchored": "A settlement's anchoring batch was mined",
  "settlement.final": "A settlement's anchoring batch is final",
  "payout.sent": "A payout's vault call was broadcast",
  "payout.failed": "A payout's vault call reverted or failed",
  "payout.final": "A payout is final, paid",
  "payout.deferred": "A payout is final, deferred to a claim from the vault",
  "payout.cancelled": "A payout was voided",
  "payout.claimed": "A deferred payout was claimed from the vault (final)",
  "bank_payout.instructed": "A bank payout was put in a pain.001 file",
  "bank_payout.final": "A bank payout's debit was booked from the bank's camt.054",
  "bank_payout.rejected": "A bank payout was returned or reversed before final (its reserve voided)",
  "bank_payout.returned": "A bank payout was returned in full after final (booked back to the seller)",
  "bank_payout.partially_paid": "The bank executed part of a bank payout: an operator booked its debit for the part paid, the rest back to the seller",
  "bank_payout.cancelled": "An operator cancelled a bank payout the bank never executed (its reserve voided)",
  "bank_payout.exception_opened": "The bank rail recorded an entry it did not apply",
  "bank_payout.exception_resolved": "A bank rail exception was resolved",
  "anchoring.batch_final": "An anchoring batch is final",
  "reconciliation.run_completed": "A reconciliation run was stored",
  "reconciliation.exception_opened": "A reconciliation run found an exception",
  "reconciliation.exception_resolved": "A reconciliation exception was resolved",
  "order.fulfilment_overdue": "An order passed its delivery deadline without delivery evidence (once per order)",
  "journal.verification_failed": "GET /v1/journal/verify found a broken link (once per link)",
  "webhook.test": "POST /v1/webhooks/endpoints/:id/test (to that endpoint only)",
};

/** The body of one event type's delivery. */
export function webhookEventBody(type: WebhookEventType) {
  return Type.Object({
    id: Type.String({ pattern: "^evt_[0-9]+$", description: "The event's id: dedupe on it (delivery is at least once)" }),
    type: Type.Literal(type),
    createdAt: Instant("When the event was written"),
    subject: Type.String({ description: "One endpoint gets one subject's events in order" }),
    data: WEBHOOK_EVENT_DATA[type],
  }, { additionalProperties: false });
}

const HEADERS = [
  { name: "Entrepot-Event-Id", description: "The body's `id`", schema: { type: "string", pattern: "^evt_[0-9]+$" } },
  { name: "Entrepot-Event-Type", description: "The body's `type`", schema: { type: "string" } },
  { name: "Entrepot-Delivery-Attempt", description: "1 for the first request of this delivery, then one more for each retry or redelivery", schema: { type: "string", pattern: "^[1-9][0-9]*$" } },
  {
    name: "Entrepot-Signature",
    description: "`t=<unix seconds>,v1=<hex HMAC-SHA256(endpoint secret, \"<t>.<raw body>\")>`, one `v1=` per live secret (two during a rotation): accept if any matches, in constant time, and `t` is within 5 minutes of your clock",
    schema: { type: "string", pattern: "^t=[0-9]+(,v1=[0-9a-f]{64})+$" },
  },
];

/** The OpenAPI 3.1 `webhooks` object: one `post` per event type. */
export function webhooksDocument(types: readonly WebhookEventType[]): Record<string, unknown> {
  return Object.fromEntries(
    types.map((type) => [
      type,
      {
        post: {
          operationId: `webhook_${type.replace(/[^a-z]/g, "_")}`,
          tags: ["webhooks"],
          summary: SUMMARY[type],
          description: "Sent to each active endpoint subscribed to this type (or `*`) whose filter matches. Deliveries are at least once: dedupe on the event id.",
          parameters: HEADERS.map((h) => ({ ...h, in: "header", required: true })),
          requestBody: { required: true, content: { "application/json": { schema: webhookEventBody(type) } } },
          responses: {
            "2XX": { description: "Any 2xx within WEBHOOK_TIMEOUT_MS (10 s) is a delivery; anything else (a timeout, a refused connection, a redirect, a 4xx or 5xx) is retried on the schedule, then the delivery is dead" },
          },
        },
      },
    ]),
  );
}
