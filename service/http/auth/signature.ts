/**
 * Gateway request signing, in the manner of Stripe/Adyen webhooks:
 *
 *   Entrepot-Timestamp: <unix seconds, optionally with up to 3 decimals (milliseconds)>
 *   Entrepot-Signature: v2=<hex HMAC-SHA256(signingSecret, timestamp + "." + METHOD + "." + target + "." + rawBody)>
 *                    or v1=<hex HMAC-SHA256(signingSecret, timestamp + "." + rawBody)>
 *
 * The signature covers the exact bytes received, so the body cannot be altered, and the
 * timestamp, so an old request cannot be replayed outside the window. v2 also covers the method
 * and the request target (path and query, exactly as sent: `/v1/webhooks/endpoints/we_1/test`),
 * so a captured request cannot be sent to another route or another endpoint's id inside the
 * window (an empty-body `…/test` signed with v1 also disables with `…/disable`). v1 stays accepted
 * for the gateways that sign it; a v2 signature cannot be turned into a v1 one without the secret.
 * Inside the window a signature is accepted ONCE (the caller claims the signatures this answers in
 * the replay store shared by every instance, shared-state/replay-claims.ts): a retry must be
 * signed again. Several values may be sent comma-separated, and a key may hold two secrets while
 * its secret is rotated; any value matching any live secret suffices, and every value sent is
 * claimed with it.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { HttpErrors } from "../errors.js";

export const TIMESTAMP_HEADER = "entrepot-timestamp";
export const SIGNATURE_HEADER = "entrepot-signature";

/** What a v2 signature covers besides the timestamp and the body: the method and the request target (path and query as sent). */
export interface SignedTarget {
  method: string;
  target: string;
}

/** v1 (no `to`): HMAC over "<timestamp>.<body>"; v2: over "<timestamp>.<METHOD>.<target>.<body>". */
export function sign(secret: string, timestamp: number | string, body: string | Buffer, to?: SignedTarget): string {
  const mac = createHmac("sha256", secret);
  mac.update(to === undefined ? `${timestamp}.` : `${timestamp}.${to.method.toUpperCase()}.${to.target}.`, "utf8");
  mac.update(body);
  return mac.digest("hex");
}

/**
 * Headers a client sends with a signed request: v2 with `to`, v1 without. Millisecond timestamps
 * make two sends of the same body (an idempotent retry) two different signatures, so a prompt
 * retry is not a "replay".
 */
export function signedHeaders(secret: string, body: string | Buffer, now: Date = new Date(), to?: SignedTarget): Record<string, string> {
  const ts = (now.getTime() / 1000).toFixed(3);
  return { [TIMESTAMP_HEADER]: String(ts), [SIGNATURE_HEADER]: `${to === undefined ? "v1" : "v2"}=${sign(secret, ts, body, to)}` };
}

export interface VerifyInput {
  /** The key's live signing secrets (current first). */
  secrets: readonly string[];
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: Buffer;
  /** The request's method and target, which a v2 signature covers. */
  request: SignedTarget;
  windowSeconds: number;
  nowMs: number;
}

/**
 * Checks a signed request; answers every signature value the header presents (hex, the matching one
 * first), all of which the caller claims once: a header carrying v2 and v1 (a gateway moving to v2),
 * or one value per live secret, must not leave the values that were not the match free to be sent
 * again on their own (a v1 value, which does not cover the route, to another route).
 */
export function verifySignature(v: VerifyInput): string[] {
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
    .filter((s) => s.startsWith("v1=") || s.startsWith("v2="))
    .map((s) => ({ version: s.slice(0, 2), hex: s.slice(3) }));
  if (candidates.length === 0 || candidates.some((c) => !/^[0-9a-f]{64}$/.test(c.hex))) {
    throw HttpErrors.signatureInvalid(`${SIGNATURE_HEADER} must be v2=<64 hex characters> (or v1=)`, { fields: [{ field: SIGNATURE_HEADER, message: "must be v2=<hex> or v1=<hex>" }] });
  }
  const skew = Math.abs(v.nowMs / 1000 - Number(v.timestamp));
  if (skew > v.windowSeconds) {
    throw HttpErrors.signatureExpired(`the signed timestamp is ${Math.round(skew)} s away from now; the window is ${v.windowSeconds} s`, {
      fields: [{ field: TIMESTAMP_HEADER, message: "outside the replay window" }],
    });
  }
  for (const secret of v.secrets) {
    const expected = {
      v1: candidates.some((c) => c.version === "v1") ? Buffer.from(sign(secret, v.timestamp, v.rawBody), "hex") : null,
      v2: candidates.some((c) => c.version === "v2") ? Buffer.from(sign(secret, v.timestamp, v.rawBody, v.request), "hex") : null,
    };
    const match = candidates.find((c) => timingSafeEqual(Buffer.from(c.hex, "hex"), expected[c.version as "v1" | "v2"]!));
    if (match !== undefined) return [...new Set([match.hex, ...candidates.map((c) => c.hex)])];
  }
  throw HttpErrors.signatureInvalid(
    candidates.some((c) => c.version === "v2")
      ? `the signature does not match the timestamp, method, target (${v.request.method.toUpperCase()} ${v.request.target}) and body`
      : "the signature does not match the body and timestamp",
  );
}
