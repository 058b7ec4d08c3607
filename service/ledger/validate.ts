/**
 * The ledger's edge checks: what a caller sends is refused here, with the field named, before it is
 * queued or queried; cursors are opaque to callers and checked on the way back in.
 */
import { isPositiveInt8 } from "../db/int8.js";
import { LedgerErrors } from "./errors.js";
import type { AccountSpec, TransactionInput } from "./types.js";

const MAX_KEY = 255;
const CURRENCY = /^[A-Z][A-Z0-9]{2,11}$/;
/** A posting's amount stays below this (computed once: a BigInt power per posting showed in profiles). */
const MAX_POSTING_AMOUNT = 10n ** 36n;
/** 10000-01-01T00:00:00Z: effective instants stay in the years 1970-9999. */
const MAX_EFFECTIVE_MS = Date.UTC(10_000, 0, 1);
/**
 * What no account code holds: whitespace (a trailing space makes a second account that reads the
 * same), control and invisible format characters, quotes, angle brackets and backslashes (a code is
 * printed in every report, export and page that lists accounts). Every code the platform makes is
 * built of ids that hold none of these (seller ids, gateway names, currencies, tax schemes).
 */
const CODE_UNSAFE = /[\s\p{C}"'`<>\\]/u;
/** Most transactions linked to one (TransactionInput.linked). */
const MAX_LINKED = 64;

export function checkKey(k: unknown, field: string): void {
  if (typeof k !== "string" || k.length === 0 || k.length > MAX_KEY) {
    throw LedgerErrors.invalid(`${field} must be a non-empty string of at most ${MAX_KEY} characters`, {
      fields: [{ field, message: "required, 1-255 characters" }],
    });
  }
}

/** Journal ids are positive int8 in decimal; anything else names no transaction. */
export function isTransactionId(id: string): boolean {
  return isPositiveInt8(id);
}

export function parseId(id: string, field: string): bigint {
  if (!isTransactionId(id)) throw LedgerErrors.transactionNotFound(`${field} ${id} is not a transaction id`, { fields: [{ field, message: "not a transaction id" }] });
  return BigInt(id);
}

export function validateSpec(s: AccountSpec, at: string): void {
  const bad = (field: string, message: string) =>
    LedgerErrors.invalid(`accounts.${at}.${field}: ${message}`, { fields: [{ field: `accounts.${at}.${field}`, message }] });
  if (!s.code || s.code.length > 200) throw bad("code", "required, at most 200 characters");
  if (CODE_UNSAFE.test(s.code)) throw bad("code", "no whitespace, control characters, quotes, < > or \\");
  if (!CURRENCY.test(s.currency)) throw bad("currency", "must be an upper-case currency code");
  if (s.normalBalance !== "debit" && s.normalBalance !== "credit") throw bad("normalBalance", "must be debit or credit");
  if (!s.ownerId) throw bad("ownerId", "required");
}

/** Shape, amounts, and balance per currency; `prefix` names the item in a batch ("3."). */
export function validateInput(t: TransactionInput, prefix: string): void {
  checkKey(t.idempotencyKey, `${prefix}idempotencyKey`);
  const bad = (field: string, message: string) =>
    LedgerErrors.invalid(`${prefix}${field}: ${message}`, { fields: [{ field: `${prefix}${field}`, message }] });
  if (!Array.isArray(t.postings) || t.postings.length < 2) throw bad("postings", "at least two postings are required");
  if (t.postings.length > 1000) throw bad("postings", "at most 1000 postings per transaction");
  const sums = new Map<string, { debits: bigint; credits: bigint }>();
  t.postings.forEach((p, i) => {
    if (typeof p.amount !== "bigint" || p.amount <= 0n) throw bad(`postings.${i}.amount`, "must be a positive integer (minor units)");
    if (p.amount >= MAX_POSTING_AMOUNT) throw bad(`postings.${i}.amount`, "too large");
    if (p.direction !== "debit" && p.direction !== "credit") throw bad(`postings.${i}.direction`, "must be debit or credit");
    if (!CURRENCY.test(p.currency)) throw bad(`postings.${i}.currency`, "must be an upper-case currency code");
    if (!p.account) throw bad(`postings.${i}.account`, "required");
    const s = sums.get(p.currency) ?? { debits: 0n, credits: 0n };
    if (p.direction === "debit") s.debits += p.amount;
    else s.credits += p.amount;
    sums.set(p.currency, s);
  });
  for (const [currency, s] of [...sums].sort(([a], [b]) => a.localeCompare(b))) {
    if (s.debits !== s.credits) {
      throw LedgerErrors.unbalanced(
        `transaction does not balance in ${currency}: debits ${s.debits}, credits ${s.credits} (imbalance ${s.debits - s.credits})`,
        { details: { currency, debits: s.debits.toString(), credits: s.credits.toString(), imbalance: (s.debits - s.credits).toString() } },
      );
    }
  }
  if (t.effectiveAt !== undefined) {
    // The anchored leaf carries it as unsigned epoch milliseconds, and PostgreSQL reads no year 0:
    // a row outside these bounds would stop anchoring for every transaction after it.
    const ms = t.effectiveAt instanceof Date ? t.effectiveAt.getTime() : Number.NaN;
    if (!(ms >= 0 && ms < MAX_EFFECTIVE_MS)) throw bad("effectiveAt", "must be an instant in the years 1970 to 9999");
  }
  if (t.pendingTimeoutSeconds !== undefined) {
    if (!t.pending) throw bad("pendingTimeoutSeconds", "only valid for pending transactions");
    if (!Number.isInteger(t.pendingTimeoutSeconds) || t.pendingTimeoutSeconds <= 0) throw bad("pendingTimeoutSeconds", "must be a positive integer");
  }
  (t.accounts ?? []).forEach((s, i) => validateSpec(s, `${i}`));
  if (t.linked !== undefined) {
    if (!Array.isArray(t.linked) || t.linked.length > MAX_LINKED) throw bad("linked", `at most ${MAX_LINKED} linked transactions`);
    if (t.linked.length > 0 && t.pending) throw bad("linked", "a pending transaction links none");
    t.linked.forEach((l, j) => {
      const at = `${prefix}linked.${j}.`;
      validateInput(l, at);
      if (l.pending) throw bad(`linked.${j}.pending`, "a linked transaction is posted, not pending");
      if (l.attachment !== undefined) throw bad(`linked.${j}.attachment`, "only the first transaction carries an attachment");
      if (l.linked !== undefined) throw bad(`linked.${j}.linked`, "linked transactions link no others");
    });
  }
}

/** Page size of the listing APIs: 50 unless given, 1-1000. */
export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw LedgerErrors.invalid("limit must be an integer from 1 to 1000", { fields: [{ field: "limit", message: "1-1000" }] });
  return limit;
}

/** listJournal's arguments: a sequence >= 0 and 1-10,000 transactions. */
export function checkJournalPage(afterSequence: bigint, limit: number): void {
  if (typeof afterSequence !== "bigint" || afterSequence < 0n) {
    throw LedgerErrors.invalid("afterSequence must be a non-negative bigint", { fields: [{ field: "afterSequence", message: ">= 0" }] });
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw LedgerErrors.invalid("limit must be an integer from 1 to 10000", { fields: [{ field: "limit", message: "1-10000" }] });
  }
}

export function encodeCursor(id: bigint): string {
  return Buffer.from(`v1:${id}`).toString("base64url");
}

export function decodeCursor(c: string): bigint {
  const m = /^v1:([1-9]\d{0,18})$/.exec(Buffer.from(c, "base64url").toString());
  // A forged cursor past the int8 range is as invalid as any other forged cursor (never a 500).
  if (!m || !isPositiveInt8(m[1]!)) throw LedgerErrors.invalidCursor("cursor is not one this API returned", { fields: [{ field: "cursor", message: "invalid" }] });
  return BigInt(m[1]!);
}
