/**
 * Fault isolation in the group-commit writer: one item that cannot be booked fails alone with its
 * own code while every other item of the same flush commits; transient database failures are
 * retried and, when they persist, answered ENT_LEDGER_UNAVAILABLE (503), never a 4xx or a 500.
 * On both engines (PGlite always, PostgreSQL when reachable; CI requires it).
 */
import { afterEach, describe, expect, it } from "vitest";
import { createLedger, type AccountSpec, type TransactionInput } from "../../service/ledger/index.js";
import { MAX_ACCOUNT_TOTAL } from "../../service/ledger/plan.js";
import type { Op } from "../../service/ledger/plan.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";

const kinds = await testDatabaseKinds();
const BIG = 10n ** 36n - 1n;

function spec(code: string): AccountSpec {
  return { code, currency: "USD", ownerType: "platform", ownerId: code, normalBalance: "credit", allowNegative: true };
}

function transfer(key: string, from: string, to: string, amount: bigint): TransactionInput {
  return {
    idempotencyKey: key,
    accounts: [spec(from), spec(to)],
    postings: [
      { account: from, currency: "USD", direction: "debit", amount },
      { account: to, currency: "USD", direction: "credit", amount },
    ],
  };
}

const keyOf = (o: Op) => ("input" in o ? o.input.idempotencyKey : "");

describe.each(kinds)("ledger faults on %s", (kind) => {
  let db: TestDatabase;
  afterEach(async () => {
    await db?.close();
  });

  it("an account at its limit refuses its own posting with ENT_LEDGER_LIMIT_EXCEEDED; 50 neighbours in the flush commit", async () => {
    db = await freshDatabase(kind);
    const ledger = createLedger(db);
    // Push one account to just under the limit: 10 postings of 10^36 - 1.
    for (let i = 0; i < 10; i++) await ledger.post(transfer(`fill-${i}`, "poisoned:source", "poisoned:sink", BIG));
    const sink = await ledger.balance("poisoned:sink", "USD");
    expect(sink.postedCredits).toBe(10n * BIG);
    expect(sink.postedCredits < MAX_ACCOUNT_TOTAL).toBe(true);

    const batch = Array.from({ length: 51 }, (_, i) =>
      i === 25 ? transfer("overflow", "poisoned:source", "poisoned:sink", BIG) : transfer(`good-${i}`, `src-${i % 7}`, `dst-${i % 5}`, BigInt(100 + i)),
    );
    const results = await ledger.postBatch(batch);
    const bad = results[25]!;
    expect(bad.status).toBe("error");
    if (bad.status === "error") expect(bad.error.code).toBe("ENT_LEDGER_LIMIT_EXCEEDED");
    expect(results.filter((r) => r.status === "created")).toHaveLength(50);
    // Nothing of the refused item was written; the account still takes what fits.
    expect((await ledger.balance("poisoned:sink", "USD")).postedCredits).toBe(10n * BIG);
    expect((await ledger.post(transfer("fits", "poisoned:source", "poisoned:sink", 1n))).status).toBe("created");
    expect((await ledger.verifyChain()).ok).toBe(true);
  });

  it("a flush that fails for one item's sake is bisected: only that item fails", async () => {
    db = await freshDatabase(kind);
    const faults: string[] = [];
    const ledger = createLedger(db, {
      beforeWrite(ops) {
        // A fault the plan did not foresee (a constraint, a bad reference): the whole flush fails.
        if (ops.some((o) => keyOf(o) === "poison")) {
          faults.push(`${ops.length}`);
          throw Object.assign(new Error("new row violates check constraint"), { code: "23514" });
        }
      },
    });
    const batch = Array.from({ length: 40 }, (_, i) => transfer(i === 17 ? "poison" : `ok-${i}`, `a-${i % 3}`, `b-${i % 4}`, BigInt(10 + i)));
    const results = await ledger.postBatch(batch);
    expect(results[17]!.status).toBe("error");
    if (results[17]!.status === "error") expect(results[17]!.error.code).toBe("ENT_INTERNAL");
    expect(results.filter((r) => r.status === "created")).toHaveLength(39);
    // Bisection: 40 -> 20 -> 10 -> 5 -> 3 -> 1 (item 17 of 0..39), one failed flush per level.
    expect(faults).toEqual(["40", "20", "10", "5", "3", "1"]);
    expect((await ledger.verifyChain()).ok).toBe(true);
  });

  it("a transient failure (deadlock) is retried and books once; one that persists answers ENT_LEDGER_UNAVAILABLE", async () => {
    db = await freshDatabase(kind);
    let failuresLeft = 2;
    let persistent = false;
    const deadlock = () => Object.assign(new Error("deadlock detected"), { code: "40P01" });
    const ledger = createLedger(db, {
      transientAttempts: 4,
      transientBackoffMs: 1,
      beforeWrite() {
        if (persistent) throw deadlock();
        if (failuresLeft > 0) {
          failuresLeft--;
          throw deadlock();
        }
      },
    });
    const first = await ledger.postBatch([transfer("t-1", "x", "y", 5n), transfer("t-2", "x", "y", 6n)]);
    expect(first.map((r) => r.status)).toEqual(["created", "created"]);
    expect(failuresLeft).toBe(0);
    expect((await ledger.balance("y", "USD")).postedCredits).toBe(11n);

    persistent = true;
    const refused = await ledger.postBatch([transfer("t-3", "x", "y", 7n)]);
    expect(refused[0]!.status).toBe("error");
    if (refused[0]!.status === "error") expect(refused[0]!.error.code).toBe("ENT_LEDGER_UNAVAILABLE");
    await expect(ledger.post(transfer("t-4", "x", "y", 8n))).rejects.toMatchObject({ code: "ENT_LEDGER_UNAVAILABLE", status: 503 });
    persistent = false;
    // The client retries later: booked once.
    expect((await ledger.post(transfer("t-3", "x", "y", 7n))).status).toBe("created");
    expect((await ledger.balance("y", "USD")).postedCredits).toBe(18n);
  });

  it("verifies the journal while writes are in flight: always ok, over the range committed when it started", async () => {
    db = await freshDatabase(kind);
    const ledger = createLedger(db);
    await ledger.post(transfer("seed", "w-src", "w-dst", 1n));
    let writing = true;
    const writers = Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let n = 0; n < 40; n++) await ledger.post(transfer(`w-${w}-${n}`, `w-src-${w % 3}`, `w-dst-${n % 4}`, BigInt(1 + n)));
      }),
    ).finally(() => (writing = false));
    const runs: Array<{ ok: boolean; checked: bigint; verifiedTo: bigint }> = [];
    // A monitor polling the check (on PGlite, queries resolve without a macrotask turn: yield one,
    // or the writer's own setImmediate never runs).
    while (writing || runs.length < 3) {
      runs.push(await ledger.verifyChain());
      await new Promise((r) => setTimeout(r, 2));
    }
    await writers;
    expect(runs.length).toBeGreaterThanOrEqual(3);
    for (const r of runs) {
      expect(r.ok).toBe(true);
      expect(r.checked).toBe(r.verifiedTo);
    }
    const last = await ledger.verifyChain();
    expect(last).toMatchObject({ ok: true, verifiedFrom: 1n, verifiedTo: 321n, checked: 321n });
  });
});
