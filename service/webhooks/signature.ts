/**
 * Webhook signatures: `Entrepot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
 * with one `v1=` per live secret (two while a rotation is in progress). A receiver recomputes the
 * HMAC over the raw body it received with its secret, accepts if any `v1` matches (constant-time)
 * and `t` is within its tolerance of its clock. `verifyWebhookSignature` is that check, importable.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const WEBHOOK_SIGNATURE_HEADER = "entrepot-signature";

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

export function signatureHeader(body: string, secrets: readonly string[], unixSeconds: number): string {
  const t = Math.floor(unixSeconds);
  return [`t=${t}`, ...secrets.map((s) => `v1=${createHmac("sha256", s).update(`${t}.${body}`).digest("hex")}`)].join(",");
}

export type WebhookVerification = { ok: true; timestamp: number } | { ok: false; reason: "malformed" | "expired" | "mismatch" };

/** Checks a received webhook: `header` as received, `body` the raw bytes as text, `toleranceSeconds` either way. */
export function verifyWebhookSignature(input: { body: string; header: string | undefined; secret: string; toleranceSeconds?: number; nowMs?: number }): WebhookVerification {
  const parts = (input.header ?? "").split(",").map((p) => p.trim());
  const t = parts.find((p) => p.startsWith("t="))?.slice(2);
  const sigs = parts.filter((p) => p.startsWith("v1=")).map((p) => p.slice(3));
  if (t === undefined || !/^[0-9]{1,12}$/.test(t) || sigs.length === 0) return { ok: false, reason: "malformed" };
  const timestamp = Number(t);
  const now = (input.nowMs ?? Date.now()) / 1000;
  if (Math.abs(now - timestamp) > (input.toleranceSeconds ?? 300)) return { ok: false, reason: "expired" };
  const expected = createHmac("sha256", input.secret).update(`${t}.${input.body}`).digest();
  for (const s of sigs) {
    if (!/^[0-9a-f]{64}$/.test(s)) continue;
    if (timingSafeEqual(Buffer.from(s, "hex"), expected)) return { ok: true, timestamp };
  }
  return { ok: false, reason: "mismatch" };
}
