import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkEndpointUrl, isInternalAddress } from "../../service/webhooks/address.js";
import { signatureHeader, verifyWebhookSignature } from "../../service/webhooks/signature.js";

describe("webhook signatures", () => {
  const body = '{"id":"evt_1","type":"webhook.test"}';
  const now = 1_733_220_000_000;

  it("signs t.body with HMAC-SHA256 as the README's shell example computes it", () => {
    const header = signatureHeader(body, ["whsec_a"], now / 1000);
    const t = Math.floor(now / 1000);
    expect(header).toBe(`t=${t},v1=${createHmac("sha256", "whsec_a").update(`${t}.${body}`).digest("hex")}`);
    expect(verifyWebhookSignature({ body, header, secret: "whsec_a", nowMs: now })).toEqual({ ok: true, timestamp: t });
  });

  it("accepts any of several v1 signatures (rotation) and refuses a changed body, another secret, an old timestamp, garbage", () => {
    const header = signatureHeader(body, ["whsec_new", "whsec_old"], now / 1000);
    expect(verifyWebhookSignature({ body, header, secret: "whsec_old", nowMs: now }).ok).toBe(true);
    expect(verifyWebhookSignature({ body, header, secret: "whsec_new", nowMs: now }).ok).toBe(true);
    expect(verifyWebhookSignature({ body: `${body} `, header, secret: "whsec_new", nowMs: now })).toEqual({ ok: false, reason: "mismatch" });
    expect(verifyWebhookSignature({ body, header, secret: "whsec_other", nowMs: now })).toEqual({ ok: false, reason: "mismatch" });
    expect(verifyWebhookSignature({ body, header, secret: "whsec_new", nowMs: now + 301_000 })).toEqual({ ok: false, reason: "expired" });
    expect(verifyWebhookSignature({ body, header, secret: "whsec_new", nowMs: now + 301_000, toleranceSeconds: 600 }).ok).toBe(true);
    for (const bad of [undefined, "", "v1=abc", "t=abc,v1=00", `t=${now / 1000}`]) expect(verifyWebhookSignature({ body, header: bad, secret: "s", nowMs: now }).ok).toBe(false);
  });
});

describe("webhook destinations", () => {
  it("knows the internal ranges, IPv4-mapped IPv6 included", () => {
    for (const a of ["127.0.0.1", "10.0.0.5", "172.16.3.4", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "::", "fc00::1", "fe80::1", "fec0::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "not-an-ip"]) {
      expect(isInternalAddress(a), a).toBe(true);
    }
    for (const a of ["8.8.8.8", "172.32.0.1", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"]) expect(isInternalAddress(a), a).toBe(false);
  });

  it("refuses http, credentials, fragments and inward hosts unless private addresses are allowed", () => {
    expect(checkEndpointUrl("https://hooks.example.com/x?y=1", false)).toBe("https://hooks.example.com/x?y=1");
    for (const u of ["http://hooks.example.com/x", "https://a:b@hooks.example.com/", "https://hooks.example.com/#f", "https://127.0.0.1/", "https://[fe80::1]/", "https://[fec0::1]/", "https://svc.internal/", "https://printer.local/", "gopher://x/", "not a url"]) {
      expect(() => checkEndpointUrl(u, false), u).toThrow(expect.objectContaining({ code: "ENT_WEBHOOK_URL_REFUSED", fields: [expect.objectContaining({ field: "url" })] }));
    }
    expect(checkEndpointUrl("http://127.0.0.1:4000/hooks", true)).toBe("http://127.0.0.1:4000/hooks");
    expect(() => checkEndpointUrl("https://u:p@127.0.0.1/", true)).toThrow(expect.objectContaining({ code: "ENT_WEBHOOK_URL_REFUSED" }));
  });
});
