/**
 * When two bank accounts are the same account at the bank: the one definition that the holds after
 * a return (store.ts, rail.ts) and the platform's own account in a notification (matching.ts) rest
 * on. Pure, so it is tested without a database; the SQL only narrows the rows it is applied to.
 *
 * People write one account in many ways: "6222 0212 3456 7890 123", "6222-0212-3456-7890-123",
 * the bank's 8-character BIC or its branch's 11. Compared as typed, the account a bank closed came
 * back under another spelling, was accepted without a hold, and the next run paid it again.
 */
import type { BankAccountRef } from "./iso20022.js";

/** An IBAN or account number as the bank reads it: without the spaces, hyphens and dots written in it, in capitals. */
export function accountNumberKey(n: string): string {
  return n.replace(/[\s.-]/g, "").toUpperCase();
}

const key = (s: string | null | undefined): string | null => (s === null || s === undefined ? null : s.replace(/\s/g, "").toUpperCase());

/**
 * The bank a clearing member code names, for the clearing systems whose codes say it: a CNAPS code
 * (12 digits: a 3-digit bank code, 4-digit city, 4-digit branch, a check digit) names a BRANCH, its
 * bank by the first 3 digits (102: ICBC; 102584002170 and 102100099996 are two ICBC branches); a
 * Hong Kong bank code (HKNCC, 3 digits) is the bank itself. Null for any other system (an ABA
 * routing number, a sort code...): one bank has many of them and the bank cannot be read from one,
 * so two such codes never prove two banks.
 */
function clearingBank(system: string | null, member: string): string | null {
  if (system === "CNAPS" && /^\d{12}$/.test(member)) return member.slice(0, 3);
  if (system === "HKNCC" && /^\d{3}$/.test(member)) return member;
  return null;
}

/**
 * Whether two accounts may be at the same bank, as far as both name it: by the BIC's institution and
 * country (its first 6 characters: ICBKCNBJ and its branch ICBKCNBJSZN are one bank) when both have
 * a BIC; else by the clearing member when both have one in the same system (or one of them names no
 * system): the same code, or the same bank behind two branch codes (`clearingBank`); else, when
 * nothing compares (a BIC on one side and a clearing code on the other, two systems, a code whose
 * bank cannot be read, nothing), by the country: possibly the same bank, so an equal number is held
 * and refused as the same account rather than paid as another. An account number is unique within
 * its bank, so this is what tells two equal numbers apart; only what proves two banks does.
 */
function sameBank(a: BankAccountRef, b: BankAccountRef): boolean {
  const [bicA, bicB] = [key(a.bic), key(b.bic)];
  if (bicA !== null && bicB !== null) return bicA.slice(0, 6) === bicB.slice(0, 6);
  const [memberA, memberB] = [key(a.clearingMember), key(b.clearingMember)];
  const [systemA, systemB] = [key(a.clearingSystem), key(b.clearingSystem)];
  if (memberA !== null && memberB !== null && (systemA === null || systemB === null || systemA === systemB)) {
    if (memberA === memberB) return true;
    const system = systemA ?? systemB;
    const [bankA, bankB] = [clearingBank(system, memberA), clearingBank(system, memberB)];
    if (bankA !== null && bankB !== null) return bankA === bankB;
  }
  return key(a.country) === key(b.country);
}

/**
 * The same account at the bank: the same IBAN (unique worldwide), or the same account number
 * (`accountNumberKey`) at the same bank (`sameBank`), whatever the holder's name is written as (the account a bank closed stays closed
 * under a corrected name). Rows stored before this definition, with their separators, compare the
 * same way: nothing is normalised where it is stored, only here.
 */
export function sameBankAccount(a: BankAccountRef, b: BankAccountRef): boolean {
  const [numberA, numberB] = [a.iban ?? a.accountNumber ?? null, b.iban ?? b.accountNumber ?? null];
  if (numberA === null || numberB === null || accountNumberKey(numberA) !== accountNumberKey(numberB)) return false;
  // An IBAN names its country and its bank itself and is unique worldwide (ISO 13616): two equal
  // IBANs are one account whatever BIC either was given with (another BIC for the same IBAN would
  // otherwise have made a second seller's copy of it "another account").
  if (a.iban !== null && a.iban !== undefined && b.iban !== null && b.iban !== undefined) return true;
  return sameBank(a, b);
}

/**
 * Per seller, the other sellers whose account on file is the same account (`sameBankAccount`), for
 * the sellers that share one: rows stored before one account was one seller's. Narrowed by the
 * number first, so it is linear in the accounts but for the few that share a number.
 */
export function sharedAccounts(accounts: ReadonlyArray<BankAccountRef & { sellerId: string }>): Map<string, string[]> {
  const byNumber = new Map<string, Array<BankAccountRef & { sellerId: string }>>();
  for (const a of accounts) {
    const n = a.iban ?? a.accountNumber ?? null;
    if (n === null) continue;
    const k = accountNumberKey(n);
    byNumber.set(k, [...(byNumber.get(k) ?? []), a]);
  }
  const shared = new Map<string, string[]>();
  for (const group of byNumber.values()) {
    for (const a of group) {
      const others = group.filter((b) => b.sellerId !== a.sellerId && sameBankAccount(a, b)).map((b) => b.sellerId);
      if (others.length > 0) shared.set(a.sellerId, others.sort());
    }
  }
  return shared;
}
