/**
 * The holder's name against the seller's registered name, as Verification of Payee compares them
 * (service/payouts/bank/holder-name.ts; the rule is in the README's bank rail section), and the
 * countries an IBAN or a BIC may be an account in (service/payouts/bank/countries.ts).
 */
import { describe, expect, it } from "vitest";
import { holderNameMatch, holderNameScriptMismatch, holderNameScripts, holderNameWords } from "../../service/payouts/bank/holder-name.js";
import { bicFitsCountry, ibanFitsCountry, isCountry } from "../../service/payouts/bank/countries.js";
import { ibanValid } from "../../service/payouts/bank/rail.js";

describe("holder's name vs the seller's registered name", () => {
  it.each([
    // Case, punctuation, spacing, accents and full-width forms aside; the legal form at the end dropped.
    ["Shenzhen Gadget Works Co., Ltd.", "Shenzhen Gadget Works", "match"],
    ["KOWLOON STATIONERY LIMITED", "Kowloon Stationery Ltd", "match"],
    ["Isar Gadgets G.m.b.H.", "Isar Gadgets GmbH", "match"],
    ["Müller & Söhne GmbH", "Muller and Sohne", "match"],
    ["ＳＨＥＮＺＨＥＮ　ＧＡＤＧＥＴ　ＷＯＲＫＳ　ＣＯ．，ＬＴＤ．", "Shenzhen Gadget Works", "match"],
    ["深圳市小工具有限公司", "深圳市小工具", "match"],
    ["深圳市小工具股份有限公司", "深圳市小工具有限公司", "match"],
    // Close: another order, a word more or less (two words at least in common), a typo.
    ["Wang Wei", "Wei Wang", "close_match"],
    ["Kowloon Stationery Trading Ltd", "Kowloon Stationery Ltd", "close_match"],
    ["Shenzen Gadget Works", "Shenzhen Gadget Works", "close_match"],
    // No match: another name, one word in common, another script, a short name one letter off.
    ["Ningbo Kitchenware Co., Ltd.", "Shenzhen Gadget Works", "no_match"],
    ["Shenzhen Trading", "Shenzhen Gadget Works", "no_match"],
    ["深圳市小工具有限公司", "Shenzhen Gadget Works", "no_match"],
    ["Li Na", "Li Xu", "no_match"],
    ["Ltd", "Limited", "no_match"],
  ] as const)("%s vs %s: %s", (holder, registered, result) => {
    expect(holderNameMatch(holder, registered)).toBe(result);
    expect(holderNameMatch(registered, holder)).toBe(result);
  });

  it.each([
    // Different scripts: never a match, and the answer says why.
    ["深圳市小工具有限公司", "Shenzhen Gadget Works", true],
    ["廣州服裝廠", "Guangzhou Apparel Factory", true],
    ["Иван Петров", "Ivan Petrov", true],
    ["ＳＨＥＮＺＨＥＮ　ＧＡＤＧＥＴ", "Shenzhen Gadget", false], // full-width Latin is Latin
    // A script in common (a mixed name), the same script, or a name without letters: no mismatch to tell.
    ["深圳 Gadget Works", "Shenzhen Gadget Works", false],
    ["深圳市小工具", "深圳市小工具有限公司", false],
    ["Müller", "Li Wei", false],
    ["12345", "Shenzhen Gadget Works", false],
  ] as const)("%s vs %s: scripts differ %s", (holder, registered, mismatch) => {
    expect(holderNameScriptMismatch(holder, registered)).toBe(mismatch);
    expect(holderNameScriptMismatch(registered, holder)).toBe(mismatch);
    if (mismatch) expect(holderNameMatch(holder, registered)).toBe("no_match");
  });

  it("tells a name's scripts by its letters alone", () => {
    expect([...holderNameScripts("深圳市小工具 Co., Ltd. 2")]).toEqual(["Han", "Latin"]);
    expect([...holderNameScripts("株式会社カシオ")]).toEqual(["Han", "Kana"]);
    expect([...holderNameScripts("- 42 -")]).toEqual([]);
  });

  it("drops the legal form only at the end, and keeps a name that is nothing else", () => {
    expect(holderNameWords("Company of Kowloon Stationery Co Ltd")).toEqual(["company", "of", "kowloon", "stationery"]);
    expect(holderNameWords("Limited")).toEqual(["limited"]);
    expect(holderNameWords("有限公司")).toEqual(["有限公司"]);
  });
});

describe("an IBAN's and a BIC's country against the account's", () => {
  it("takes the IBAN's own country, or a territory using its IBANs", () => {
    expect(["FR", "GF", "GP", "MQ", "RE", "YT", "BL", "MF", "PM", "NC", "PF", "TF", "WF"].every((c) => ibanFitsCountry("FR", c))).toBe(true);
    expect(["GB", "JE", "GG", "IM"].every((c) => ibanFitsCountry("GB", c))).toBe(true);
    expect(ibanFitsCountry("FI", "AX")).toBe(true);
    expect([ibanFitsCountry("DE", "FR"), ibanFitsCountry("FR", "MC"), ibanFitsCountry("GB", "IE"), ibanFitsCountry("RE", "FR"), ibanFitsCountry("DK", "FO")]).toEqual([false, false, false, false, false]);
  });

  it("takes the BIC's own country, the country whose IBANs a territory uses, and the EPC's pairs (MC at a French bank, IE at a British one)", () => {
    expect([bicFitsCountry("CN", "CN"), bicFitsCountry("RE", "RE"), bicFitsCountry("FR", "RE"), bicFitsCountry("GB", "JE"), bicFitsCountry("FR", "MC"), bicFitsCountry("GB", "IE")]).toEqual([true, true, true, true, true, true]);
    expect([bicFitsCountry("HK", "CN"), bicFitsCountry("RE", "FR"), bicFitsCountry("JE", "GB"), bicFitsCountry("FR", "DE"), bicFitsCountry("GB", "FR")]).toEqual([false, false, false, false, false]);
  });

  it("takes Kosovo's XK, which the IBAN registry and BICs use though ISO 3166-1 has not assigned it, and no other unassigned code", () => {
    expect([isCountry("XK"), isCountry("CN"), isCountry("XX"), isCountry("ZZ"), isCountry("UK"), isCountry("xk")]).toEqual([true, true, false, false, false, false]);
    expect([ibanValid("XK051212012345678906"), ibanValid("XK051212012345678907")]).toEqual([true, false]);
    expect([ibanFitsCountry("XK", "XK"), bicFitsCountry("XK", "XK"), bicFitsCountry("XK", "RS"), bicFitsCountry("RS", "XK")]).toEqual([true, true, false, false]);
  });
});
