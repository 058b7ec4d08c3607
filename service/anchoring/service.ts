/**
 * AnchorService, the anchoring module's one entry point: composes the store (`store.ts`, every
 * statement over the anchoring tables), the worker (`worker.ts`: batches, submission, following
 * the chain; `tick` and `onIndexed` hand over to it) and the read side here: document queueing,
 * inclusion states, batches and proofs.
 */
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress, type Provider } from "ethers";
import type { IndexerChange } from "../chain/indexer/types.js";
import type { SqlRunner } from "../db/sql.js";
import type { JournalTransaction, Ledger } from "../ledger/types.js";
import { AnchorErrors } from "./errors.js";
import { leafFromJson, type BatchPreimage } from "./leaf.js";
import { makeProof, type AnchorProof, type AnchorState } from "./proof.js";
import { AnchorStore, stateOfStatus, type AnchorBatch, type BatchStatus, type LeafRow } from "./store.js";

/** One leaf of a batch as the tree takes it, with the journal transaction it was computed from. */
export interface BatchLeaf {
  position: number;
  type: "journal" | "document";
  /** The journal transaction's id, or `<kind>:<id>` of a document. */
  subject: string;
  /** keccak256(keccak256(abi.encode(encoding, values))), as stored when the batch was built. */
  hash: string;
  /** The leaf's values in encoding order (integers as decimal strings), as stored. */
  values: unknown[];
  /** The journal transaction as the ledger holds it now (journal leaves); null when the ledger has none by that id. */
  journalTransaction: JournalTransaction | null;
}
import { AnchorWorker, type AnchorIndex, type AnchorLog, type AnchorSender, type AnchorTickResult } from "./worker.js";

export interface AnchorServiceOptions {
  sql: SqlRunner;
  ledger: Pick<Ledger, "listJournal" | "getTransaction" | "getTransactions">;
  /** Reads SettlementAnchor (start-up consistency check). */
  provider: Provider;
  chainId: bigint;
  /** SettlementAnchor address. */
  anchor: string;
  sender: AnchorSender;
  /** Address of the ANCHOR_ROLE key the sender signs with. */
  anchorer: string;
  /** The event index: source of observed/safe/final and of reorgs. Without it, the sender's "mined" means observed. */
  indexer?: AnchorIndex;
  /** Leaves per batch at most, and the count that triggers a batch (default 1,000). */
  batchMaxCount?: number;
  /** A batch is built when the oldest waiting leaf is this old (default 10,000 ms). */
  batchMaxAgeMs?: number;
  /** Batches built or submitted but not yet mined at once (default 4). */
  maxBatchesInFlight?: number;
  now?: () => Date;
  log?: AnchorLog;
}

const DOC_KIND = /^[a-z][a-z0-9._-]{0,63}$/;
const DOC_ID = /^[A-Za-z0-9._:-]{1,200}$/;
const HEX32 = /^0x[0-9a-f]{64}$/;

function preimageOf(b: AnchorBatch): BatchPreimage {
  return {
    format: b.format,
    chainId: b.chainId,
    anchor: b.anchor,
    batchId: b.batchId,
    previousRoot: b.previousRoot,
    firstSequence: b.firstSequence,
    lastSequence: b.lastSequence,
    count: BigInt(b.count),
    currencyTotalsDigest: b.currencyTotalsDigest,
  };
}

export class AnchorService {
  readonly chainId: bigint;
  readonly anchor: string;
  readonly worker: AnchorWorker;
  private readonly store: AnchorStore;
  private readonly ledger: AnchorServiceOptions["ledger"];
  private readonly now: () => Date;
  private readonly trees = new Map<bigint, SimpleMerkleTree>();

  constructor(opts: AnchorServiceOptions) {
    const positive = (name: string, v: number | undefined, fallback: number, max: number) => {
      const x = v ?? fallback;
      if (!Number.isInteger(x) || x < 1 || x > max) throw AnchorErrors.invalid(`${name} must be an integer in [1, ${max}], got ${String(v)}`, { fields: [{ field: name, message: `1-${max}` }] });
      return x;
    };
    this.chainId = opts.chainId;
    this.anchor = getAddress(opts.anchor);
    this.ledger = opts.ledger;
    this.now = opts.now ?? (() => new Date());
    this.store = new AnchorStore(opts.sql, this.chainId, this.anchor);
    this.worker = new AnchorWorker({
      store: this.store,
      ledger: opts.ledger,
      provider: opts.provider,
      sender: opts.sender,
      anchorer: opts.anchorer,
      indexer: opts.indexer,
      batchMaxCount: positive("batchMaxCount", opts.batchMaxCount, 1_000, 100_000),
      batchMaxAgeMs: positive("batchMaxAgeMs", opts.batchMaxAgeMs, 10_000, 7 * 86_400_000),
      maxBatchesInFlight: positive("maxBatchesInFlight", opts.maxBatchesInFlight, 4, 1_000),
      now: this.now,
      log: opts.log,
    });
  }

  /** The TxSender key of a batch. */
  senderKey(batchId: bigint): string {
    return this.worker.senderKey(batchId);
  }

  /** One worker step (see AnchorWorker.tick). */
  tick(): Promise<AnchorTickResult> {
    return this.worker.tick();
  }

  /** Listener for ChainIndexer.onChange (see AnchorWorker.onIndexed). */
  onIndexed(change: IndexerChange): Promise<void> {
    return this.worker.onIndexed(change);
  }

  // ---- documents ------------------------------------------------------------------------------

  /** Queues a document digest (bytes32 hex) for the next batch; idempotent by (kind, id). */
  async enqueueDocument(doc: { kind: string; id: string; digest: string }): Promise<void> {
    const bad = (field: string, m: string) => AnchorErrors.invalid(`${field}: ${m}`, { fields: [{ field, message: m }] });
    if (typeof doc.kind !== "string" || !DOC_KIND.test(doc.kind)) throw bad("kind", "1-64 characters of [a-z0-9._-], starting with a letter");
    if (typeof doc.id !== "string" || !DOC_ID.test(doc.id)) throw bad("id", "1-200 characters of [A-Za-z0-9._:-]");
    const digest = typeof doc.digest === "string" ? doc.digest.toLowerCase() : "";
    if (!HEX32.test(digest)) throw bad("digest", "0x-prefixed 32-byte hex");
    const onRecord = await this.store.queueDocument({ kind: doc.kind, id: doc.id, digest }, this.now());
    if (onRecord !== digest) {
      throw AnchorErrors.documentConflict(`document ${doc.kind}:${doc.id} is already queued with digest ${onRecord}`, {
        fields: [{ field: "digest", message: "differs from the queued one" }],
        details: { kind: doc.kind, id: doc.id, digest: onRecord },
      });
    }
  }

  /** Inclusion state of a queued document (unanchored when it was never queued). */
  async documentState(kind: string, id: string): Promise<{ state: AnchorState; batchId: bigint | null }> {
    const row = await this.store.documentBatch(kind, id);
    if (!row) return { state: "unanchored", batchId: null };
    if (row.batch_id === null || row.status === null) return { state: "queued", batchId: null };
    return { state: stateOfStatus(row.status), batchId: row.batch_id };
  }

  // ---- states ---------------------------------------------------------------------------------

  /** Inclusion state of journal transactions by id; an id in no batch is "unanchored". */
  async statesOf(journalTransactionIds: readonly string[]): Promise<Map<string, { state: AnchorState; batchId: bigint | null }>> {
    const out = new Map<string, { state: AnchorState; batchId: bigint | null }>();
    for (const id of journalTransactionIds) out.set(id, { state: "unanchored", batchId: null });
    const ids = [...new Set(journalTransactionIds)];
    for (let i = 0; i < ids.length; i += 10_000) {
      const rows = await this.store.journalStates(ids.slice(i, i + 10_000));
      for (const r of rows) out.set(r.subject_id, { state: stateOfStatus(r.status), batchId: r.batch_id });
    }
    return out;
  }

  getBatch(batchId: bigint): Promise<AnchorBatch | null> {
    return this.store.getBatch(batchId);
  }

  /** Batches, newest first; `before` = a batch id from a previous page (exclusive). */
  /** The last journal sequence anchored in a batch seen on chain (null: none yet). */
  anchoredThrough(): Promise<bigint | null> {
    return this.store.anchoredThrough();
  }

  async listBatches(page: { limit?: number; before?: bigint; status?: BatchStatus } = {}): Promise<{ items: AnchorBatch[]; nextBefore: bigint | null }> {
    const limit = page.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw AnchorErrors.invalid("limit must be 1-1000", { fields: [{ field: "limit", message: "1-1000" }] });
    const rows = await this.store.listBatches(limit, page.before, page.status);
    const items = rows.slice(0, limit);
    return { items, nextBefore: rows.length > limit ? items[items.length - 1]!.batchId : null };
  }

  /**
   * A batch's leaves in position order, a page at a time: `after` = the `nextAfter` of the previous
   * page (a position; none: from the first), `limit` 1-1000 (default 500). Each journal leaf comes with
   * its journal transaction as the ledger holds it now, so an auditor recomputes the leaf from it.
   */
  async leavesOf(batchId: bigint, page: { after?: number; limit?: number } = {}): Promise<{ batch: AnchorBatch; items: BatchLeaf[]; nextAfter: number | null }> {
    const limit = page.limit ?? 500;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw AnchorErrors.invalid("limit must be 1-1000", { fields: [{ field: "limit", message: "1-1000" }] });
    const after = page.after ?? -1;
    if (!Number.isInteger(after) || after < -1) throw AnchorErrors.invalid("after must be a leaf position", { fields: [{ field: "after", message: "a non-negative integer" }] });
    const batch = await this.store.getBatch(batchId);
    if (batch === null) throw AnchorErrors.notFound(`no batch ${batchId}`, { fields: [{ field: "params.id", message: "unknown batch" }] });
    const rows = await this.store.leavesOf(batchId, after, limit);
    const shown = rows.slice(0, limit);
    const txs = await this.ledger.getTransactions(shown.filter((r) => r.kind === "journal").map((r) => r.subject_id));
    const items = shown.map((r) => ({
      position: r.position,
      type: r.kind,
      subject: r.subject_id,
      hash: r.leaf_hash,
      values: r.leaf_values as unknown[],
      journalTransaction: r.kind === "journal" ? (txs.get(r.subject_id) ?? null) : null,
    }));
    return { batch, items, nextAfter: rows.length > limit ? shown[shown.length - 1]!.position : null };
  }

  // ---- proofs ---------------------------------------------------------------------------------

  /** The proof of a journal transaction; ENT_ANCHOR_NOT_ANCHORED (409) until its batch is submitted. */
  async proofOfTransaction(journalTransactionId: string): Promise<AnchorProof> {
    const leaf = await this.store.leafOf("journal", journalTransactionId);
    if (!leaf) {
      const tx = /^[1-9][0-9]{0,18}$/.test(journalTransactionId) ? await this.ledger.getTransaction(journalTransactionId) : null;
      if (tx === null) throw AnchorErrors.notFound(`no journal transaction ${JSON.stringify(journalTransactionId.slice(0, 40))}`, { details: { journalTransactionId } });
      throw AnchorErrors.notAnchored(`journal transaction ${journalTransactionId} is not in a batch yet`, { details: { journalTransactionId, state: "unanchored" } });
    }
    const tx = await this.ledger.getTransaction(journalTransactionId);
    if (tx === null) throw new Error(`anchored journal transaction ${journalTransactionId} is missing from the ledger`);
    return this.proofOf(leaf, { journalTransaction: tx }, `journal transaction ${journalTransactionId}`);
  }

  /** The proof of a queued document; ENT_ANCHOR_NOT_ANCHORED (409) until its batch is submitted. */
  async proofOfDocument(kind: string, id: string): Promise<AnchorProof> {
    const leaf = await this.store.leafOf("document", `${kind}:${id}`);
    if (!leaf) {
      const { state } = await this.documentState(kind, id);
      if (state === "unanchored") throw AnchorErrors.notFound(`no document ${kind}:${id} was queued`, { details: { kind, id } });
      throw AnchorErrors.notAnchored(`document ${kind}:${id} is queued for the next batch`, { details: { kind, id, state } });
    }
    const l = leafFromJson(leaf.leaf_values);
    if (l.type !== "document") throw new Error(`leaf of document ${kind}:${id} is not a document leaf`);
    return this.proofOf(leaf, { document: { kind, id, digest: l.leaf.digest } }, `document ${kind}:${id}`);
  }

  private async proofOf(
    leafRow: LeafRow,
    subject: { journalTransaction?: JournalTransaction; document?: { kind: string; id: string; digest: string } },
    what: string,
  ): Promise<AnchorProof> {
    const batch = await this.getBatch(leafRow.batch_id);
    if (batch === null) throw new Error(`batch ${leafRow.batch_id} of ${what} is missing`);
    if (batch.status === "built" || batch.status === "reverted") {
      throw AnchorErrors.notAnchored(`${what} is in batch ${batch.batchId}, which is not submitted yet`, {
        details: { state: batch.state, batchId: batch.batchId.toString() },
      });
    }
    const tree = await this.treeOf(batch);
    const leaf = leafFromJson(leafRow.leaf_values);
    return makeProof({
      chainId: this.chainId,
      anchor: this.anchor,
      batchId: batch.batchId,
      root: batch.root,
      leaf,
      leafHash: leafRow.leaf_hash,
      position: leafRow.position,
      proof: tree.getProof(leafRow.position),
      preimage: preimageOf(batch),
      currencyTotals: batch.currencyTotals,
      totalsSalt: batch.totalsSalt,
      totalsDigest: batch.totalsDigest,
      anchoring: {
        state: batch.state,
        transactionHash: batch.txHash,
        blockNumber: batch.blockNumber === null ? null : batch.blockNumber.toString(),
        blockHash: batch.blockHash,
      },
      ...subject,
      now: this.now(),
    });
  }

  /** The batch's tree, rebuilt from its stored leaf hashes (and checked against its root). */
  private async treeOf(batch: AnchorBatch): Promise<SimpleMerkleTree> {
    const cached = this.trees.get(batch.batchId);
    if (cached) return cached;
    const tree = SimpleMerkleTree.of(await this.store.leafHashes(batch.batchId));
    if (tree.root !== batch.root) throw new Error(`stored leaves of batch ${batch.batchId} give root ${tree.root}, not ${batch.root}`);
    this.trees.set(batch.batchId, tree);
    if (this.trees.size > 16) this.trees.delete(this.trees.keys().next().value!);
    return tree;
  }
}
