/**
 * The two batch formats on one chain: batch 1 built the way anchoring built batches before the
 * salted totals digest (v1, test/anchoring/v1-batch.ts), then batches 2 and 3 built by the worker
 * today (v2: the per-currency totals digest commits to a random salt). Every proof verifies against
 * the chain in its own format, with the totals (finance: recomputed, with the salt in v2) and
 * without them (a gateway's: the digest as given); a forged salt or total is caught.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZeroHash } from "ethers";
import {
  BATCH_FORMAT,
  BATCH_FORMAT_V1,
  batchCurrencyTotalsDigest,
  totalsDigest,
  verifyProof,
  withoutBatchTotals,
  type AnchorProof,
  type AnchorService,
  type ProofReport,
} from "../../service/anchoring/index.js";
import { parseProof } from "../../service/anchoring/proof.js";
import { testDatabaseKinds } from "../support/db.js";
import { deployedSystem, type System } from "../chain/fixture.js";
import { chainOf, openAnchoring, pinOf, type AnchoringHarness } from "./support.js";
import { insertV1Batch } from "./v1-batch.js";

const kinds = await testDatabaseKinds();

const copy = (p: AnchorProof) => JSON.parse(JSON.stringify(p)) as AnchorProof;
const failed = (r: ProofReport) => r.checks.filter((c) => !c.ok).map((c) => c.name);
const check = (r: ProofReport, name: string) => r.checks.find((c) => c.name === name)!;

describe.each(kinds)("anchoring batch formats on %s", { timeout: 60_000 }, (kind) => {
  let sys: System;
  let h: AnchoringHarness;
  let anchoring: AnchorService;
  let v1: string[];
  let v2: string[];

  beforeAll(async () => {
    sys = await deployedSystem();
    h = await openAnchoring(kind, chainOf(sys));
    v1 = await h.settle(4);
    const { chainId, anchor } = { chainId: sys.chainId, anchor: sys.result.record.contracts.SettlementAnchor.address };
    await insertV1Batch(h.db.sql, { chainId, anchor, batchId: 1n, previousRoot: ZeroHash, txs: await h.ledger.listJournal(0n, 100) });
    anchoring = h.service({ batchMaxCount: 4 });
    expect(await anchoring.tick()).toMatchObject({ submitted: [1n], built: [] });
    v2 = await h.settle(8);
    expect((await anchoring.tick()).built).toEqual([2n, 3n]);
    await h.indexer.poll();
    await anchoring.tick();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await sys?.close();
  });

  it("keeps a batch anchored before the salt in v1, and builds every batch after it as v2 with a salt of its own", async () => {
    const [b1, b2, b3] = await Promise.all([1n, 2n, 3n].map(async (id) => (await anchoring.getBatch(id))!));
    expect(b1).toMatchObject({ format: BATCH_FORMAT_V1, totalsSalt: null });
    expect(b2).toMatchObject({ format: BATCH_FORMAT, previousRoot: b1!.root });
    expect([b1, b2, b3].map((b) => ["observed", "safe", "final"].includes(b!.state))).toEqual([true, true, true]);
    expect(b2!.totalsSalt).toMatch(/^0x[0-9a-f]{64}$/);
    expect(b3!.totalsSalt).toMatch(/^0x[0-9a-f]{64}$/);
    expect(b3!.totalsSalt).not.toBe(b2!.totalsSalt);
    // The stored digest is the one the chain holds, in each batch's format.
    for (const b of [b1!, b2!, b3!]) {
      expect(b.currencyTotalsDigest).toBe(batchCurrencyTotalsDigest(b.format, b.currencyTotals, b.totalsSalt));
      const recomputed = totalsDigest({ ...b, count: BigInt(b.count) });
      expect(recomputed).toBe(b.totalsDigest);
    }
    // The salt never changes once written, like the rest of the batch's content.
    await expect(h.db.sql.q(`UPDATE "anchor_batches" SET "totals_salt" = $1 WHERE "batch_id" = 2`, `0x${"0".repeat(64)}`)).rejects.toThrow(/immutable/);
  });

  it("verifies a v1 proof exactly as before: with its totals recomputed unsalted, without them as given, and as a file written before v2", async () => {
    const proof = copy(await anchoring.proofOfTransaction(v1[1]!));
    expect(proof.batch).toMatchObject({ format: BATCH_FORMAT_V1, totalsSalt: null });
    expect(proof.batch.currencyTotals?.length).toBeGreaterThan(0);
    const report = await verifyProof(proof, h.provider, pinOf(sys));
    expect(failed(report)).toEqual([]);
    expect(report.checks).toHaveLength(14);
    expect(check(report, "batch-digest").detail).toContain(BATCH_FORMAT_V1);
    // A proof file saved before v2 has no totalsSalt at all.
    const { totalsSalt: _none, ...before } = proof.batch;
    expect(failed(await verifyProof({ ...proof, batch: before }, h.provider, pinOf(sys)))).toEqual([]);
    // A gateway's view: totals withheld, the digest as given.
    const gateway = withoutBatchTotals(proof);
    const withheld = await verifyProof(gateway, h.provider, pinOf(sys));
    expect(failed(withheld)).toEqual([]);
    expect(check(withheld, "batch-digest").detail).toContain("withheld, their digest as given");
    // Forged totals still break it; a v1 batch has no salt to show.
    proof.batch.currencyTotals![0]!.total = (BigInt(proof.batch.currencyTotals![0]!.total) + 1n).toString();
    expect(failed(await verifyProof(proof, h.provider, pinOf(sys)))).toEqual(["batch-digest"]);
    expect(() => parseProof({ ...gateway, batch: { ...gateway.batch, totalsSalt: ZeroHash } })).toThrow(/batch.totalsSalt must be null in a entrepot.anchor.batch.v1 batch/);
  });

  it("verifies a v2 proof: finance's recomputes the salted digest, a gateway's takes it as given", async () => {
    const proof = copy(await anchoring.proofOfTransaction(v2[5]!));
    expect(proof.batchId).toBe("3");
    expect(proof.batch.format).toBe(BATCH_FORMAT);
    expect(proof.batch.totalsSalt).toMatch(/^0x[0-9a-f]{64}$/);
    const report = await verifyProof(proof, h.provider, pinOf(sys));
    expect(failed(report)).toEqual([]);
    expect(check(report, "batch-digest").detail).toContain("recomputed with their salt");
    const gateway = withoutBatchTotals(proof);
    expect(gateway.batch).toMatchObject({ currencyTotals: null, totalsSalt: null, currencyTotalsDigest: proof.batch.currencyTotalsDigest });
    const withheld = await verifyProof(gateway, h.provider, pinOf(sys));
    expect(failed(withheld)).toEqual([]);
    expect(check(withheld, "batch-digest").detail).toContain("withheld with their salt, their digest as given");
    // And the proof of batch 2, chained to the v1 batch 1.
    const second = await verifyProof(copy(await anchoring.proofOfTransaction(v2[0]!)), h.provider, pinOf(sys));
    expect(failed(second)).toEqual([]);
  });

  it("catches a forged salt or total in a v2 proof, and a salt shown without its totals or the reverse", async () => {
    const proof = copy(await anchoring.proofOfTransaction(v2[1]!));
    const forgedSalt = copy(proof);
    forgedSalt.batch.totalsSalt = `0x${"7".repeat(64)}`;
    const r1 = await verifyProof(forgedSalt, h.provider, pinOf(sys));
    expect(failed(r1)).toEqual(["batch-digest"]);
    expect(check(r1, "batch-digest").detail).toMatch(/^currency totals digest is 0x[0-9a-f]{64}, proof says/);

    const forgedTotal = copy(proof);
    forgedTotal.batch.currencyTotals![0]!.total = (BigInt(forgedTotal.batch.currencyTotals![0]!.total) - 1n).toString();
    expect(failed(await verifyProof(forgedTotal, h.provider, pinOf(sys)))).toEqual(["batch-digest"]);

    // Consistent all the way up to its own totals digest, the forgery still differs from the chain's event.
    const parsed = parseProof(forgedTotal);
    const ctd = batchCurrencyTotalsDigest(BATCH_FORMAT, parsed.currencyTotals!, parsed.totalsSalt);
    forgedTotal.batch.currencyTotalsDigest = ctd;
    forgedTotal.batch.totalsDigest = totalsDigest({ ...parsed.preimage, currencyTotalsDigest: ctd });
    expect(failed(await verifyProof(forgedTotal, h.provider, pinOf(sys)))).toEqual(["batch-event"]);

    // Passed off as v1 (unsalted), the same batch does not verify either.
    const asV1 = copy(proof);
    asV1.batch = { ...asV1.batch, format: BATCH_FORMAT_V1, totalsSalt: null };
    expect(failed(await verifyProof(asV1, h.provider, pinOf(sys)))).toContain("batch-digest");

    for (const batch of [{ ...proof.batch, totalsSalt: null }, { ...proof.batch, currencyTotals: null }]) {
      const r = await verifyProof({ ...proof, batch }, h.provider, pinOf(sys));
      expect(failed(r)).toEqual(["proof-format"]);
      expect(r.checks[0]!.detail).toBe("batch.totalsSalt must be given with batch.currencyTotals and withheld with them");
    }
    const { totalsSalt: _missing, ...noSalt } = proof.batch;
    expect((await verifyProof({ ...proof, batch: noSalt }, h.provider, pinOf(sys))).checks[0]!.detail).toBe("batch.totalsSalt is required (null when the totals are withheld)");
    expect((await verifyProof({ ...proof, batch: { ...proof.batch, format: "entrepot.anchor.batch.v3" } }, h.provider, pinOf(sys))).checks[0]!.detail).toMatch(/^batch.format must be one of/);
  });
});
