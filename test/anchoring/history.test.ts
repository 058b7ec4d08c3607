/**
 * `npm run verify -- --history` as an auditor runs it: a separate process with the API's URL, a
 * finance key, an RPC URL and the pinned SettlementAnchor, against a real `hardhat node` child on
 * which the real AnchorService anchored a journal of settlements, plain transactions and a document,
 * served by the real app listening on a port. Then the database is tampered with as an operator with
 * its keys could (the immutability triggers switched off first), and each tampering fails its own
 * check. The last one is a transaction left out of every batch: every inclusion proof still verifies.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider, Wallet } from "ethers";
import { AnchorService, verifyProof, type AnchorProof } from "../../service/anchoring/index.js";
import { ISettlementAnchor__factory } from "../../service/chain/contracts.js";
import { apiHistorySource, auditHistory } from "../../service/anchoring/audit.js";
import { deploySystem } from "../../service/chain/deploy.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { startLocalNode, type LocalNode } from "../../service/chain/local-node.js";
import { TxSender } from "../../service/chain/sender.js";
import { capture, openHarness, publishDayRates, type Harness } from "../http/harness.js";
import { deployedSystem, type System } from "../chain/fixture.js";
import { insertV1Batch } from "./v1-batch.js";
import { runVerify as verify } from "./verify-run.js";


/** The lines of the checks that failed, by name. */
function failedChecks(out: string): string[] {
  return [...out.matchAll(/^FAIL {2}(\S+)/gm)].map((m) => m[1]!);
}

describe("npm run verify -- --history against a hardhat node and the API", { timeout: 180_000 }, () => {
  let node: LocalNode;
  let provider: JsonRpcProvider;
  let h: Harness;
  let anchoring: AnchorService;
  let api: string;
  let anchor: string;
  let key: string;
  let anchorer: Wallet;
  /** Final at any depth: the node mines a block per transaction. */
  const FINAL = ["--finality-depth", "1"];
  const audit = (extra: string[] = []) => verify(["--history", "--api", api, "--rpc", node.url, "--anchor", anchor, ...FINAL, ...extra], { ENTREPOT_API_KEY: key });
  const sql = <T extends unknown[] = unknown[]>(text: string, ...params: unknown[]) => h.db.sql.q<T>(text, ...params);

  /** Runs `fn` with the immutability triggers of `tables` off, as an operator with the database's keys can. */
  async function withoutGuards<T>(fn: () => Promise<T>): Promise<T> {
    const guards = [
      ["anchor_batches", "anchor_batches_guard"],
      ["anchor_leaves", "anchor_leaves_guard"],
      ["ledger_postings", "ledger_postings_append_only"],
    ];
    for (const [t, g] of guards) await sql(`ALTER TABLE "${t}" DISABLE TRIGGER "${g}"`);
    try {
      return await fn();
    } finally {
      for (const [t, g] of guards) await sql(`ALTER TABLE "${t}" ENABLE TRIGGER "${g}"`);
    }
  }

  let n = 0;
  async function settle(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const k = n++;
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: `evt-history-${k}`, settlementId: `ORD-HISTORY-${k}`, amount: String(10_000 + k) }));
      expect(r.statusCode, r.body).toBe(201);
    }
  }

  /** Ticks until nothing more is built and every submitted batch is seen mined. */
  async function anchorAll(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const r = await anchoring.tick();
      if (r.built.length === 0 && r.updated.length === 0) break;
    }
  }

  beforeAll(async () => {
    [node, h] = await Promise.all([startLocalNode(), openHarness({ kind: "pglite" })]);
    provider = new JsonRpcProvider(node.url, undefined, { batchMaxCount: 1, cacheTimeout: -1 });
    const chainId = (await provider.getNetwork()).chainId;
    const { record } = await deploySystem(new Wallet(devPrivateKey(0, chainId), provider), { network: "localhost", deploymentsDir: null });
    anchor = record.contracts.SettlementAnchor.address;
    await publishDayRates(h);
    anchorer = new Wallet(devPrivateKey(1, chainId), provider);
    anchoring = new AnchorService({
      sql: h.db.sql,
      ledger: h.services.ledger,
      provider,
      chainId,
      anchor,
      sender: new TxSender({ sql: h.db.sql, provider, chainId, signers: [anchorer], record }),
      anchorer: anchorer.address,
      batchMaxCount: 4,
    });
    h.services.anchoring = anchoring;
    api = await h.app.listen({ port: 0, host: "127.0.0.1" });
    key = h.keys.finance.key;
    // 10 settlements and a document: batches 1 and 2 (4 transactions each), batch 3 (2 and the
    // document's leaf, full at 4 with the next two settlements); the last settlement waits.
    await settle(8);
    await anchorAll();
    await anchoring.enqueueDocument({ kind: "reconciliation", id: "history-doc-1", digest: `0x${"ab".repeat(32)}` });
    await settle(3);
    await anchorAll();
  }, 180_000);
  afterAll(async () => {
    await h?.close();
    provider?.destroy();
    await node?.stop();
  });

  it("GET /v1/anchoring/batches/:id/leaves pages a batch's leaves with their journal transactions", async () => {
    const first = await h.get("/v1/anchoring/batches/3/leaves?limit=2");
    expect(first.statusCode, first.body).toBe(200);
    const page = JSON.parse(first.body) as { batchId: string; count: number; items: Array<{ position: number; type: string; journalTransaction: { sequence: string } | null }>; nextAfter: number | null };
    expect(page).toMatchObject({ batchId: "3", count: 4, nextAfter: 1 });
    expect(page.items.map((l) => [l.position, l.type, l.journalTransaction?.sequence])).toEqual([
      [0, "journal", "9"],
      [1, "journal", "10"],
    ]);
    const rest = JSON.parse((await h.get("/v1/anchoring/batches/3/leaves?after=1")).body) as typeof page;
    expect(rest.items.map((l) => [l.position, l.type, l.journalTransaction])).toEqual([
      [2, "journal", expect.objectContaining({ sequence: "11" })],
      [3, "document", null],
    ]);
    expect(rest.nextAfter).toBeNull();
    const unknown = await h.get("/v1/anchoring/batches/99/leaves");
    expect([unknown.statusCode, (JSON.parse(unknown.body) as { code: string }).code]).toEqual([404, "ENT_ANCHOR_NOT_FOUND"]);
    const bad = await h.get("/v1/anchoring/batches/1/leaves?limit=0");
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain("limit");
    // A gateway key reads no batch's leaves (other gateways' transactions).
    expect((await h.get("/v1/anchoring/batches/1/leaves", h.keys.gateway)).statusCode).toBe(403);
  });

  it("VERIFIED for an honest history: every check passes, the unanchored tail reported, exit 0", async () => {
    const r = await audit();
    expect(r.out).toMatch(/^PASS {2}chain-batches +3 batches on chain \(ids 1\.\.3/m);
    expect(r.out).toMatch(/^PASS {2}journal-ranges +journal 1\.\.11 anchored without a gap/m);
    expect(r.out).toMatch(/^PASS {2}leaf-content +11 journal transactions recomputed into their leaves .* \(1 document leaves/m);
    expect(r.out).toMatch(/^PASS {2}unanchored-tail +journal head 11, anchored through 11: 0 transaction\(s\) not anchored yet/m);
    expect(failedChecks(r.out)).toEqual([]);
    expect(r.out).toContain("VERIFIED: all 15 checks passed: journal 1..11 anchored in 3 batches");
    expect(r.code, r.out).toBe(0);

    // A page of two leaves at a time gives the same answer (the route's cursor, across pages).
    const report = await auditHistory(apiHistorySource(api, key, 2), provider, { anchor, finalityDepth: 1 });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.verdict).toBe("verified");
  });

  it("reports a transaction booked since as the unanchored tail, without failing", async () => {
    await settle(1);
    const r = await audit();
    expect(r.out).toMatch(/^PASS {2}unanchored-tail +journal head 12, anchored through 11: 1 transaction\(s\) not anchored yet/m);
    expect(r.code, r.out).toBe(0);
  });

  it("exit 4 without a pinned contract, exit 2 without a key", async () => {
    const unpinned = await verify(["--history", "--api", api, "--rpc", node.url, ...FINAL], { ENTREPOT_API_KEY: key });
    expect(failedChecks(unpinned.out)).toEqual(["trust-anchor"]);
    expect(unpinned.out).toContain("NOT VERIFIED: contract not pinned");
    expect(unpinned.code).toBe(4);
    const keyless = await verify(["--history", "--api", api, "--rpc", node.url, "--anchor", anchor]);
    expect(keyless.out).toContain("--history needs a finance:read API key");
    expect(keyless.code).toBe(2);
  });

  it("reaches a verdict against an API whose pages never end: NOT VERIFIED, not a loop", async () => {
    const honest = apiHistorySource(api, key);
    // Leaves: empty pages that always say more follow.
    const emptyPages = await auditHistory({ ...honest, leaves: async (id, after) => ({ count: 4, items: [], nextAfter: (after ?? 0) + 1 }) }, provider, { anchor, finalityDepth: 1 });
    expect(emptyPages.verdict).toBe("failed");
    expect(emptyPages.checks.find((c) => c.name === "leaf-hashes")?.detail).toMatch(/pages do not end/);
    // Batches: a cursor that never moves down (a server that answers every page the same).
    const liar = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(req.url?.startsWith("/v1/anchoring/batches") === true ? { items: [], nextBefore: "5" } : { items: [] }));
    });
    await new Promise<void>((resolve) => liar.listen(0, "127.0.0.1", resolve));
    try {
      const port = (liar.address() as AddressInfo).port;
      const r = await auditHistory(apiHistorySource(`http://127.0.0.1:${port}`, key), provider, { anchor, finalityDepth: 1 });
      expect(r.verdict).toBe("failed");
      expect(r.checks.find((c) => !c.ok)?.detail).toMatch(/batch pages do not end/);
    } finally {
      await new Promise<void>((resolve) => liar.close(() => resolve()));
    }
  });

  it("an edited posting amount fails leaf-content and currency-totals, naming the transaction", async () => {
    // A journal transaction's id is its sequence.
    const tx = { id: 6n };
    await withoutGuards(() => sql(`UPDATE "ledger_postings" SET "amount" = "amount" + 100 WHERE "transaction_id" = $1 AND "direction" = 'debit'`, tx.id));
    try {
      const r = await audit();
      expect(failedChecks(r.out)).toEqual(["leaf-content", "currency-totals"]);
      expect(r.out).toMatch(/^FAIL {2}leaf-content +batch 2 position 1: journal transaction \d+ \(sequence 6\) no longer matches its leaf: postingsDigest anchored/m);
      expect(r.out).toMatch(/^FAIL {2}currency-totals +batch 2: BRL anchored \d+, the journal sums \d+/m);
      expect(r.code).toBe(1);
    } finally {
      await withoutGuards(() => sql(`UPDATE "ledger_postings" SET "amount" = "amount" - 100 WHERE "transaction_id" = $1 AND "direction" = 'debit'`, tx.id));
    }
  });

  it("a deleted leaf fails leaf-hashes, roots, journal-ranges, currency-totals and journal-chain", async () => {
    const [row] = await sql<Array<Record<string, unknown>>>(`SELECT * FROM "anchor_leaves" WHERE "batch_id" = 1 AND "position" = 2`);
    await withoutGuards(() => sql(`DELETE FROM "anchor_leaves" WHERE "batch_id" = 1 AND "position" = 2`));
    try {
      const r = await audit();
      expect(failedChecks(r.out)).toEqual(["journal-ranges", "leaf-hashes", "roots", "currency-totals", "journal-chain"]);
      expect(r.out).toMatch(/^FAIL {2}journal-ranges +batch 1 position 3: sequence 4, expected 3/m);
      expect(r.out).toMatch(/^FAIL {2}roots +batch 1: 3 leaves served, the chain's count is 4/m);
      expect(r.out).toMatch(/^FAIL {2}journal-chain +sequence 4 names previous hash/m);
      expect(r.code).toBe(1);
    } finally {
      const cols = Object.keys(row!);
      await sql(`INSERT INTO "anchor_leaves" (${cols.map((c) => `"${c}"`).join(", ")}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")})`, ...cols.map((c) => (c === "leaf_values" ? JSON.stringify(row![c]) : row![c])));
    }
  });

  it("a batch's stored root rewritten fails batch-listing; its stored range rewritten fails batch-digests", async () => {
    const [b] = await sql<Array<{ root: string }>>(`SELECT "root" FROM "anchor_batches" WHERE "batch_id" = 2`);
    await withoutGuards(() => sql(`UPDATE "anchor_batches" SET "root" = $1 WHERE "batch_id" = 2`, `0x${"11".repeat(32)}`));
    try {
      const r = await audit();
      expect(failedChecks(r.out)).toEqual(["batch-listing"]);
      expect(r.out).toMatch(new RegExp(`^FAIL {2}batch-listing +batch 2: the API lists root 0x(11){32}, the chain's ${b!.root}`, "m"));
      expect(r.code).toBe(1);
    } finally {
      await withoutGuards(() => sql(`UPDATE "anchor_batches" SET "root" = $1 WHERE "batch_id" = 2`, b!.root));
    }
    // Shifted by one (the table's own check keeps range and count consistent): 6..9 instead of 5..8.
    await withoutGuards(() => sql(`UPDATE "anchor_batches" SET "first_sequence" = 6, "last_sequence" = 9 WHERE "batch_id" = 2`));
    try {
      const r = await audit();
      expect(failedChecks(r.out)).toEqual(["batch-digests"]);
      expect(r.out).toMatch(/^FAIL {2}batch-digests +batch 2: totals digest recomputed from the API's preimage \(journal 6\.\.9, previous root 0x[0-9a-f]{64}\) is 0x[0-9a-f]{64}, the chain's 0x/m);
      expect(r.code).toBe(1);
    } finally {
      await withoutGuards(() => sql(`UPDATE "anchor_batches" SET "first_sequence" = 5, "last_sequence" = 8 WHERE "batch_id" = 2`));
    }
    expect((await audit()).code).toBe(0);
  });

  it("a batch on chain the API does not list fails batch-listing", async () => {
    await withoutGuards(() => sql(`UPDATE "anchor_batches" SET "anchor_address" = '0x0000000000000000000000000000000000000001' WHERE "batch_id" = 3`));
    try {
      const r = await audit();
      expect(failedChecks(r.out)).toContain("batch-listing");
      expect(r.out).toMatch(/^FAIL {2}batch-listing +batch 3 is on chain \(block \d+\) but the API does not list it/m);
      expect(r.out).toMatch(/^FAIL {2}leaf-hashes +batch 3: the API has no leaves for it \(404\)/m);
      expect(r.code).toBe(1);
    } finally {
      await withoutGuards(() => sql(`UPDATE "anchor_batches" SET "anchor_address" = $1 WHERE "batch_id" = 3`, anchor));
    }
  });

  it("a transaction left out of every batch fails journal-ranges and journal-chain, though every inclusion proof verifies", async () => {
    // The operator skips sequence 12: batch 3 is said to end at 12 while batch 4 is built, so batch 4
    // starts at 13 and names batch 3's root; then batch 3's row is put back as it was anchored.
    await settle(4);
    await withoutGuards(() => sql(`UPDATE "anchor_batches" SET "first_sequence" = 10, "last_sequence" = 12 WHERE "batch_id" = 3`));
    await anchorAll();
    await withoutGuards(() => sql(`UPDATE "anchor_batches" SET "first_sequence" = 9, "last_sequence" = 11 WHERE "batch_id" = 3`));
    const [b4] = await sql<Array<{ first_sequence: bigint; last_sequence: bigint }>>(`SELECT "first_sequence", "last_sequence" FROM "anchor_batches" WHERE "batch_id" = 4`);
    expect([b4!.first_sequence, b4!.last_sequence]).toEqual([13n, 16n]);

    // Every proof of batch 4 passes every check on its own: the single-proof verifier cannot see the gap.
    const [first] = await sql<Array<{ subject_id: string }>>(`SELECT "subject_id" FROM "anchor_leaves" WHERE "batch_id" = 4 AND "position" = 0`);
    const proof: AnchorProof = await anchoring.proofOfTransaction(first!.subject_id);
    const single = await verifyProof(proof, provider, { anchor, finalityDepth: 1 });
    expect(single.checks.filter((c) => !c.ok)).toEqual([]);
    expect(single.verdict).toBe("verified");

    const r = await audit();
    expect(failedChecks(r.out)).toEqual(["journal-ranges", "journal-chain"]);
    expect(r.out).toMatch(/^FAIL {2}journal-ranges +batch 4 starts at sequence 13, the batches before end at 11: 1 transaction\(s\) \(12\.\.12\) in no batch/m);
    expect(r.out).toMatch(/^FAIL {2}journal-chain +sequence 13 names previous hash [0-9a-f]{64}, the anchored journal hash before it is /m);
    expect(r.out).toMatch(/^PASS {2}previous-roots/m);
    expect(r.code).toBe(1);
  });

  it("a batch anchored on chain with the anchoring key behind the service's back fails chain-batches and batch-listing", async () => {
    // Ids 5..8 skipped: nothing on chain reads or enforces the order; only the events show it.
    await (await ISettlementAnchor__factory.connect(anchor, anchorer).anchorBatch(9n, `0x${"99".repeat(32)}`, 1, `0x${"98".repeat(32)}`)).wait();
    const r = await audit();
    expect(failedChecks(r.out)).toEqual(expect.arrayContaining(["chain-batches", "batch-listing"]));
    expect(r.out).toMatch(/^FAIL {2}chain-batches +batches 5\.\.8 are missing on chain \(before batch 9\)/m);
    expect(r.out).toMatch(/^FAIL {2}batch-listing +batch 9 is on chain \(block \d+\) but the API does not list it/m);
    expect(r.code).toBe(1);
  });
});

describe("the audit of a history anchored before the salted totals digest (batch format v1)", { timeout: 120_000 }, () => {
  let h: Harness;
  let sys: System;

  beforeAll(async () => {
    [h, sys] = await Promise.all([openHarness({ kind: "pglite" }), deployedSystem()]);
    await publishDayRates(h);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await sys?.close();
  });

  it("VERIFIED across a v1 batch and the v2 batches chained to it", async () => {
    const provider = sys.connection.ethers.provider;
    const anchor = sys.result.record.contracts.SettlementAnchor.address;
    const anchorer = new Wallet(devPrivateKey(1, sys.chainId), provider);
    for (let k = 0; k < 5; k++) {
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: `evt-v1-${k}`, settlementId: `ORD-V1-${k}` }));
      expect(r.statusCode, r.body).toBe(201);
    }
    // Batch 1 as anchoring built batches before v2 (no salt), batch 2 as today, chained to it.
    await insertV1Batch(h.db.sql, { chainId: sys.chainId, anchor, batchId: 1n, previousRoot: `0x${"0".repeat(64)}`, txs: await h.services.ledger.listJournal(0n, 3) });
    const anchoring = new AnchorService({
      sql: h.db.sql,
      ledger: h.services.ledger,
      provider,
      chainId: sys.chainId,
      anchor,
      sender: new TxSender({ sql: h.db.sql, provider, chainId: sys.chainId, signers: [anchorer], record: sys.result.record }),
      anchorer: anchorer.address,
      batchMaxCount: 2,
    });
    h.services.anchoring = anchoring;
    for (let i = 0; i < 5; i++) await anchoring.tick();
    const api = await h.app.listen({ port: 0, host: "127.0.0.1" });
    const report = await auditHistory(apiHistorySource(api, h.keys.finance.key), provider, { anchor, finalityDepth: 1 });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.summary).toMatchObject({ batchesOnChain: 2, anchoredThrough: "5", transactions: 5 });
    expect(report.verdict).toBe("verified");
  });
});
