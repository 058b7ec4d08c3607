/**
 * Signing secrets at rest: AES-256-GCM under SECRETS_KEY (32 bytes). Each ciphertext is stored with
 * the fingerprint of the key that sealed it (`keyId`, 16 hex characters of a SHA-256 over the key,
 * never the key), so a database encrypted under an older key is recognised and re-sealed at boot
 * while that key is still configured (SECRETS_KEY_PREVIOUS), and a wrong key is refused by name
 * instead of failing every signature.
 *
 * Stored form: base64 of iv (12 random bytes) | tag (16 bytes) | ciphertext. The associated data
 * binds a ciphertext to its row and column (`api_keys:<id>:signing_secret`), so copying one key's
 * ciphertext onto another key's row does not decrypt.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

export const SECRETS_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  ciphertext: string;
  keyId: string;
}

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretBoxError";
  }
}

/** Fingerprint of a secrets key: safe to store and to print (it reveals nothing of the key). */
export function secretsKeyId(key: Buffer): string {
  return createHash("sha256").update("entrepot secrets key v1\u0000").update(key).digest("hex").slice(0, 16);
}

/** A 32-byte key written as 64 hex characters or as base64 (with or without padding). */
export function parseSecretsKey(text: string): Buffer | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, "hex");
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    return b.length === SECRETS_KEY_BYTES ? b : null;
  }
  return null;
}

export function newSecretsKey(): Buffer {
  return randomBytes(SECRETS_KEY_BYTES);
}

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  /** Fingerprint of the key that seals. */
  readonly keyId: string;

  /** `current` seals and opens; each of `previous` only opens (until re-sealed under `current`). */
  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    for (const k of [current, ...previous]) {
      if (k.length !== SECRETS_KEY_BYTES) throw new SecretBoxError(`a secrets key must be ${SECRETS_KEY_BYTES} bytes`);
    }
    this.keyId = secretsKeyId(current);
    this.keys.set(this.keyId, Buffer.from(current));
    for (const k of previous) if (!this.keys.has(secretsKeyId(k))) this.keys.set(secretsKeyId(k), Buffer.from(k));
  }

  knows(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  seal(plaintext: string, aad: string): Sealed {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.keys.get(this.keyId) as Buffer, iv);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return { ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64"), keyId: this.keyId };
  }

  open(sealed: Sealed, aad: string): string {
    const key = this.keys.get(sealed.keyId);
    if (key === undefined) throw new SecretBoxError(`sealed under secrets key ${sealed.keyId}, which is neither SECRETS_KEY nor one of SECRETS_KEY_PREVIOUS`);
    const raw = Buffer.from(sealed.ciphertext, "base64");
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError("ciphertext too short");
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new SecretBoxError(`ciphertext does not authenticate under secrets key ${sealed.keyId} (altered, or moved from another row)`);
    }
  }
}
