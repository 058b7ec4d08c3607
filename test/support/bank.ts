/**
 * The bank rail tests' shared fixtures (test/payouts/bank*.test.ts): sellers' bank accounts, the
 * platform's account as configured by default (BANK_ACCOUNT_*, the debtor of every pain.001), and
 * a bank payout as the API answers it.
 */
export const CN_ACCOUNT = { holderName: "Shenzhen Gadget Works Co., Ltd.", accountNumber: "6222021234567890123", bic: "ICBKCNBJSZN", clearingSystem: "CNAPS", clearingMember: "102584002170", country: "CN" };
export const HK_ACCOUNT = { holderName: "Kowloon Stationery Ltd", accountNumber: "012-345678-001", bic: "HSBCHKHHHKH", country: "HK" };
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
