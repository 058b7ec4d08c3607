/**
 * The bank rail's pure rules for a camt.054 (service/payouts/bank/matching.ts), the country list a
 * seller's bank account is checked against (countries.ts) and when two accounts are the same account
 * (account-identity.ts): which account a notification may be for, what is a return, that a debit or a
 * return is the instruction in full, and that an account keyed in another way is still the same one.
 */
import { describe, expect, it } from "vitest";
import { accountNumberKey, sameBankAccount } from "../../service/payouts/bank/account-identity.js";
import { ISO_3166_ALPHA2, isCountry } from "../../service/payouts/bank/countries.js";
import { accountRefusal, entryKind, instructionMismatch, major, rateMismatch, returnCharges, returnReasonText } from "../../service/payouts/bank/matching.js";
import { readCamt054, validateBankAccount } from "../../service/payouts/index.js";
import { camt054 } from "../support/camt054.js";

const debtor = { iban: null, accountNumber: "400123456838", accountCurrency: "USD" };
const cny = { currency: "CNY", amount: 150_400n };
const usd = { currency: "USD", amount: 20_668n };

describe("accountRefusal: a notification is for the platform's account, in its currency", () => {
  it("takes the platform's account, spaces and case aside, with or without Acct/Ccy", () => {
    expect(accountRefusal([{ id: "400123456838", currency: "USD" }], debtor)).toBeNull();
    expect(accountRefusal([{ id: " 4001 2345 6838", currency: null }], debtor)).toBeNull();
    expect(accountRefusal([{ id: "gb82 west 1234 5698 7654 32", currency: "GBP" }], { iban: "GB82WEST12345698765432", accountNumber: null, accountCurrency: "GBP" })).toBeNull();
    // Written with the separators banks print (the same reading as sameBankAccount's).
    expect(accountRefusal([{ id: "400-123456-838", currency: "USD" }], debtor)).toBeNull();
    expect(accountRefusal([{ id: "400.123456.838", currency: "USD" }], debtor)).toBeNull();
  });

  it("names another account, another currency, or none", () => {
    const other = accountRefusal([{ id: "999999999", currency: "EUR" }], debtor);
    expect(other?.field).toBe("Ntfctn/Acct/Id");
    expect(other?.message).toContain("999999999");
    const currency = accountRefusal([{ id: "400123456838", currency: "EUR" }], debtor);
    expect(currency?.field).toBe("Ntfctn/Acct/Ccy");
    expect(currency?.message).toContain("EUR");
    expect(accountRefusal([{ id: "400123456838", currency: "USD" }, { id: "1", currency: "USD" }], debtor)?.message).toMatch(/^notification 2 /);
    expect(accountRefusal([], debtor)).toMatchObject({ field: "Ntfctn/Acct/Id" });
    expect(accountRefusal([{ id: "", currency: null }], debtor)).not.toBeNull();
  });
});

describe("sameBankAccount: the same IBAN or account number at the same bank, however written", () => {
  const cn = { holderName: "Shenzhen Gadget Works Co., Ltd.", iban: null, accountNumber: "6222021234567890123", bic: "ICBKCNBJSZN", clearingSystem: "CNAPS", clearingMember: "102584002170", country: "CN" };
  const de = { holderName: "Muster GmbH", iban: "DE89370400440532013000", accountNumber: null, bic: "COBADEFFXXX", clearingSystem: null, clearingMember: null, country: "DE" };

  it("reads a number without its spaces, hyphens and dots, in capitals", () => {
    expect(accountNumberKey("6222-0212 3456.7890-123")).toBe("6222021234567890123");
    expect(accountNumberKey("de89 3704 0044 0532 0130 00")).toBe("DE89370400440532013000");
  });

  it("is the same account whatever the separators, the case, the holder's name or the BIC's branch", () => {
    expect(sameBankAccount(cn, cn)).toBe(true);
    expect(sameBankAccount(cn, { ...cn, accountNumber: "6222-0212-3456-7890-123" })).toBe(true);
    expect(sameBankAccount({ ...cn, accountNumber: "6222 0212 3456 7890 123" }, { ...cn, accountNumber: "6222.0212.3456.7890.123" })).toBe(true);
    expect(sameBankAccount(cn, { ...cn, holderName: "SHENZHEN GADGET WORKS" })).toBe(true);
    // ICBKCNBJ is the bank, SZN its Shenzhen branch: one account number at one bank.
    expect(sameBankAccount(cn, { ...cn, bic: "ICBKCNBJ" })).toBe(true);
    expect(sameBankAccount(cn, { ...cn, bic: "icbkcnbjxxx" })).toBe(true);
    // Without a BIC on one side, the clearing member names the bank; without either, the country.
    expect(sameBankAccount(cn, { ...cn, bic: null })).toBe(true);
    expect(sameBankAccount(cn, { ...cn, bic: null, clearingSystem: null })).toBe(true);
    expect(sameBankAccount({ ...cn, clearingSystem: null, clearingMember: null }, { ...cn, bic: null })).toBe(true);
    expect(sameBankAccount(de, { ...de, iban: "de89 3704 0044 0532 0130 00", bic: "COBADEFF" })).toBe(true);
    // An IBAN names its bank itself and is unique worldwide: given with another BIC it is still the
    // one account (a second seller's copy of it under another BIC was stored as "another account").
    expect(sameBankAccount(de, { ...de, bic: "DEUTDEFFXXX" })).toBe(true);
    expect(sameBankAccount(de, { ...de, bic: null })).toBe(true);
    // An IBAN given as an account number is the same number.
    expect(sameBankAccount(de, { ...de, iban: null, accountNumber: "DE89370400440532013000" })).toBe(true);
  });

  it("is the same account at another branch code of the same bank, and possibly the same when nothing tells two banks apart", () => {
    // CNAPS codes name a branch; the bank is their first 3 digits (102: ICBC). Another ICBC
    // branch's code without a BIC escaped the hold and the one-seller rule.
    const otherBranch = { ...cn, bic: null, clearingMember: "102100099996" };
    expect(sameBankAccount(cn, otherBranch)).toBe(true);
    expect(sameBankAccount(otherBranch, cn)).toBe(true);
    expect(sameBankAccount({ ...cn, bic: null }, otherBranch)).toBe(true);
    expect(sameBankAccount({ ...cn, bic: null }, { ...otherBranch, clearingSystem: null })).toBe(true);
    // A Hong Kong bank code is the bank itself.
    const hk = { holderName: "Kowloon Stationery Ltd", iban: null, accountNumber: "012-345678-001", bic: null, clearingSystem: "HKNCC", clearingMember: "004", country: "HK" };
    expect(sameBankAccount(hk, { ...hk, accountNumber: "012345678001" })).toBe(true);
    expect(sameBankAccount(hk, { ...hk, clearingMember: "012" })).toBe(false);
    // Codes whose bank cannot be read from them (a bank has many ABA routing numbers), another
    // system, a BIC against a clearing code: nothing proves two banks, so the number decides.
    const us = { holderName: "Acme Inc", iban: null, accountNumber: "000123456789", bic: null, clearingSystem: "USABA", clearingMember: "021000021", country: "US" };
    expect(sameBankAccount(us, { ...us, clearingMember: "322271627" })).toBe(true);
    expect(sameBankAccount({ ...cn, bic: null }, { ...cn, bic: null, clearingSystem: "HKICL" })).toBe(true);
    expect(sameBankAccount({ ...cn, clearingSystem: null, clearingMember: null }, otherBranch)).toBe(true);
  });

  it("is another account with another number, at another bank, or in another country when nothing else names the bank", () => {
    expect(sameBankAccount(cn, { ...cn, accountNumber: "6222021234567890124" })).toBe(false);
    expect(sameBankAccount(cn, { ...cn, bic: "BKCHCNBJ" })).toBe(false);
    expect(sameBankAccount(cn, { ...cn, bic: "ICBKHKHH" })).toBe(false);
    expect(sameBankAccount({ ...cn, bic: null }, { ...cn, bic: null, clearingMember: "104584000003" })).toBe(false);
    expect(sameBankAccount({ ...cn, bic: null }, { ...cn, bic: null, clearingMember: "104100000004" })).toBe(false);
    const bare = { ...cn, bic: null, clearingSystem: null, clearingMember: null };
    expect(sameBankAccount({ ...cn, clearingMember: null, clearingSystem: null }, { ...bare, country: "HK" })).toBe(false);
    expect(sameBankAccount(de, { ...de, iban: "DE89370400440532013001" })).toBe(false);
  });
});

describe("entryKind: a return gives money back", () => {
  it("is a credit or a reversal; a debit with return information alone is neither", () => {
    expect(entryKind({ side: "debit", reversal: false, returnReason: null })).toBe("debit");
    expect(entryKind({ side: "credit", reversal: false, returnReason: null })).toBe("return");
    expect(entryKind({ side: "credit", reversal: false, returnReason: "AC04" })).toBe("return");
    expect(entryKind({ side: "debit", reversal: true, returnReason: null })).toBe("return");
    expect(entryKind({ side: "debit", reversal: false, returnReason: "AC04" })).toMatchObject({ code: "debit_with_return_info" });
  });
});

describe("instructionMismatch: the instruction in full, in the account's currency", () => {
  const entry = (side: "debit" | "credit", currency: string, amount: bigint, instructed: { currency: string; amount: bigint } | null = null) => ({ side, currency, amount, instructed });

  it("takes a converted debit or return with the instructed amount beside it, and an unconverted one of the amount", () => {
    for (const side of ["debit", "credit"] as const) {
      expect(instructionMismatch(entry(side, "USD", 20_668n, cny), cny, "USD")).toBeNull();
      expect(instructionMismatch(entry(side, "USD", usd.amount), usd, "USD")).toBeNull();
      expect(instructionMismatch(entry(side, "USD", usd.amount, usd), usd, "USD")).toBeNull();
    }
  });

  it("refuses the tester's cent, a partial return, another instructed amount, the payout's own currency on a USD account", () => {
    const cent = instructionMismatch(entry("credit", "USD", 1n), cny, "USD");
    expect(cent?.code).toBe("no_instructed_amount");
    expect(cent?.detail).toMatch(/^credited 0.01 USD without the instructed CNY amount/);
    expect(instructionMismatch(entry("credit", "USD", usd.amount - 100n), usd, "USD")).toMatchObject({ code: "instructed_mismatch" });
    expect(instructionMismatch(entry("credit", "USD", 20_668n, { currency: "CNY", amount: 150_000n }), cny, "USD")).toMatchObject({ code: "instructed_mismatch" });
    expect(instructionMismatch(entry("debit", "USD", 20_668n, { currency: "EUR", amount: 150_400n }), cny, "USD")).toMatchObject({ code: "instructed_mismatch" });
    // Unconverted, a charge taken from the amount is not the instruction (it would not balance either).
    expect(instructionMismatch(entry("debit", "USD", usd.amount + 500n, usd), usd, "USD")).toMatchObject({ code: "instructed_mismatch" });
    expect(instructionMismatch(entry("debit", "CNY", cny.amount), cny, "USD")).toMatchObject({ code: "not_account_currency", detail: "debited 1504.00 CNY: the platform's account is in USD" });
    expect(instructionMismatch(entry("credit", "CNY", cny.amount, cny), cny, "USD")).toMatchObject({ code: "not_account_currency" });
  });

  it("takes a return net of charges the bank itemised when the amount and the charges make the instruction", () => {
    const fee = (amount: bigint, over: Partial<{ currency: string; side: "debit" | "credit" | null; included: boolean | null }> = {}) => ({ currency: "USD", amount, side: "debit" as const, included: true, ...over });
    const net = (amount: bigint, instructed: { currency: string; amount: bigint } | null, charges: ReturnType<typeof fee>[]) => ({ ...entry("credit", "USD", amount, instructed), charges });
    expect(instructionMismatch(net(usd.amount - 1_500n, usd, [fee(1_000n), fee(500n)]), usd, "USD")).toBeNull();
    expect(instructionMismatch(net(usd.amount - 1_500n, null, [fee(1_500n, { side: null, included: null })]), usd, "USD")).toBeNull();
    expect(instructionMismatch(net(19_000n, cny, [fee(1_668n)]), cny, "USD")).toBeNull();
    expect(returnCharges(net(1n, null, [fee(1_000n), fee(500n)]), "USD")).toBe(1_500n);
    expect(returnCharges({}, "USD")).toBe(0n);
    // Not itemised, not adding up, in another currency, or not taken from the amount: a mismatch.
    expect(instructionMismatch(entry("credit", "USD", usd.amount - 1_500n, usd), usd, "USD")).toMatchObject({ code: "instructed_mismatch" });
    expect(instructionMismatch(net(usd.amount - 1_500n, usd, [fee(1_000n)]), usd, "USD")).toMatchObject({ code: "instructed_mismatch", detail: `credited ${major(usd.amount - 1_500n, "USD")} + charges 10.00 USD for an instruction of ${major(usd.amount, "USD")}` });
    expect(instructionMismatch(net(usd.amount - 1_500n, usd, [fee(1_500n, { currency: "HKD" })]), usd, "USD")).toMatchObject({ code: "charges_mismatch" });
    expect(instructionMismatch(net(usd.amount - 1_500n, usd, [fee(1_500n, { side: "credit" })]), usd, "USD")).toMatchObject({ code: "charges_mismatch" });
    expect(instructionMismatch(net(usd.amount - 1_500n, usd, [fee(1_500n, { included: false })]), usd, "USD")).toMatchObject({ code: "charges_mismatch" });
    // A debit's charges are not counted: the debit is the instruction or nothing.
    expect(instructionMismatch({ ...entry("debit", "USD", usd.amount - 1_500n, usd), charges: [fee(1_500n)] }, usd, "USD")).toMatchObject({ code: "instructed_mismatch" });
  });

  it("takes the payout's own currency when the account is in it", () => {
    expect(instructionMismatch(entry("debit", "CNY", cny.amount), cny, "CNY")).toBeNull();
  });
});

describe("rateMismatch: a converted amount within the deviation from what the P was booked at", () => {
  const e = (amount: bigint) => ({ side: "credit" as const, currency: "USD", amount });
  it("takes up to the bound, refuses past it, and has nothing to say without a booked value or a conversion", () => {
    expect(rateMismatch(e(11_000n), cny, 10_000n, 1_000)).toBeNull();
    expect(rateMismatch(e(9_000n), cny, 10_000n, 1_000)).toBeNull();
    expect(rateMismatch(e(11_001n), cny, 10_000n, 1_000)).toMatchObject({ code: "rate_out_of_range", detail: "credited 110.01 USD for 1504.00 CNY: more than 10% from the 100.00 USD it was booked at" });
    expect(rateMismatch(e(1n), cny, 10_000n, 1_000)).toMatchObject({ code: "rate_out_of_range" });
    expect(rateMismatch(e(1n), cny, null, 1_000)).toBeNull();
    expect(rateMismatch(e(1n), { currency: "USD", amount: 5n }, 10_000n, 1_000)).toBeNull();
  });
});

describe("the camt.054 reader gives the rules what they need", () => {
  it("reads each notification's account and a proprietary return reason", () => {
    const xml = camt054({ messageId: "M-1", account: { holderName: "x", iban: null, accountNumber: "999999999", bic: null, clearingSystem: null, clearingMember: null, country: "HK", accountCurrency: "EUR" }, entries: [{ endToEndId: "ENT-BP-1", currency: "EUR", amount: 5n, returnReason: "AC04" }] });
    const doc = readCamt054(xml.replace("<Rsn><Cd>AC04</Cd></Rsn>", "<Rsn><Prtry>BANK-77</Prtry></Rsn>"));
    expect(doc.accounts).toEqual([{ id: "999999999", currency: "EUR" }]);
    expect(doc.entries.map((x) => [x.side, x.returnReason])).toEqual([["credit", "BANK-77"]]);
  });
});

describe("ISO 3166-1 alpha-2: a seller's bank account is in an assigned country", () => {
  const icu = new Intl.DisplayNames(["en"], { type: "region", fallback: "none" });
  const all = Array.from({ length: 26 * 26 }, (_, i) => String.fromCharCode(65 + Math.floor(i / 26), 65 + (i % 26)));

  it("lists the 249 assigned codes, each one ICU names", () => {
    expect(ISO_3166_ALPHA2.size).toBe(249);
    for (const c of ISO_3166_ALPHA2) expect(icu.of(c), c).toBeDefined();
  });

  it("leaves out only what ICU names that ISO does not assign: reserved, user-assigned and withdrawn codes", () => {
    const named = all.filter((c) => icu.of(c) !== undefined && !ISO_3166_ALPHA2.has(c));
    expect(named).toEqual(["AC", "AN", "BU", "CP", "CQ", "CS", "DD", "DG", "DY", "EA", "EU", "EZ", "FX", "HV", "IC", "NH", "QO", "RH", "SU", "TA", "TP", "UK", "UN", "VD", "XA", "XB", "XK", "YD", "YU", "ZR", "ZZ"]);
  });

  it("refuses an unassigned code on a bank account, naming the field", () => {
    expect(isCountry("CN")).toBe(true);
    expect(isCountry("cn")).toBe(false);
    const account = { holderName: "Shenzhen Gadget Works Co., Ltd.", accountNumber: "6222021234567890123", bic: "ICBKCNBJSZN", country: "CN", address: { townName: "Shenzhen", country: "CN" } };
    expect(validateBankAccount(account).country).toBe("CN");
    // XK is not assigned either, but the banks use it for Kosovo: taken (bank-holder-name.unit.test.ts, bank-account-owner.test.ts).
    expect(isCountry("XK")).toBe(true);
    for (const country of ["ZZ", "UK", "XA", "QQ"]) {
      let thrown: unknown;
      try {
        validateBankAccount({ ...account, country });
      } catch (e) {
        thrown = e;
      }
      expect(thrown, country).toMatchObject({ code: "ENT_PAYOUT_INVALID_REQUEST" });
      expect((thrown as { fields: Array<{ field: string }> }).fields.map((f) => f.field)).toEqual(["country"]);
    }
  });
});

describe("a domestic account number has the shape of one", () => {
  const account = { holderName: "Shenzhen Gadget Works Co., Ltd.", bic: "ICBKCNBJSZN", country: "CN", address: { townName: "Shenzhen" } };
  const fieldsOf = (accountNumber: string): string[] => {
    try {
      validateBankAccount({ ...account, accountNumber });
      return [];
    } catch (e) {
      return (e as { fields: Array<{ field: string }> }).fields.map((f) => f.field);
    }
  };

  it("takes US, mainland and Hong Kong numbers as banks write them", () => {
    for (const n of ["6222021234567890123", "400123456838", "1234", "123-456789-001", "GB0012345678"]) expect(fieldsOf(n), n).toEqual([]);
  });

  it("refuses what is no account: a sign, zeros, too short or long, stray hyphens", () => {
    for (const n of ["-1", "0", "0000", "000-000", "123", "1".repeat(35), "123-", "-123", "12--34", "12 34"]) expect(fieldsOf(n), n).toEqual(["accountNumber"]);
  });
});

describe("a return reason in words", () => {
  it("names the ISO 20022 codes banks send most and passes any other through as it came", () => {
    expect(returnReasonText("AC04")).toBe("AC04: closed account");
    expect(returnReasonText("MD07")).toBe("MD07: beneficiary deceased");
    expect(returnReasonText("ZZ99")).toBe("ZZ99");
  });
});
