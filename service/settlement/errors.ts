/**
 * Errors of the settlement module (`ENT_SETTLEMENT_*`). Input problems are 4xx and name the field
 * of the event that caused them; a conflicting replay of an event id is a 409.
 */
import { defineError } from "../errors.js";

export const SettlementErrors = {
  /** A field of the event is missing or malformed (type, amount sign, dates, ids). */
  invalidEvent: defineError("ENT_SETTLEMENT_INVALID_EVENT", 400, "Invalid settlement event"),
  unknownSeller: defineError("ENT_SETTLEMENT_UNKNOWN_SELLER", 404, "Unknown seller"),
  /**
   * A capture naming a seller that does not accept events from its gateway (the seller's
   * `gateways`): no gateway credits a seller it was not onboarded for. Nothing is booked. Answered
   * to operators; a gateway key gets `unknownSeller` instead, as for a seller that does not exist.
   */
  sellerGatewayNotAllowed: defineError("ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED", 403, "Seller does not accept events from this gateway"),
  /** The seller's program has no fee schedule in force for the market/category at that instant. */
  unknownProgram: defineError("ENT_SETTLEMENT_UNKNOWN_PROGRAM", 422, "No fee schedule for seller program"),
  unknownMarket: defineError("ENT_SETTLEMENT_UNKNOWN_MARKET", 400, "Unknown market"),
  /** A tax return asked for a scheme (or a state's region) no tax rule of the market has: never an empty return that looks like a nil one. */
  unknownTaxScheme: defineError("ENT_SETTLEMENT_UNKNOWN_TAX_SCHEME", 400, "No tax rule of that scheme"),
  /** No tax rule in force for the market at that instant (every market needs one, even "none"). */
  noTaxRule: defineError("ENT_SETTLEMENT_NO_TAX_RULE", 422, "No tax rule for market"),
  /** The buyer currency is not the market's, or a follow-up event's currency differs from the capture's. */
  currencyMismatch: defineError("ENT_SETTLEMENT_CURRENCY_MISMATCH", 400, "Currency mismatch"),
  /** A refund/chargeback/release names a capture that was never recorded. */
  unknownCapture: defineError("ENT_SETTLEMENT_UNKNOWN_CAPTURE", 404, "Unknown original capture"),
  /** A follow-up event dated before the event it follows: booked, it would move balances and tax returns before the sale existed. */
  beforeOriginal: defineError("ENT_SETTLEMENT_BEFORE_ORIGINAL", 422, "Event dated before its original"),
  /** A follow-up event disagrees with its capture (seller, market, settlement id) or with its type. */
  referenceMismatch: defineError("ENT_SETTLEMENT_REFERENCE_MISMATCH", 409, "Event does not match its original"),
  /** Refunds + chargebacks - reversals would exceed the captured gross amount. */
  refundExceedsCapture: defineError("ENT_SETTLEMENT_REFUND_EXCEEDS_CAPTURE", 422, "Refund exceeds captured amount"),
  /** A chargeback reversal larger than what is still charged back. */
  reversalExceedsChargeback: defineError("ENT_SETTLEMENT_REVERSAL_EXCEEDS_CHARGEBACK", 422, "Reversal exceeds chargeback"),
  /** Release of proceeds that are not held (not POP, already released, or nothing left). */
  nothingToRelease: defineError("ENT_SETTLEMENT_NOTHING_TO_RELEASE", 422, "Nothing to release"),
  /** A reserve release before the program's holding period has passed. */
  reserveNotDue: defineError("ENT_SETTLEMENT_RESERVE_NOT_DUE", 422, "Reserve not yet due"),
  /** Full hosting needs the agreed supply price in the seller's payout currency. */
  missingSupplyPrice: defineError("ENT_SETTLEMENT_MISSING_SUPPLY_PRICE", 400, "Missing supply price"),
  /**
   * A full-hosting supply price worth more than the order's gross at the plan's mid rates: the
   * platform, as principal, never books a purchase above the sale price on a gateway's figure.
   */
  supplyPriceOutOfRange: defineError("ENT_SETTLEMENT_SUPPLY_PRICE_OUT_OF_RANGE", 422, "Supply price above the order's gross"),
  /** A gateway event id in a namespace the system posts its own events under (`auto-release.`, `auto-reserve.`). */
  reservedEventId: defineError("ENT_SETTLEMENT_RESERVED_EVENT_ID", 400, "Event id reserved for the system"),
  /** A fee credit-back larger than the fees still charged on the capture (net of adjustments and refunds). */
  feeCreditExceedsCharged: defineError("ENT_SETTLEMENT_FEE_CREDIT_EXCEEDS_CHARGED", 422, "Fee credit-back exceeds the fees charged"),
  /** No FX rate (or the named quote does not fit the pair / instant). */
  fxUnavailable: defineError("ENT_SETTLEMENT_FX_UNAVAILABLE", 422, "FX rate unavailable"),
  /** Same gateway event id replayed with a different body. */
  idempotencyConflict: defineError("ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT", 409, "Event id reused with a different body"),
  /** Another writer recorded a follow-up of the same capture at the same time; safe to retry. */
  concurrentUpdate: defineError("ENT_SETTLEMENT_CONCURRENT_UPDATE", 409, "Concurrent update of the same capture"),
  /** The ledger refused the journal transaction (carries the ledger's code in details). */
  ledgerRejected: defineError("ENT_SETTLEMENT_LEDGER_REJECTED", 422, "Ledger rejected the settlement"),
  /** Bad program/fee/tax data (configuration), rejected when loaded. */
  invalidSchedule: defineError("ENT_SETTLEMENT_INVALID_SCHEDULE", 400, "Invalid fee schedule or tax rule"),
  notFound: defineError("ENT_SETTLEMENT_NOT_FOUND", 404, "Settlement not found"),
  /** A seller, fee schedule version or tax rule version published again under its id with other content. */
  programDataConflict: defineError("ENT_SETTLEMENT_PROGRAM_DATA_CONFLICT", 409, "Program data already published with other content"),
  /** A remittance would clear more than the gateway owes in that currency (realisation.ts). */
  remittanceExceedsReceivable: defineError("ENT_REMITTANCE_EXCEEDS_RECEIVABLE", 422, "Remittance exceeds the receivable"),
  remittanceConflict: defineError("ENT_REMITTANCE_CONFLICT", 409, "Remittance id reused with a different body"),
  remittanceNotFound: defineError("ENT_REMITTANCE_NOT_FOUND", 404, "Remittance not found"),
  /** The remittance's applied rate is implausibly far from the published mid rate (realisation.ts). */
  remittanceRateOutOfRange: defineError("ENT_REMITTANCE_RATE_OUT_OF_RANGE", 422, "Remittance rate far from the published rate"),
  /** The capture's fee schedule prices a service fee by weight band and the capture carries no `weightGrams`. */
  weightRequired: defineError("ENT_SETTLEMENT_WEIGHT_REQUIRED", 422, "Parcel weight required by the fee schedule"),
  /** The parcel is heavier than the schedule's heaviest weight band, which prices nothing beyond it. */
  weightOutOfBands: defineError("ENT_SETTLEMENT_WEIGHT_OUT_OF_BANDS", 422, "Parcel weight above every band"),
  /** A stock snapshot id or (seller, warehouse, date) recorded again with another volume (storage.ts). */
  snapshotConflict: defineError("ENT_STORAGE_SNAPSHOT_CONFLICT", 409, "Stock snapshot already recorded with other content"),
  /** A storage run for a period that has not ended, or a malformed period (storage.ts). */
  invalidStorageRun: defineError("ENT_STORAGE_RUN_INVALID", 422, "Invalid storage run"),
  storageRunNotFound: defineError("ENT_STORAGE_RUN_NOT_FOUND", 404, "Storage run not found"),
  /** Delivery evidence that cannot be true (fulfilment.ts): a future instant, delivered before shipped, a malformed tracking number. */
  invalidFulfilment: defineError("ENT_FULFILMENT_INVALID", 400, "Invalid delivery evidence"),
  /** Delivery evidence or its history for an order with no capture of the gateway (another gateway's order answers the same). */
  fulfilmentOrderNotFound: defineError("ENT_FULFILMENT_ORDER_NOT_FOUND", 404, "Order not found"),
  /** An order's evidence holds MAX_FULFILMENT_ENTRIES entries already (fulfilment.ts). */
  fulfilmentTooManyEntries: defineError("ENT_FULFILMENT_TOO_MANY_ENTRIES", 409, "Too many delivery evidence entries for the order"),
  /** A settlement list cursor this API did not return. */
  invalidCursor: defineError("ENT_SETTLEMENT_INVALID_CURSOR", 400, "Invalid settlement list cursor"),
  /** A settlement list filter that cannot hold (`from` not before `to`). */
  invalidFilter: defineError("ENT_SETTLEMENT_INVALID_FILTER", 400, "Invalid settlement list filter"),
  chargeConflict: defineError("ENT_SETTLEMENT_CHARGE_CONFLICT", 409, "Charge id reused with a different body"),
  invalidRevaluation: defineError("ENT_FX_REVALUATION_INVALID", 400, "Invalid revaluation"),
  /** Before the latest revaluation, or inside a closed period. */
  revaluationOutOfOrder: defineError("ENT_FX_REVALUATION_OUT_OF_ORDER", 409, "Revaluation instant not in the open period after the latest one"),
} as const;
