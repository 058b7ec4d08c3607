/**
 * `scripts/verify.ts` (npm run verify) as an auditor runs it: a separate process with only a proof
 * file and an RPC URL, against a real `hardhat node` child on which the service anchored. The
 * database is only where the proof comes from (PGlite; the command never touches one).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider, keccak256, toUtf8Bytes, Wallet } from "ethers";
import { withoutBatchTotals, type AnchorProof } from "../../service/anchoring/index.js";
import { PROJECT_ROOT } from "../../service/chain/artifacts.js";
import { deploySystem } from "../../service/chain/deploy.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { freePort, startLocalNode, type LocalNode } from "../../service/chain/local-node.js";
import { openAnchoring, type AnchoringHarness } from "./support.js";
import { insertV1Batch } from "./v1-batch.js";

function verify(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // process.execPath is the Node 24 running vitest; tsx as a loader, exactly like `npm run verify`.
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/verify.ts", ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, out }));
  });
}

describe("npm run verify against a hardhat node", { timeout: 120_000 }, () => {
  let node: LocalNode;
  let provider: JsonRpcProvider;
  let h: AnchoringHarness;
  let dir: string;
  let proof: AnchorProof;
  let v1Proof: AnchorProof;
  const file = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    [node, dir] = await Promise.all([startLocalNode(), mkdtemp(path.join(tmpdir(), "entrepot-verify-"))]);
    // No response cache: the sender reads nonces right after its own transactions are mined.
    provider = new JsonRpcProvider(node.url, undefined, { batchMaxCount: 1, cacheTimeout: -1 });
    const chainId = (await provider.getNetwork()).chainId;
    const { record } = await deploySystem(new Wallet(devPrivateKey(0, chainId), provider), { network: "localhost", deploymentsDir: null });
    h = await openAnchoring("pglite", { provider, chainId, record });
    // Batch 1 as anchoring built batches before the salted totals digest (v1), batch 2 as today (v2).
    const old = await h.settle(3);
    await insertV1Batch(h.db.sql, { chainId, anchor: record.contracts.SettlementAnchor.address, batchId: 1n, previousRoot: `0x${"0".repeat(64)}`, txs: await h.ledger.listJournal(0n, 3) });
    const anchoring = h.service({ batchMaxCount: 3 });
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

  it("prints every check and exits 0 for a genuine proof", async () => {
    const r = await verify([file("proof.json"), "--rpc", node.url]);
    expect(r.code, r.out).toBe(0);
    for (const name of ["leaf-hash", "merkle-proof", "root-on-chain", "verify-settlement", "batch-event", "previous-root", "confirmations"]) {
      expect(r.out).toMatch(new RegExp(`PASS\\s+${name}`));
    }
    expect(r.out).toContain("VERIFIED: all 13 checks passed");
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
      const r = await verify([file(name), "--rpc", node.url]);
      expect(r.code, `${name}: ${r.out}`).toBe(0);
      expect(r.out).toMatch(/PASS\s+batch-digest/);
      expect(r.out).toContain(detail);
      expect(r.out).toContain("VERIFIED: all 13 checks passed");
    }
    // The genuine finance proof of batch 2 recomputed the salted digest (the first test ran it).
    // Another salt fails it.
    const forged = JSON.parse(JSON.stringify(proof)) as AnchorProof;
    forged.batch.totalsSalt = keccak256(toUtf8Bytes("guessed salt"));
    await writeFile(file("forged-salt.json"), JSON.stringify(forged));
    const r = await verify([file("forged-salt.json"), "--rpc", node.url]);
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
    const r = await verify([file("tampered.json"), "--rpc", node.url, "--json"]);
    expect(r.code, r.out).toBe(1);
    const report = JSON.parse(r.out) as { ok: boolean; checks: Array<{ name: string; ok: boolean }> };
    expect(report.ok).toBe(false);
    expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["leaf-hash", "leaf-content", "merkle-proof", "verify-settlement"]);
  });

  it("names the node as the likely cause when it is another chain than the proof's", async () => {
    const other = JSON.parse(JSON.stringify(proof)) as AnchorProof & { chainId: string };
    other.chainId = "1";
    await writeFile(file("other-chain.json"), JSON.stringify(other));
    const r = await verify([file("other-chain.json"), "--rpc", node.url]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(/FAIL\s+chain-id\s+node is on chain 31337, the proof is for chain 1/);
    expect(r.out).toContain(`hint: the node at ${node.url} is not the chain this proof was anchored on`);
    // The genuine proof on its own node: no hint.
    const genuine = await verify([file("proof.json"), "--rpc", node.url]);
    expect(genuine.out).not.toContain("hint:");
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
