/**
 * The ledger's rules without a database (service/ledger/plan.ts): balances, the insufficient-funds
 * rule, every item kind, idempotency within a flush, the hash chain; then a property test that
 * applying any sequence of planned flushes keeps every currency at zero and every account's totals
 * equal to the sum of its postings.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AppError } from "../../service/errors.js";
import { LedgerErrors } from "../../service/ledger/errors.js";
import { GENESIS_HASH, transactionHash } from "../../service/ledger/hash.js";
import {
  accountKey,
  applyPosting,
  availableBalance,
  insufficientFunds,
  normalBalance,
  Ops,
  planFlush,
  withPostingIds,
  type AccountState,
  type FlushInput,
  type FlushPlan,
  type Head,
  type ItemOutcome,
  type Op,
  type Phase,
  type StoredTransaction,
} from "../../service/ledger/plan.js";
import type { Direction, TransactionInput } from "../../service/ledger/types.js";

const T0 = new Date("2026-03-01T00:00:00Z");
const HEAD: Head = { sequence: 0n, hash: GENESIS_HASH, bookedAt: new Date("2026-01-01T00:00:00Z"), closedBefore: null };

let nextId = 1n;
function account(code: string, over: Partial<AccountState> = {}): AccountState {
  return {
    id: nextId++,
    code,
    currency: "USD",
    normalBalance: "credit",
    allowNegative: false,
    postedDebits: 0n,
    postedCredits: 0n,
    pendingDebits: 0n,
    pendingCredits: 0n,
    lastTransactionId: null,
    ...over,
  };
}

/** A seller with `posted` in its (credit-normal) balance, and a funding account that may go negative. */
const SELLER = account("seller:S1:available", { postedCredits: 100n, lastTransactionId: 7n });
const FUNDING = account("gateway:gw:clearing", { normalBalance: "debit", allowNegative: true, postedDebits: 100n, lastTransactionId: 7n });
const OTHER = account("seller:S2:available");

function byKey(...accounts: AccountState[]): Map<string, AccountState> {
  return new Map(accounts.map((a) => [accountKey(a.code, a.currency), a]));
}

function move(key: string, from: AccountState, to: AccountState, amount: bigint, over: Partial<TransactionInput> = {}): Op {
  return Ops.post({
    idempotencyKey: key,
    postings: [
      { account: from.code, currency: from.currency, direction: "debit", amount },
      { account: to.code, currency: to.currency, direction: "credit", amount },
    ],
    ...over,
  });
}

function input(ops: Op[], over: Partial<FlushInput> = {}): FlushInput {
  return {
    ops,
    head: HEAD,
    now: T0,
    accounts: byKey(SELLER, FUNDING, OTHER),
    existing: new Map(),
    referenced: new Map(),
    reversed: new Set(),
    ...over,
  };
}

function errorOf(o: ItemOutcome | undefined): AppError {
  if (o?.status !== "error") throw new Error(`expected an error, got ${o?.status}`);
  return o.error;
}

function created(o: ItemOutcome | undefined) {
  if (o?.status !== "created") throw new Error(`expected created, got ${o?.status === "error" ? o.error.code : o?.status}`);
  return o.transaction;
}

function afterOf(plan: FlushPlan, a: AccountState): AccountState {
  return plan.accounts.find((x) => x.after.id === a.id)!.after;
}

/** A stored transaction as the store would load it: the plan's, with posting ids. */
function stored(plan: FlushPlan): StoredTransaction[] {
  let id = 1000n;
  return withPostingIds(plan.created, plan.created.flatMap((t) => t.postings.map(() => id++)));
}

describe("balances", () => {
  it("takes the posted balance in the account's normal direction", () => {
    const t = { postedDebits: 30n, postedCredits: 100n, pendingDebits: 0n, pendingCredits: 0n };
    expect(normalBalance({ normalBalance: "credit", ...t })).toBe(70n);
    expect(normalBalance({ normalBalance: "debit", ...t })).toBe(-70n);
  });

  it("makes pending outflows unavailable and pending inflows not yet spendable", () => {
    const t = { postedDebits: 0n, postedCredits: 100n, pendingDebits: 40n, pendingCredits: 25n };
    expect(availableBalance({ normalBalance: "credit", ...t })).toBe(60n);
    expect(availableBalance({ normalBalance: "debit", postedDebits: 100n, postedCredits: 0n, pendingDebits: 25n, pendingCredits: 40n })).toBe(60n);
  });

  it.each<[Phase, Direction, Partial<AccountState>]>([
    ["posted", "debit", { postedDebits: 5n }],
    ["posted", "credit", { postedCredits: 5n }],
    ["pending", "debit", { pendingDebits: 5n }],
    ["pending", "credit", { pendingCredits: 5n }],
    ["commit", "debit", { pendingDebits: -5n, postedDebits: 5n }],
    ["commit", "credit", { pendingCredits: -5n, postedCredits: 5n }],
    ["void", "debit", { pendingDebits: -5n }],
    ["void", "credit", { pendingCredits: -5n }],
  ])("applies a %s %s to the right totals", (phase, direction, moved) => {
    const a = account("x");
    applyPosting(a, { direction, phase, amount: 5n });
    expect({ pd: a.postedDebits, pc: a.postedCredits, qd: a.pendingDebits, qc: a.pendingCredits }).toEqual({
      pd: moved.postedDebits ?? 0n,
      pc: moved.postedCredits ?? 0n,
      qd: moved.pendingDebits ?? 0n,
      qc: moved.pendingCredits ?? 0n,
    });
  });
});

describe("the insufficient-funds rule", () => {
  const at = (available: bigint, over: Partial<AccountState> = {}) =>
    account("seller:X:available", available >= 0n ? { postedCredits: available, ...over } : { postedDebits: -available, ...over });

  it("refuses a transaction that takes the available balance below zero, with the shortfall", () => {
    const e = insufficientFunds(at(5n), at(-1n));
    expect(e?.code).toBe(LedgerErrors.insufficientFunds.code);
    expect(e?.details).toMatchObject({ available: "5", shortfall: "1" });
  });

  it("accepts one that ends at exactly zero", () => {
    expect(insufficientFunds(at(5n), at(0n))).toBeNull();
  });

  it("accepts one that raises (or keeps) an already negative balance", () => {
    expect(insufficientFunds(at(-10n), at(-5n))).toBeNull();
    expect(insufficientFunds(at(-10n), at(-10n))).toBeNull();
  });

  it("refuses one that lowers an already negative balance further", () => {
    expect(insufficientFunds(at(-10n), at(-11n))).not.toBeNull();
  });

  it("lets an account that allows it go as low as it likes", () => {
    expect(insufficientFunds(at(5n, { allowNegative: true }), at(-500n, { allowNegative: true }))).toBeNull();
  });

  it("counts pending outflows and ignores pending inflows", () => {
    // 100 posted, 100 reserved for a pending payout: nothing left to spend.
    const reserved = at(100n, { pendingDebits: 100n });
    expect(insufficientFunds(reserved, { ...reserved, postedDebits: 1n })).not.toBeNull();
    // 0 posted, 100 arriving but pending: not spendable yet.
    const arriving = at(0n, { pendingCredits: 100n });
    expect(insufficientFunds(arriving, { ...arriving, postedDebits: 1n })).not.toBeNull();
  });
});

describe("planning a flush of posts", () => {
  it("chains each created transaction to the one before and advances the head", () => {
    const plan = planFlush(input([move("a", SELLER, OTHER, 10n), move("b", SELLER, OTHER, 20n)]));
    const [a, b] = plan.items.map(created);
    expect([a!.id, b!.id]).toEqual([1n, 2n]);
    expect(a!.previousHash).toBe(GENESIS_HASH);
    expect(b!.previousHash).toBe(a!.hash);
    // The hash is the canonical one, over the account ids (hash.ts).
    const [first] = stored(plan);
    expect(a!.hash).toBe(transactionHash(first!, GENESIS_HASH));
    expect(plan.head).toEqual({ sequence: 2n, hash: b!.hash, bookedAt: T0, closedBefore: null });
    expect(plan.created).toEqual([a, b]);
  });

  it("never books earlier than the head, and defaults the effective time to the booking time", () => {
    const late = new Date(HEAD.bookedAt.getTime() - 1000);
    const effective = new Date("2025-12-24T00:00:00Z");
    const plan = planFlush(input([move("a", SELLER, OTHER, 1n), move("b", SELLER, OTHER, 1n, { effectiveAt: effective })], { now: late }));
    const [a, b] = plan.items.map(created);
    expect(a!.bookedAt).toEqual(HEAD.bookedAt);
    expect(a!.effectiveAt).toEqual(HEAD.bookedAt);
    expect(b!.effectiveAt).toEqual(effective);
  });

  it("books a transaction effective in a closed period at the close instant, its own instant in its metadata, both hashed", () => {
    const closedBefore = new Date("2026-02-01T00:00:00Z");
    const head = { ...HEAD, closedBefore };
    const inJanuary = new Date("2026-01-31T23:59:59.999Z");
    const plan = planFlush(
      input(
        [
          move("late", SELLER, OTHER, 1n, { effectiveAt: inJanuary, metadata: { settlementId: "ORD-1" } }),
          move("on-time", SELLER, OTHER, 1n, { effectiveAt: closedBefore }),
          move("now", SELLER, OTHER, 1n),
        ],
        { head },
      ),
    );
    const [late, onTime, now] = plan.items.map(created);
    expect(late!.effectiveAt).toEqual(closedBefore);
    expect(late!.metadata).toEqual({ settlementId: "ORD-1", originalEffectiveAt: inJanuary.toISOString() });
    // The request hash is the request's: a replay of the same late request is the same transaction.
    expect(late!.requestHash).toBe(move("late", SELLER, OTHER, 1n, { effectiveAt: inJanuary, metadata: { settlementId: "ORD-1" } }).requestHash);
    const [first] = stored(plan);
    expect(late!.hash).toBe(transactionHash(first!, GENESIS_HASH));
    // At or after the close: untouched.
    expect(onTime!.effectiveAt).toEqual(closedBefore);
    expect(onTime!.metadata).toEqual({});
    expect(now!.effectiveAt).toEqual(T0);
    expect(plan.head.closedBefore).toEqual(closedBefore);
    // Property: whatever the instants, nothing planned is effective before the close.
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -86_400_000 * 60, max: 86_400_000 * 60 }), { minLength: 1, maxLength: 20 }), (offsets) => {
        const ops = offsets.map((o, i) => move(`p${i}`, SELLER, OTHER, 1n, { effectiveAt: new Date(closedBefore.getTime() + o) }));
        const p = planFlush(input(ops, { head }));
        return p.created.every((t, i) => t.effectiveAt.getTime() >= closedBefore.getTime() && (offsets[i]! < 0) === (t.metadata["originalEffectiveAt"] !== undefined));
      }),
    );
  });

  it("records each posting's balance and totals after it, and each account's version before the flush", () => {
    const plan = planFlush(input([move("a", SELLER, OTHER, 30n), move("b", SELLER, OTHER, 20n)]));
    const b = created(plan.items[1]);
    expect(b.postings.map((p) => [p.account.code, p.balanceAfter])).toEqual([
      [SELLER.code, 50n],
      [OTHER.code, 50n],
    ]);
    expect(b.postings[0]!.totalsAfter).toEqual({ postedDebits: 50n, postedCredits: 100n, pendingDebits: 0n, pendingCredits: 0n });
    expect(plan.accounts.map((a) => [a.after.code, a.seenLast, a.after.lastTransactionId])).toEqual([
      [SELLER.code, 7n, 2n],
      [OTHER.code, null, 2n],
    ]);
  });

  it("leaves its inputs as they were", () => {
    const accounts = byKey(SELLER, FUNDING, OTHER);
    const snapshot = structuredClone([...accounts.values()]);
    planFlush(input([move("a", SELLER, OTHER, 30n), move("b", FUNDING, SELLER, 5n)], { accounts }));
    expect([...accounts.values()]).toEqual(snapshot);
  });

  it("gives a failing item its own error, changes nothing for it, and goes on", () => {
    const plan = planFlush(input([move("a", SELLER, OTHER, 150n), move("b", SELLER, OTHER, 100n), move("c", SELLER, OTHER, 1n)]));
    expect(errorOf(plan.items[0]).code).toBe(LedgerErrors.insufficientFunds.code);
    expect(created(plan.items[1]).id).toBe(1n);
    expect(errorOf(plan.items[2]).code).toBe(LedgerErrors.insufficientFunds.code);
    expect(afterOf(plan, SELLER).postedDebits).toBe(100n);
    expect(plan.head.sequence).toBe(1n);
  });

  it("judges each item against the balance the items before it left, not the flush's start", () => {
    const short = account("seller:S3:available", { postedDebits: 10n });
    // -10 -> -5 is allowed (it raises the balance); -5 -> -8 is not, though still above -10.
    const plan = planFlush(input([move("up", FUNDING, short, 5n), move("down", short, FUNDING, 3n)], { accounts: byKey(FUNDING, short) }));
    expect(created(plan.items[0]).id).toBe(1n);
    expect(errorOf(plan.items[1]).code).toBe(LedgerErrors.insufficientFunds.code);
    expect(availableBalance(afterOf(plan, short))).toBe(-5n);
  });

  it("lets an account that allows it go negative", () => {
    const platform = account("platform:fees:revenue", { allowNegative: true });
    const plan = planFlush(input([move("a", platform, FUNDING, 500n)], { accounts: byKey(SELLER, FUNDING, OTHER, platform) }));
    expect(created(plan.items[0]).id).toBe(1n);
    expect(normalBalance(afterOf(plan, platform))).toBe(-500n);
    expect(normalBalance(afterOf(plan, FUNDING))).toBe(-400n);
  });

  it("refuses a posting to an unknown account, naming the posting", () => {
    const ghost = account("seller:ghost:available");
    const e = errorOf(planFlush(input([move("a", SELLER, ghost, 1n)])).items[0]);
    expect(e.code).toBe(LedgerErrors.accountNotFound.code);
    expect(e.fields?.[0]?.field).toBe("postings.1.account");
  });

  it("reserves on a pending post and sets its timeout from the clock", () => {
    const plan = planFlush(input([move("p", SELLER, OTHER, 60n, { pending: true, pendingTimeoutSeconds: 30 })]));
    const t = created(plan.items[0]);
    expect([t.kind, t.status, t.pendingExpiresAt]).toEqual(["pending", "pending", new Date(T0.getTime() + 30_000)]);
    expect(t.postings.map((p) => p.phase)).toEqual(["pending", "pending"]);
    expect(availableBalance(afterOf(plan, SELLER))).toBe(40n);
    expect(normalBalance(afterOf(plan, SELLER))).toBe(100n);
    // The reserve counts against the next item of the same flush.
    const two = planFlush(input([move("p", SELLER, OTHER, 60n, { pending: true }), move("q", SELLER, OTHER, 50n)]));
    expect(errorOf(two.items[1]).code).toBe(LedgerErrors.insufficientFunds.code);
  });
});

describe("two-phase transfers", () => {
  /** A pending payout of 60 from the seller, stored as transaction 1 (head at 1). */
  function pending(over: Partial<TransactionInput> = {}) {
    const plan = planFlush(input([move("p", SELLER, OTHER, 60n, { pending: true, ...over })]));
    const [t] = stored(plan);
    return { t: t!, head: plan.head, accounts: byKey(...plan.accounts.map((a) => a.after), FUNDING) };
  }
  const on = (p: ReturnType<typeof pending>, ops: Op[], over: Partial<FlushInput> = {}) =>
    planFlush(input(ops, { head: p.head, accounts: p.accounts, referenced: new Map([[p.t.id, p.t]]), ...over }));

  it("commits: the reserve becomes posted and the pending transaction is marked posted", () => {
    const p = pending();
    const plan = on(p, [Ops.commit(p.t.id, "c")]);
    const c = created(plan.items[0]);
    expect([c.kind, c.status, c.referencesId, c.metadata]).toEqual(["commit", "posted", p.t.id, p.t.metadata]);
    expect(plan.statusChanges).toEqual([{ id: p.t.id, status: "posted" }]);
    const s = afterOf(plan, SELLER);
    expect([normalBalance(s), availableBalance(s), s.pendingDebits]).toEqual([40n, 40n, 0n]);
  });

  it("voids: the reserve is released and the pending transaction is marked voided", () => {
    const p = pending();
    const plan = on(p, [Ops.void(p.t.id, "v")]);
    expect(created(plan.items[0]).kind).toBe("void");
    expect(plan.statusChanges).toEqual([{ id: p.t.id, status: "voided" }]);
    const s = afterOf(plan, SELLER);
    expect([normalBalance(s), availableBalance(s), s.pendingDebits]).toEqual([100n, 100n, 0n]);
  });

  it("settles a pending transaction once: a second commit or void in the same flush is refused", () => {
    const p = pending();
    const plan = on(p, [Ops.commit(p.t.id, "c"), Ops.void(p.t.id, "v"), Ops.commit(p.t.id, "c2")]);
    expect(created(plan.items[0]).kind).toBe("commit");
    expect(errorOf(plan.items[1]).code).toBe(LedgerErrors.notPending.code);
    expect(errorOf(plan.items[1]).details).toMatchObject({ status: "posted" });
    expect(errorOf(plan.items[2]).code).toBe(LedgerErrors.notPending.code);
  });

  it("refuses to commit or void what is not pending, or settled already", () => {
    const p = pending();
    const settled = { ...p.t, status: "voided" as const };
    expect(errorOf(on(p, [Ops.commit(p.t.id, "c")], { referenced: new Map([[p.t.id, settled]]) }).items[0]).code).toBe(LedgerErrors.notPending.code);
    const standard = { ...p.t, kind: "standard" as const, status: "posted" as const };
    expect(errorOf(on(p, [Ops.void(p.t.id, "v")], { referenced: new Map([[p.t.id, standard]]) }).items[0]).code).toBe(LedgerErrors.notPending.code);
  });

  it("refuses to commit once the timeout has passed, but voids it, recording the timeout", () => {
    const p = pending({ pendingTimeoutSeconds: 10 });
    const later = { now: new Date(T0.getTime() + 10_000) };
    expect(errorOf(on(p, [Ops.commit(p.t.id, "c")], later).items[0]).code).toBe(LedgerErrors.pendingExpired.code);
    expect(created(on(p, [Ops.commit(p.t.id, "c")], { now: new Date(T0.getTime() + 9_999) }).items[0]).kind).toBe("commit");
    const expired = created(on(p, [Ops.void(p.t.id, `ledger:expire:${p.t.id}`, true)], later).items[0]);
    expect(expired.metadata).toEqual({ voidReason: "timeout" });
    expect(expired.description).toBe(`timeout of pending transaction ${p.t.id}`);
  });

  it("answers a reference it was not given with not found", () => {
    const e = errorOf(planFlush(input([Ops.commit(42n, "c")])).items[0]);
    expect(e.code).toBe(LedgerErrors.transactionNotFound.code);
    expect(e.details).toEqual({ transactionId: "42" });
  });
});

describe("reversal", () => {
  function posted(kind: StoredTransaction["kind"] = "standard") {
    const plan = planFlush(input([move("t", SELLER, OTHER, 30n, { metadata: { order: "o1" } })]));
    const [t] = stored(plan);
    return { t: { ...t!, kind }, head: plan.head, accounts: byKey(...plan.accounts.map((a) => a.after), FUNDING) };
  }
  const on = (p: ReturnType<typeof posted>, ops: Op[], reversed = new Set<bigint>()) =>
    planFlush(input(ops, { head: p.head, accounts: p.accounts, referenced: new Map([[p.t.id, p.t]]), reversed }));

  it("books every posting flipped, keeps the metadata, and refers to the original", () => {
    const p = posted();
    const plan = on(p, [Ops.reverse(p.t.id, "r", { reason: "duplicate" })]);
    const r = created(plan.items[0]);
    expect([r.kind, r.referencesId, r.description]).toEqual(["reversal", p.t.id, `reversal of transaction ${p.t.id}`]);
    expect(r.metadata).toEqual({ order: "o1", reason: "duplicate" });
    expect(r.postings.map((x) => [x.account.code, x.direction, x.amount])).toEqual([
      [SELLER.code, "credit", 30n],
      [OTHER.code, "debit", 30n],
    ]);
    expect(normalBalance(afterOf(plan, SELLER))).toBe(100n);
    expect(plan.statusChanges).toEqual([]);
  });

  it("reverses a transaction once, whether reversed before or earlier in the flush", () => {
    const p = posted();
    expect(errorOf(on(p, [Ops.reverse(p.t.id, "r", {})], new Set([p.t.id])).items[0]).code).toBe(LedgerErrors.notReversible.code);
    const twice = on(p, [Ops.reverse(p.t.id, "r1", {}), Ops.reverse(p.t.id, "r2", {})]);
    expect(created(twice.items[0]).kind).toBe("reversal");
    expect(errorOf(twice.items[1]).code).toBe(LedgerErrors.notReversible.code);
  });

  it.each(["pending", "void", "reversal"] as const)("refuses to reverse a %s transaction", (kind) => {
    const p = posted(kind);
    expect(errorOf(on(p, [Ops.reverse(p.t.id, "r", {})]).items[0]).code).toBe(LedgerErrors.notReversible.code);
  });

  it("refuses a reversal that would overdraw an account that may not go negative", () => {
    const p = posted();
    // OTHER received 30 and spent it since: taking the 30 back would leave it at -30.
    const spent = byKey(...[...p.accounts.values()].map((a) => (a.id === OTHER.id ? { ...a, postedDebits: 30n } : a)));
    const plan = planFlush(input([Ops.reverse(p.t.id, "r", {})], { head: p.head, accounts: spent, referenced: new Map([[p.t.id, p.t]]) }));
    expect(errorOf(plan.items[0]).code).toBe(LedgerErrors.insufficientFunds.code);
  });
});

describe("idempotency within a flush", () => {
  it("answers a key already in the journal with the stored transaction, or a conflict for another body", () => {
    const op = move("k", SELLER, OTHER, 10n);
    const plan = planFlush(input([op, move("k", SELLER, OTHER, 11n)], { existing: new Map([["k", { id: 5n, requestHash: op.requestHash }]]) }));
    expect(plan.items[0]).toEqual({ status: "exists", id: 5n });
    expect(errorOf(plan.items[1]).code).toBe(LedgerErrors.idempotencyConflict.code);
    expect(plan.created).toEqual([]);
    expect(plan.head).toEqual({ ...HEAD, bookedAt: T0 });
  });

  it("books a key repeated in the same flush once: the same request is a duplicate, another body a conflict", () => {
    const plan = planFlush(input([move("k", SELLER, OTHER, 10n), move("k", SELLER, OTHER, 10n), move("k", SELLER, OTHER, 11n)]));
    expect(created(plan.items[0]).id).toBe(1n);
    expect(plan.items[1]).toEqual({ status: "duplicate", of: 0 });
    expect(errorOf(plan.items[2]).code).toBe(LedgerErrors.idempotencyConflict.code);
    expect(afterOf(plan, SELLER).postedDebits).toBe(10n);
  });

  it("leaves a key whose first use failed free for a later item of the flush", () => {
    const plan = planFlush(input([move("k", SELLER, OTHER, 150n), move("k", SELLER, OTHER, 50n)]));
    expect(errorOf(plan.items[0]).code).toBe(LedgerErrors.insufficientFunds.code);
    expect(created(plan.items[1]).idempotencyKey).toBe("k");
  });
});

describe("optimistic planning (createOnly)", () => {
  it("plans when every item is created or a same-batch duplicate", () => {
    const plan = planFlush(input([move("a", SELLER, OTHER, 1n), move("a", SELLER, OTHER, 1n)]), true);
    expect(plan?.items.map((i) => i.status)).toEqual(["created", "duplicate"]);
  });

  it.each<[string, () => FlushInput]>([
    ["an item fails", () => input([move("a", SELLER, OTHER, 1n), move("b", SELLER, OTHER, 1000n)])],
    ["a key is in the journal", () => input([move("a", SELLER, OTHER, 1n)], { existing: new Map([["a", { id: 1n, requestHash: "x" }]]) })],
    ["a key repeats with another body", () => input([move("a", SELLER, OTHER, 1n), move("a", SELLER, OTHER, 2n)])],
  ])("gives up when %s", (_, make) => {
    expect(planFlush(make(), true)).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Property: whatever is thrown at it, a sequence of flushes keeps the books.

const CURRENCIES = ["USD", "JPY"] as const;
const POOL = CURRENCIES.flatMap((currency, c) =>
  [0, 1, 2, 3].map((i) =>
    account(`acct:${i}`, {
      id: BigInt(100 + c * 10 + i),
      currency,
      normalBalance: i % 2 ? "debit" : "credit",
      // Two per currency may go negative (they fund the others), two may not; of those, acct:3
      // opens at -50 (booked before it was refused to go negative), against acct:0.
      allowNegative: i < 2,
      ...(i === 0 ? { postedDebits: 50n } : i === 3 ? { postedCredits: 50n } : {}),
    }),
  ),
);
const opening = new Map(POOL.map((a) => [a.id, a]));

type Step =
  | { kind: "post"; currency: number; from: number; to: number; amount: bigint; pending: boolean; replay: boolean }
  | { kind: "commit" | "void" | "reverse"; pick: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("post" as const),
      currency: fc.integer({ min: 0, max: CURRENCIES.length - 1 }),
      from: fc.integer({ min: 0, max: 3 }),
      to: fc.integer({ min: 0, max: 3 }),
      amount: fc.bigInt({ min: 1n, max: 10n ** 12n }),
      pending: fc.boolean(),
      replay: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom("commit" as const, "void" as const, "reverse" as const), pick: fc.nat() }) },
);

describe("planned flushes, applied in sequence (property)", () => {
  it("keep every currency at zero, every total equal to its postings, no forbidden overdraft, and the chain linked", () => {
    fc.assert(
      fc.property(fc.array(fc.array(step, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 }), (flushes) => {
        let head = HEAD;
        let accounts = new Map(POOL.map((a) => [accountKey(a.code, a.currency), a]));
        const journal: StoredTransaction[] = [];
        const keys = new Map<string, { id: bigint; requestHash: string }>();
        const reversed = new Set<bigint>();
        let n = 0;
        let postingId = 1n;
        let clock = T0.getTime();

        for (const steps of flushes) {
          const ops = steps.map((s): Op => {
            if (s.kind === "post") {
              const from = POOL[s.currency * 4 + s.from]!;
              const to = POOL[s.currency * 4 + s.to]!;
              const key = s.replay && n > 0 ? `k-${n - 1}` : `k-${n++}`;
              return move(key, from, to, s.amount, s.pending ? { pending: true } : {});
            }
            const target = journal[s.pick % Math.max(1, journal.length)];
            const id = target?.id ?? 999n;
            return s.kind === "reverse" ? Ops.reverse(id, `r-${n++}`, {}) : s.kind === "commit" ? Ops.commit(id, `c-${n++}`) : Ops.void(id, `v-${n++}`);
          });
          clock += 1000;
          const plan = planFlush({
            ops,
            head,
            now: new Date(clock),
            accounts,
            existing: new Map(ops.flatMap((o) => (keys.has(opKeyOf(o)) ? [[opKeyOf(o), keys.get(opKeyOf(o))!] as const] : []))),
            referenced: new Map(journal.map((t) => [t.id, t])),
            reversed,
          });

          // Answers: one per op; a replay of a stored key is "exists" for the same request, never created.
          expect(plan.items).toHaveLength(ops.length);
          plan.items.forEach((item, i) => {
            const prior = keys.get(opKeyOf(ops[i]!));
            if (prior) expect(item.status === "exists" || (item.status === "error" && item.error.code === LedgerErrors.idempotencyConflict.code)).toBe(true);
          });

          // The chain: consecutive ids from the head, each linked to the one before, hashes canonical.
          let previous = head.hash;
          plan.created.forEach((t, i) => {
            expect(t.id).toBe(head.sequence + BigInt(i) + 1n);
            expect(t.previousHash).toBe(previous);
            previous = t.hash;
          });
          const newOnes = withPostingIds(plan.created, plan.created.flatMap((t) => t.postings.map(() => postingId++)));
          for (const t of newOnes) {
            expect(t.hash).toBe(transactionHash(t, t.previousHash));
          }
          expect(plan.head.sequence).toBe(head.sequence + BigInt(plan.created.length));
          expect(plan.head.hash).toBe(previous);

          // Each created transaction, against the state the ones before it left: an account that may
          // not go negative ends it at or above zero, or at least where it was.
          const running = new Map(accounts);
          for (const t of plan.created) {
            const last = new Map(t.postings.map((p) => [accountKey(p.account.code, p.account.currency), p] as const));
            for (const [k, p] of last) {
              const was = running.get(k)!;
              const now = { ...was, ...p.totalsAfter };
              if (!was.allowNegative) expect(availableBalance(now) >= (availableBalance(was) < 0n ? availableBalance(was) : 0n)).toBe(true);
              running.set(k, now);
            }
          }

          // Apply the plan the way the writer does.
          accounts = new Map(accounts);
          for (const { after } of plan.accounts) accounts.set(accountKey(after.code, after.currency), after);
          for (const t of newOnes) {
            journal.push(t);
            keys.set(t.idempotencyKey, { id: t.id, requestHash: t.requestHash });
            if (t.kind === "reversal") reversed.add(t.referencesId!);
          }
          for (const s of plan.statusChanges) {
            const i = journal.findIndex((t) => t.id === s.id);
            journal[i] = { ...journal[i]!, status: s.status };
          }
          head = plan.head;

          // The accounts' totals are what the last posting on each recorded.
          for (const [k, a] of running) {
            expect(accounts.get(k)).toMatchObject({
              postedDebits: a.postedDebits,
              postedCredits: a.postedCredits,
              pendingDebits: a.pendingDebits,
              pendingCredits: a.pendingCredits,
            });
          }
        }

        // Every currency nets to zero, posted and pending.
        for (const currency of CURRENCIES) {
          const mine = [...accounts.values()].filter((a) => a.currency === currency);
          expect(mine.reduce((s, a) => s + a.postedDebits - a.postedCredits, 0n)).toBe(0n);
          expect(mine.reduce((s, a) => s + a.pendingDebits - a.pendingCredits, 0n)).toBe(0n);
        }
        // Every account's totals are its opening totals plus the sum of its postings (recomputed
        // here, by phase), and its last posting's running balance is its balance.
        for (const a of accounts.values()) {
          const o = opening.get(a.id)!;
          const sum = { postedDebits: o.postedDebits, postedCredits: o.postedCredits, pendingDebits: 0n, pendingCredits: 0n };
          let last: bigint | null = null;
          for (const t of journal) {
            for (const p of t.postings) {
              if (p.accountId !== a.id) continue;
              const side = p.direction === "debit" ? "Debits" : "Credits";
              if (p.phase === "posted" || p.phase === "commit") sum[`posted${side}`] += p.amount;
              if (p.phase === "pending") sum[`pending${side}`] += p.amount;
              if (p.phase === "commit" || p.phase === "void") sum[`pending${side}`] -= p.amount;
              last = p.balanceAfter;
            }
          }
          expect({ postedDebits: a.postedDebits, postedCredits: a.postedCredits, pendingDebits: a.pendingDebits, pendingCredits: a.pendingCredits }).toEqual(sum);
          expect(last ?? normalBalance(o)).toBe(normalBalance(a));
        }
        // Nothing stays reserved by a transaction that is no longer pending.
        for (const t of journal) {
          if (t.kind !== "pending" || t.status === "pending") continue;
          expect(journal.filter((x) => x.referencesId === t.id && (x.kind === "commit" || x.kind === "void"))).toHaveLength(1);
        }
      }),
      { numRuns: 300 },
    );
  });
});

function opKeyOf(o: Op): string {
  return o.op === "post" ? o.input.idempotencyKey : o.idempotencyKey;
}
