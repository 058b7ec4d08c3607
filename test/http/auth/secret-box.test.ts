import { describe, expect, it } from "vitest";
import { newSecretsKey, parseSecretsKey, SecretBox, SecretBoxError, secretsKeyId } from "../../../service/http/auth/secret-box.js";

describe("SecretBox (AES-256-GCM)", () => {
  const k1 = newSecretsKey();
  const k2 = newSecretsKey();

  it("opens what it sealed, and never seals the same secret to the same ciphertext", () => {
    const box = new SecretBox(k1);
    const a = box.seal("whsec_abc", "api_keys:aaa:signing_secret");
    const b = box.seal("whsec_abc", "api_keys:aaa:signing_secret");
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(a.keyId).toBe(secretsKeyId(k1));
    expect(box.open(a, "api_keys:aaa:signing_secret")).toBe("whsec_abc");
    expect(Buffer.from(a.ciphertext, "base64").toString("latin1")).not.toContain("whsec");
  });

  it("refuses a ciphertext moved to another row (associated data), altered, or sealed under an unknown key", () => {
    const box = new SecretBox(k1);
    const s = box.seal("whsec_abc", "api_keys:aaa:signing_secret");
    expect(() => box.open(s, "api_keys:bbb:signing_secret")).toThrow(SecretBoxError);
    const raw = Buffer.from(s.ciphertext, "base64");
    raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 1;
    expect(() => box.open({ ...s, ciphertext: raw.toString("base64") }, "api_keys:aaa:signing_secret")).toThrow(/does not authenticate/);
    expect(() => new SecretBox(k2).open(s, "api_keys:aaa:signing_secret")).toThrow(/neither SECRETS_KEY nor/);
    expect(() => box.open({ ...s, ciphertext: "AAAA" }, "api_keys:aaa:signing_secret")).toThrow(/too short/);
  });

  it("opens under a previous key and seals under the current one", () => {
    const old = new SecretBox(k1).seal("whsec_old", "x");
    const rotated = new SecretBox(k2, [k1]);
    expect(rotated.knows(secretsKeyId(k1))).toBe(true);
    expect(rotated.open(old, "x")).toBe("whsec_old");
    expect(rotated.seal("whsec_old", "x").keyId).toBe(secretsKeyId(k2));
  });

  it("fingerprints keys stably without revealing them", () => {
    expect(secretsKeyId(k1)).toBe(secretsKeyId(Buffer.from(k1)));
    expect(secretsKeyId(k1)).not.toBe(secretsKeyId(k2));
    expect(secretsKeyId(k1)).toMatch(/^[0-9a-f]{16}$/);
    expect(k1.toString("hex")).not.toContain(secretsKeyId(k1));
  });

  it("reads a 32-byte key as hex or base64 (padded or not, url-safe too) and nothing else", () => {
    expect(parseSecretsKey(k1.toString("hex"))?.equals(k1)).toBe(true);
    expect(parseSecretsKey(k1.toString("base64"))?.equals(k1)).toBe(true);
    expect(parseSecretsKey(k1.toString("base64url"))?.equals(k1)).toBe(true);
    expect(parseSecretsKey(` ${k1.toString("hex")}\n`)?.equals(k1)).toBe(true);
    for (const bad of ["", "abc", k1.toString("hex").slice(2), newSecretsKey().subarray(0, 16).toString("base64"), `${k1.toString("hex")}00`]) expect(parseSecretsKey(bad)).toBeNull();
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});
