import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import { pain001, readBankMessage, readCamt054, type BankAccountRef } from "../../service/payouts/index.js";
import { BankMessageError } from "../../service/payouts/bank/iso20022.js";
import { camt053, camt054 } from "../support/camt054.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/iso20022/${name}`, import.meta.url), "utf8");
const schema = (name: string) => ({ fileName: name, contents: fixture(name) });

const debtor: BankAccountRef & { accountCurrency: string } = {
  holderName: "Entrepot Marketplace Ltd",
  iban: null,
  accountNumber: "400123456838",
  bic: "HSBCHKHHHKH",
  clearingSystem: null,
  clearingMember: null,
  country: "HK",
  accountCurrency: "USD",
};
const shenzhen: BankAccountRef = {
  holderName: "Shenzhen Gadget Works Co., Ltd. & Sons <SZ>",
  iban: null,
  accountNumber: "6222021234567890123",
  bic: "ICBKCNBJSZN",
  clearingSystem: "CNAPS",
  clearingMember: "102584002170",
  country: "CN",
};
const munich: BankAccountRef = { holderName: "Isar Gadgets GmbH", iban: "DE89370400440532013000", accountNumber: null, bic: null, clearingSystem: null, clearingMember: null, country: "DE" };

async function valid(xml: string, xsd: string): Promise<{ valid: boolean; errors: string[] }> {
  const r = await validateXML({ xml: [{ fileName: "doc.xml", contents: xml }], schema: [schema(xsd)] });
  return { valid: r.valid, errors: r.errors.map((e) => e.rawMessage) };
}

describe("pain.001.001.10 (bank rail instructions)", () => {
  const file = pain001({
    messageId: "ENT-20261204-1",
    createdAt: new Date("2026-12-04T09:30:00.123Z"),
    debtor,
    executionDate: "2026-12-04",
    transfers: [
      { endToEndId: "ENT-BP-1", currency: "CNY", amount: 1_234_567n, creditor: shenzhen, remittance: "Entrepot payout ENT-BP-1 seller S-POP-SZ-01" },
      { endToEndId: "ENT-BP-2", currency: "EUR", amount: 5n, creditor: munich, remittance: "Entrepot payout ENT-BP-2" },
      { endToEndId: "ENT-BP-3", currency: "CNY", amount: 100n, creditor: shenzhen, remittance: "x".repeat(300) },
    ],
  });

  it("is valid against the published schema, one payment block per currency, amounts in major units", async () => {
    expect(await valid(file.xml, "pain.001.001.10.xsd")).toEqual({ valid: true, errors: [] });
    expect(file.xml).toContain('<InstdAmt Ccy="CNY">12345.67</InstdAmt>');
    expect(file.xml).toContain('<InstdAmt Ccy="EUR">0.05</InstdAmt>');
    expect(file.xml.match(/<PmtInf>/g)).toHaveLength(2);
    expect(file.xml).toContain("<PmtInfId>ENT-20261204-1-CNY</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>false</BtchBookg><NbOfTxs>2</NbOfTxs><CtrlSum>12346.67</CtrlSum>");
    expect(file.controlSum).toBe("12346.72");
    expect(file.xml).toContain("<NbOfTxs>3</NbOfTxs><CtrlSum>12346.72</CtrlSum>");
    // Names are escaped, the beneficiary bank is named by BIC and CNAPS code, the IBAN as IBAN.
    expect(file.xml).toContain("<Nm>Shenzhen Gadget Works Co., Ltd. &amp; Sons &lt;SZ&gt;</Nm>");
    expect(file.xml).toContain("<ClrSysMmbId><ClrSysId><Cd>CNAPS</Cd></ClrSysId><MmbId>102584002170</MmbId></ClrSysMmbId>");
    expect(file.xml).toContain("<CdtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></CdtrAcct>");
    expect(file.xml).toContain("<CreDtTm>2026-12-04T09:30:00Z</CreDtTm>");
  });

  it("the schema check can fail: a broken document is refused", async () => {
    const broken = file.xml.replace("<PmtMtd>TRF</PmtMtd>", "<PmtMtd>CASH</PmtMtd>");
    const r = await valid(broken, "pain.001.001.10.xsd");
    expect(r.valid).toBe(false);
    expect(r.errors.join("\n")).toMatch(/PmtMtd/);
  });

  it("refuses an empty list", () => {
    expect(() => pain001({ messageId: "M", createdAt: new Date(), debtor, executionDate: "2026-12-04", transfers: [] })).toThrow(RangeError);
  });
});

describe("pain.001.001.10 for a demanding bank: structured addresses, purpose, regulatory reporting, ultimate debtor", () => {
  const platform = { ...debtor, address: { streetName: "Connaught Road Central", buildingNumber: "18", postCode: null, townName: "Hong Kong", countrySubDivision: null, country: "HK" } };
  const sz: BankAccountRef = { ...shenzhen, address: { streetName: "Keji South 12th Road", buildingNumber: "18", postCode: "518057", townName: "Shenzhen", countrySubDivision: "Guangdong", country: "CN" } };
  const de: BankAccountRef = { ...munich, address: { streetName: "Leopoldstrasse", buildingNumber: "7", postCode: "80802", townName: "Muenchen", countrySubDivision: null, country: "DE" } };
  const transfers = [
    { endToEndId: "ENT-BP-1", currency: "CNY", amount: 1_234_567n, creditor: sz, remittance: "Entrepot payout ENT-BP-1 seller S-POP-SZ-01" },
    { endToEndId: "ENT-BP-2", currency: "EUR", amount: 5n, creditor: de, remittance: "Entrepot payout ENT-BP-2" },
  ];
  const file = pain001({
    messageId: "ENT-20261220-1",
    createdAt: new Date("2026-12-20T09:30:00Z"),
    debtor: platform,
    executionDate: "2026-12-20",
    transfers,
    instruction: { purpose: "GDDS", regulatoryReporting: { CN: { code: "CGODDR", info: "Cross-border goods trade" } }, ultimateDebtor: "Entrepot Marketplace Ltd" },
  });
  const tx = (id: string) => file.xml.slice(file.xml.indexOf(`<EndToEndId>${id}<`), file.xml.indexOf("</CdtTrfTxInf>", file.xml.indexOf(`<EndToEndId>${id}<`)));

  it("is valid against the published schema with every new element", async () => {
    expect(await valid(file.xml, "pain.001.001.10.xsd")).toEqual({ valid: true, errors: [] });
  });

  it("writes the creditor's and the debtor's addresses structured, in the schema's order", () => {
    expect(tx("ENT-BP-1")).toContain(
      "<Cdtr><Nm>Shenzhen Gadget Works Co., Ltd. &amp; Sons &lt;SZ&gt;</Nm><PstlAdr><StrtNm>Keji South 12th Road</StrtNm><BldgNb>18</BldgNb><PstCd>518057</PstCd><TwnNm>Shenzhen</TwnNm><CtrySubDvsn>Guangdong</CtrySubDvsn><Ctry>CN</Ctry></PstlAdr></Cdtr>",
    );
    expect(file.xml).toContain("<Dbtr><Nm>Entrepot Marketplace Ltd</Nm><PstlAdr><StrtNm>Connaught Road Central</StrtNm><BldgNb>18</BldgNb><TwnNm>Hong Kong</TwnNm><Ctry>HK</Ctry></PstlAdr></Dbtr>");
    expect(file.xml).not.toContain("<AdrLine>");
  });

  it("writes the purpose on every transfer, the regulatory reporting only to the CN beneficiary, and the ultimate debtor per payment block, each where the schema puts it", () => {
    expect(tx("ENT-BP-1")).toContain(
      "</CdtrAcct><Purp><Cd>GDDS</Cd></Purp><RgltryRptg><DbtCdtRptgInd>CRED</DbtCdtRptgInd><Dtls><Ctry>CN</Ctry><Cd>CGODDR</Cd><Inf>Cross-border goods trade</Inf></Dtls></RgltryRptg><RmtInf>",
    );
    expect(tx("ENT-BP-2")).toContain("</CdtrAcct><Purp><Cd>GDDS</Cd></Purp><RmtInf>");
    expect(tx("ENT-BP-2")).not.toContain("RgltryRptg");
    expect(file.xml.match(/<UltmtDbtr><Nm>Entrepot Marketplace Ltd<\/Nm><\/UltmtDbtr><ChrgBr>SHAR<\/ChrgBr>/g)).toHaveLength(2);
    expect(file.xml.match(/<\/DbtrAgt><UltmtDbtr>/g)).toHaveLength(2);
  });

  it("writes none of them unconfigured, and no regulatory reporting on a domestic transfer", async () => {
    const plain = pain001({ messageId: "M-2", createdAt: new Date("2026-12-20T09:30:00Z"), debtor: platform, executionDate: "2026-12-20", transfers, instruction: { purpose: null, regulatoryReporting: {}, ultimateDebtor: null } });
    expect(await valid(plain.xml, "pain.001.001.10.xsd")).toEqual({ valid: true, errors: [] });
    expect(plain.xml).not.toMatch(/<Purp>|<RgltryRptg>|<UltmtDbtr>/);
    const onshore = { ...platform, country: "CN", address: { ...platform.address, townName: "Shanghai", country: "CN" } };
    const domestic = pain001({ messageId: "M-3", createdAt: new Date("2026-12-20T09:30:00Z"), debtor: onshore, executionDate: "2026-12-20", transfers: transfers.slice(0, 1), instruction: { purpose: "GDDS", regulatoryReporting: { CN: { code: "CGODDR", info: "x" } }, ultimateDebtor: null } });
    expect(domestic.xml).not.toContain("<RgltryRptg>");
  });

  it("writes a Kosovo creditor's country as XK (its IBAN's and its bank's), valid against the schema", async () => {
    const xk: BankAccountRef = { holderName: "Dardania Trade", iban: "XK051212012345678906", accountNumber: null, bic: "RBKOXKPR", clearingSystem: null, clearingMember: null, country: "XK", address: { streetName: "Rruga UCK", buildingNumber: "51", postCode: "10000", townName: "Prishtina", countrySubDivision: null, country: "XK" } };
    const one = pain001({ messageId: "M-XK", createdAt: new Date("2026-12-20T09:30:00Z"), debtor: platform, executionDate: "2026-12-20", transfers: [{ endToEndId: "ENT-BP-XK", currency: "EUR", amount: 10_000n, creditor: xk, remittance: "r" }] });
    expect(one.xml).toContain("<TwnNm>Prishtina</TwnNm><Ctry>XK</Ctry></PstlAdr></Cdtr><CdtrAcct><Id><IBAN>XK051212012345678906</IBAN>");
    expect(await valid(one.xml, "pain.001.001.10.xsd")).toEqual({ valid: true, errors: [] });
  });

  it("the schema check sees the order: an address with its town after its country is refused", async () => {
    const swapped = file.xml.replace("<TwnNm>Shenzhen</TwnNm><CtrySubDvsn>Guangdong</CtrySubDvsn><Ctry>CN</Ctry>", "<Ctry>CN</Ctry><TwnNm>Shenzhen</TwnNm><CtrySubDvsn>Guangdong</CtrySubDvsn>");
    const r = await valid(swapped, "pain.001.001.10.xsd");
    expect(r.valid).toBe(false);
    expect(r.errors.join("\n")).toMatch(/TwnNm/);
  });
});

describe("camt.054 (bank rail confirmations)", () => {
  it("reads a real PostFinance camt.054.001.04 debit notification", () => {
    const doc = readCamt054(fixture("postfinance-camt.054.001.04-debit.xml"));
    expect(doc.version).toBe("camt.054.001.04");
    expect(doc.messageId).toBe("20190424375204222704046");
    expect(doc.entries).toEqual([
      {
        endToEndId: "20190424001255000100006",
        currency: "CHF",
        amount: 91_300n,
        side: "debit",
        status: "BOOK",
        reversal: false,
        returnReason: null,
        instructed: null,
        bookingDate: "2019-04-25",
        valueDate: "2019-04-25",
        bankReference: "074820002ZU1EQ0K",
        entry: { index: 1, currency: "CHF", amount: 91_300n },
        ownAmount: true,
        texts: [
          "074820002ZU1EQ0K",
          "20190424-000369773",
          "25-1120172999-2",
          "30003101",
          "20190424001255000100006",
          "GIRO POST CH5109000000250092291 Bernasconi Maria Place de la Gare 12 2502 Biel/Bienne SENDER REFERENZ: 30003101",
        ],
      },
    ]);
  });

  it("reads what the test bank writes, which is valid camt.054.001.08: conversions, returns, reversals", async () => {
    const xml = camt054({
      messageId: "BANK-1",
      account: debtor,
      entries: [
        { endToEndId: "ENT-BP-1", currency: "USD", amount: 170_012n, instructed: { currency: "CNY", amount: 1_234_567n }, rate: "0.1377" },
        { endToEndId: "ENT-BP-2", currency: "USD", amount: 6n, side: "credit", returnReason: "AC04" },
        { endToEndId: "ENT-BP-3", currency: "CNY", amount: 100n, reversal: true },
        { endToEndId: "ENT-BP-4", currency: "CNY", amount: 100n, status: "PDNG" },
      ],
    });
    expect(await valid(xml, "camt.054.001.08.xsd")).toEqual({ valid: true, errors: [] });
    const doc = readCamt054(xml);
    expect(doc.version).toBe("camt.054.001.08");
    expect(doc.entries.map((e) => [e.endToEndId, e.side, e.status, e.currency, e.amount, e.instructed, e.returnReason, e.reversal])).toEqual([
      ["ENT-BP-1", "debit", "BOOK", "USD", 170_012n, { currency: "CNY", amount: 1_234_567n }, null, false],
      ["ENT-BP-2", "credit", "BOOK", "USD", 6n, null, "AC04", false],
      ["ENT-BP-3", "debit", "BOOK", "CNY", 100n, null, null, true],
      ["ENT-BP-4", "debit", "PDNG", "CNY", 100n, null, null, false],
    ]);
  });

  it("reads a return net of the bank's itemised charges (TxDtls/Chrgs/Rcrd, the original in AmtDtls/InstdAmt), valid camt.054.001.08", async () => {
    const xml = camt054({
      messageId: "BANK-CHG",
      account: debtor,
      entries: [
        { endToEndId: "ENT-BP-0A1B2C3D-7", currency: "USD", amount: 19_168n, returnReason: "AC04", instructed: { currency: "USD", amount: 20_668n }, charges: [{ amount: 1_000n, type: "RETURN FEE" }, { amount: 500n }] },
        { endToEndId: "ENT-BP-0A1B2C3D-8", currency: "USD", amount: 15_000n, returnReason: "AC04", instructed: { currency: "CNY", amount: 150_400n }, rate: "0.1096", charges: [{ amount: 1_000n, side: null, included: null }] },
        { endToEndId: "ENT-BP-0A1B2C3D-9", currency: "USD", amount: 6n, returnReason: "AC04" },
      ],
    });
    expect(await valid(xml, "camt.054.001.08.xsd")).toEqual({ valid: true, errors: [] });
    expect(xml).toContain('<Chrgs><TtlChrgsAndTaxAmt Ccy="USD">15.00</TtlChrgsAndTaxAmt><Rcrd><Amt Ccy="USD">10.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><ChrgInclInd>true</ChrgInclInd>');
    const entries = readCamt054(xml).entries;
    expect(entries.map((e) => [e.amount, e.instructed, e.charges])).toEqual([
      [19_168n, { currency: "USD", amount: 20_668n }, [{ currency: "USD", amount: 1_000n, side: "debit", included: true }, { currency: "USD", amount: 500n, side: "debit", included: true }]],
      [15_000n, { currency: "CNY", amount: 150_400n }, [{ currency: "USD", amount: 1_000n, side: null, included: null }]],
      [6n, null, undefined],
    ]);
    // Without TxDtls/Amt, an InstdAmt in the account's currency is not the amount credited when
    // charges were taken: the entry's amount is.
    const bare = xml.replace(/(<EndToEndId>ENT-BP-0A1B2C3D-7<\/EndToEndId><\/Refs>)<Amt Ccy="USD">191.68<\/Amt><CdtDbtInd>CRDT<\/CdtDbtInd>/, "$1");
    expect(bare).not.toBe(xml);
    expect(await valid(bare, "camt.054.001.08.xsd")).toEqual({ valid: true, errors: [] });
    expect(readCamt054(bare).entries[0]!.amount).toBe(19_168n);
    expect(() => readCamt054(xml.replace('<Rcrd><Amt Ccy="USD">5.00</Amt>', "<Rcrd>"))).toThrow(/entry 1: Chrgs\/Rcrd without its Amt/);
  });

  it("streams: the same result from chunks cut anywhere", () => {
    const xml = fixture("postfinance-camt.054.001.04-debit.xml");
    const chunks = xml.match(/[\s\S]{1,7}/g)!;
    expect(readCamt054(chunks)).toEqual(readCamt054(xml));
  });

  it("expands no entity: a billion-laughs or an external-entity document is refused, nothing read", () => {
    const head = `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>`;
    const tail = `</MsgId></GrpHdr></BkToCstmrDbtCdtNtfctn></Document>`;
    const laughs = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>${head}&c;${tail}`;
    const external = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>${head}&x;${tail}`;
    expect(() => readCamt054(laughs)).toThrow(/undefined entity/);
    expect(() => readCamt054(external)).toThrow(/undefined entity/);
  });

  it("names what is wrong: another message, malformed XML, a bad amount", () => {
    expect(() => readCamt054(pain001({ messageId: "M", createdAt: new Date(), debtor, executionDate: "2026-12-04", transfers: [{ endToEndId: "E", currency: "USD", amount: 1n, creditor: munich, remittance: "r" }] }).xml)).toThrow(
      /not a camt\.054 .*root Document in "urn:iso:std:iso:20022:tech:xsd:pain\.001\.001\.10"/,
    );
    expect(() => readCamt054("<Document")).toThrow(BankMessageError);
    const bad = fixture("postfinance-camt.054.001.04-debit.xml").replace('<Amt Ccy="CHF">913.00</Amt>\n\t\t\t\t<CdtDbtInd>', '<Amt Ccy="CHF">9,13</Amt>\n\t\t\t\t<CdtDbtInd>');
    expect(() => readCamt054(bad)).toThrow(/amount "9,13" is not a valid CHF amount/);
    const negative = fixture("postfinance-camt.054.001.04-debit.xml").replace('<Amt Ccy="CHF">913.00</Amt>\n\t\t\t\t<CdtDbtInd>', '<Amt Ccy="CHF">-913.00</Amt>\n\t\t\t\t<CdtDbtInd>');
    expect(negative).not.toBe(fixture("postfinance-camt.054.001.04-debit.xml"));
    expect(() => readCamt054(negative)).toThrow(/amount "-913.00" is negative; a debit or credit is said by CdtDbtInd/);
  });
});

describe("camt.053 (the platform's bank statements)", () => {
  it("reads a real PostFinance camt.053.001.04: balances signed, entries with their references", () => {
    const m = readBankMessage(fixture("postfinance-camt.053.001.04.xml"), "camt.053");
    expect([m.kind, m.version, m.messageId]).toEqual(["camt.053", "camt.053.001.04", "20201124375204229003967"]);
    const [s] = m.reports;
    expect([s!.id, s!.sequence, s!.account]).toEqual(["20201124375204229003973", "118", "CH2909000000250094239"]);
    expect(s!.balances.map((b) => [b.type, b.amount])).toEqual([
      ["OPBD", 21_199_319n],
      ["CLBD", 21_511_221n],
      ["CLAV", 21_511_221n],
      ["FWAV", 21_664_921n],
    ]);
    // Entry 2 is booked DBIT with a detail saying CRDT: the entry's indicator is what moved the
    // balance (its closing is the opening + the entries but the 1,537.00 value-dated the next day).
    expect(s!.entries.map((e) => [e.side, e.amount])).toEqual([
      ["credit", 450n],
      ["debit", 7_770n],
      ["credit", 150_000n],
      ["credit", 153_700n],
      ["credit", 169_222n],
    ]);
    expect(s!.entries[3]!.texts).toContain("SAMMELGUTSCHRIFT ESR VERARBEITUNG VOM 24.11.2020 KUNDENNUMMER 01-429580-3 PAKET ID: 201124CH00000UR0");
    expect(() => readBankMessage(fixture("postfinance-camt.053.001.04.xml"), "camt.054")).toThrow(/not a camt\.054/);
    // The same statement under the .001.02 namespace (the version many banks still send) reads alike.
    const v02 = readBankMessage(fixture("postfinance-camt.053.001.04.xml").replaceAll("camt.053.001.04", "camt.053.001.02"), "camt.053");
    expect(v02.version).toBe("camt.053.001.02");
    expect(v02.reports).toEqual(m.reports);
  });

  it("writes statements valid against camt.053.001.08, with a debit opening balance, and reads them back", async () => {
    const xml = camt053({
      messageId: "S-1",
      statementId: "STMT-1",
      sequence: 7,
      account: { ...debtor },
      day: "2024-12-20",
      opening: -5_000n,
      entries: [
        { endToEndId: "NOTPROVIDED", currency: "USD", amount: 240_000n, side: "credit", remittanceInfo: "ADYEN PAYOUT demo-PO-BRL-2024-12-20" },
        { endToEndId: "ENT-BP-1", currency: "USD", amount: 10_774n },
      ],
    });
    expect(await valid(xml, "camt.053.001.08.xsd")).toEqual({ valid: true, errors: [] });
    const [s] = readBankMessage(xml).reports;
    expect(s!.balances.map((b) => [b.type, b.amount])).toEqual([
      ["OPBD", -5_000n],
      ["CLBD", -5_000n + 240_000n - 10_774n],
    ]);
    expect(s!.entries[0]!.texts).toContain("ADYEN PAYOUT demo-PO-BRL-2024-12-20");
    expect(s!.entries[1]!.endToEndId).toBe("ENT-BP-1");
  });
});

describe("bank entries and their transaction details", () => {
  const cf = (name: string) => readFileSync(new URL(`../cash/fixtures/${name}`, import.meta.url));

  it("takes a detail's own amount from Amt, AmtDtls/TxAmt (.001.02) or an InstdAmt in the entry's currency, else the entry's", () => {
    const [v02] = readBankMessage(cf("batch_v02.xml").toString("utf8"), "camt.053").reports;
    expect(v02!.entries.map((e) => [e.currency, e.amount, e.side, e.ownAmount, e.entry])).toEqual([
      ["USD", 6_000n, "credit", true, { index: 1, currency: "USD", amount: 10_000n }],
      ["USD", 4_000n, "credit", true, { index: 1, currency: "USD", amount: 10_000n }],
    ]);
    const [none] = readBankMessage(cf("batch_noamt.xml").toString("utf8"), "camt.053").reports;
    expect(none!.entries.map((e) => [e.amount, e.ownAmount, e.entry.index])).toEqual([
      [10_000n, false, 1],
      [10_000n, false, 1],
    ]);
    const instructedOnly = cf("batch_v02.xml").toString("utf8").replaceAll("<TxAmt>", "<InstdAmt>").replaceAll("</TxAmt>", "</InstdAmt>");
    expect(readBankMessage(instructedOnly, "camt.053").reports[0]!.entries.map((e) => [e.amount, e.ownAmount, e.instructed?.amount])).toEqual([
      [6_000n, true, 6_000n],
      [4_000n, true, 4_000n],
    ]);
    // An instructed amount in another currency is not what the account moved by.
    const foreign = instructedOnly.replaceAll('<Amt Ccy="USD">60.00</Amt>', '<Amt Ccy="EUR">55.00</Amt>');
    expect(readBankMessage(foreign, "camt.053").reports[0]!.entries.map((e) => [e.currency, e.amount, e.ownAmount])).toEqual([
      ["USD", 10_000n, false],
      ["USD", 4_000n, true],
    ]);
  });

  it("a camt.054 debit in .001.02 style (AmtDtls/TxAmt, the conversion in InstdAmt) reads as the rail needs it", () => {
    const xml = camt054({ messageId: "B-2", account: debtor, entries: [{ endToEndId: "ENT-BP-1", currency: "USD", amount: 170_012n, instructed: { currency: "CNY", amount: 1_234_567n } }] })
      .replace("camt.054.001.08", "camt.054.001.02")
      .replace(/(<TxDtls><Refs><EndToEndId>ENT-BP-1<\/EndToEndId><\/Refs>)<Amt Ccy="USD">1700.12<\/Amt><CdtDbtInd>DBIT<\/CdtDbtInd><AmtDtls>/, '$1<AmtDtls><TxAmt><Amt Ccy="USD">1700.12</Amt></TxAmt>')
      .replace('<Amt Ccy="USD">1700.12</Amt><CdtDbtInd>DBIT</CdtDbtInd><RvslInd>', '<Amt Ccy="USD">1700.15</Amt><CdtDbtInd>DBIT</CdtDbtInd><RvslInd>');
    expect(xml).toContain("<TxAmt>");
    const [e] = readCamt054(xml).entries;
    expect([e!.side, e!.currency, e!.amount, e!.instructed, e!.entry.amount]).toEqual(["debit", "USD", 170_012n, { currency: "CNY", amount: 1_234_567n }, 170_015n]);
  });

  it("decodes bytes as the BOM or the XML declaration says, and refuses an encoding it cannot read", () => {
    const latin1 = cf("latin1.xml");
    expect(latin1.includes(Buffer.from("CR\xC9DIT", "latin1"))).toBe(true);
    expect(readBankMessage(latin1, "camt.053").reports[0]!.entries[0]!.texts).toContain("KRW CR\u00C9DIT");
    const text = latin1.toString("latin1");
    const utf8 = Buffer.from(text.replace('encoding="ISO-8859-1"', 'encoding="UTF-8"'), "utf8");
    expect(readBankMessage(utf8, "camt.053").reports[0]!.entries[0]!.texts).toContain("KRW CR\u00C9DIT");
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text.replace('encoding="ISO-8859-1"', 'encoding="UTF-16"'), "utf16le")]);
    expect(readBankMessage(utf16, "camt.053").reports[0]!.entries[0]!.texts).toContain("KRW CR\u00C9DIT");
    const cp1252 = Buffer.from(text.replace('encoding="ISO-8859-1"', 'encoding="windows-1252"').replace("KRW CR\u00C9DIT", "KRW CR\u00C9DIT \x80"), "latin1");
    expect(readBankMessage(cp1252, "camt.053").reports[0]!.entries[0]!.texts).toContain("KRW CR\u00C9DIT \u20AC");
    expect(() => readBankMessage(Buffer.from(text.replace('encoding="ISO-8859-1"', 'encoding="EBCDIC-XYZ"'), "latin1"), "camt.053")).toThrow(/unsupported encoding "EBCDIC-XYZ"/);
    // Latin-1 bytes that claim to be UTF-8 are refused, not read with replacement characters.
    expect(() => readBankMessage(Buffer.from(text.replace('encoding="ISO-8859-1"', 'encoding="UTF-8"'), "latin1"), "camt.053")).toThrow(/not valid UTF-8/);
    expect(() => readBankMessage(Buffer.from(text.replace('<?xml version="1.0" encoding="ISO-8859-1"?>', ""), "latin1"), "camt.053")).toThrow(/not valid UTF-8/);
    // A charset given beside the document (HTTP Content-Type) wins over its declaration (RFC 7303).
    expect(readBankMessage(utf8, "camt.053", { charset: "utf-8" }).reports[0]!.entries[0]!.texts).toContain("KRW CR\u00C9DIT");
    expect(() => readBankMessage(latin1, "camt.053", { charset: "koi8-x" })).toThrow(/unsupported encoding "koi8-x"/);
  });
});
