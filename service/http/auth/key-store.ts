/**
 * The `api_keys` table as rows: the bearer key's hash, the signing secret(s) sealed by
 * `SecretBox` (or, for a key issued before encryption, the clear text until boot seals it), the
 * gateway binding. Every change that depends on what was read is a conditional update (compare
 * and set), so two instances rotating, binding or sealing the same key cannot overwrite each other.
 */
import type { PrismaClient } from "../../db/index.js";

export interface StoredApiKey {
  id: string;
  name: string;
  scopes: string[];
  gateway: string | null;
  keyHash: string;
  /** Clear text of a key issued before secrets were encrypted; NULL once sealed. */
  signingSecret: string | null;
  signingSecretCiphertext: string | null;
  signingSecretKeyId: string | null;
  previousSigningSecretCiphertext: string | null;
  previousSigningSecretKeyId: string | null;
  previousSigningSecretExpiresAt: Date | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface SealedColumns {
  signingSecret: null;
  signingSecretCiphertext: string;
  signingSecretKeyId: string;
  previousSigningSecretCiphertext: string | null;
  previousSigningSecretKeyId: string | null;
  previousSigningSecretExpiresAt: Date | null;
}

export interface ApiKeyRepository {
  insert(row: StoredApiKey): Promise<void>;
  /**
   * Inserts `rows` only if the table is empty, atomically across instances (two first starts at once
   * insert one set); false when it was not empty.
   */
  insertIfEmpty(rows: readonly StoredApiKey[]): Promise<boolean>;
  find(id: string): Promise<StoredApiKey | null>;
  list(): Promise<StoredApiKey[]>;
  revoke(id: string, at: Date): Promise<StoredApiKey | null>;
  count(): Promise<number>;
  /** Sets the gateway of a key that has none; answers the row as it is afterwards. */
  bindGateway(id: string, gateway: string): Promise<StoredApiKey | null>;
  /** Replaces the secret columns if the row still holds `expected`'s; false when it changed meanwhile. */
  replaceSecrets(id: string, expected: StoredApiKey, next: SealedColumns): Promise<boolean>;
  /** Rows holding a clear secret or a ciphertext sealed under another key than `keyId`. */
  listUnsealed(keyId: string): Promise<StoredApiKey[]>;
}

export class PrismaApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async insert(r: StoredApiKey): Promise<void> {
    await this.prisma.apiKey.create({ data: { ...r, scopes: [...r.scopes] } });
  }

  async insertIfEmpty(rows: readonly StoredApiKey[]): Promise<boolean> {
    const json = JSON.stringify(rows.map((r) => ({ ...r, scopes: [...r.scopes] })));
    // The lock first, then the check in the next statement: its snapshot, taken once the lock is
    // held, sees the rows of a first start that held it before.
    const [, inserted] = await this.prisma.$transaction([
      this.prisma.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended('api_keys:bootstrap', 0))::text`,
      this.prisma.$executeRaw`
        INSERT INTO api_keys (id, name, scopes, gateway, key_hash, signing_secret, signing_secret_ciphertext, signing_secret_key_id, created_at)
        SELECT r.id, r.name, r.scopes, r.gateway, r."keyHash", r."signingSecret", r."signingSecretCiphertext", r."signingSecretKeyId", r."createdAt"
          FROM jsonb_to_recordset(${json}::jsonb) AS r(id text, name text, scopes text[], gateway text, "keyHash" text, "signingSecret" text,
                                                      "signingSecretCiphertext" text, "signingSecretKeyId" text, "createdAt" timestamptz)
         WHERE NOT EXISTS (SELECT 1 FROM api_keys)`,
    ]);
    return inserted === rows.length;
  }

  async find(id: string): Promise<StoredApiKey | null> {
    return this.prisma.apiKey.findUnique({ where: { id } });
  }

  async list(): Promise<StoredApiKey[]> {
    return this.prisma.apiKey.findMany({ orderBy: { createdAt: "asc" } });
  }

  async revoke(id: string, at: Date): Promise<StoredApiKey | null> {
    // Revoking twice keeps the first revocation instant.
    await this.prisma.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
    return this.find(id);
  }

  async count(): Promise<number> {
    return this.prisma.apiKey.count();
  }

  async bindGateway(id: string, gateway: string): Promise<StoredApiKey | null> {
    await this.prisma.apiKey.updateMany({ where: { id, gateway: null }, data: { gateway } });
    return this.find(id);
  }

  async replaceSecrets(id: string, expected: StoredApiKey, next: SealedColumns): Promise<boolean> {
    const r = await this.prisma.apiKey.updateMany({
      where: {
        id,
        signingSecret: expected.signingSecret,
        signingSecretCiphertext: expected.signingSecretCiphertext,
        previousSigningSecretCiphertext: expected.previousSigningSecretCiphertext,
      },
      data: next,
    });
    return r.count === 1;
  }

  async listUnsealed(keyId: string): Promise<StoredApiKey[]> {
    return this.prisma.apiKey.findMany({
      where: {
        OR: [
          { signingSecret: { not: null } },
          { signingSecretKeyId: { not: keyId } },
          { AND: [{ previousSigningSecretKeyId: { not: null } }, { previousSigningSecretKeyId: { not: keyId } }] },
        ],
      },
      orderBy: { createdAt: "asc" },
    });
  }
}
