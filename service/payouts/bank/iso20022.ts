/**
 * The bank rail's two ISO 20022 messages, without I/O:
 * - `pain001`: a CustomerCreditTransferInitiation (pain.001.001.10) for a list of payouts, one
 *   payment information block per currency, drawn on the platform's account: the parties' structured
 *   postal addresses (PstlAdr), and, as configured, the purpose (Purp/Cd), the regulatory reporting of
 *   the beneficiary's country (RgltryRptg) and the ultimate debtor (UltmtDbtr), each where the
 *   schema puts it. Validated against the published schema in test/payouts/bank-iso20022.unit.test.ts.
 * - `readCamt054`: a BankToCustomerDebitCreditNotification (camt.054.001.02 to .13), streamed with
 *   saxes, down to what the rail needs per transaction: end-to-end id, amount and currency, debit
 *   or credit, booked or not, reversal or return (with the reason code), and the instructed amount
 *   when the bank converted (AmtDtls/InstdAmt), and the charges it itemised (TxDtls/Chrgs/Rcrd: a
 *   return is often credited net of them, the original amount in AmtDtls/InstdAmt; an InstdAmt is
 *   then not the amount credited). `readBankMessage` reads camt.053 statements the same
 *   way (the cash reconciliation's).
 * Bytes are decoded as their BOM or XML declaration says (or a charset given beside them).
 * Amounts are minor units here and major-unit decimals in the XML (money/formatMinor, parseMajorExact).
 */
import { TextDecoder } from "node:util";
import { SaxesParser } from "saxes";
import { exponentOrNull, formatMinor, parseMajorExact } from "../../money/index.js";

export const PAIN001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.10";

/**
 * A party's postal address, structured (ISO 20022 PostalAddress24, the fields a pain.001 writes):
 * since November 2026 Swift CBPR+ no longer carries unstructured-only addresses in cross-border
 * payments; the town and the country, at least, are in their own elements (Swift, "ISO 20022
 * milestone: November 2026, unstructured addresses to be removed"; J.P. Morgan's ISO 20022 guide:
 * "Town Name and Country must be provided at minimum, in their specific data elements").
 */
export interface PostalAddress {
  /** StrtNm, Max70Text. */
  streetName: string | null;
  /** BldgNb, Max16Text. */
  buildingNumber: string | null;
  /** PstCd, Max16Text. */
  postCode: string | null;
  /** TwnNm, Max35Text. */
  townName: string;
  /** CtrySubDvsn, Max35Text (a province or state). */
  countrySubDivision: string | null;
  /** Ctry, ISO 3166 alpha-2: where the party is, which may differ from its account's country. */
  country: string;
}

export interface BankAccountRef {
  holderName: string;
  iban: string | null;
  accountNumber: string | null;
  bic: string | null;
  clearingSystem: string | null;
  clearingMember: string | null;
  country: string;
  /**
   * The holder's structured address (Cdtr/PstlAdr, Dbtr/PstlAdr). Absent or null only on an account
   * stored before addresses were required (migration 20261220150000), and on a payout planned from
   * one: a bank run skips such an account (`address_missing`) until it is set again with one.
   */
  address?: PostalAddress | null;
}

/** Regulatory reporting for the beneficiary's country (RgltryRptg/Dtls: its Cd and Inf). */
export interface RegulatoryReporting {
  /** Dtls/Cd, Max10Text. */
  code: string;
  /** Dtls/Inf, Max35Text. */
  info: string;
}

/** What the platform's bank or payment institution asks of every instruction, beyond the parties. */
export interface InstructionOptions {
  /** CdtTrfTxInf/Purp/Cd (ExternalPurpose1Code), e.g. GDDS; null: not written. */
  purpose: string | null;
  /** RgltryRptg written on a transfer to a beneficiary in that country (its address's country, else its account's), from another. */
  regulatoryReporting: Readonly<Record<string, RegulatoryReporting>>;
  /** PmtInf/UltmtDbtr/Nm: the marketplace, when the debtor account is a payment institution's; null: not written. */
  ultimateDebtor: string | null;
}

export interface CreditTransfer {
  endToEndId: string;
  currency: string;
  /** Minor units of `currency`. */
  amount: bigint;
  creditor: BankAccountRef;
  /** Unstructured remittance information (at most 140 characters are written). */
  remittance: string;
}

export interface Pain001Input {
  messageId: string;
  createdAt: Date;
  /** The platform: initiating party and debtor. */
  debtor: BankAccountRef & { accountCurrency: string };
  executionDate: string;
  transfers: readonly CreditTransfer[];
  /** Purpose, regulatory reporting, ultimate debtor: none written when absent. */
  instruction?: InstructionOptions;
}

const escape = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
const el = (name: string, content: string, attrs = ""): string => `<${name}${attrs}>${content}</${name}>`;
/** At most `max` characters, counted as XML Schema counts them (code points: a CJK character outside the BMP is one, never half of a pair). */
const cut = (value: string, max: number): string => (value.length <= max ? value : [...value].slice(0, max).join(""));
const text = (name: string, value: string, max: number): string => el(name, escape(cut(value, max)));
const optional = (name: string, value: string | null | undefined, max: number): string => (value === null || value === undefined || value === "" ? "" : text(name, value, max));

/**
 * PstlAdr in the schema's order (PostalAddress24: StrtNm, BldgNb, PstCd, TwnNm, CtrySubDvsn, Ctry).
 * Without an address (an account stored before they were required), the country alone, as before.
 */
function postalAddress(a: BankAccountRef): string {
  const x = a.address;
  if (x === null || x === undefined) return el("PstlAdr", el("Ctry", a.country));
  return el(
    "PstlAdr",
    optional("StrtNm", x.streetName, 70) + optional("BldgNb", x.buildingNumber, 16) + optional("PstCd", x.postCode, 16) + text("TwnNm", x.townName, 35) + optional("CtrySubDvsn", x.countrySubDivision, 35) + el("Ctry", x.country),
  );
}

/** The country a beneficiary is in: its address's, else its account's. */
export const partyCountry = (a: BankAccountRef): string => a.address?.country ?? a.country;

/** Sum of major-unit amounts as a decimal string (CtrlSum), exact: the amounts are scaled to the largest exponent. */
function controlSum(transfers: readonly CreditTransfer[]): string {
  const exp = Math.max(0, ...transfers.map((t) => exponentOrNull(t.currency) ?? 0));
  let total = 0n;
  for (const t of transfers) total += t.amount * 10n ** BigInt(exp - (exponentOrNull(t.currency) ?? 0));
  if (exp === 0) return total.toString();
  const digits = total.toString().padStart(exp + 1, "0");
  return `${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
}

function account(a: BankAccountRef, currency?: string): string {
  const id = a.iban !== null ? text("IBAN", a.iban, 34) : el("Othr", text("Id", a.accountNumber ?? "", 34));
  return el("Id", id) + (currency === undefined ? "" : el("Ccy", currency));
}

function agent(a: BankAccountRef): string {
  const member = a.clearingMember === null ? "" : el("ClrSysMmbId", (a.clearingSystem === null ? "" : el("ClrSysId", text("Cd", a.clearingSystem, 5))) + text("MmbId", a.clearingMember, 35));
  return el("FinInstnId", (a.bic === null ? "" : el("BICFI", a.bic)) + member);
}

/**
 * RgltryRptg for a cross-border transfer to a beneficiary in a country that has it configured
 * (DbtCdtRptgInd CRED: the reporting is the credit side's, the beneficiary's country; Dtls in the
 * schema's order: Ctry, Cd, Inf). Nothing for a domestic transfer (the debtor in the same country).
 */
function regulatoryReporting(creditor: BankAccountRef, debtor: BankAccountRef, o: InstructionOptions | undefined): string {
  const country = partyCountry(creditor);
  const r = o?.regulatoryReporting[country];
  if (r === undefined || partyCountry(debtor) === country) return "";
  return el("RgltryRptg", el("DbtCdtRptgInd", "CRED") + el("Dtls", el("Ctry", country) + text("Cd", r.code, 10) + text("Inf", r.info, 35)));
}

/** The pain.001.001.10 document for `input` (UTF-8, no BOM). Throws on an empty list. */
export function pain001(input: Pain001Input): { xml: string; controlSum: string } {
  if (input.transfers.length === 0) throw new RangeError("a pain.001 needs at least one credit transfer");
  const byCurrency = new Map<string, CreditTransfer[]>();
  for (const t of input.transfers) byCurrency.set(t.currency, [...(byCurrency.get(t.currency) ?? []), t]);
  const d = input.debtor;
  const o = input.instruction;
  const sum = controlSum(input.transfers);
  const header = el(
    "GrpHdr",
    text("MsgId", input.messageId, 35) +
      el("CreDtTm", input.createdAt.toISOString().replace(/\.\d{3}Z$/, "Z")) +
      el("NbOfTxs", String(input.transfers.length)) +
      el("CtrlSum", sum) +
      el("InitgPty", text("Nm", d.holderName, 140)),
  );
  const blocks = [...byCurrency.entries()].map(([currency, transfers]) =>
    el(
      "PmtInf",
      text("PmtInfId", `${input.messageId}-${currency}`, 35) +
        el("PmtMtd", "TRF") +
        el("BtchBookg", "false") +
        el("NbOfTxs", String(transfers.length)) +
        el("CtrlSum", controlSum(transfers)) +
        el("ReqdExctnDt", el("Dt", input.executionDate)) +
        el("Dbtr", text("Nm", d.holderName, 140) + postalAddress(d)) +
        el("DbtrAcct", account(d, d.accountCurrency)) +
        el("DbtrAgt", agent(d)) +
        // The marketplace whose payouts these are, when the account debited is a payment
        // institution's (PmtInf level: it is every transaction's; schema order: after DbtrAgt, before ChrgBr).
        (o === undefined || o.ultimateDebtor === null ? "" : el("UltmtDbtr", text("Nm", o.ultimateDebtor, 140))) +
        // The platform bears its own bank's charges, the seller its bank's: the seller's amount is
        // not reduced on our side.
        el("ChrgBr", "SHAR") +
        transfers
          .map((t) =>
            el(
              "CdtTrfTxInf",
              el("PmtId", text("InstrId", t.endToEndId, 35) + text("EndToEndId", t.endToEndId, 35)) +
                el("Amt", el("InstdAmt", formatMinor(t.amount, t.currency), ` Ccy="${t.currency}"`)) +
                el("CdtrAgt", agent(t.creditor)) +
                el("Cdtr", text("Nm", t.creditor.holderName, 140) + postalAddress(t.creditor)) +
                el("CdtrAcct", account(t.creditor)) +
                // Schema order (CreditTransferTransaction40): ... CdtrAcct, Purp, RgltryRptg, RmtInf.
                (o === undefined || o.purpose === null ? "" : el("Purp", text("Cd", o.purpose, 4))) +
                regulatoryReporting(t.creditor, d, o) +
                el("RmtInf", text("Ustrd", t.remittance, 140)),
            ),
          )
          .join(""),
    ),
  );
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="${PAIN001_NAMESPACE}">${el("CstmrCdtTrfInitn", header + blocks.join(""))}</Document>\n`;
  return { xml, controlSum: sum };
}

/** One transaction of a camt.053 statement or camt.054 notification. */
export interface BankEntry {
  /** Refs/EndToEndId (null when the bank gave none or NOTPROVIDED). */
  endToEndId: string | null;
  currency: string;
  /** Minor units, positive: the transaction's own amount when it has one (`ownAmount`), else its entry's. */
  amount: bigint;
  /**
   * The entry's CdtDbtInd: what moved the balance. A transaction's own indicator is a detail (a
   * bank may book a credit collection as a DBIT entry; the entry is what the account shows).
   */
  side: "debit" | "credit";
  /** Ntry/Sts: BOOK, PDNG, INFO (v.02-.04 as text, v.08 as Sts/Cd). */
  status: string;
  /** Ntry/RvslInd: the entry reverses an earlier one (a payment the bank took back). */
  reversal: boolean;
  /** RtrInf/Rsn/Cd: the payment was returned (e.g. AC04 closed account). */
  returnReason: string | null;
  /** AmtDtls/InstdAmt: what was instructed, when the bank converted (or the original amount of a return net of charges). */
  instructed: { currency: string; amount: bigint } | null;
  /**
   * TxDtls/Chrgs/Rcrd: the charges the bank itemised on the transaction (a return is often credited
   * net of them); absent when it gave none.
   */
  charges?: BankCharge[];
  bookingDate: string | null;
  /** ValDt: when the money counts for interest; a bank may leave an entry value-dated after the statement out of its closing balance. */
  valueDate: string | null;
  /** Ntry/AcctSvcrRef, for people reading a report. */
  bankReference: string | null;
  /** Every reference and free text of the entry and the transaction (Refs/*, RmtInf/Ustrd, AddtlNtryInf, AddtlTxInf): where a payer's reference is found. */
  texts: string[];
  /**
   * The Ntry this transaction belongs to: its position in the report (1-based) and its amount,
   * which is what moves the balance, once, however many transactions (TxDtls) it holds.
   */
  entry: { index: number; currency: string; amount: bigint };
  /** `amount` is the transaction's own: TxDtls/Amt, AmtDtls/TxAmt/Amt (.001.02), or AmtDtls/InstdAmt/Amt in the entry's currency. */
  ownAmount: boolean;
}

/** One TxDtls/Chrgs/Rcrd: Amt, and CdtDbtInd and ChrgInclInd when given (null: not given). */
export interface BankCharge {
  currency: string;
  /** Minor units, positive. */
  amount: bigint;
  side: "debit" | "credit" | null;
  /** ChrgInclInd: true when the charge is included in (taken from) the transaction's amount. */
  included: boolean | null;
}

/** A balance of a statement (Bal): OPBD opening booked, CLBD closing booked, …; `amount` signed (debit balance negative). */
export interface BankBalance {
  type: string;
  currency: string;
  amount: bigint;
  date: string | null;
}

/** One Stmt (camt.053) or Ntfctn (camt.054). */
export interface BankReport {
  id: string;
  /** ElctrncSeqNb, when given: consecutive statements of an account. */
  sequence: string | null;
  /** Acct/Id: the IBAN or the other identification. */
  account: string;
  currency: string | null;
  balances: BankBalance[];
  entries: BankEntry[];
}

export interface BankMessage {
  kind: "camt.053" | "camt.054";
  messageId: string;
  version: string;
  reports: BankReport[];
}

export interface Camt054 {
  messageId: string;
  version: string;
  /** Each notification's account (Ntfctn/Acct: its IBAN or other id, and its currency when given), in document order. */
  accounts: Array<{ id: string; currency: string | null }>;
  entries: BankEntry[];
}

/** Why a bank message was refused: the message names what is wrong. */
export class BankMessageError extends Error {}

const CAMT = /^urn:iso:std:iso:20022:tech:xsd:camt\.05([34])\.001\.(0[2-9]|1[0-3])$/;

function amountOf(textValue: string, currency: string | undefined, where: string): { currency: string; amount: bigint } {
  if (currency === undefined) throw new BankMessageError(`${where}: an amount without its Ccy attribute`);
  const exponent = exponentOrNull(currency);
  if (exponent === null) throw new BankMessageError(`${where}: ${JSON.stringify(currency.slice(0, 8))} is not an ISO 4217 currency`);
  const minor = parseMajorExact(textValue.trim(), exponent);
  if (typeof minor !== "bigint") throw new BankMessageError(`${where}: amount ${JSON.stringify(textValue.slice(0, 40))} is not a valid ${currency} amount (${minor})`);
  // ISO 20022 amounts are never negative: the direction is the CdtDbtInd beside them.
  if (minor < 0n) throw new BankMessageError(`${where}: amount ${JSON.stringify(textValue.slice(0, 40))} is negative; a debit or credit is said by CdtDbtInd`);
  return { currency, amount: minor };
}

type PartialEntry = Partial<BankEntry> & { texts: string[]; txAmount?: { currency: string; amount: bigint }; charge?: Partial<BankCharge> };

/**
 * windows-1252 (which the Encoding standard also reads ISO-8859-1 and US-ASCII as) by hand: Node's
 * TextDecoder (20 and 24.9, measured) drops bytes 0x80 and 0x81 without a word, so a "€" would
 * vanish. Latin-1 is the code points 0x00-0xFF; only 0x80-0x9F differ (index-windows-1252).
 */
const CP1252 = "\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178";
const windows1252 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1").replace(/[\x80-\x9F]/g, (c) => CP1252[c.charCodeAt(0) - 0x80]!);

/** TextDecoder's names of the UTF-16 encodings (a document in them starts with a BOM or `<?xml` in two bytes a character). */
const UTF16 = new Set(["utf-16le", "utf-16be"]);

/**
 * The text of an XML document's bytes (XML 1.0 appendix F): a BOM, or `<?` in UTF-16, says the
 * encoding; otherwise the declaration's `encoding` (UTF-8 without one); a `charset` given beside the
 * document (HTTP's Content-Type) wins over the declaration (RFC 7303). Any encoding the WHATWG
 * Encoding standard names is read (ISO-8859-1 as windows-1252, its superset); bytes invalid in it
 * and an unknown or unreadable encoding are refused, never read with replacement characters.
 */
function decodeXml(bytes: Uint8Array, charset?: string): string {
  const [b0, b1, b2, b3] = bytes;
  let sniffed: "utf-8" | "utf-16le" | "utf-16be" | null = null;
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) sniffed = "utf-8";
  else if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0x3c && b1 === 0x00 && b2 === 0x3f && b3 === 0x00)) sniffed = "utf-16le";
  else if ((b0 === 0xfe && b1 === 0xff) || (b0 === 0x00 && b1 === 0x3c && b2 === 0x00 && b3 === 0x3f)) sniffed = "utf-16be";
  const head = sniffed === null ? windows1252(bytes.subarray(0, 512)) : new TextDecoder(sniffed).decode(bytes.subarray(0, 512));
  const declared = /^\uFEFF?<\?xml\s[^?]*?encoding\s*=\s*["']([^"']{1,40})["']/.exec(head)?.[1];
  const label = charset ?? declared ?? sniffed ?? "utf-8";
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label, { fatal: true });
  } catch {
    throw new BankMessageError(`unsupported encoding ${JSON.stringify(label)} (${charset === undefined ? "the XML declaration's" : "the charset given"}); send UTF-8, UTF-16, ISO-8859-1 or windows-1252`);
  }
  const encoding = decoder.encoding;
  if (encoding === "replacement" || encoding === "x-user-defined") throw new BankMessageError(`unsupported encoding ${JSON.stringify(label)}`);
  // The bytes say UTF-16 (or UTF-8 by their BOM) and the label another encoding: one of them is wrong.
  if (sniffed !== null && (sniffed === "utf-8" ? encoding !== "utf-8" : !UTF16.has(encoding))) throw new BankMessageError(`encoding ${JSON.stringify(label)} declared, but the document starts as ${sniffed.toUpperCase()}`);
  if (sniffed === null && UTF16.has(encoding)) throw new BankMessageError(`encoding ${JSON.stringify(label)} declared, but the document is not UTF-16 (no byte order mark)`);
  if (encoding === "windows-1252") return windows1252(bytes);
  try {
    return new TextDecoder(UTF16.has(encoding) && sniffed !== null ? sniffed : encoding, { fatal: true }).decode(bytes);
  } catch {
    throw new BankMessageError(`not valid ${encoding === "utf-8" ? "UTF-8" : encoding}: the document's bytes do not match its encoding ${JSON.stringify(label)}`);
  }
}

/**
 * Reads a camt.053 statement or camt.054 notification (versions .02 to .13), streamed (text, chunks
 * of text, or the document's bytes, decoded as they declare: see decodeXml). Each TxDtls is one
 * BankEntry (its own amount, else the entry's; the entry's direction, and the entry it belongs to);
 * an entry without TxDtls is one too. `expect` refuses the other kind. Throws BankMessageError
 * naming what is wrong.
 */
export function readBankMessage(input: string | Uint8Array | Iterable<string>, expect?: "camt.053" | "camt.054", options: { charset?: string } = {}): BankMessage {
  const chunks = input instanceof Uint8Array ? decodeXml(input, options.charset) : input;
  const parser = new SaxesParser({ xmlns: true, position: true });
  const path: string[] = [];
  let buf = "";
  let ccy: string | undefined;
  let messageId = "";
  let version = "";
  let kind: "camt.053" | "camt.054" | null = null;
  const reports: BankReport[] = [];
  let report: BankReport | null = null;
  let bal: Partial<BankBalance> & { side?: string } = {};
  type Ntry = { amount?: { currency: string; amount: bigint }; side?: string; status?: string; reversal: boolean; bookingDate: string | null; valueDate: string | null; bankReference: string | null; texts: string[]; txs: PartialEntry[] };
  let ntry: Ntry | null = null;
  let tx: PartialEntry = { texts: [] };
  let failure: Error | null = null;
  let entryCount = 0;

  const under = (...names: string[]): boolean => names.every((n, i) => path[path.length - names.length + i] === n);
  parser.on("error", (e) => {
    failure ??= new BankMessageError(`not well-formed XML: ${e.message}`);
  });
  parser.on("opentag", (t) => {
    if (path.length === 0) {
      const m = CAMT.exec(t.uri);
      const found = m === null ? null : (`camt.05${m[1]}` as "camt.053" | "camt.054");
      if (t.local !== "Document" || found === null || (expect !== undefined && found !== expect)) {
        failure ??= new BankMessageError(`not a ${expect ?? "camt.053 or camt.054"} (.001.02 to .001.13) document: root ${t.local} in ${JSON.stringify(t.uri.slice(0, 80))}`);
      } else {
        kind = found;
        version = `${found}.001.${m![2]}`;
      }
    }
    path.push(t.local);
    buf = "";
    ccy = t.attributes["Ccy"]?.value;
    if ((t.local === "Stmt" || t.local === "Ntfctn" || t.local === "Rpt") && path.length === 3) {
      report = { id: "", sequence: null, account: "", currency: null, balances: [], entries: [] };
      reports.push(report);
      entryCount = 0;
    }
    if (t.local === "Bal" && report !== null && path.length === 4) bal = {};
    if (t.local === "Ntry" && report !== null && path.length === 4) ntry = { reversal: false, bookingDate: null, valueDate: null, bankReference: null, texts: [], txs: [] };
    if (t.local === "TxDtls" && ntry !== null) tx = { texts: [] };
  });
  parser.on("text", (s) => {
    buf += s;
  });
  parser.on("closetag", (t) => {
    const value = buf.trim();
    const r = report;
    const where = `entry ${entryCount + 1}`;
    try {
      if (under("GrpHdr", "MsgId")) messageId = value;
      else if (ntry !== null && path.includes("TxDtls")) {
        if (under("Refs", "EndToEndId")) tx.endToEndId = value === "NOTPROVIDED" ? null : value;
        else if (under("TxDtls", "Amt")) Object.assign(tx, amountOf(value, ccy, where));
        else if (under("TxDtls", "AmtDtls", "TxAmt", "Amt")) tx.txAmount = amountOf(value, ccy, where);
        else if (under("TxDtls", "AmtDtls", "InstdAmt", "Amt")) tx.instructed = amountOf(value, ccy, where);
        else if (under("RtrInf", "Rsn", "Cd")) tx.returnReason = value;
        else if (under("RtrInf", "Rsn", "Prtry")) tx.returnReason ??= value;
        else if (under("Chrgs", "Rcrd", "Amt")) tx.charge = { ...tx.charge, ...amountOf(value, ccy, `${where}: Chrgs/Rcrd`) };
        else if (under("Chrgs", "Rcrd", "CdtDbtInd")) tx.charge = { ...tx.charge, side: value === "DBIT" ? "debit" : value === "CRDT" ? "credit" : null };
        else if (under("Chrgs", "Rcrd", "ChrgInclInd")) tx.charge = { ...tx.charge, included: value === "true" || value === "1" };
        else if (under("Chrgs", "Rcrd")) {
          const c = tx.charge ?? {};
          tx.charge = undefined;
          if (c.amount === undefined || c.currency === undefined) throw new BankMessageError(`${where}: Chrgs/Rcrd without its Amt`);
          (tx.charges ??= []).push({ currency: c.currency, amount: c.amount, side: c.side ?? null, included: c.included ?? null });
        }
        else if (t.local === "TxDtls") ntry.txs.push(tx);
        if (value !== "" && (path.includes("Refs") || under("RmtInf", "Ustrd") || under("TxDtls", "AddtlTxInf"))) tx.texts.push(value);
      } else if (ntry !== null) {
        if (under("Ntry", "Amt")) ntry.amount = amountOf(value, ccy, where);
        else if (under("Ntry", "CdtDbtInd")) ntry.side = value;
        else if (under("Ntry", "RvslInd")) ntry.reversal = value === "true" || value === "1";
        else if (under("Ntry", "Sts") && value !== "") ntry.status = value;
        else if (under("Ntry", "Sts", "Cd")) ntry.status = value;
        else if (under("BookgDt", "Dt") || under("BookgDt", "DtTm")) ntry.bookingDate = value;
        else if (under("Ntry", "ValDt", "Dt") || under("Ntry", "ValDt", "DtTm")) ntry.valueDate = value;
        else if (under("Ntry", "AcctSvcrRef")) ntry.bankReference = value;
        else if (under("Ntry", "AddtlNtryInf")) ntry.texts.push(value);
        else if (t.local === "Ntry" && r !== null) {
          const n = ntry;
          ntry = null;
          if (n.amount === undefined || n.side === undefined) throw new BankMessageError(`${where}: an entry without Amt or CdtDbtInd`);
          if (n.side !== "DBIT" && n.side !== "CRDT") throw new BankMessageError(`${where}: CdtDbtInd ${JSON.stringify(n.side.slice(0, 8))} is neither CRDT nor DBIT`);
          const side: "debit" | "credit" = n.side === "DBIT" ? "debit" : "credit";
          const entry = { index: ++entryCount, currency: n.amount.currency, amount: n.amount.amount };
          for (const d of n.txs.length === 0 ? [{ texts: [] } as PartialEntry] : n.txs) {
            const own = d.amount !== undefined && d.currency !== undefined ? { currency: d.currency, amount: d.amount } : (d.txAmount ?? (d.charges === undefined && d.instructed?.currency === n.amount.currency ? d.instructed : undefined));
            const amount = own ?? n.amount;
            r.entries.push({
              endToEndId: d.endToEndId ?? null,
              currency: amount.currency,
              amount: amount.amount,
              side,
              status: n.status ?? "BOOK",
              reversal: n.reversal,
              returnReason: d.returnReason ?? null,
              instructed: d.instructed ?? null,
              ...(d.charges === undefined ? {} : { charges: d.charges }),
              bookingDate: n.bookingDate,
              valueDate: n.valueDate,
              bankReference: n.bankReference,
              texts: [...(n.bankReference === null ? [] : [n.bankReference]), ...d.texts, ...n.texts],
              entry,
              ownAmount: own !== undefined,
            });
          }
        }
      } else if (r !== null && path.length >= 4) {
        if (path.length === 4 && t.local === "Id") r.id = value;
        else if (path.length === 4 && t.local === "ElctrncSeqNb") r.sequence = value;
        else if (under("Acct", "Id", "IBAN") || under("Acct", "Id", "Othr", "Id")) r.account = value;
        else if (under("Acct", "Ccy")) r.currency = value;
        else if (path[3] === "Bal") {
          if (under("CdOrPrtry", "Cd")) bal.type = value;
          else if (under("Bal", "Amt")) Object.assign(bal, amountOf(value, ccy, "Bal"));
          else if (under("Bal", "CdtDbtInd")) bal.side = value;
          else if (under("Bal", "Dt", "Dt") || under("Bal", "Dt", "DtTm")) bal.date = value;
          else if (t.local === "Bal" && path.length === 4) {
            if (bal.type === undefined || bal.amount === undefined || bal.currency === undefined) throw new BankMessageError("a balance without its type, amount or currency");
            r.balances.push({ type: bal.type, currency: bal.currency, amount: bal.side === "DBIT" ? -bal.amount : bal.amount, date: bal.date ?? null });
          }
        }
      }
    } catch (e) {
      failure ??= e as Error;
    }
    path.pop();
    buf = "";
  });
  for (const chunk of typeof chunks === "string" ? [chunks] : chunks) {
    if (failure !== null) break;
    parser.write(chunk);
  }
  if (failure === null) parser.close();
  // Set inside the parser's callbacks, which the compiler does not follow.
  const failed = failure as Error | null;
  if (failed !== null) throw failed instanceof BankMessageError ? failed : new BankMessageError(failed.message);
  const found = kind as "camt.053" | "camt.054" | null;
  if (found === null) throw new BankMessageError("empty document");
  return { kind: found, messageId, version, reports };
}

/** A camt.054's entries, all notifications together (the bank rail's confirmations). */
export function readCamt054(input: string | Uint8Array | Iterable<string>, options: { charset?: string } = {}): Camt054 {
  const m = readBankMessage(input, "camt.054", options);
  return { messageId: m.messageId, version: m.version, accounts: m.reports.map((r) => ({ id: r.account, currency: r.currency })), entries: m.reports.flatMap((r) => r.entries) };
}
