/**
 * The bank rail tests' shared fixtures (test/payouts/bank*.test.ts): sellers' bank accounts, the
 * platform's account as configured by default (BANK_ACCOUNT_*, the debtor of every pain.001), a
 * bank payout and a confirmation's outcome as the API answers them, and the steps they repeat.
 */
import { expect } from "vitest";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { historicalUsdRate } from "../../service/fx/index.js";
import { divideRounded } from "../../service/money/index.js";
import { capture, DAY, json, type Harness } from "../http/harness.js";

/** Holders' structured addresses (required on a PUT since Swift CBPR+ refuses unstructured-only ones, November 2026). */
export const SZ_ADDRESS = { streetName: "Keji South 12th Road", buildingNumber: "18", postCode: "518057", townName: "Shenzhen", countrySubDivision: "Guangdong", country: "CN" };
export const HK_ADDRESS = { streetName: "Nathan Road", buildingNumber: "238", postCode: null, townName: "Kowloon", countrySubDivision: null, country: "HK" };
/** A holder's address in another town, for accounts the tests make up. */
export const addressIn = (townName: string, country: string) => ({ streetName: null, buildingNumber: null, postCode: null, townName, countrySubDivision: null, country });
export const CN_ACCOUNT = { holderName: "Shenzhen Gadget Works Co., Ltd.", accountNumber: "6222021234567890123", bic: "ICBKCNBJSZN", clearingSystem: "CNAPS", clearingMember: "102584002170", country: "CN", address: SZ_ADDRESS };
export const HK_ACCOUNT = { holderName: "Kowloon Stationery Ltd", accountNumber: "012-345678-001", bic: "HSBCHKHHHKH", country: "HK", address: HK_ADDRESS };
export const PLATFORM_ACCOUNT = { holderName: "Entrepot Marketplace Ltd", iban: null, accountNumber: "400123456838", bic: "HSBCHKHHHKH", clearingSystem: null, clearingMember: null, country: "HK" };

/** GET /v1/payouts/bank/:id (and the lists' items), as the tests read it. */
export interface BankPayoutJson {
  id: string;
  sellerId: string;
  currency: string;
  amount: string;
  endToEndId: string;
  status: string;
  fileId: string | null;
  settled: { currency: string; amount: string } | null;
  ledger: Record<string, string | null>;
  reason: string | null;
}

/** One camt.054 transaction's outcome, as POST /v1/payouts/bank/confirmations answers it. */
export interface BankResultJson {
  endToEndId: string | null;
  payoutId: string | null;
  outcome: string;
  code?: string;
  detail?: string;
  exceptionId?: string;
}

/**
 * What the bank rail tests do again and again: sell and release to a seller, have the acquirer remit
 * it all as USD (so the platform's bank holds the cash), apply a camt.054, read a payout or a pain.001.
 * `ctx` is read at each call: the harness and the finance:write key are made in `beforeAll`.
 */
export function bankKit(ctx: () => { h: Harness; financeWrite: IssuedKey }) {
  let sales = 0;
  const balance = async (acct: string, currency: string) => json<{ posted: string; available: string }>(await ctx().h.get(`/v1/accounts/${encodeURIComponent(acct)}/${currency}/balance`));
  return {
    balance,
    posted: async (acct: string, currency: string) => BigInt((await balance(acct, currency)).posted),
    /** POST /v1/payouts/bank/confirmations with the finance:write key, expecting 200. */
    confirm: async (body: string): Promise<BankResultJson[]> => {
      const { h, financeWrite } = ctx();
      const r = await h.app.inject({ method: "POST", url: "/v1/payouts/bank/confirmations", payload: body, headers: { "content-type": "application/xml", authorization: `Bearer ${financeWrite.key}` } });
      expect(r.statusCode, r.body).toBe(200);
      return json<{ results: BankResultJson[] }>(r).results;
    },
    /** A sale of `amount` BRL for the seller, released to its available balance. */
    sale: async (sellerId: string, amount: string) => {
      const { h } = ctx();
      const n = ++sales;
      const c = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: `cap-${n}`, settlementId: `ORD-${n}`, sellerId, amount }));
      expect(c.statusCode, c.body).toBe(201);
      const r = await h.signedPost("/v1/settlements/events", { ...capture({ type: "release", gatewayEventId: `rel-${n}`, settlementId: `ORD-${n}`, sellerId, amount: "0", gatewayFee: "0", occurredAt: `${DAY}T10:00:00.000Z` }), originalEventId: `cap-${n}` });
      expect(r.statusCode, r.body).toBe(201);
    },
    /** The acquirer remits everything it owes, as USD: the platform's bank holds the cash. */
    remit: async (remittanceId: string) => {
      const { h } = ctx();
      const receivable = BigInt((await balance("gateway:adyen:receivable", "BRL")).posted);
      const usdPerBrl = historicalUsdRate("BRL", DAY).rate;
      const settled = divideRounded(receivable * 10n ** 8n, BigInt(Math.round(Number(usdPerBrl) * 1e8)), "half-even");
      const r = await h.signedPost("/v1/remittances", { gateway: "adyen", remittanceId, currency: "BRL", amount: receivable.toString(), settledCurrency: "USD", settledAmount: settled.toString(), occurredAt: `${DAY}T18:00:00.000Z` });
      expect(r.statusCode, r.body).toBe(201);
    },
    /** The pain.001 a payout went out in. */
    fileOf: async (p: { fileId: string | null }) => (await ctx().h.services.bank!.file(p.fileId!)).xml,
    /** What the bank moves for a CNY amount at `rate` USD per CNY (4 decimals). */
    usdAt: (cny: string | bigint, rate: bigint) => divideRounded(BigInt(cny) * rate, 10_000n, "half-even"),
  };
}
