/**
 * Closing periods, through the real ledger on both engines: a late transaction books into the open
 * period with its own instant kept, a closed period's figures never move again, closes only go
 * forward, and a second ledger instance that planned before the close (its optimistic head is
 * stale) is caught by the database and re-plans under the lock.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedger, type AccountSpec, type LedgerService, type TransactionInput } from "../../service/ledger/index.js";
import { rejected } from "../support/app-errors.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";

const kinds = await testDatabaseKinds();

const JAN_15 = new Date("2025-01-15T12:00:00Z");
const FEB_1 = new Date("2025-02-01T00:00:00Z");
const FEB_10 = new Date("2025-02-10T00:00:00Z");
const MAR_1 = new Date("2025-03-01T00:00:00Z");

const specs: AccountSpec[] = [
  { code: "gateway:gw:receivable", currency: "USD", ownerType: "gateway", ownerId: "gw", normalBalance: "debit", allowNegative: true },
  { code: "seller:S1:available", currency: "USD", ownerType: "seller", ownerId: "S1", normalBalance: "credit", allowNegative: false },
];

function sale(key: string, amount: bigint, effectiveAt: Date): TransactionInput {
  return {
    idempotencyKey: key,
    postings: [
      { account: "gateway:gw:receivable", currency: "USD", direction: "debit", amount },
      { account: "seller:S1:available", currency: "USD", direction: "credit", amount },
    ],
    metadata: { settlementId: key },
    effectiveAt,
    accounts: specs,
  };
}

describe.each(kinds)("closing periods on %s", (kind) => {
  let db: TestDatabase;
  let a: LedgerService;
  let b: LedgerService;

  beforeAll(async () => {
    db = await freshDatabase(kind);
    a = createLedger(db);
    // A second instance on the same database: its own writer, its own optimistic head.
    b = createLedger(db);
  }, 60_000);
  afterAll(async () => db?.close());

  it("books a late transaction into the open period, keeps its own instant, and never moves a closed period's figures", async () => {
    await a.post(sale("jan-1", 1_000n, JAN_15));
    // b writes once, so its next plain post takes the optimistic path on the head it last saw.
    await b.post(sale("feb-1", 500n, FEB_10));
    const janBefore = await a.trialBalance({ from: new Date("2025-01-01T00:00:00Z"), to: FEB_1 });
    // The balance at January's last instant (a balance "at" an instant includes what is effective then;
    // the closed period is everything before FEB_1).
    const sellerJan = async () => (await a.balance("seller:S1:available", "USD", new Date(FEB_1.getTime() - 1), "effective")).posted;
    expect(await sellerJan()).toBe(1_000n);

    const close = await a.closePeriod({ before: FEB_1, closedBy: "key-finance", note: "January closed" });
    expect(close).toMatchObject({ closedBefore: FEB_1, previousClosedBefore: null, closedBy: "key-finance", note: "January closed" });
    const head = await a.verifyChain();
    expect(close.journalSequence).toBe(head.headSequence);

    // Late, through the instance that planned before the close: the database refuses its stale
    // plan, it re-plans under the lock, and the transaction lands on the first open instant.
    const late = await b.post(sale("jan-late", 250n, JAN_15));
    expect(late.status).toBe("created");
    expect(late.transaction.effectiveAt).toEqual(FEB_1);
    expect(late.transaction.metadata).toEqual({ settlementId: "jan-late", originalEffectiveAt: JAN_15.toISOString() });
    // Through the instance that closed, too.
    const late2 = await a.post(sale("jan-late-2", 125n, new Date("2025-01-31T23:59:59.999Z")));
    expect(late2.transaction.effectiveAt).toEqual(FEB_1);

    // A replay of the late request is the same transaction (its request is what was hashed).
    const again = await b.post(sale("jan-late", 250n, JAN_15));
    expect(again).toMatchObject({ status: "exists" });
    expect(again.transaction.id).toBe(late.transaction.id);

    // January's figures are as they were when it closed; February carries the late ones.
    expect(await a.trialBalance({ from: new Date("2025-01-01T00:00:00Z"), to: FEB_1 })).toEqual(janBefore);
    expect(await sellerJan()).toBe(1_000n);
    expect((await a.balance("seller:S1:available", "USD", MAR_1, "effective")).posted).toBe(1_875n);
    const feb = await a.trialBalance({ from: FEB_1, to: MAR_1 });
    expect(feb.accounts.find((x) => x.account === "seller:S1:available")).toMatchObject({ opening: 1_000n, credits: 875n, closing: 1_875n });
    expect((await a.verifyChain()).ok).toBe(true);
  });

  it("only moves forward: the same or an earlier instant is 409, a future one 400, and every close is listed", async () => {
    expect((await rejected(a.closePeriod({ before: FEB_1 }))).code).toBe("ENT_LEDGER_PERIOD_CLOSED");
    expect((await rejected(a.closePeriod({ before: new Date("2025-01-01T00:00:00Z") }))).code).toBe("ENT_LEDGER_PERIOD_CLOSED");
    expect((await rejected(a.closePeriod({ before: new Date(Date.now() + 3_600_000) }))).code).toBe("ENT_REQUEST_VALIDATION");
    const march = await b.closePeriod({ before: MAR_1 });
    expect(march.previousClosedBefore).toEqual(FEB_1);
    const listed = await a.periodCloses();
    expect(listed.closedBefore).toEqual(MAR_1);
    expect(listed.closes.map((c) => c.closedBefore)).toEqual([MAR_1, FEB_1]);
    // A close is history: the database refuses to rewrite it.
    await expect(db.sql.q(`UPDATE "ledger_period_closes" SET "note" = 'rewritten'`)).rejects.toThrow(/append-only/);
    // After the March close, a February event books on March 1.
    const late = await a.post(sale("feb-late", 1n, FEB_10));
    expect(late.transaction.effectiveAt).toEqual(MAR_1);
    expect(late.transaction.metadata["originalEffectiveAt"]).toBe(FEB_10.toISOString());
  });

  it("closes only what was checked: a transaction booked after the checked sequence and effective in the period refuses the close (ENT_LEDGER_PERIOD_CHANGED); one after the period does not", async () => {
    const APR_1 = new Date("2025-04-01T00:00:00Z");
    const checked = (await a.journalPosition(0n)).head;
    // Effective after the period's end: the period's figures are as checked.
    await b.post(sale("apr-2", 3n, new Date("2025-04-02T00:00:00Z")));
    // Effective inside it (another instance's writer, after the check read the journal).
    await b.post(sale("mar-20", 7n, new Date("2025-03-20T00:00:00Z")));
    const refused = await rejected(a.closePeriod({ before: APR_1, checkedAtSequence: checked }));
    expect([refused.code, refused.status]).toEqual(["ENT_LEDGER_PERIOD_CHANGED", 409]);
    expect((await a.periodCloses()).closedBefore).toEqual(MAR_1);
    // Checked again after it: closes, and keeps what it is given about the FX positions.
    const left = [{ currency: "BRL", status: "skipped" as const, position: null, change: null, midRate: null, code: "ENT_FX_RATE_STALE", reason: "stale" }];
    const april = await a.closePeriod({ before: APR_1, note: "accepted", fxNotRevalued: left, checkedAtSequence: (await a.journalPosition(0n)).head });
    expect(april.fxNotRevalued).toEqual(left);
    expect((await b.periodCloses()).closes[0]?.fxNotRevalued).toEqual(left);
    expect((await b.periodCloses()).closes[1]?.fxNotRevalued).toBeNull();
  });

  it("with the accounts the check read named, refuses the close only for a booking into the period that moves one of them", async () => {
    const MAY_1 = new Date("2025-05-01T00:00:00Z");
    const fxSpecs: AccountSpec[] = [
      { code: "gateway:gw:receivable", currency: "BRL", ownerType: "gateway", ownerId: "gw", normalBalance: "debit", allowNegative: true },
      { code: "fx:BRL-USD", currency: "BRL", ownerType: "fx_clearing", ownerId: "BRL-USD", normalBalance: "debit", allowNegative: true },
      { code: "fx:BRL-USD", currency: "USD", ownerType: "fx_clearing", ownerId: "BRL-USD", normalBalance: "debit", allowNegative: true },
      ...specs,
    ];
    // A conversion into the period (a BRL sale) moves an FX position: what the FX check read changed.
    let checked = (await a.journalPosition(0n)).head;
    await b.post({
      idempotencyKey: "apr-21-fx",
      postings: [
        { account: "gateway:gw:receivable", currency: "BRL", direction: "debit", amount: 50n },
        { account: "fx:BRL-USD", currency: "BRL", direction: "credit", amount: 50n },
        { account: "fx:BRL-USD", currency: "USD", direction: "debit", amount: 9n },
        { account: "seller:S1:available", currency: "USD", direction: "credit", amount: 9n },
      ],
      effectiveAt: new Date("2025-04-21T00:00:00Z"),
      accounts: fxSpecs,
    });
    const refused = await rejected(a.closePeriod({ before: MAY_1, checkedAtSequence: checked, checkedAccountPrefix: "fx:" }));
    expect([refused.code, refused.status]).toEqual(["ENT_LEDGER_PERIOD_CHANGED", 409]);
    // A USD sale into the period, booked after the check, moves none: the close goes through.
    checked = (await a.journalPosition(0n)).head;
    await b.post(sale("apr-22", 6n, new Date("2025-04-22T00:00:00Z")));
    const may = await a.closePeriod({ before: MAY_1, checkedAtSequence: checked, checkedAccountPrefix: "fx:" });
    expect(may.closedBefore).toEqual(MAY_1);
  });

  it("runs a fenced check under the head lock: a writer's booking into the period waits for it and lands after the close, at its instant; what the check throws refuses the close", async () => {
    const JUN_1 = new Date("2025-06-01T00:00:00Z");
    const MAY_20 = new Date("2025-05-20T00:00:00Z");
    const refusal = new Error("the check refused");
    await expect(a.closePeriod({ before: JUN_1, check: () => Promise.reject(refusal) })).rejects.toBe(refusal);
    expect((await a.periodCloses()).closedBefore).not.toEqual(JUN_1);

    let writing: ReturnType<LedgerService["post"]> | undefined;
    let seenUnderLock: bigint | undefined;
    const close = await a.closePeriod({
      before: JUN_1,
      note: "fenced",
      check: async (journal) => {
        // Another instance's writer books into the period now: it waits on the lock this check holds.
        writing = b.post(sale("may-20-fenced", 40n, MAY_20));
        await new Promise((resolve) => setTimeout(resolve, 200));
        // Read through the lock's own transaction (PGlite's one connection would wait forever otherwise).
        const seller = await journal.balance("seller:S1:available", "USD", new Date(JUN_1.getTime() - 1), "effective");
        seenUnderLock = seller.posted;
        return { fxNotRevalued: null, fxRateStale: null };
      },
    });
    const late = await writing!;
    expect(late.transaction.sequence).toBe(close.journalSequence + 1n);
    expect([late.transaction.effectiveAt, late.transaction.metadata["originalEffectiveAt"]]).toEqual([JUN_1, MAY_20.toISOString()]);
    // What the check read is what closed: the seller's balance at the period's last instant, without the late booking.
    expect((await a.balance("seller:S1:available", "USD", new Date(JUN_1.getTime() - 1), "effective")).posted).toBe(seenUnderLock);
  });
});
