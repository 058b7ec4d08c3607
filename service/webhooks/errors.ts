/** Errors of the webhooks module (`ENT_WEBHOOK_*`). */
import { defineError } from "../errors.js";

export const WebhookErrors = {
  /** The endpoint URL is not one we deliver to (scheme, credentials, a private address). */
  urlRefused: defineError("ENT_WEBHOOK_URL_REFUSED", 400, "Webhook URL refused"),
  /** A field of a request is not acceptable (names the field). */
  invalid: defineError("ENT_WEBHOOK_INVALID_REQUEST", 400, "Invalid webhook request"),
  endpointNotFound: defineError("ENT_WEBHOOK_ENDPOINT_NOT_FOUND", 404, "Webhook endpoint not found"),
  deliveryNotFound: defineError("ENT_WEBHOOK_DELIVERY_NOT_FOUND", 404, "Webhook delivery not found"),
  /** A gateway key subscribes to its own gateway's settlement events only. */
  eventTypeForbidden: defineError("ENT_WEBHOOK_EVENT_TYPE_FORBIDDEN", 403, "Event type not available to this key"),
  /** Too many active endpoints for one owner. */
  endpointLimit: defineError("ENT_WEBHOOK_ENDPOINT_LIMIT", 409, "Too many webhook endpoints"),
  /** A test event for a disabled endpoint (it would never be delivered). */
  endpointDisabled: defineError("ENT_WEBHOOK_ENDPOINT_DISABLED", 409, "Webhook endpoint disabled"),
  /** Redelivery of a delivery whose attempt is being sent right now (its claim has not lapsed). */
  deliveryInFlight: defineError("ENT_WEBHOOK_DELIVERY_IN_FLIGHT", 409, "Webhook delivery attempt in flight"),
  /** A rotation while the secret replaced by the previous one still signs (names until when). */
  rotationInProgress: defineError("ENT_WEBHOOK_ROTATION_IN_PROGRESS", 409, "Webhook secret rotation in progress"),
} as const;
