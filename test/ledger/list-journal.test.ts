import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedger, type AccountSpec, type JournalTransaction, type LedgerService, type TransactionInput } from "../../service/ledger/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { rejectionCode as code } from "../support/app-errors.js";

const kinds = await testDatabaseKinds();

const accounts: AccountSpec[] = [
  { code: "gateway:gw:receivable", currency: "USD", ownerType: "gateway", ownerId: "gw", normalBalance: "debit", allowNegative: true },
  { code: "seller:S1:available", currency: "USD", ownerType: "seller", ownerId: "S1", normalBalance: "credit", allowNegative: false },
];

function capture(key: string, amount: bigint): TransactionInput {
  return {
    idempotencyKey: key,
    metadata: { settlementId: key },
    postings: [
      { account: "gateway:gw:receivable", currency: "USD", direction: "debit", amount },
      { account: "seller:S1:available", currency: "USD", direction: "credit", amount },
    ],
  };
}

function sequences(txs: readonly JournalTransaction[]): bigint[] {
  return txs.map((t) => t.sequence);
}

describe.each(kinds)("ledger.listJournal on %s", (kind) => {
  let db: TestDatabase;
  let ledger: LedgerService;

  beforeAll(async () => {
    db = await freshDatabase(kind);
    // A pipelined writer (two optimistic flushes in flight) is the harshest case for "no gaps".
    ledger = createLedger(db, { pipeline: 2 });
    await ledger.ensureAccounts(accounts);
  });
  afterAll(async () => {
    await db?.close();
  });

  it("is empty on an empty journal and refuses bad arguments naming the field", async () => {
    expect(await ledger.listJournal(0n, 10)).toEqual([]);
    expect(await code(ledger.listJournal(-1n, 10))).toBe("ENT_LEDGER_INVALID_TRANSACTION");
    expect(await code(ledger.listJournal(0n, 0))).toBe("ENT_LEDGER_INVALID_TRANSACTION");
    expect(await code(ledger.listJournal(0n, 10_001))).toBe("ENT_LEDGER_INVALID_TRANSACTION");
    expect(await code(ledger.listJournal(0n, 1.5))).toBe("ENT_LEDGER_INVALID_TRANSACTION");
  });

  it("pages the journal by sequence, ascending, with full transactions", async () => {
    await Promise.all(Array.from({ length: 25 }, (_, i) => ledger.post(capture(`page-${i}`, BigInt(100 + i)))));
    const first = await ledger.listJournal(0n, 10);
    expect(sequences(first)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i + 1)));
    const rest = await ledger.listJournal(10n, 100);
    expect(sequences(rest)).toEqual(Array.from({ length: 15 }, (_, i) => BigInt(i + 11)));
    expect(await ledger.listJournal(25n, 5)).toEqual([]);
    // The same content as the single-transaction read, postings included.
    for (const t of [...first, ...rest]) expect(t).toEqual(await ledger.getTransaction(t.id));
    expect(first[0]!.postings).toHaveLength(2);
    expect(first[1]!.previousHash).toBe(first[0]!.hash);
  });

  it("never shows a gap to a reader that follows the journal while writers commit", async () => {
    let last = (await ledger.listJournal(0n, 10_000)).at(-1)!.sequence;
    let writing = true;
    const writers = (async () => {
      for (let round = 0; round < 10; round++) {
        await Promise.all(Array.from({ length: 40 }, (_, i) => ledger.post(capture(`live-${round}-${i}`, 1_000n + BigInt(i)))));
      }
      writing = false;
    })();
    let reads = 0;
    while (writing || reads === 0) {
      const page = await ledger.listJournal(last, 37);
      reads++;
      // PGlite answers without a macrotask turn: let the writers' flusher (setImmediate) run.
      await new Promise((r) => setImmediate(r));
      // Contiguous from last + 1: a lower sequence can never become visible after a higher one.
      expect(sequences(page)).toEqual(page.map((_, i) => last + BigInt(i) + 1n));
      if (page.length > 0) last = page.at(-1)!.sequence;
    }
    await writers;
    const tail = await ledger.listJournal(last, 10_000);
    expect(sequences(tail)).toEqual(tail.map((_, i) => last + BigInt(i) + 1n));
    expect(last + BigInt(tail.length)).toBe(425n);
    expect(reads).toBeGreaterThan(1);
  });
});
