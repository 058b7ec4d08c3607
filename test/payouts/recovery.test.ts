/**
 * Payouts when things go wrong, on an in-process chain and a real database of each kind:
 * - a reorg drops the executed batch: payouts go back to `sent`, the ledger stays pending, the
 *   sender re-broadcasts the same transaction and the batch finishes, paid once;
 * - the vault is paused once a batch is planned: a would-revert batch and a mined-then-reverted
 *   batch are `failed`, then retried with the SAME ids under a new attempt key once unpaused;
 * - an operator cancels a failed batch: its ids are voided on chain (`cancelPayouts`), and once
 *   that is final the reserves are voided and the seller's balance is available again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Wallet } from "ethers";
import { devPrivateKey } from "../../service/chain/keys.js";
import { fundVaultLocal, PayoutAccounts } from "../../service/payouts/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { mineEmpty } from "../chain/indexer/support.js";
import { expectBalanced, minedCalls, openPayoutHarness, payoutJournal, USDC, type PayoutHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("payout recovery on %s", { timeout: 60_000 }, (kind) => {
  let h: PayoutHarness;
  const addressOf = (sellerId: string) => h.sys.others[h.sellers.findIndex((s) => s.id === sellerId)]!.address;
  const asPauser = () => h.sys.c.vault.connect(h.sys.pauser);

  beforeAll(async () => {
    h = await openPayoutHarness(kind);
    await fundVaultLocal({ record: h.sys.result.record, admin: h.sys.deployer, amount: 10_000n * USDC });
  }, 120_000);
  afterAll(async () => {
    await h?.rpc("evm_setAutomine", [true]).catch(() => undefined);
    await h?.close();
  });

  it("a reorg that drops the executed batch puts it back to sent; it is re-sent and paid once", async () => {
    const seller = "S-SEMI-HZ-01";
    await h.credit(seller, "USD", 20_000n);
    const { batches } = await h.payouts.plan();
    const batch = batches[0]!;
    const fork = await h.rpc<string>("evm_snapshot");
    const firstBlock = (await h.provider.getBlockNumber()) + 1;
    await h.payouts.execute();
    const observed = await h.untilBatch(batch.id, "observed");
    const minedHash = observed.txHash;

    // The block with the payout is replaced by a longer fork without it.
    await h.rpc("evm_revert", [fork]);
    await mineEmpty(h.sys, 2, 7);
    expect(await h.sys.c.token.balanceOf(addressOf(seller))).toBe(0n);
    await h.indexer.poll();
    const back = await h.payouts.getBatch(batch.id);
    expect(back.batch.status).toBe("sent");
    expect(back.payouts.map((p) => [p.status, p.outcome])).toEqual([["sent", null]]);
    // The ledger still holds the reserve, nothing committed.
    expect(await h.ledger.balance(PayoutAccounts.available(seller), "USD")).toMatchObject({ posted: 20_000n, available: 0n });
    expect((await payoutJournal(h.ledger, back.payouts[0]!.id)).map((t) => t.kind)).toEqual(["pending"]);

    // The sender re-broadcasts the same signed transaction; it executes again, then goes final.
    const final = await h.untilBatch(batch.id, "final");
    expect(final.txHash).toBe(minedHash);
    expect(await h.sys.c.token.balanceOf(addressOf(seller))).toBe(200_000_000n);
    expect(await h.ledger.balance(PayoutAccounts.available(seller), "USD")).toMatchObject({ posted: 0n, available: 0n });
    const journal = await payoutJournal(h.ledger, back.payouts[0]!.id);
    expect(journal.map((t) => t.kind).sort()).toEqual(["commit", "pending"]);
    journal.forEach(expectBalanced);
    expect((await minedCalls(h.provider, h.payer.address, h.vault, firstBlock)).map((c) => [c.hash, c.status])).toEqual([[minedHash, 1]]);
  });

  it("a batch that would revert (vault paused) fails, and is retried with the same ids once unpaused", async () => {
    const seller = "S-TEST-USD-01";
    await h.credit(seller, "USD", 3_000n);
    const { batches } = await h.payouts.plan();
    const batch = batches[0]!;
    // Paused once planned (the planner plans nothing for a paused vault): sending would revert.
    await asPauser().pause().then((t) => t.wait());
    await h.payouts.execute();
    const failed = (await h.payouts.getBatch(batch.id)).batch;
    expect(failed).toMatchObject({ status: "failed", attempt: 1 });
    expect(failed.error).toMatch(/EnforcedPause/);
    expect(await h.sender.get(h.payouts.txKey(failed))).toBeNull(); // nothing was signed or sent

    await h.sys.c.vault.unpause().then((t) => t.wait());
    await h.payouts.execute();
    const retried = (await h.payouts.getBatch(batch.id)).batch;
    expect(retried).toMatchObject({ status: "sent", attempt: 2, firstPayoutId: batch.firstPayoutId, txKey: `payout:${h.sys.chainId}:${h.vault}:${batch.id}:attempt-2` });
    await h.untilBatch(batch.id, "final");
    expect(await h.sys.c.token.balanceOf(addressOf(seller))).toBe(30_000_000n);
  });

  it("a mined transaction that reverts fails the batch; the retry uses the same ids and pays once", async () => {
    const seller = "S-TEST-USD-02";
    await h.credit(seller, "USD", 4_000n);
    const { batches } = await h.payouts.plan();
    const batch = batches[0]!;
    const firstBlock = (await h.provider.getBlockNumber()) + 1;
    await h.rpc("evm_setAutomine", [false]);
    await h.payouts.execute(); // estimated while unpaused, signed, broadcast into the mempool
    // The pauser's transaction is mined first (higher tip), so the payout reverts in the same block.
    const pauser = new Wallet(devPrivateKey(4, h.sys.chainId), h.provider);
    const fee = await h.provider.getFeeData();
    await h.sys.c.vault.connect(pauser).pause({
      maxPriorityFeePerGas: (fee.maxPriorityFeePerGas ?? 1n) * 10n,
      maxFeePerGas: (fee.maxFeePerGas ?? 1n) * 10n,
    });
    await h.rpc("evm_mine");
    await h.rpc("evm_setAutomine", [true]);
    await h.step();
    // With retryAfterMs 0 the retry is attempted at once, and refused while the vault is paused.
    const failed = (await h.payouts.getBatch(batch.id)).batch;
    expect(failed).toMatchObject({ status: "failed", firstPayoutId: batch.firstPayoutId });
    expect(failed.error).toMatch(/EnforcedPause/);
    // (The sender replays a reverted call on the previous block, where the vault was not paused yet,
    // so the reason of attempt 1 is "unavailable"; the retry's estimate names EnforcedPause.)
    expect((await h.sender.get(h.payouts.txKey({ ...failed, attempt: 1 })))!.status).toBe("reverted");
    expect(await h.ledger.balance(PayoutAccounts.available(seller), "USD")).toMatchObject({ posted: 4_000n, available: 0n });

    await h.sys.c.vault.unpause().then((t) => t.wait());
    const final = await h.untilBatch(batch.id, "final");
    expect(final.attempt).toBeGreaterThan(1);
    expect(final.firstPayoutId).toBe(batch.firstPayoutId);
    expect(await h.sys.c.token.balanceOf(addressOf(seller))).toBe(40_000_000n);
    expect((await minedCalls(h.provider, h.payer.address, h.vault, firstBlock)).map((c) => c.status)).toEqual([0, 1]);
    expect((await payoutJournal(h.ledger, batch.firstPayoutId)).map((t) => t.kind).sort()).toEqual(["commit", "pending"]);
  });

  it("an operator cancels a failed batch: ids voided on chain, then the reserves voided", async () => {
    const seller = "S-TEST-CNY-01";
    await h.credit(seller, "CNY", 50_000n);
    const { batches } = await h.payouts.plan();
    const batch = batches[0]!;
    await asPauser().pause().then((t) => t.wait());
    await h.payouts.execute();
    expect((await h.payouts.getBatch(batch.id)).batch.status).toBe("failed");

    const cancelling = await h.payouts.cancelBatch(batch.id, { by: "ops" });
    expect(cancelling.status).toBe("cancelling");
    expect(await h.sys.c.vault.isPayoutProcessed(batch.firstPayoutId)).toBe(true); // voided: can never be paid
    expect(await h.ledger.balance(PayoutAccounts.available(seller), "CNY")).toMatchObject({ available: 0n }); // not before final
    await h.step();
    expect((await h.payouts.getBatch(batch.id)).batch.status).toBe("cancelling");
    const cancelled = await h.untilBatch(batch.id, "cancelled");
    expect(cancelled.status).toBe("cancelled");
    const [p] = (await h.payouts.getBatch(batch.id)).payouts;
    expect(p).toMatchObject({ status: "cancelled" });
    expect(p!.voidTxId).not.toBeNull();
    expect(await h.ledger.balance(PayoutAccounts.available(seller), "CNY")).toMatchObject({ posted: 50_000n, available: 50_000n, pendingDebits: 0n });
    expect((await payoutJournal(h.ledger, p!.id)).map((t) => t.kind).sort()).toEqual(["pending", "void"]);

    // Unpaused, the money is planned again under NEW ids (the old ones are void on chain).
    await h.sys.c.vault.unpause().then((t) => t.wait());
    const again = await h.payouts.plan();
    expect(again.batches).toHaveLength(1);
    expect(again.batches[0]!.firstPayoutId).toBeGreaterThan(batch.firstPayoutId);
    await h.payouts.execute();
    await h.untilBatch(again.batches[0]!.id, "final");
    expect(await h.ledger.balance(PayoutAccounts.available(seller), "CNY")).toMatchObject({ posted: 0n, available: 0n });
  });

  it("refuses to cancel a batch that is final", async () => {
    await h.credit("S-POP-HK-02", "USD", 1_000n);
    const { batches } = await h.payouts.plan();
    await h.payouts.execute();
    const final = await h.untilBatch(batches[0]!.id, "final");
    await expect(h.payouts.cancelBatch(final.id, { by: "ops" })).rejects.toMatchObject({ code: "ENT_PAYOUT_INVALID_STATE" });
  });
});
