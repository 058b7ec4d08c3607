import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { createLedger, type AccountSpec, type LedgerService, type TransactionInput } from "../../service/ledger/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { rejectionCode as code } from "../support/app-errors.js";

const kinds = await testDatabaseKinds();

function spec(code: string, currency: string, over: Partial<AccountSpec> = {}): AccountSpec {
  const [ownerType, ownerId] = code.split(":") as [AccountSpec["ownerType"], string];
  return {
    code,
    currency,
    ownerType,
    ownerId: ownerId ?? "x",
    normalBalance: ownerType === "gateway" || ownerType === "treasury" ? "debit" : "credit",
    allowNegative: ownerType !== "seller" && ownerType !== "treasury",
    ...over,
  };
}

const SELLER = "seller:S1:available";
const GATEWAY = "gateway:stripe:clearing";
const PLATFORM = "platform:main:revenue";
const accounts = [spec(SELLER, "USD"), spec(GATEWAY, "USD"), spec(PLATFORM, "USD"), spec(SELLER, "EUR"), spec(GATEWAY, "EUR")];

/** A capture: the gateway owes us `amount`; the seller gets it minus a fee that the platform earns. */
function capture(key: string, amount: bigint, fee = 0n, meta: Record<string, string> = {}): TransactionInput {
  const postings: TransactionInput["postings"] = [
    { account: GATEWAY, currency: "USD", direction: "debit", amount },
    { account: SELLER, currency: "USD", direction: "credit", amount: amount - fee },
  ];
  if (fee > 0n) postings.push({ account: PLATFORM, currency: "USD", direction: "credit", amount: fee });
  return { idempotencyKey: key, postings, metadata: { sellerId: "S1", ...meta } };
}

function payout(key: string, amount: bigint, pending = false): TransactionInput {
  return {
    idempotencyKey: key,
    pending,
    postings: [
      { account: SELLER, currency: "USD", direction: "debit", amount },
      { account: GATEWAY, currency: "USD", direction: "credit", amount },
    ],
  };
}

describe.each(kinds)("ledger on %s", (kind) => {
  let db: TestDatabase;
  let ledger: LedgerService;
  let clock = new Date("2026-01-01T00:00:00Z");

  beforeAll(async () => {
    db = await freshDatabase(kind);
    ledger = createLedger(db, { now: () => clock });
    await ledger.ensureAccounts(accounts);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  const tick = (ms = 1000) => {
    clock = new Date(clock.getTime() + ms);
    return clock;
  };

  describe("balancing", () => {
    it("books a balanced transaction and moves balances with running balance_after", async () => {
      tick();
      // Other tests of this file post to the same accounts: everything is relative to before.
      const [g0, s0, p0] = await Promise.all([GATEWAY, SELLER, PLATFORM].map(async (a) => (await ledger.balance(a, "USD")).posted));
      const r = await ledger.post(capture("bal-1", 10_000n, 300n));
      expect(r.status).toBe("created");
      expect(r.transaction.postings.map((p) => [p.account, p.direction, p.amount, p.balanceAfter])).toEqual([
        [GATEWAY, "debit", 10_000n, g0! + 10_000n],
        [SELLER, "credit", 9_700n, s0! + 9_700n],
        [PLATFORM, "credit", 300n, p0! + 300n],
      ]);
      const b = await ledger.balance(SELLER, "USD");
      expect(b.posted).toBe(s0! + 9_700n);
      expect(b.available).toBe(s0! + 9_700n);
      expect(b.lastTransactionId).toBe(r.transaction.id);
    });

    it("rejects an unbalanced transaction naming the currency and the imbalance", async () => {
      const bad = capture("bal-2", 100n);
      bad.postings[1]!.amount = 90n;
      const e = await ledger.post(bad).catch((x: unknown) => x);
      expect(isAppError(e) && e.code).toBe("ENT_LEDGER_UNBALANCED");
      expect(isAppError(e) && e.details).toMatchObject({ currency: "USD", debits: "100", credits: "90", imbalance: "10" });
    });

    it("requires each currency to balance on its own (FX legs go through FX clearing)", async () => {
      const cross: TransactionInput = {
        idempotencyKey: "bal-3",
        postings: [
          { account: GATEWAY, currency: "EUR", direction: "debit", amount: 100n },
          { account: SELLER, currency: "USD", direction: "credit", amount: 100n },
        ],
      };
      expect(await code(ledger.post(cross))).toBe("ENT_LEDGER_UNBALANCED");
      const fx: TransactionInput = {
        idempotencyKey: "bal-4",
        accounts: [spec("fx_clearing:EURUSD:clearing", "EUR"), spec("fx_clearing:EURUSD:clearing", "USD")],
        postings: [
          { account: GATEWAY, currency: "EUR", direction: "debit", amount: 100n },
          { account: "fx_clearing:EURUSD:clearing", currency: "EUR", direction: "credit", amount: 100n },
          { account: "fx_clearing:EURUSD:clearing", currency: "USD", direction: "debit", amount: 117n },
          { account: SELLER, currency: "USD", direction: "credit", amount: 117n },
        ],
      };
      tick();
      expect((await ledger.post(fx)).status).toBe("created");
      expect((await ledger.balance("fx_clearing:EURUSD:clearing", "USD")).posted).toBe(-117n);
    });

    it("rejects bad input with a field name, and unknown accounts", async () => {
      const zero = capture("bal-5", 0n);
      const e = await ledger.post(zero).catch((x: unknown) => x);
      expect(isAppError(e) && e.code).toBe("ENT_LEDGER_INVALID_TRANSACTION");
      expect(isAppError(e) && e.fields?.[0]?.field).toBe("postings.0.amount");
      const unknown = payout("bal-6", 1n);
      unknown.postings[1]!.account = "gateway:nope:clearing";
      expect(await code(ledger.post(unknown))).toBe("ENT_LEDGER_ACCOUNT_NOT_FOUND");
    });

    it("opens no account whose code holds whitespace, control characters, quotes, < > or \\ (a lookalike of another, or markup in every listing)", async () => {
      const odd = ["platform:suspense:unidentified_receipts ", "platform:suspense:a b", 'platform:suspense:a"b', "platform:suspense:<img src=x onerror=alert(10)>", "platform:x:a\u0000b", "platform:x:a\u200bb", "platform:x:a\\b", "platform:x:a'b", "platform:x:a\tb"];
      for (const [i, c] of odd.entries()) {
        const e = await ledger.ensureAccounts([spec(c, "USD")]).catch((x: unknown) => x);
        expect(isAppError(e) && [e.code, e.fields?.[0]?.field], c).toEqual(["ENT_LEDGER_INVALID_TRANSACTION", "accounts.0.code"]);
        const opened = { idempotencyKey: `odd-code-${i}`, postings: [{ account: c, currency: "USD", direction: "debit" as const, amount: 1n }, { account: PLATFORM, currency: "USD", direction: "credit" as const, amount: 1n }], accounts: [spec(c, "USD")] };
        expect(await code(ledger.post(opened)), c).toBe("ENT_LEDGER_INVALID_TRANSACTION");
      }
      const codes = (await ledger.listAccounts({ ownerType: "platform", limit: 1000 })).items.map((a) => a.code);
      expect(codes.filter((c) => odd.includes(c))).toEqual([]);
      // The codes the platform makes: ids of letters, digits and . _ - : (a seller's id in any case).
      expect(await ledger.ensureAccounts([spec("seller:S-POP_01.x:available", "USD"), spec("fx:EUR-USD:tax", "USD", { ownerType: "fx_clearing" }), spec("tax:US-CA:SALES_TAX:payable", "USD", { ownerType: "tax_authority" })])).toHaveLength(3);
    });
  });

  describe("idempotency", () => {
    it("returns the original on replay and a conflict on a different body", async () => {
      tick();
      const first = await ledger.post(capture("idem-1", 500n));
      tick();
      const again = await ledger.post(capture("idem-1", 500n));
      expect(again.status).toBe("exists");
      expect(again.transaction).toEqual(first.transaction);
      expect(await code(ledger.post(capture("idem-1", 501n)))).toBe("ENT_LEDGER_IDEMPOTENCY_CONFLICT");
    });

    it("handles duplicates inside one batch: one created, the same answer for the replay", async () => {
      tick();
      const before = (await ledger.balance(SELLER, "USD")).posted;
      const rs = await ledger.postBatch([capture("idem-2", 10n), capture("idem-2", 10n), capture("idem-2", 11n)]);
      expect(rs.map((r) => r.status)).toEqual(["created", "exists", "error"]);
      expect(rs[2]!.status === "error" && rs[2]!.error.code).toBe("ENT_LEDGER_IDEMPOTENCY_CONFLICT");
      expect((await ledger.balance(SELLER, "USD")).posted - before).toBe(10n);
    });

    it("reads many transactions by id at once, as one by one; unknown and malformed ids are absent", async () => {
      tick();
      const a = await ledger.post(capture("many-1", 7n));
      const b = await ledger.post(capture("many-2", 8n));
      const ids = [b.transaction.id, a.transaction.id, b.transaction.id, "999999999", "not-an-id", "0"];
      const many = await ledger.getTransactions(ids);
      expect([...many.keys()].sort()).toEqual([a.transaction.id, b.transaction.id].sort());
      expect(many.get(a.transaction.id)).toEqual(await ledger.getTransaction(a.transaction.id));
      expect(many.get(b.transaction.id)).toEqual(b.transaction);
      expect((await ledger.getTransactions([])).size).toBe(0);
    });
  });

  describe("linked transactions", () => {
    const at = (iso: string) => new Date(iso);
    it("books a post and its linked transactions in one commit, in order, each at its own instant", async () => {
      tick();
      const avail = (await ledger.balance(SELLER, "USD")).available;
      // The payout spends what the capture brings: it can only be booked on the state the capture left.
      const linkedPayout = { ...payout("link-1:out", avail + 900n), effectiveAt: at("2025-12-31T00:00:00Z"), metadata: { part: "payout" } };
      const r = await ledger.post({ ...capture("link-1", 1_000n, 100n), linked: [linkedPayout] });
      expect(r.status).toBe("created");
      const next = await ledger.getTransaction(String(BigInt(r.transaction.id) + 1n));
      expect(next?.idempotencyKey).toBe("link-1:out");
      expect(next?.effectiveAt.toISOString()).toBe("2025-12-31T00:00:00.000Z");
      expect(next?.bookedAt.toISOString()).toBe(r.transaction.bookedAt.toISOString());
      expect((await ledger.balance(SELLER, "USD")).available).toBe(0n);
      // A replay answers the first transaction; another linked body is another request.
      const again = await ledger.post({ ...capture("link-1", 1_000n, 100n), linked: [linkedPayout] });
      expect(again.status).toBe("exists");
      expect(again.transaction.id).toBe(r.transaction.id);
      expect(await code(ledger.post({ ...capture("link-1", 1_000n, 100n), linked: [{ ...linkedPayout, postings: payout("x", 1n).postings }] }))).toBe(
        "ENT_LEDGER_IDEMPOTENCY_CONFLICT",
      );
      expect(await code(ledger.post(capture("link-1", 1_000n, 100n)))).toBe("ENT_LEDGER_IDEMPOTENCY_CONFLICT");
      expect((await ledger.verifyChain()).ok).toBe(true);
    });

    it("books none of them when one cannot be booked, and the batch's other items still commit", async () => {
      tick();
      const before = await ledger.balance(SELLER, "USD");
      const keyed = await ledger.post(capture("link-used", 5n));
      const rs = await ledger.postBatch([
        // The linked payout takes more than the capture leaves.
        { ...capture("link-2", 300n), linked: [payout("link-2:out", before.available + 5n + 301n)] },
        // A linked key already in the journal.
        { ...capture("link-3", 300n), linked: [payout("link-used", 1n)] },
        capture("link-4", 7n),
        // The same key twice in one group.
        { ...capture("link-5", 300n), linked: [payout("link-5:out", 1n), payout("link-5:out", 1n)] },
      ]);
      expect(rs.map((x) => (x.status === "error" ? x.error.code : x.status))).toEqual([
        "ENT_LEDGER_INSUFFICIENT_FUNDS",
        "ENT_LEDGER_IDEMPOTENCY_CONFLICT",
        "created",
        "ENT_LEDGER_IDEMPOTENCY_CONFLICT",
      ]);
      const booked = await db.sql.q<Array<{ idempotency_key: string }>>(`SELECT "idempotency_key" FROM "ledger_transactions" WHERE "idempotency_key" LIKE 'link-%' ORDER BY "id"`);
      expect(booked.map((x) => x.idempotency_key)).toEqual(["link-1", "link-1:out", "link-used", "link-4"]);
      expect((await ledger.balance(SELLER, "USD")).posted).toBe(before.posted + 5n + 7n);
      expect(keyed.status).toBe("created");
    });

    it("refuses a linked transaction that is pending, attached or links others, naming it", async () => {
      const bad = async (l: TransactionInput, field: string) => {
        const e = await ledger.post({ ...capture("link-6", 1n), linked: [capture("link-6:a", 1n), l] }).catch((x: unknown) => x);
        expect(isAppError(e) && e.fields?.[0]?.field).toBe(field);
      };
      await bad(payout("link-6:b", 1n, true), "linked.1.pending");
      await bad({ ...capture("link-6:b", 1n), linked: [] }, "linked.1.linked");
      await bad({ ...capture("link-6:b", 1n), postings: [] }, "linked.1.postings");
    });
  });

  describe("negative balance constraint", () => {
    it("refuses to take a seller below zero but lets other items of the batch commit", async () => {
      tick();
      expect((await ledger.post(capture("neg-0", 1_000n))).status).toBe("created");
      const avail = (await ledger.balance(SELLER, "USD")).available;
      const rs = await ledger.postBatch([payout("neg-1", avail + 1n), payout("neg-2", 1n)]);
      expect(rs[0]!.status === "error" && rs[0]!.error.code).toBe("ENT_LEDGER_INSUFFICIENT_FUNDS");
      expect(rs[1]!.status).toBe("created");
      expect((await ledger.balance(SELLER, "USD")).available).toBe(avail - 1n);
    });

    it("lets accounts that allow it go negative", async () => {
      tick();
      // A credit-normal account that allows it (platform), debited with nothing credited before.
      const float = spec("platform:float:negative", "USD");
      const r = await ledger.post({
        idempotencyKey: "neg-3",
        accounts: [float],
        postings: [
          { account: float.code, currency: "USD", direction: "debit", amount: 250n },
          { account: GATEWAY, currency: "USD", direction: "credit", amount: 250n },
        ],
      });
      expect(r.status).toBe("created");
      expect((await ledger.balance(float.code, "USD")).posted).toBe(-250n);
    });

    it("holds an account that may go negative to the rule for one item (notBelowZero), concurrent writers on two instances together too", async () => {
      tick();
      const receivable = spec("gateway:nbz:receivable", "USD");
      const bank = spec("platform:cash:bank_nbz", "USD", { normalBalance: "debit" });
      await ledger.ensureAccounts([receivable, bank]);
      await ledger.post({ idempotencyKey: "nbz-0", postings: [
        { account: receivable.code, currency: "USD", direction: "debit", amount: 1_000n },
        { account: PLATFORM, currency: "USD", direction: "credit", amount: 1_000n },
      ] });
      const clear = (key: string, amount: bigint, held = true): TransactionInput => ({
        idempotencyKey: key,
        postings: [
          { account: bank.code, currency: "USD", direction: "debit", amount },
          { account: receivable.code, currency: "USD", direction: "credit", amount },
        ],
        ...(held ? { notBelowZero: [{ account: receivable.code, currency: "USD" }] } : {}),
      });
      // Five clearings of 300 against 1,000, through two ledgers (two writers): three fit, whatever the order.
      const other = createLedger(db, { now: () => clock });
      const settled = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => (i % 2 === 0 ? ledger : other).post(clear(`nbz-c${i}`, 300n))));
      expect(settled.map((x) => (x.status === "fulfilled" ? "created" : isAppError(x.reason) ? x.reason.code : String(x.reason))).sort()).toEqual(["ENT_LEDGER_INSUFFICIENT_FUNDS", "ENT_LEDGER_INSUFFICIENT_FUNDS", "created", "created", "created"]);
      for (const x of settled) if (x.status === "rejected") expect(isAppError(x.reason) && x.reason.code).toBe("ENT_LEDGER_INSUFFICIENT_FUNDS");
      expect((await ledger.balance(receivable.code, "USD")).posted).toBe(100n);
      // The rule names the account, what it held and the shortfall.
      const over = await ledger.post(clear("nbz-over", 101n)).catch((e: unknown) => e);
      expect(over).toMatchObject({ code: "ENT_LEDGER_INSUFFICIENT_FUNDS", details: { account: receivable.code, currency: "USD", available: "100", shortfall: "1" } });
      // Not part of the request: a replay answers the original; without it the account goes negative as its spec allows.
      const first = settled.findIndex((x) => x.status === "fulfilled");
      expect((await ledger.post(clear(`nbz-c${first}`, 300n))).status).toBe("exists");
      expect((await ledger.post(clear("nbz-free", 150n, false))).status).toBe("created");
      expect((await ledger.balance(receivable.code, "USD")).posted).toBe(-50n);
    });
  });

  describe("two-phase transfers", () => {
    it("reserves on pending, moves on commit, and refuses a second commit", async () => {
      tick();
      const b0 = await ledger.balance(SELLER, "USD");
      const p = await ledger.post(payout("tp-1", 100n, true));
      expect(p.transaction.status).toBe("pending");
      const b1 = await ledger.balance(SELLER, "USD");
      expect(b1.posted).toBe(b0.posted);
      expect(b1.available).toBe(b0.available - 100n);
      expect(b1.pendingDebits).toBe(b0.pendingDebits + 100n);
      tick();
      const c = await ledger.commitPending(p.transaction.id, "tp-1-commit");
      expect(c.transaction.kind).toBe("commit");
      expect((await ledger.getTransaction(p.transaction.id))!.status).toBe("posted");
      const b2 = await ledger.balance(SELLER, "USD");
      expect(b2.posted).toBe(b0.posted - 100n);
      expect(b2.available).toBe(b0.available - 100n);
      expect(b2.pendingDebits).toBe(b0.pendingDebits);
      expect((await ledger.commitPending(p.transaction.id, "tp-1-commit")).status).toBe("exists");
      expect(await code(ledger.voidPending(p.transaction.id, "tp-1-void"))).toBe("ENT_LEDGER_NOT_PENDING");
    });

    it("releases the reserve on void", async () => {
      tick();
      const b0 = await ledger.balance(SELLER, "USD");
      const p = await ledger.post(payout("tp-2", 50n, true));
      tick();
      await ledger.voidPending(p.transaction.id, "tp-2-void");
      const b1 = await ledger.balance(SELLER, "USD");
      expect([b1.posted, b1.available, b1.pendingDebits]).toEqual([b0.posted, b0.available, b0.pendingDebits]);
      expect((await ledger.getTransaction(p.transaction.id))!.status).toBe("voided");
    });

    it("times out: commit after expiry is refused and expirePending voids it", async () => {
      tick();
      const b0 = await ledger.balance(SELLER, "USD");
      const p = await ledger.post({ ...payout("tp-3", 70n, true), pendingTimeoutSeconds: 5 });
      tick(6000);
      expect(await code(ledger.commitPending(p.transaction.id, "tp-3-commit"))).toBe("ENT_LEDGER_PENDING_EXPIRED");
      expect(await ledger.expirePending()).toBe(1);
      expect((await ledger.getTransaction(p.transaction.id))!.status).toBe("voided");
      expect((await ledger.balance(SELLER, "USD")).available).toBe(b0.available);
    });
  });

  describe("reversal", () => {
    it("flips every posting, leaves the original untouched, and happens once", async () => {
      tick();
      const b0 = await ledger.balance(PLATFORM, "USD");
      const t = await ledger.post(capture("rev-1", 1_000n, 30n));
      tick();
      const r = await ledger.reverse(t.transaction.id, "rev-1-reverse", { reason: "duplicate" });
      expect(r.transaction.kind).toBe("reversal");
      expect(r.transaction.referencesId).toBe(t.transaction.id);
      expect(r.transaction.postings.map((p) => p.direction)).toEqual(["credit", "debit", "debit"]);
      expect(await ledger.getTransaction(t.transaction.id)).toEqual(t.transaction);
      expect((await ledger.balance(PLATFORM, "USD")).posted).toBe(b0.posted);
      expect(await code(ledger.reverse(t.transaction.id, "rev-1-again"))).toBe("ENT_LEDGER_NOT_REVERSIBLE");
    });

    it("the journal refuses UPDATE and DELETE at the database level", async () => {
      await expect(db.prisma.$executeRawUnsafe(`UPDATE "ledger_postings" SET "amount" = 1`)).rejects.toThrow(/append-only/);
      await expect(db.prisma.$executeRawUnsafe(`DELETE FROM "ledger_transactions"`)).rejects.toThrow(/append-only/);
    });
  });

  describe("balances at past instants and history", () => {
    it("answers ?at= from the running balances and traces every change to postings", async () => {
      const acct = spec("seller:S2:available", "USD");
      const t1 = tick();
      await ledger.post({ ...capture("hist-1", 100n), accounts: [acct], postings: [
        { account: GATEWAY, currency: "USD", direction: "debit", amount: 100n },
        { account: acct.code, currency: "USD", direction: "credit", amount: 100n },
      ] });
      const t2 = tick();
      await ledger.post({ idempotencyKey: "hist-2", postings: [
        { account: GATEWAY, currency: "USD", direction: "debit", amount: 50n },
        { account: acct.code, currency: "USD", direction: "credit", amount: 50n },
      ] });
      const t3 = tick();
      await ledger.post({ idempotencyKey: "hist-3", postings: [
        { account: acct.code, currency: "USD", direction: "debit", amount: 30n },
        { account: GATEWAY, currency: "USD", direction: "credit", amount: 30n },
      ] });
      expect((await ledger.balance(acct.code, "USD", new Date(t1.getTime() - 1))).posted).toBe(0n);
      expect((await ledger.balance(acct.code, "USD", t1)).posted).toBe(100n);
      expect((await ledger.balance(acct.code, "USD", new Date(t2.getTime() + 500))).posted).toBe(150n);
      const at3 = await ledger.balance(acct.code, "USD", t3);
      expect([at3.posted, at3.postedDebits, at3.postedCredits]).toEqual([120n, 30n, 150n]);
      expect((await ledger.balance(acct.code, "USD")).posted).toBe(120n);

      const page1 = await ledger.history(acct.code, "USD", { limit: 2 });
      expect(page1.items.map((p) => p.balanceAfter)).toEqual([120n, 150n]);
      const page2 = await ledger.history(acct.code, "USD", { limit: 2, cursor: page1.nextCursor! });
      expect(page2.items.map((p) => p.balanceAfter)).toEqual([100n]);
      expect(page2.nextCursor).toBeNull();
    });
  });

  describe("listing", () => {
    it("filters by account, seller metadata and time, with cursor pagination", async () => {
      const from = tick();
      for (let i = 0; i < 5; i++) await ledger.post(capture(`list-${i}`, 10n + BigInt(i), 0n, { batch: "L", i: String(i) }));
      const all: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await ledger.listTransactions({ metadata: { batch: "L" }, limit: 2, ...(cursor ? { cursor } : {}) });
        all.push(...page.items.map((t) => t.metadata["i"]!));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(all).toEqual(["4", "3", "2", "1", "0"]);
      const bySeller = await ledger.listTransactions({ sellerId: "S1", from, limit: 100 });
      expect(bySeller.items).toHaveLength(5);
      const acct = spec("seller:S3:available", "USD");
      for (const i of [1, 2, 3]) {
        tick();
        await ledger.post({ idempotencyKey: `list-acct-${i}`, accounts: [acct], postings: [
          { account: GATEWAY, currency: "USD", direction: "debit", amount: 10n },
          { account: acct.code, currency: "USD", direction: "credit", amount: 10n },
        ] });
      }
      const byAccount = await ledger.listTransactions({ account: acct.code, limit: 100 });
      expect(byAccount.items.map((t) => t.idempotencyKey)).toEqual(["list-acct-3", "list-acct-2", "list-acct-1"]);
      expect(await code(ledger.listTransactions({ cursor: "garbage" }))).toBe("ENT_LEDGER_INVALID_CURSOR");
    });
  });

  describe("hash chain", () => {
    it("verifies, then detects a row tampered with via SQL", async () => {
      // A chain of its own length whatever ran before (the other tests add to it).
      for (let i = 0; i < 11; i++) {
        tick();
        await ledger.post(capture(`chain-${i}`, 100n + BigInt(i)));
      }
      const ok = await ledger.verifyChain();
      expect(ok.ok).toBe(true);
      expect(ok.checked).toBe(ok.headSequence);
      expect(ok.checked).toBeGreaterThan(10n);
      // Tamper: bypass the append-only trigger the way a privileged attacker could.
      await db.prisma.$executeRawUnsafe(`ALTER TABLE "ledger_postings" DISABLE TRIGGER "ledger_postings_append_only"`);
      await db.prisma.$executeRawUnsafe(`UPDATE "ledger_postings" SET "amount" = "amount" + 1 WHERE "transaction_id" = 3`);
      await db.prisma.$executeRawUnsafe(`ALTER TABLE "ledger_postings" ENABLE TRIGGER "ledger_postings_append_only"`);
      const broken = await ledger.verifyChain();
      expect(broken.ok).toBe(false);
      expect(broken.firstBreak?.sequence).toBe(3n);
      expect(broken.checked).toBe(2n);
    });

    it("verifications asked while one runs share its walk and its answer; the next one walks again", async () => {
      for (let i = 0; i < 5; i++) await ledger.post(capture(`shared-${i}`, 100n + BigInt(i)));
      // (The journal is the one the test above broke: the answer is the same either way.)
      const [a, b, c] = await Promise.all([ledger.verifyChain(), ledger.verifyChain(), ledger.verifyChain()]);
      expect(b).toBe(a);
      expect(c).toBe(a);
      await ledger.post(capture("shared-after", 100n));
      const later = await ledger.verifyChain();
      expect(later).not.toBe(a);
      expect(later.headSequence).toBe(a.headSequence + 1n);
    });
  });
});
