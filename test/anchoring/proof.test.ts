/**
 * Settle -> anchor -> proof verifies on chain, on an in-process chain and each database kind: real
 * settlement events (FX, fees, taxes) through SettlementService, batches through the TxSender and
 * the event index, and `verifyProof` reading only the proof and the chain. Every tampering is
 * caught by the check that names it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keccak256, toUtf8Bytes } from "ethers";
import { leafFromJson, leafValues, standardLeafHash, verifyProof, type AnchorProof, type AnchorService, type VerifyOptions } from "../../service/anchoring/index.js";
import { deploySystem } from "../../service/chain/deploy.js";
import { testDatabaseKinds } from "../support/db.js";
import { deployedSystem, type System } from "../chain/fixture.js";
import { mineEmpty } from "../chain/indexer/support.js";
import { chainOf, openAnchoring, type AnchoringHarness } from "./support.js";
import { rejected as appError } from "../support/app-errors.js";

const kinds = await testDatabaseKinds();

const ALL_CHECKS = [
  "proof-format",
  "leaf-hash",
  "leaf-binding",
  "leaf-content",
  "merkle-proof",
  "batch-digest",
  "trust-anchor",
  "chain-id",
  "contract-code",
  "root-on-chain",
  "verify-settlement",
  "batch-event",
  "previous-root",
  "confirmations",
];

const copy = (p: AnchorProof) => JSON.parse(JSON.stringify(p)) as AnchorProof;

describe.each(kinds)("anchoring proofs on %s", { timeout: 60_000 }, (kind) => {
  let sys: System;
  let h: AnchoringHarness;
  let anchoring: AnchorService;
  let first: string[];
  let second: string[];
  /** The trust anchor, as an auditor fixes it out of band: the SettlementAnchor the operator deployed. */
  let pin: VerifyOptions;

  beforeAll(async () => {
    sys = await deployedSystem();
    pin = { anchor: sys.result.record.contracts.SettlementAnchor.address };
    h = await openAnchoring(kind, chainOf(sys));
    anchoring = h.service({ batchMaxCount: 6 });
    first = await h.settle(6);
    await anchoring.tick();
    second = await h.settle(6);
    await anchoring.tick();
    await h.indexer.poll();
    await anchoring.tick();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await sys?.close();
  });

  it("proves a settlement: every check passes against the chain, with nothing but the proof", async () => {
    const id = second[2]!;
    const proof = copy(await anchoring.proofOfTransaction(id));
    const report = await verifyProof(proof, h.provider, pin);
    expect(report.checks.map((c) => c.name)).toEqual(ALL_CHECKS);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.final).toBe(false);
    // Every check passed, but the block can still be reorganised away: not the same verdict.
    expect(report.verdict).toBe("not-final");

    // What the auditor sees: the settlement's content, bound to chain, contract and batch.
    const tx = (await h.ledger.getTransaction(id))!;
    const record = await h.settlement.getSettlement(tx.idempotencyKey);
    expect(proof).toMatchObject({ chainId: sys.chainId.toString(), anchor: sys.result.record.contracts.SettlementAnchor.address, batchId: "2" });
    expect(proof.leaf.fields).toMatchObject({
      kind: "settlement",
      sequence: tx.sequence.toString(),
      journalTransactionId: id,
      idempotencyKey: tx.idempotencyKey,
      settlementId: record.event.settlementId,
      gatewayEventId: record.event.gatewayEventId,
      sellerId: record.event.sellerId,
      grossCurrency: record.event.currency,
      grossAmount: record.event.amount.toString(),
      gatewayFee: record.breakdown.gatewayFee.buyer.toString(),
      feeCurrency: "USD",
      commission: record.breakdown.lines.commission.toString(),
      journalHash: `0x${tx.hash}`,
    });
    expect(proof.journalTransaction).toMatchObject({ id, hash: tx.hash, idempotencyKey: tx.idempotencyKey });
    expect(proof.batch.previousRoot).toBe((await anchoring.getBatch(1n))!.root);
    expect(proof.anchoring.state).toBe("observed");
    expect(proof.anchoring.transactionHash).toMatch(/^0x[0-9a-f]{64}$/);
    // The values a reader reads, as the leaf states them, and what no check covers.
    expect(report.facts).toEqual(
      expect.arrayContaining([
        { name: "amount", value: `${record.event.amount} ${record.event.currency} (minor units)` },
        { name: "seller", value: record.event.sellerId },
        { name: "gateway event", value: `${record.event.gateway} ${record.event.gatewayEventId} (capture)` },
      ]),
    );
    expect(report.unverified.map((u) => u.field)).toEqual(
      expect.arrayContaining(["journalTransaction.status", "journalTransaction.description", "journalTransaction.referencesId", "journalTransaction.previousHash", "journalTransaction.postings[].id", "leaf.position", "anchoring.state"]),
    );

    // A non-USD capture carries its FX evidence.
    const fxLeaf = [...first, ...second].map(async (x) => (await anchoring.proofOfTransaction(x)).leaf.fields);
    const withFx = (await Promise.all(fxLeaf)).find((f) => (f["fxPairs"] as string[]).length > 0);
    expect(withFx?.["fxRates"]).toEqual(expect.arrayContaining([expect.stringMatching(/^\d+(\.\d+)?$/)]));
  });

  it("reports finality once the anchoring block is deep enough", async () => {
    await mineEmpty(sys, 12);
    await h.indexer.poll();
    await anchoring.tick();
    const proof = await anchoring.proofOfTransaction(first[0]!);
    expect(proof.anchoring.state).toBe("final");
    const report = await verifyProof(proof, h.provider, { ...pin, minConfirmations: 12 });
    expect(report.ok).toBe(true);
    expect(report.final).toBe(true);
    expect(report.verdict).toBe("verified");
    expect(report.confirmations).toBeGreaterThanOrEqual(12);
    // Asking for more confirmations than exist fails that check alone.
    const strict = await verifyProof(proof, h.provider, { ...pin, minConfirmations: 10_000 });
    expect(strict.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["confirmations"]);
  });

  it("refuses a proof anchored in another SettlementAnchor unless the verifier pinned that one: the proof names its contract itself", async () => {
    // An outsider deploys the repo's own contracts (nothing but another address) and anchors the
    // same journal in them: every check that reads "the contract the proof names" passes.
    const impostor = await deploySystem(sys.others[0]!, { network: sys.connection.networkName, deploymentsDir: null });
    const impostorAnchor = impostor.record.contracts.SettlementAnchor.address;
    expect(impostorAnchor).not.toBe(pin.anchor);
    const elsewhere = h.service({ anchor: impostorAnchor, batchMaxCount: 6 });
    await elsewhere.tick();
    const forged = await elsewhere.proofOfTransaction(first[0]!);
    expect(forged.anchor).toBe(impostorAnchor);

    const unpinned = await verifyProof(forged, h.provider);
    expect(unpinned.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["trust-anchor"]);
    expect([unpinned.ok, unpinned.verdict]).toEqual([false, "unpinned"]);
    expect(unpinned.checks.find((c) => c.name === "trust-anchor")!.detail).toContain(`not pinned: ${impostorAnchor} is only the address the proof names itself`);

    const wrongPin = await verifyProof(forged, h.provider, pin);
    expect(wrongPin.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["trust-anchor"]);
    expect(wrongPin.verdict).toBe("failed");
    expect(wrongPin.checks.find((c) => c.name === "trust-anchor")!.detail).toBe(`the proof names ${impostorAnchor}, the pinned SettlementAnchor is ${pin.anchor}`);

    // Pinned to that contract (in any letter case), it verifies: the pin is the whole trust step.
    const pinned = await verifyProof(forged, h.provider, { anchor: impostorAnchor.toLowerCase(), finalityDepth: 1 });
    expect([pinned.ok, pinned.verdict]).toEqual([true, "verified"]);
    // The genuine proof without a pin is not VERIFIED either.
    const genuine = await verifyProof(await anchoring.proofOfTransaction(first[0]!), h.provider);
    expect(genuine.verdict).toBe("unpinned");
  });

  describe("when the proof is tampered with", () => {
    let good: AnchorProof;
    const failed = async (p: unknown) => (await verifyProof(p, h.provider, pin)).checks.filter((c) => !c.ok).map((c) => c.name);
    beforeAll(async () => {
      good = copy(await anchoring.proofOfTransaction(second[4]!));
    });

    it("one changed amount in the leaf (gross + 1 minor unit): leaf hash, the journal's own gross and the Merkle path fail", async () => {
      const p = copy(good);
      const i = Object.keys(p.leaf.fields).indexOf("grossAmount");
      p.leaf.values[i] = (BigInt(p.leaf.values[i] as string) + 1n).toString();
      expect(await failed(p)).toEqual(["leaf-hash", "leaf-content", "merkle-proof"]);
      // ... and with the hash recomputed to match, the path to the root still fails (on chain too).
      p.leaf.hash = standardLeafHash(p.leaf.encoding, leafValues(leafFromJson(p.leaf.values)));
      expect(await failed(p)).toEqual(["leaf-content", "merkle-proof", "verify-settlement"]);
    });

    it("a gross changed in both the leaf and the journal metadata shown: the metadata digest gives it away", async () => {
      const p = copy(good);
      const i = Object.keys(p.leaf.fields).indexOf("grossAmount");
      const more = (BigInt(p.leaf.values[i] as string) + 1n).toString();
      p.leaf.values[i] = more;
      p.leaf.fields["grossAmount"] = more;
      p.journalTransaction!.metadata["grossAmount"] = more;
      p.leaf.hash = standardLeafHash(p.leaf.encoding, leafValues(leafFromJson(p.leaf.values)));
      const checks = (await verifyProof(p, h.provider, pin)).checks;
      expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["leaf-content", "merkle-proof", "verify-settlement"]);
      expect(checks.find((c) => c.name === "leaf-content")!.detail).toMatch(/metadataDigest/);
    });

    it("one changed amount in the journal transaction shown: the leaf no longer matches it", async () => {
      const p = copy(good);
      p.journalTransaction!.postings[0]!.amount = (BigInt(p.journalTransaction!.postings[0]!.amount) + 1n).toString();
      expect(await failed(p)).toEqual(["leaf-content"]);
    });

    it("the named view of the leaf (what a person reads) edited: refused, naming the field", async () => {
      for (const [name, value] of [["grossAmount", "999999"], ["sellerId", "S-EVIL"], ["gatewayEventId", "evt-forged"]] as const) {
        const p = copy(good);
        p.leaf.fields[name] = value;
        const checks = (await verifyProof(p, h.provider, pin)).checks;
        expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["leaf-content"]);
        expect(checks.find((c) => c.name === "leaf-content")!.detail).toBe(`leaf.fields.${name} is "${value}", the leaf's value is ${JSON.stringify(good.leaf.fields[name])}`);
      }
      const extra = copy(good);
      extra.leaf.fields["refundedTo"] = "attacker";
      expect(await failed(extra)).toEqual(["leaf-content"]);
      const format = copy(good);
      format.leaf.format = "entrepot.anchor.journal.v9";
      expect(await failed(format)).toEqual(["leaf-content"]);
    });

    it("where the proof says it was anchored: a position outside the batch, another block number or hash, a state that is none", async () => {
      expect(good.anchoring.blockNumber).not.toBeNull();
      const position = copy(good);
      position.leaf.position = 999;
      expect(await failed(position)).toEqual(["batch-digest"]);
      const block = copy(good);
      block.anchoring.blockNumber = (BigInt(good.anchoring.blockNumber!) + 1n).toString();
      expect(await failed(block)).toEqual(["batch-event"]);
      const hash = copy(good);
      hash.anchoring.blockHash = keccak256(toUtf8Bytes("another block"));
      expect(await failed(hash)).toEqual(["batch-event"]);
      const state = copy(good);
      (state.anchoring as { state: string }).state = "notarised";
      expect(await failed(state)).toEqual(["proof-format"]);
    });

    it("fields no check covers are edited and still pass, and the report lists each of them", async () => {
      const p = copy(good);
      p.journalTransaction!.status = "voided";
      p.journalTransaction!.description = "refund to attacker";
      const report = await verifyProof(p, h.provider, pin);
      expect(report.ok).toBe(true);
      expect(report.unverified.map((u) => u.field)).toEqual(expect.arrayContaining(["journalTransaction.status", "journalTransaction.description"]));
    });

    it("a wrong sibling: the Merkle path fails, off chain and on chain", async () => {
      const p = copy(good);
      p.proof[0] = keccak256(toUtf8Bytes("not a sibling"));
      expect(await failed(p)).toEqual(["merkle-proof", "verify-settlement"]);
    });

    it("the wrong batch: binding, root, event, digest and predecessor all fail", async () => {
      const p = copy(good);
      p.batchId = "1";
      expect(await failed(p)).toEqual(["leaf-binding", "batch-digest", "root-on-chain", "verify-settlement", "batch-event", "previous-root"]);
    });

    it("a rewritten predecessor: the digest, the event and the chain's previous root disagree", async () => {
      const p = copy(good);
      p.batch.previousRoot = keccak256(toUtf8Bytes("rewritten history"));
      expect(await failed(p)).toEqual(["batch-digest", "batch-event", "previous-root"]);
    });

    it("another chain or contract: named as such", async () => {
      const p = copy(good);
      p.chainId = "1";
      expect(await failed(p)).toEqual(["leaf-binding", "batch-digest", "chain-id", "batch-event"]);
      const q = copy(good);
      q.anchor = sys.result.record.contracts.SettlementVault.address;
      expect(await failed(q)).toEqual(expect.arrayContaining(["leaf-binding", "root-on-chain"]));
    });

    it("a malformed file fails on its format alone", async () => {
      expect(await failed({ ...good, format: "something-else" })).toEqual(["proof-format"]);
      expect(await failed({ ...good, root: "0x12" })).toEqual(["proof-format"]);
      expect(await failed(null)).toEqual(["proof-format"]);
    });
  });

  it("answers ENT_ANCHOR_NOT_ANCHORED while a settlement waits for its batch, ENT_ANCHOR_NOT_FOUND for no transaction", async () => {
    const [waiting] = await h.settle(1);
    const e = await appError(anchoring.proofOfTransaction(waiting!));
    expect([e.code, e.status, e.details?.["state"]]).toEqual(["ENT_ANCHOR_NOT_ANCHORED", 409, "unanchored"]);
    expect((await appError(anchoring.proofOfTransaction("99999"))).code).toBe("ENT_ANCHOR_NOT_FOUND");
    expect((await appError(anchoring.proofOfTransaction("abc"))).code).toBe("ENT_ANCHOR_NOT_FOUND");
    expect((await anchoring.statesOf([waiting!])).get(waiting!)).toEqual({ state: "unanchored", batchId: null });
  });
});
