/**
 * AnchorService on an in-process chain (the system deployed by deploySystem) with the real ledger,
 * settlement service, TxSender and ChainIndexer, on each database kind: batches by count and by
 * age, documents, states, consecutive ids across restarts, and the start-up check against the chain.
 * Every test gets its own chain and database (batch ids start at 1), so each one runs alone.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { keccak256, toUtf8Bytes, ZeroHash } from "ethers";
import { AnchorService, verifyProof } from "../../service/anchoring/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { deployedSystem, type System } from "../chain/fixture.js";
import { chainOf, openAnchoring, pinOf, rpcOf, type AnchoringHarness } from "./support.js";
import { outbox } from "../webhooks/outbox.js";
import { expectValidBodies, tapWebhooks } from "../webhooks/contract.js";
import { rejected as codeOf } from "../support/app-errors.js";
import { LeaseStore } from "../../service/leader/index.js";
import { ANCHOR_HALTED, CHAIN_HALTED, CHAIN_OUTAGE, startLoop } from "../../service/loop.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("AnchorService on %s", { timeout: 60_000 }, (kind) => {
  let sys: System;
  let h: AnchoringHarness;

  beforeEach(async () => {
    sys = await deployedSystem();
    h = await openAnchoring(kind, chainOf(sys));
  }, 120_000);
  afterEach(async () => {
    await h?.close();
    await sys?.close();
  });

  it("builds a batch by count, leaves the remainder waiting, then batches it by age", async () => {
    const anchoring = h.service({ batchMaxCount: 5, batchMaxAgeMs: 10_000 });
    const ids = await h.post(12);
    const first = await anchoring.tick();
    expect(first.built).toEqual([1n, 2n]);
    expect(first.submitted).toEqual([1n, 2n]);
    // Two full batches; the last 2 transactions are younger than the age threshold.
    expect((await anchoring.tick()).built).toEqual([]);
    h.clock.advance(10_001);
    expect((await anchoring.tick()).built).toEqual([3n]);

    const batches = (await anchoring.listBatches()).items.reverse();
    expect(batches.map((b) => [b.batchId, b.firstSequence, b.lastSequence, b.count])).toEqual([
      [1n, 1n, 5n, 5],
      [2n, 6n, 10n, 5],
      [3n, 11n, 12n, 2],
    ]);
    // Each batch names its predecessor's root, and the chain holds exactly these roots.
    expect(batches[0]!.previousRoot).toBe(ZeroHash);
    expect(batches[1]!.previousRoot).toBe(batches[0]!.root);
    expect(batches[2]!.previousRoot).toBe(batches[1]!.root);
    for (const b of batches) expect((await sys.c.anchor.rootOf(b.batchId)).toLowerCase()).toBe(b.root);

    // The index reports them: observed, then final once deep enough.
    await h.indexer.poll();
    await anchoring.tick();
    // Mined and seen by the index (the earlier batches already have a block on top: safe at depth 1).
    for (const s of (await anchoring.statesOf(ids)).values()) expect(["observed", "safe"]).toContain(s.state);
    await rpcOf(sys, "hardhat_mine", ["0x5"]);
    await h.indexer.poll();
    await anchoring.tick();
    const states = await anchoring.statesOf([...ids, "999999"]);
    expect(states.get(ids[0]!)).toEqual({ state: "final", batchId: 1n });
    expect(states.get(ids[11]!)).toEqual({ state: "final", batchId: 3n });
    expect(states.get("999999")).toEqual({ state: "unanchored", batchId: null });
  });

  it("announces to webhooks, in the transactions that change state: booked, anchored when mined, final with its batch", async () => {
    // A real endpoint for every event: the triggers write them, and they are delivered.
    const tap = await tapWebhooks(h.db.sql);
    const anchoring = h.service({ batchMaxCount: 3, batchMaxAgeMs: 10_000 });
    const ids = await h.settle(3);
    expect((await outbox(h.db.sql, "settlement.booked")).map((e) => e.data.journalTransactionId)).toEqual(ids);
    await anchoring.tick();
    expect(await outbox(h.db.sql, "settlement.anchored")).toEqual([]); // submitted, not mined yet
    await h.indexer.poll();
    await anchoring.tick();
    const anchored = await outbox(h.db.sql, "settlement.anchored");
    expect(anchored.map((e) => e.data.journalTransactionId)).toEqual(ids);
    expect(anchored[0]?.data).toMatchObject({ batchId: "1", chainId: String(sys.chainId) });
    expect(anchored[0]?.data.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(anchored[0]?.subject).toBe(`order:${String(anchored[0]?.data.gateway)}:${String(anchored[0]?.data.orderId)}`);
    await rpcOf(sys, "hardhat_mine", ["0x5"]);
    await h.indexer.poll();
    await anchoring.tick();
    expect((await outbox(h.db.sql, "settlement.final")).map((e) => e.data.journalTransactionId)).toEqual(ids);
    const [batch] = await outbox(h.db.sql, "anchoring.batch_final");
    expect(batch?.data).toMatchObject({ batchId: "1", leafCount: 3, firstSequence: "1", lastSequence: "3" });
    // Once each: a later tick announces nothing again.
    await anchoring.tick();
    expect(await outbox(h.db.sql, "settlement.final")).toHaveLength(3);
    // Delivered as /openapi.json's `webhooks` describes them.
    try {
      expect([...expectValidBodies(await tap.deliverAll())].sort()).toEqual(["anchoring.batch_final", "settlement.anchored", "settlement.booked", "settlement.final"]);
    } finally {
      await tap.close();
    }
  });

  it("follows the index through onIndexed as well as through tick", async () => {
    const anchoring = h.service({ batchMaxCount: 3 });
    const unsubscribe = h.indexer.onChange((c) => anchoring.onIndexed(c));
    try {
      const ids = await h.post(3);
      expect((await anchoring.tick()).built).toEqual([1n]);
      expect((await anchoring.statesOf(ids)).get(ids[0]!)?.state).toBe("submitted");
      await h.indexer.poll();
      expect((await anchoring.getBatch(1n))?.status).toBe("observed");
      await rpcOf(sys, "hardhat_mine", ["0x5"]);
      await h.indexer.poll();
      const b = await anchoring.getBatch(1n);
      expect(b?.status).toBe("final");
      expect(b?.blockNumber).not.toBeNull();
      expect(b?.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    } finally {
      unsubscribe();
    }
  });

  it("queues documents idempotently, anchors them in the next batch and proves them", async () => {
    const anchoring = h.service({ batchMaxCount: 1000, batchMaxAgeMs: 1_000 });
    const digest = keccak256(toUtf8Bytes("reconciliation report run-1"));
    await anchoring.enqueueDocument({ kind: "reconciliation", id: "run-1", digest });
    await anchoring.enqueueDocument({ kind: "reconciliation", id: "run-1", digest: digest.toUpperCase().replace("0X", "0x") });
    expect((await codeOf(anchoring.enqueueDocument({ kind: "reconciliation", id: "run-1", digest: ZeroHash }))).code).toBe("ENT_ANCHOR_DOCUMENT_CONFLICT");
    const invalid = await codeOf(anchoring.enqueueDocument({ kind: "Bad Kind", id: "x", digest }));
    expect([invalid.code, invalid.status, invalid.fields?.[0]?.field]).toEqual(["ENT_ANCHOR_INVALID", 400, "kind"]);
    expect((await codeOf(anchoring.enqueueDocument({ kind: "k", id: "x", digest: "0x1234" }))).fields?.[0]?.field).toBe("digest");
    expect(await anchoring.documentState("reconciliation", "run-1")).toEqual({ state: "queued", batchId: null });
    const notYet = await codeOf(anchoring.proofOfDocument("reconciliation", "run-1"));
    expect([notYet.code, notYet.status, notYet.details?.["state"]]).toEqual(["ENT_ANCHOR_NOT_ANCHORED", 409, "queued"]);
    expect((await codeOf(anchoring.proofOfDocument("reconciliation", "nope"))).code).toBe("ENT_ANCHOR_NOT_FOUND");

    const ids = await h.post(2);
    h.clock.advance(1_001);
    expect((await anchoring.tick()).built).toEqual([1n]);
    const batch = (await anchoring.getBatch(1n))!;
    expect([batch.count, batch.journalCount, batch.documentCount]).toEqual([3, 2, 1]);
    expect(await anchoring.documentState("reconciliation", "run-1")).toEqual({ state: "submitted", batchId: 1n });

    const proof = await anchoring.proofOfDocument("reconciliation", "run-1");
    expect(proof.document).toEqual({ kind: "reconciliation", id: "run-1", digest });
    expect(proof.leaf.type).toBe("document");
    const report = await verifyProof(proof, h.provider, pinOf(sys));
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    // The journal transactions of the same mixed batch verify too.
    expect((await verifyProof(await anchoring.proofOfTransaction(ids[1]!), h.provider, pinOf(sys))).ok).toBe(true);
  });

  it("continues batch ids across restarts and never builds twice for one journal range", async () => {
    const first = h.service({ batchMaxCount: 2 });
    await h.post(2);
    expect((await first.tick()).built).toEqual([1n]);
    await h.post(4);
    const a = h.service({ batchMaxCount: 2 });
    const b = h.service({ batchMaxCount: 2 });
    // Two instances (two processes) ticking at once: the batch ids stay consecutive, no range twice.
    const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
    expect([...ra.built, ...rb.built].sort()).toEqual([2n, 3n]);
    await h.post(2);
    const restarted = h.service({ batchMaxCount: 2 });
    expect((await restarted.tick()).built).toEqual([4n]);
    const all = (await restarted.listBatches({ limit: 100 })).items.reverse();
    expect(all.map((x) => x.batchId)).toEqual([1n, 2n, 3n, 4n]);
    for (let i = 1; i < all.length; i++) {
      expect(all[i]!.firstSequence).toBe(all[i - 1]!.lastSequence + 1n);
      expect(all[i]!.previousRoot).toBe(all[i - 1]!.root);
    }
    const [{ n }] = (await h.db.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM anchor_leaves WHERE kind = 'journal'`)) as [{ n: number }];
    expect(n).toBe(Number(all.at(-1)!.lastSequence));
  });

  /** Someone else anchors `batchId` with the anchorer key, outside this service. */
  async function anchorForeign(batchId: bigint): Promise<void> {
    const anchorer = sys.c.anchor.connect(sys.anchorer);
    await (await anchorer.anchorBatch(batchId, keccak256(toUtf8Bytes(`foreign ${batchId}`)), 1, ZeroHash)).wait();
  }

  it("refuses to start when the chain holds a batch beyond the database's last one", async () => {
    await h.post(2);
    expect((await h.service({ batchMaxCount: 2 }).tick()).built).toEqual([1n]);
    await anchorForeign(2n);
    const e = await codeOf(h.service().tick());
    expect(e.code).toBe("ENT_ANCHOR_CHAIN_MISMATCH");
    expect(e.message).toMatch(/batch 2 is anchored on chain/);
  });

  it("a worker loop halted on it records the halt for every instance's /readyz, and a later term's first success clears it", async () => {
    await h.post(2);
    expect((await h.service({ batchMaxCount: 2 }).tick()).built).toEqual([1n]);
    await anchorForeign(2n);
    const leases = new LeaseStore(h.db.sql);
    const quiet = { error: () => undefined };
    const run = async (tick: () => Promise<unknown>, ticks: number) => {
      let n = 0;
      const loop = startLoop("anchoring", 5, async () => {
        n++;
        await tick();
      }, quiet, { outage: [CHAIN_OUTAGE, CHAIN_HALTED, ANCHOR_HALTED], onHalt: (halt) => leases.recordHalt("anchoring", halt) });
      for (const deadline = Date.now() + 20_000; n < ticks && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
      await loop.stop();
    };
    const anchoring = h.service();
    await run(() => anchoring.tick(), 3);
    const halts = await leases.halts();
    expect(halts.map((x) => [x.worker, x.code, x.details])).toEqual([["anchoring", "ENT_ANCHOR_CHAIN_MISMATCH", { lastBatchInDatabase: "1", rootOnChain: keccak256(toUtf8Bytes("foreign 2")) }]]);
    expect(halts[0]!.reason).toMatch(/^ENT_ANCHOR_CHAIN_MISMATCH: batch 2 is anchored on chain/);
    // The halt stands across ticks (recorded once, its first instant kept) until a tick succeeds.
    await run(() => anchoring.tick(), 2);
    expect((await leases.halts()).map((x) => x.since)).toEqual([halts[0]!.since]);
    await run(() => Promise.resolve(), 1);
    expect(await leases.halts()).toEqual([]);
  });

  it("with an empty database, continues after the batches the chain already holds", async () => {
    // The chain holds batch 1 from this harness's database and batch 2 from someone else.
    await h.post(2);
    expect((await h.service({ batchMaxCount: 2 }).tick()).built).toEqual([1n]);
    await anchorForeign(2n);
    const fresh = await openAnchoring(kind, chainOf(sys));
    try {
      const anchoring = fresh.service({ batchMaxCount: 2 });
      await fresh.post(2);
      expect((await anchoring.tick()).built).toEqual([3n]);
      const b = (await anchoring.getBatch(3n))!;
      expect(b.previousRoot).toBe((await sys.c.anchor.rootOf(2n)).toLowerCase());
      expect(b.firstSequence).toBe(1n);
      const proof = await anchoring.proofOfTransaction((await fresh.ledger.listJournal(0n, 1))[0]!.id);
      expect((await verifyProof(proof, fresh.provider, pinOf(sys))).checks.find((c) => c.name === "previous-root")?.ok).toBe(true);
    } finally {
      await fresh.close();
    }
  });

  it("validates its options", () => {
    expect(() => h.service({ batchMaxCount: 0 })).toThrow(/batchMaxCount/);
    expect(() => h.service({ batchMaxAgeMs: 1.5 })).toThrow(/batchMaxAgeMs/);
    expect(h.service()).toBeInstanceOf(AnchorService);
  });
});
