/**
 * The ledger's rules, without I/O: how a posting moves an account's totals, the normal and available
 * balance, the insufficient-funds rule, planning one item (post, commit, void, reverse) against
 * account state and the transactions it refers to, and planning a whole flush (idempotency, the
 * hash chain, booking time). The writer (writer.ts) loads what a plan needs and writes what it
 * returns; nothing here reads a clock or a database, so every rule is tested without one.
 */
import { isAppError, type AppError } from "../errors.js";
import { LedgerErrors } from "./errors.js";
import { sha256, sortedEntries, transactionHash } from "./hash.js";
import type { Balance, Direction, LedgerAttachment, TransactionInput, TransactionKind, TransactionStatus } from "./types.js";

export type Phase = "posted" | "pending" | "commit" | "void";

/** An account's totals as the writer knows them (committed, or planned within a flush). */
export interface AccountState {
  id: bigint;
  code: string;
  currency: string;
  normalBalance: Direction;
  allowNegative: boolean;
  postedDebits: bigint;
  postedCredits: bigint;
  pendingDebits: bigint;
  pendingCredits: bigint;
  /** Journal id of the last transaction that moved the account; only grows (the optimistic check). */
  lastTransactionId: bigint | null;
}

export interface StoredPosting {
  id: bigint;
  accountId: bigint;
  code: string;
  currency: string;
  direction: Direction;
  phase: Phase;
  amount: bigint;
  balanceAfter: bigint;
}

/** A journal transaction as stored (also one just planned, once its postings have their ids). */
export interface StoredTransaction {
  id: bigint;
  kind: TransactionKind;
  status: TransactionStatus;
  idempotencyKey: string;
  requestHash: string;
  metadata: Record<string, string>;
  description: string | null;
  effectiveAt: Date;
  bookedAt: Date;
  referencesId: bigint | null;
  pendingExpiresAt: Date | null;
  previousHash: string;
  hash: string;
  postings: StoredPosting[];
}

/** The journal head: last sequence, its hash, and the booking time no later transaction may precede. */
export interface Head {
  sequence: bigint;
  hash: string;
  bookedAt: Date;
  /** Every period before this instant is closed (null: none): no transaction is effective before it. */
  closedBefore: Date | null;
}

/** Metadata key of a late transaction's own effective instant, when a period close moved it. */
export const ORIGINAL_EFFECTIVE_AT = "originalEffectiveAt";

/**
 * Where a transaction is effective: its own instant, or, when that falls in a closed period, the
 * first instant of the open one, with its own instant kept in the metadata (both are hashed).
 */
export function effectiveIn(head: Pick<Head, "closedBefore">, at: Date, metadata: Record<string, string>): { effectiveAt: Date; metadata: Record<string, string> } {
  if (head.closedBefore === null || at.getTime() >= head.closedBefore.getTime()) return { effectiveAt: at, metadata };
  return { effectiveAt: head.closedBefore, metadata: { ...metadata, [ORIGINAL_EFFECTIVE_AT]: at.toISOString() } };
}

/** One queued write, validated. `requestHash` is what a replay with the same key must match. */
export type Op =
  | { op: "post"; input: TransactionInput; requestHash: string }
  | { op: "commit" | "void"; pendingId: bigint; idempotencyKey: string; requestHash: string; expiry?: boolean }
  | { op: "reverse"; targetId: bigint; idempotencyKey: string; requestHash: string; metadata: Record<string, string> };

export const accountKey = (code: string, currency: string) => `${code}\u0000${currency}`;

export function opKey(o: Op): string {
  return o.op === "post" ? o.input.idempotencyKey : o.idempotencyKey;
}

/** The distinct idempotency keys a batch books under: each op's own, and those of a post's linked transactions. */
export function batchKeys(ops: readonly Op[]): string[] {
  const keys = new Set<string>();
  for (const o of ops) {
    keys.add(opKey(o));
    if (o.op === "post" && o.input.linked !== undefined) for (const l of o.input.linked) keys.add(l.idempotencyKey);
  }
  return [...keys];
}

/**
 * The inputs whose postings a post brings (its own, then its linked transactions'). Without linked
 * transactions, the one-element list every post had: no copy on the hot path.
 */
export function postInputs(input: TransactionInput): readonly TransactionInput[] {
  return input.linked === undefined || input.linked.length === 0 ? [input] : [input, ...input.linked];
}

/** Canonical request identity of a post: what must match for a replay to be "the same request". */
export function requestHash(t: TransactionInput): string {
  return sha256(
    JSON.stringify([
      "post-v1",
      t.postings.map((p) => [p.account, p.currency, p.direction, p.amount.toString()]),
      t.pending === true,
      t.pendingTimeoutSeconds ?? null,
      sortedEntries(t.metadata),
      t.description ?? null,
      t.effectiveAt ? t.effectiveAt.toISOString() : null,
      // Linked transactions are part of the request (absent: the hash of a post without them, as ever).
      ...(t.linked === undefined || t.linked.length === 0 ? [] : [t.linked.map(requestHash)]),
    ]),
  );
}

export const Ops = {
  post: (input: TransactionInput): Op => ({ op: "post", input, requestHash: requestHash(input) }),
  commit: (pendingId: bigint, idempotencyKey: string): Op => ({
    op: "commit",
    pendingId,
    idempotencyKey,
    requestHash: sha256(JSON.stringify(["commit", pendingId.toString()])),
  }),
  /** `expiry`: the void of a pending transaction past its timeout (recorded as such). */
  void: (pendingId: bigint, idempotencyKey: string, expiry = false): Op => ({
    op: "void",
    pendingId,
    idempotencyKey,
    requestHash: sha256(JSON.stringify(["void", pendingId.toString()])),
    ...(expiry ? { expiry } : {}),
  }),
  reverse: (targetId: bigint, idempotencyKey: string, metadata: Record<string, string>): Op => ({
    op: "reverse",
    targetId,
    idempotencyKey,
    metadata,
    requestHash: sha256(JSON.stringify(["reverse", targetId.toString(), sortedEntries(metadata)])),
  }),
};

// ---------------------------------------------------------------------------------------------
// Balances

export interface PostingMove {
  account: AccountState;
  direction: Direction;
  phase: Phase;
  amount: bigint;
}

/**
 * Every running total of an account (posted and pending, debit and credit) stays below this: the
 * columns are NUMERIC(38,0) and one posting is below 10^36 (validate.ts), so the database never
 * meets an overflow, and an account near the limit refuses its own postings with a coded 422
 * instead of failing a whole flush. Totals only grow, so the margin is wide on purpose: at the
 * settlement edge's 10^15 per event, reaching it takes 10^22 events.
 */
export const MAX_ACCOUNT_TOTAL = 10n ** 37n;

/** The item's error when an account total would reach MAX_ACCOUNT_TOTAL, else null. */
export function totalsLimit(after: AccountState): AppError | null {
  const totals = { postedDebits: after.postedDebits, postedCredits: after.postedCredits, pendingDebits: after.pendingDebits, pendingCredits: after.pendingCredits };
  for (const [name, v] of Object.entries(totals)) {
    if (v >= MAX_ACCOUNT_TOTAL) {
      return LedgerErrors.limitExceeded(`account ${after.code} (${after.currency}): ${name} would reach the ledger's limit of 10^37 minor units`, {
        details: { account: after.code, currency: after.currency, total: name },
      });
    }
  }
  return null;
}

/** Moves `a`'s totals by one posting (in place: callers pass their own copy). */
export function applyPosting(a: AccountState, p: Omit<PostingMove, "account">): void {
  const debit = p.direction === "debit";
  switch (p.phase) {
    case "posted":
      if (debit) a.postedDebits += p.amount;
      else a.postedCredits += p.amount;
      break;
    case "pending":
      if (debit) a.pendingDebits += p.amount;
      else a.pendingCredits += p.amount;
      break;
    case "commit":
      if (debit) {
        a.pendingDebits -= p.amount;
        a.postedDebits += p.amount;
      } else {
        a.pendingCredits -= p.amount;
        a.postedCredits += p.amount;
      }
      break;
    case "void":
      if (debit) a.pendingDebits -= p.amount;
      else a.pendingCredits -= p.amount;
      break;
  }
}

type Totals = Pick<AccountState, "normalBalance" | "postedDebits" | "postedCredits" | "pendingDebits" | "pendingCredits">;

/** Posted balance in the account's normal direction. */
export function normalBalance(a: Totals): bigint {
  return a.normalBalance === "credit" ? a.postedCredits - a.postedDebits : a.postedDebits - a.postedCredits;
}

/** Posted minus pending outflows (pending inflows are not spendable until committed). */
export function availableBalance(a: Totals): bigint {
  return normalBalance(a) - (a.normalBalance === "credit" ? a.pendingDebits : a.pendingCredits);
}

/** The public balance of `a` with the given totals (now, or as they were at `asOf`). */
export function toBalance(
  a: AccountState,
  totals: { postedDebits: bigint; postedCredits: bigint; pendingDebits: bigint; pendingCredits: bigint },
  asOf: Date,
  lastTransactionId: bigint | null,
): Balance {
  const s = { normalBalance: a.normalBalance, ...totals };
  return {
    account: a.code,
    currency: a.currency,
    posted: normalBalance(s),
    available: availableBalance(s),
    pendingDebits: totals.pendingDebits,
    pendingCredits: totals.pendingCredits,
    postedDebits: totals.postedDebits,
    postedCredits: totals.postedCredits,
    asOf,
    lastTransactionId: lastTransactionId === null ? null : lastTransactionId.toString(),
  };
}

/**
 * The insufficient-funds rule: an account that may not go negative refuses a transaction that
 * leaves its available balance below zero AND lower than before. A transaction that raises (or
 * keeps) an already negative available balance is accepted: refusing it would only block repair.
 */
export function insufficientFunds(before: AccountState, after: AccountState): AppError | null {
  const now = availableBalance(after);
  const was = availableBalance(before);
  if (after.allowNegative || now >= 0n || now >= was) return null;
  return LedgerErrors.insufficientFunds(`account ${after.code} (${after.currency}) would have available balance ${now} after this transaction`, {
    details: { account: after.code, currency: after.currency, available: was.toString(), shortfall: (-now).toString() },
  });
}

// ---------------------------------------------------------------------------------------------
// One item

/** What one item would book, before it is applied to the accounts. */
export interface ItemPlan {
  kind: TransactionKind;
  postings: PostingMove[];
  metadata: Record<string, string>;
  description: string | null;
  effectiveAt: Date | null;
  referencesId: bigint | null;
  pendingExpiresAt: Date | null;
  /** The pending transaction a commit/void settles. */
  statusChange?: { id: bigint; status: TransactionStatus };
}

/**
 * Plans one item against the accounts (by code and currency) and the referenced transactions (as
 * they stand at this point of the flush). Throws the item's AppError when it cannot be booked.
 */
export function planItem(
  o: Op,
  accountOf: (code: string, currency: string) => AccountState | undefined,
  referenced: ReadonlyMap<bigint, StoredTransaction>,
  reversed: ReadonlySet<bigint>,
  now: Date,
): ItemPlan {
  if (o.op === "post") {
    const inp = o.input;
    const phase: Phase = inp.pending ? "pending" : "posted";
    const postings = inp.postings.map((p, j): PostingMove => {
      const account = accountOf(p.account, p.currency);
      if (!account) {
        throw LedgerErrors.accountNotFound(`account ${p.account} (${p.currency}) does not exist and no spec was given`, {
          fields: [{ field: `postings.${j}.account`, message: "unknown account" }],
        });
      }
      return { account, direction: p.direction, phase, amount: p.amount };
    });
    return {
      kind: inp.pending ? "pending" : "standard",
      postings,
      metadata: inp.metadata ?? {},
      description: inp.description ?? null,
      effectiveAt: inp.effectiveAt ?? null,
      referencesId: null,
      pendingExpiresAt: inp.pending && inp.pendingTimeoutSeconds ? new Date(now.getTime() + inp.pendingTimeoutSeconds * 1000) : null,
    };
  }
  const targetId = o.op === "reverse" ? o.targetId : o.pendingId;
  const ref = referenced.get(targetId);
  if (!ref) throw LedgerErrors.transactionNotFound(`transaction ${targetId} not found`, { details: { transactionId: targetId.toString() } });
  // The accounts of a stored transaction exist (postings reference them): the loader supplied them.
  const accountOfPosting = (p: StoredPosting) => accountOf(p.code, p.currency)!;
  if (o.op === "reverse") {
    if (ref.kind !== "standard" && ref.kind !== "commit") {
      throw LedgerErrors.notReversible(`transaction ${ref.id} is a ${ref.kind} transaction; only posted standard or commit transactions can be reversed`);
    }
    if (reversed.has(ref.id)) throw LedgerErrors.notReversible(`transaction ${ref.id} was already reversed`);
    return {
      kind: "reversal",
      postings: ref.postings.map((p) => ({ account: accountOfPosting(p), direction: flip(p.direction), phase: "posted", amount: p.amount })),
      metadata: { ...ref.metadata, ...o.metadata },
      description: `reversal of transaction ${ref.id}`,
      effectiveAt: null,
      referencesId: ref.id,
      pendingExpiresAt: null,
    };
  }
  if (ref.kind !== "pending" || ref.status !== "pending") {
    throw LedgerErrors.notPending(`transaction ${ref.id} is ${ref.kind}/${ref.status}, not pending`, {
      details: { transactionId: ref.id.toString(), status: ref.status },
    });
  }
  if (o.op === "commit" && ref.pendingExpiresAt && ref.pendingExpiresAt.getTime() <= now.getTime()) {
    throw LedgerErrors.pendingExpired(`pending transaction ${ref.id} expired at ${ref.pendingExpiresAt.toISOString()}`);
  }
  return {
    kind: o.op,
    postings: ref.postings.map((p) => ({ account: accountOfPosting(p), direction: p.direction, phase: o.op, amount: p.amount })),
    metadata: o.expiry ? { ...ref.metadata, voidReason: "timeout" } : ref.metadata,
    description: o.expiry ? `timeout of pending transaction ${ref.id}` : null,
    effectiveAt: null,
    referencesId: ref.id,
    pendingExpiresAt: null,
    statusChange: { id: ref.id, status: o.op === "commit" ? "posted" : "voided" },
  };
}

function flip(d: Direction): Direction {
  return d === "debit" ? "credit" : "debit";
}

// ---------------------------------------------------------------------------------------------
// A flush

/** A posting planned in a flush, with the account's totals right after it. */
export interface PlannedPosting extends PostingMove {
  balanceAfter: bigint;
  totalsAfter: { postedDebits: bigint; postedCredits: bigint; pendingDebits: bigint; pendingCredits: bigint };
}

/** A transaction a flush creates; its postings get their ids when written. */
export interface NewTransaction extends Omit<StoredTransaction, "postings"> {
  postings: PlannedPosting[];
  /** The caller's row written in the same commit (TransactionInput.attachment). */
  attachment?: LedgerAttachment;
}

/** The answer a flush gives one item. */
export type ItemOutcome =
  | { status: "created"; transaction: NewTransaction }
  /** The key was in the journal before this flush, for the same request: answer with it, read back. */
  | { status: "exists"; id: bigint }
  /** Same key and request as the earlier item `of` of this flush, which was created: answer with that. */
  | { status: "duplicate"; of: number }
  | { status: "error"; error: AppError };

export interface FlushInput {
  ops: readonly Op[];
  /** The journal head the flush builds on. */
  head: Head;
  now: Date;
  /** State before the flush of the accounts the ops touch (by accountKey); a missing one is unknown. */
  accounts: ReadonlyMap<string, AccountState>;
  /** The batch's idempotency keys already in the journal. */
  existing: ReadonlyMap<string, { id: bigint; requestHash: string }>;
  /** Transactions the batch commits, voids or reverses, as stored. */
  referenced: ReadonlyMap<bigint, StoredTransaction>;
  /** Of those, the ones already reversed. */
  reversed: ReadonlySet<bigint>;
}

export interface FlushPlan {
  /** One answer per op, in order. */
  items: ItemOutcome[];
  /** The created transactions in journal order. */
  created: NewTransaction[];
  /** Accounts moved by `created`: state after the flush, and the version the plan read. */
  accounts: Array<{ after: AccountState; seenLast: bigint | null }>;
  /** Pending transactions settled by commits/voids of this flush. */
  statusChanges: Array<{ id: bigint; status: TransactionStatus }>;
  /** The head after the flush. */
  head: Head;
}

/**
 * Plans a flush item by item: an item that fails (replay with another body, unknown account,
 * insufficient funds...) gets its own answer and changes nothing; the items after it see the state
 * the created ones left. A post with linked transactions (TransactionInput.linked) is one item: its
 * transactions are planned one after another, each on the state the one before left, and created
 * all or none (one of them failing is the item's answer; the funds rule applies to what the item
 * leaves, as for one transaction). Inputs are not modified. `createOnly`
 * (the optimistic path) gives up with null at the first item that would not be created, since only
 * the locking path can answer those.
 */
export function planFlush(input: FlushInput, createOnly: true): FlushPlan | null;
export function planFlush(input: FlushInput, createOnly?: false): FlushPlan;
export function planFlush(input: FlushInput, createOnly = false): FlushPlan | null {
  const { ops, head, now } = input;
  // Booking time never goes back along the chain, whatever the clocks of the writers say.
  const bookedAt = now.getTime() > head.bookedAt.getTime() ? now : head.bookedAt;
  const accounts = new Map<string, AccountState>();
  const flushAccountOf = (code: string, currency: string) => {
    const k = accountKey(code, currency);
    return accounts.get(k) ?? input.accounts.get(k);
  };
  const referenced = new Map(input.referenced);
  const reversed = new Set(input.reversed);
  // Accounts moved, in the order first moved: where their state is, and the version the plan read.
  const moved = new Map<bigint, { key: string; seenLast: bigint | null }>();
  const items: ItemOutcome[] = [];
  const created: NewTransaction[] = [];
  const statusChanges: Array<{ id: bigint; status: TransactionStatus }> = [];
  // By key: the request and item of its first use in this flush (a linked key's is "": no request matches it).
  const firstOfKey = new Map<string, { requestHash: string; index: number }>();
  let sequence = head.sequence;
  let previousHash = head.hash;

  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    const k = opKey(o);
    const prior = input.existing.get(k);
    if (prior) {
      if (createOnly) return null;
      items.push(prior.requestHash === o.requestHash ? { status: "exists", id: prior.id } : { status: "error", error: conflict(k) });
      continue;
    }
    const sameBatch = firstOfKey.get(k);
    if (sameBatch) {
      if (sameBatch.requestHash === o.requestHash) {
        items.push({ status: "duplicate", of: sameBatch.index });
        continue;
      }
      if (createOnly) return null;
      items.push({ status: "error", error: conflict(k) });
      continue;
    }
    // The item's transactions (a post and those linked to it), planned on a scratch copy of the
    // state: kept only if all can be booked.
    const linked = o.op === "post" ? o.input.linked : undefined;
    const group: readonly Op[] = linked === undefined || linked.length === 0 ? [o] : [o, ...linked.map(Ops.post)];
    const scratch = new Map<string, AccountState>();
    const accountOf = group.length === 1 ? flushAccountOf : (code: string, currency: string) => scratch.get(accountKey(code, currency)) ?? flushAccountOf(code, currency);
    const planned: NewTransaction[] = [];
    const changes: Array<{ id: bigint; status: TransactionStatus }> = [];
    let seq = sequence;
    let prev = previousHash;
    try {
      for (let j = 0; j < group.length; j++) {
        const g = group[j]!;
        const gk = opKey(g);
        if (j > 0 && (input.existing.has(gk) || firstOfKey.has(gk) || group.findIndex((x) => opKey(x) === gk) !== j)) throw conflict(gk);
        const plan = planItem(g, accountOf, referenced, reversed, now);
        const { postings, touched } = applyItem(plan.postings);
        for (const a of touched.values()) {
          const error = totalsLimit(a);
          if (error) throw error;
        }
        seq += 1n;
        const effective = effectiveIn(head, plan.effectiveAt ?? bookedAt, plan.metadata);
        const t: NewTransaction = {
          id: seq,
          kind: plan.kind,
          status: plan.kind === "pending" ? "pending" : "posted",
          idempotencyKey: gk,
          requestHash: g.requestHash,
          metadata: effective.metadata,
          description: plan.description,
          effectiveAt: effective.effectiveAt,
          bookedAt,
          referencesId: plan.referencesId,
          pendingExpiresAt: plan.pendingExpiresAt,
          previousHash: prev,
          hash: "",
          postings,
          ...(g.op === "post" && g.input.attachment !== undefined ? { attachment: g.input.attachment } : {}),
        };
        t.hash = hashOf(t, prev);
        prev = t.hash;
        for (const a of touched.values()) {
          a.lastTransactionId = t.id;
          scratch.set(accountKey(a.code, a.currency), a);
        }
        if (plan.statusChange) changes.push(plan.statusChange);
        planned.push(t);
      }
      // The funds rule holds for the item as a whole: linked transactions are one unit, and a
      // balance between two of them is never anyone's to spend.
      // Accounts the item holds to the rule though they may go negative (TransactionInput.notBelowZero).
      // (No set is made for the items that name none: the settlement path's.)
      const holds = o.op === "post" ? o.input.notBelowZero : undefined;
      const held = holds === undefined || holds.length === 0 ? null : new Set(holds.map((n) => accountKey(n.account, n.currency)));
      for (const [ak, a] of scratch) {
        const error = insufficientFunds((accounts.get(ak) ?? input.accounts.get(ak))!, held?.has(ak) === true ? { ...a, allowNegative: false } : a);
        if (error) throw error;
      }
    } catch (e) {
      if (!isAppError(e)) throw e;
      if (createOnly) return null;
      items.push({ status: "error", error: e });
      continue;
    }
    sequence = seq;
    previousHash = prev;
    for (const [ak, a] of scratch) {
      if (!moved.has(a.id)) moved.set(a.id, { key: ak, seenLast: input.accounts.get(ak)!.lastTransactionId });
      accounts.set(ak, a);
    }
    for (const c of changes) {
      statusChanges.push(c);
      referenced.set(c.id, { ...referenced.get(c.id)!, status: c.status });
    }
    if (o.op === "reverse") reversed.add(o.targetId);
    firstOfKey.set(k, { requestHash: o.requestHash, index: i });
    for (const t of planned.slice(1)) firstOfKey.set(t.idempotencyKey, { requestHash: "", index: i });
    created.push(...planned);
    items.push({ status: "created", transaction: planned[0]! });
  }
  return {
    items,
    created,
    accounts: [...moved.values()].map((m) => ({ after: accounts.get(m.key)!, seenLast: m.seenLast })),
    statusChanges,
    head: { sequence, hash: previousHash, bookedAt, closedBefore: head.closedBefore },
  };
}

/** Applies an item's postings to copies of its accounts, recording each account's totals after. */
function applyItem(moves: PostingMove[]): { postings: PlannedPosting[]; touched: Map<bigint, AccountState> } {
  const touched = new Map<bigint, AccountState>();
  for (const p of moves) if (!touched.has(p.account.id)) touched.set(p.account.id, { ...p.account });
  const postings = moves.map((p): PlannedPosting => {
    const a = touched.get(p.account.id)!;
    applyPosting(a, p);
    return {
      ...p,
      balanceAfter: normalBalance(a),
      totalsAfter: { postedDebits: a.postedDebits, postedCredits: a.postedCredits, pendingDebits: a.pendingDebits, pendingCredits: a.pendingCredits },
    };
  });
  return { postings, touched };
}

function conflict(k: string): AppError {
  return LedgerErrors.idempotencyConflict(`idempotency key ${k} was used for a different request`);
}

/** The chained hash of a transaction (planned, or stored: what verifyChain recomputes) on top of `previousHash`. */
export function hashOf(t: NewTransaction | StoredTransaction, previousHash: string): string {
  return transactionHash(
    {
      ...t,
      postings: (t.postings as Array<PlannedPosting | StoredPosting>).map((p) =>
        "account" in p
          ? { accountId: p.account.id, currency: p.account.currency, direction: p.direction, phase: p.phase, amount: p.amount }
          : { accountId: p.accountId, currency: p.currency, direction: p.direction, phase: p.phase, amount: p.amount },
      ),
    },
    previousHash,
  );
}

/** The created transactions with the posting ids the write returned (in posting order). */
export function withPostingIds(created: readonly NewTransaction[], ids: readonly bigint[]): StoredTransaction[] {
  let j = 0;
  return created.map((t) => ({
    ...t,
    postings: t.postings.map(
      (p): StoredPosting => ({
        id: ids[j++]!,
        accountId: p.account.id,
        code: p.account.code,
        currency: p.account.currency,
        direction: p.direction,
        phase: p.phase,
        amount: p.amount,
        balanceAfter: p.balanceAfter,
      }),
    ),
  }));
}
