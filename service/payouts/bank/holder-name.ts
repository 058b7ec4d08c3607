/**
 * The account holder's name against the seller's registered name (`settlement_sellers.name`), the
 * way Verification of Payee schemes compare them (EU Instant Payments Regulation 2024/886; the EPC's
 * VOP scheme): `match`, `close_match` or `no_match`. Pure and deterministic, so the rule is tested
 * without a database and documented in the README as it is written here:
 *
 * 1. Normalised: Unicode compatibility forms folded (full-width letters and brackets), accents
 *    dropped (Müller = Muller), lower case, `&` read as "and", dots and apostrophes removed
 *    (Co.,Ltd. = co ltd, S.A. = sa), every other character that is not a letter or digit a space
 *    (CJK punctuation such as the middle dot too).
 * 2. The legal form at the end dropped, word by word (Ltd, Limited, Co, Company, Corp, Inc, LLC,
 *    PLC, GmbH, S.A., Pte, Pty, Sdn Bhd, …), and, in a Chinese name, 有限公司 / 有限責任公司 /
 *    股份有限公司 / 公司 at its end: "Shenzhen Gadget Works Co., Ltd." is "shenzhen gadget works",
 *    "深圳市小工具有限公司" is "深圳市小工具". A name that is nothing but a legal form keeps it.
 * 3. `match`: the words, joined without spaces, are equal. `close_match`: the same words in another
 *    order (Wang Wei, Wei Wang), or every word of a name of two words or more found in the other
 *    (Kowloon Stationery, Kowloon Stationery Trading), or within one edit (a letter added, dropped
 *    or changed) per five characters of the longer name without spaces (Shenzen, Shenzhen).
 *    Anything else is `no_match` (a name in another script than the registered one included: a
 *    transliteration is for a person to judge).
 * 4. `scriptMismatch` (`holderNameScripts`): the two names' letters share no script (a holder
 *    written in Chinese characters, a seller registered in Latin letters). Such names are never a
 *    `match` whoever they name, so the answer says it: the admin's confirmation is what is expected
 *    there, not a correction of the name.
 */

export const HOLDER_NAME_RESULTS = ["match", "close_match", "no_match"] as const;
export type HolderNameResult = (typeof HOLDER_NAME_RESULTS)[number];

/** Legal forms dropped from the end of a name (as normalised: lower case, without dots). */
const LEGAL_FORMS = new Set([
  "ltd", "limited", "co", "company", "corp", "corporation", "inc", "incorporated", "llc", "llp", "lp", "plc",
  "pte", "pty", "sdn", "bhd", "gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "ab", "oy", "as", "aps", "kk",
]);
/** Chinese legal forms at the end of a name (simplified and traditional), longest first. */
const CJK_LEGAL_FORMS = ["股份有限公司", "有限责任公司", "有限責任公司", "有限公司", "公司"];

/** The name's words, normalised, without the legal form at its end. */
export function holderNameWords(name: string): string[] {
  const folded = name
    .normalize("NFKC")
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/&/g, " and ")
    .replace(/[.'’]/g, "")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
  const words = folded === "" ? [] : folded.split(" ");
  const all = [...words];
  while (words.length > 1 && LEGAL_FORMS.has(words[words.length - 1]!)) words.pop();
  for (let changed = true; changed && words.length > 0; ) {
    changed = false;
    const last = words[words.length - 1]!;
    // The longest Chinese form the word ends with (有限公司 before 公司); a word that is nothing else goes as a word.
    const form = CJK_LEGAL_FORMS.find((f) => last.endsWith(f));
    if (form !== undefined && last.length > form.length) {
      words[words.length - 1] = last.slice(0, -form.length);
      changed = true;
    } else if (words.length > 1 && (LEGAL_FORMS.has(last) || form !== undefined)) {
      words.pop();
      changed = true;
    }
  }
  return words.length === 0 ? all : words;
}

/** Levenshtein distance over code points, stopped once it exceeds `max`. */
function withinEdits(a: string[], b: string[], max: number): boolean {
  if (Math.abs(a.length - b.length) > max) return false;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    if (Math.min(...row) > max) return false;
    prev = row;
  }
  return prev[b.length]! <= max;
}

/** The holder's name against the seller's registered name (see the top of this file). */
export function holderNameMatch(holderName: string, registeredName: string): HolderNameResult {
  const [a, b] = [holderNameWords(holderName), holderNameWords(registeredName)];
  const [joinedA, joinedB] = [a.join(""), b.join("")];
  if (joinedA === joinedB) return joinedA === "" ? "no_match" : "match";
  const sorted = (w: string[]) => [...w].sort().join(" ");
  if (sorted(a) === sorted(b)) return "close_match";
  const [shorter, longer] = a.length <= b.length ? [a, b] : [b, a];
  if (shorter.length >= 2 && shorter.every((w) => longer.includes(w))) return "close_match";
  const [charsA, charsB] = [[...joinedA], [...joinedB]];
  const allowed = Math.floor(Math.max(charsA.length, charsB.length) / 5);
  return allowed > 0 && withinEdits(charsA, charsB, allowed) ? "close_match" : "no_match";
}

/**
 * The scripts a name's letters are written in, by the Unicode Script property: the ones holders'
 * and sellers' names come in are named (Han with the Japanese kana and Korean Hangul apart), every
 * other letter is `Other`. Digits and punctuation belong to no script.
 */
const SCRIPTS: ReadonlyArray<readonly [string, RegExp]> = [
  ["Latin", /\p{Script=Latin}/u],
  ["Han", /\p{Script=Han}/u],
  ["Kana", /[\p{Script=Hiragana}\p{Script=Katakana}]/u],
  ["Hangul", /\p{Script=Hangul}/u],
  ["Cyrillic", /\p{Script=Cyrillic}/u],
  ["Greek", /\p{Script=Greek}/u],
  ["Arabic", /\p{Script=Arabic}/u],
  ["Hebrew", /\p{Script=Hebrew}/u],
  ["Thai", /\p{Script=Thai}/u],
  ["Devanagari", /\p{Script=Devanagari}/u],
];

export function holderNameScripts(name: string): Set<string> {
  const scripts = new Set<string>();
  for (const ch of name.normalize("NFKC")) {
    if (!/\p{L}/u.test(ch)) continue;
    scripts.add(SCRIPTS.find(([, re]) => re.test(ch))?.[0] ?? "Other");
  }
  return scripts;
}

/** The two names are written in different scripts (no script in common, each with letters): no comparison of letters can match them. */
export function holderNameScriptMismatch(holderName: string, registeredName: string): boolean {
  const [a, b] = [holderNameScripts(holderName), holderNameScripts(registeredName)];
  return a.size > 0 && b.size > 0 && ![...a].some((x) => b.has(x));
}
