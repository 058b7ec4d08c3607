/**
 * The bank rail: sellers with a bank account on file are paid by ISO 20022 credit transfer in their
 * payout currency, with no conversion on our side (a CNY seller gets one CNY instruction; the bank or
 * licensed provider converts from the platform's USD account and says at what rate).
 *
 * The protocol, in the order of writes (each step idempotent, so a crash anywhere just resumes):
 * 1. PLAN (one planner across processes: the `bank-payouts` lease): per seller with a bank account,
 *    no payout in flight and an available balance at or above `minAmount`, a `planned` row with its
 *    exact pending ledger request (`bankpayout:<id>:reserve`), then the reserve is posted.
 * 2. FILE: the reserved planned payouts go into one pain.001 (GrpHdr/MsgId `ENT-<yyyymmdd>-<n>`,
 *    EndToEndId `ENT-BP-<id>`); the XML and the move to `instructed` are one transaction.
 * 3. OUTBOX: the stored XML is written to `<outbox>/<MsgId>.xml` (temporary name, then rename) and
 *    marked written. A crash before the rename writes the same bytes again: the bank deduplicates
 *    on MsgId and EndToEndId, so a payout is never instructed twice under two ids.
 * 4. CONFIRM: a camt.054 (dropped in `<inbox>` or posted to the API) matched by EndToEndId. A booked
 *    debit commits the reserve and books the cash (booking.ts); the cash request is stored before it
 *    is posted, so a retry posts the same one. A reversal, a return (RtrInf) or a credit with the
 *    payout's id voids the reserve: the money is back in `available`. Anything else is reported,
 *    never booked: an unknown id, an amount or currency that differs from the instruction, a return
 *    after the payout was final.
 */
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isAppError } from "../../errors.js";
import { Mutex } from "../../concurrency.js";
import { postedDebitBalance } from "../../ledger/index.js";
import type { AccountStatement, Ledger } from "../../ledger/types.js";
import type { LeaseStorePort } from "../../leader/lease-store.js";
import { isCurrency } from "../../money/index.js";
import { Accounts, MAX_RATE_DEVIATION_BPS } from "../../settlement/index.js";
import type { Seller } from "../../settlement/types.js";
import { availableBalance } from "../balances.js";
import { availableChange, requestFromJson, requestToJson } from "../booking.js";
import { PayoutErrors } from "../errors.js";
import type { PayoutLog } from "../types.js";
import { BankAccounts, bankLedgerKeys, bookedValue, cashRequest, reserveRequest, type Position } from "./booking.js";
import { BankMessageError, pain001, readCamt054, type BankAccountRef, type BankEntry } from "./iso20022.js";
import { BankStore, type BankAccount, type BankFile, type BankPayout, type BankPayoutStatus } from "./store.js";
import type { SqlRunner } from "../../db/sql.js";

export interface BankRailOptions {
  sql: SqlRunner;
  ledger: Ledger;
  sellers: { listSellers(): Promise<Seller[]> };
  leases: LeaseStorePort;
  /** The platform's account the transfers are drawn on (its currency: what the bank debits). */
  debtor: BankAccountRef & { accountCurrency: string };
  outbox: string;
  inbox: string;
  /** Minor units of the seller's payout currency. */
  minAmount: bigint;
  owner: string;
  now?: () => Date;
  log?: PayoutLog;
}

export interface BankSkip {
  sellerId: string;
  reason: "no_seller" | "in_flight" | "no_account" | "below_minimum" | "reserve_refused";
  detail?: string;
}

export interface BankRunResult {
  file: BankFile | null;
  payouts: BankPayout[];
  skipped: BankSkip[];
}

export type ConfirmationOutcome = "final" | "rejected" | "already_final" | "already_rejected" | "not_booked" | "unmatched" | "mismatch" | "exception";

export interface ConfirmationResult {
  endToEndId: string | null;
  payoutId: string | null;
  outcome: ConfirmationOutcome;
  detail?: string;
  entry: { side: string; status: string; currency: string; amount: string; reversal: boolean; returnReason: string | null; bankReference: string | null };
}

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

/** The account as stored, or ENT_PAYOUT_INVALID_REQUEST naming every bad field. */
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
  if (accountNumber !== null && !/^[A-Za-z0-9-]{1,34}$/.test(accountNumber)) fields.push({ field: "accountNumber", message: "1 to 34 letters, digits or hyphens" });
  const bic = opt("bic")?.toUpperCase() ?? null;
  if (bic !== null && !BIC.test(bic)) fields.push({ field: "bic", message: "a BIC of 8 or 11 characters (ISO 9362)" });
  const clearingSystem = opt("clearingSystem");
  const clearingMember = opt("clearingMember");
  if (clearingSystem !== null && !/^[A-Z0-9]{1,5}$/.test(clearingSystem)) fields.push({ field: "clearingSystem", message: "an ExternalClearingSystemIdentification1Code, e.g. CNAPS" });
  if (clearingMember !== null && !/^[A-Za-z0-9]{1,35}$/.test(clearingMember)) fields.push({ field: "clearingMember", message: "1 to 35 letters or digits (e.g. a 12-digit CNAPS bank code)" });
  if (bic === null && clearingMember === null) fields.push({ field: "bic", message: "give the beneficiary bank: bic, or clearingSystem and clearingMember" });
  const country = opt("country");
  if (country === null || !/^[A-Z]{2}$/.test(country)) fields.push({ field: "country", message: "ISO 3166 alpha-2, e.g. CN" });
  if (fields.length > 0) throw PayoutErrors.invalid(`bank account: ${fields.map((f) => `${f.field}: ${f.message}`).join("; ")}`, { fields });
  return { holderName: holderName!.trim(), iban, accountNumber, bic, clearingSystem, clearingMember, country: country! };
}

export class BankRail {
  readonly #o: BankRailOptions;
  readonly #store: BankStore;
  readonly #plan = new Mutex();
  readonly #confirm = new Mutex();

  constructor(options: BankRailOptions) {
    if (!isCurrency(options.debtor.accountCurrency)) throw new Error(`bank rail: account currency ${JSON.stringify(options.debtor.accountCurrency)} is not an ISO 4217 currency`);
    validateBankAccount(options.debtor);
    this.#o = options;
    this.#store = new BankStore(options.sql);
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  async #seller(sellerId: string): Promise<Seller> {
    const s = (await this.#o.sellers.listSellers()).find((x) => x.id === sellerId);
    if (s === undefined) throw PayoutErrors.sellerNotFound(`seller ${sellerId} does not exist`);
    return s;
  }

  async setAccount(sellerId: string, input: BankAccountInput, setBy: string): Promise<BankAccount> {
    await this.#seller(sellerId);
    return this.#store.setAccount({ sellerId, ...validateBankAccount(input), setBy });
  }

  async account(sellerId: string): Promise<BankAccount> {
    const a = await this.#store.account(sellerId);
    if (a === null) throw PayoutErrors.bankAccountNotFound(`seller ${sellerId} has no bank account: it is paid through the vault`);
    return a;
  }

  /** Back to the vault rail. Payouts already instructed go on to their end. */
  async removeAccount(sellerId: string): Promise<void> {
    if (!(await this.#store.removeAccount(sellerId))) throw PayoutErrors.bankAccountNotFound(`seller ${sellerId} has no bank account`);
  }

  /** The sellers the vault pays: every seller without a bank account. */
  async vaultSellers(all: readonly Seller[]): Promise<Seller[]> {
    const bank = new Set((await this.#store.accounts()).map((a) => a.sellerId));
    return all.filter((s) => !bank.has(s.id));
  }

  /** One planning run: reserves, one pain.001 in the outbox. ENT_PAYOUT_PLANNER_BUSY while another process plans. */
  async run(by: string): Promise<BankRunResult> {
    return this.#plan.run(async () => {
      const lease = await this.#o.leases.acquire(LEASE, this.#o.owner, 60_000);
      if (!lease.acquired) throw PayoutErrors.plannerBusy(`another process (${lease.holder}) is planning bank payouts; retry shortly`);
      try {
        return await this.#run(by);
      } finally {
        await this.#o.leases.release(LEASE, this.#o.owner, lease.token);
      }
    });
  }

  async #run(by: string): Promise<BankRunResult> {
    const store = this.#store;
    const skipped: BankSkip[] = [];
    // A crash may have left planned rows without their reserve: post them before reading balances.
    await this.#reserve(await store.planned(), skipped);
    const inFlight = await store.sellersInFlight();
    const sellers = new Map((await this.#o.sellers.listSellers()).map((s) => [s.id, s]));
    for (const a of await store.accounts()) {
      const s = sellers.get(a.sellerId);
      if (s === undefined) {
        skipped.push({ sellerId: a.sellerId, reason: "no_seller" });
        continue;
      }
      if (inFlight.has(s.id)) {
        skipped.push({ sellerId: s.id, reason: "in_flight", detail: "a payout is planned or instructed and not confirmed yet" });
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
      const { setAt: _a, setBy: _b, sellerId: _c, ...account } = a;
      const p = await store.insertPlanned({ sellerId: s.id, currency: s.payoutCurrency, amount: available, account, createdBy: by }, (id, endToEndId) =>
        requestToJson(reserveRequest({ id, sellerId: s.id, currency: s.payoutCurrency, amount: available, endToEndId })),
      );
      if (p === null) {
        skipped.push({ sellerId: s.id, reason: "in_flight", detail: "another planner instructed this seller meanwhile" });
        continue;
      }
      await this.#reserve([p], skipped);
    }
    const ready = (await store.planned()).filter((p) => p.pendingTxId !== null);
    let file: BankFile | null = null;
    if (ready.length > 0) {
      const now = this.#now();
      const day = now.toISOString().slice(0, 10);
      const prefix = `ENT-${day.replace(/-/g, "")}-`;
      const messageId = `${prefix}${(await store.fileCount(prefix)) + 1}`;
      const { xml, controlSum } = pain001({
        messageId,
        createdAt: now,
        debtor: this.#o.debtor,
        executionDate: day,
        transfers: ready.map((p) => ({ endToEndId: p.endToEndId, currency: p.currency, amount: p.amount, creditor: p.account, remittance: `Entrepot payout ${p.endToEndId} seller ${p.sellerId}` })),
      });
      file = await store.insertFile({ id: messageId, count: ready.length, ctrlSum: controlSum, xml, createdBy: by }, ready.map((p) => p.id));
      this.#o.log?.info({ fileId: file.id, count: file.count, ctrlSum: file.ctrlSum }, "bank payout file recorded");
    }
    await this.writeFiles();
    const payouts = file === null ? [] : await store.list({ fileId: file.id, limit: 10_000 });
    return { file: file === null ? null : ((await store.file(file.id)) ?? file), payouts: payouts.reverse(), skipped };
  }

  /** Posts the stored reserve of each payout without one; a refusal rejects the payout (nothing was instructed). */
  async #reserve(payouts: readonly BankPayout[], skipped: BankSkip[]): Promise<void> {
    const todo = payouts.filter((p) => p.pendingTxId === null);
    if (todo.length === 0) return;
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

  /** Writes every recorded file not yet in the outbox (temporary name, then rename). */
  async writeFiles(): Promise<string[]> {
    const written: string[] = [];
    const files = await this.#store.unwrittenFiles();
    if (files.length === 0) return written;
    await mkdir(this.#o.outbox, { recursive: true });
    for (const f of files) {
      const path = join(this.#o.outbox, `${f.id}.xml`);
      await writeFile(`${path}.partial`, f.xml, "utf8");
      await rename(`${path}.partial`, path);
      await this.#store.markWritten(f.id);
      written.push(path);
    }
    return written;
  }

  /**
   * Applies a camt.054: its text, or its bytes (decoded as their BOM, XML declaration or `charset`
   * say). ENT_PAYOUT_BANK_STATEMENT_INVALID if it is not one.
   */
  async confirm(xml: string | Uint8Array, options: { charset?: string } = {}): Promise<{ messageId: string; version: string; results: ConfirmationResult[] }> {
    let doc;
    try {
      doc = readCamt054(xml, options);
    } catch (e) {
      if (e instanceof BankMessageError) throw PayoutErrors.bankStatementInvalid(e.message);
      throw e;
    }
    return this.#confirm.run(async () => {
      const results: ConfirmationResult[] = [];
      for (const entry of doc.entries) results.push(await this.#apply(entry));
      this.#o.log?.info({ messageId: doc.messageId, entries: results.length, final: results.filter((r) => r.outcome === "final").length }, "bank notification applied");
      return { messageId: doc.messageId, version: doc.version, results };
    });
  }

  async #apply(entry: BankEntry): Promise<ConfirmationResult> {
    const view = {
      side: entry.side,
      status: entry.status,
      currency: entry.currency,
      amount: entry.amount.toString(),
      reversal: entry.reversal,
      returnReason: entry.returnReason,
      bankReference: entry.bankReference,
    };
    const result = (outcome: ConfirmationOutcome, p: BankPayout | null, detail?: string): ConfirmationResult => ({
      endToEndId: entry.endToEndId,
      payoutId: p?.id.toString() ?? null,
      outcome,
      ...(detail === undefined ? {} : { detail }),
      entry: view,
    });
    const p = entry.endToEndId === null ? null : await this.#store.byEndToEndId(entry.endToEndId);
    if (p === null) return result("unmatched", null, entry.endToEndId === null ? "no EndToEndId" : "no bank payout has this EndToEndId");
    if (entry.status !== "BOOK") return result("not_booked", p, `entry status ${entry.status}`);
    const returned = entry.reversal || entry.returnReason !== null || entry.side === "credit";
    if (returned) {
      if (p.status === "rejected") return result("already_rejected", p);
      if (p.status === "final" || p.commitTxId !== null) return result("exception", p, "returned after the payout was booked final: an operator books the return");
      const reason = `returned by the bank${entry.returnReason === null ? "" : ` (${entry.returnReason})`}${entry.reversal ? ", reversal" : ""}`;
      let voidTx: string | null = null;
      if (p.pendingTxId !== null) voidTx = (await this.#o.ledger.voidPending(p.pendingTxId, bankLedgerKeys.void(p.id))).transaction.id;
      await this.#store.markRejected(p.id, voidTx, reason);
      return result("rejected", p, reason);
    }
    if (p.status === "final") return result("already_final", p);
    if (p.status !== "instructed") return result("exception", p, `booked by the bank while ${p.status}`);
    // The bank must have paid what was instructed: in the payout currency, or converted from the
    // account's currency with the instructed amount beside it.
    const instructed = entry.instructed ?? (entry.currency === p.currency ? { currency: entry.currency, amount: entry.amount } : null);
    if (instructed === null) return result("mismatch", p, `debited ${entry.currency} without the instructed ${p.currency} amount (AmtDtls/InstdAmt)`);
    if (instructed.currency !== p.currency || instructed.amount !== p.amount) return result("mismatch", p, `instructed ${p.amount} ${p.currency}, the bank reports ${instructed.amount} ${instructed.currency}`);
    if (entry.currency !== p.currency && entry.currency !== this.#o.debtor.accountCurrency) return result("mismatch", p, `debited in ${entry.currency}, neither ${p.currency} nor the account's ${this.#o.debtor.accountCurrency}`);
    // A converted amount far from what the position's P was booked at is not booked: a finance key
    // (or a wrong file) cannot book arbitrary cash and realised FX, as for gateway remittances.
    if (entry.currency !== p.currency && p.cashRequest === null) {
      const position = await this.#position(p.currency, entry.currency);
      const booked = bookedValue(p.amount, position);
      if (booked !== null && (entry.amount > booked ? entry.amount - booked : booked - entry.amount) * 10_000n > booked * BigInt(MAX_RATE_DEVIATION_BPS)) {
        return result("mismatch", p, `debited ${entry.amount} ${entry.currency} for ${p.amount} ${p.currency}: more than ${MAX_RATE_DEVIATION_BPS / 100}% from the ${booked} it was booked at`);
      }
    }
    return this.#book(p, entry, result);
  }

  async #book(p: BankPayout, entry: BankEntry, result: (o: ConfirmationOutcome, p: BankPayout | null, detail?: string) => ConfirmationResult): Promise<ConfirmationResult> {
    const ledger = this.#o.ledger;
    if (p.commitTxId === null) {
      const committed = await ledger.commitPending(p.pendingTxId!, bankLedgerKeys.commit(p.id));
      await this.#store.setCommitTx(p.id, committed.transaction.id);
    }
    let stored = p.cashRequest;
    if (stored === null) {
      const position = entry.currency === p.currency ? null : await this.#position(p.currency, entry.currency);
      const request = cashRequest({ ...p, settledCurrency: entry.currency, settled: entry.amount, bookingDate: entry.bookingDate }, position);
      stored = await this.#store.setCashRequest(p.id, requestToJson(request), { currency: entry.currency, amount: entry.amount });
    }
    try {
      const cash = await ledger.post(requestFromJson(stored));
      await this.#store.markFinal(p.id, cash.transaction.id);
      return result("final", p);
    } catch (e) {
      if (!isAppError(e)) throw e;
      // e.g. the cash account would go below zero: the bank did pay, so the booking is retried on
      // every tick until it goes through; the payout stays instructed with the reason.
      await this.#store.setReason(p.id, `cash booking refused: ${e.code}: ${e.message}`);
      return result("exception", p, `cash booking refused (${e.code}); retried on every tick`);
    }
  }

  async #position(currency: string, usd: string): Promise<Position> {
    // The reserve committed just before is in the in-transit account, not in fx:P-USD: the position
    // still holds this payout's P.
    const clearing = Accounts.fxClearing(currency);
    return { p: await postedDebitBalance(this.#o.ledger, clearing, currency), usd: await postedDebitBalance(this.#o.ledger, clearing, usd) };
  }

  /** Cash bookings a refusal left behind (the stored request), posted again. */
  async retryCash(): Promise<number> {
    let done = 0;
    for (const p of await this.#store.list({ status: "instructed", limit: 1000 })) {
      if (p.cashRequest === null || p.cashTxId !== null || p.commitTxId === null) continue;
      await this.#confirm.run(async () => {
        try {
          const cash = await this.#o.ledger.post(requestFromJson(p.cashRequest));
          if (await this.#store.markFinal(p.id, cash.transaction.id)) done++;
        } catch (e) {
          if (!isAppError(e)) throw e;
        }
      });
    }
    return done;
  }

  /** Every `*.xml` in the inbox, applied, then moved to `processed/` (or `failed/` with the reason). */
  async processInbox(): Promise<Array<{ file: string; messageId?: string; results?: ConfirmationResult[]; error?: string }>> {
    let names: string[];
    try {
      names = (await readdir(this.#o.inbox)).filter((n) => n.toLowerCase().endsWith(".xml")).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    const out: Array<{ file: string; messageId?: string; results?: ConfirmationResult[]; error?: string }> = [];
    for (const name of names) {
      const path = join(this.#o.inbox, name);
      const stamp = this.#now().toISOString().replace(/[:.]/g, "-");
      try {
        const r = await this.confirm(await readFile(path));
        await mkdir(join(this.#o.inbox, "processed"), { recursive: true });
        await rename(path, join(this.#o.inbox, "processed", `${stamp}-${name}`));
        out.push({ file: name, messageId: r.messageId, results: r.results });
      } catch (e) {
        if (!isAppError(e) || e.code !== PayoutErrors.bankStatementInvalid.code) throw e;
        await mkdir(join(this.#o.inbox, "failed"), { recursive: true });
        await rename(path, join(this.#o.inbox, "failed", `${stamp}-${name}`));
        await writeFile(join(this.#o.inbox, "failed", `${stamp}-${name}.error.txt`), `${e.message}\n`, "utf8");
        this.#o.log?.warn({ file: name, err: e.message }, "bank notification refused; moved to failed/");
        out.push({ file: name, error: e.message });
      }
    }
    return out;
  }

  /** The worker's step: files not yet in the outbox, refused cash bookings, the inbox. */
  async tick(): Promise<void> {
    await this.writeFiles();
    await this.retryCash();
    await this.processInbox();
  }

  /** Bank payouts per state and currency (the dashboard's figures). */
  summary(): Promise<Array<{ state: string; currency: string; count: number; amount: bigint }>> {
    return this.#store.summary();
  }

  async payouts(filter: { sellerId?: string; status?: BankPayoutStatus; fileId?: string; before?: bigint; limit?: number }): Promise<BankPayout[]> {
    return this.#store.list({ ...filter, limit: filter.limit ?? 50 });
  }

  async payout(id: bigint): Promise<BankPayout> {
    const p = await this.#store.get(id);
    if (p === null) throw PayoutErrors.notFound(`bank payout ${id} does not exist`);
    return p;
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
