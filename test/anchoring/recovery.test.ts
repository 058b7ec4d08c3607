/**
 * AnchorService under failure, on an in-process chain and each database kind: a crash between
 * committing a batch and submitting it (and one after the broadcast, before the batch is marked
 * submitted) resubmits the same batch id and root, once; a reorganisation that removes the
 * anchoring block puts the batch back to "submitted", and the sender re-mines the same transaction.
 * Every test gets its own chain and database (batch ids start at 1), so each runs alone.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keccak256, toUtf8Bytes, ZeroHash } from "ethers";
import { verifyProof, type AnchorSender } from "../../service/anchoring/index.js";
import { SettlementAnchor__factory } from "../../service/chain/contracts.js";
import { testDatabaseKinds } from "../support/db.js";
import { deployedSystem, type System } from "../chain/fixture.js";
import { mineEmpty } from "../chain/indexer/support.js";
import { minedFrom } from "../chain/support/sender-harness.js";
import { chainOf, openAnchoring, pinOf, rpcOf, type AnchoringHarness } from "./support.js";

const kinds = await testDatabaseKinds();
const anchorIface = SettlementAnchor__factory.createInterface();

describe.each(kinds)("AnchorService recovery on %s", { timeout: 60_000 }, (kind) => {
  let sys: System;
  let h: AnchoringHarness;
  let firstBlock: number;

  beforeEach(async () => {
    sys = await deployedSystem();
    h = await openAnchoring(kind, chainOf(sys));
    firstBlock = (await h.provider.getBlockNumber()) + 1;
  }, 120_000);
  afterEach(async () => {
    await h?.close();
    await sys?.close();
  });

  /** The anchorBatch calls the anchorer really got mined, as [batchId, root]. */
  async function anchoredOnChain(): Promise<Array<[bigint, string]>> {
    const txs = await minedFrom(h.provider, h.anchorer.address, firstBlock);
    return txs.map((t) => {
      const d = anchorIface.decodeFunctionData("anchorBatch", t.data);
      return [d[0] as bigint, (d[1] as string).toLowerCase()];
    });
  }

  it("a crash after the batch is committed and before it is submitted: the restart submits the same id and root", async () => {
    const crashed: AnchorSender = {
      submit: () => Promise.reject(new Error("process killed before the submission")),
      get: (key) => h.sender.get(key),
    };
    await h.post(3);
    await expect(h.service({ sender: crashed, batchMaxCount: 3 }).tick()).rejects.toThrow(/killed/);
    const stored = (await h.service().getBatch(1n))!;
    expect(stored.status).toBe("built");
    expect(await sys.c.anchor.rootOf(1n)).toBe(ZeroHash);

    const restarted = h.service({ batchMaxCount: 3 });
    const r = await restarted.tick();
    expect(r).toMatchObject({ built: [], submitted: [1n] });
    expect((await restarted.getBatch(1n))!).toMatchObject({ root: stored.root, firstSequence: 1n, lastSequence: 3n, status: "submitted" });
    expect(await anchoredOnChain()).toEqual([[1n, stored.root]]);
  });

  it("a crash after the broadcast and before the batch is marked submitted: the same transaction, never a second one", async () => {
    const halfway: AnchorSender = {
      async submit(intent) {
        await h.sender.submit(intent);
        throw new Error("process killed after the broadcast");
      },
      get: (key) => h.sender.get(key),
    };
    await h.post(3);
    await expect(h.service({ sender: halfway, batchMaxCount: 3 }).tick()).rejects.toThrow(/killed/);
    const stored = (await h.service().getBatch(1n))!;
    expect(stored.status).toBe("built");
    expect((await sys.c.anchor.rootOf(1n)).toLowerCase()).toBe(stored.root); // it did go out

    const restarted = h.service({ batchMaxCount: 3 });
    expect(await restarted.tick()).toMatchObject({ built: [], submitted: [1n] });
    const record = await h.sender.get(restarted.senderKey(1n));
    expect((await restarted.getBatch(1n))!.txHash).toBe(record!.hash);
    expect(await anchoredOnChain()).toEqual([[1n, stored.root]]);
    // Nothing waits, so nothing more is built; the journal ranges are anchored exactly once.
    expect((await restarted.tick()).built).toEqual([]);
    const [{ n }] = (await h.db.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM anchor_leaves`)) as [{ n: number }];
    expect(n).toBe(3);
  });

  it("a reorganisation that drops the anchoring block puts the batch back to submitted; the same transaction is re-mined", async () => {
    const anchoring = h.service({ batchMaxCount: 2 });
    const unsubscribe = h.indexer.onChange((c) => anchoring.onIndexed(c));
    try {
      await h.indexer.poll();
      await anchoring.tick();
      const snapshot = await rpcOf<string>(sys, "evm_snapshot");
      const ids = await h.post(2);
      expect((await anchoring.tick()).built).toEqual([1n]);
      await h.indexer.poll();
      const before = (await anchoring.getBatch(1n))!;
      expect(before.status).toBe("observed");
      expect((await anchoring.statesOf(ids)).get(ids[0]!)).toEqual({ state: "observed", batchId: 1n });

      // The block holding batch 1 is replaced by a longer chain without it.
      expect(await rpcOf<boolean>(sys, "evm_revert", [snapshot])).toBe(true);
      await mineEmpty(sys, 3, 7);
      expect(await sys.c.anchor.rootOf(1n)).toBe(ZeroHash);
      await h.indexer.poll();
      const rolledBack = (await anchoring.getBatch(1n))!;
      expect([rolledBack.status, rolledBack.blockNumber, rolledBack.blockHash]).toEqual(["submitted", null, null]);
      expect((await anchoring.statesOf(ids)).get(ids[0]!)?.state).toBe("submitted");
      const proofMeanwhile = await anchoring.proofOfTransaction(ids[0]!);
      const failing = await verifyProof(proofMeanwhile, h.provider, pinOf(sys));
      expect(failing.ok).toBe(false);
      expect(failing.checks.find((c) => c.name === "root-on-chain")?.ok).toBe(false);

      // The sender notices the vanished receipt and re-broadcasts the very same signed transaction.
      await h.sender.tick();
      await h.indexer.poll();
      await anchoring.tick();
      const after = (await anchoring.getBatch(1n))!;
      expect(after.status).toBe("observed");
      expect(after.txHash).toBe(before.txHash);
      expect(after.blockHash).not.toBe(before.blockHash);
      expect((await sys.c.anchor.rootOf(1n)).toLowerCase()).toBe(before.root);
      const report = await verifyProof(await anchoring.proofOfTransaction(ids[0]!), h.provider, pinOf(sys));
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    } finally {
      unsubscribe();
    }
  });

  it("recovers the same states from the index on tick alone (a listener delivery that was lost)", async () => {
    const anchoring = h.service({ batchMaxCount: 2 });
    const snapshot = await rpcOf<string>(sys, "evm_snapshot");
    await h.post(2);
    expect((await anchoring.tick()).built).toEqual([1n]);
    await h.indexer.poll();
    await anchoring.tick();
    expect((await anchoring.getBatch(1n))!.status).toBe("observed");
    expect(await rpcOf<boolean>(sys, "evm_revert", [snapshot])).toBe(true);
    await mineEmpty(sys, 3, 11);
    await h.indexer.poll(); // no listener registered: only the index knows
    await anchoring.tick();
    expect((await anchoring.getBatch(1n))!.status).toBe("submitted");
    await h.sender.tick();
    await h.indexer.poll();
    await anchoring.tick();
    expect((await anchoring.getBatch(1n))!.status).toBe("observed");
  });

  it("a competing writer takes our batch id first: our transaction reverts, the batch is marked reverted and anchoring stops loudly", async () => {
    const anchoring = h.service({ batchMaxCount: 2 });
    const rival = sys.others[0]!;
    await (await sys.c.anchor.grantRole(await sys.c.anchor.ANCHOR_ROLE(), rival.address)).wait();
    await h.indexer.poll();
    await anchoring.tick();
    const ids = await h.post(2);
    await rpcOf(sys, "evm_setAutomine", [false]);
    try {
      expect((await anchoring.tick()).built).toEqual([1n]);
      // The rival's anchorBatch(1, ...) pays a higher tip, so it is mined first in the same block.
      const fees = await h.provider.getFeeData();
      await sys.c.anchor.connect(rival).anchorBatch(1n, keccak256(toUtf8Bytes("rival root")), 1, ZeroHash, {
        maxPriorityFeePerGas: (fees.maxPriorityFeePerGas ?? 1n) * 10n,
        maxFeePerGas: (fees.maxFeePerGas ?? 1n) * 10n,
        gasLimit: 100_000n, // no estimate: against the pending block it would already see our batch 1
      });
      await rpcOf(sys, "evm_mine");
    } finally {
      await rpcOf(sys, "evm_setAutomine", [true]);
    }
    await h.sender.tick();
    expect((await h.sender.get(anchoring.senderKey(1n)))?.status).toBe("reverted");
    const failure = await anchoring.tick().then(
      () => null,
      (e: unknown) => e as { code?: string; message: string },
    );
    expect(failure?.code).toBe("ENT_ANCHOR_BATCH_REVERTED");
    expect(failure?.message).toMatch(/batch 1 reverted/);
    expect((await anchoring.getBatch(1n))!.status).toBe("reverted");
    expect((await anchoring.statesOf(ids)).get(ids[0]!)?.state).toBe("queued");
    // Nothing further is built while a batch is reverted; the index names the foreign root too.
    await h.post(2);
    await h.indexer.poll();
    const again = await anchoring.tick().then(
      () => null,
      (e: unknown) => e as { code?: string },
    );
    expect(["ENT_ANCHOR_BATCH_REVERTED", "ENT_ANCHOR_CHAIN_MISMATCH"]).toContain(again?.code);
    expect((await anchoring.listBatches()).items[0]!.batchId).toBe(1n);
  });
});
