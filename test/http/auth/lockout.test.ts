import { describe, expect, it } from "vitest";
import { failureBuckets } from "../../../service/http/auth/lockout.js";

const limits = { perKeyAndAddress: 3, perKey: 30, perAddress: 10, windowMs: 60_000 };

describe("failure buckets of the lockout", () => {
  it("counts a failure against a real key id per (key id, address) and per key id", () => {
    expect(failureBuckets("0123456789ab", "10.0.0.1", limits)).toEqual([
      { name: "af:k:0123456789ab@10.0.0.1", limit: 3 },
      { name: "af:k:0123456789ab", limit: 30 },
    ]);
  });

  it("counts key-less failures (no key, a malformed one, an unknown id) per address", () => {
    expect(failureBuckets(null, "2001:db8::1", limits)).toEqual([{ name: "af:a:2001:db8::1", limit: 10 }]);
  });

  it("keeps bucket names short whatever a proxy puts in the address", () => {
    const odd = failureBuckets(null, `x${"y".repeat(500)} <script>`, limits)[0]!;
    expect(odd.name).toMatch(/^af:a:h:[0-9a-f]{32}$/);
    expect(failureBuckets(null, `x${"y".repeat(500)} <script>`, limits)[0]).toEqual(odd);
    expect(failureBuckets(null, "other", limits)[0]?.name).not.toBe(odd.name);
  });
});
