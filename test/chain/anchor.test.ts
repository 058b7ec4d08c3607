import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keccak256, toUtf8Bytes, ZeroHash } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { JOURNAL_LEAF_FIELDS } from "../../service/anchoring/leaf.js";
import { deployedSystem, revertAfterEach, type System } from "./fixture.js";
import { SETTLEMENT_LEAF_ENCODING, settlementTotalsDigest as digestOf, settlementTree } from "./settlements.js";
import { expectEvents, expectRevert } from "./helpers.js";

describe("SettlementAnchor, deployed by deploySystem on an in-process chain", { timeout: 120_000 }, () => {
  let s: System;
  const tree = settlementTree(1_000);
  const leaves = [...tree.entries()].map(([, v]) => v);

  beforeAll(async () => {
    s = await deployedSystem();
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });
  // Every test starts from the bare deployment: no batch anchored, roles as deployed.
  revertAfterEach(() => s.connection);

  const anchor = () => s.c.anchor.connect(s.anchorer);
  /** Batch 1: the 1,000 settlements of `tree`. */
  const anchorFirst = async () => {
    await (await anchor().anchorBatch(1n, tree.root, leaves.length, digestOf(1_000, 0))).wait();
  };

  describe("when a batch is anchored", () => {
    it("records the root under its batch id and emits BatchAnchored with count and totals digest", async () => {
      const digest = digestOf(1_000, 0);
      const receipt = await (await anchor().anchorBatch(1n, tree.root, leaves.length, digest)).wait();
      expectEvents(receipt, s.c.anchor.interface, await s.c.anchor.getAddress(), "BatchAnchored", [[1n, tree.root, 1_000n, digest]]);
      expect(await s.c.anchor.rootOf(1n)).toBe(tree.root);
    });

    it("verifies the inclusion of every sampled settlement with its StandardMerkleTree proof", async () => {
      await anchorFirst();
      for (const i of [0, 1, 499, 998, 999]) {
        const leaf = tree.leafHash(tree.at(i)!);
        expect(await s.c.anchor.verifySettlement(1n, leaf, tree.getProof(i))).toBe(true);
      }
    });

    it("rejects a tampered leaf (amount changed by one minor unit), a wrong proof and another batch's proof", async () => {
      await anchorFirst();
      // The gross amount of the journal leaf raised by one minor unit.
      const gross = JOURNAL_LEAF_FIELDS.findIndex(([name]) => name === "grossAmount");
      const tampered = [...tree.at(7)!];
      tampered[gross] = (tampered[gross] as bigint) + 1n;
      const forged = StandardMerkleTree.of([tampered], SETTLEMENT_LEAF_ENCODING).leafHash(tampered);
      expect(await s.c.anchor.verifySettlement(1n, forged, tree.getProof(7))).toBe(false);
      expect(await s.c.anchor.verifySettlement(1n, tree.leafHash(tree.at(7)!), tree.getProof(8))).toBe(false);
      // An inner node passed off as a leaf (the second-preimage trick) must not verify either.
      const proof = tree.getProof(0);
      expect(await s.c.anchor.verifySettlement(1n, proof[0]!, proof.slice(1))).toBe(false);

      const other = settlementTree(10, 5_000);
      await (await anchor().anchorBatch(2n, other.root, 10, digestOf(10, 5_000))).wait();
      expect(await s.c.anchor.verifySettlement(2n, other.leafHash(other.at(3)!), other.getProof(3))).toBe(true);
      expect(await s.c.anchor.verifySettlement(1n, other.leafHash(other.at(3)!), other.getProof(3))).toBe(false);
      expect(await s.c.anchor.verifySettlement(2n, tree.leafHash(tree.at(3)!), tree.getProof(3))).toBe(false);
    });

    it("reverts verification against a batch id that holds no root, rather than answering false", async () => {
      await expectRevert(
        s.c.anchor.verifySettlement(99n, tree.leafHash(tree.at(0)!), tree.getProof(0)),
        s.c.anchor.interface,
        "BatchNotAnchored",
        [99n],
      );
    });
  });

  describe("when a batch id is reused or invalid", () => {
    it("never overwrites an anchored root", async () => {
      await anchorFirst();
      const other = settlementTree(3, 9_000);
      await expectRevert(anchor().anchorBatch(1n, other.root, 3, ZeroHash), s.c.anchor.interface, "BatchAlreadyAnchored", [1n, tree.root]);
      expect(await s.c.anchor.rootOf(1n)).toBe(tree.root);
    });

    it("rejects batch id 0, a zero root and an empty batch", async () => {
      await expectRevert(anchor().anchorBatch(0n, tree.root, 1, ZeroHash), s.c.anchor.interface, "InvalidBatchId", [0n]);
      await expectRevert(anchor().anchorBatch(50n, ZeroHash, 1, ZeroHash), s.c.anchor.interface, "EmptyRoot", [50n]);
      await expectRevert(anchor().anchorBatch(50n, tree.root, 0, ZeroHash), s.c.anchor.interface, "EmptyBatch", [50n]);
    });

    it("does not reject a gap on chain (by design, to keep one slot per batch): the gap is visible to anyone", async () => {
      // The contract trades on-chain gap rejection for gas (see SettlementAnchor's @dev); the
      // sequence is the anchoring service's to enforce, and any verifier sees the hole like this.
      const next = settlementTree(2, 7_000);
      await (await anchor().anchorBatch(4n, next.root, 2, ZeroHash)).wait();
      expect(await s.c.anchor.rootOf(3n)).toBe(ZeroHash);
      await expectRevert(
        s.c.anchor.verifySettlement(3n, next.leafHash(next.at(0)!), next.getProof(0)),
        s.c.anchor.interface,
        "BatchNotAnchored",
        [3n],
      );
    });
  });

  describe("when a batch corrects an earlier one", () => {
    it("anchors the correction, emits BatchAnchored then BatchCorrected, and leaves the corrected batch intact", async () => {
      await anchorFirst();
      const fixed = settlementTree(999, 0);
      const digest = digestOf(999, 0);
      const receipt = await (await anchor().anchorCorrection(5n, fixed.root, 999, digest, 1n)).wait();
      const address = await s.c.anchor.getAddress();
      expectEvents(receipt, s.c.anchor.interface, address, "BatchAnchored", [[5n, fixed.root, 999n, digest]]);
      expectEvents(receipt, s.c.anchor.interface, address, "BatchCorrected", [[5n, 1n]]);
      expect(await s.c.anchor.rootOf(1n)).toBe(tree.root);
      expect(await s.c.anchor.verifySettlement(5n, fixed.leafHash(fixed.at(10)!), fixed.getProof(10))).toBe(true);
    });

    it("rejects a correction of an unanchored, later, self or zero batch", async () => {
      const t = settlementTree(2, 8_000);
      for (const [batchId, corrects] of [
        [6n, 3n],
        [6n, 7n],
        [6n, 6n],
        [6n, 0n],
      ] as const) {
        await expectRevert(
          anchor().anchorCorrection(batchId, t.root, 2, ZeroHash, corrects),
          s.c.anchor.interface,
          "InvalidCorrectionTarget",
          [batchId, corrects],
        );
      }
    });
  });

  describe("when roles are enforced", () => {
    it("refuses anchoring by anyone without ANCHOR_ROLE, the admin included", async () => {
      const role = await s.c.anchor.ANCHOR_ROLE();
      expect(role).toBe(keccak256(toUtf8Bytes("ANCHOR_ROLE")));
      for (const who of [s.deployer, s.payer, s.others[0]!]) {
        await expectRevert(
          s.c.anchor.connect(who).anchorBatch(20n, tree.root, 1, ZeroHash),
          s.c.anchor.interface,
          "AccessControlUnauthorizedAccount",
          [who.address, role],
        );
      }
    });

    it("lets the pauser freeze a leaked anchorer without the admin key; only the admin re-grants", async () => {
      const role = await s.c.anchor.ANCHOR_ROLE();
      await expectRevert(
        s.c.anchor.connect(s.others[0]).freezeAnchorer(s.anchorer.address),
        s.c.anchor.interface,
        "AccessControlUnauthorizedAccount",
        [s.others[0]!.address, await s.c.anchor.PAUSER_ROLE()],
      );
      const receipt = await (await s.c.anchor.connect(s.pauser).freezeAnchorer(s.anchorer.address)).wait();
      expectEvents(receipt, s.c.anchor.interface, await s.c.anchor.getAddress(), "AnchorerFrozen", [
        [s.anchorer.address, s.pauser.address],
      ]);
      await expectRevert(anchor().anchorBatch(21n, tree.root, 1, ZeroHash), s.c.anchor.interface, "AccessControlUnauthorizedAccount", [
        s.anchorer.address,
        role,
      ]);
      await expectRevert(
        s.c.anchor.connect(s.pauser).grantRole(role, s.anchorer.address),
        s.c.anchor.interface,
        "AccessControlUnauthorizedAccount",
        [s.pauser.address, ZeroHash],
      );
      await (await s.c.anchor.grantRole(role, s.anchorer.address)).wait();
      await (await anchor().anchorBatch(21n, tree.root, 1, ZeroHash)).wait();
      expect(await s.c.anchor.rootOf(21n)).toBe(tree.root);
    });
  });
});
