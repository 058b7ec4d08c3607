/**
 * Service configuration, read ONCE from environment variables at boot and validated: a bad value
 * fails boot with a message naming the variable. Modules never read `process.env`; they take the
 * plain option objects built here. Every variable is documented in `.env.example`.
 */
import { isIPv4 } from "node:net";
import { MIN_LEASE_TTL_MS } from "./leader/term.js";
import { parseSecretsKey } from "./http/auth/secret-box.js";
import { isCurrency } from "./money/index.js";
import { defaultMaxPerOwner } from "./webhooks/dispatcher.js";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** What an instance does: serve the API, run the background workers (when elected), or both. */
export type Role = "all" | "http" | "workers";
const ROLES: readonly Role[] = ["all", "http", "workers"];

export interface Config {
  /** PostgreSQL connection string; absent = embedded PGlite in `dataDir`. */
  databaseUrl: string | undefined;
  /** Folder of the embedded database and other local state (default `.data`). */
  dataDir: string;
  dbPoolSize: number;
  port: number;
  host: string;
  logLevel: LogLevel;
  /** Demo mode: bootstrap also creates a gateway and a finance key (and `npm start` loads the demo data). */
  demo: boolean;
  /** Seconds between maintenance ticks (expire pending transfers, release due holds/reserves); 0 = off. */
  maintenanceIntervalSeconds: number;
  /** `all` (default): HTTP and workers; `http`: the API only; `workers`: the background workers only, no HTTP. */
  role: Role;
  workers: {
    /**
     * Lifetime of the worker leader's lease without a renewal: a standby takes over within about
     * this plus a third of it after the leader dies; the leader renews every third of it.
     */
    leaseTtlMs: number;
  };
  http: {
    /** Maximum request body in bytes (413 above it). */
    bodyLimit: number;
    /** Maximum gateway report imported in one request, streamed (IMPORT_LIMIT_BYTES; 413 ENT_RECON_IMPORT_TOO_LARGE above it). */
    importLimit: number;
    /** Maximum events in one batch request. */
    batchMaxItems: number;
    /** Requests per key (per client IP for unauthenticated routes) per window. */
    rateLimitMax: number;
    rateLimitWindowMs: number;
    /**
     * Failed authentications per rate-limit window (see http/auth/lockout.ts): per presented key id
     * and client address, per key id from all addresses, and per address for requests without a
     * key of ours. Above a limit the failing requests of that bucket answer 429; a request whose
     * credentials are valid is never refused by these counters.
     */
    authFailureLimit: number;
    authFailureKeyLimit: number;
    authFailureAddressLimit: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    /** Trust X-Forwarded-* headers (only behind a proxy you control). */
    trustProxy: boolean;
  };
  /** The key that encrypts signing secrets at rest (http/auth/secret-box.ts). Never logged. */
  secrets: {
    /** SECRETS_KEY: 32 bytes. Unset: SECRETS_KEY_FILE, else a key file in `dataDir` on the embedded database (http/auth/secrets-key.ts). */
    key: Buffer | undefined;
    /** SECRETS_KEY_PREVIOUS: keys that only decrypt, so rows sealed under them are re-sealed at boot. */
    previousKeys: Buffer[];
    /** SECRETS_KEY_FILE: a file holding the key (64 hex characters or base64). */
    keyFile: string | undefined;
  };
  auth: {
    /** Accept signed requests whose timestamp is within this many seconds of now (both ways). */
    replayWindowSeconds: number;
    /** When set, the admin key created at first start has exactly this value instead of a random one. */
    bootstrapAdminKey: string | undefined;
    /** A web console session ends after this many seconds without a request (http/auth/sessions.ts). */
    consoleSessionIdleSeconds: number;
  };
  fx: {
    pivot: string;
    defaultMarkupBps: number;
    quoteTtlSeconds: number;
    /** Rates older than this are stale even inside their validity window; undefined = no limit. */
    maxRateAgeSeconds: number | undefined;
    rateValiditySeconds: number;
    /** CLOSE_MAX_RATE_AGE_DAYS (default 4): how old a closing rate may be at a closed period's last instant (service/closing.ts). */
    closeMaxRateAgeDays: number;
  };
  /** Bounds on a settlement event (settlement/validate.ts: EventLimits). */
  settlement: {
    /** MAX_AMOUNT_MINOR: largest amount in minor units (default 10^15); MAX_AMOUNT_MINOR_BY_CURRENCY overrides per currency. */
    maxAmountMinor: { default: bigint; byCurrency: Record<string, bigint> };
    /** EVENT_MAX_FUTURE_SKEW_SECONDS (default 300): how far ahead of our clock occurredAt may be. */
    maxFutureSkewMs: number;
    /** EVENT_MAX_AGE_DAYS (default 3,660): how old occurredAt may be. */
    maxAgeMs: number;
  };
  /** Webhook delivery (service/webhooks). */
  webhooks: {
    /** WEBHOOK_ALLOW_PRIVATE: deliver to private and loopback addresses, and over http (the local demo sets it). */
    allowPrivate: boolean;
    /** WEBHOOK_TIMEOUT_MS: deadline of one delivery attempt (connect, send, answer). */
    timeoutMs: number;
    /** WEBHOOK_MAX_IN_FLIGHT, WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT: concurrent requests, in all and per endpoint. */
    maxInFlight: number;
    maxPerEndpoint: number;
    /** WEBHOOK_MAX_IN_FLIGHT_PER_OWNER: concurrent requests to one owner's endpoints together (a gateway's, or the operators'); default a quarter of WEBHOOK_MAX_IN_FLIGHT, or one endpoint's allowance if more. */
    maxPerOwner: number;
    /** WEBHOOK_POLL_INTERVAL_MS: how often the worker looks for new events and due retries. */
    pollIntervalMs: number;
    /** WEBHOOK_RETRY_SCHEDULE_SECONDS: waits after each failed attempt; undefined = the default (11 retries over 85.6 h). */
    retryDelaysMs: number[] | undefined;
    /** WEBHOOK_RETENTION_DAYS: how long events, deliveries and attempts are kept once nothing is open. */
    retentionDays: number;
  };
  /**
   * The bank rail (service/payouts/bank): pain.001 files written to `outbox`, camt.054 read from
   * `inbox`, drawn on the platform's account below. The defaults are a demo account.
   */
  bank: {
    outbox: string;
    inbox: string;
    account: { holderName: string; iban: string | null; accountNumber: string | null; bic: string | null; country: string; accountCurrency: string; address: BankAddress };
    /**
     * Written in every pain.001 (service/payouts/bank/iso20022.ts): BANK_PURPOSE_CODE (Purp/Cd, null:
     * none), BANK_REGULATORY_REPORTING_CN (RgltryRptg on transfers to beneficiaries in mainland China,
     * off unless set), BANK_ULTIMATE_DEBTOR_NAME (UltmtDbtr, off unless set).
     */
    instruction: { purpose: string | null; regulatoryReporting: Record<string, { code: string; info: string }>; ultimateDebtor: string | null };
    /** Smallest payout, in minor units of the seller's payout currency (PAYOUT_MIN_AMOUNT, shared with the vault). */
    minAmount: bigint;
    /** BANK_POLL_INTERVAL_SECONDS: how often the worker writes pending files and reads the inbox. */
    pollIntervalSeconds: number;
  };
  /** The chain side (anchoring, payouts, event index). Off when `rpcUrl` is undefined. */
  chain: {
    /** JSON-RPC endpoint; undefined = no chain workers (`npm start` runs a local chain and sets it). */
    rpcUrl: string | undefined;
    /**
     * CONSOLE_RPC_URL: the endpoint the console's page offers for verifying proofs in the browser
     * (public: it is served to any visitor). Default: CHAIN_RPC_URL when it is a loopback address
     * (a local chain), else none: a URL of a provider may hold its API key, and the reader then
     * enters a node of their own.
     */
    consoleRpcUrl: string | null;
    /** Where deployment records are read (`<chainId>.json`, `local-<chainId>.json`). */
    deploymentsDir: string;
    /** Sending keys; required off local chains, where the well-known dev accounts are used instead. Never logged. */
    anchorerKey: string | undefined;
    payerKey: string | undefined;
    /** CHAIN_RPC_TIMEOUT_MS: every JSON-RPC call ends within this (a hung node is a failure the workers retry). */
    rpcTimeoutMs: number;
    /** How often the indexer polls and the sender follows its transactions. */
    pollIntervalMs: number;
    /** Depths for "safe" and "final" on chains without meaningful safe/finalized tags (local chains). */
    safeDepth: number;
    confirmations: number;
    stuckAfterSeconds: number;
    feeBumpPercent: number;
    anchorBatchMaxCount: number;
    anchorBatchMaxAgeSeconds: number;
    payoutIntervalSeconds: number;
    payoutMaxPerBatch: number;
    /** Smallest payout, in minor units of the seller's payout currency. */
    payoutMinAmount: bigint;
    /**
     * CHAIN_ALLOW_LOCAL_RESET: on a local chain that was reset and redeployed at the same addresses,
     * boot although the database's final anchor batches are gone with the old chain (it anchors
     * again). Default false: such a boot is refused (ENT_CHAIN_RESET; service/chain/binding.ts).
     */
    allowLocalReset: boolean;
  };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`invalid configuration: ${variable} ${message}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `must be an integer, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${v}`);
  return n;
}

/** Webhook request slots: in all, per endpoint, per owner (default: a quarter of all or one endpoint's, the larger; service/webhooks/dispatcher.ts). */
function webhookSlots(env: Env): { maxInFlight: number; maxPerEndpoint: number; maxPerOwner: number } {
  const maxInFlight = int(env, "WEBHOOK_MAX_IN_FLIGHT", 64, 1, 1_000);
  const maxPerEndpoint = int(env, "WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", 16, 1, 1_000);
  return { maxInFlight, maxPerEndpoint, maxPerOwner: int(env, "WEBHOOK_MAX_IN_FLIGHT_PER_OWNER", defaultMaxPerOwner(maxInFlight, maxPerEndpoint), 1, 1_000) };
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (["1", "true", "yes", "on"].includes(v.toLowerCase())) return true;
  if (["0", "false", "no", "off"].includes(v.toLowerCase())) return false;
  throw new ConfigError(name, `must be true or false, got ${JSON.stringify(v)}`);
}

/** A 32-byte hex private key; the error names the variable, never the value. */
function privateKey(env: Env, name: string): string | undefined {
  const v = raw(env, name);
  if (v === undefined) return undefined;
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(v)) throw new ConfigError(name, "must be a 32-byte hex private key (the value is not shown)");
  return v.startsWith("0x") ? v : `0x${v}`;
}

/** A 32-byte key as 64 hex characters or base64; the error names the variable, never the value. */
function secretsKey(env: Env, name: string): Buffer | undefined {
  const v = raw(env, name);
  if (v === undefined) return undefined;
  const key = parseSecretsKey(v);
  if (key === null) throw new ConfigError(name, "must be 32 bytes written as 64 hex characters or base64 (the value is not shown)");
  return key;
}

function secretsKeys(env: Env, name: string): Buffer[] {
  const v = raw(env, name);
  if (v === undefined) return [];
  return v.split(",").map((part, i) => {
    const key = parseSecretsKey(part);
    if (key === null) throw new ConfigError(name, `entry ${i + 1} must be 32 bytes written as 64 hex characters or base64 (the value is not shown)`);
    return key;
  });
}

/** Largest MAX_AMOUNT_MINOR accepted: far inside the ledger's own bounds (postings < 10^36). */
const MAX_AMOUNT_CEILING = 10n ** 18n;

function amountMinor(name: string, v: string): bigint {
  if (!/^\d{1,19}$/.test(v)) throw new ConfigError(name, `must be a positive integer of minor units, got ${JSON.stringify(v)}`);
  const n = BigInt(v);
  if (n < 1n || n > MAX_AMOUNT_CEILING) throw new ConfigError(name, `must be between 1 and ${MAX_AMOUNT_CEILING}`);
  return n;
}

/** `WEBHOOK_RETRY_SCHEDULE_SECONDS=60,300,1800`: 1 to 50 waits of 0.01 s to 7 days. */
function retrySchedule(env: Env, name: string): number[] | undefined {
  const text = raw(env, name);
  if (text === undefined) return undefined;
  const parts = text.split(",").map((p) => p.trim());
  if (parts.length < 1 || parts.length > 50) throw new ConfigError(name, "must list 1 to 50 waits in seconds, comma-separated");
  return parts.map((p) => {
    const n = Number(p);
    if (p === "" || !Number.isFinite(n) || n < 0.01 || n > 7 * 86_400) throw new ConfigError(name, `${JSON.stringify(p)} is not a wait between 0.01 and 604800 seconds`);
    return Math.round(n * 1000);
  });
}

/** `MAX_AMOUNT_MINOR_BY_CURRENCY=KRW=1000000000000000,JPY=100000000000000`. */
function amountsByCurrency(env: Env, name: string): Record<string, bigint> {
  const v = raw(env, name);
  const out: Record<string, bigint> = {};
  if (v === undefined) return out;
  for (const part of v.split(",")) {
    const m = /^\s*([A-Z]{3})\s*=\s*(\S+)\s*$/.exec(part);
    if (m === null || !isCurrency(m[1]!)) throw new ConfigError(name, `entries must look like KRW=1000000000000000, got ${JSON.stringify(part)}`);
    out[m[1]] = amountMinor(name, m[2]!);
  }
  return out;
}

/** API keys look like `ent_<12 hex id>_<43 base64url chars>`; see http/auth/keys.ts. */
export const API_KEY_PATTERN = /^ent_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** The platform's postal address (Dbtr/PstlAdr), as the bank rail writes it. */
export interface BankAddress {
  streetName: string | null;
  buildingNumber: string | null;
  postCode: string | null;
  townName: string;
  countrySubDivision: string | null;
  country: string;
}

/** Printable ASCII, what Swift CBPR+ carries in names and addresses (service/payouts/bank/rail.ts `validateAddress`). */
function bankText(env: Env, name: string, max: number): string | undefined {
  const v = raw(env, name);
  if (v === undefined) return undefined;
  if (v.length > max || !/^[\x20-\x7E]+$/.test(v)) throw new ConfigError(name, `must be 1 to ${max} Latin letters, digits, spaces or ASCII punctuation (the Swift CBPR+ character set), got ${JSON.stringify(v.slice(0, 40))}`);
  return v;
}

/**
 * BANK_ACCOUNT_STREET, _BUILDING_NUMBER, _POST_CODE, _TOWN, _COUNTRY_SUBDIVISION: the platform's
 * address, structured (a cross-border payment's debtor needs its town and country in their own
 * elements since November 2026). The demo's (an office in Central, Hong Kong, which has no post
 * codes) only with the demo account, BANK_ACCOUNT_COUNTRY unset: a configured account names its
 * own town, never the demo's.
 */
function bankAddress(env: Env, country: string): BankAddress {
  const demo = raw(env, "BANK_ACCOUNT_COUNTRY") === undefined;
  const townName = bankText(env, "BANK_ACCOUNT_TOWN", 35) ?? (demo ? "Hong Kong" : undefined);
  if (townName === undefined) throw new ConfigError("BANK_ACCOUNT_TOWN", "is required with BANK_ACCOUNT_COUNTRY: the town of the platform's address (Dbtr/PstlAdr/TwnNm of every pain.001)");
  const street = bankText(env, "BANK_ACCOUNT_STREET", 70);
  const building = bankText(env, "BANK_ACCOUNT_BUILDING_NUMBER", 16);
  const defaulted = demo && raw(env, "BANK_ACCOUNT_TOWN") === undefined;
  return {
    streetName: street ?? (defaulted ? "Connaught Road Central" : null),
    buildingNumber: building ?? (defaulted ? "18" : null),
    postCode: bankText(env, "BANK_ACCOUNT_POST_CODE", 16) ?? null,
    townName,
    countrySubDivision: bankText(env, "BANK_ACCOUNT_COUNTRY_SUBDIVISION", 35) ?? null,
    country,
  };
}

/**
 * BANK_PURPOSE_CODE (default GDDS), BANK_REGULATORY_REPORTING_CN (`<code>:<information>`, off by
 * default), BANK_ULTIMATE_DEBTOR_NAME (off by default): see the README's config table.
 */
function bankInstruction(env: Env): NonNullable<Config["bank"]>["instruction"] {
  const purposeRaw = raw(env, "BANK_PURPOSE_CODE") ?? "GDDS";
  const purpose = purposeRaw.toLowerCase() === "none" ? null : purposeRaw;
  if (purpose !== null && !/^[A-Z0-9]{4}$/.test(purpose)) {
    throw new ConfigError("BANK_PURPOSE_CODE", `must be an ISO 20022 ExternalPurpose1Code (4 capital letters or digits, e.g. GDDS) or none, got ${JSON.stringify(purposeRaw.slice(0, 12))}`);
  }
  const regulatoryReporting: Record<string, { code: string; info: string }> = {};
  const cn = bankText(env, "BANK_REGULATORY_REPORTING_CN", 46);
  if (cn !== undefined) {
    const m = /^([^:\s]{1,10}):(.{1,35})$/.exec(cn);
    if (m === null || m[2]!.trim() === "") {
      throw new ConfigError("BANK_REGULATORY_REPORTING_CN", "must be <code>:<information>, the code (RgltryRptg/Dtls/Cd, 1 to 10 characters, no spaces) and the text (Dtls/Inf, 1 to 35) your bank or payment institution gave for payouts to mainland China");
    }
    regulatoryReporting["CN"] = { code: m[1]!, info: m[2]!.trim() };
  }
  return { purpose, regulatoryReporting, ultimateDebtor: bankText(env, "BANK_ULTIMATE_DEBTOR_NAME", 140) ?? null };
}

function bankCurrency(env: Env): string {
  const v = raw(env, "BANK_ACCOUNT_CURRENCY") ?? "USD";
  if (!isCurrency(v)) throw new ConfigError("BANK_ACCOUNT_CURRENCY", `must be an ISO 4217 currency code, got ${JSON.stringify(String(v).slice(0, 8))}`);
  return v;
}

/**
 * DATABASE_URL parsed as the driver will parse it (a WHATWG URL), so a value it would refuse stops
 * the boot here, naming the variable; the error shows where it points, never the password.
 */
function postgresUrl(env: Env, name: string): string | undefined {
  const v = raw(env, name);
  if (v === undefined) return undefined;
  const scheme = "must be a postgresql:// connection string (leave it unset for the embedded database)";
  if (!/^postgres(ql)?:\/\//.test(v)) throw new ConfigError(name, scheme);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    // Not the value: it may hold a password. The likely culprits are named instead.
    throw new ConfigError(name, "is not a valid URL (check the port is a number and special characters in the user or password are percent-encoded; the value is not shown)");
  }
  if (url.port !== "" && Number(url.port) === 0) throw new ConfigError(name, "has port 0");
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    decodeURIComponent(url.pathname);
  } catch {
    throw new ConfigError(name, "has a malformed %-escape in the user, password or database name (the value is not shown)");
  }
  return v;
}

/** Where a PostgreSQL URL points, for messages: `user@host:port/database`, never the password. */
export function describeDatabaseUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    // No host: the driver's default (a host in the query string, a Unix socket folder, else localhost).
    const host = url.hostname === "" ? (url.searchParams.get("host") ?? "localhost") : url.hostname;
    const user = url.username === "" ? "" : `${decodeURIComponent(url.username)}@`;
    const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || (url.username === "" ? "" : decodeURIComponent(url.username));
    return `${user}${host}:${url.port === "" ? "5432" : url.port}/${database}`;
  } catch {
    return "(unparsable URL)";
  }
}

export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = postgresUrl(env, "DATABASE_URL");
  const role = (raw(env, "ROLE") ?? "all") as Role;
  if (!ROLES.includes(role)) throw new ConfigError("ROLE", `must be one of ${ROLES.join(", ")}, got ${JSON.stringify(role)}`);
  const logLevel = (raw(env, "LOG_LEVEL") ?? "info") as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}`);
  const host = raw(env, "HOST") ?? "127.0.0.1";
  if (!/^[A-Za-z0-9.:-]+$/.test(host)) throw new ConfigError("HOST", `must be a host name or IP address, got ${JSON.stringify(host)}`);
  // Four dotted numbers are an IPv4 address, never a host name: 999.1.1.1 is refused here, not by the listen.
  if (/^[0-9.]+$/.test(host) && !isIPv4(host)) throw new ConfigError("HOST", `must be a host name or IP address, got ${JSON.stringify(host)} (not an IPv4 address)`);
  const pivot = (raw(env, "FX_PIVOT") ?? "USD").toUpperCase();
  if (!isCurrency(pivot)) throw new ConfigError("FX_PIVOT", `must be an ISO 4217 currency code, got ${JSON.stringify(pivot)}`);
  const bootstrapAdminKey = raw(env, "BOOTSTRAP_ADMIN_KEY");
  if (bootstrapAdminKey !== undefined && !API_KEY_PATTERN.test(bootstrapAdminKey)) {
    throw new ConfigError("BOOTSTRAP_ADMIN_KEY", "must look like ent_<12 hex>_<43 base64url characters>");
  }
  const maxAge = int(env, "FX_MAX_RATE_AGE_SECONDS", 0, 0, 366 * 86_400);
  const authFailureLimit = int(env, "AUTH_FAILURE_LIMIT", 100, 1, 1_000_000);
  const rpcUrl = raw(env, "CHAIN_RPC_URL");
  const dataDir = raw(env, "DATA_DIR") ?? ".data";
  if (rpcUrl !== undefined && !/^(https?|wss?):\/\/[^\s]+$/.test(rpcUrl)) throw new ConfigError("CHAIN_RPC_URL", "must be an http(s):// or ws(s):// URL");
  const consoleRpcUrl = raw(env, "CONSOLE_RPC_URL") ?? (rpcUrl !== undefined && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(\/|$)/.test(rpcUrl) ? rpcUrl : null);
  if (consoleRpcUrl !== null && !/^https?:\/\/[^\s]+$/.test(consoleRpcUrl)) throw new ConfigError("CONSOLE_RPC_URL", "must be an http(s):// URL (the page calls it with fetch)");
  const safeDepth = int(env, "CHAIN_SAFE_DEPTH", 2, 0, 10_000);
  const confirmations = int(env, "CHAIN_CONFIRMATIONS", 12, 1, 10_000);
  if (confirmations < safeDepth) throw new ConfigError("CHAIN_CONFIRMATIONS", `must be at least CHAIN_SAFE_DEPTH (${safeDepth})`);
  return {
    databaseUrl,
    dataDir,
    dbPoolSize: int(env, "DB_POOL_SIZE", 10, 1, 500),
    port: int(env, "PORT", 3000, 0, 65_535),
    host,
    logLevel,
    demo: bool(env, "DEMO", false),
    maintenanceIntervalSeconds: int(env, "MAINTENANCE_INTERVAL_SECONDS", 30, 0, 86_400),
    role,
    workers: { leaseTtlMs: int(env, "WORKER_LEASE_TTL_MS", 10_000, MIN_LEASE_TTL_MS, 600_000) },
    http: {
      bodyLimit: int(env, "BODY_LIMIT_BYTES", 1_048_576, 1_024, 100 * 1_048_576),
      importLimit: int(env, "IMPORT_LIMIT_BYTES", 1_073_741_824, 1_048_576, 4 * 1_073_741_824),
      batchMaxItems: int(env, "BATCH_MAX_ITEMS", 1_000, 1, 10_000),
      rateLimitMax: int(env, "RATE_LIMIT_MAX", 6_000, 1, 10_000_000),
      rateLimitWindowMs: int(env, "RATE_LIMIT_WINDOW_MS", 60_000, 1_000, 86_400_000),
      authFailureLimit,
      authFailureKeyLimit: int(env, "AUTH_FAILURE_KEY_LIMIT", Math.min(10 * authFailureLimit, 10_000_000), 1, 10_000_000),
      authFailureAddressLimit: int(env, "AUTH_FAILURE_ADDRESS_LIMIT", Math.min(10 * authFailureLimit, 10_000_000), 1, 10_000_000),
      requestTimeoutMs: int(env, "REQUEST_TIMEOUT_MS", 30_000, 1_000, 600_000),
      keepAliveTimeoutMs: int(env, "KEEP_ALIVE_TIMEOUT_MS", 72_000, 1_000, 600_000),
      trustProxy: bool(env, "TRUST_PROXY", false),
    },
    secrets: {
      key: secretsKey(env, "SECRETS_KEY"),
      previousKeys: secretsKeys(env, "SECRETS_KEY_PREVIOUS"),
      keyFile: raw(env, "SECRETS_KEY_FILE"),
    },
    auth: {
      replayWindowSeconds: int(env, "HMAC_REPLAY_WINDOW_SECONDS", 300, 1, 3_600),
      bootstrapAdminKey,
      consoleSessionIdleSeconds: int(env, "CONSOLE_SESSION_IDLE_SECONDS", 1_800, 60, 86_400),
    },
    fx: {
      pivot,
      defaultMarkupBps: int(env, "FX_MARKUP_BPS", 0, 0, 9_999),
      quoteTtlSeconds: int(env, "FX_QUOTE_TTL_SECONDS", 60, 1, 86_400),
      maxRateAgeSeconds: maxAge === 0 ? undefined : maxAge,
      rateValiditySeconds: int(env, "FX_RATE_VALIDITY_SECONDS", 86_400, 60, 366 * 86_400),
      closeMaxRateAgeDays: int(env, "CLOSE_MAX_RATE_AGE_DAYS", 4, 1, 366),
    },
    settlement: {
      maxAmountMinor: {
        default: amountMinor("MAX_AMOUNT_MINOR", raw(env, "MAX_AMOUNT_MINOR") ?? "1000000000000000"),
        byCurrency: amountsByCurrency(env, "MAX_AMOUNT_MINOR_BY_CURRENCY"),
      },
      maxFutureSkewMs: int(env, "EVENT_MAX_FUTURE_SKEW_SECONDS", 300, 0, 86_400) * 1000,
      maxAgeMs: int(env, "EVENT_MAX_AGE_DAYS", 3_660, 1, 36_600) * 86_400_000,
    },
    webhooks: {
      allowPrivate: bool(env, "WEBHOOK_ALLOW_PRIVATE", false),
      timeoutMs: int(env, "WEBHOOK_TIMEOUT_MS", 10_000, 100, 60_000),
      ...webhookSlots(env),
      pollIntervalMs: int(env, "WEBHOOK_POLL_INTERVAL_MS", 250, 10, 60_000),
      retryDelaysMs: retrySchedule(env, "WEBHOOK_RETRY_SCHEDULE_SECONDS"),
      retentionDays: int(env, "WEBHOOK_RETENTION_DAYS", 30, 1, 3_650),
    },
    bank: {
      outbox: raw(env, "BANK_OUTBOX_DIR") ?? `${dataDir}/bank/outbox`,
      inbox: raw(env, "BANK_INBOX_DIR") ?? `${dataDir}/bank/inbox`,
      account: {
        holderName: raw(env, "BANK_ACCOUNT_NAME") ?? "Entrepot Marketplace Ltd",
        iban: raw(env, "BANK_ACCOUNT_IBAN") ?? null,
        accountNumber: raw(env, "BANK_ACCOUNT_IBAN") === undefined ? (raw(env, "BANK_ACCOUNT_NUMBER") ?? "400123456838") : null,
        bic: raw(env, "BANK_ACCOUNT_BIC") ?? "HSBCHKHHHKH",
        country: raw(env, "BANK_ACCOUNT_COUNTRY") ?? "HK",
        accountCurrency: bankCurrency(env),
        address: bankAddress(env, raw(env, "BANK_ACCOUNT_COUNTRY") ?? "HK"),
      },
      instruction: bankInstruction(env),
      minAmount: BigInt(int(env, "PAYOUT_MIN_AMOUNT", 100, 1, Number.MAX_SAFE_INTEGER)),
      pollIntervalSeconds: int(env, "BANK_POLL_INTERVAL_SECONDS", 5, 0, 86_400),
    },
    chain: {
      rpcUrl,
      consoleRpcUrl,
      deploymentsDir: raw(env, "DEPLOYMENTS_DIR") ?? "deployments",
      anchorerKey: privateKey(env, "ANCHORER_PRIVATE_KEY"),
      payerKey: privateKey(env, "PAYER_PRIVATE_KEY"),
      rpcTimeoutMs: int(env, "CHAIN_RPC_TIMEOUT_MS", 30_000, 100, 600_000),
      pollIntervalMs: int(env, "CHAIN_POLL_INTERVAL_MS", 1_000, 50, 600_000),
      safeDepth,
      confirmations,
      stuckAfterSeconds: int(env, "CHAIN_STUCK_AFTER_SECONDS", 30, 1, 86_400),
      feeBumpPercent: int(env, "CHAIN_FEE_BUMP_PERCENT", 25, 10, 1_000),
      anchorBatchMaxCount: int(env, "ANCHOR_BATCH_MAX_COUNT", 1_000, 1, 100_000),
      anchorBatchMaxAgeSeconds: int(env, "ANCHOR_BATCH_MAX_AGE_SECONDS", 10, 1, 86_400),
      payoutIntervalSeconds: int(env, "PAYOUT_INTERVAL_SECONDS", 60, 0, 86_400),
      payoutMaxPerBatch: int(env, "PAYOUT_MAX_PER_BATCH", 100, 1, 1_000),
      payoutMinAmount: BigInt(int(env, "PAYOUT_MIN_AMOUNT", 100, 1, Number.MAX_SAFE_INTEGER)),
      allowLocalReset: bool(env, "CHAIN_ALLOW_LOCAL_RESET", false),
    },
  };
}
