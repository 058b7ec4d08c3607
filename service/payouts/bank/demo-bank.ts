/**
 * A stand-in for the platform's bank on a laptop (`npm start`, `npm run bank:demo`, the tests): it
 * reads the pain.001 files in the outbox and answers each with a camt.054.001.08 debit notification
 * in the inbox, as a bank or licensed payment provider would: a transfer in the account's currency
 * is debited as instructed; one in another currency is converted at the given rate (account
 * currency per unit) and debited in the account's currency, with the instructed amount and the
 * rate beside it; a transfer named in `returns` comes back as a credit with its return reason.
 * Never used by the service itself.
 */
import { SaxesParser } from "saxes";
import { convertMinor, exponentOf, formatMinor, parseMajorExact } from "../../money/index.js";
import type { BankAccountRef, PostalAddress } from "./iso20022.js";

export interface DemoEntry {
  endToEndId: string;
  currency: string;
  amount: bigint;
  side?: "debit" | "credit";
  status?: "BOOK" | "PDNG" | "INFO";
  reversal?: boolean;
  returnReason?: string;
  instructed?: { currency: string; amount: bigint };
  /** XchgRate: units of `currency` per unit of the instructed currency. */
  rate?: string;
  bookingDate?: string;
  /** RmtInf/Ustrd: the payer's reference (a gateway puts its payout reference here). */
  remittanceInfo?: string;
  /** AddtlNtryInf: the bank's text for the entry. */
  info?: string;
  /**
   * TxDtls/Chrgs/Rcrd: charges the bank itemises (a return credited net of them, the original
   * amount in `instructed`); currency: the entry's unless given; CdtDbtInd DBIT and ChrgInclInd true
   * unless given (`null`: left out).
   */
  charges?: ReadonlyArray<{ amount: bigint; currency?: string; side?: "DBIT" | "CRDT" | null; included?: boolean | null; type?: string }>;
}

const el = (name: string, content: string, attrs = ""): string => `<${name}${attrs}>${content}</${name}>`;
const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function entryXml(e: DemoEntry, i: number, messageId: string, day: string): string {
  const side = e.side === "credit" || e.returnReason !== undefined ? "CRDT" : "DBIT";
  const amt = el("Amt", formatMinor(e.amount, e.currency), ` Ccy="${e.currency}"`);
  const instructed =
    e.instructed === undefined
      ? ""
      : el(
          "AmtDtls",
          el(
            "InstdAmt",
            el("Amt", formatMinor(e.instructed.amount, e.instructed.currency), ` Ccy="${e.instructed.currency}"`) +
              (e.rate === undefined ? "" : el("CcyXchg", el("SrcCcy", e.currency) + el("TrgtCcy", e.instructed.currency) + el("UnitCcy", e.instructed.currency) + el("XchgRate", e.rate))),
          ),
        );
  const rmt = e.remittanceInfo === undefined ? "" : el("RmtInf", el("Ustrd", esc(e.remittanceInfo.slice(0, 140))));
  const rtr = e.returnReason === undefined ? "" : el("RtrInf", el("Rsn", el("Cd", e.returnReason)));
  const chrgs =
    e.charges === undefined
      ? ""
      : el(
          "Chrgs",
          // TtlChrgsAndTaxAmt, as banks give it beside the records, when they are in one currency.
          (new Set(e.charges.map((c) => c.currency ?? e.currency)).size === 1
            ? el("TtlChrgsAndTaxAmt", formatMinor(e.charges.reduce((t, c) => t + c.amount, 0n), e.charges[0]!.currency ?? e.currency), ` Ccy="${e.charges[0]!.currency ?? e.currency}"`)
            : "") +
          e.charges
            .map((c) =>
              el(
                "Rcrd",
                el("Amt", formatMinor(c.amount, c.currency ?? e.currency), ` Ccy="${c.currency ?? e.currency}"`) +
                  (c.side === null ? "" : el("CdtDbtInd", c.side ?? "DBIT")) +
                  (c.included === null ? "" : el("ChrgInclInd", String(c.included ?? true))) +
                  (c.type === undefined ? "" : el("Tp", el("Prtry", el("Id", esc(c.type))))),
              ),
            )
            .join(""),
        );
  const family = side === "CRDT" && e.returnReason === undefined ? "RCDT" : "ICDT";
  const sub = e.returnReason !== undefined || e.reversal === true ? "RRTN" : "XBCT";
  return el(
    "Ntry",
    el("NtryRef", String(i + 1)) +
      amt +
      el("CdtDbtInd", side) +
      el("RvslInd", e.reversal === true ? "true" : "false") +
      el("Sts", el("Cd", e.status ?? "BOOK")) +
      el("BookgDt", el("Dt", e.bookingDate ?? day)) +
      el("AcctSvcrRef", `${messageId}-${i + 1}`.slice(0, 35)) +
      el("BkTxCd", el("Domn", el("Cd", "PMNT") + el("Fmly", el("Cd", family) + el("SubFmlyCd", sub)))) +
      el("NtryDtls", el("TxDtls", el("Refs", el("EndToEndId", esc(e.endToEndId))) + amt + el("CdtDbtInd", side) + instructed + chrgs + rmt + rtr)) +
      (e.info === undefined ? "" : el("AddtlNtryInf", esc(e.info.slice(0, 500)))),
  );
}

function accountXml(a: BankAccountRef & { accountCurrency?: string }): string {
  const acctId = a.iban !== null ? el("IBAN", a.iban) : el("Othr", el("Id", esc(a.accountNumber ?? "")));
  return el("Acct", el("Id", acctId) + (a.accountCurrency === undefined ? "" : el("Ccy", a.accountCurrency)));
}

const stamp = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** A camt.054.001.08 notification of the given entries on `account` (valid against the published schema). */
export function camt054(input: { messageId: string; account: BankAccountRef & { accountCurrency?: string }; entries: readonly DemoEntry[]; createdAt?: Date }): string {
  const at = stamp(input.createdAt ?? new Date());
  const entries = input.entries.map((e, i) => entryXml(e, i, input.messageId, at.slice(0, 10)));
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">` +
    el("BkToCstmrDbtCdtNtfctn", el("GrpHdr", el("MsgId", esc(input.messageId)) + el("CreDtTm", at)) + el("Ntfctn", el("Id", esc(input.messageId)) + el("CreDtTm", at) + accountXml(input.account) + entries.join(""))) +
    `</Document>\n`
  );
}

/**
 * A camt.053.001.08 statement of `account` for one day: the opening booked balance, the entries, and
 * the closing booked balance they add up to (or `closing` when given: a statement that does not add
 * up, as a missing page makes it). Valid against the published schema.
 */
export function camt053(input: { messageId: string; statementId: string; sequence?: number; account: BankAccountRef & { accountCurrency: string }; day: string; opening: bigint; entries: readonly DemoEntry[]; closing?: bigint; createdAt?: Date }): string {
  const at = stamp(input.createdAt ?? new Date());
  const C = input.account.accountCurrency;
  const net = input.entries.filter((e) => (e.status ?? "BOOK") === "BOOK").reduce((t, e) => t + (e.side === "credit" || e.returnReason !== undefined ? e.amount : -e.amount), 0n);
  const balance = (type: string, amount: bigint) =>
    el("Bal", el("Tp", el("CdOrPrtry", el("Cd", type))) + el("Amt", formatMinor(amount < 0n ? -amount : amount, C), ` Ccy="${C}"`) + el("CdtDbtInd", amount < 0n ? "DBIT" : "CRDT") + el("Dt", el("Dt", input.day)));
  const stmt = el(
    "Stmt",
    el("Id", esc(input.statementId)) +
      (input.sequence === undefined ? "" : el("ElctrncSeqNb", String(input.sequence))) +
      el("CreDtTm", at) +
      el("FrToDt", el("FrDtTm", `${input.day}T00:00:00Z`) + el("ToDtTm", `${input.day}T23:59:59Z`)) +
      accountXml(input.account) +
      balance("OPBD", input.opening) +
      balance("CLBD", input.closing ?? input.opening + net) +
      input.entries.map((e, i) => entryXml(e, i, input.statementId, input.day)).join(""),
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">${el("BkToCstmrStmt", el("GrpHdr", el("MsgId", esc(input.messageId)) + el("CreDtTm", at)) + stmt)}</Document>\n`;
}

/** The transfers of a pain.001 (EndToEndId, instructed currency and amount in minor units). */
export function transfersOf(pain001Xml: string): Array<{ endToEndId: string; currency: string; amount: bigint }> {
  const out: Array<{ endToEndId: string; currency: string; amount: bigint }> = [];
  const parser = new SaxesParser({ xmlns: true });
  let buf = "";
  let ccy = "";
  let current: { endToEndId?: string; currency?: string; amount?: bigint } = {};
  parser.on("opentag", (t) => {
    buf = "";
    if (t.local === "CdtTrfTxInf") current = {};
    if (t.local === "InstdAmt") ccy = t.attributes["Ccy"]?.value ?? "";
  });
  parser.on("text", (s) => (buf += s));
  parser.on("closetag", (t) => {
    if (t.local === "EndToEndId") current.endToEndId = buf.trim();
    if (t.local === "InstdAmt") {
      const minor = parseMajorExact(buf.trim(), exponentOf(ccy));
      if (typeof minor !== "bigint") throw new Error(`pain.001: bad amount ${buf.trim()} ${ccy}`);
      current = { ...current, currency: ccy, amount: minor };
    }
    if (t.local === "CdtTrfTxInf") {
      if (current.endToEndId === undefined || current.amount === undefined || current.currency === undefined) throw new Error("pain.001: a transfer without EndToEndId or InstdAmt");
      out.push({ endToEndId: current.endToEndId, currency: current.currency, amount: current.amount });
    }
    buf = "";
  });
  parser.write(pain001Xml).close();
  return out;
}

/**
 * The bank's answer to a pain.001: every transfer booked (converted into `accountCurrency` at
 * `rates[currency]`, account currency per unit, rounded half-even), or returned when named in `returns`.
 */
export function answer(pain001Xml: string, o: { messageId: string; account: BankAccountRef; accountCurrency: string; rates: Record<string, string>; returns?: Record<string, string> }): string {
  const entries: DemoEntry[] = transfersOf(pain001Xml).map((t) => {
    const reason = o.returns?.[t.endToEndId];
    if (t.currency === o.accountCurrency) return { endToEndId: t.endToEndId, currency: t.currency, amount: t.amount, ...(reason === undefined ? {} : { returnReason: reason }) };
    const rate = o.rates[t.currency];
    if (rate === undefined) throw new Error(`demo bank: no ${t.currency}->${o.accountCurrency} rate`);
    const debited = convertMinor(t.amount, t.currency, o.accountCurrency, rate, "half-even");
    return {
      endToEndId: t.endToEndId,
      currency: o.accountCurrency,
      amount: debited,
      instructed: { currency: t.currency, amount: t.amount },
      rate,
      ...(reason === undefined ? {} : { returnReason: reason }),
    };
  });
  return camt054({ messageId: o.messageId, account: { ...o.account, accountCurrency: o.accountCurrency }, entries });
}

/**
 * The demo's mainland sellers (paid in CNY) and the accounts they are paid to on the bank rail, each
 * with its holder's address in its city (in pinyin, as a cross-border payment carries it).
 */
export const DEMO_BANK_ACCOUNTS: ReadonlyArray<{ sellerId: string; account: Omit<BankAccountRef, "iban" | "address"> & { iban: null; address: PostalAddress } }> = [
  {
    sellerId: "S-POP-SZ-01",
    account: {
      holderName: "Shenzhen Gadget Works Co., Ltd.", iban: null, accountNumber: "6222021234567890123", bic: "ICBKCNBJSZN", clearingSystem: "CNAPS", clearingMember: "102584002170", country: "CN",
      address: { streetName: "Keji South 12th Road", buildingNumber: "18", postCode: "518057", townName: "Shenzhen", countrySubDivision: "Guangdong", country: "CN" },
    },
  },
  {
    sellerId: "S-FULL-GZ-01",
    account: {
      holderName: "Guangzhou Apparel Factory Co., Ltd.", iban: null, accountNumber: "4400150401234567890", bic: "PCBCCNBJGDX", clearingSystem: "CNAPS", clearingMember: "105581000017", country: "CN",
      address: { streetName: "Huangpu Avenue West", buildingNumber: "100", postCode: "510620", townName: "Guangzhou", countrySubDivision: "Guangdong", country: "CN" },
    },
  },
  {
    sellerId: "S-OVS-NB-01",
    account: {
      holderName: "Ningbo Kitchenware Co., Ltd.", iban: null, accountNumber: "3901110009000123456", bic: "BKCHCNBJ92A", clearingSystem: "CNAPS", clearingMember: "104332000019", country: "CN",
      address: { streetName: "Zhongshan East Road", buildingNumber: "1288", postCode: "315040", townName: "Ningbo", countrySubDivision: "Zhejiang", country: "CN" },
    },
  },
];

/** Puts the demo's mainland sellers on the bank rail (idempotent: the same accounts again). */
export async function assignDemoBankAccounts(rail: { setAccount(sellerId: string, input: Partial<Record<keyof BankAccountRef, unknown>>, setBy: string): Promise<unknown> }): Promise<number> {
  for (const { sellerId, account } of DEMO_BANK_ACCOUNTS) await rail.setAccount(sellerId, account, "demo");
  return DEMO_BANK_ACCOUNTS.length;
}

/**
 * The demo bank's statement of `day` for the platform's account: each remittance credited with the
 * gateway's payout reference in the remittance information, and one credit nobody booked (an
 * unidentified transfer, which the reconciliation must report).
 */
export function demoStatement(remittances: ReadonlyArray<{ remittanceId: string; settledAmount: bigint }>, account: BankAccountRef & { accountCurrency: string }, day: string): string {
  const entries: DemoEntry[] = remittances.map((r) => ({ endToEndId: "NOTPROVIDED", currency: account.accountCurrency, amount: r.settledAmount, side: "credit", remittanceInfo: `ADYEN N.V. PAYOUT ${r.remittanceId}`, info: "SWIFT MT103 ADYEN N.V. AMSTERDAM" }));
  entries.push({ endToEndId: "NOTPROVIDED", currency: account.accountCurrency, amount: 12_345n, side: "credit", info: "INCOMING TRANSFER UNIDENTIFIED ORDERING PARTY" });
  return camt053({ messageId: `DEMO-053-${day}`, statementId: `STMT-${day}`, sequence: 1, account, day, opening: 0n, entries });
}
