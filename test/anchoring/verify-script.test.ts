/**
 * `scripts/verify.ts` (npm run verify) as an auditor runs it: a separate process with only a proof
 * file and an RPC URL, against a real `hardhat node` child on which the service anchored. The
 * database is only where the proof comes from (PGlite; the command never touches one).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider, keccak256, toUtf8Bytes, Wallet } from "ethers";
import { PERIOD_CLOSE_DOCUMENT, withoutBatchTotals, type AnchorProof, type AnchorService } from "../../service/anchoring/index.js";
import { PeriodClosing } from "../../service/closing.js";
import { deploySystem } from "../../service/chain/deploy.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { freePort, startLocalNode, type LocalNode } from "../../service/chain/local-node.js";
import { openAnchoring, type AnchoringHarness } from "./support.js";
import { insertV1Batch } from "./v1-batch.js";
import { runVerify as verify } from "./verify-run.js";


describe("npm run verify against a hardhat node", { timeout: 120_000 }, () => {
  let node: LocalNode;
  let provider: JsonRpcProvider;
  let h: AnchoringHarness;
  let dir: string;
  let proof: AnchorProof;
  let v1Proof: AnchorProof;
  let anchoring: AnchorService;
  /** The SettlementAnchor the operator deployed, as an auditor pins it. */
  let anchor: string;
  let chainId: bigint;
  const file = (name: string) => path.join(dir, name);
  /** Final at any depth: the node mines a block per transaction, so "final at 12" depends on what ran before. */
  const FINAL = ["--finality-depth", "1"];

  beforeAll(async () => {
    [node, dir] = await Promise.all([startLocalNode(), mkdtemp(path.join(tmpdir(), "entrepot-verify-"))]);
    // No response cache: the sender reads nonces right after its own transactions are mined.
    provider = new JsonRpcProvider(node.url, undefined, { batchMaxCount: 1, cacheTimeout: -1 });
    chainId = (await provider.getNetwork()).chainId;
    const { record } = await deploySystem(new Wallet(devPrivateKey(0, chainId), provider), { network: "localhost", deploymentsDir: null });
    anchor = record.contracts.SettlementAnchor.address;
    h = await openAnchoring("pglite", { provider, chainId, record });
    // Batch 1 as anchoring built batches before the salted totals digest (v1), batch 2 as today (v2).
    const old = await h.settle(3);
    await insertV1Batch(h.db.sql, { chainId, anchor: record.contracts.SettlementAnchor.address, batchId: 1n, previousRoot: `0x${"0".repeat(64)}`, txs: await h.ledger.listJournal(0n, 3) });
    anchoring = h.service({ batchMaxCount: 3 });
    await anchoring.tick();
    const ids = await h.settle(3);
    await anchoring.tick();
    v1Proof = await anchoring.proofOfTransaction(old[0]!);
    proof = await anchoring.proofOfTransaction(ids[1]!);
    await writeFile(file("proof.json"), JSON.stringify(proof, null, 2));
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    provider?.destroy();
    await node?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("prints every check, what the leaf states and what no check covers, and exits 0 for a genuine, final proof on the pinned contract", async () => {
    const r = await verify([file("proof.json"), "--anchor", anchor, "--rpc", node.url, ...FINAL]);
    expect(r.code, r.out).toBe(0);
    for (const name of ["leaf-hash", "merkle-proof", "trust-anchor", "root-on-chain", "verify-settlement", "batch-event", "previous-root", "confirmations"]) {
      expect(r.out).toMatch(new RegExp(`PASS\\s+${name}`));
    }
    expect(r.out).toContain("VERIFIED: all 14 checks passed");
    const fields = proof.leaf.fields as Record<string, string>;
    expect(r.out).toMatch(new RegExp(`\\n  amount +${fields["grossAmount"]} ${fields["grossCurrency"]} \\(minor units\\)\\n`));
    expect(r.out).toMatch(new RegExp(`\\n  seller +${fields["sellerId"]}\\n`));
    expect(r.out).toMatch(new RegExp(`\\n  gateway event +${fields["gateway"]} ${fields["gatewayEventId"]} \\(capture\\)\\n`));
    expect(r.out).toContain("In the proof but not covered by these checks");
    expect(r.out).toContain("  journalTransaction.status: not in the leaf");
    // A finance proof of a v2 batch: the per-currency totals and their salt give the digest again.
    expect(r.out).toContain("per-currency totals recomputed with their salt");
  });

  it("verifies both batch formats, with the batch's totals (finance) and without them (a gateway's proof)", async () => {
    expect([v1Proof.batch.format, proof.batch.format]).toEqual(["entrepot.anchor.batch.v1", "entrepot.anchor.batch.v2"]);
    const cases: Array<[string, AnchorProof, string]> = [
      ["v1.json", v1Proof, "entrepot.anchor.batch.v1, journal 1..3, 3 leaves"],
      ["v1-gateway.json", withoutBatchTotals(v1Proof), "per-currency totals withheld, their digest as given"],
      ["v2-gateway.json", withoutBatchTotals(proof), "per-currency totals withheld with their salt, their digest as given"],
    ];
    for (const [name, p, detail] of cases) {
      await writeFile(file(name), JSON.stringify(p));
      const r = await verify([file(name), "--anchor", anchor, "--rpc", node.url, ...FINAL]);
      expect(r.code, `${name}: ${r.out}`).toBe(0);
      expect(r.out).toMatch(/PASS\s+batch-digest/);
      expect(r.out).toContain(detail);
      expect(r.out).toContain("VERIFIED: all 14 checks passed");
    }
    // The genuine finance proof of batch 2 recomputed the salted digest (the first test ran it).
    // Another salt fails it.
    const forged = JSON.parse(JSON.stringify(proof)) as AnchorProof;
    forged.batch.totalsSalt = keccak256(toUtf8Bytes("guessed salt"));
    await writeFile(file("forged-salt.json"), JSON.stringify(forged));
    const r = await verify([file("forged-salt.json"), "--anchor", anchor, "--rpc", node.url]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/FAIL\s+batch-digest\s+currency totals digest is/);
    expect(r.out).toContain("NOT VERIFIED: 1 check(s) failed: batch-digest");
  });

  it("exits 1 naming the failed checks for a tampered proof (one amount changed) and a wrong sibling", async () => {
    const tampered = JSON.parse(JSON.stringify(proof)) as AnchorProof;
    const i = Object.keys(tampered.leaf.fields).indexOf("grossAmount");
    tampered.leaf.values[i] = (BigInt(tampered.leaf.values[i] as string) + 1n).toString();
    tampered.proof[0] = keccak256(toUtf8Bytes("forged sibling"));
    await writeFile(file("tampered.json"), JSON.stringify(tampered));
    const r = await verify([file("tampered.json"), "--anchor", anchor, "--rpc", node.url, "--json"]);
    expect(r.code, r.out).toBe(1);
    const report = JSON.parse(r.out) as { ok: boolean; checks: Array<{ name: string; ok: boolean }> };
    expect(report.ok).toBe(false);
    expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["leaf-hash", "leaf-content", "merkle-proof", "verify-settlement"]);
  });

  it("names the node as the likely cause when it is another chain than the proof's", async () => {
    const other = JSON.parse(JSON.stringify(proof)) as AnchorProof & { chainId: string };
    other.chainId = "1";
    await writeFile(file("other-chain.json"), JSON.stringify(other));
    const r = await verify([file("other-chain.json"), "--anchor", anchor, "--rpc", node.url]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/FAIL\s+chain-id\s+node is on chain 31337, the proof is for chain 1/);
    expect(r.out).toContain(`hint: the node at ${node.url} is not the chain this proof was anchored on`);
    // The genuine proof on its own node: no hint.
    const genuine = await verify([file("proof.json"), "--anchor", anchor, "--rpc", node.url]);
    expect(genuine.out).not.toContain("hint:");
  });

  it("exits 3, VERIFIED, NOT FINAL, while the anchoring block is not final at the depth asked for", async () => {
    const r = await verify([file("proof.json"), "--anchor", anchor, "--rpc", node.url, "--finality-depth", "100000"]);
    expect(r.code, r.out).toBe(3);
    expect(r.out).toMatch(/PASS\s+confirmations\s+\d+ confirmations? \(required 1\); not final yet \(local chain: final at depth 100000\)/);
    expect(r.out).toMatch(/\nVERIFIED, NOT FINAL: all 14 checks passed, but the anchoring block is not final yet/);
    // The service's own setting, when the shell holds it, is the default depth.
    const service = await verify([file("proof.json"), "--anchor", anchor, "--rpc", node.url], { CHAIN_CONFIRMATIONS: "100000" });
    expect(service.code, service.out).toBe(3);
    expect((await verify([file("proof.json"), "--anchor", anchor, "--rpc", node.url], { CHAIN_CONFIRMATIONS: "1" })).code).toBe(0);
  });

  it("refuses a proof on a contract nobody pinned (exit 4) or on another contract than the pinned one (exit 1), and verifies it pinned to its own", async () => {
    // An outsider deploys the repo's own contracts and anchors the same journal in them: every check
    // against "the contract the proof names" passes there.
    const outsider = new Wallet(devPrivateKey(5, chainId), provider);
    const impostor = (await deploySystem(outsider, { network: "localhost", deploymentsDir: null })).record.contracts.SettlementAnchor.address;
    const elsewhere = h.service({ anchor: impostor, batchMaxCount: 3 });
    await elsewhere.tick();
    await writeFile(file("impostor.json"), JSON.stringify(await elsewhere.proofOfTransaction(proof.journalTransaction!.id)));

    const unpinned = await verify([file("impostor.json"), "--rpc", node.url, ...FINAL]);
    expect(unpinned.code, unpinned.out).toBe(4);
    expect(unpinned.out).toMatch(new RegExp(`FAIL\\s+trust-anchor\\s+not pinned: ${impostor} is only the address the proof names itself`));
    expect(unpinned.out).toContain(`NOT VERIFIED: contract not pinned: the other 13 checks passed, but only against ${impostor}, the address the proof names itself. Pin the contract: --anchor <address> (or ENTREPOT_ANCHOR=<address>)`);
    expect(unpinned.out).not.toMatch(/^VERIFIED/m);

    const wrong = await verify([file("impostor.json"), "--anchor", anchor, "--rpc", node.url, ...FINAL]);
    expect(wrong.code, wrong.out).toBe(1);
    expect(wrong.out).toMatch(new RegExp(`FAIL\\s+trust-anchor\\s+the proof names ${impostor}, the pinned SettlementAnchor is ${anchor}`));
    expect(wrong.out).toContain("NOT VERIFIED: 1 check(s) failed: trust-anchor");

    // Pinned to the impostor (lower case, from the environment), it verifies: the pin is the trust step.
    const own = await verify([file("impostor.json"), "--rpc", node.url, ...FINAL], { ENTREPOT_ANCHOR: impostor.toLowerCase() });
    expect(own.code, own.out).toBe(0);
    // The genuine proof, unpinned, is not VERIFIED either; a malformed pin is a usage error.
    expect((await verify([file("proof.json"), "--rpc", node.url, ...FINAL])).code).toBe(4);
    expect((await verify([file("proof.json"), "--anchor", "0x1234", "--rpc", node.url])).code).toBe(2);
  });

  it("refuses a proof whose named leaf fields were edited (exit 1), naming the field", async () => {
    const edited = JSON.parse(JSON.stringify(proof)) as AnchorProof;
    edited.leaf.fields["sellerId"] = "S-EVIL";
    await writeFile(file("edited-fields.json"), JSON.stringify(edited));
    const r = await verify([file("edited-fields.json"), "--anchor", anchor, "--rpc", node.url, ...FINAL]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(new RegExp(`FAIL\\s+leaf-content\\s+leaf.fields.sellerId is "S-EVIL", the leaf's value is "${(proof.leaf.fields as Record<string, string>)["sellerId"]}"`));
    expect(r.out).toContain("What the leaf states (NOT established: a check failed):");
  });

  it("--document checks a period close's report against the anchored digest", async () => {
    const closing = new PeriodClosing(h.ledger, anchoring, null, () => h.clock.now);
    const { close } = await closing.close({ before: new Date("2025-01-01T00:00:00Z") });
    h.clock.advance(60_000);
    await anchoring.tick();
    const answer = await closing.report(close.id);
    await writeFile(file("close-proof.json"), JSON.stringify(await closing.proof(close.id)));
    // The API's answer as saved ({report, digest}) and the report alone, pretty-printed: the same digest.
    await writeFile(file("report.json"), JSON.stringify(answer));
    await writeFile(file("report-alone.json"), JSON.stringify(answer.report, null, 2));
    for (const name of ["report.json", "report-alone.json"]) {
      const r = await verify([file("close-proof.json"), "--anchor", anchor, "--document", file(name), "--rpc", node.url, ...FINAL]);
      expect(r.code, `${name}: ${r.out}`).toBe(0);
      expect(r.out).toMatch(new RegExp(`PASS\\s+document\\s+the report's sha256 \\(JSON.stringify of it\\) is ${answer.digest}, the anchored digest of ${PERIOD_CLOSE_DOCUMENT} ${close.id}`));
    }
    // One figure changed in the report: refused.
    const changed = JSON.parse(JSON.stringify(answer.report)) as { trialBalance: { accounts: Array<{ closing: string }> } };
    changed.trialBalance.accounts[0]!.closing = (BigInt(changed.trialBalance.accounts[0]!.closing) + 1n).toString();
    await writeFile(file("report-changed.json"), JSON.stringify(changed));
    const r = await verify([file("close-proof.json"), "--anchor", anchor, "--document", file("report-changed.json"), "--rpc", node.url, ...FINAL]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/FAIL\s+document\s+the report's sha256/);
    expect(r.out).toContain("NOT VERIFIED: 1 check(s) failed: document");
    // A settlement's proof has no document to check.
    const settlement = await verify([file("proof.json"), "--anchor", anchor, "--document", file("report.json"), "--rpc", node.url, ...FINAL]);
    expect(settlement.code).toBe(1);
    expect(settlement.out).toMatch(/FAIL\s+document\s+this proof is of a journal transaction, not of a document/);
  });

  it("exits 2 on usage errors and 1 when no node answers", async () => {
    const none = await verify([]);
    expect(none.code).toBe(2);
    expect(none.out).toContain("usage: npm run verify");
    await writeFile(file("not-json.json"), "{ nope");
    const notJson = await verify([file("not-json.json")]);
    expect([notJson.code, notJson.out.includes("is not JSON")]).toEqual([2, true]);
    // The API's answer saved in place of a proof (asked for before its batch was anchored).
    const problem = { type: "/problems/ENT_ANCHOR_NOT_ANCHORED", title: "Not anchored yet", status: 409, detail: "journal transaction 59 is not in a batch yet", code: "ENT_ANCHOR_NOT_ANCHORED" };
    await writeFile(file("problem.json"), JSON.stringify(problem));
    const early = await verify([file("problem.json")]);
    expect(early.code, early.out).toBe(2);
    expect(early.out).toContain("is not a proof but the API's answer: 409 ENT_ANCHOR_NOT_ANCHORED: journal transaction 59 is not in a batch yet");
    expect(early.out).not.toContain("usage:");
    // What a failed `curl -sf ... > proof.json` leaves behind.
    await writeFile(file("empty.json"), "");
    const empty = await verify([file("empty.json")]);
    expect(empty.code, empty.out).toBe(2);
    expect(empty.out).toContain("is empty: the proof was not saved");
    expect(empty.out).not.toContain("usage:");
    expect((await verify([file("proof.json"), "--rpc", "ftp://x"])).code).toBe(2);
    const port = await freePort();
    const down = await verify([file("proof.json"), "--rpc", `http://127.0.0.1:${port}`]);
    expect(down.code, down.out).toBe(1);
    expect(down.out).toContain("cannot reach a JSON-RPC node");
  });
});
