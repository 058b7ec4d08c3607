/**
 * Gateway request signing, in the manner of Stripe/Adyen webhooks:
 *
 *   Entrepot-Timestamp: <unix seconds, optionally with up to 3 decimals (milliseconds)>
 *   Entrepot-Signature: v1=<hex HMAC-SHA256(signingSecret, timestamp + "." + rawBody)>
 *
 * The signature covers the exact bytes received, so the body cannot be altered, and the
 * timestamp, so an old request cannot be replayed outside the window. Inside the window a
 * signature is accepted ONCE (the caller claims the signature this answers in the replay store
 * shared by every instance, shared-state/replay-claims.ts): a retry must be signed again.
 * Several `v1=` values may be sent comma-separated, and a key may hold two secrets while its
 * secret is rotated; any value matching any live secret suffices.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { HttpErrors } from "../errors.js";

export const TIMESTAMP_HEADER = "entrepot-timestamp";
export const SIGNATURE_HEADER = "entrepot-signature";

export function sign(secret: string, timestamp: number | string, body: string | Buffer): string {
  const mac = createHmac("sha256", secret);
  mac.update(`${timestamp}.`, "utf8");
  mac.update(body);
  return mac.digest("hex");
}

/**
 * Headers a client sends with a signed request. Millisecond timestamps make two sends of the same
 * body (an idempotent retry) two different signatures, so a prompt retry is not a "replay".
 */
export function signedHeaders(secret: string, body: string | Buffer, now: Date = new Date()): Record<string, string> {
  const ts = (now.getTime() / 1000).toFixed(3);
  return { [TIMESTAMP_HEADER]: String(ts), [SIGNATURE_HEADER]: `v1=${sign(secret, ts, body)}` };
}

export interface VerifyInput {
  /** The key's live signing secrets (current first). */
  secrets: readonly string[];
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: Buffer;
  windowSeconds: number;
  nowMs: number;
}

/** Checks a signed request; answers the matching signature (hex), which the caller claims once. */
export function verifySignature(v: VerifyInput): string {
  if (v.timestamp === undefined || v.signature === undefined) {
    throw HttpErrors.signatureMissing(`signed requests need the ${TIMESTAMP_HEADER} and ${SIGNATURE_HEADER} headers`, {
      fields: [{ field: v.timestamp === undefined ? TIMESTAMP_HEADER : SIGNATURE_HEADER, message: "header required" }],
    });
  }
  if (!/^\d{1,12}(\.\d{1,3})?$/.test(v.timestamp)) {
    throw HttpErrors.signatureInvalid(`${TIMESTAMP_HEADER} must be unix seconds (up to 3 decimals)`, { fields: [{ field: TIMESTAMP_HEADER, message: "must be unix seconds" }] });
  }
  const candidates = v.signature
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.startsWith("v1="))
    .map((s) => s.slice(3));
  if (candidates.length === 0 || candidates.some((c) => !/^[0-9a-f]{64}$/.test(c))) {
    throw HttpErrors.signatureInvalid(`${SIGNATURE_HEADER} must be v1=<64 hex characters>`, { fields: [{ field: SIGNATURE_HEADER, message: "must be v1=<hex>" }] });
  }
  const skew = Math.abs(v.nowMs / 1000 - Number(v.timestamp));
  if (skew > v.windowSeconds) {
    throw HttpErrors.signatureExpired(`the signed timestamp is ${Math.round(skew)} s away from now; the window is ${v.windowSeconds} s`, {
      fields: [{ field: TIMESTAMP_HEADER, message: "outside the replay window" }],
    });
  }
  for (const secret of v.secrets) {
    const expected = Buffer.from(sign(secret, v.timestamp, v.rawBody), "hex");
    const match = candidates.find((c) => timingSafeEqual(Buffer.from(c, "hex"), expected));
    if (match !== undefined) return match;
  }
  throw HttpErrors.signatureInvalid("the signature does not match the body and timestamp");
}
