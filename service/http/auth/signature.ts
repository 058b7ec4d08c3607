/**
 * Gateway request signing, in the manner of Stripe/Adyen webhooks:
 *
 *   Entrepot-Timestamp: <unix seconds, optionally with up to 3 decimals (milliseconds)>
 *   Entrepot-Signature: v1=<hex HMAC-SHA256(signingSecret, timestamp + "." + rawBody)>
 *
 * The signature covers the exact bytes received, so the body cannot be altered, and the
 * timestamp, so an old request cannot be replayed outside the window. Inside the window a
 * signature is accepted ONCE: a retry must be signed again (new timestamp, new signature).
 * Several `v1=` values may be sent comma-separated (secret rotation); one match suffices.
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

/**
 * Signatures seen within the window, per key. Bounded: when full, the oldest entries go first;
 * an evicted signature is still refused by the timestamp check once the window has passed, and
 * the bound is far above what a window of legitimate traffic produces.
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly windowMs: number,
    private readonly maxEntries = 1_000_000,
  ) {}

  /** True when this signature was not seen inside the window (and records it). */
  claim(key: string, nowMs: number): boolean {
    this.sweep(nowMs);
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.maxEntries) {
      const oldest = this.seen.keys().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
    this.seen.set(key, nowMs + 2 * this.windowMs);
    return true;
  }

  private sweep(nowMs: number): void {
    // Insertion order = expiry order (constant window), so stop at the first live entry.
    for (const [k, until] of this.seen) {
      if (until > nowMs) break;
      this.seen.delete(k);
    }
  }
}

export interface VerifyInput {
  keyId: string;
  secret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: Buffer;
  windowSeconds: number;
  nowMs: number;
  replay: ReplayCache;
}

export function verifySignature(v: VerifyInput): void {
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
  const expected = Buffer.from(sign(v.secret, v.timestamp, v.rawBody), "hex");
  const match = candidates.find((c) => timingSafeEqual(Buffer.from(c, "hex"), expected));
  if (match === undefined) throw HttpErrors.signatureInvalid("the signature does not match the body and timestamp");
  if (!v.replay.claim(`${v.keyId}:${match}`, v.nowMs)) {
    throw HttpErrors.signatureReplayed("this signature was already used; sign the retry again with a new timestamp");
  }
}
