/**
 * The bank rail: sellers with a bank account on file are paid by ISO 20022 credit transfer in their
 * payout currency, with no conversion on our side (a CNY seller gets one CNY instruction; the bank or
 * licensed provider converts from the platform's USD account and says at what rate).
 *
 * The protocol, in the order of writes (each step idempotent, so a crash anywhere just resumes):
 * 1. PLAN (one planner across processes: the `bank-payouts` lease, short and renewed while the run
 *    works, each of the run's transactions fenced by it: ../run-lease.ts): per seller with a bank
 *    account, no payout in flight and an available balance at or above `minAmount`, a `planned` row
 *    with its exact pending ledger request (`bankpayout:<id>:reserve`), then the reserve is posted.
 *    A run that dies or loses its lease leaves planned rows; the worker's tick (`resumeInterrupted`,
 *    once the lease is free) or the next run posts their reserves (the same request under the same
 *    key) and files them.
 *    A seller whose account was stored before addresses were required is not planned (`address_missing`),
 *    nor one whose account is also another seller's (`bank_account_shared`: rows from before one
 *    account was one seller's; which of them the holder is, only an admin can say), nor one whose
 *    account the bank returned a payout from since it was set, whichever seller that payout was for,
 *    unless the bank paid a later payout to it since (`account_returned`: a return holds the account,
 *    store.ts `sellersReturned`, the rule a PUT of the account applies too).
 *    A planned payout is held to the same when it is filed (`#screen`: planned by an older version,
 *    or before the account was replaced, shared or returned from): one that fails is not filed, its
 *    reserve voided and the payout rejected while planned, as a reserve the ledger refused is.
 * 2. FILE: the reserved planned payouts go into one pain.001 (GrpHdr/MsgId `ENT-<tag>-<yyyymmdd>-<n>`,
 *    EndToEndId `ENT-BP-<tag>-<id>`; `<tag>`: 8 hex digits made once per database, so a new
 *    database never repeats an id a bank saw, while every instance on one database shares it;
 *    payouts and files issued before it keep `ENT-BP-<id>` and `ENT-<yyyymmdd>-<n>`, and are matched
 *    on the stored id all the same); the XML and the move to `instructed` are one transaction.
 * 3. OUTBOX: the stored XML is written to `<outbox>/<MsgId>.xml` (temporary name, then rename) and
 *    marked written. A crash before the rename writes the same bytes again: the bank deduplicates
 *    on MsgId and EndToEndId, so a payout is never instructed twice under two ids.
 * 4. CONFIRM: a camt.054 (dropped in `<inbox>` or posted to the API) for the platform's account (any
 *    other account or currency: refused whole, nothing applied), each entry matched by EndToEndId
 *    and held against the instruction (matching.ts): in the account's currency, of the instructed
 *    amount in full. A booked debit commits the reserve and books the cash (booking.ts); the cash
 *    request is stored before it is posted, so a retry posts the same one, unless the bank sends
 *    another debit for the payout while that one was never booked: the later one is stored and
 *    posted (one ledger key, so at most one of them ever posts). A full return (a credit, or a
 *    reversal) voids the reserve, or, when the reserve was committed for a debit that never booked,
 *    is booked back to the seller under that same key: the money is back in `available`. A full
 *    return after final (the beneficiary's bank sent it back days later) is a correcting journal
 *    transaction of its own (`bankpayout:<id>:returned`, booking.ts): the cash the bank credited,
 *    the instructed amount back in the seller's `available`, and the payout `returned`. A return
 *    credited net of the bank's itemised charges (TxDtls/Chrgs/Rcrd, matching.ts) still gives the
 *    seller the instructed amount; the charges go to `platform:expense:bank_charges`. Anything
 *    else is reported, never booked, and recorded as an exception for an operator (exceptions.ts):
 *    an unknown id, an entry that is not the instruction, a partial or stray credit after final, a
 *    debit of a payout not instructed, a second debit of a final one (another bank entry, by its
 *    AcctSvcrRef, whatever its amount), a cash booking the ledger refused (retried on every tick; one that can
 *    never go through, such as a debit in another currency than the account's left by an earlier
 *    version, is cleared, so the bank's correct debit or return settles the payout).
 * 5. OPERATOR (finance, under the confirmations' lock, each step idempotent): a debit of part of the
 *    instruction (an `instructed_mismatch` exception whose InstdAmt is below the instructed amount) is
 *    settled by what the bank did (`resolveException` with `book_partial_debit`): the reserve
 *    committed, then one transaction under the cash booking's key books the part paid as a full debit
 *    would and gives the rest back to the seller; the payout is `partially_paid`, the exception
 *    resolved naming the transaction. The bank's return of that part later (a `returned_after_final`
 *    exception) is booked by `book_return` as a full return after final is (`#settleReturn`). An instructed payout the bank never executed (refused by
 *    phone) is cancelled (`cancel`): its reserve voided, the payout `cancelled`; refused once a debit
 *    of the bank is booked or reported for it (its exception open or resolved: a note does not undo
 *    what the bank paid), as a partial settlement is while another debit of the bank is reported for
 *    the payout. Either ends the payout: the next run pays what the
 *    seller has available.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isAppError } from "../../errors.js";
import { Mutex } from "../../concurrency.js";
import { LedgerErrors, postedDebitBalance } from "../../ledger/index.js";
import type { AccountStatement, Ledger } from "../../ledger/types.js";
import type { LeaseStorePort } from "../../leader/lease-store.js";
import { convertMinor, isCurrency } from "../../money/index.js";
import { Accounts, MAX_RATE_DEVIATION_BPS } from "../../settlement/index.js";
import type { Seller } from "../../settlement/types.js";
import { availableBalance } from "../balances.js";
import { availableChange, requestFromJson, requestToJson } from "../booking.js";
import { PayoutErrors } from "../errors.js";
import type { PayoutLog } from "../types.js";
import { sameBankAccount, sharedAccounts } from "./account-identity.js";
import { BankAccounts, bankLedgerKeys, cashRequest, partialRequest, reserveRequest, returnChargesRequest, returnedRequest, returnRequest, type ReturnCharges } from "./booking.js";
import { bookedValue, type MidRate, type Position } from "../realised-fx.js";
import { bicFitsCountry, ibanCountries, ibanFitsCountry, isCountry } from "./countries.js";
import { holderNameMatch, holderNameScriptMismatch, holderNameScripts } from "./holder-name.js";
import { BankExceptionStore, type BankException, type BankExceptionEntry, type BankExceptionOutcome } from "./exceptions.js";
import { BankMessageError, pain001, readCamt054, type BankAccountRef, type BankEntry, type InstructionOptions, type PostalAddress } from "./iso20022.js";
import { accountRefusal, entryKind, instructionMismatch, major, noReference, rateMismatch, returnCharges, returnReasonText, type BankExceptionCode, type Refusal } from "./matching.js";
import { BANK_RUN_LEASE_MS, RunLease } from "../run-lease.js";
import { accountRef, BankStore, bankFilePrefix, type BankAccount, type BankAccountHold, type BankFile, type BankPayout, type BankPayoutStatus } from "./store.js";
import type { SqlRunner } from "../../db/sql.js";
import type { OpenItems, OpenPeriod } from "../../open-items.js";

export interface BankRailOptions {
  sql: SqlRunner;
  ledger: Ledger;
  sellers: { listSellers(): Promise<Seller[]> };
  leases: LeaseStorePort;
  /** The platform's account the transfers are drawn on (its currency: what the bank debits), with the platform's address. */
  debtor: BankAccountRef & { accountCurrency: string };
  /** Purpose, regulatory reporting and ultimate debtor written in every pain.001 (config BANK_PURPOSE_CODE, BANK_REGULATORY_REPORTING_CN, BANK_ULTIMATE_DEBTOR_NAME); none when absent. */
  instruction?: InstructionOptions;
  outbox: string;
  inbox: string;
  /** Minor units of the seller's payout currency. */
  minAmount: bigint;
  owner: string;
  /** The run's lease TTL (renewed every third of it while a run works); default BANK_RUN_LEASE_MS. */
  leaseMs?: number;
  now?: () => Date;
  /**
   * The published mid rates (the fx module). A converted payout's booking splits the realised
   * exchange difference from the bank's spread at the P->USD mid rate at the booking instant (absent,
   * or no rate published for the instant: the whole difference is realised, and the booking's
   * metadata says why, `midMissing`). And a converted debit or return is held against it when the
   * fx:P-USD position cannot value the payout's P (it holds none owed); without it (or without a
   * rate in force at the entry's booking date) such an entry is left for an operator, never booked.
   */
  rates?: { latestRate(base: string, quote: string, at?: Date): Promise<{ rate: string; source: string; asOf: string }> };
  log?: PayoutLog;
  /**
   * Tests: called at each step of a run (after a payout is recorded, before the file), to pause or
   * stop it there; and `account`: inside the transaction that sets a seller's account, once it is
   * found to be no other seller's, before it is written.
   */
  hooks?: { at?(step: "planned" | "filing" | "account", context: { payoutId?: bigint; sellerId?: string }): void | Promise<void> };
}

export const BANK_SKIP_REASONS = ["no_seller", "in_flight", "bank_account_shared", "account_returned", "address_missing", "account_changed", "no_account", "below_minimum", "reserve_refused"] as const;

export interface BankSkip {
  sellerId: string;
  reason: (typeof BANK_SKIP_REASONS)[number];
  detail?: string;
  /** `bank_account_shared`: the other sellers whose account on file is this same account. */
  sharedWith?: string[];
}

export interface BankRunResult {
  file: BankFile | null;
  payouts: BankPayout[];
  skipped: BankSkip[];
}

export const CONFIRMATION_OUTCOMES = ["final", "rejected", "returned", "already_final", "already_partially_paid", "already_rejected", "already_returned", "not_booked", "unmatched", "mismatch", "exception"] as const;
export type ConfirmationOutcome = (typeof CONFIRMATION_OUTCOMES)[number];

export interface ConfirmationResult {
  endToEndId: string | null;
  payoutId: string | null;
  outcome: ConfirmationOutcome;
  /** Why it was not applied (`unmatched`, `mismatch`, `exception`). */
  code?: BankExceptionCode;
  detail?: string;
  /** The exception recorded for an entry not applied (the same one when the notification comes again). */
  exceptionId?: string;
  entry: BankExceptionEntry;
}

export interface InboxResult {
  file: string;
  messageId?: string;
  results?: ConfirmationResult[];
  /** How many of its entries were not applied (each recorded as an exception). */
  exceptions?: number;
  /** Why the whole file was refused (moved to failed/ beside a .error.txt). */
  error?: string;
}

/** What an entry comes to, before it is reported. */
interface Decision {
  outcome: ConfirmationOutcome;
  payout: BankPayout | null;
  code?: BankExceptionCode;
  detail?: string;
}

const NOT_APPLIED: ReadonlySet<ConfirmationOutcome> = new Set<BankExceptionOutcome>(["unmatched", "mismatch", "exception"]);
const refused = (outcome: BankExceptionOutcome, payout: BankPayout | null, r: Refusal): Decision => ({ outcome, payout, code: r.code, detail: r.detail });

function entryView(e: BankEntry): BankExceptionEntry {
  return {
    side: e.side,
    status: e.status,
    currency: e.currency,
    amount: e.amount.toString(),
    instructed: e.instructed === null ? null : { currency: e.instructed.currency, amount: e.instructed.amount.toString() },
    reversal: e.reversal,
    returnReason: e.returnReason,
    bankReference: e.bankReference,
    bookingDate: e.bookingDate,
  };
}

/** The payout's `reason` for a return (the ledger's description and metadata carry it too). */
function returnReason(entry: BankEntry, afterFinal: boolean, charges: ReturnCharges | null): string {
  const code = entry.returnReason === null ? "" : ` (${returnReasonText(entry.returnReason)})`;
  return `returned by the bank${afterFinal ? " after final" : ""}${code}${entry.reversal ? ", reversal" : ""}${charges === null ? "" : `, net of ${major(charges.amount, charges.currency)} charges`}`;
}

/** The payout's `reason` once partly paid. */
const partialReason = (p: { currency: string; amount: bigint }, paid: bigint): string =>
  `partly paid by the bank: ${major(paid, p.currency)} of ${major(p.amount, p.currency)}; ${major(p.amount - paid, p.currency)} not paid, back to the seller's available balance`;

/** An exception that reports the bank's booked debit of its payout (open or resolved: a note does not undo it). */
const bookedDebit = (x: BankException): boolean => x.entry !== null && x.entry.side === "debit" && x.entry.status === "BOOK" && !x.entry.reversal;

/** Two exceptions report one entry of the bank: the same AcctSvcrRef, or, when either has none, the same amounts. */
const sameEntry = (a: BankExceptionEntry, b: BankExceptionEntry): boolean =>
  a.bankReference !== null && b.bankReference !== null
    ? a.bankReference === b.bankReference
    : a.currency === b.currency && a.amount === b.amount && a.instructed?.currency === b.instructed?.currency && a.instructed?.amount === b.instructed?.amount;

/** The reason of a payout an operator cancelled (a retry is told by it). */
const cancelReason = (by: string, note: string): string => `cancelled by ${by}: ${note}`;
/** A returned payout that paid another seller than the one held, named: " (seller <id>'s)"; else nothing. */
const ofSeller = (paid: string, held: string): string => (paid === held ? "" : ` (seller ${paid}'s)`);

export const RESOLUTION_ACTIONS = ["book_partial_debit", "book_return"] as const;
export type ResolutionAction = (typeof RESOLUTION_ACTIONS)[number];

const exceptionNotFound = (id: bigint) => PayoutErrors.bankExceptionNotFound(`bank notification exception ${id} does not exist`, { fields: [{ field: "params.id", message: "unknown exception" }] });

const LEASE = "bank-payouts";
const IBAN = /^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/;
const BIC = /^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/;

/** ISO 13616 check digits: the IBAN moved 4 characters, letters as numbers, mod 97 = 1. */
export function ibanValid(iban: string): boolean {
  if (!IBAN.test(iban)) return false;
  const moved = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const ch of moved) {
    const v = ch >= "A" ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of v) rest = (rest * 10 + Number(d)) % 97;
  }
  return rest === 1;
}

export type BankAccountInput = Partial<Record<keyof BankAccountRef, unknown>>;

/**
 * The address's fields, their ISO 20022 element and schema length (PostalAddress24: StrtNm Max70Text,
 * BldgNb and PstCd Max16Text, TwnNm and CtrySubDvsn Max35Text), in the order they are written.
 */
export const ADDRESS_FIELDS = [
  { key: "streetName", element: "StrtNm", max: 70 },
  { key: "buildingNumber", element: "BldgNb", max: 16 },
  { key: "postCode", element: "PstCd", max: 16 },
  { key: "townName", element: "TwnNm", max: 35 },
  { key: "countrySubDivision", element: "CtrySubDvsn", max: 35 },
] as const;

/**
 * What Swift CBPR+ carries in party names and addresses: Latin letters, digits, the space and the
 * ASCII punctuation (FIN X characters plus !#&%*=^_`{|}~";@[\]$><; "CBPR+ will only support Latin
 * characters"), i.e. printable ASCII. A mainland address is given in pinyin or English, as the banks
 * paying CNY into China ask ("full and correct beneficiary address (in English)"). The file's own
 * escaping (iso20022.ts `text`) covers & < > " '; nothing is cut, the lengths are checked here.
 */
const ADDRESS_TEXT = /^[\x20-\x7E]+$/;

/**
 * The holder's structured address, or null with the bad fields pushed (named `<prefix>.<field>`):
 * `townName` required, the rest optional, each trimmed, within its ISO 20022 length, in printable
 * ASCII; `country` an assigned ISO 3166 code (or XK), the account's when left out.
 */
export function validateAddress(input: unknown, accountCountry: string | null, fields: Array<{ field: string; message: string }>, prefix = "address"): PostalAddress | null {
  if (input === undefined || input === null) {
    fields.push({ field: prefix, message: "required: the holder's postal address, structured (at least townName; streetName, buildingNumber, postCode, countrySubDivision as the address has them): cross-border payments no longer carry an address without its town and country (Swift CBPR+, November 2026)" });
    return null;
  }
  if (typeof input !== "object" || Array.isArray(input)) {
    fields.push({ field: prefix, message: "an object: { streetName, buildingNumber, postCode, townName, countrySubDivision, country }" });
    return null;
  }
  const o = input as Record<string, unknown>;
  const before = fields.length;
  const out: Record<string, string | null> = {};
  for (const { key, element, max } of ADDRESS_FIELDS) {
    const v = o[key];
    if (v === undefined || v === null) {
      out[key] = null;
      if (key === "townName") fields.push({ field: `${prefix}.${key}`, message: `required (${element}): the town or city, e.g. Shenzhen` });
      continue;
    }
    const t = typeof v === "string" ? v.trim() : "";
    if (typeof v !== "string" || t === "" || t.length > max) fields.push({ field: `${prefix}.${key}`, message: `1 to ${max} characters (ISO 20022 ${element})` });
    else if (!ADDRESS_TEXT.test(t)) fields.push({ field: `${prefix}.${key}`, message: "Latin letters, digits, spaces and ASCII punctuation only (the Swift CBPR+ character set): write a Chinese address in pinyin or English" });
    out[key] = t;
  }
  const country = o["country"] === undefined || o["country"] === null ? accountCountry : o["country"];
  if (!isCountry(country)) fields.push({ field: `${prefix}.country`, message: "an assigned ISO 3166 alpha-2 code (or XK, Kosovo), e.g. CN (the account's country when left out)" });
  const unknown = Object.keys(o).filter((k) => k !== "country" && !ADDRESS_FIELDS.some((f) => f.key === k));
  if (unknown.length > 0) fields.push({ field: `${prefix}.${unknown[0]}`, message: `unknown field; an address has ${ADDRESS_FIELDS.map((f) => f.key).join(", ")}, country` });
  if (fields.length > before) return null;
  return { streetName: out["streetName"]!, buildingNumber: out["buildingNumber"]!, postCode: out["postCode"]!, townName: out["townName"]!, countrySubDivision: out["countrySubDivision"]!, country: country as string };
}

/** The account as stored, or ENT_PAYOUT_INVALID_REQUEST naming every bad field. */
/**
 * A domestic account number (ISO 20022 Othr/Id, Max34Text): no check digits to verify across
 * countries, so the shape only: US ones are 4 to 17 digits, mainland China's 8 to 30, Hong Kong's
 * written with hyphens (123-456789-001). "-1", "0" or "0000" are never an account.
 */
function accountNumberValid(n: string): boolean {
  return n.length >= 4 && n.length <= 34 && /^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/.test(n) && /[1-9]/.test(n);
}

export function validateBankAccount(input: BankAccountInput): BankAccountRef {
  const fields: Array<{ field: string; message: string }> = [];
  const opt = (k: keyof BankAccountRef): string | null => {
    const v = input[k];
    if (v === undefined || v === null) return null;
    return typeof v === "string" ? v : JSON.stringify(v);
  };
  const holderName = opt("holderName");
  if (holderName === null || holderName.trim() === "" || holderName.length > 140) fields.push({ field: "holderName", message: "1 to 140 characters" });
  const iban = opt("iban")?.replace(/ /g, "").toUpperCase() ?? null;
  const accountNumber = opt("accountNumber");
  if ((iban === null) === (accountNumber === null)) fields.push({ field: "iban", message: "give exactly one of iban and accountNumber" });
  if (iban !== null && !ibanValid(iban)) fields.push({ field: "iban", message: "not a valid IBAN (format or check digits)" });
  if (accountNumber !== null && !accountNumberValid(accountNumber)) {
    fields.push({ field: "accountNumber", message: "4 to 34 letters and digits (single hyphens between them allowed), with a digit that is not 0" });
  }
  const bic = opt("bic")?.toUpperCase() ?? null;
  if (bic !== null && !BIC.test(bic)) fields.push({ field: "bic", message: "a BIC of 8 or 11 characters (ISO 9362)" });
  const clearingSystem = opt("clearingSystem");
  const clearingMember = opt("clearingMember");
  if (clearingSystem !== null && !/^[A-Z0-9]{1,5}$/.test(clearingSystem)) fields.push({ field: "clearingSystem", message: "an ExternalClearingSystemIdentification1Code, e.g. CNAPS" });
  if (clearingMember !== null && !/^[A-Za-z0-9]{1,35}$/.test(clearingMember)) fields.push({ field: "clearingMember", message: "1 to 35 letters or digits (e.g. a 12-digit CNAPS bank code)" });
  if (bic === null && clearingMember === null) fields.push({ field: "bic", message: "give the beneficiary bank: bic, or clearingSystem and clearingMember" });
  const country = opt("country");
  if (country === null || !isCountry(country)) fields.push({ field: "country", message: "an assigned ISO 3166 alpha-2 code (or XK, Kosovo, as the IBAN registry and BICs write it), e.g. CN" });
  else {
    // The account's country is the one its IBAN and its bank's BIC name (or a territory using them).
    if (iban !== null && IBAN.test(iban) && !ibanFitsCountry(iban.slice(0, 2), country)) {
      fields.push({ field: "country", message: `${country} is not the IBAN's country: an IBAN starting ${iban.slice(0, 2)} is an account in ${ibanCountries(iban.slice(0, 2)).join(", ")}` });
    }
    if (bic !== null && BIC.test(bic) && !bicFitsCountry(bic.slice(4, 6), country)) {
      fields.push({ field: "bic", message: `${bic} is a bank in ${bic.slice(4, 6)} (BIC characters 5-6), not in the account's country ${country}` });
    }
  }
  const address = validateAddress(input.address, isCountry(country) ? country : null, fields);
  if (fields.length > 0) throw PayoutErrors.invalid(`bank account: ${fields.map((f) => `${f.field}: ${f.message}`).join("; ")}`, { fields });
  return { holderName: holderName!.trim(), iban, accountNumber, bic, clearingSystem, clearingMember, country: country!, address };
}

/** The details as stored, field for field (what the pain.001 would send, its address too), unlike `sameBankAccount`. */
const sameDetails = (a: BankAccountRef, b: BankAccountRef): boolean =>
  (["holderName", "iban", "accountNumber", "bic", "clearingSystem", "clearingMember", "country"] as const).every((k) => (a[k] ?? null) === (b[k] ?? null)) &&
  sameAddress(a.address ?? null, b.address ?? null);
const sameAddress = (a: PostalAddress | null, b: PostalAddress | null): boolean =>
  a === null || b === null ? a === b : (["streetName", "buildingNumber", "postCode", "townName", "countrySubDivision", "country"] as const).every((k) => a[k] === b[k]);

/** What `holdOf` reads, once per run or screen. */
interface HoldContext {
  /** `sharedAccounts` of the accounts on file. */
  shared: Map<string, string[]>;
  /** `BankStore.sellersReturned`: the sellers whose account on file is held after a return. */
  returned: Map<string, BankAccountHold>;
}

/**
 * Why a seller is not paid to its account on file `a` now, or null: the holds every path that files a
 * payout applies (a run planning the seller, and the filing of a payout planned before, `#screen`).
 * Its address is the one the pain.001 would write (a planned payout's own copy).
 */
function holdOf(sellerId: string, a: BankAccountRef, ctx: HoldContext): BankSkip | null {
  // One account on file for two sellers (set before that was refused): the money of one would reach
  // the other's holder, so neither is paid until an admin gives all but one of them another account.
  const others = ctx.shared.get(sellerId);
  if (others !== undefined) {
    return {
      sellerId,
      reason: "bank_account_shared",
      sharedWith: others,
      detail: `the account on file is also on file for seller${others.length > 1 ? "s" : ""} ${others.join(", ")} (set before one account was one seller's): neither is paid until an admin sets another account on all but one of them (PUT /v1/sellers/:id/bank-account) or takes it off (DELETE)`,
    };
  }
  const back = ctx.returned.get(sellerId);
  if (back !== undefined) {
    const why = back.reason === null ? "" : ` (${back.reason})`;
    return {
      sellerId,
      reason: "account_returned",
      detail: `the bank returned payout ${back.endToEndId}${ofSeller(back.sellerId, sellerId)} to this account${why}: set another account, or this one again with confirmReturnedAccount once it is checked, to resume`,
    };
  }
  // Stored before addresses were required: the bank would refuse a cross-border transfer whose
  // beneficiary has no town and country of its own (Swift CBPR+, November 2026), so it is not sent.
  if (a.address === null || a.address === undefined) {
    return { sellerId, reason: "address_missing", detail: `the account on file has no postal address (set before addresses were required): PUT /v1/sellers/${sellerId}/bank-account again with its "address" (at least townName) to resume` };
  }
  return null;
}

export class BankRail {
  readonly #o: BankRailOptions;
  readonly #store: BankStore;
  readonly #exceptions: BankExceptionStore;
  readonly #plan = new Mutex();
  readonly #confirm = new Mutex();
  #tag: string | null = null;

  constructor(options: BankRailOptions) {
    if (!isCurrency(options.debtor.accountCurrency)) throw new Error(`bank rail: account currency ${JSON.stringify(options.debtor.accountCurrency)} is not an ISO 4217 currency`);
    validateBankAccount(options.debtor);
    this.#o = options;
    this.#store = new BankStore(options.sql);
    this.#exceptions = new BankExceptionStore(options.sql);
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  async #seller(sellerId: string): Promise<Seller> {
    const s = (await this.#o.sellers.listSellers()).find((x) => x.id === sellerId);
    if (s === undefined) throw PayoutErrors.sellerNotFound(`seller ${sellerId} does not exist`, { fields: [{ field: "sellerId", message: "unknown seller" }] });
    return s;
  }

  /**
   * Sets the seller's account. An account on file for another seller (`sameBankAccount`: the same
   * IBAN or account number at the same bank, however written) is ENT_PAYOUT_BANK_ACCOUNT_IN_USE
   * naming that seller: one account is one seller's (checked under a lock per account number, so two
   * sellers given it at once cannot both have it). The account the bank returned a payout from
   * (whichever seller it was for, none paid to it since: the hold, store.ts `#holds`, as runs apply
   * it) is not lifted by setting it again: the same
   * account, without `confirmReturnedAccount`, is ENT_PAYOUT_BANK_ACCOUNT_HELD naming the returned
   * payout, on any seller; another account, or the same one confirmed as checked, is set and lifts it
   * for this seller (its `setAt` passes the return). Only for this seller: one account is one
   * seller's, so nobody else has it then, and whoever is given it after this one is held again,
   * unless the bank paid a later payout to it since (one instructed only proves nothing). The holder's name is checked
   * against the seller's registered name (holder-name.ts): a close_match or no_match without
   * `confirmHolderName` is ENT_PAYOUT_BANK_HOLDER_NAME_MISMATCH; the result, and whether it was
   * confirmed, is stored with the account. The details on file given again, exactly, unconfirmed,
   * with the same check, change nothing (not even `setAt`, which the hold is measured from); the same
   * account written otherwise is stored as given.
   */
  async setAccount(sellerId: string, input: BankAccountInput, setBy: string, options: { confirmReturnedAccount?: boolean; confirmHolderName?: boolean } = {}): Promise<BankAccount> {
    const seller = await this.#seller(sellerId);
    const account = validateBankAccount(input);
    const confirmed = options.confirmReturnedAccount === true;
    const result = holderNameMatch(account.holderName, seller.name);
    const scriptMismatch = holderNameScriptMismatch(account.holderName, seller.name);
    const holderNameCheck = { result, sellerName: seller.name, confirmed: result !== "match" && options.confirmHolderName === true, scriptMismatch };
    const set = await this.#store.setAccount({ sellerId, ...account, setBy, holderNameCheck }, async (others, current, hold) => {
      const other = others[0];
      if (other !== undefined) {
        const field = account.iban !== null ? "iban" : "accountNumber";
        throw PayoutErrors.bankAccountInUse(
          `this account (${field} ${account.iban ?? account.accountNumber} at the same bank) is on file for seller ${other.sellerId}: one bank account is paid to one seller only; give this seller's own account, or take it off seller ${other.sellerId} first`,
          { fields: [{ field, message: `the account of seller ${other.sellerId}` }], details: { field, sellerId: other.sellerId, sellerIds: others.map((o) => o.sellerId) } },
        );
      }
      await this.#o.hooks?.at?.("account", { sellerId });
      if (hold !== null && !confirmed && sameBankAccount(account, hold.account)) {
        const why = hold.reason === null ? "" : ` (${hold.reason})`;
        throw PayoutErrors.bankAccountHeld(
          `the bank returned payout ${hold.endToEndId}${ofSeller(hold.sellerId, sellerId)} from this account${why}: setting it again does not resume payouts to it; once the account is checked with the seller, send it again with "confirmReturnedAccount": true, or give another account`,
          {
            fields: [{ field: "confirmReturnedAccount", message: `required to pay again the account payout ${hold.endToEndId} was returned from` }],
            details: { hold: { payoutId: hold.payoutId.toString(), sellerId: hold.sellerId, endToEndId: hold.endToEndId, reason: hold.reason } },
          },
        );
      }
      if (result !== "match" && options.confirmHolderName !== true) {
        const what = result === "close_match" ? "is close to, not the same as," : "does not match";
        // Names in two scripts never match (no transliteration here): say so, so that the admin knows
        // a confirmation is what is expected, not a corrected name.
        const scripts = scriptMismatch
          ? ` and is written in another script (${[...holderNameScripts(account.holderName)].join(", ")}, the registered name ${[...holderNameScripts(seller.name)].join(", ")}): names in two scripts are never compared letter by letter, so`
          : ":";
        throw PayoutErrors.bankHolderNameMismatch(
          `the holder's name ${JSON.stringify(account.holderName)} ${what} the seller's registered name ${JSON.stringify(seller.name)} (${result})${scripts} once the account is checked to be the seller's, send it again with "confirmHolderName": true${scriptMismatch ? "" : ", or correct the name"}`,
          {
            fields: [{ field: "holderName", message: `${result} with the seller's registered name ${JSON.stringify(seller.name)}${scriptMismatch ? " (another script: confirm it)" : ""}` }],
            details: { holderName: account.holderName, sellerName: seller.name, result, scriptMismatch },
          },
        );
      }
      const sameCheck = (c: BankAccount["holderNameCheck"]) => c !== null && c.result === holderNameCheck.result && c.sellerName === holderNameCheck.sellerName && c.confirmed === holderNameCheck.confirmed;
      return current !== null && !confirmed && sameDetails(account, current) && sameCheck(current.holderNameCheck) ? "keep" : "write";
    });
    if (confirmed) this.#o.log?.info({ sellerId, setBy }, "bank account set with confirmReturnedAccount: a hold after a return, if any, is lifted");
    if (set.holderNameCheck?.confirmed === true) this.#o.log?.info({ sellerId, setBy, result }, "bank account set with confirmHolderName: the holder's name is not the seller's registered name");
    return set;
  }

  /** The sellers other than this one whose account on file is the same account: rows from before one account was one seller's. */
  async accountSharedWith(sellerId: string): Promise<string[]> {
    const a = await this.#store.account(sellerId);
    return a === null ? [] : (await this.#store.accountsSharing(sellerId, a)).map((x) => x.sellerId);
  }

  async account(sellerId: string): Promise<BankAccount> {
    const a = await this.#store.account(sellerId);
    if (a === null) {
      // A seller that does not exist is not one the vault pays.
      await this.#seller(sellerId);
      throw PayoutErrors.bankAccountNotFound(`seller ${sellerId} has no bank account: it is paid through the vault`);
    }
    return a;
  }

  /**
   * The payout the bank returned from the seller's account on file since it was set, if any, whichever
   * seller it paid (`sellerId`): runs skip the seller (`account_returned`) until another account is
   * set, this one confirmed (`setAccount`), or the bank pays a later payout to it.
   */
  async accountHold(sellerId: string): Promise<{ payoutId: bigint; sellerId: string; endToEndId: string; reason: string | null } | null> {
    const hold = (await this.#store.sellersReturned(sellerId)).get(sellerId);
    return hold === undefined ? null : { payoutId: hold.payoutId, sellerId: hold.sellerId, endToEndId: hold.endToEndId, reason: hold.reason };
  }

  /** Back to the vault rail. Payouts already instructed go on to their end. */
  async removeAccount(sellerId: string): Promise<void> {
    if (!(await this.#store.removeAccount(sellerId))) {
      await this.#seller(sellerId);
      throw PayoutErrors.bankAccountNotFound(`seller ${sellerId} has no bank account`);
    }
  }

  /** The sellers the vault pays: every seller without a bank account. */
  async vaultSellers(all: readonly Seller[]): Promise<Seller[]> {
    const bank = new Set((await this.#store.accounts()).map((a) => a.sellerId));
    return all.filter((s) => !bank.has(s.id));
  }

  /**
   * One planning run: reserves, one pain.001 in the outbox. ENT_PAYOUT_PLANNER_BUSY while another
   * process plans; ENT_PAYOUT_PLANNER_LEASE_LOST when this run's lease ended under it (../run-lease.ts).
   */
  async run(by: string): Promise<BankRunResult> {
    return this.#plan.run(async () => {
      const lease = await RunLease.take({ store: this.#o.leases, lease: LEASE, holder: this.#o.owner, ttlMs: this.#o.leaseMs ?? BANK_RUN_LEASE_MS, log: this.#o.log });
      try {
        return await this.#run(by, lease);
      } finally {
        await lease.release();
      }
    });
  }

  async #run(by: string, lease: RunLease): Promise<BankRunResult> {
    const store = this.#store;
    const skipped: BankSkip[] = [];
    const hook = (step: "planned" | "filing", context: { payoutId?: bigint }) => this.#o.hooks?.at?.(step, context);
    // A crash may have left planned rows without their reserve: post them before reading balances,
    // then hold them to what this run holds its sellers to (an older version may have planned them).
    await this.#reserve(await store.planned(), skipped, lease);
    await this.#screen(await store.planned(), skipped, lease);
    this.#tag ??= await store.installationTag();
    const tag = this.#tag;
    const inFlight = await store.sellersInFlight();
    const { sellers, accounts, shared, returned } = await this.#holdContext();
    for (const a of accounts) {
      const s = sellers.get(a.sellerId);
      if (s === undefined) {
        skipped.push({ sellerId: a.sellerId, reason: "no_seller" });
        continue;
      }
      if (inFlight.has(s.id)) {
        skipped.push({ sellerId: s.id, reason: "in_flight", detail: "a payout is planned or instructed and not confirmed yet" });
        continue;
      }
      const held = holdOf(s.id, a, { shared, returned });
      if (held !== null) {
        skipped.push(held);
        continue;
      }
      const available = await availableBalance(this.#o.ledger, s.id, s.payoutCurrency);
      if (available === null) {
        skipped.push({ sellerId: s.id, reason: "no_account" });
        continue;
      }
      if (available < this.#o.minAmount) {
        skipped.push({ sellerId: s.id, reason: "below_minimum", detail: `${available} < ${this.#o.minAmount} ${s.payoutCurrency}` });
        continue;
      }
      const account = accountRef(a);
      const p = await store.insertPlanned(
        { sellerId: s.id, currency: s.payoutCurrency, amount: available, account, createdBy: by, tag },
        (id, endToEndId) => requestToJson(reserveRequest({ id, sellerId: s.id, currency: s.payoutCurrency, amount: available, endToEndId })),
        (tx) => lease.verify(tx),
      );
      if (p === null) {
        skipped.push({ sellerId: s.id, reason: "in_flight", detail: "another planner instructed this seller meanwhile" });
        continue;
      }
      await hook("planned", { payoutId: p.id });
      await this.#reserve([p], skipped, lease);
    }
    await hook("filing", {});
    const file = await this.#file(by, lease, skipped);
    await this.writeFiles();
    const payouts = file === null ? [] : await store.list({ fileId: file.id, limit: 10_000 });
    return { file: file === null ? null : ((await store.file(file.id)) ?? file), payouts: payouts.reverse(), skipped };
  }

  /**
   * What a run left planned when it died or lost its lease (another instance's, or this one's before
   * a restart, or an older version's): reserved, held to what a run holds its seller to now
   * (`#screen`), and filed, no other seller planned, under the lease (skipped while a run holds it). The worker's tick calls it, so such payouts go out without waiting for an operator's
   * next run.
   */
  async resumeInterrupted(): Promise<BankFile | null> {
    if ((await this.#store.planned()).length === 0) return null;
    let lease: RunLease;
    try {
      lease = await RunLease.take({ store: this.#o.leases, lease: LEASE, holder: this.#o.owner, ttlMs: this.#o.leaseMs ?? BANK_RUN_LEASE_MS, log: this.#o.log });
    } catch (e) {
      if (isAppError(e) && e.code === PayoutErrors.plannerBusy.code) return null;
      throw e;
    }
    try {
      const skipped: BankSkip[] = [];
      await this.#reserve(await this.#store.planned(), skipped, lease);
      const file = await this.#file("worker (an interrupted run resumed)", lease, skipped);
      for (const x of skipped) this.#o.log?.warn({ sellerId: x.sellerId, reason: x.reason, detail: x.detail }, "bank payout of an interrupted run not resumed");
      if (file !== null) this.#o.log?.info({ fileId: file.id, count: file.count }, "bank payouts planned by an interrupted run filed");
      return file;
    } finally {
      await lease.release();
    }
  }

  /**
   * The reserved planned payouts in one pain.001, recorded with their move to `instructed` (fenced);
   * null when none. Each is held first to what a run holds its seller to now (`#screen`): whoever
   * planned it, the account may have been replaced, shared or returned from since.
   */
  async #file(by: string, lease: RunLease, skipped: BankSkip[]): Promise<BankFile | null> {
    const store = this.#store;
    const tag = (this.#tag ??= await store.installationTag());
    const ready = await this.#screen((await store.planned()).filter((p) => p.pendingTxId !== null), skipped, lease);
    let file: BankFile | null = null;
    if (ready.length > 0) {
      const now = this.#now();
      const day = now.toISOString().slice(0, 10);
      const prefix = bankFilePrefix(tag, day);
      const messageId = `${prefix}${(await store.fileCount(prefix)) + 1}`;
      const { xml, controlSum } = pain001({
        messageId,
        createdAt: now,
        debtor: this.#o.debtor,
        executionDate: day,
        transfers: ready.map((p) => ({ endToEndId: p.endToEndId, currency: p.currency, amount: p.amount, creditor: p.account, remittance: `Entrepot payout ${p.endToEndId} seller ${p.sellerId}` })),
        ...(this.#o.instruction === undefined ? {} : { instruction: this.#o.instruction }),
      });
      file = await store.insertFile({ id: messageId, count: ready.length, ctrlSum: controlSum, xml, createdBy: by }, ready.map((p) => p.id), (tx) => lease.verify(tx));
      this.#o.log?.info({ fileId: file.id, count: file.count, ctrlSum: file.ctrlSum }, "bank payout file recorded");
    }
    return file;
  }

  /** What every path that pays a seller holds it to, as of now: the sellers, the accounts on file, the shared ones, the held ones. */
  async #holdContext(): Promise<HoldContext & { sellers: Map<string, Seller>; accounts: BankAccount[] }> {
    const returned = await this.#store.sellersReturned();
    const sellers = new Map((await this.#o.sellers.listSellers()).map((s) => [s.id, s]));
    const accounts = await this.#store.accounts();
    return { sellers, accounts, shared: sharedAccounts(accounts), returned };
  }

  /**
   * The planned payouts that may be filed, of `payouts` (reserved ones): each held to what a run
   * holds its seller to now (`holdOf`), since it may have been planned by an older version that did
   * not (an interrupted run resumed by the worker or the next run), or before the seller's account
   * was replaced, removed, shared or returned from: the seller must still exist and its account on
   * file must be the one the payout was planned to (`account_changed`), that account neither shared
   * nor held, and the payout's own copy of it must carry the address the pain.001 writes. One that
   * fails is not filed: its reserve is voided (the key a return's void uses) and the payout is
   * `rejected` while planned, as a reserve the ledger refused is: never instructed, so it holds no
   * account and announces nothing; the seller's money is back in its available balance, and the
   * next run pays it or skips it for the same reason. (`cancelled` is an instructed payout an
   * operator cancelled: the schema ties it to a file.) A reserve found voided already (a screen
   * interrupted before the payout was marked) is never filed either.
   */
  async #screen(payouts: readonly BankPayout[], skipped: BankSkip[], lease: RunLease): Promise<BankPayout[]> {
    const reserved = payouts.filter((p) => p.pendingTxId !== null);
    if (reserved.length === 0) return [];
    const ctx = await this.#holdContext();
    const reserves = await this.#o.ledger.getTransactions(reserved.map((p) => p.pendingTxId!));
    const ready: BankPayout[] = [];
    for (const p of reserved) {
      const s = ctx.sellers.get(p.sellerId);
      const a = ctx.accounts.find((x) => x.sellerId === p.sellerId);
      let why: BankSkip | null;
      if (reserves.get(p.pendingTxId!)?.status !== "pending") why = { sellerId: p.sellerId, reason: "reserve_refused", detail: "its reserve is no longer pending (released before it was filed)" };
      else if (s === undefined) why = { sellerId: p.sellerId, reason: "no_seller" };
      else if (a === undefined || !sameBankAccount(p.account, a)) {
        why = {
          sellerId: p.sellerId,
          reason: "account_changed",
          detail: `planned to account ${p.account.iban ?? p.account.accountNumber ?? "?"}, which is no longer the seller's account on file (${a === undefined ? "removed" : "another one set"} since): the next run pays the account on file`,
        };
      } else why = holdOf(p.sellerId, { ...a, address: p.account.address }, ctx);
      if (why === null) {
        ready.push(p);
        continue;
      }
      lease.check();
      const voidTx = (await this.#o.ledger.voidPending(p.pendingTxId!, bankLedgerKeys.void(p.id))).transaction.id;
      const reason = `not filed: ${why.reason}${why.detail === undefined ? "" : ` (${why.detail})`}`;
      if (!(await this.#store.markRejected(p.id, voidTx, reason))) throw new Error(`bank payout ${p.id}: its reserve was voided but it was no longer planned`);
      this.#o.log?.warn({ payoutId: p.id.toString(), endToEndId: p.endToEndId, sellerId: p.sellerId, reason: why.reason, voidTxId: voidTx }, "planned bank payout not filed: its reserve released");
      skipped.push({ ...why, detail: `planned payout ${p.endToEndId} not filed, its reserve released: ${why.detail ?? why.reason}` });
    }
    return ready;
  }

  /**
   * Posts the stored reserve of each payout without one; a refusal rejects the payout (nothing was
   * instructed). Not in a fenced transaction: a run that lost its lease stops here by its deadline,
   * and a reserve posted by two runs is one (its ledger key, the same stored request).
   */
  async #reserve(payouts: readonly BankPayout[], skipped: BankSkip[], lease: RunLease): Promise<void> {
    const todo = payouts.filter((p) => p.pendingTxId === null);
    if (todo.length === 0) return;
    lease.check();
    const results = await this.#o.ledger.postBatch(todo.map((p) => requestFromJson(p.reserveRequest)));
    for (const [i, r] of results.entries()) {
      const p = todo[i]!;
      if (r.status === "error") {
        await this.#store.markRejected(p.id, null, `reserve refused by the ledger: ${r.error.code}`);
        skipped.push({ sellerId: p.sellerId, reason: "reserve_refused", detail: `${r.error.code}: ${r.error.message}` });
        continue;
      }
      await this.#store.setPendingTx(p.id, r.transaction.id);
      p.pendingTxId = r.transaction.id;
    }
  }

  /**
   * Writes every recorded file not yet in the outbox (a temporary name of this writer's own, then
   * rename). A run answered through the API and the worker's tick (or two instances sharing the
   * outbox) may write the same file at once: each writes its own temporary file and renames it over
   * the same name, the same bytes, so neither fails on the other's rename.
   */
  async writeFiles(): Promise<string[]> {
    const written: string[] = [];
    const files = await this.#store.unwrittenFiles();
    if (files.length === 0) return written;
    await mkdir(this.#o.outbox, { recursive: true });
    for (const f of files) {
      const path = join(this.#o.outbox, `${f.id}.xml`);
      const partial = `${path}.${process.pid}-${randomUUID()}.partial`;
      try {
        await writeFile(partial, f.xml, "utf8");
        await rename(partial, path);
      } catch (e) {
        await rm(partial, { force: true });
        throw e;
      }
      await this.#store.markWritten(f.id);
      written.push(path);
    }
    return written;
  }

  /**
   * Applies a camt.054: its text, or its bytes (decoded as their BOM, XML declaration or `charset`
   * say). ENT_PAYOUT_BANK_STATEMENT_INVALID if it is not one, ENT_PAYOUT_BANK_NOTIFICATION_ACCOUNT
   * if it is for another account than the platform's (nothing of it applied). Each entry not applied
   * is recorded as an exception (`by`: who sent it) and logged at warn.
   */
  async confirm(xml: string | Uint8Array, options: { charset?: string; by?: string } = {}): Promise<{ messageId: string; version: string; results: ConfirmationResult[] }> {
    let doc;
    try {
      doc = readCamt054(xml, options.charset === undefined ? {} : { charset: options.charset });
    } catch (e) {
      if (e instanceof BankMessageError) throw PayoutErrors.bankStatementInvalid(e.message);
      throw e;
    }
    // Max35Text in the schema: what the exceptions are keyed and matched by.
    if (doc.messageId === "" || doc.messageId.length > 35) throw PayoutErrors.bankStatementInvalid("GrpHdr/MsgId must be 1 to 35 characters", { fields: [{ field: "GrpHdr/MsgId", message: "1 to 35 characters" }] });
    const long = doc.entries.findIndex((e) => e.endToEndId !== null && e.endToEndId.length > 35);
    if (long >= 0) throw PayoutErrors.bankStatementInvalid(`entry ${long + 1}: EndToEndId is longer than 35 characters`, { fields: [{ field: "TxDtls/Refs/EndToEndId", message: "at most 35 characters" }] });
    const account = accountRefusal(doc.accounts, this.#o.debtor);
    if (account !== null) throw PayoutErrors.bankNotificationAccount(`${account.message}: nothing of it was applied`, { fields: [{ field: account.field, message: account.message }] });
    const by = options.by ?? "api";
    return this.#confirm.run(async () => {
      const results: ConfirmationResult[] = [];
      for (const [i, entry] of doc.entries.entries()) {
        const decision = await this.#apply(entry);
        results.push(await this.#report(decision, entry, { key: `${doc.messageId}#${i + 1}`, messageId: doc.messageId, by }));
      }
      const count = (o: ConfirmationOutcome) => results.filter((r) => r.outcome === o).length;
      const exceptions = results.filter((r) => r.exceptionId !== undefined).length;
      this.#o.log?.info({ messageId: doc.messageId, by, entries: results.length, final: count("final"), rejected: count("rejected"), returned: count("returned"), exceptions }, "bank notification applied");
      return { messageId: doc.messageId, version: doc.version, results };
    });
  }

  /** The entry's result; an entry not applied recorded (once per notification entry) and logged. */
  async #report(d: Decision, entry: BankEntry, source: { key: string; messageId: string | null; by: string }): Promise<ConfirmationResult> {
    const result: ConfirmationResult = {
      endToEndId: entry.endToEndId,
      payoutId: d.payout?.id.toString() ?? null,
      outcome: d.outcome,
      ...(d.code === undefined ? {} : { code: d.code }),
      ...(d.detail === undefined ? {} : { detail: d.detail }),
      entry: entryView(entry),
    };
    if (!NOT_APPLIED.has(d.outcome) || d.code === undefined) return result;
    const x = await this.#record({ key: source.key, messageId: source.messageId, payout: d.payout, endToEndId: entry.endToEndId, outcome: d.outcome as BankExceptionOutcome, code: d.code, detail: d.detail ?? d.code, entry: result.entry, by: source.by });
    return { ...result, exceptionId: x.id.toString() };
  }

  async #record(x: { key: string; messageId: string | null; payout: BankPayout | null; endToEndId: string | null; outcome: BankExceptionOutcome; code: BankExceptionCode; detail: string; entry: BankExceptionEntry | null; by: string }): Promise<BankException> {
    const { exception, created } = await this.#exceptions.record({
      key: x.key,
      messageId: x.messageId,
      payoutId: x.payout?.id ?? null,
      endToEndId: x.endToEndId,
      outcome: x.outcome,
      code: x.code,
      detail: x.detail,
      entry: x.entry,
      receivedBy: x.by.slice(0, 200),
    });
    if (created) {
      this.#o.log?.warn(
        { exceptionId: exception.id.toString(), messageId: x.messageId, endToEndId: x.endToEndId, payoutId: x.payout?.id.toString() ?? null, outcome: x.outcome, code: x.code, detail: x.detail, by: x.by },
        "bank notification entry not applied: recorded for an operator (GET /v1/payouts/bank/exceptions)",
      );
    }
    return exception;
  }

  async #apply(entry: BankEntry): Promise<Decision> {
    const p = entry.endToEndId === null ? null : await this.#store.byEndToEndId(entry.endToEndId);
    if (p === null) {
      return entry.endToEndId === null
        ? refused("unmatched", null, { code: "no_end_to_end_id", detail: "no EndToEndId: not a transfer of the bank rail" })
        : refused("unmatched", null, { code: "unknown_end_to_end_id", detail: "no bank payout has this EndToEndId" });
    }
    // A pending or informational entry moves nothing yet: its booked entry follows.
    if (entry.status !== "BOOK") return { outcome: "not_booked", payout: p, detail: `entry status ${entry.status}` };
    const kind = entryKind(entry);
    if (typeof kind !== "string") return refused("mismatch", p, kind);
    return kind === "return" ? this.#return(p, entry) : this.#debit(p, entry);
  }

  /** A debit or return that is not the instruction in full, or null (matching.ts). */
  /**
   * Null when the entry is the instruction in full (matching.ts). A converted one must also be near
   * its value: a return of a payout the bank debited, near that debit (the bank converts back at its
   * own rate; itemised charges count), anything else near the P's booked rate. Never the position
   * alone for a return after final: it may be flat by then, and a 10.00 USD credit would have given
   * the seller all its CNY back.
   */
  async #notTheInstruction(p: BankPayout, entry: BankEntry): Promise<Refusal | null> {
    const accountCurrency = this.#o.debtor.accountCurrency;
    const wrong = instructionMismatch(entry, p, accountCurrency);
    if (wrong !== null || entry.currency === p.currency) return wrong;
    if (entryKind(entry) === "return" && p.settledCurrency === entry.currency && p.settledAmount !== null) {
      const charges = returnCharges(entry, accountCurrency);
      return rateMismatch(entry, p, p.settledAmount, MAX_RATE_DEVIATION_BPS, { charges: typeof charges === "bigint" ? charges : 0n, basis: "the bank debited for it" });
    }
    const reference = await this.#reference(p.currency, entry.currency, p.amount, entry.bookingDate, await this.#position(p.currency, entry.currency));
    if (reference === null) return noReference(entry, p);
    return rateMismatch(entry, p, reference.value, MAX_RATE_DEVIATION_BPS, reference.basis === undefined ? {} : { basis: reference.basis });
  }

  /**
   * What `amount` P is worth in `usd`, to hold a converted entry's rate against: at the position's
   * average booked rate (`bookedValue`), else, when the position holds no P owed to value it by (the
   * gateway's unpaid P larger than what sellers are owed), at the published mid rate in force at
   * the entry's booking date (its BookgDt/Dt at 00:00 UTC, or its DtTm; now without one), as a
   * remittance's rate is checked. Null with neither: the entry is not booked (`noReference`).
   */
  async #reference(currency: string, usd: string, amount: bigint, bookingDate: string | null, position: Position): Promise<{ value: bigint; basis?: string } | null> {
    const booked = bookedValue(amount, position);
    if (booked !== null) return { value: booked };
    const rates = this.#o.rates;
    if (rates === undefined) return null;
    const at = bookingDate === null ? this.#now() : new Date(/^\d{4}-\d{2}-\d{2}$/.test(bookingDate) ? `${bookingDate}T00:00:00.000Z` : bookingDate);
    if (Number.isNaN(at.getTime())) return null;
    const mid = await rates.latestRate(currency, usd, at).catch(() => null);
    if (mid === null) return null;
    return { value: convertMinor(amount, currency, usd, mid.rate, "half-even"), basis: `it is worth at the published mid rate ${mid.rate} of ${bookingDate ?? at.toISOString()} (no ${currency} owed in the position to value it by)` };
  }

  async #return(p: BankPayout, entry: BankEntry): Promise<Decision> {
    if (p.status === "rejected") return { outcome: "already_rejected", payout: p };
    if (p.status === "returned") {
      // The return booked again is already returned; another entry of the bank (another
      // AcctSvcrRef) is a second credit, whatever its amount, as a second debit is (#debit).
      const booked = await this.#bookedReference(p.returnTxId);
      const anotherEntry = booked !== null && entry.bankReference !== null && booked !== entry.bankReference;
      if (!anotherEntry && p.returned !== null && p.returned.currency === entry.currency && p.returned.amount === entry.amount) return { outcome: "already_returned", payout: p };
      const back = p.returned === null ? "" : ` (${major(p.returned.amount, p.returned.currency)} was${booked === null ? "" : `, bank entry ${booked}`})`;
      return refused("exception", p, { code: "returned_after_final", detail: `credited ${major(entry.amount, entry.currency)} for a payout already returned${back}: a second return is the bank's to explain; nothing is booked` });
    }
    if (p.status === "planned") return refused("exception", p, { code: "returned_not_instructed", detail: "returned, but the payout is in no pain.001 yet: nothing was instructed" });
    if (p.status === "cancelled") {
      return refused("exception", p, { code: "returned_not_instructed", detail: `credited ${major(entry.amount, entry.currency)}, but the payout was cancelled (${p.reason ?? "by an operator"}): its reserve is back with the seller; nothing is booked, the bank's to explain` });
    }
    if (p.status === "partially_paid") {
      return refused("exception", p, {
        code: "returned_after_final",
        detail: `credited ${major(entry.amount, entry.currency)} after the payout was partly paid (${p.paidAmount === null ? "?" : major(p.paidAmount, p.currency)} of ${major(p.amount, p.currency)}): nothing is booked; a return of the part paid is an operator's to book (resolution action book_return)`,
      });
    }
    const wrong = await this.#notTheInstruction(p, entry);
    if (p.status === "final" && wrong !== null) {
      return refused("exception", p, { code: "returned_after_final", detail: `credited after the payout was booked final, but not its full return (${wrong.detail}): nothing is booked; the bank's to explain` });
    }
    if (wrong !== null) return refused(wrong.code === "no_reference_rate" ? "exception" : "mismatch", p, wrong);
    const taken = returnCharges(entry, this.#o.debtor.accountCurrency);
    // The instruction in full (checked just above), so the charges are a sum, never a refusal.
    const charges: ReturnCharges | null = typeof taken === "bigint" && taken > 0n ? { currency: entry.currency, amount: taken } : null;
    const reason = returnReason(entry, p.status === "final", charges);
    if (p.status === "final") return this.#returnFinal(p, entry, charges, reason);
    if (p.commitTxId !== null) return this.#returnCommitted(p, entry, reason, charges);
    let voidTx: string | null = null;
    if (p.pendingTxId !== null) voidTx = (await this.#o.ledger.voidPending(p.pendingTxId, bankLedgerKeys.void(p.id))).transaction.id;
    // The bank debited the transfer and credited it back less its charges: the cash it kept.
    if (charges !== null) await this.#o.ledger.post(returnChargesRequest(p, charges, reason));
    await this.#store.markRejected(p.id, voidTx, reason);
    return { outcome: "rejected", payout: p, detail: reason };
  }

  /**
   * A full return of a payout booked final: a correcting transaction of its own (the cash booking
   * stays), under `bankpayout:<id>:returned`, so the same return again (a crash before the payout
   * was marked, another process) posts nothing new, and a different one is refused by the ledger.
   */
  async #returnFinal(p: BankPayout, entry: BankEntry, charges: ReturnCharges | null, reason: string): Promise<Decision> {
    let txId: string;
    try {
      txId = (await this.#o.ledger.post(returnedRequest(p, { currency: entry.currency, amount: entry.amount, bookingDate: entry.bookingDate, bankReference: entry.bankReference }, charges, reason))).transaction.id;
    } catch (e) {
      if (!isAppError(e) || e.code !== LedgerErrors.idempotencyConflict.code) throw e;
      // Another return of this payout was booked first (another process, or a crash before it was marked).
      const [tx] = (await this.#o.ledger.listTransactions({ metadata: { kind: "bank_payout_returned", bankPayoutId: p.id.toString() }, limit: 1 })).items;
      const [currency, amount] = [tx?.metadata["creditedCurrency"], tx?.metadata["creditedAmount"]];
      if (tx !== undefined && currency !== undefined && amount !== undefined) await this.#store.markReturned(p.id, tx.id, tx.metadata["reason"] ?? reason, { currency, amount: BigInt(amount) });
      return refused("exception", p, { code: "returned_after_final", detail: "another return of this payout was booked already: a second return is the bank's to explain" });
    }
    await this.#store.markReturned(p.id, txId, reason, { currency: entry.currency, amount: entry.amount });
    this.#o.log?.info({ payoutId: p.id.toString(), endToEndId: p.endToEndId, txId, reason }, "bank payout returned after final: booked back to the seller");
    return { outcome: "returned", payout: p, detail: reason };
  }

  /**
   * The return of a payout whose reserve was committed for a debit that never booked: the reserve
   * cannot be voided, so the return is booked back to the seller, under the cash booking's key (the
   * ledger lets one of the two post; if the cash booking did, the payout is final and this return
   * came after it).
   */
  async #returnCommitted(p: BankPayout, entry: BankEntry, reason: string, charges: ReturnCharges | null): Promise<Decision> {
    let txId: string;
    try {
      txId = (await this.#o.ledger.post(returnRequest(p, reason, charges))).transaction.id;
    } catch (e) {
      if (!isAppError(e) || e.code !== LedgerErrors.idempotencyConflict.code) throw e;
      // The bank's debit was booked first: this is a return after final.
      const now = await this.#settleFromLedger(p);
      if (now === "final") return this.#returnFinal(p, entry, charges, returnReason(entry, true, charges));
      if (now === "partially_paid") return refused("exception", p, { code: "returned_after_final", detail: "credited after the payout was settled as partly paid: nothing is booked; a return of the part paid is an operator's to book" });
      return { outcome: "already_rejected", payout: p };
    }
    await this.#store.markRejected(p.id, txId, reason);
    await this.#exceptions.resolveOpen(p.id, ["cash_refused", "cash_cleared"], `the bank returned the transfer (${reason}): no cash was booked, the reserve went back to the seller in journal transaction ${txId}`, txId);
    return { outcome: "rejected", payout: p, detail: reason };
  }

  async #debit(p: BankPayout, entry: BankEntry): Promise<Decision> {
    // A payout returned after final had its debit booked first (its cash transaction): that debit
    // sent again is as booked as a final payout's.
    if (p.status === "final" || p.status === "partially_paid" || (p.status === "returned" && p.cashTxId !== null)) {
      // The debit booked again (the same notification, or the bank sending the same entry anew) is
      // already final. Another entry of the bank (another AcctSvcrRef) is a second debit of the
      // account, whatever its amount: the bank's to explain. Without a reference on either side (a
      // bank that sends none, a debit booked before the reference was kept) the amount is all there
      // is to tell them by.
      const booked = await this.#bookedReference(p.cashTxId);
      const anotherEntry = booked !== null && entry.bankReference !== null && booked !== entry.bankReference;
      const partly = p.status === "partially_paid";
      if (!anotherEntry && p.settledCurrency === entry.currency && p.settledAmount === entry.amount) return { outcome: partly ? "already_partially_paid" : "already_final", payout: p };
      const [entryRef, bookedRef] = anotherEntry ? [` (bank entry ${entry.bankReference})`, ` (bank entry ${booked})`] : ["", ""];
      return refused("exception", p, {
        code: "debited_again",
        detail: `debited ${major(entry.amount, entry.currency)}${entryRef}, but the payout was booked ${partly ? "partly paid" : "final"} with the bank's debit of ${p.settledAmount === null || p.settledCurrency === null ? "?" : major(p.settledAmount, p.settledCurrency)}${bookedRef}: a second debit is the bank's to explain`,
      });
    }
    if (p.status !== "instructed") {
      return refused("exception", p, { code: "debited_not_instructed", detail: `booked by the bank while ${p.status}${p.reason === null ? "" : ` (${p.reason})`}: nothing is booked; the bank's to explain, or an operator's to book` });
    }
    const wrong = await this.#notTheInstruction(p, entry);
    if (wrong !== null) return refused(wrong.code === "no_reference_rate" ? "exception" : "mismatch", p, wrong);
    return this.#book(p, entry);
  }

  async #book(p: BankPayout, entry: BankEntry): Promise<Decision> {
    const ledger = this.#o.ledger;
    if (p.commitTxId === null) {
      const committed = await ledger.commitPending(p.pendingTxId!, bankLedgerKeys.commit(p.id));
      await this.#store.setCommitTx(p.id, committed.transaction.id);
    }
    const settled = { currency: entry.currency, amount: entry.amount };
    const computed = async () => {
      const position = entry.currency === p.currency ? null : await this.#position(p.currency, entry.currency);
      const mid = entry.currency === p.currency ? undefined : await this.#mid(p.currency, entry.currency);
      return requestToJson(cashRequest({ ...p, settledCurrency: entry.currency, settled: entry.amount, bookingDate: entry.bookingDate, bankReference: entry.bankReference }, position, mid));
    };
    let stored = p.cashRequest;
    let replaced: string | null = null;
    if (stored === null) stored = await this.#store.setCashRequest(p.id, await computed(), settled);
    else if (p.settledCurrency !== settled.currency || p.settledAmount !== settled.amount) {
      // The bank's debit differs from the one stored, which never booked (else the payout would be
      // final): the bank's later word is booked (the ledger key still lets only one post).
      replaced = `${p.settledAmount} ${p.settledCurrency}`;
      stored = (await this.#store.replaceCashRequest(p.id, await computed(), settled)) ?? stored;
    }
    try {
      const cash = await ledger.post(requestFromJson(stored));
      await this.#store.markFinal(p.id, cash.transaction.id);
      await this.#exceptions.resolveOpen(p.id, ["cash_refused"], `booked in journal transaction ${cash.transaction.id}${replaced === null ? "" : ` from the bank's debit of ${entry.amount} ${entry.currency}, which replaced the one of ${replaced}`}`, cash.transaction.id);
      return { outcome: "final", payout: p, ...(replaced === null ? {} : { detail: `replaces the bank's earlier debit of ${replaced}, which never booked` }) };
    } catch (e) {
      if (!isAppError(e)) throw e;
      if (e.code === LedgerErrors.idempotencyConflict.code) {
        // Another process settled it first: with this debit's twin, or with the bank's return.
        const now = await this.#settleFromLedger(p);
        if (now === "final") return { outcome: "already_final", payout: p };
        if (now === "rejected") return refused("exception", p, { code: "debited_not_instructed", detail: "booked by the bank after its return was booked back to the seller: nothing is booked" });
        if (now === "partially_paid") return refused("exception", p, { code: "debited_again", detail: "booked by the bank after the payout was settled as partly paid: a second debit is the bank's to explain" });
      }
      // e.g. the cash account would go below zero: the bank did pay, so the booking is retried on
      // every tick until it goes through; the payout stays instructed with the reason.
      await this.#store.setReason(p.id, `cash booking refused: ${e.code}: ${e.message}`);
      return refused("exception", p, { code: "cash_refused", detail: `cash booking refused (${e.code}: ${e.message}); retried on every tick` });
    }
  }

  /** The bank's entry (Ntry/AcctSvcrRef) a booking of the rail (the debit's cash booking, a return after final) booked, if it named one. */
  async #bookedReference(txId: string | null): Promise<string | null> {
    if (txId === null) return null;
    return (await this.#o.ledger.getTransaction(txId))?.metadata["bankReference"] ?? null;
  }

  /**
   * The payout as the ledger has it under the cash booking's key (another process, or a crash
   * between the posting and its record, got there first): marked final with the cash booking,
   * rejected with the return, or partially paid with an operator's settlement of a partial debit;
   * null when nothing is posted under it.
   */
  async #settleFromLedger(p: BankPayout): Promise<"final" | "rejected" | "partially_paid" | null> {
    for (const kind of ["bank_payout_cash", "bank_payout_return", "bank_payout_partial"] as const) {
      const [tx] = (await this.#o.ledger.listTransactions({ metadata: { kind, bankPayoutId: p.id.toString() }, limit: 1 })).items;
      if (tx === undefined) continue;
      if (kind === "bank_payout_return") {
        await this.#store.markRejected(p.id, tx.id, tx.metadata["reason"] ?? "returned by the bank");
        return "rejected";
      }
      if (kind === "bank_payout_partial") {
        const [currency, amount, paid] = [tx.metadata["settledCurrency"], tx.metadata["settledAmount"], tx.metadata["paidAmount"]];
        if (currency !== undefined && amount !== undefined && paid !== undefined) {
          await this.#store.markPartiallyPaid(p.id, tx.id, { currency, amount: BigInt(amount) }, BigInt(paid), partialReason(p, BigInt(paid)));
        }
        return "partially_paid";
      }
      const currency = tx.metadata["settledCurrency"];
      const amount = tx.metadata["settledAmount"];
      await this.#store.markFinal(p.id, tx.id, currency === undefined || amount === undefined ? undefined : { currency, amount: BigInt(amount) });
      await this.#exceptions.resolveOpen(p.id, ["cash_refused", "cash_cleared"], `booked in journal transaction ${tx.id}`, tx.id);
      return "final";
    }
    return null;
  }

  /**
   * The P->account-currency mid rate in force at the booking instant (now: the cash booking is
   * effective when posted), or why there is none. The request is stored before it posts, so a retry
   * books the same figures whatever is published later.
   */
  async #mid(currency: string, accountCurrency: string): Promise<MidRate> {
    const rates = this.#o.rates;
    if (rates === undefined) return { missing: "no rate source configured for the bank rail" };
    const at = this.#now();
    try {
      const r = await rates.latestRate(currency, accountCurrency, at);
      return { rate: r.rate, source: r.source, asOf: r.asOf };
    } catch (e) {
      if (!isAppError(e)) throw e;
      return { missing: `${e.code}: no ${currency}->${accountCurrency} mid rate in force at ${at.toISOString()}` };
    }
  }

  async #position(currency: string, usd: string): Promise<Position> {
    // The reserve committed just before is in the in-transit account, not in fx:P-USD: the position
    // still holds this payout's P.
    const clearing = Accounts.fxClearing(currency);
    return { p: await postedDebitBalance(this.#o.ledger, clearing, currency), usd: await postedDebitBalance(this.#o.ledger, clearing, usd) };
  }

  /**
   * Cash bookings a refusal left behind (the stored request), posted again. One that can never go
   * through (not a debit of the instruction in the account's currency: left by an earlier version)
   * is cleared and recorded, so the bank's correct debit, or its return, settles the payout.
   */
  async retryCash(): Promise<number> {
    let done = 0;
    for (const listed of await this.#store.list({ status: "instructed", limit: 1000 })) {
      if (listed.cashRequest === null || listed.cashTxId !== null || listed.commitTxId === null) continue;
      await this.#confirm.run(async () => {
        // Read again under the lock: a confirmation may have settled it since the list.
        const p = await this.#store.get(listed.id);
        if (p === null || p.status !== "instructed" || p.cashRequest === null || p.cashTxId !== null || p.settledCurrency === null || p.settledAmount === null) return;
        const settled = { currency: p.settledCurrency, amount: p.settledAmount };
        const never = instructionMismatch({ side: "debit", ...settled, instructed: settled.currency === p.currency ? null : { currency: p.currency, amount: p.amount } }, p, this.#o.debtor.accountCurrency);
        if (never !== null) {
          if ((await this.#settleFromLedger(p)) !== null) return;
          const detail = `cash booking cleared, it can never go through: ${never.detail}; waiting for the bank's debit in ${this.#o.debtor.accountCurrency} or its return`;
          if (await this.#store.clearCashRequest(p.id, settled, detail)) {
            await this.#record({ key: `cash_cleared:${p.id}:${settled.amount}${settled.currency}`, messageId: null, payout: p, endToEndId: p.endToEndId, outcome: "exception", code: "cash_cleared", detail, entry: null, by: "worker" });
          }
          return;
        }
        try {
          const cash = await this.#o.ledger.post(requestFromJson(p.cashRequest));
          if (await this.#store.markFinal(p.id, cash.transaction.id)) done++;
          await this.#exceptions.resolveOpen(p.id, ["cash_refused"], `booked on retry in journal transaction ${cash.transaction.id}`, cash.transaction.id);
        } catch (e) {
          if (!isAppError(e)) throw e;
          if (e.code === LedgerErrors.idempotencyConflict.code && (await this.#settleFromLedger(p)) === "final") done++;
        }
      });
    }
    return done;
  }

  /** Every `*.xml` in the inbox, applied, then moved to `processed/` (or `failed/` with the reason). */
  async processInbox(): Promise<InboxResult[]> {
    let names: string[];
    try {
      names = (await readdir(this.#o.inbox)).filter((n) => n.toLowerCase().endsWith(".xml")).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    const out: InboxResult[] = [];
    for (const name of names) {
      const path = join(this.#o.inbox, name);
      const stamp = this.#now().toISOString().replace(/[:.]/g, "-");
      try {
        const r = await this.confirm(await readFile(path), { by: `inbox:${name}` });
        await mkdir(join(this.#o.inbox, "processed"), { recursive: true });
        await rename(path, join(this.#o.inbox, "processed", `${stamp}-${name}`));
        const exceptions = r.results.filter((x) => x.exceptionId !== undefined).length;
        if (exceptions > 0) this.#o.log?.warn({ file: name, messageId: r.messageId, entries: r.results.length, exceptions }, "bank notification applied in part; the entries not applied are in GET /v1/payouts/bank/exceptions");
        out.push({ file: name, messageId: r.messageId, results: r.results, exceptions });
      } catch (e) {
        if (!isAppError(e) || (e.code !== PayoutErrors.bankStatementInvalid.code && e.code !== PayoutErrors.bankNotificationAccount.code)) throw e;
        await mkdir(join(this.#o.inbox, "failed"), { recursive: true });
        await rename(path, join(this.#o.inbox, "failed", `${stamp}-${name}`));
        await writeFile(join(this.#o.inbox, "failed", `${stamp}-${name}.error.txt`), `${e.code}: ${e.message}\n`, "utf8");
        this.#o.log?.warn({ file: name, code: e.code, err: e.message }, "bank notification refused; moved to failed/");
        out.push({ file: name, error: e.message });
      }
    }
    return out;
  }

  /** The worker's step: an interrupted run's payouts, files not yet in the outbox, refused cash bookings, the inbox. */
  async tick(): Promise<void> {
    await this.resumeInterrupted();
    await this.writeFiles();
    await this.retryCash();
    await this.processInbox();
  }

  /** Bank payouts per state and currency (the dashboard's figures). */
  summary(): Promise<Array<{ state: string; currency: string; count: number; amount: bigint }>> {
    return this.#store.summary();
  }

  /** For the period-close checklist: the payouts instructed in `period` still in transit. */
  inTransitIn(period: OpenPeriod, limit: number): Promise<OpenItems> {
    return this.#store.inTransitIn(period, limit);
  }

  /** For the period-close checklist: the open exceptions. */
  openExceptions(limit: number): Promise<OpenItems> {
    return this.#exceptions.openItems(limit);
  }

  async payouts(filter: { sellerId?: string; status?: BankPayoutStatus; fileId?: string; before?: bigint; limit?: number }): Promise<BankPayout[]> {
    return this.#store.list({ ...filter, limit: filter.limit ?? 50 });
  }

  async payout(id: bigint): Promise<BankPayout> {
    const p = await this.#store.get(id);
    if (p === null) throw PayoutErrors.notFound(`bank payout ${id} does not exist`);
    return p;
  }

  /** A payout with the exceptions recorded for it, oldest first. */
  async payoutWithExceptions(id: bigint): Promise<{ payout: BankPayout; exceptions: BankException[] }> {
    const payout = await this.payout(id);
    return { payout, exceptions: await this.#exceptions.ofPayout(id) };
  }

  /** The exception queue, newest first, and how many are open. */
  async exceptions(filter: { status?: "open" | "resolved"; payoutId?: bigint; before?: bigint; limit?: number }): Promise<{ items: BankException[]; open: number }> {
    return this.#exceptions.list({ ...filter, limit: filter.limit ?? 100 });
  }

  async exception(id: bigint): Promise<BankException> {
    const x = await this.#exceptions.get(id);
    if (x === null) throw exceptionNotFound(id);
    return x;
  }

  /**
   * Resolves an exception once with a note, naming what settled it when the resolver gives it: a
   * journal transaction (it must exist) and/or a cash statement entry (`cashEntryExists` checks it:
   * the cash queue is where an adjusting entry is booked). `exists` when it was resolved with the
   * same note and references (a retry), ENT_PAYOUT_BANK_EXCEPTION_CONFLICT with others,
   * ENT_PAYOUT_BANK_EXCEPTION_NOT_FOUND; a reference to nothing is ENT_PAYOUT_INVALID_REQUEST naming it.
   * `action` `book_partial_debit` settles it by what the bank did instead (`#settlePartial`): the
   * resolution then names the journal transaction the rail booked, never the resolver's.
   */
  async resolveException(
    id: bigint,
    input: { note: string; journalTransactionId?: string; cashEntry?: { statementId: string; index: number }; action?: ResolutionAction },
    by: string,
    cashEntryExists?: (statementId: bigint, index: number) => Promise<boolean>,
  ): Promise<{ status: "created" | "exists"; exception: BankException }> {
    if (input.action !== undefined) {
      if (input.journalTransactionId !== undefined || input.cashEntry !== undefined) {
        throw PayoutErrors.invalid("an action books its own journal transaction: give no journalTransactionId or cashEntry with it", {
          fields: [{ field: input.journalTransactionId !== undefined ? "journalTransactionId" : "cashEntry", message: "not with an action" }],
        });
      }
      return input.action === "book_return" ? this.#settleReturn(id, input.note, by) : this.#settlePartial(id, input.note, by);
    }
    const refs = { journalTransactionId: input.journalTransactionId ?? null, cashEntry: input.cashEntry ?? null };
    const same = (x: BankException) => {
      const r = x.resolution;
      return r !== null && r.note === input.note && r.journalTransactionId === refs.journalTransactionId && r.cashEntry?.statementId === refs.cashEntry?.statementId && r.cashEntry?.index === refs.cashEntry?.index;
    };
    const prior = await this.exception(id);
    if (prior.resolution === null) {
      const missing: Array<{ field: string; message: string }> = [];
      if (refs.journalTransactionId !== null && (await this.#o.ledger.getTransaction(refs.journalTransactionId)) === null) missing.push({ field: "journalTransactionId", message: `no journal transaction ${refs.journalTransactionId}` });
      if (refs.cashEntry !== null && !(await (cashEntryExists?.(BigInt(refs.cashEntry.statementId), refs.cashEntry.index) ?? Promise.resolve(false)))) {
        missing.push({ field: "cashEntry", message: `bank statement ${refs.cashEntry.statementId} has no entry ${refs.cashEntry.index}` });
      }
      if (missing.length > 0) throw PayoutErrors.invalid(`the resolution names what does not exist: ${missing.map((m) => m.message).join("; ")}`, { fields: missing });
    }
    const r = await this.#exceptions.resolve(id, input.note, refs, by);
    if (r === null) throw exceptionNotFound(id);
    if (r.resolved) {
      this.#o.log?.info({ exceptionId: id.toString(), by, journalTransactionId: refs.journalTransactionId, cashEntry: refs.cashEntry }, "bank notification exception resolved");
      return { status: "created", exception: r.exception };
    }
    if (same(r.exception)) return { status: "exists", exception: r.exception };
    throw PayoutErrors.bankExceptionConflict(`bank notification exception ${id} was resolved before by ${r.exception.resolution?.resolvedBy ?? "?"} with another note or references`, {
      fields: [{ field: "note", message: "the exception is resolved with another note or references" }],
    });
  }

  /**
   * Settles an `instructed_mismatch` exception by what the bank did: its booked debit named the
   * payout with an instructed amount (AmtDtls/InstdAmt; the amount itself when unconverted) above 0
   * and below the instruction, in the account's currency, converted near the part's booked value (as
   * a full debit must be): the bank executed part of it. Under the confirmations' lock: the reserve
   * is committed, then one journal transaction under the cash booking's key (`partialRequest`) books
   * the bank's debit for the part paid and gives the rest back to the seller's available balance; the
   * payout becomes `partially_paid` and the exception is resolved with the note, naming that
   * transaction. An exception resolved before by a note alone (nothing booked, the payout still
   * instructed) may still be settled so: its resolution keeps its note and resolver and names the
   * transaction; the request's note is in the transaction's metadata. Every step is idempotent, so
   * the same request again, or again after a crash anywhere, ends the same (`exists`). Refusals: ENT_PAYOUT_BANK_PARTIAL_NOT_APPLICABLE (not such an
   * entry), ENT_PAYOUT_BANK_PARTIAL_AMOUNT (nothing paid, or not below the instruction),
   * ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN (the payout is not instructed: at its outcome already),
   * ENT_PAYOUT_BANK_PAYOUT_DEBITED (another debit of the bank is recorded for it, its cash booking
   * waiting, or another booked debit, another bank entry, is reported for it in an exception, open
   * or resolved by a note), ENT_PAYOUT_BANK_EXCEPTION_CONFLICT (resolved before otherwise).
   */
  async #settlePartial(id: bigint, note: string, by: string): Promise<{ status: "created" | "exists"; exception: BankException }> {
    const ledger = this.#o.ledger;
    // This exception's settlement, once posted (a retry, or a crash before the payout or the
    // exception was marked), with the note it was made with.
    const settledHere = (payout: BankPayout) => (payout.status === "partially_paid" ? this.#bookedFor(id, payout.cashTxId) : Promise.resolve(null));
    return this.#settleByBank(id, note, by, settledHere, async (x, p) => {
      const notApplicable = (detail: string) => PayoutErrors.bankPartialNotApplicable(`exception ${id} cannot be settled as a partial debit: ${detail}`, { fields: [{ field: "action", message: detail }] });
      const e = x.entry;
      if (x.code !== "instructed_mismatch" || e === null) throw notApplicable(`its code is ${x.code}; only an instructed_mismatch debit (the bank executed part of the instruction) is`);
      if (e.side !== "debit" || e.reversal || e.returnReason !== null) throw notApplicable("the bank's entry is not a debit of the transfer");
      if (e.status !== "BOOK") throw notApplicable(`the bank's entry is ${e.status}, not booked`);
      if (p === null) throw notApplicable("it names no bank payout");
      let txId = (await settledHere(p))?.txId ?? null;
      if (txId === null) {
        if (p.status !== "instructed") {
          throw PayoutErrors.bankPayoutNotOpen(`bank payout ${p.id} is ${p.status}${p.reason === null ? "" : ` (${p.reason})`}: its outcome is booked, nothing is settled`, { details: { payoutId: p.id.toString(), status: p.status } });
        }
        if (p.cashRequest !== null || p.cashTxId !== null) {
          const debit = p.settledAmount === null || p.settledCurrency === null ? "a debit" : `the debit of ${major(p.settledAmount, p.settledCurrency)}`;
          throw PayoutErrors.bankPayoutDebited(`the bank's ${debit} is recorded for bank payout ${p.id}, its cash booking waiting: that debit settles it`, { details: { payoutId: p.id.toString(), status: p.status } });
        }
        const accountCurrency = this.#o.debtor.accountCurrency;
        if (e.currency !== accountCurrency) throw notApplicable(`debited ${e.amount} ${e.currency}: the platform's account is in ${accountCurrency}`);
        const debited = BigInt(e.amount);
        let paid: bigint;
        if (e.currency === p.currency) {
          // Unconverted, the amount debited is what was paid; an InstdAmt beside it of another amount
          // says the bank took charges from the debit, which are the bank's to explain.
          if (e.instructed !== null && (e.instructed.currency !== p.currency || BigInt(e.instructed.amount) !== debited)) {
            throw notApplicable(`debited ${major(debited, e.currency)} for an instructed ${major(BigInt(e.instructed.amount), e.instructed.currency)}: not a part paid`);
          }
          paid = debited;
        } else {
          if (e.instructed === null) throw notApplicable(`debited ${major(debited, e.currency)} without the ${p.currency} amount paid (AmtDtls/InstdAmt)`);
          if (e.instructed.currency !== p.currency) throw notApplicable(`the bank reports an instruction in ${e.instructed.currency}; the payout is in ${p.currency}`);
          paid = BigInt(e.instructed.amount);
        }
        if (paid <= 0n || paid >= p.amount) {
          const what = paid <= 0n ? "nothing" : paid === p.amount ? "the whole instruction (its debit is a full one, which a confirmation books)" : "more than was instructed";
          throw PayoutErrors.bankPartialAmount(`the bank reports ${major(paid, p.currency)} paid of an instruction of ${major(p.amount, p.currency)}: ${what}; only a part above 0 and below the instruction is settled as partly paid`, {
            fields: [{ field: "action", message: "the amount paid is not below the instructed amount" }],
            details: { instructed: { currency: p.currency, amount: p.amount.toString() }, paid: { currency: p.currency, amount: paid.toString() } },
          });
        }
        const position = e.currency === p.currency ? null : await this.#position(p.currency, e.currency);
        if (position !== null) {
          // Held against the part's booked value, else the published mid rate (never booked unchecked).
          const reference = await this.#reference(p.currency, e.currency, paid, e.bookingDate, position);
          if (reference === null) throw notApplicable(noReference({ side: "debit", currency: e.currency, amount: debited, bookingDate: e.bookingDate }, { currency: p.currency, amount: paid }).detail);
          const far = rateMismatch({ side: "debit", currency: e.currency, amount: debited }, { currency: p.currency, amount: paid }, reference.value, MAX_RATE_DEVIATION_BPS, reference.basis === undefined ? {} : { basis: reference.basis });
          if (far !== null) throw notApplicable(far.detail);
        }
        // Another booked debit of the bank reported for the payout (another entry, open or resolved
        // by a note): the rest given back on this one may be what that one paid, so nothing is settled.
        const others = (await this.#exceptions.ofPayout(p.id)).filter((y) => y.id !== id && bookedDebit(y) && !sameEntry(y.entry!, e));
        if (others.length > 0) {
          throw PayoutErrors.bankPayoutDebited(
            `the bank reported another booked debit for bank payout ${p.id} (exception ${others.map((y) => y.id).join(", ")}): giving the rest back to the seller could pay twice what that debit paid; the bank's to explain first`,
            { details: { payoutId: p.id.toString(), status: p.status } },
          );
        }
        if (p.commitTxId === null) {
          try {
            const committed = await ledger.commitPending(p.pendingTxId!, bankLedgerKeys.commit(p.id));
            await this.#store.setCommitTx(p.id, committed.transaction.id);
          } catch (err) {
            if (!isAppError(err) || err.code !== LedgerErrors.notPending.code) throw err;
            throw PayoutErrors.bankPayoutNotOpen(`bank payout ${p.id}'s reserve is no longer pending (another process booked its outcome): nothing is settled`, { details: { payoutId: p.id.toString(), status: p.status } });
          }
        }
        const mid = e.currency === p.currency ? undefined : await this.#mid(p.currency, e.currency);
        const request = partialRequest({ ...p, settledCurrency: e.currency, settled: debited, bookingDate: e.bookingDate, bankReference: e.bankReference }, paid, position, { exceptionId: id, note }, mid);
        try {
          txId = (await ledger.post(request)).transaction.id;
        } catch (err) {
          if (!isAppError(err) || err.code !== LedgerErrors.idempotencyConflict.code) throw err;
          // Something is posted under the cash booking's key: this settlement (computed before at
          // another position), or another process's full debit or return.
          await this.#settleFromLedger(p);
          const now = (await this.#store.get(p.id)) ?? p;
          txId = (await settledHere(now))?.txId ?? null;
          if (txId === null) throw PayoutErrors.bankPayoutNotOpen(`bank payout ${p.id} is ${now.status}: another outcome was booked first, nothing is settled`, { details: { payoutId: p.id.toString(), status: now.status } });
        }
        await this.#store.markPartiallyPaid(p.id, txId, { currency: e.currency, amount: debited }, paid, partialReason(p, paid));
        this.#o.log?.info({ payoutId: p.id.toString(), endToEndId: p.endToEndId, exceptionId: id.toString(), txId, paid: paid.toString(), unpaid: (p.amount - paid).toString(), by }, "bank payout partly paid by the bank: settled by an operator, the rest back to the seller");
      }
      return txId;
    });
  }

  /**
   * Settles a `returned_after_final` exception of a partially paid payout by what the bank did: its
   * booked credit (or reversal) gives back the part it paid (AmtDtls/InstdAmt: the payout's `paid`
   * in its currency; unconverted, the amount plus the itemised charges), in the account's currency,
   * converted within 10% of what the bank debited for that part (its charges counted), as a full
   * return after final must be. Booked as that return is (`returnedRequest` under
   * `bankpayout:<id>:returned`, so only one return of a payout ever posts): the cash the bank
   * credited, its itemised charges to `platform:expense:bank_charges`, the part paid back in the
   * seller's available balance (through fx:P-USD when converted); the payout becomes `returned`
   * (which holds its account, as any return does) and the exception is resolved naming the
   * transaction (a note-only resolution keeps its note and names it). Idempotent (`exists`).
   * Refusals: ENT_PAYOUT_BANK_PARTIAL_NOT_APPLICABLE (not such an entry, or not the part paid),
   * ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN (the payout is not partially paid), ENT_PAYOUT_BANK_EXCEPTION_CONFLICT.
   */
  async #settleReturn(id: bigint, note: string, by: string): Promise<{ status: "created" | "exists"; exception: BankException }> {
    const ledger = this.#o.ledger;
    const returnedHere = (payout: BankPayout) => (payout.status === "returned" ? this.#bookedFor(id, payout.returnTxId) : Promise.resolve(null));
    return this.#settleByBank(id, note, by, returnedHere, async (x, p) => {
      const notApplicable = (detail: string) => PayoutErrors.bankPartialNotApplicable(`exception ${id} cannot be booked as the return of the part paid: ${detail}`, { fields: [{ field: "action", message: detail }] });
      const e = x.entry;
      if (x.code !== "returned_after_final" || e === null) throw notApplicable(`its code is ${x.code}; only a returned_after_final credit of a partially paid payout is`);
      if (!(e.side === "credit" || e.reversal)) throw notApplicable("the bank's entry is not a credit or a reversal");
      if (e.status !== "BOOK") throw notApplicable(`the bank's entry is ${e.status}, not booked`);
      if (p === null) throw notApplicable("it names no bank payout");
      let txId = (await returnedHere(p))?.txId ?? null;
      if (txId === null) {
        if (p.status !== "partially_paid" || p.paidAmount === null || p.settledAmount === null || p.settledCurrency === null) {
          throw PayoutErrors.bankPayoutNotOpen(`bank payout ${p.id} is ${p.status}${p.reason === null ? "" : ` (${p.reason})`}: only the return of a partially paid payout's part paid is booked so`, { details: { payoutId: p.id.toString(), status: p.status } });
        }
        const accountCurrency = this.#o.debtor.accountCurrency;
        const entry = { side: "credit" as const, currency: e.currency, amount: BigInt(e.amount), reversal: e.reversal, instructed: e.instructed === null ? null : { currency: e.instructed.currency, amount: BigInt(e.instructed.amount) }, charges: [] };
        // The part paid is what was instructed of this return: the instruction checks hold against it.
        const part = { currency: p.currency, amount: p.paidAmount };
        const wrong = instructionMismatch(entry, part, accountCurrency);
        if (wrong !== null) throw notApplicable(wrong.detail);
        const credited = BigInt(e.amount);
        if (e.currency !== p.currency) {
          if (p.settledCurrency !== e.currency) throw notApplicable(`credited in ${e.currency}; the bank debited the part paid in ${p.settledCurrency}`);
          const far = rateMismatch({ side: "credit", currency: e.currency, amount: credited }, part, p.settledAmount, MAX_RATE_DEVIATION_BPS, { basis: "the bank debited for it" });
          if (far !== null) throw notApplicable(far.detail);
        }
        const reason = `the part paid (${major(p.paidAmount, p.currency)}) returned by the bank after it was partly paid${e.returnReason === null ? "" : ` (${returnReasonText(e.returnReason)})`}${e.reversal ? ", reversal" : ""}`;
        const request = returnedRequest({ ...p, amount: p.paidAmount }, { currency: e.currency, amount: credited, bookingDate: e.bookingDate, bankReference: e.bankReference }, null, reason);
        request.metadata = { ...request.metadata, exceptionId: id.toString(), note: note.slice(0, 200), returnedPart: p.paidAmount.toString() };
        try {
          txId = (await ledger.post(request)).transaction.id;
        } catch (err) {
          if (!isAppError(err) || err.code !== LedgerErrors.idempotencyConflict.code) throw err;
          const [tx] = (await ledger.listTransactions({ metadata: { kind: "bank_payout_returned", bankPayoutId: p.id.toString() }, limit: 1 })).items;
          if (tx === undefined || tx.metadata["exceptionId"] !== id.toString()) {
            throw PayoutErrors.bankPayoutNotOpen(`bank payout ${p.id}: another return of it was booked first, nothing is booked`, { details: { payoutId: p.id.toString(), status: p.status } });
          }
          txId = tx.id;
        }
        await this.#store.markReturned(p.id, txId, reason, { currency: e.currency, amount: credited });
        this.#o.log?.info({ payoutId: p.id.toString(), endToEndId: p.endToEndId, exceptionId: id.toString(), txId, by }, "bank payout's part paid returned by the bank: booked back to the seller by an operator");
      }
      return txId;
    });
  }

  /**
   * The frame of an operator's booking of what the bank did (`#settlePartial`, `#settleReturn`):
   * under the confirmations' lock, the exception and its payout. One resolved before by a booking
   * is answered `exists` when `bookedHere` finds this exception's own with the same note, else
   * refused; one resolved by a note alone booked nothing, so it may still be settled, and its
   * resolution (the note kept) then names the booking. `book` checks and books, and answers the
   * journal transaction.
   */
  async #settleByBank(
    id: bigint,
    note: string,
    by: string,
    bookedHere: (p: BankPayout) => Promise<{ txId: string; note: string | undefined } | null>,
    book: (x: BankException, p: BankPayout | null) => Promise<string>,
  ): Promise<{ status: "created" | "exists"; exception: BankException }> {
    return this.#confirm.run(async () => {
      const x = await this.exception(id);
      const p = x.payoutId === null ? null : await this.#store.get(x.payoutId);
      const r0 = x.resolution;
      const noteOnly = r0 !== null && r0.journalTransactionId === null && r0.cashEntry === null;
      if (r0 !== null && !noteOnly) {
        const here = p === null ? null : await bookedHere(p);
        if (here !== null && here.txId === r0.journalTransactionId && here.note === note.slice(0, 200)) return { status: "exists", exception: x };
        throw PayoutErrors.bankExceptionConflict(`bank notification exception ${id} was resolved before by ${r0.resolvedBy} ${r0.journalTransactionId === null ? "" : `(journal transaction ${r0.journalTransactionId}) `}with another note or action`, {
          fields: [{ field: "note", message: "the exception is resolved with another note or action" }],
        });
      }
      const txId = await book(x, p);
      if (noteOnly) {
        await this.#exceptions.attachTransaction(id, txId);
        return { status: "created", exception: await this.exception(id) };
      }
      const r = await this.#exceptions.resolve(id, note, { journalTransactionId: txId, cashEntry: null }, by);
      if (r === null) throw exceptionNotFound(id);
      return { status: "created", exception: r.exception };
    });
  }

  /** The journal transaction `txId` if exception `id` booked it (its metadata names it), with the note it was booked with. */
  async #bookedFor(id: bigint, txId: string | null): Promise<{ txId: string; note: string | undefined } | null> {
    if (txId === null) return null;
    const tx = await this.#o.ledger.getTransaction(txId);
    return tx?.metadata["exceptionId"] === id.toString() ? { txId, note: tx.metadata["note"] } : null;
  }

  /**
   * Cancels an instructed payout the bank never executed (it refused the transfer by phone, say):
   * under the confirmations' lock, the reserve is voided (under the key a return's void uses, so
   * only one voids it) and the payout is `cancelled` with the note. The same note again from the
   * same resolver answers `exists`. Refused: ENT_PAYOUT_BANK_PAYOUT_DEBITED once a debit of the bank
   * is booked (the reserve committed, a cash booking stored) or reported for it (an exception naming
   * a booked debit, open or resolved: settle it by what the bank did);
   * ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN for a payout not instructed (planned, or at its outcome).
   */
  async cancel(id: bigint, note: string, by: string): Promise<{ status: "created" | "exists"; payout: BankPayout }> {
    const reason = cancelReason(by, note);
    return this.#confirm.run(async () => {
      const p = await this.payout(id);
      const notOpen = (q: BankPayout) =>
        PayoutErrors.bankPayoutNotOpen(`bank payout ${id} is ${q.status}${q.reason === null ? "" : ` (${q.reason})`}: only an instructed payout is cancelled`, { details: { payoutId: id.toString(), status: q.status } });
      if (p.status === "cancelled" && p.reason === reason) return { status: "exists", payout: p };
      if (p.status !== "instructed") throw notOpen(p);
      const debited = (detail: string) => PayoutErrors.bankPayoutDebited(`bank payout ${id} cannot be cancelled: ${detail}`, { details: { payoutId: id.toString(), status: p.status } });
      if (p.commitTxId !== null || p.cashRequest !== null || p.cashTxId !== null) {
        throw debited(`the bank's debit${p.settledAmount === null || p.settledCurrency === null ? "" : ` of ${major(p.settledAmount, p.settledCurrency)}`} is booked for it; it is settled by what the bank did`);
      }
      // The bank's word that it paid stands whatever an exception's resolution says: a note closes
      // the item in the queue, it does not undo the debit, so voiding the reserve on it would make
      // what the bank paid available again and the next run would pay it a second time.
      const reported = (await this.#exceptions.ofPayout(id)).filter(bookedDebit);
      if (reported.length > 0) {
        const resolved = reported.filter((x) => x.status !== "open").map((x) => x.id);
        const which = `${reported.map((x) => x.id).join(", ")}${resolved.length === 0 ? "" : `; resolved by a note: ${resolved.join(", ")}`}`;
        throw debited(`the bank reported a booked debit for it (exception ${which}): a resolution's note does not undo it; settle it by what the bank did (action book_partial_debit for a part paid, the bank's full debit for all of it), or have the bank return it`);
      }
      if (p.pendingTxId === null) throw notOpen(p);
      let voidTx: string;
      try {
        voidTx = (await this.#o.ledger.voidPending(p.pendingTxId, bankLedgerKeys.void(p.id))).transaction.id;
      } catch (e) {
        if (!isAppError(e) || e.code !== LedgerErrors.notPending.code) throw e;
        // Another process committed the reserve for the bank's debit meanwhile.
        throw debited("its reserve was committed for the bank's debit meanwhile");
      }
      if (!(await this.#store.markCancelled(p.id, voidTx, reason))) throw notOpen((await this.#store.get(id)) ?? p);
      this.#o.log?.info({ payoutId: id.toString(), endToEndId: p.endToEndId, voidTxId: voidTx, by }, "bank payout cancelled by an operator: its reserve is back with the seller");
      return { status: "created", payout: await this.payout(id) };
    });
  }

  /**
   * What a bank payout pays: the seller's available-balance lines since the previous bank payout of
   * that currency reserved it (or since the start), up to this payout's reserve; they sum to the
   * payout's amount (`matches`), since a payout takes the whole available balance.
   */
  async settledBy(id: bigint): Promise<{ payout: BankPayout; lines: Array<AccountStatement["lines"][number] & { available: bigint }>; total: bigint; matches: boolean }> {
    const payout = await this.payout(id);
    if (payout.pendingTxId === null) return { payout, lines: [], total: 0n, matches: false };
    const earlier = (await this.#store.list({ sellerId: payout.sellerId, before: id, limit: 1000 })).find((p) => p.currency === payout.currency && p.pendingTxId !== null);
    const lines = (
      await this.#o.ledger.postingsBetween(BankAccounts.available(payout.sellerId), payout.currency, { afterTransactionId: earlier?.pendingTxId ?? null, beforeTransactionId: payout.pendingTxId })
    ).map((l) => ({ ...l, available: availableChange(l) }));
    const total = lines.reduce((t, l) => t + l.available, 0n);
    return { payout, lines, total, matches: total === payout.amount };
  }

  /** The bank payout an EndToEndId names (cash reconciliation matches statement debits with it). */
  async payoutByEndToEndId(endToEndId: string): Promise<BankPayout | null> {
    return this.#store.byEndToEndId(endToEndId);
  }

  async files(limit = 50): Promise<BankFile[]> {
    return this.#store.files(limit);
  }

  async file(id: string): Promise<BankFile> {
    const f = await this.#store.file(id);
    if (f === null) throw PayoutErrors.notFound(`bank payout file ${id} does not exist`);
    return f;
  }

  get directories(): { outbox: string; inbox: string } {
    return { outbox: this.#o.outbox, inbox: this.#o.inbox };
  }
}
