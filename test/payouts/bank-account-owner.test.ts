/**
 * A seller's bank account is tied to that seller, as the payment institution paying them requires:
 * one account is one seller's (the same IBAN or account number at the same bank, however written;
 * two sellers given it at once cannot both have it: PostgreSQL, two PUTs racing), the account's
 * country is its IBAN's and its bank's (with the territories that use another country's IBANs),
 * and the holder's name is compared with the seller's registered name (Verification of Payee):
 * anything but a match is set only when the admin confirms it, and the result is kept with the
 * account. Rows from before, which may share an account, are shown as such.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LightMyRequestResponse } from "fastify";
import { BankRail } from "../../service/payouts/index.js";
import { assignDemoBankAccounts, DEMO_BANK_ACCOUNTS } from "../../service/payouts/bank/demo-bank.js";
import { LeaseStore } from "../../service/leader/lease-store.js";
import { addressIn, CN_ACCOUNT, HK_ACCOUNT } from "../support/bank.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, type Harness } from "../http/harness.js";

const kinds = await testDatabaseKinds();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface AccountJson {
  sellerId: string;
  accountNumber: string | null;
  setAt: string;
  holderNameCheck: { result: string; sellerName: string; confirmed: boolean; scriptMismatch: boolean } | null;
  sharedWith: string[];
}
interface ProblemJson {
  detail: string;
  errors: Array<{ field: string; message: string }>;
  details: Record<string, unknown>;
}

// Valid IBANs (check digits): Germany, France (its territories use it), the United Kingdom (Jersey, Guernsey and the Isle of Man use it).
const DE_IBAN = "DE89370400440532013000";
const FR_IBAN = "FR1420041010050500013M02606";
const GB_IBAN = "GB29NWBK60161331926819";
// Kosovo (XK: in the SWIFT IBAN registry and its banks' BICs, not assigned by ISO 3166-1), 20 characters, check digits 05 (98 - "1212012345678906XK00" mod 97).
const XK_IBAN = "XK051212012345678906";

describe.each(kinds)("a bank account tied to its seller on %s", (kind) => {
  let h: Harness;
  let dir: string;
  const put = (seller: string, body: object) => h.app.inject({ method: "PUT", url: `/v1/sellers/${seller}/bank-account`, payload: body, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
  const get = async (seller: string) => json<AccountJson>(await h.get(`/v1/sellers/${seller}/bank-account`));
  const del = (seller: string) => h.app.inject({ method: "DELETE", url: `/v1/sellers/${seller}/bank-account`, headers: { authorization: `Bearer ${h.keys.admin.key}` } });
  const refused = (r: LightMyRequestResponse, status: number, code: string) => {
    expect([r.statusCode, problemCode(r)], r.body).toEqual([status, code]);
    return json<ProblemJson>(r);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "entrepot-bank-owner-"));
    h = await openHarness({ kind, env: { BANK_OUTBOX_DIR: join(dir, "outbox"), BANK_INBOX_DIR: join(dir, "inbox") } });
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("sets the demo's accounts (npm start) as they are: each its seller's own, in its bank's country, under the seller's name", async () => {
    expect(await assignDemoBankAccounts(h.services.bank!)).toBe(DEMO_BANK_ACCOUNTS.length);
    for (const { sellerId } of DEMO_BANK_ACCOUNTS) {
      expect(await get(sellerId), sellerId).toMatchObject({ sharedWith: [], holderNameCheck: { result: "match", confirmed: false } });
    }
  });

  it("refuses another seller's account (409 naming the field and that seller), however it is written, and only at the same bank", async () => {
    expect((await put("S-POP-SZ-01", CN_ACCOUNT)).statusCode).toBe(200);
    // The same number at the same bank (its branch BIC, another clearing entry), with separators, under the other seller's own name.
    const same = { holderName: "Guangzhou Apparel Factory Co., Ltd.", accountNumber: "6222-0212-3456-7890-123", bic: "icbkcnbjxxx", country: "CN", address: addressIn("Guangzhou", "CN") };
    const p = refused(await put("S-FULL-GZ-01", same), 409, "ENT_PAYOUT_BANK_ACCOUNT_IN_USE");
    expect(p.errors.map((e) => e.field)).toEqual(["accountNumber"]);
    expect(p.details).toMatchObject({ field: "accountNumber", sellerId: "S-POP-SZ-01" });
    expect(p.detail).toContain("S-POP-SZ-01");
    // Refused: the seller's account on file (the demo's) is untouched.
    expect((await get("S-FULL-GZ-01")).accountNumber).toBe("4400150401234567890");
    // The same number at another bank is another account.
    expect((await put("S-FULL-GZ-01", { ...same, bic: "PCBCCNBJGDX" })).statusCode).toBe(200);
    // An IBAN: spaces and case aside.
    expect((await put("S-OVS-NB-01", { holderName: "Ningbo Kitchenware Co., Ltd.", iban: DE_IBAN, bic: "COBADEFFXXX", country: "DE", address: addressIn("Frankfurt am Main", "DE") })).statusCode).toBe(200);
    const iban = refused(await put("S-SEMI-HZ-01", { holderName: "Hangzhou Outdoor Gear (HK) Ltd", iban: "de89 3704 0044 0532 0130 00", bic: "COBADEFF", country: "DE", address: addressIn("Hangzhou", "CN") }), 409, "ENT_PAYOUT_BANK_ACCOUNT_IN_USE");
    expect([iban.errors.map((e) => e.field), iban.details["sellerId"]]).toEqual([["iban"], "S-OVS-NB-01"]);
    // The seller's own account set again is its own; once it is off the first seller, the other may have it.
    expect((await put("S-POP-SZ-01", CN_ACCOUNT)).statusCode).toBe(200);
    expect((await del("S-OVS-NB-01")).statusCode).toBe(204);
    expect((await put("S-SEMI-HZ-01", { holderName: "Hangzhou Outdoor Gear (HK) Ltd", iban: DE_IBAN, bic: "COBADEFF", country: "DE", address: addressIn("Hangzhou", "CN") })).statusCode).toBe(200);
    expect((await get("S-SEMI-HZ-01")).sharedWith).toEqual([]);
  });

  it("shows an account two sellers already shared before the rule (GET sharedWith), and refuses writing it again", async () => {
    // A row written before this rule (and before the holder's name was checked): straight into the table.
    expect((await put("S-POP-HK-02", HK_ACCOUNT)).statusCode).toBe(200);
    await h.db.sql.q(
      `INSERT INTO payout_bank_accounts (seller_id, holder_name, account_number, bic, country, set_by) VALUES ('S-OVS-NB-01', 'Ningbo Kitchenware', '012345678001', 'HSBCHKHH', 'HK', 'before')`,
    );
    expect(await get("S-POP-HK-02")).toMatchObject({ sharedWith: ["S-OVS-NB-01"], holderNameCheck: { result: "match", sellerName: "Kowloon Stationery Ltd", confirmed: false } });
    expect(await get("S-OVS-NB-01")).toMatchObject({ sharedWith: ["S-POP-HK-02"], holderNameCheck: null });
    const again = refused(await put("S-POP-HK-02", HK_ACCOUNT), 409, "ENT_PAYOUT_BANK_ACCOUNT_IN_USE");
    expect(again.details).toMatchObject({ sellerId: "S-OVS-NB-01", sellerIds: ["S-OVS-NB-01"] });
    // Resolved by taking it off one of them.
    expect((await del("S-OVS-NB-01")).statusCode).toBe(204);
    expect((await get("S-POP-HK-02")).sharedWith).toEqual([]);
  });

  it("holds the country to the IBAN's and the BIC's, territories using another country's IBAN included (400 naming the field)", async () => {
    const seller = "S-SEMI-HZ-01";
    const holderName = "Hangzhou Outdoor Gear (HK) Ltd";
    const bad = async (body: object, field: string, message: RegExp) => {
      const p = refused(await put(seller, { holderName, address: addressIn("Hangzhou", "CN"), ...body }), 400, "ENT_PAYOUT_INVALID_REQUEST");
      expect(p.errors.map((e) => e.field), JSON.stringify(body)).toEqual([field]);
      expect(p.errors[0]!.message).toMatch(message);
    };
    await bad({ iban: DE_IBAN, clearingMember: "37040044", country: "FR" }, "country", /IBAN starting DE is an account in DE$/);
    await bad({ iban: FR_IBAN, clearingMember: "20041", country: "DE" }, "country", /FR, GF, GP, MQ, RE/);
    await bad({ iban: GB_IBAN, bic: "NWBKGB2L", country: "IE" }, "country", /IBAN starting GB/);
    await bad({ accountNumber: "6222021234567890123", bic: "HSBCHKHH", clearingSystem: "CNAPS", clearingMember: "102584002170", country: "CN" }, "bic", /HSBCHKHH is a bank in HK/);
    await bad({ iban: DE_IBAN, bic: "BNPAFRPP", country: "DE" }, "bic", /bank in FR/);
    // A bank in Réunion is not a bank in mainland France.
    await bad({ iban: FR_IBAN, bic: "BNPARERX", country: "FR" }, "bic", /bank in RE/);
    for (const ok of [
      { iban: FR_IBAN, bic: "BNPARERX", country: "RE" }, // Réunion: an FR IBAN at a bank with an RE BIC
      { iban: FR_IBAN, bic: "BNPAFRPP", country: "GP" }, // Guadeloupe: at a French bank's FR BIC
      { iban: FR_IBAN, clearingMember: "14889", country: "NC" }, // New Caledonia
      { iban: GB_IBAN, bic: "RBOSJESH", country: "JE" }, // Jersey: a GB IBAN
      { iban: GB_IBAN, bic: "NWBKGB2L", country: "IM" },
      { accountNumber: "123456789", bic: "BNPAFRPP", country: "MC" }, // Monaco, at a French bank (the EPC's IBAN/BIC relation)
      { iban: DE_IBAN, bic: "COBADEFFXXX", country: "DE" },
      { iban: "XK05 1212 0123 4567 8906", bic: "RBKOXKPR", country: "XK" }, // Kosovo: its IBAN and its bank's BIC carry XK
    ]) {
      const r = await put(seller, { holderName, address: addressIn("Hangzhou", "CN"), ...ok });
      expect(r.statusCode, `${JSON.stringify(ok)}: ${r.body}`).toBe(200);
    }
  });

  it("takes a Kosovo account (XK, as the IBAN registry, BICs and the pain.001 write it) with its address there, and still refuses an unassigned code", async () => {
    const seller = "S-SEMI-HZ-01";
    const body = { holderName: "Hangzhou Outdoor Gear (HK) Ltd", iban: XK_IBAN, bic: "RBKOXKPR", country: "XK", address: addressIn("Prishtina", "XK") };
    const r = await put(seller, body);
    expect(r.statusCode, r.body).toBe(200);
    expect(json<{ iban: string; country: string; address: { country: string } }>(r)).toMatchObject({ iban: XK_IBAN, country: "XK", address: { country: "XK" } });
    // The address's country left out is the account's.
    expect(json<{ address: { country: string } }>(await put(seller, { ...body, address: { townName: "Prizren" } })).address.country).toBe("XK");
    // A check digit off is still refused, as is a code no one assigned.
    expect(refused(await put(seller, { ...body, iban: "XK061212012345678906" }), 400, "ENT_PAYOUT_INVALID_REQUEST").errors.map((e) => e.field)).toEqual(["iban"]);
    expect(refused(await put(seller, { ...body, country: "XX", iban: null, accountNumber: "1212012345678906", bic: null, clearingMember: "1212" }), 400, "ENT_PAYOUT_INVALID_REQUEST").errors.map((e) => e.field)).toEqual(["country"]);
  });

  it("compares the holder's name with the seller's registered name: a close or no match is set only when confirmed, and the result is kept", async () => {
    const seller = "S-FULL-GZ-01"; // registered as "Guangzhou Apparel Factory"
    const acct = { accountNumber: "4400150401234567890", bic: "PCBCCNBJGDX", clearingSystem: "CNAPS", clearingMember: "105581000017", country: "CN", address: addressIn("Guangzhou", "CN") };
    const matched = await put(seller, { ...acct, holderName: "GUANGZHOU APPAREL FACTORY CO., LTD." });
    expect(matched.statusCode, matched.body).toBe(200);
    expect(json<AccountJson>(matched).holderNameCheck).toEqual({ result: "match", sellerName: "Guangzhou Apparel Factory", confirmed: false, scriptMismatch: false });
    for (const [holderName, result] of [["Guangzhou Apparel Co., Ltd.", "close_match"], ["Guangzhou Aparel Factory", "close_match"], ["Li Wei", "no_match"], ["广州服装厂有限公司", "no_match"]] as const) {
      for (const confirmHolderName of [undefined, false]) {
        const p = refused(await put(seller, { ...acct, holderName, ...(confirmHolderName === undefined ? {} : { confirmHolderName }) }), 409, "ENT_PAYOUT_BANK_HOLDER_NAME_MISMATCH");
        expect(p.errors.map((e) => e.field)).toEqual(["holderName"]);
        // A name in Chinese characters against the Latin registered name: the answer says why it cannot match.
        const scriptMismatch = holderName === "广州服装厂有限公司";
        expect(p.details).toEqual({ holderName, sellerName: "Guangzhou Apparel Factory", result, scriptMismatch });
        expect(p.detail).toContain("confirmHolderName");
        if (scriptMismatch) expect(p.detail).toMatch(/another script \(Han, the registered name Latin\)/);
        else expect(p.detail).not.toMatch(/script/);
      }
    }
    // Refused: the account on file is still the matching one.
    expect(await get(seller)).toMatchObject({ holderNameCheck: { result: "match", confirmed: false } });
    const confirmed = await put(seller, { ...acct, holderName: "Li Wei", confirmHolderName: true });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const onFile = await get(seller);
    expect(onFile).toMatchObject({ holderName: "Li Wei", holderNameCheck: { result: "no_match", sellerName: "Guangzhou Apparel Factory", confirmed: true, scriptMismatch: false } });
    // Sent again as confirmed: nothing changes. Without the confirmation: refused, as any other time.
    expect(json<AccountJson>(await put(seller, { ...acct, holderName: "Li Wei", confirmHolderName: true })).setAt).toBe(onFile.setAt);
    refused(await put(seller, { ...acct, holderName: "Li Wei" }), 409, "ENT_PAYOUT_BANK_HOLDER_NAME_MISMATCH");
    // Confirmed in Chinese characters, it is kept saying why it needed the confirmation.
    const han = await put(seller, { ...acct, holderName: "广州服装厂有限公司", confirmHolderName: true });
    expect(json<AccountJson>(han).holderNameCheck).toEqual({ result: "no_match", sellerName: "Guangzhou Apparel Factory", confirmed: true, scriptMismatch: true });
    expect((await get(seller)).holderNameCheck).toMatchObject({ scriptMismatch: true });
    // Back to the registered name: a match, nothing to confirm.
    const back = await put(seller, { ...acct, holderName: "Guangzhou Apparel Factory", confirmHolderName: true });
    expect(json<AccountJson>(back).holderNameCheck).toEqual({ result: "match", sellerName: "Guangzhou Apparel Factory", confirmed: false, scriptMismatch: false });
  });

  // Only PostgreSQL has two sessions to race (PGlite serves one at a time): registered there alone, never skipped.
  if (kind === "postgres") it("lets one of two sellers given the same account at once have it: the other is refused (PUTs racing)", async () => {
    // Seller A's PUT is held inside its transaction, after it found the account free and before it
    // writes; seller B's PUT of the same account, meanwhile, must wait for it and then be refused.
    let reached!: () => void;
    const inside = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const a = new BankRail({
      sql: h.db.sql,
      ledger: h.services.ledger,
      sellers: h.services.settlement,
      leases: new LeaseStore(h.db.sql),
      debtor: { ...h.config.bank.account, clearingSystem: null, clearingMember: null },
      outbox: h.config.bank.outbox,
      inbox: h.config.bank.inbox,
      minAmount: h.config.bank.minAmount,
      owner: "instance-A",
      hooks: {
        at: async (step, c) => {
          if (step !== "account" || c.sellerId !== "S-POP-SZ-01") return;
          reached();
          await released;
        },
      },
    });
    const shared = { accountNumber: "6217000010001234567", bic: "PCBCCNBJ", clearingSystem: "CNAPS", clearingMember: "105100000017", country: "CN", address: addressIn("Beijing", "CN") };
    const first = a.setAccount("S-POP-SZ-01", { ...shared, holderName: "Shenzhen Gadget Works" }, "test").then(() => 200, (e: { statusCode?: number }) => e.statusCode ?? 500);
    await Promise.race([inside, first]);
    const second = put("S-OVS-NB-01", { ...shared, holderName: "Ningbo Kitchenware" }).then((r) => r);
    const early = await Promise.race([second.then(() => "answered"), sleep(400).then(() => "waiting")]);
    release();
    const [one, two] = await Promise.all([first, second]);
    expect([one, two.statusCode], two.body).toEqual([200, 409]);
    expect(problemCode(two)).toBe("ENT_PAYOUT_BANK_ACCOUNT_IN_USE");
    expect(early).toBe("waiting");
    expect(json<ProblemJson>(two).details).toMatchObject({ sellerId: "S-POP-SZ-01" });
  });
});
