/**
 * What a demanding bank or payment institution asks of the pain.001 since Swift CBPR+ stopped
 * carrying unstructured-only addresses (November 2026): every seller's account carries its holder's
 * structured address (required on a PUT, each field within its ISO 20022 length and in the CBPR+
 * character set, 400 naming it), stored and written in Cdtr/PstlAdr beside the platform's own
 * (Dbtr/PstlAdr); an account stored before addresses were required is skipped, never sent without
 * one; each transfer carries its purpose (Purp/Cd), a transfer to a beneficiary in mainland China the
 * regulatory reporting configured for it (and no other), and each payment block the ultimate debtor
 * when the platform pays through a payment institution's account. The file is valid against the
 * published schema.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { loadConfig } from "../../service/config.js";
import { bankKit, CN_ACCOUNT, HK_ACCOUNT, SZ_ADDRESS, type BankPayoutJson } from "../support/bank.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, publishDayRates, type Harness } from "../http/harness.js";

const kinds = await testDatabaseKinds();
const xsd = readFileSync(new URL("../fixtures/iso20022/pain.001.001.10.xsd", import.meta.url), "utf8");
/** The published schema's complaints about a pain.001 (none: valid). */
async function schemaErrors(xml: string): Promise<string[]> {
  const r = await validateXML({ xml: [{ fileName: "doc.xml", contents: xml }], schema: [{ fileName: "pain.001.001.10.xsd", contents: xsd }] });
  return r.valid ? [] : r.errors.map((e) => e.rawMessage);
}
const NB_ACCOUNT = { holderName: "Ningbo Kitchenware Co., Ltd.", accountNumber: "3901110009000123456", bic: "BKCHCNBJ92A", clearingSystem: "CNAPS", clearingMember: "104332000019", country: "CN" };
const NB_ADDRESS = { streetName: "Zhongshan East Road", buildingNumber: "1288", postCode: "315040", townName: "Ningbo", countrySubDivision: "Zhejiang" };

interface ProblemJson {
  errors: Array<{ field: string; message: string }>;
}
interface RunJson {
  file: { id: string } | null;
  payouts: Array<BankPayoutJson & { account: { address: unknown } }>;
  skipped: Array<{ sellerId: string; reason: string; detail?: string }>;
}

describe.each(kinds)("a pain.001 a payment institution accepts after November 2026, on %s", (kind) => {
  let h: Harness;
  let dir: string;
  let financeWrite: IssuedKey;
  const { sale, remit, fileOf } = bankKit(() => ({ h, financeWrite }));
  const put = (seller: string, body: object) => h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: body, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
  const run = async () => {
    const r = await h.post("/v1/payouts/bank/runs", {}, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    return json<RunJson>(r);
  };
  /** The transaction of `endToEndId` in the file. */
  const txOf = (xml: string, endToEndId: string) => {
    const at = xml.indexOf(`<EndToEndId>${endToEndId}</EndToEndId>`);
    expect(at, endToEndId).toBeGreaterThan(0);
    return xml.slice(at, xml.indexOf("</CdtTrfTxInf>", at));
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-adr-"));
    h = await openHarness({
      kind,
      env: {
        BANK_OUTBOX_DIR: join(dir, "outbox"),
        BANK_INBOX_DIR: join(dir, "inbox"),
        BANK_REGULATORY_REPORTING_CN: "CGODDR:Cross-border goods trade",
        BANK_ULTIMATE_DEBTOR_NAME: "Entrepot Marketplace Ltd",
        BANK_ACCOUNT_NAME: "Harbour Payments (HK) Ltd",
      },
    });
    await publishDayRates(h);
    financeWrite = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("requires the holder's address on a PUT and refuses a bad field, naming it (400)", async () => {
    const { address: _, ...withoutAddress } = CN_ACCOUNT;
    const missing = await put("S-POP-SZ-01", withoutAddress);
    expect(missing.statusCode, missing.body).toBe(400);
    expect(json<ProblemJson>(missing).errors.map((e) => e.field).join(" ")).toMatch(/address/);
    const bad = async (address: object, field: string, message: RegExp) => {
      const r = await put("S-POP-SZ-01", { ...CN_ACCOUNT, address });
      expect(r.statusCode, `${JSON.stringify(address)}: ${r.body}`).toBe(400);
      const errors = json<ProblemJson>(r).errors;
      // A nullable field's schema refusal is reported once per branch of its type: one field all the same.
      expect([...new Set(errors.map((e) => e.field.replace(/^body\./, "").replace(/\//g, ".")))], JSON.stringify(address)).toEqual([field]);
      expect(errors[0]!.message).toMatch(message);
    };
    const { townName: __, ...noTown } = SZ_ADDRESS;
    await bad(noTown, "address.townName", /townName|required/);
    await bad({ ...SZ_ADDRESS, townName: "S".repeat(36) }, "address.townName", /35/);
    await bad({ ...SZ_ADDRESS, streetName: "K".repeat(71) }, "address.streetName", /70/);
    await bad({ ...SZ_ADDRESS, postCode: "5".repeat(17) }, "address.postCode", /16/);
    await bad({ ...SZ_ADDRESS, buildingNumber: "1".repeat(17) }, "address.buildingNumber", /16/);
    await bad({ ...SZ_ADDRESS, countrySubDivision: "G".repeat(36) }, "address.countrySubDivision", /35/);
    // The Swift CBPR+ character set: a Chinese address is given in pinyin or English.
    await bad({ ...SZ_ADDRESS, streetName: "科技南十二路" }, "address.streetName", /pinyin or English/);
    await bad({ ...SZ_ADDRESS, townName: "Shenzhen\u0000" }, "address.townName", /.+/);
    await bad({ ...SZ_ADDRESS, country: "ZZ" }, "address.country", /ISO 3166/);
    await bad({ ...SZ_ADDRESS, townName: "   " }, "address.townName", /35/);
  });

  it("stores the address as given (its country the account's when left out) and shows it", async () => {
    const { country: _, ...noCountry } = SZ_ADDRESS;
    const r = await put("S-POP-SZ-01", { ...CN_ACCOUNT, address: { ...noCountry, streetName: "  Keji South 12th Road " } });
    expect(r.statusCode, r.body).toBe(200);
    expect(json<{ address: unknown }>(r).address).toEqual(SZ_ADDRESS);
    expect(json<{ address: unknown }>(await h.get("/v1/sellers/S-POP-SZ-01/bank-account")).address).toEqual(SZ_ADDRESS);
    const [row] = await h.db.sql.q<Array<Record<string, unknown>>>(
      `SELECT address_street_name, address_building_number, address_post_code, address_town_name, address_country_sub_division, address_country FROM payout_bank_accounts WHERE seller_id = 'S-POP-SZ-01'`,
    );
    expect(row).toEqual({ address_street_name: "Keji South 12th Road", address_building_number: "18", address_post_code: "518057", address_town_name: "Shenzhen", address_country_sub_division: "Guangdong", address_country: "CN" });
    expect((await put("S-POP-HK-02", HK_ACCOUNT)).statusCode).toBe(200);
    // An address given to an account on file changes it (the same details otherwise are not "unchanged").
    expect((await put("S-OVS-NB-01", { ...NB_ACCOUNT, address: { ...NB_ADDRESS, buildingNumber: "1" } })).statusCode).toBe(200);
    const moved = await put("S-OVS-NB-01", { ...NB_ACCOUNT, address: NB_ADDRESS });
    expect(json<{ address: { buildingNumber: string } }>(moved).address.buildingNumber).toBe("1288");
  });

  it("skips an account stored before addresses were required (address_missing, naming what to do) and pays the others with theirs, purpose, CN reporting and ultimate debtor", async () => {
    // As migration 20261220150000 left a row set before it: no address.
    await h.db.sql.q(
      `UPDATE payout_bank_accounts SET address_street_name = NULL, address_building_number = NULL, address_post_code = NULL, address_town_name = NULL,
         address_country_sub_division = NULL, address_country = NULL WHERE seller_id = 'S-POP-HK-02'`,
    );
    expect(json<{ address: unknown }>(await h.get("/v1/sellers/S-POP-HK-02/bank-account")).address).toBeNull();
    for (const seller of ["S-POP-SZ-01", "S-POP-HK-02"]) await sale(seller, "149900");
    await remit("ADY-PO-ADR-1");

    const first = await run();
    expect(first.skipped).toContainEqual({ sellerId: "S-POP-HK-02", reason: "address_missing", detail: expect.stringMatching(/PUT \/v1\/sellers\/S-POP-HK-02\/bank-account again with its "address"/) as unknown });
    expect(first.payouts.map((p) => p.sellerId)).toEqual(["S-POP-SZ-01"]);
    const cny = first.payouts[0]!;
    // The payout keeps the address it was instructed with.
    expect(cny.account.address).toEqual(SZ_ADDRESS);
    const xml = await fileOf(cny);
    expect(await schemaErrors(xml)).toEqual([]);
    const sz = txOf(xml, cny.endToEndId);
    expect(sz).toContain(
      "<Cdtr><Nm>Shenzhen Gadget Works Co., Ltd.</Nm><PstlAdr><StrtNm>Keji South 12th Road</StrtNm><BldgNb>18</BldgNb><PstCd>518057</PstCd><TwnNm>Shenzhen</TwnNm><CtrySubDvsn>Guangdong</CtrySubDvsn><Ctry>CN</Ctry></PstlAdr></Cdtr>",
    );
    expect(sz).toContain("</CdtrAcct><Purp><Cd>GDDS</Cd></Purp><RgltryRptg><DbtCdtRptgInd>CRED</DbtCdtRptgInd><Dtls><Ctry>CN</Ctry><Cd>CGODDR</Cd><Inf>Cross-border goods trade</Inf></Dtls></RgltryRptg><RmtInf>");
    // The platform (the demo's Hong Kong office) and, the account being the payment institution's, the marketplace as ultimate debtor.
    expect(xml).toContain("<Dbtr><Nm>Harbour Payments (HK) Ltd</Nm><PstlAdr><StrtNm>Connaught Road Central</StrtNm><BldgNb>18</BldgNb><TwnNm>Hong Kong</TwnNm><Ctry>HK</Ctry></PstlAdr></Dbtr>");
    expect(xml).toContain("</DbtrAgt><UltmtDbtr><Nm>Entrepot Marketplace Ltd</Nm></UltmtDbtr><ChrgBr>SHAR</ChrgBr>");

    // Set again with its address (the same account otherwise): the next run pays it, with the address,
    // the purpose, and no mainland reporting for a Hong Kong beneficiary.
    const again = await put("S-POP-HK-02", HK_ACCOUNT);
    expect(json<{ address: unknown }>(again).address).toEqual(HK_ACCOUNT.address);
    const next = await run();
    expect(next.skipped.filter((s) => s.sellerId === "S-POP-HK-02")).toEqual([]);
    const usd = next.payouts.find((p) => p.sellerId === "S-POP-HK-02")!;
    const nextXml = await fileOf(usd);
    expect(await schemaErrors(nextXml)).toEqual([]);
    const hk = txOf(nextXml, usd.endToEndId);
    expect(hk).toContain("<Cdtr><Nm>Kowloon Stationery Ltd</Nm><PstlAdr><StrtNm>Nathan Road</StrtNm><BldgNb>238</BldgNb><TwnNm>Kowloon</TwnNm><Ctry>HK</Ctry></PstlAdr></Cdtr>");
    expect(hk).toContain("</CdtrAcct><Purp><Cd>GDDS</Cd></Purp><RmtInf>");
    expect(hk).not.toContain("RgltryRptg");
    expect(problemCode(await h.get("/v1/sellers/S-NOPE/bank-account"))).toBe("ENT_PAYOUT_SELLER_NOT_FOUND");
  });
});

describe("the bank rail's instruction settings", () => {
  it("writes the purpose GDDS by default, and neither regulatory reporting nor an ultimate debtor unless configured", () => {
    const bank = loadConfig({ LOG_LEVEL: "silent" }).bank;
    expect(bank.instruction).toEqual({ purpose: "GDDS", regulatoryReporting: {}, ultimateDebtor: null });
    expect(bank.account.address).toEqual({ streetName: "Connaught Road Central", buildingNumber: "18", postCode: null, townName: "Hong Kong", countrySubDivision: null, country: "HK" });
    const set = loadConfig({ LOG_LEVEL: "silent", BANK_PURPOSE_CODE: "SUPP", BANK_REGULATORY_REPORTING_CN: "CGODDR:Cross-border goods trade", BANK_ULTIMATE_DEBTOR_NAME: "Entrepot Marketplace Ltd" }).bank;
    expect(set.instruction).toEqual({ purpose: "SUPP", regulatoryReporting: { CN: { code: "CGODDR", info: "Cross-border goods trade" } }, ultimateDebtor: "Entrepot Marketplace Ltd" });
    expect(loadConfig({ LOG_LEVEL: "silent", BANK_PURPOSE_CODE: "none" }).bank.instruction.purpose).toBeNull();
  });

  it("refuses a bad setting at boot, naming it; a configured account names its own town", () => {
    expect(() => loadConfig({ BANK_PURPOSE_CODE: "goods" })).toThrow(/BANK_PURPOSE_CODE/);
    expect(() => loadConfig({ BANK_REGULATORY_REPORTING_CN: "CGODDR" })).toThrow(/BANK_REGULATORY_REPORTING_CN/);
    expect(() => loadConfig({ BANK_ULTIMATE_DEBTOR_NAME: "深圳" })).toThrow(/BANK_ULTIMATE_DEBTOR_NAME/);
    expect(() => loadConfig({ BANK_ACCOUNT_COUNTRY: "DE", BANK_ACCOUNT_IBAN: "DE89370400440532013000" })).toThrow(/BANK_ACCOUNT_TOWN/);
    expect(() => loadConfig({ BANK_ACCOUNT_TOWN: "T".repeat(36) })).toThrow(/BANK_ACCOUNT_TOWN/);
    const de = loadConfig({ BANK_ACCOUNT_COUNTRY: "DE", BANK_ACCOUNT_TOWN: "Frankfurt am Main", BANK_ACCOUNT_POST_CODE: "60311" }).bank.account.address;
    expect(de).toEqual({ streetName: null, buildingNumber: null, postCode: "60311", townName: "Frankfurt am Main", countrySubDivision: null, country: "DE" });
  });
});
