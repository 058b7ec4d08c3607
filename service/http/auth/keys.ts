/**
 * API keys: `ent_<12 hex id>_<43 base64url secret>` (256 bits of entropy). Only sha256(key) is
 * stored; a presented key is looked up by its id and its hash compared in constant time, so the
 * database never holds a usable bearer key and a timing side channel never reveals a prefix.
 *
 * Each key also has an HMAC signing secret (gateway request signatures, signature.ts). It must be
 * readable to verify a signature, so it is stored sealed by `SecretBox` (AES-256-GCM under
 * SECRETS_KEY). During a rotation a key holds two: the new one and the old one until its expiry
 * (or until the rotation is finished), and both verify.
 *
 * A gateway:write key belongs to one gateway, named when it is issued (reach.ts says what that
 * allows). Keys issued before that have no gateway and are refused on gateway routes until an admin
 * binds them (`bindGateway`): nothing keeps the old "any gateway" reach.
 *
 * Looked-up keys are cached for a few seconds, found or not, matching or not: a database read per
 * request would cost throughput, and a flood of bad keys for one id must not cost one either.
 * Revocation, rotation and binding through THIS process take effect at once; through another
 * process at once too on PostgreSQL, where a trigger on `api_keys` notifies every instance
 * (`forget`, wired in services.ts), and within `cacheMs` while an instance's notification
 * connection is down (a signature that fails against a cached key is re-checked against the
 * database once, so a freshly rotated secret works everywhere at once). A key in use is re-read in
 * the background before `cacheMs` is up, so steady traffic never waits for its read.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { API_KEY_PATTERN } from "../../config.js";
import { Errors, type AppError } from "../../errors.js";
import { HttpErrors } from "../errors.js";
import type { ApiKeyRepository, SealedColumns, StoredApiKey } from "./key-store.js";
import { SecretBoxError, type SecretBox } from "./secret-box.js";
import { GATEWAY_NAME, GATEWAY_NAME_RULE } from "../../settlement/validate.js";

export { PrismaApiKeyRepository, type ApiKeyRepository, type StoredApiKey } from "./key-store.js";

export const SCOPES = ["gateway:write", "finance:read", "finance:write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** A gateway's name as events carry it (the `gateway` field's schema). */
/** Longest a replaced signing secret may keep verifying after a rotation starts. */
export const MAX_ROTATION_OVERLAP_MS = 30 * 86_400_000;

/** What the admin API shows of a key (never a secret). */
export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: Scope[];
  gateway: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  /** Set while a replaced signing secret still verifies. */
  previousSigningSecretValidUntil: Date | null;
}

export interface SigningSecret {
  secret: string;
  /** null for the current secret; the instant a replaced one stops verifying. */
  validUntil: Date | null;
}

/** What a request knows about its caller once authenticated (the secrets never leave the process). */
export interface Principal {
  keyId: string;
  name: string;
  scopes: readonly Scope[];
  gateway: string | null;
  signingSecrets: readonly SigningSecret[];
}

/** A freshly issued key: the only moment the bearer key exists in clear. */
export interface IssuedKey {
  id: string;
  name: string;
  scopes: Scope[];
  gateway: string | null;
  key: string;
  signingSecret: string;
  createdAt: Date;
}

export type Verification = { principal: Principal } | { error: AppError; knownKeyId: string | null };

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
  // admin is a superset: an operator can do what any integration can; finance:write (imports, runs,
  // resolutions) reads what finance reads.
  return granted.includes(needed) || granted.includes("admin") || (needed === "finance:read" && granted.includes("finance:write"));
}

/** The signing secrets that verify at `nowMs`: the current one, and a replaced one until it expires. */
export function liveSecrets(p: Principal, nowMs: number): string[] {
  return p.signingSecrets.filter((s) => s.validUntil === null || s.validUntil.getTime() > nowMs).map((s) => s.secret);
}

function aad(keyId: string): string {
  // Both columns use it: a rotation moves the current ciphertext to `previous` unchanged.
  return `api_keys:${keyId}:signing_secret`;
}

function toScopes(scopes: readonly string[]): Scope[] {
  return scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
}

function toRecord(row: StoredApiKey): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: toScopes(row.scopes),
    gateway: row.gateway,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
    previousSigningSecretValidUntil: row.previousSigningSecretExpiresAt,
  };
}

function invalid(field: string, message: string): AppError {
  return Errors.validation(`${field} ${message}`, { fields: [{ field, message }] });
}

export interface ApiKeyServiceOptions {
  /** Seals and opens signing secrets. */
  box: SecretBox;
  cacheMs?: number;
  /** Most key ids remembered at once (found or not). */
  cacheEntries?: number;
  now?: () => Date;
}

interface CachedKey {
  /** null: no key with this id. */
  row: { principal: Principal; hash: Buffer; revokedAt: Date | null } | null;
  /** Not answered from after this instant (ms). */
  until: number;
  /** Re-read in the background from this instant on (ms). */
  refreshAt: number;
}

/** What a new key is made of (its bearer key and signing secret are generated unless `key` is given). */
export interface KeyInput {
  name: string;
  scopes: Scope[];
  gateway?: string | undefined;
  key?: string;
}

export class ApiKeyService {
  private readonly cache = new Map<string, CachedKey>();
  /** Reads under way, by key id. */
  private readonly loading = new Map<string, Promise<CachedKey>>();
  /** Bumped by every change through this process: a read that started before it is not cached. */
  private generation = 0;
  private readonly box: SecretBox;
  private readonly cacheMs: number;
  private readonly cacheEntries: number;
  private readonly now: () => Date;

  constructor(
    private readonly repo: ApiKeyRepository,
    options: ApiKeyServiceOptions,
  ) {
    this.box = options.box;
    this.cacheMs = options.cacheMs ?? 5_000;
    this.cacheEntries = options.cacheEntries ?? 10_000;
    this.now = options.now ?? (() => new Date());
  }

  async create(input: KeyInput): Promise<IssuedKey> {
    const { row, issued } = this.#issue(input);
    await this.repo.insert(row);
    this.forget(row.id);
    return issued;
  }

  /**
   * Issues `inputs` only if no key exists yet, atomically across instances: of two first starts at
   * once, one issues them and the other gets [] (it prints nothing).
   */
  async createFirst(inputs: readonly KeyInput[]): Promise<IssuedKey[]> {
    const made = inputs.map((input) => this.#issue(input));
    if (!(await this.repo.insertIfEmpty(made.map((m) => m.row)))) return [];
    for (const m of made) this.forget(m.row.id);
    return made.map((m) => m.issued);
  }

  #issue(input: KeyInput): { row: StoredApiKey; issued: IssuedKey } {
    const scopes = [...new Set(input.scopes)].sort();
    if (scopes.length === 0 || scopes.some((s) => !(SCOPES as readonly string[]).includes(s))) throw invalid("scopes", `must be some of ${SCOPES.join(", ")}`);
    const gateway = input.gateway ?? null;
    if (scopes.includes("gateway:write")) {
      if (gateway === null) throw invalid("gateway", "is required for a gateway:write key: the one gateway it posts and reads as");
      if (!GATEWAY_NAME.test(gateway)) throw invalid("gateway", `must be ${GATEWAY_NAME_RULE}`);
    } else if (gateway !== null) {
      throw invalid("gateway", "is only for keys with the gateway:write scope");
    }
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
    const signingSecret = newSigningSecret();
    const sealed = this.box.seal(signingSecret, aad(id));
    const row: StoredApiKey = {
      id,
      name: input.name,
      scopes,
      gateway,
      keyHash: hashKey(key),
      signingSecret: null,
      signingSecretCiphertext: sealed.ciphertext,
      signingSecretKeyId: sealed.keyId,
      previousSigningSecretCiphertext: null,
      previousSigningSecretKeyId: null,
      previousSigningSecretExpiresAt: null,
      createdAt: this.now(),
      revokedAt: null,
    };
    return { row, issued: { id, name: row.name, scopes, gateway, key, signingSecret, createdAt: row.createdAt } };
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await this.repo.list()).map(toRecord);
  }

  async get(id: string): Promise<ApiKeyRecord> {
    return toRecord(await this.found(id));
  }

  async revoke(id: string): Promise<ApiKeyRecord> {
    const r = await this.repo.revoke(id, this.now());
    this.forget(id);
    if (r === null) throw notFound(id);
    return toRecord(r);
  }

  /**
   * Binds a gateway key issued before keys were bound (or confirms the binding it has). A key's
   * gateway never changes: a key for another gateway is another key.
   */
  async bindGateway(id: string, gateway: string): Promise<ApiKeyRecord> {
    if (!GATEWAY_NAME.test(gateway)) throw invalid("gateway", `must be ${GATEWAY_NAME_RULE}`);
    const row = await this.found(id);
    if (!row.scopes.includes("gateway:write")) throw HttpErrors.keyNotGateway(`key ${id} has no gateway:write scope; only gateway keys are bound to a gateway`, { fields: [{ field: "id", message: "not a gateway key" }] });
    const after = row.gateway === null ? await this.repo.bindGateway(id, gateway) : row;
    this.forget(id);
    if (after === null) throw notFound(id);
    if (after.gateway !== gateway) {
      throw HttpErrors.keyAlreadyBound(`key ${id} is bound to gateway ${after.gateway ?? "?"}; issue another key for ${gateway}`, { fields: [{ field: "gateway", message: `the key is bound to ${after.gateway ?? "?"}` }] });
    }
    return toRecord(after);
  }

  /**
   * A new signing secret (answered once); the current one keeps verifying until
   * `previousValidUntil` (or `finishRotation`). Refused while a replaced secret still verifies:
   * three live secrets would leave a gateway unsure which one it holds.
   */
  async rotateSigningSecret(id: string, previousValidUntil: Date): Promise<{ key: ApiKeyRecord; signingSecret: string }> {
    const now = this.now();
    if (!(previousValidUntil.getTime() > now.getTime()) || previousValidUntil.getTime() - now.getTime() > MAX_ROTATION_OVERLAP_MS) {
      throw invalid("previousValidUntil", `must be after now and at most ${MAX_ROTATION_OVERLAP_MS / 86_400_000} days ahead`);
    }
    const row = await this.found(id);
    const expires = row.previousSigningSecretExpiresAt;
    if (expires !== null && expires.getTime() > now.getTime()) {
      throw HttpErrors.rotationInProgress(`key ${id}'s previous signing secret verifies until ${expires.toISOString()}; finish that rotation first (POST /v1/admin/api-keys/${id}/finish-signing-secret-rotation)`, {
        details: { previousSigningSecretValidUntil: expires.toISOString() },
      });
    }
    const current = this.currentSealed(row);
    const signingSecret = newSigningSecret();
    const sealed = this.box.seal(signingSecret, aad(id));
    const next: SealedColumns = {
      signingSecret: null,
      signingSecretCiphertext: sealed.ciphertext,
      signingSecretKeyId: sealed.keyId,
      previousSigningSecretCiphertext: current.ciphertext,
      previousSigningSecretKeyId: current.keyId,
      previousSigningSecretExpiresAt: previousValidUntil,
    };
    if (!(await this.repo.replaceSecrets(id, row, next))) {
      throw HttpErrors.rotationInProgress(`key ${id}'s signing secret changed while rotating; read the key and try again`);
    }
    this.forget(id);
    return { key: toRecord({ ...row, ...next }), signingSecret };
  }

  /** Ends a rotation now: only the new secret verifies. Idempotent. */
  async finishRotation(id: string): Promise<ApiKeyRecord> {
    const row = await this.found(id);
    if (row.previousSigningSecretCiphertext === null) return toRecord(row);
    const current = this.currentSealed(row);
    const next: SealedColumns = { signingSecret: null, signingSecretCiphertext: current.ciphertext, signingSecretKeyId: current.keyId, previousSigningSecretCiphertext: null, previousSigningSecretKeyId: null, previousSigningSecretExpiresAt: null };
    if (!(await this.repo.replaceSecrets(id, row, next))) return this.finishRotation(id);
    this.forget(id);
    return toRecord({ ...row, ...next });
  }

  /**
   * Boot step, idempotent and safe with several instances booting at once: every clear-text
   * signing secret (keys issued before encryption) and every ciphertext sealed under a previous
   * secrets key is sealed under the current one. A ciphertext under a key this process does not
   * have stops the boot (ENT_AUTH_SECRETS_KEY_MISMATCH, the cause names the key's fingerprint):
   * SECRETS_KEY is not the key the database was sealed with.
   */
  async sealStoredSecrets(): Promise<{ sealed: number }> {
    let sealed = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      const rows = await this.repo.listUnsealed(this.box.keyId);
      if (rows.length === 0) return { sealed };
      let raced = false;
      for (const row of rows) {
        const current = this.box.seal(this.openCurrent(row), aad(row.id));
        const previous = row.previousSigningSecretCiphertext === null ? null : this.box.seal(this.openPrevious(row), aad(row.id));
        const ok = await this.repo.replaceSecrets(row.id, row, {
          signingSecret: null,
          signingSecretCiphertext: current.ciphertext,
          signingSecretKeyId: current.keyId,
          previousSigningSecretCiphertext: previous?.ciphertext ?? null,
          previousSigningSecretKeyId: previous?.keyId ?? null,
          previousSigningSecretExpiresAt: previous === null ? null : row.previousSigningSecretExpiresAt,
        });
        if (ok) sealed++;
        else raced = true;
        this.forget(row.id);
      }
      if (!raced) return { sealed };
    }
    throw new Error("api_keys kept changing while their signing secrets were being sealed");
  }

  async isEmpty(): Promise<boolean> {
    return (await this.repo.count()) === 0;
  }

  /**
   * Forget what this process cached about a key (the next request reads the database), and any
   * read of it under way: that read started before the change, so it neither answers later
   * requests nor lands in the cache.
   */
  forget(id: string): void {
    this.generation++;
    this.cache.delete(id);
    this.loading.delete(id);
  }

  /** Forget every key this process cached (notifications about changes may have been missed). */
  forgetAll(): void {
    this.generation++;
    this.cache.clear();
    this.loading.clear();
  }

  /** The caller behind a bearer key, or the precise reason it is refused. */
  async authenticate(key: string): Promise<Principal> {
    const v = await this.verify(key);
    if ("error" in v) throw v.error;
    return v.principal;
  }

  /**
   * As `authenticate`, without throwing, and saying whether the presented key named a key id that
   * exists (the lockout counts failures against a real key id apart from garbage).
   */
  async verify(key: string): Promise<Verification> {
    const m = API_KEY_PATTERN.exec(key);
    if (m === null) return { error: HttpErrors.invalidKey("the API key is malformed"), knownKeyId: null };
    const id = m[1] as string;
    const presented = Buffer.from(hashKey(key), "hex");
    const entry = await this.lookup(id);
    // Compare against a dummy hash when the id is unknown, so both paths cost the same.
    const stored = entry.row?.hash ?? Buffer.alloc(32);
    if (!timingSafeEqual(stored, presented) || entry.row === null) {
      return { error: HttpErrors.invalidKey("the API key is not valid"), knownKeyId: entry.row === null ? null : id };
    }
    if (entry.row.revokedAt !== null) return { error: HttpErrors.revokedKey(`the API key ${id} was revoked at ${entry.row.revokedAt.toISOString()}`), knownKeyId: id };
    return { principal: entry.row.principal };
  }

  /**
   * The current principal of a key by id, through the cache, without its secret: a console session
   * (sessions.ts) proved the secret once at sign-in and follows the key from then on (revoked: refused).
   */
  async principalById(id: string): Promise<Verification> {
    const entry = await this.lookup(id);
    if (entry.row === null) return { error: HttpErrors.invalidKey(`the API key ${id} no longer exists`), knownKeyId: null };
    if (entry.row.revokedAt !== null) return { error: HttpErrors.revokedKey(`the API key ${id} was revoked at ${entry.row.revokedAt.toISOString()}`), knownKeyId: id };
    return { principal: entry.row.principal };
  }

  /**
   * A key as cached, never older than `cacheMs`. Past 3/4 of that, a request still gets the cached
   * key at once and the key is re-read in the background, so steady traffic on a key never waits
   * for its read; concurrent lookups of one id share one read.
   */
  private async lookup(id: string): Promise<CachedKey> {
    const cached = this.cache.get(id);
    const now = this.now().getTime();
    if (cached !== undefined && cached.until > now) {
      if (cached.refreshAt <= now && !this.loading.has(id)) this.read(id).catch(() => undefined);
      return cached;
    }
    return this.read(id);
  }

  private read(id: string): Promise<CachedKey> {
    const inFlight = this.loading.get(id);
    if (inFlight !== undefined) return inFlight;
    const generation = this.generation;
    // Its age counts from the start of the read: what it answers is known to hold from then on only.
    const startedAt = this.now().getTime();
    const read = this.repo
      .find(id)
      .then((row): CachedKey => {
        const entry: CachedKey = {
          row:
            row === null
              ? null
              : {
                  hash: Buffer.from(row.keyHash, "hex"),
                  revokedAt: row.revokedAt,
                  principal: { keyId: id, name: row.name, scopes: toScopes(row.scopes), gateway: row.gateway, signingSecrets: this.secretsOf(row) },
                },
          until: startedAt + this.cacheMs,
          refreshAt: startedAt + Math.round((this.cacheMs * 3) / 4),
        };
        if (generation === this.generation) {
          this.cache.delete(id);
          if (this.cache.size >= this.cacheEntries) this.cache.delete(this.cache.keys().next().value as string);
          this.cache.set(id, entry);
        }
        return entry;
      })
      .finally(() => {
        if (this.loading.get(id) === read) this.loading.delete(id);
      });
    this.loading.set(id, read);
    return read;
  }

  private secretsOf(row: StoredApiKey): SigningSecret[] {
    const out: SigningSecret[] = [{ secret: this.openCurrent(row), validUntil: null }];
    if (row.previousSigningSecretCiphertext !== null && row.previousSigningSecretExpiresAt !== null) {
      out.push({ secret: this.openPrevious(row), validUntil: row.previousSigningSecretExpiresAt });
    }
    return out;
  }

  private currentSealed(row: StoredApiKey): { ciphertext: string; keyId: string } {
    if (row.signingSecretCiphertext !== null && row.signingSecretKeyId === this.box.keyId) return { ciphertext: row.signingSecretCiphertext, keyId: row.signingSecretKeyId };
    return this.box.seal(this.openCurrent(row), aad(row.id));
  }

  private openCurrent(row: StoredApiKey): string {
    if (row.signingSecretCiphertext !== null && row.signingSecretKeyId !== null) return this.open(row.id, row.signingSecretCiphertext, row.signingSecretKeyId);
    if (row.signingSecret !== null) return row.signingSecret;
    throw new Error(`api key ${row.id} has no signing secret`);
  }

  private openPrevious(row: StoredApiKey): string {
    if (row.previousSigningSecretCiphertext === null || row.previousSigningSecretKeyId === null) throw new Error(`api key ${row.id} has no previous signing secret`);
    return this.open(row.id, row.previousSigningSecretCiphertext, row.previousSigningSecretKeyId);
  }

  private open(id: string, ciphertext: string, keyId: string): string {
    try {
      return this.box.open({ ciphertext, keyId }, aad(id));
    } catch (e) {
      // The client learns only that this instance cannot read the secret; the log gets the cause.
      if (e instanceof SecretBoxError) throw HttpErrors.secretsKeyMismatch(`the signing secret of API key ${id} cannot be read by this instance (check SECRETS_KEY)`, { cause: e });
      throw e;
    }
  }

  private async found(id: string): Promise<StoredApiKey> {
    const row = await this.repo.find(id);
    if (row === null) throw notFound(id);
    return row;
  }
}

function notFound(id: string): AppError {
  return HttpErrors.keyNotFound(`no API key ${JSON.stringify(id.slice(0, 40))}`, { fields: [{ field: "id", message: "unknown key id" }] });
}
