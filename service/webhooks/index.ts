export { WebhookService, MAX_ACTIVE_ENDPOINTS_PER_OWNER, MAX_SECRET_OVERLAP_MS, type WebhookConfig, type CreateEndpointInput, type FilterCatalogue } from "./service.js";
export { WebhookDispatcher, DEFAULT_RETRY_DELAYS_MS } from "./dispatcher.js";
export { verifyWebhookSignature, signatureHeader, WEBHOOK_SIGNATURE_HEADER } from "./signature.js";
export { WebhookErrors } from "./errors.js";
export * from "./types.js";
