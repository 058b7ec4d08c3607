/**
 * Public contract of the ledger: the one write path for money. Other modules (settlement, chain,
 * reconciliation, http) program against these types and the `Ledger` interface only, never against
 * the ledger's tables.
 *
 * Amounts are bigint minor units of the posting's currency, always > 0; the side is explicit.
 */

import type { OpenItems, OpenPeriod } from "../open-items.js";

export type Direction = "debit" | "credit";
export type NormalBalance = "debit" | "credit";

/** Who an account belongs to. */
export const OWNER_TYPES = ["seller", "platform", "gateway", "tax_authority", "fx_clearing", "treasury", "buyer"] as const;
export type OwnerType = (typeof OWNER_TYPES)[number];

export interface AccountSpec {
  /** Stable, human-readable address, unique with the currency, e.g. `seller:S-1001:available`. */
  code: string;
  currency: string;
  ownerType: OwnerType;
  ownerId: string;
  normalBalance: NormalBalance;
  /**
   * When false (the default for seller and treasury accounts) a posting that would take the
   * account's balance (in its normal direction, pending debits included) below zero is rejected.
   */
  allowNegative: boolean;
  metadata?: Record<string, string>;
}

export interface Account extends AccountSpec {
  id: string;
  createdAt: Date;
}

export interface AccountStatement {
  account: string;
  currency: string;
  normalBalance: NormalBalance;
  from: Date;
  to: Date;
  /** Posted balance (normal direction) of everything effective before `from`. */
  opening: bigint;
  lines: Array<{
    transactionId: string;
    effectiveAt: Date;
    bookedAt: Date;
    transactionKind: string;
    description: string | null;
    metadata: Record<string, string>;
    postingId: string;
    direction: "debit" | "credit";
    phase: "posted" | "pending" | "commit" | "void";
    amount: bigint;
    /** Signed in the account's normal direction; 0 for a pending or void leg (it moves no posted balance). */
    change: bigint;
    /** Posted balance after this line. */
    balance: bigint;
  }>;
  /** opening + every line's change: the posted balance of everything effective before `to`. */
  closing: bigint;
}

export interface PeriodClose {
  id: string;
  closedBefore: Date;
  previousClosedBefore: Date | null;
  /** The journal head when the period closed: what the closed period's books held. */
  journalSequence: bigint;
  journalHash: string;
  closedBy: string | null;
  note: string | null;
  closedAt: Date;
  /**
   * What the close was accepted with left unrevalued at the period's end (its `fxNotRevalued:
   * "accept"` with a note), per currency; null when nothing was (service/closing.ts checks it).
   */
  fxNotRevalued: UnrevaluedPosition[] | null;
  /**
   * The closing rates older than the close allows that it was accepted with (its `fxRateStale:
   * "accept"` with a note), per currency; null when none was (service/closing.ts checks it).
   */
  fxRateStale: StaleClosingRate[] | null;
}

/**
 * A position that stands at the period's last instant at a rate older than a close allows
 * (CLOSE_MAX_RATE_AGE_DAYS): the rate in force then, its own instant (`asOf`) and its age there.
 */
export interface StaleClosingRate {
  currency: string;
  /** The position in X minor units at the period's last instant. */
  position: string;
  midRate: string;
  source: string;
  /** The rate's own instant (when its source observed it), ISO 8601. */
  asOf: string;
  /** The period's last instant less `asOf`, whole seconds. */
  ageSeconds: number;
  /** The limit the close applied, whole seconds (CLOSE_MAX_RATE_AGE_DAYS x 86 400). */
  maxAgeSeconds: number;
  reason: string;
}

/**
 * One FX position a period close left unrevalued at the period's last instant: what the revaluation
 * there would have booked (`change`, USD minor units, debit of fx:X-USD:revaluation positive), or why
 * it could not restate the position (`skipped`: the fx module's code). Amounts as strings (JSON).
 */
export interface UnrevaluedPosition {
  currency: string;
  /** "would_book": the revaluation at the period's last instant would book `change`; "skipped": it would leave the position out. */
  status: "would_book" | "skipped";
  /** The position in X minor units at that instant (null in closes made before 2026-12-06 that skipped it). */
  position: string | null;
  change: string | null;
  midRate: string | null;
  /** The skip's code (ENT_FX_RATE_STALE, ENT_FX_RATE_NOT_FOUND, not_iso_4217, ...), null when it would book. */
  code: string | null;
  reason: string;
}

/** What a close asks of the ledger besides its instant. */
export interface ClosePeriodInput {
  before: Date;
  closedBy?: string | null;
  note?: string | null;
  /** Kept with the close (an accepted exception): see PeriodClose.fxNotRevalued. */
  fxNotRevalued?: UnrevaluedPosition[] | null;
  /** Kept with the close (an accepted exception): see PeriodClose.fxRateStale. */
  fxRateStale?: StaleClosingRate[] | null;
  /**
   * The journal sequence the caller's checks read the period at: under the head lock the close is
   * refused (ENT_LEDGER_PERIOD_CHANGED) if a transaction booked after it is effective before
   * `before`, so what was checked is what closes.
   */
  checkedAtSequence?: bigint;
  /**
   * With `checkedAtSequence`: only a transaction posting to an account whose code starts with this
   * counts (the accounts the checks read: a period close's FX check reads `fx:` positions alone), so
   * the period's other bookings (a gateway still sending USD events into it) do not hold it back.
   */
  checkedAccountPrefix?: string;
  /**
   * The caller's checks, run under the head lock before the close (a fenced close): `journal` reads
   * through the transaction that holds the lock (a second connection would wait on the writers
   * waiting on it: PGlite has one, and a pool can run dry), so nothing is booked between what it
   * reads and the close. What it answers is kept with the close (in place of `fxNotRevalued` and
   * `fxRateStale`); what it throws refuses the close, nothing written. Writers wait while it runs.
   */
  check?: (journal: Pick<Ledger, "listAccounts" | "balance" | "postedAtEffective">) => Promise<{ fxNotRevalued: UnrevaluedPosition[] | null; fxRateStale: StaleClosingRate[] | null }>;
}

/** One normal side's accounts in a currency, gross: the net balance is `onNormalSide + againstNormalSide`. */
export interface BalanceSide {
  accounts: number;
  /** Sum of the posted balances that are on the normal side (> 0). */
  onNormalSide: bigint;
  /** Sum of the posted balances against it (< 0, signed in the normal direction; 0: none). */
  againstNormalSide: bigint;
  /** How many accounts have a balance against their normal side. */
  accountsAgainst: number;
}

/** The accounts of one owner type in a currency whose posted balance is against their normal side. */
export interface AgainstNormalGroup {
  /** `fx_clearing` accounts swing both ways by design; a `treasury` (bank, vault) one against its side is not. */
  ownerType: OwnerType;
  accounts: number;
  /** Their posted balances summed, signed in each account's normal direction (< 0). */
  balance: bigint;
  /** The largest of them by amount (at most `AGAINST_NORMAL_LARGEST`), largest first. */
  largest: Array<{ account: string; normalBalance: NormalBalance; balance: bigint }>;
}

/** How many of the largest accounts against their normal side `balanceSummary` lists per owner type. */
export const AGAINST_NORMAL_LARGEST = 5;

export interface BalanceSummary {
  currency: string;
  /** Net: `debitNormal.onNormalSide + debitNormal.againstNormalSide`. */
  debitBalances: bigint;
  /** Net: `creditNormal.onNormalSide + creditNormal.againstNormalSide`. */
  creditBalances: bigint;
  accounts: number;
  debitNormal: BalanceSide;
  creditNormal: BalanceSide;
  /** Per owner type, FX clearing last, else the largest sum against the normal side first; [] when none. */
  againstNormal: AgainstNormalGroup[];
}

export interface TrialBalance {
  from: Date | null;
  to: Date;
  /** Signed amounts in the account's normal direction (opening, closing); debits and credits of the period. */
  accounts: Array<{ account: string; currency: string; normalBalance: NormalBalance; opening: bigint; debits: bigint; credits: bigint; closing: bigint }>;
  /** Per currency: the period's debits and credits, which balance when the journal does. */
  currencies: Array<{ currency: string; debits: bigint; credits: bigint; balanced: boolean }>;
}

/**
 * Posted movements of a set of accounts over a period, per account and per the metadata of the
 * transactions that moved them (Ledger.movementsByMetadata), with the trial balance's period debits
 * and credits of the same accounts, read in the same snapshot by a query that does not group.
 */
export interface MetadataMovements {
  from: Date;
  to: Date;
  /** Per account and group: for each list of keys asked, the first key the transaction's metadata holds (a value that is not empty) and its value; both null when it holds none. */
  rows: Array<{ account: string; currency: string; normalBalance: NormalBalance; groups: Array<{ key: string | null; value: string | null }>; debits: bigint; credits: bigint }>;
  /** Each selected account that moved in the period, its debits and credits as `trialBalance` counts them for the period, by a query of its own: what the rows add up to per account. */
  trialBalance: Array<{ account: string; currency: string; normalBalance: NormalBalance; debits: bigint; credits: bigint }>;
}

/** One posting of an exported journal, with its transaction. */
export interface JournalExportLine {
  sequence: bigint;
  effectiveAt: Date;
  bookedAt: Date;
  kind: string;
  idempotencyKey: string;
  description: string | null;
  metadata: Record<string, string>;
  postingId: string;
  account: string;
  currency: string;
  direction: "debit" | "credit";
  phase: "posted" | "pending" | "commit" | "void";
  amount: bigint;
}

export interface AccountFilter {
  ownerType?: OwnerType;
  ownerId?: string;
  /** Account codes starting with this text, e.g. `seller:S-POP-SZ-01:`. */
  codePrefix?: string;
  currency?: string;
  limit?: number;
  cursor?: string;
}

export interface Balance {
  account: string;
  currency: string;
  /** Signed, in the account's normal direction: credits - debits for credit-normal accounts. */
  posted: bigint;
  /** Posted minus pending outflows plus nothing of pending inflows: what can be spent now. */
  available: bigint;
  pendingDebits: bigint;
  pendingCredits: bigint;
  postedDebits: bigint;
  postedCredits: bigint;
  /** The instant the figure is valid for (now, or the `at` asked for). */
  asOf: Date;
  /** Id of the last transaction that changed this balance at or before `asOf`, if any. */
  lastTransactionId: string | null;
}

export interface PostingInput {
  account: string;
  currency: string;
  direction: Direction;
  amount: bigint;
}

export interface TransactionInput {
  /** Required. Same key + same body = the original result; same key + other body = conflict. */
  idempotencyKey: string;
  postings: PostingInput[];
  /** Pending transactions reserve amounts until committed or voided (two-phase). */
  pending?: boolean;
  /** A pending transaction auto-voids after this many seconds, if given. */
  pendingTimeoutSeconds?: number;
  /** Free-form string metadata, filterable (e.g. settlementId, sellerId, gateway, fxQuoteId). */
  metadata?: Record<string, string>;
  description?: string;
  /** Business time of the event; defaults to now. Balances `?at=` use the booking time. */
  effectiveAt?: Date;
  /** Accounts not yet present are created from these specs inside the same transaction. */
  accounts?: AccountSpec[];
  /**
   * Accounts this item may not take below zero (or lower, when already below) although their spec
   * allows a negative balance: the funds rule (ENT_LEDGER_INSUFFICIENT_FUNDS) applied to them for
   * this item, against their balance where it is booked, so that concurrent writers on any instance
   * never together pass it (a check read before posting would let two pass). Not part of the
   * request's identity: a replay answers the original.
   */
  notBelowZero?: ReadonlyArray<{ account: string; currency: string }>;
  /**
   * A row of the caller's own table written in this transaction's commit, with the transaction's id
   * and booking instant (the SQL function `ledger_attach`): both are written or neither. Not part of the request's identity (a
   * replay writes nothing); a unique violation of the row fails this item alone with
   * ENT_LEDGER_RECORD_CONFLICT. Settlement records travel this way.
   */
  attachment?: LedgerAttachment;
  /**
   * Transactions booked with this one, in the same commit and right after it in the journal, all or
   * none (TigerBeetle's linked events): each with its own key, postings and effective instant, and
   * none pending, attached or linked itself. The item's answer is this transaction's; one of them
   * that cannot be booked (a key used before, an unknown account) is the whole item's error, and the
   * funds rule applies to what the whole item leaves. Part of the request's identity.
   */
  linked?: TransactionInput[];
}

/** What `ledger_attach` (migration 20261209100000_settlement_write_once) knows how to write. */
export interface LedgerAttachment {
  kind: "settlement";
  /** Column name -> value (JSON): the row as the table stores it, less its id and the transaction's (both the transaction's). */
  row: Record<string, unknown>;
}

export type TransactionStatus = "pending" | "posted" | "voided";
export type TransactionKind = "standard" | "pending" | "commit" | "void" | "reversal";

export interface Posting extends PostingInput {
  id: string;
  /**
   * What the posting did (additive refinement): "posted" moves the posted balance, "pending"
   * reserves, "commit" turns a reserve into posted, "void" releases a reserve.
   */
  phase?: "posted" | "pending" | "commit" | "void";
  /** The account's balance (normal direction, posted) right after this posting. */
  balanceAfter: bigint;
}

/** A posting in an account's history (`Ledger.history`). */
export interface HistoryPosting extends Posting {
  transactionId: string;
  bookedAt: Date;
  /** The transaction's effective instant: the period it counts in. */
  effectiveAt: Date;
  /** The instant the transaction was for when a close re-dated it to the close instant (metadata `originalEffectiveAt`); null otherwise. */
  originalEffectiveAt: Date | null;
}

export interface JournalTransaction {
  id: string;
  /** Position in the journal's hash chain (1, 2, 3 ...). */
  sequence: bigint;
  kind: TransactionKind;
  status: TransactionStatus;
  idempotencyKey: string;
  postings: Posting[];
  metadata: Record<string, string>;
  description: string | null;
  effectiveAt: Date;
  bookedAt: Date;
  /** For commit/void/reversal: the transaction acted upon. */
  referencesId: string | null;
  /** sha256 hex over the canonical transaction content and `previousHash`. */
  hash: string;
  previousHash: string;
}

export type PostResult =
  | { status: "created"; transaction: JournalTransaction }
  | { status: "exists"; transaction: JournalTransaction };

export interface TransactionFilter {
  account?: string;
  sellerId?: string;
  from?: Date;
  to?: Date;
  /** Exact-match on metadata keys. */
  metadata?: Record<string, string>;
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

/** A journal transaction as a period report reads it (Ledger.transactionsEffective): no postings. */
export interface EffectiveTransaction {
  transactionId: string;
  effectiveAt: Date;
  bookedAt: Date;
  transactionKind: TransactionKind;
  status: TransactionStatus;
  metadata: Record<string, string>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ChainVerification {
  ok: boolean;
  checked: bigint;
  /**
   * The range verified: from the genesis to the journal head as committed when verification
   * started (transactions committed meanwhile are left to the next run, never reported broken).
   */
  verifiedFrom: bigint;
  verifiedTo: bigint;
  headSequence: bigint;
  headHash: string;
  /** First broken link, when not ok. */
  firstBreak?: { sequence: bigint; transactionId: string; expectedHash: string; storedHash: string };
}

export interface Ledger {
  post(tx: TransactionInput): Promise<PostResult>;
  /** Per-item answers keyed by index; one bad item never fails the others. */
  postBatch(txs: TransactionInput[]): Promise<Array<PostResult | { status: "error"; error: { code: string; message: string } }>>;
  commitPending(pendingId: string, idempotencyKey: string): Promise<PostResult>;
  voidPending(pendingId: string, idempotencyKey: string): Promise<PostResult>;
  /** A new transaction with every posting's side flipped; the original stays as it was. */
  reverse(transactionId: string, idempotencyKey: string, metadata?: Record<string, string>): Promise<PostResult>;
  getTransaction(id: string): Promise<JournalTransaction | null>;
  /** Many transactions by id in one read; ids not found (or not ids) are absent from the map. */
  getTransactions(ids: readonly string[]): Promise<Map<string, JournalTransaction>>;
  listTransactions(filter: TransactionFilter): Promise<Page<JournalTransaction>>;
  /**
   * Committed journal transactions with `sequence > afterSequence`, ascending, at most `limit`
   * (1-10,000). The journal is gapless and sequence order is commit order, so a reader that
   * resumes from the last sequence it saw misses nothing and sees nothing twice (anchoring).
   */
  listJournal(afterSequence: bigint, limit: number): Promise<JournalTransaction[]>;
  ensureAccounts(specs: AccountSpec[]): Promise<Account[]>;
  getAccount(code: string, currency: string): Promise<Account | null>;
  /** Accounts in creation order with their balances now, filtered; cursor pages. */
  listAccounts(filter: AccountFilter): Promise<Page<Account & { balance: Balance }>>;
  /**
   * Balance now, or as it was at `at`: by booking instant (what the ledger held then, the default),
   * or by effective instant (every transaction effective by then, a late one included).
   */
  balance(account: string, currency: string, at?: Date, basis?: "booked" | "effective"): Promise<Balance>;
  /**
   * The posted debits and credits of every transaction effective at or before `at` (the posted part
   * of `balance(…, at, "effective")`, without its last transaction), null when the account does not
   * exist: read as the account's totals less what is effective after `at`, so the work grows with
   * the postings after `at` (a period's end: the open period's), not with the account's history.
   */
  postedAtEffective(account: string, currency: string, at: Date): Promise<{ postedDebits: bigint; postedCredits: bigint } | null>;
  /**
   * An account's statement for [from, to) by effective instant: the posted balance before `from`,
   * each posting of the period with the balance after it (pending legs listed, not counted), and
   * the closing balance, which is the balance of everything effective before `to`.
   */
  statement(account: string, currency: string, period: { from: Date; to: Date }): Promise<AccountStatement>;
  /**
   * The transactions effective in [from, to) whose metadata holds every given key with its value,
   * in (effective, sequence) order, without their postings: what a report over a period reads by
   * what was booked (the sales booked under a tax rule). At most 10,000; more is a 400 naming `to`.
   */
  transactionsEffective(metadata: Record<string, string>, period: { from: Date; to: Date }): Promise<EffectiveTransaction[]>;
  /**
   * An account's postings of the journal transactions strictly between two (by sequence; from the
   * start when `afterTransactionId` is null), with their changes and a running balance from 0.
   */
  postingsBetween(account: string, currency: string, range: { afterTransactionId: string | null; beforeTransactionId: string }): Promise<AccountStatement["lines"]>;
  /** Posted debits and credits per account by effective instant: opening before `from`, the period [from, to), closing. */
  trialBalance(period: { from?: Date; to: Date }): Promise<TrialBalance>;
  /**
   * The posted debits and credits of the transactions effective in [from, to) (as the trial balance
   * counts them) on the accounts whose code starts with one of `codePrefixes`, per account and per
   * group of metadata keys: for each list in `groupBy`, the first of its keys the transaction holds
   * and its value (e.g. `[["program", "sellerId"], ["market"]]`), with the trial balance's period
   * figures of the same accounts in one snapshot. Reads the period's postings, never the whole
   * history. At most 10,000 rows: more is a 400 naming `to`.
   */
  movementsByMetadata(select: { codePrefixes: readonly string[] }, period: { from: Date; to: Date }, groupBy: readonly (readonly string[])[]): Promise<MetadataMovements>;
  /**
   * Per currency, the posted balances now of the debit-normal accounts (assets: receivables, cash,
   * and expenses) and of the credit-normal ones (liabilities: sellers' balances, tax payable, and
   * revenue, FX results), from the accounts' running totals; equal when the journal balances.
   * Gross too: each side's balances on and against its normal side apart (netted, a bank account
   * gone negative would hide in the sums), and the accounts against it per owner type.
   */
  balanceSummary(): Promise<BalanceSummary[]>;
  /** The journal head's sequence, and when the first transaction after `afterSequence` was booked (null: none after it). */
  journalPosition(afterSequence: bigint): Promise<{ head: bigint; firstAfterBookedAt: Date | null }>;
  /** The postings of the transactions effective in [from, to), a page of transactions at a time, in sequence order. */
  exportJournal(period: { from: Date; to: Date }): AsyncGenerator<JournalExportLine[]>;
  /**
   * The postings that make up an account's balance, newest first, each with its transaction's
   * effective instant and, when a close re-dated it, the instant it was for (`originalEffectiveAt`).
   */
  history(account: string, currency: string, page: { limit?: number; cursor?: string }): Promise<Page<HistoryPosting>>;
  verifyChain(): Promise<ChainVerification>;
  /**
   * Closes every period before `before`: from then on a transaction effective earlier is booked at
   * `before`, its own instant kept in its metadata (`originalEffectiveAt`). Only forward.
   */
  closePeriod(input: ClosePeriodInput): Promise<PeriodClose>;
  /** The instant before which every period is closed (null: none), and every close, newest first. */
  periodCloses(): Promise<{ closedBefore: Date | null; closes: PeriodClose[] }>;
  /** The pending transactions (neither committed nor voided) effective in a period, for the period-close checklist: how many, their pending debits per currency, the first `limit`. */
  pendingIn(period: OpenPeriod, limit: number): Promise<OpenItems>;
  /** Voids every pending transaction past its timeout; returns how many were voided. */
  expirePending(): Promise<number>;
}
