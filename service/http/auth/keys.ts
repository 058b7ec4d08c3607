/**
 * API keys: `ent_<12 hex id>_<43 base64url secret>` (256 bits of entropy). Only sha256(key) is
 * stored; a presented key is looked up by its id and its hash compared in constant time, so the
 * database never holds a usable bearer key and a timing side channel never reveals a prefix.
 *
 * Verified keys are cached for a few seconds: a database read per request would cost throughput.
 * Revocation through THIS process takes effect at once; through another process within `cacheMs`.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { API_KEY_PATTERN } from "../../config.js";
import type { PrismaClient } from "../../db/index.js";
import { HttpErrors } from "../errors.js";

export const SCOPES = ["gateway:write", "finance:read", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: Scope[];
  keyHash: string;
  signingSecret: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** What a request knows about its caller once authenticated (never the secret itself). */
export interface Principal {
  keyId: string;
  name: string;
  scopes: readonly Scope[];
  signingSecret: string;
}

/** A freshly issued key: the only moment the bearer key exists in clear. */
export interface IssuedKey {
  id: string;
  name: string;
  scopes: Scope[];
  key: string;
  signingSecret: string;
  createdAt: Date;
}

export interface ApiKeyRepository {
  insert(record: ApiKeyRecord): Promise<void>;
  find(id: string): Promise<ApiKeyRecord | null>;
  list(): Promise<ApiKeyRecord[]>;
  revoke(id: string, at: Date): Promise<ApiKeyRecord | null>;
  count(): Promise<number>;
}

export class PrismaApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async insert(r: ApiKeyRecord): Promise<void> {
    await this.prisma.apiKey.create({ data: { ...r, scopes: [...r.scopes] } });
  }

  async find(id: string): Promise<ApiKeyRecord | null> {
    const row = await this.prisma.apiKey.findUnique({ where: { id } });
    return row === null ? null : toRecord(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await this.prisma.apiKey.findMany({ orderBy: { createdAt: "asc" } })).map(toRecord);
  }

  async revoke(id: string, at: Date): Promise<ApiKeyRecord | null> {
    // Revoking twice keeps the first revocation instant.
    await this.prisma.apiKey.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
    return this.find(id);
  }

  async count(): Promise<number> {
    return this.prisma.apiKey.count();
  }
}

function toRecord(row: { id: string; name: string; scopes: string[]; keyHash: string; signingSecret: string; createdAt: Date; revokedAt: Date | null }): ApiKeyRecord {
  return { ...row, scopes: row.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)) };
}

export function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export function newKeyId(): string {
  return randomBytes(6).toString("hex");
}

export function newKey(id: string = newKeyId()): string {
  return `ent_${id}_${randomBytes(32).toString("base64url")}`;
}

export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

export function hasScope(granted: readonly Scope[], needed: Scope): boolean {
  // admin is a superset: an operator can do what any integration can.
  return granted.includes(needed) || granted.includes("admin");
}

export interface ApiKeyServiceOptions {
  cacheMs?: number;
  now?: () => Date;
}

export class ApiKeyService {
  private readonly cache = new Map<string, { principal: Principal; hash: Buffer; until: number }>();
  private readonly cacheMs: number;
  private readonly now: () => Date;

  constructor(
    private readonly repo: ApiKeyRepository,
    options: ApiKeyServiceOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 5_000;
    this.now = options.now ?? (() => new Date());
  }

  async create(input: { name: string; scopes: Scope[]; key?: string }): Promise<IssuedKey> {
    const scopes = [...new Set(input.scopes)].sort();
    let id: string;
    let key: string;
    if (input.key !== undefined) {
      const m = API_KEY_PATTERN.exec(input.key);
      if (m === null) throw new Error("a provided key must match ent_<12 hex>_<43 base64url>");
      id = m[1] as string;
      key = input.key;
    } else {
      id = newKeyId();
      key = newKey(id);
    }
    const record: ApiKeyRecord = { id, name: input.name, scopes, keyHash: hashKey(key), signingSecret: newSigningSecret(), createdAt: this.now(), revokedAt: null };
    await this.repo.insert(record);
    return { id, name: record.name, scopes, key, signingSecret: record.signingSecret, createdAt: record.createdAt };
  }

  async list(): Promise<ApiKeyRecord[]> {
    return this.repo.list();
  }

  async revoke(id: string): Promise<ApiKeyRecord> {
    const r = await this.repo.revoke(id, this.now());
    this.cache.delete(id);
    if (r === null) throw HttpErrors.keyNotFound(`no API key ${JSON.stringify(id.slice(0, 40))}`, { fields: [{ field: "id", message: "unknown key id" }] });
    return r;
  }

  async isEmpty(): Promise<boolean> {
    return (await this.repo.count()) === 0;
  }

  /** The caller behind a bearer key, or the precise reason it is refused. */
  async authenticate(key: string): Promise<Principal> {
    const m = API_KEY_PATTERN.exec(key);
    if (m === null) throw HttpErrors.invalidKey("the API key is malformed");
    const id = m[1] as string;
    const presented = Buffer.from(hashKey(key), "hex");
    const cached = this.cache.get(id);
    if (cached !== undefined && cached.until > Date.now()) {
      if (!timingSafeEqual(cached.hash, presented)) throw HttpErrors.invalidKey("the API key is not valid");
      return cached.principal;
    }
    const record = await this.repo.find(id);
    // Compare against a dummy hash when the id is unknown, so both paths cost the same.
    const stored = Buffer.from(record?.keyHash ?? "0".repeat(64), "hex");
    if (!timingSafeEqual(stored, presented) || record === null) throw HttpErrors.invalidKey("the API key is not valid");
    if (record.revokedAt !== null) throw HttpErrors.revokedKey(`the API key ${id} was revoked at ${record.revokedAt.toISOString()}`);
    const principal: Principal = { keyId: id, name: record.name, scopes: record.scopes, signingSecret: record.signingSecret };
    this.cache.set(id, { principal, hash: stored, until: Date.now() + this.cacheMs });
    return principal;
  }
}
