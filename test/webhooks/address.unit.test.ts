/**
 * Which endpoint URLs are refused when private addresses are not allowed: IPv6 forms that carry an
 * IPv4 address inside, and names written with the root's trailing dot, are judged like the plain
 * address or name.
 */
import { describe, expect, it } from "vitest";
import { checkEndpointUrl, isInternalAddress } from "../../service/webhooks/address.js";

const refusal = (url: string): string | null => {
  try {
    checkEndpointUrl(url, false);
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? "thrown";
  }
};

describe("checkEndpointUrl without private addresses", () => {
  describe("when an IPv6 address embeds an internal IPv4 address", () => {
    it.each([
      "https://[::127.0.0.1]:3339/", // IPv4-compatible (::/96), saved as [::7f00:1]
      "https://[::7f00:1]/",
      "https://[::a01:203]/", // ::10.1.2.3
      "https://[::8.8.8.8]/", // ::/96 is deprecated: refused whatever it embeds
      "https://[2002:7f00:1::]/", // 6to4 of 127.0.0.1
      "https://[2002:a9fe:a9fe::1]/", // 6to4 of 169.254.169.254
      "https://[2002:c0a8:1::]/", // 6to4 of 192.168.0.1
      "https://[::ffff:7f00:1]/", // IPv4-mapped, hex form
      "https://[::ffff:10.0.0.1]/",
      "https://[64:ff9b::7f00:1]/", // NAT64
      "https://[64:ff9b:1::a00:1]/", // local-use NAT64
      "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", // Teredo
    ])("refuses %s", (url) => {
      expect(refusal(url)).toBe("ENT_WEBHOOK_URL_REFUSED");
    });
  });

  describe("when a name ends with the root's dot", () => {
    it.each(["https://localhost./", "https://foo.localhost./", "https://metadata.google.internal./", "https://printer.local./", "https://LOCALHOST../x"])("refuses %s", (url) => {
      expect(refusal(url)).toBe("ENT_WEBHOOK_URL_REFUSED");
    });
  });

  it("accepts public addresses and names, 6to4 of a public IPv4 included", () => {
    for (const url of ["https://hooks.example.com/x", "https://hooks.example.com./x", "https://[2002:808:808::1]/", "https://[2606:4700:4700::1111]/", "https://8.8.8.8/"]) {
      expect(refusal(url), url).toBeNull();
    }
  });
});

describe("isInternalAddress", () => {
  it("sees the IPv4 address inside IPv6 forms (what DNS may answer at connection time)", () => {
    for (const a of ["::7f00:1", "::ffff:7f00:1", "::ffff:127.0.0.1", "2002:0a00:0001::", "64:ff9b::808:808", "::", "::1"]) expect(isInternalAddress(a), a).toBe(true);
    for (const a of ["2002:808:808::", "2606:4700:4700::1111", "8.8.8.8"]) expect(isInternalAddress(a), a).toBe(false);
  });
});
