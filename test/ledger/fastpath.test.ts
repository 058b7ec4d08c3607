/**
 * The optimistic write path (one ledger_apply_flush call per flush, planned against what this
 * process last committed) never commits over a change it did not see, and the statement-level
 * reference check keeps what the posting foreign keys guaranteed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlRunner } from "../../service/db/index.js";
import { createLedger, type AccountSpec, type LedgerService } from "../../service/ledger/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { rejectionCode as errorCode } from "../support/app-errors.js";

const kinds = await testDatabaseKinds();

const spec = (code: string, over: Partial<AccountSpec> = {}): AccountSpec => ({
  code,
  currency: "USD",
  ownerType: "platform",
  ownerId: code,
  normalBalance: "credit",
  allowNegative: true,
  ...over,
});
const SELLER = spec("seller:F1:available", { ownerType: "seller", allowNegative: false });
const CLEARING = spec("gateway:F:clearing", { ownerType: "gateway", normalBalance: "debit" });
const HOT = Array.from({ length: 6 }, (_, i) => spec(`platform:fast-${i}:revenue`));

const move = (key: string, from: string, to: string, amount: bigint) => ({
  idempotencyKey: key,
  postings: [
    { account: from, currency: "USD", direction: "debit" as const, amount },
    { account: to, currency: "USD", direction: "credit" as const, amount },
  ],
});

describe.each(kinds)("ledger write path on %s", (kind) => {
  let db: TestDatabase;
  let a: LedgerService;
  let b: LedgerService;

  beforeAll(async () => {
    db = await freshDatabase(kind);
    // Two ledgers on one database: each has its own idea of the journal head and the totals,
    // exactly like two processes.
    a = createLedger(db);
    b = createLedger(db);
    await a.ensureAccounts([SELLER, CLEARING, ...HOT]);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  describe("when another writer moved the totals since this process last wrote", () => {
    it("refuses an overdraft the stale totals would have allowed", async () => {
      expect((await a.post(move("f-fund", CLEARING.code, SELLER.code, 100n))).status).toBe("created");
      // a has now seen the seller at 100 (its next plan starts from there).
      expect((await a.post(move("f-warm", HOT[0]!.code, HOT[1]!.code, 1n))).status).toBe("created");
      expect((await b.post(move("f-spend-b", SELLER.code, CLEARING.code, 80n))).status).toBe("created");
      expect(await errorCode(a.post(move("f-spend-a", SELLER.code, CLEARING.code, 50n)))).toBe("ENT_LEDGER_INSUFFICIENT_FUNDS");
      expect((await a.balance(SELLER.code, "USD")).posted).toBe(20n);
      expect((await a.post(move("f-spend-a2", SELLER.code, CLEARING.code, 20n))).status).toBe("created");
      expect((await b.balance(SELLER.code, "USD")).posted).toBe(0n);
    });

    it("answers a key the other writer used with its transaction, not a second booking", async () => {
      const first = await b.post(move("f-shared-key", HOT[2]!.code, HOT[3]!.code, 7n));
      const again = await a.post(move("f-shared-key", HOT[2]!.code, HOT[3]!.code, 7n));
      expect(again.status).toBe("exists");
      expect(again.transaction.id).toBe(first.transaction.id);
      expect(await errorCode(a.post(move("f-shared-key", HOT[2]!.code, HOT[3]!.code, 8n)))).toBe("ENT_LEDGER_IDEMPOTENCY_CONFLICT");
    });

    it("keeps every total equal to its postings and the chain intact under interleaved writers", async () => {
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          const ledger = w % 2 ? b : a;
          for (let n = 0; n < 15; n++) {
            const from = HOT[(w + n) % HOT.length]!.code;
            const to = HOT[(w + n + 1) % HOT.length]!.code;
            expect((await ledger.post(move(`f-mix-${w}-${n}`, from, to, BigInt(1 + n)))).status).toBe("created");
          }
        }),
      );
      const mismatches = await db.sql.q(`
        SELECT a."code" FROM "ledger_accounts" a
          LEFT JOIN (SELECT "account_id", sum(CASE WHEN "direction" = 'debit' THEN "amount" ELSE 0 END) AS d,
                            sum(CASE WHEN "direction" = 'credit' THEN "amount" ELSE 0 END) AS c
                       FROM "ledger_postings" GROUP BY "account_id") p ON p."account_id" = a."id"
         WHERE a."posted_debits" <> coalesce(p.d, 0) OR a."posted_credits" <> coalesce(p.c, 0)`);
      expect(mismatches).toEqual([]);
      expect((await a.verifyChain()).ok).toBe(true);
    });
  });

  it("answers a replay the optimistic flush met on the locking path, and goes back to the optimistic path at the next flush", async () => {
    // Which path wrote each flush: the optimistic one is a single ledger_apply_flush call, the
    // locking one a transaction.
    const paths: string[] = [];
    const sql: SqlRunner = {
      q: (text, ...params) => {
        if (text.includes("ledger_apply_flush")) paths.push("optimistic");
        return db.sql.q(text, ...params);
      },
      transaction: (fn, first) => {
        paths.push("locking");
        return db.sql.transaction(fn, first);
      },
    };
    const ledger = createLedger({ sql, kind: db.kind });
    const first = await ledger.post(move("r-1", HOT[4]!.code, HOT[5]!.code, 3n));
    expect((await ledger.post(move("r-2", HOT[4]!.code, HOT[5]!.code, 3n))).status).toBe("created");
    paths.length = 0;
    // Known to the journal, not to this writer: sent optimistically, refused for its key, answered under the lock.
    const again = await ledger.post(move("r-1", HOT[4]!.code, HOT[5]!.code, 3n));
    expect(again.status).toBe("exists");
    expect(again.transaction.id).toBe(first.transaction.id);
    expect(paths).toEqual(["optimistic", "locking"]);
    paths.length = 0;
    for (const k of ["r-3", "r-4"]) expect((await ledger.post(move(k, HOT[4]!.code, HOT[5]!.code, 3n))).status).toBe("created");
    expect(paths).toEqual(["optimistic", "optimistic"]);
    // Another writer moved the head: the next flushes take the locking path (16 of them), as before.
    expect((await b.post(move("r-other", HOT[4]!.code, HOT[5]!.code, 3n))).status).toBe("created");
    paths.length = 0;
    for (const k of ["r-5", "r-6"]) expect((await ledger.post(move(k, HOT[4]!.code, HOT[5]!.code, 3n))).status).toBe("created");
    expect(paths).toEqual(["optimistic", "locking", "locking"]);
  });

  describe("ledger_apply_flush", () => {
    it("refuses a plan whose journal head is not the current one, writing nothing", async () => {
      const [head] = await db.sql.q<Array<{ sequence: bigint }>>(`SELECT "sequence" FROM "ledger_journal_head" WHERE "id" = 1`);
      const call = (expected: bigint) =>
        db.sql.q(
          `SELECT * FROM "ledger_apply_flush"($1, $2, $3, $4, now(), '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
             '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', NULL)`,
          expected,
          "0".repeat(64),
          expected + 1n,
          "f".repeat(64),
        );
      await expect(call(head!.sequence - 1n)).rejects.toMatchObject({ code: "40001", message: expect.stringMatching(/stale/) as unknown });
      await expect(call(head!.sequence + 1n)).rejects.toMatchObject({ code: "40001", message: expect.stringMatching(/early/) as unknown });
      const [after] = await db.sql.q<Array<{ sequence: bigint }>>(`SELECT "sequence" FROM "ledger_journal_head" WHERE "id" = 1`);
      expect(after!.sequence).toBe(head!.sequence);
    });
  });

  it("cuts a flush at maxPostings postings (an item larger than that goes alone) and books every item", async () => {
    const flushes: string[][] = [];
    const ledger = createLedger(db, { maxPostings: 6, beforeWrite: (ops) => flushes.push(ops.map((o) => ("input" in o ? o.input.idempotencyKey : ""))) });
    const wide = {
      idempotencyKey: "cut-wide",
      postings: HOT.map((h, i) => ({ account: h.code, currency: "USD", direction: i % 2 === 0 ? ("debit" as const) : ("credit" as const), amount: 5n })),
    };
    const items = [
      ...Array.from({ length: 7 }, (_, i) => move(`cut-${i}`, HOT[i % 6]!.code, HOT[(i + 1) % 6]!.code, 1n)),
      wide,
      move("cut-7", HOT[0]!.code, HOT[3]!.code, 1n),
    ];
    const results = await ledger.postBatch(items);
    expect(results.map((r) => r.status)).toEqual(items.map(() => "created"));
    // Two postings per move, six for the wide one: 3 moves (6 postings), 3, then 1 (the wide one would make 8), the wide one alone, the last move.
    expect(flushes).toEqual([["cut-0", "cut-1", "cut-2"], ["cut-3", "cut-4", "cut-5"], ["cut-6"], ["cut-wide"], ["cut-7"]]);
    expect((await ledger.verifyChain()).ok).toBe(true);
  });

  describe("posting references (checked once per statement)", () => {
    const insertPosting = (transactionId: bigint, accountId: bigint) =>
      db.sql.q(
        `INSERT INTO "ledger_postings" ("transaction_id", "account_id", "currency", "direction", "phase", "amount", "booked_at",
           "balance_after", "posted_debits_after", "posted_credits_after", "pending_debits_after", "pending_credits_after")
         VALUES ($1, $2, 'USD', 'debit', 'posted', 1, now(), 0, 0, 0, 0, 0)`,
        transactionId,
        accountId,
      );

    it("refuses a posting to a missing transaction or a missing account", async () => {
      const [acct] = await db.sql.q<Array<{ id: bigint }>>(`SELECT "id" FROM "ledger_accounts" ORDER BY "id" LIMIT 1`);
      await expect(insertPosting(999_999_999n, acct!.id)).rejects.toMatchObject({ code: "23503" });
      await expect(insertPosting(1n, 999_999_999n)).rejects.toMatchObject({ code: "23503" });
    });

    it("refuses to delete, re-key or truncate an account that has postings; an unused one can go", async () => {
      const [used] = await db.sql.q<Array<{ id: bigint }>>(
        `SELECT "account_id" AS id FROM "ledger_postings" ORDER BY "id" LIMIT 1`,
      );
      await expect(db.sql.q(`DELETE FROM "ledger_accounts" WHERE "id" = $1`, used!.id)).rejects.toMatchObject({ code: "23503" });
      await expect(db.sql.q(`UPDATE "ledger_accounts" SET "id" = 424242 WHERE "id" = $1`, used!.id)).rejects.toMatchObject({ code: "23503" });
      await expect(db.sql.q(`TRUNCATE "ledger_accounts"`)).rejects.toMatchObject({ code: "23503" });
      await a.ensureAccounts([spec("platform:unused:revenue")]);
      await db.sql.q(`DELETE FROM "ledger_accounts" WHERE "code" = 'platform:unused:revenue'`);
      expect(await a.getAccount("platform:unused:revenue", "USD")).toBeNull();
    });
  });
});

describe.runIf(kinds.includes("postgres"))("ledger with two flushes in flight (pipeline: 2) on PostgreSQL", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase("postgres");
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it("loses no update and keeps the chain gapless", async () => {
    const ledger = createLedger(db, { pipeline: 2 });
    await ledger.ensureAccounts(HOT);
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let n = 0; n < 20; n++) {
          const from = HOT[(w + n) % HOT.length]!.code;
          const to = HOT[(w + 2 * n + 1) % HOT.length]!.code;
          if (from === to) continue;
          expect((await ledger.post(move(`p-${w}-${n}`, from, to, BigInt(1 + w)))).status).toBe("created");
        }
      }),
    );
    const nets = await db.sql.q<Array<{ net: string }>>(`SELECT sum("posted_debits" - "posted_credits")::text AS net FROM "ledger_accounts"`);
    expect(nets[0]!.net).toBe("0");
    const mismatches = await db.sql.q(`
      SELECT a."code" FROM "ledger_accounts" a
        LEFT JOIN (SELECT "account_id", sum(CASE WHEN "direction" = 'debit' THEN "amount" ELSE 0 END) AS d,
                          sum(CASE WHEN "direction" = 'credit' THEN "amount" ELSE 0 END) AS c
                     FROM "ledger_postings" GROUP BY "account_id") p ON p."account_id" = a."id"
       WHERE a."posted_debits" <> coalesce(p.d, 0) OR a."posted_credits" <> coalesce(p.c, 0)`);
    expect(mismatches).toEqual([]);
    const chain = await ledger.verifyChain();
    expect(chain.ok).toBe(true);
  });
});
