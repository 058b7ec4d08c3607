/**
 * Realised FX of a CNY seller paid by the vault, on an in-process chain and a real database of each
 * kind. The seller's proceeds reach `fx:CNY-USD` at two rates (and another seller's held CNY at a
 * third); the vault pays in USDC at the run's quote. At final the CNY leaves the position at its
 * average booked value and the difference to the USD paid is realised
 * (`platform:fx:realised_gain_loss`), as on the bank rail, so what stays in the position is the
 * remaining CNY at the same average. A cancelled payout realises nothing; a failed batch retried
 * with the same ids realises once. Figures of a group controller's IAS 21 check (CNY fen, USD cents).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JournalTransaction } from "../../service/ledger/types.js";
import { fundVaultLocal, PayoutAccounts } from "../../service/payouts/index.js";
import { accountSpec } from "../../service/settlement/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { expectBalanced, openPayoutHarness, payoutJournal, USDC, type PayoutHarness } from "./harness.js";

const kinds = await testDatabaseKinds();
const POSITION = "fx:CNY-USD";
const REALISED = "platform:fx:realised_gain_loss";

describe.each(kinds)("vault payout FX on %s", { timeout: 60_000 }, (kind) => {
  let h: PayoutHarness;
  let captures = 0;
  /** Posted, in the account's normal direction (fx:* debits - credits, the FX result credits - debits), 0 for an account not opened yet. */
  const posted = async (account: string, currency: string) => {
    try {
      return (await h.ledger.balance(account, currency)).posted;
    } catch (e) {
      if ((e as { code?: string }).code === "ENT_LEDGER_ACCOUNT_NOT_FOUND") return 0n;
      throw e;
    }
  };
  const position = async () => ({ p: await posted(POSITION, "CNY"), usd: await posted(POSITION, "USD") });
  /** A capture's seller side (README "FX where it really happens"): the proceeds' USD converted into CNY through fx:CNY-USD at `usd`/`cny`. */
  const capture = async (sellerId: string, bucket: "available" | "held", cny: bigint, usd: bigint) => {
    const postings = [
      { account: "gateway:test:receivable", currency: "USD", direction: "debit" as const, amount: usd },
      { account: POSITION, currency: "USD", direction: "credit" as const, amount: usd },
      { account: POSITION, currency: "CNY", direction: "debit" as const, amount: cny },
      { account: `seller:${sellerId}:${bucket}`, currency: "CNY", direction: "credit" as const, amount: cny },
    ];
    await h.ledger.post({ idempotencyKey: `test-capture-${++captures}`, postings, accounts: postings.map((x) => accountSpec(x.account, x.currency)), metadata: { kind: "test-capture", sellerId } });
  };
  const realisations = async (payoutId: bigint): Promise<JournalTransaction[]> =>
    (await h.ledger.listTransactions({ metadata: { kind: "payout_fx_realised", payoutId: payoutId.toString() } })).items;

  beforeAll(async () => {
    h = await openPayoutHarness(kind);
    await fundVaultLocal({ record: h.sys.result.record, admin: h.sys.deployer, amount: 10_000n * USDC });
    // The run's quote: 0.137012007 USD per CNY (published after the harness's 7.2345, so in force).
    const now = Date.now();
    await h.fx.publishRates([{ base: "CNY", quote: "USD", rate: "0.137012007", source: "test desk", asOf: new Date(now - 30_000), validFrom: new Date(now - 30_000), validUntil: new Date(now + 86_400_000) }]);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it("takes the CNY out of fx:CNY-USD at its average booked value and realises the difference to the USD paid", async () => {
    // A Hong Kong company paid out in CNY (a mainland-China seller is the bank rail's, never the vault's).
    const seller = "S-TEST-CNY-01";
    // The seller's proceeds at two rates (0.138 and 0.13544), another seller's held CNY at a third.
    await capture(seller, "available", 50_000n, 6_900n);
    await capture(seller, "available", 26_580n, 3_600n);
    await capture("S-POP-SZ-01", "held", 716_494n, 98_597n);
    const before = await position();
    expect(before).toEqual({ p: 793_074n, usd: -109_097n }); // average 0.137563
    const realised0 = await posted(REALISED, "USD");

    const { batches } = await h.payouts.plan();
    expect(batches).toHaveLength(1);
    const [p] = (await h.payouts.getBatch(batches[0]!.id)).payouts;
    // 76,580 CNY at the quote, rounded down: 10,492.38 -> 10,492 USD cents paid in USDC.
    expect(p).toMatchObject({ sellerId: seller, currency: "CNY", amount: 76_580n, usdAmount: 10_492n, tokenAmount: 104_920_000n });
    await h.payouts.execute();
    await h.untilBatch(batches[0]!.id, "final");

    // Booked at the average: 76,580 x 109,097 / 793,074 = 10,534.51 -> 10,535 (half-even, as the bank
    // rail; the controller's 10,534 truncated); paid 10,492: +43 realised.
    const booked = 10_535n;
    expect(await posted(REALISED, "USD")).toBe(realised0 + 43n);
    const [fx, ...more] = await realisations(p!.id);
    expect(more).toEqual([]);
    expect(fx!.postings.map((x) => `${x.direction} ${x.account} ${x.currency} ${x.amount}`)).toEqual([`debit ${POSITION} USD 43`, `credit ${REALISED} USD 43`]);
    expect(fx!.metadata).toMatchObject({
      payoutId: p!.id.toString(),
      sellerId: seller,
      fxQuoteId: p!.fx!.quoteId,
      paidAmount: "10492",
      bookedUsd: booked.toString(),
      realised: "43",
      appliedRate: "0.1370070514", // 10,492 / 76,580
      "position.before": "793074",
      "position.beforeUsd": "-109097",
    });
    expectBalanced(fx!);

    // The position holds the other seller's CNY at the same average value: nothing left to realise
    // on someone else's payout, nothing for the revaluation to call unrealised once the CNY is gone.
    const after = await position();
    expect(after).toEqual({ p: 793_074n - 76_580n, usd: -109_097n + booked });
    expect(after).toEqual({ p: 716_494n, usd: -98_562n }); // 716,494 x 109,097 / 793,074 = 98,562.49
    expect((await payoutJournal(h.ledger, p!.id)).map((t) => t.kind).sort()).toEqual(["commit", "pending", "standard"]);
    (await payoutJournal(h.ledger, p!.id)).forEach(expectBalanced);

    // More rounds book nothing more.
    await h.step();
    await h.step();
    expect(await realisations(p!.id)).toHaveLength(1);
    expect(await posted(REALISED, "USD")).toBe(realised0 + 43n);
  });

  it("realises nothing for a cancelled payout, and once for a failed batch retried with the same ids", async () => {
    const seller = "S-TEST-CNY-01";
    const asPauser = () => h.sys.c.vault.connect(h.sys.pauser);
    await capture(seller, "available", 10_000n, 1_400n);
    const before = await position();
    const realised0 = await posted(REALISED, "USD");

    // Planned, failed (paused vault), cancelled: the reserve is voided, the position untouched.
    const first = (await h.payouts.plan()).batches[0]!;
    await asPauser().pause().then((t) => t.wait());
    await h.payouts.execute();
    expect((await h.payouts.getBatch(first.id)).batch.status).toBe("failed");
    await h.payouts.cancelBatch(first.id, { by: "ops" });
    await h.untilBatch(first.id, "cancelled");
    expect(await realisations(first.firstPayoutId)).toEqual([]);
    expect(await position()).toEqual(before);
    expect(await posted(REALISED, "USD")).toBe(realised0);

    // Planned again under new ids, failed once, retried with the same ids: one commit, one realisation.
    await h.sys.c.vault.unpause().then((t) => t.wait());
    const again = (await h.payouts.plan()).batches[0]!;
    await asPauser().pause().then((t) => t.wait());
    await h.payouts.execute();
    expect((await h.payouts.getBatch(again.id)).batch.status).toBe("failed");
    await h.sys.c.vault.unpause().then((t) => t.wait());
    const final = await h.untilBatch(again.id, "final");
    expect(final.attempt).toBeGreaterThan(1);
    const [p] = (await h.payouts.getBatch(again.id)).payouts;
    const booked = (10_000n * -before.usd + before.p / 2n) / before.p; // half-even never ties here
    const [fx, ...more] = await realisations(p!.id);
    expect(more).toEqual([]);
    expect(fx!.metadata).toMatchObject({ bookedUsd: booked.toString(), realised: (booked - p!.usdAmount).toString() });
    expect(await posted(REALISED, "USD")).toBe(realised0 + (booked - p!.usdAmount));
    expect(await position()).toEqual({ p: before.p - 10_000n, usd: before.usd + booked });
    expect((await payoutJournal(h.ledger, p!.id)).map((t) => t.kind).sort()).toEqual(["commit", "pending", "standard"]);
    expect(await h.ledger.balance(PayoutAccounts.available(seller), "CNY")).toMatchObject({ posted: 0n, available: 0n });
  });
});
