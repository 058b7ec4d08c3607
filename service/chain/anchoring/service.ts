/**
 * AnchorService: anchors the ledger's journal in consecutive batches on SettlementAnchor, plus
 * document digests queued for the next batch, and serves inclusion proofs.
 *
 * Batches (see README.md for the argument):
 * - Batch N covers the journal range right after batch N-1's (the journal is gapless and sequence
 *   order is commit order, so "everything after the last anchored sequence" is well defined), plus
 *   the documents queued meanwhile. It is built when `batchMaxCount` leaves are waiting or the
 *   oldest waiting one is older than `batchMaxAgeMs`.
 * - The batch row and all its leaves are COMMITTED (status "built") before anything is sent, under
 *   a primary key (chain, contract, batch id) and a unique key per subject: a crash at any point
 *   never loses a batch, never gives one journal range a second id, and never anchors a
 *   transaction twice. A "built" batch is (re)submitted through the TxSender with the key
 *   `anchor:<chainId>:<anchor>:<batchId>`, which makes the submission itself idempotent.
 * - totalsDigest = keccak256(abi.encode(BATCH_FORMAT, chainId, anchor, batchId, previousRoot,
 *   firstSequence, lastSequence, count, currencyTotalsDigest)): every batch names its predecessor's
 *   root, so a verifier spots a gap or a rewritten batch with `rootOf(batchId - 1)`.
 * - Pipelining: up to `maxBatchesInFlight` batches may be built/submitted but not yet mined; the
 *   sender's nonces mine them in id order.
 * States: built -> submitted -> observed -> safe -> final, from the event index (BatchAnchored of
 * our batch with our root); a reorg that removes the event puts the batch back to "submitted" (the
 * TxSender re-broadcasts the same transaction). Without an index, "mined" from the sender means
 * "observed" (enough for tests and tools; production wires the indexer).
 */
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress, ZeroHash, type Provider } from "ethers";
import type { SqlRunner } from "../../db/sql.js";
import { ISettlementAnchor__factory, type ISettlementAnchor } from "../contracts.js";
import type { JournalTransaction, Ledger } from "../../ledger/types.js";
import type { ChainTx, TxIntent } from "../sender.js";
import type { EventFilter, IndexedEvent, IndexerChange } from "../indexer/types.js";
import { AnchorErrors } from "./errors.js";
import {
  BATCH_FORMAT,
  currencyTotals,
  currencyTotalsDigest,
  documentLeaf,
  journalKind,
  journalLeaf,
  leafFromJson,
  leafHash,
  leafValuesJson,
  totalsDigest,
  type AnyLeaf,
  type BatchPreimage,
  type SettlementFacts,
} from "./leaf.js";
import { makeProof, type AnchorProof, type AnchorState } from "./proof.js";
import { merkleRoot } from "./tree.js";
import { isUniqueViolation } from "../../db/errors.js";

export type BatchStatus = "built" | "submitted" | "observed" | "safe" | "final" | "reverted";

export interface AnchorBatch {
  chainId: bigint;
  anchor: string;
  batchId: bigint;
  root: string;
  /** Leaves (journal transactions + documents): the `count` of BatchAnchored. */
  count: number;
  journalCount: number;
  documentCount: number;
  firstSequence: bigint;
  lastSequence: bigint;
  currencyTotals: Array<{ currency: string; total: bigint }>;
  currencyTotalsDigest: string;
  totalsDigest: string;
  previousRoot: string;
  status: BatchStatus;
  /** The batch's status as an inclusion state of its leaves. */
  state: AnchorState;
  senderKey: string;
  txHash: string | null;
  blockNumber: bigint | null;
  blockHash: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What anchoring needs from the settlement module (SettlementService satisfies it). */
export interface AnchorSettlementSource {
  /** Gross, gateway fee and platform fee lines of settlement events by event key (= journal idempotency key). */
  amountsByEventKeys(eventKeys: readonly string[]): Promise<Map<string, SettlementFacts>>;
}

/** What anchoring needs from the TxSender. */
export interface AnchorSender {
  submit(intent: TxIntent): Promise<ChainTx>;
  get(key: string): Promise<ChainTx | null>;
}

/** What anchoring needs from the ChainIndexer. */
export interface AnchorIndex {
  events(filter: EventFilter): Promise<IndexedEvent[]>;
}

export interface AnchorLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
}

export interface AnchorServiceOptions {
  sql: SqlRunner;
  ledger: Pick<Ledger, "listJournal" | "getTransaction">;
  /** Reads SettlementAnchor (start-up consistency check). */
  provider: Provider;
  chainId: bigint;
  /** SettlementAnchor address. */
  anchor: string;
  sender: AnchorSender;
  /** Address of the ANCHOR_ROLE key the sender signs with. */
  anchorer: string;
  /** Source of the gross amount and fee lines of settlement transactions (optional: leaves carry ""/0 without it). */
  settlements?: AnchorSettlementSource;
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

export interface AnchorTickResult {
  /** Batches built (committed) by this tick. */
  built: bigint[];
  /** Batches handed to the sender by this tick (new and resumed). */
  submitted: bigint[];
  /** Batches whose status changed while following the chain. */
  updated: Array<{ batchId: bigint; from: BatchStatus; to: BatchStatus }>;
}

const PURPOSE = "anchor";
const DOC_KIND = /^[a-z][a-z0-9._-]{0,63}$/;
const DOC_ID = /^[A-Za-z0-9._:-]{1,200}$/;
const HEX32 = /^0x[0-9a-f]{64}$/;
const JOURNAL_PAGE = 5_000;
const MAX_UINT32 = 4_294_967_295;

interface BatchRow {
  chain_id: bigint;
  anchor_address: string;
  batch_id: bigint;
  root: string;
  leaf_count: number;
  journal_count: number;
  first_sequence: bigint;
  last_sequence: bigint;
  currency_totals: Array<{ currency: string; total: string }> | string;
  totals_digest: string;
  previous_root: string;
  status: BatchStatus;
  sender_key: string;
  tx_hash: string | null;
  block_number: bigint | null;
  block_hash: string | null;
  created_at: Date;
  updated_at: Date;
}

const BATCH_COLUMNS = `"chain_id", "anchor_address", "batch_id", "root", "leaf_count", "journal_count", "first_sequence", "last_sequence",
  "currency_totals", "totals_digest", "previous_root", "status", "sender_key", "tx_hash", "block_number", "block_hash", "created_at", "updated_at"`;

export function stateOfStatus(status: BatchStatus): AnchorState {
  // A built batch is not on chain yet; neither is a reverted one (it waits for an operator).
  return status === "built" || status === "reverted" ? "queued" : status;
}

function toBatch(r: BatchRow): AnchorBatch {
  const totals = (typeof r.currency_totals === "string" ? JSON.parse(r.currency_totals) : r.currency_totals) as Array<{ currency: string; total: string }>;
  const currencyTotalsList = totals.map((t) => ({ currency: t.currency, total: BigInt(t.total) }));
  return {
    chainId: r.chain_id,
    anchor: r.anchor_address,
    batchId: r.batch_id,
    root: r.root,
    count: r.leaf_count,
    journalCount: r.journal_count,
    documentCount: r.leaf_count - r.journal_count,
    firstSequence: r.first_sequence,
    lastSequence: r.last_sequence,
    currencyTotals: currencyTotalsList,
    currencyTotalsDigest: currencyTotalsDigest(currencyTotalsList),
    totalsDigest: r.totals_digest,
    previousRoot: r.previous_root,
    status: r.status,
    state: stateOfStatus(r.status),
    senderKey: r.sender_key,
    txHash: r.tx_hash,
    blockNumber: r.block_number,
    blockHash: r.block_hash,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function preimageOf(b: AnchorBatch): BatchPreimage {
  return {
    format: BATCH_FORMAT,
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

/** Where the next batch starts: after our last batch, or after what the chain already holds. */
interface Head {
  nextBatchId: bigint;
  previousRoot: string;
  afterSequence: bigint;
}

export class AnchorService {
  readonly chainId: bigint;
  readonly anchor: string;
  private readonly sql: SqlRunner;
  private readonly ledger: AnchorServiceOptions["ledger"];
  private readonly provider: Provider;
  private readonly sender: AnchorSender;
  private readonly anchorer: string;
  private readonly settlements: AnchorSettlementSource | undefined;
  private readonly indexer: AnchorIndex | undefined;
  private readonly maxCount: number;
  private readonly maxAgeMs: number;
  private readonly maxInFlight: number;
  private readonly now: () => Date;
  private readonly log: AnchorLog | undefined;
  private readonly contract: ISettlementAnchor;
  /** The start-up check's result: the chain's last batch id when our database had none. */
  private started: Promise<{ chainLast: bigint; chainLastRoot: string }> | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private readonly trees = new Map<bigint, SimpleMerkleTree>();

  constructor(opts: AnchorServiceOptions) {
    const positive = (name: string, v: number | undefined, fallback: number, max: number) => {
      const x = v ?? fallback;
      if (!Number.isInteger(x) || x < 1 || x > max) throw AnchorErrors.invalid(`${name} must be an integer in [1, ${max}], got ${String(v)}`, { fields: [{ field: name, message: `1-${max}` }] });
      return x;
    };
    this.sql = opts.sql;
    this.ledger = opts.ledger;
    this.provider = opts.provider;
    this.chainId = opts.chainId;
    this.anchor = getAddress(opts.anchor);
    this.sender = opts.sender;
    this.anchorer = getAddress(opts.anchorer);
    this.settlements = opts.settlements;
    this.indexer = opts.indexer;
    this.maxCount = positive("batchMaxCount", opts.batchMaxCount, 1_000, 100_000);
    this.maxAgeMs = positive("batchMaxAgeMs", opts.batchMaxAgeMs, 10_000, 7 * 86_400_000);
    this.maxInFlight = positive("maxBatchesInFlight", opts.maxBatchesInFlight, 4, 1_000);
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log;
    this.contract = ISettlementAnchor__factory.connect(this.anchor, opts.provider);
  }

  /** The TxSender key of a batch. */
  senderKey(batchId: bigint): string {
    return `anchor:${this.chainId}:${this.anchor}:${batchId}`;
  }

  /** In-process serialisation of everything that changes batch rows (ticks and index deliveries). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.running.then(fn, fn);
    this.running = run.catch(() => undefined);
    return run;
  }

  // ---- documents ------------------------------------------------------------------------------

  /** Queues a document digest (bytes32 hex) for the next batch; idempotent by (kind, id). */
  async enqueueDocument(doc: { kind: string; id: string; digest: string }): Promise<void> {
    const bad = (field: string, m: string) => AnchorErrors.invalid(`${field}: ${m}`, { fields: [{ field, message: m }] });
    if (typeof doc.kind !== "string" || !DOC_KIND.test(doc.kind)) throw bad("kind", "1-64 characters of [a-z0-9._-], starting with a letter");
    if (typeof doc.id !== "string" || !DOC_ID.test(doc.id)) throw bad("id", "1-200 characters of [A-Za-z0-9._:-]");
    const digest = typeof doc.digest === "string" ? doc.digest.toLowerCase() : "";
    if (!HEX32.test(digest)) throw bad("digest", "0x-prefixed 32-byte hex");
    await this.sql.q(
      `INSERT INTO "anchor_documents" ("chain_id", "anchor_address", "kind", "document_id", "digest", "created_at")
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      this.chainId,
      this.anchor,
      doc.kind,
      doc.id,
      digest,
      this.now(),
    );
    const [row] = await this.sql.q<Array<{ digest: string }>>(
      `SELECT "digest" FROM "anchor_documents" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "kind" = $3 AND "document_id" = $4`,
      this.chainId,
      this.anchor,
      doc.kind,
      doc.id,
    );
    if (row!.digest !== digest) {
      throw AnchorErrors.documentConflict(`document ${doc.kind}:${doc.id} is already queued with digest ${row!.digest}`, {
        fields: [{ field: "digest", message: "differs from the queued one" }],
        details: { kind: doc.kind, id: doc.id, digest: row!.digest },
      });
    }
  }

  /** Inclusion state of a queued document (unanchored when it was never queued). */
  async documentState(kind: string, id: string): Promise<{ state: AnchorState; batchId: bigint | null }> {
    const [row] = await this.sql.q<Array<{ batch_id: bigint | null; status: BatchStatus | null }>>(
      `SELECT d."batch_id", b."status" FROM "anchor_documents" d
         LEFT JOIN "anchor_batches" b ON b."chain_id" = d."chain_id" AND b."anchor_address" = d."anchor_address" AND b."batch_id" = d."batch_id"
        WHERE d."chain_id" = $1 AND d."anchor_address" = $2 AND d."kind" = $3 AND d."document_id" = $4`,
      this.chainId,
      this.anchor,
      kind,
      id,
    );
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
      const rows = await this.sql.q<Array<{ subject_id: string; batch_id: bigint; status: BatchStatus }>>(
        `SELECT l."subject_id", l."batch_id", b."status" FROM "anchor_leaves" l
           JOIN "anchor_batches" b ON b."chain_id" = l."chain_id" AND b."anchor_address" = l."anchor_address" AND b."batch_id" = l."batch_id"
          WHERE l."chain_id" = $1 AND l."anchor_address" = $2 AND l."kind" = 'journal' AND l."subject_id" = ANY($3::text[])`,
        this.chainId,
        this.anchor,
        ids.slice(i, i + 10_000),
      );
      for (const r of rows) out.set(r.subject_id, { state: stateOfStatus(r.status), batchId: r.batch_id });
    }
    return out;
  }

  async getBatch(batchId: bigint): Promise<AnchorBatch | null> {
    const [row] = await this.sql.q<BatchRow[]>(
      `SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3`,
      this.chainId,
      this.anchor,
      batchId,
    );
    return row ? toBatch(row) : null;
  }

  /** Batches, newest first; `before` = a batch id from a previous page (exclusive). */
  async listBatches(page: { limit?: number; before?: bigint; status?: BatchStatus } = {}): Promise<{ items: AnchorBatch[]; nextBefore: bigint | null }> {
    const limit = page.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw AnchorErrors.invalid("limit must be 1-1000", { fields: [{ field: "limit", message: "1-1000" }] });
    const params: unknown[] = [this.chainId, this.anchor];
    let where = "";
    if (page.before !== undefined) {
      params.push(page.before);
      where += ` AND "batch_id" < $${params.length}`;
    }
    if (page.status !== undefined) {
      params.push(page.status);
      where += ` AND "status" = $${params.length}`;
    }
    params.push(limit + 1);
    const rows = await this.sql.q<BatchRow[]>(
      `SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 ${where}
        ORDER BY "batch_id" DESC LIMIT $${params.length}`,
      ...params,
    );
    const items = rows.slice(0, limit).map(toBatch);
    return { items, nextBefore: rows.length > limit ? items[items.length - 1]!.batchId : null };
  }

  // ---- proofs ---------------------------------------------------------------------------------

  /** The proof of a journal transaction; ENT_ANCHOR_NOT_ANCHORED (409) until its batch is submitted. */
  async proofOfTransaction(journalTransactionId: string): Promise<AnchorProof> {
    const leaf = await this.leafRow("journal", journalTransactionId);
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
    const leaf = await this.leafRow("document", `${kind}:${id}`);
    if (!leaf) {
      const { state } = await this.documentState(kind, id);
      if (state === "unanchored") throw AnchorErrors.notFound(`no document ${kind}:${id} was queued`, { details: { kind, id } });
      throw AnchorErrors.notAnchored(`document ${kind}:${id} is queued for the next batch`, { details: { kind, id, state } });
    }
    const l = leafFromJson(leaf.leaf_values);
    if (l.type !== "document") throw new Error(`leaf of document ${kind}:${id} is not a document leaf`);
    return this.proofOf(leaf, { document: { kind, id, digest: l.leaf.digest } }, `document ${kind}:${id}`);
  }

  private async leafRow(kind: "journal" | "document", subject: string) {
    const [row] = await this.sql.q<Array<{ batch_id: bigint; position: number; leaf_hash: string; leaf_values: unknown }>>(
      `SELECT "batch_id", "position", "leaf_hash", "leaf_values" FROM "anchor_leaves"
        WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "kind" = $3 AND "subject_id" = $4`,
      this.chainId,
      this.anchor,
      kind,
      subject,
    );
    return row ?? null;
  }

  private async proofOf(
    leafRow: { batch_id: bigint; position: number; leaf_hash: string; leaf_values: unknown },
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
    const leaf = leafFromJson(typeof leafRow.leaf_values === "string" ? JSON.parse(leafRow.leaf_values) : leafRow.leaf_values);
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
    const rows = await this.sql.q<Array<{ leaf_hash: string }>>(
      `SELECT "leaf_hash" FROM "anchor_leaves" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3 ORDER BY "position"`,
      this.chainId,
      this.anchor,
      batch.batchId,
    );
    const tree = SimpleMerkleTree.of(rows.map((r) => r.leaf_hash));
    if (tree.root !== batch.root) throw new Error(`stored leaves of batch ${batch.batchId} give root ${tree.root}, not ${batch.root}`);
    this.trees.set(batch.batchId, tree);
    if (this.trees.size > 16) this.trees.delete(this.trees.keys().next().value!);
    return tree;
  }

  // ---- the worker -----------------------------------------------------------------------------

  /**
   * One step: check the database against the chain (first call), follow the state of open batches,
   * (re)submit built ones, then build and submit new batches while the thresholds are met and fewer
   * than `maxBatchesInFlight` are unmined. Idempotent; safe to call from a loop after any failure.
   */
  tick(): Promise<AnchorTickResult> {
    return this.exclusive(() => this.tickNow());
  }

  private async tickNow(): Promise<AnchorTickResult> {
    await this.start();
    const result: AnchorTickResult = { built: [], submitted: [], updated: [] };
    const problems: Error[] = [];
    try {
      result.updated = await this.follow();
    } catch (e) {
      problems.push(e instanceof Error ? e : new Error(String(e)));
    }
    // Resume what was committed but not handed over (a crash, an RPC outage), oldest first.
    const built = await this.sql.q<BatchRow[]>(
      `SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" = 'built' ORDER BY "batch_id"`,
      this.chainId,
      this.anchor,
    );
    for (const row of built) {
      await this.submit(toBatch(row));
      result.submitted.push(row.batch_id);
    }
    // A reverted batch stops anchoring: the next id cannot be chained to a batch that is not on
    // chain, and what made it revert (another writer, a frozen anchorer) needs an operator.
    const [reverted] = await this.sql.q<Array<{ batch_id: bigint; tx_hash: string | null }>>(
      `SELECT "batch_id", "tx_hash" FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" = 'reverted' ORDER BY "batch_id" LIMIT 1`,
      this.chainId,
      this.anchor,
    );
    if (reverted) {
      if (problems[0]) throw problems[0];
      throw AnchorErrors.batchReverted(`anchoring is stopped: the transaction ${reverted.tx_hash ?? "?"} of batch ${reverted.batch_id} reverted`, {
        details: { batchId: reverted.batch_id.toString(), txHash: reverted.tx_hash },
      });
    }
    for (;;) {
      const [open] = await this.sql.q<Array<{ n: number }>>(
        `SELECT count(*)::int AS n FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" IN ('built', 'submitted', 'reverted')`,
        this.chainId,
        this.anchor,
      );
      if (open!.n >= this.maxInFlight) break;
      const batch = await this.buildNext();
      if (batch === null) break;
      result.built.push(batch.batchId);
      await this.submit(batch);
      result.submitted.push(batch.batchId);
    }
    if (problems[0]) throw problems[0];
    return result;
  }

  /**
   * Start-up check, once: the batches this database recorded must be what the chain holds. Our
   * last batch's successor must not exist on chain (someone else anchoring under our ids); every
   * batch we recorded as mined must be on chain with our root (or, if not final, at least not
   * under another root); with no batch recorded yet, ids continue after the chain's last batch.
   */
  private start(): Promise<{ chainLast: bigint; chainLastRoot: string }> {
    this.started ??= this.checkChain().catch((e: unknown) => {
      this.started = null;
      throw e;
    });
    return this.started;
  }

  private async rootOf(batchId: bigint): Promise<string> {
    return (await this.contract.rootOf(batchId)).toLowerCase();
  }

  private async checkChain(): Promise<{ chainLast: bigint; chainLastRoot: string }> {
    const { chainId } = await this.provider.getNetwork();
    if (chainId !== this.chainId) throw AnchorErrors.chainMismatch(`the provider is on chain ${chainId}, anchoring is configured for chain ${this.chainId}`);
    if ((await this.provider.getCode(this.anchor)) === "0x") throw AnchorErrors.chainMismatch(`no SettlementAnchor at ${this.anchor} on chain ${this.chainId}`);
    const [last] = await this.sql.q<Array<{ batch_id: bigint | null }>>(
      `SELECT max("batch_id") AS batch_id FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2`,
      this.chainId,
      this.anchor,
    );
    const lastId = last?.batch_id ?? null;
    if (lastId === null) {
      const chainLast = await this.lastOnChain();
      const chainLastRoot = chainLast === 0n ? ZeroHash : await this.rootOf(chainLast);
      if (chainLast > 0n) {
        this.log?.warn({ chainLast: chainLast.toString(), anchor: this.anchor }, "anchor contract already holds batches this database did not write: continuing after them");
      }
      return { chainLast, chainLastRoot };
    }
    const beyond = await this.rootOf(lastId + 1n);
    if (beyond !== ZeroHash) {
      throw AnchorErrors.chainMismatch(
        `batch ${lastId + 1n} is anchored on chain ${this.chainId} at ${this.anchor} but this database's last batch is ${lastId}: another writer uses this contract, or the database is behind the chain`,
        { details: { lastBatchInDatabase: lastId.toString(), rootOnChain: beyond } },
      );
    }
    // Every batch not yet final, and the last final one: bounded by the in-flight window.
    const rows = await this.sql.q<BatchRow[]>(
      `(SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" <> 'final')
       UNION ALL
       (SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" = 'final' ORDER BY "batch_id" DESC LIMIT 1)`,
      this.chainId,
      this.anchor,
    );
    for (const r of rows) {
      const onChain = await this.rootOf(r.batch_id);
      if (onChain !== ZeroHash && onChain !== r.root) {
        throw AnchorErrors.chainMismatch(`batch ${r.batch_id} is anchored on chain with root ${onChain}, this database built it with ${r.root}`, {
          details: { batchId: r.batch_id.toString(), rootOnChain: onChain, rootInDatabase: r.root },
        });
      }
      if (onChain === ZeroHash && r.status === "final") {
        throw AnchorErrors.chainMismatch(
          `batch ${r.batch_id} is final in this database but not anchored on chain ${this.chainId} at ${this.anchor} (a reset chain under a kept database?)`,
          { details: { batchId: r.batch_id.toString() } },
        );
      }
    }
    return { chainLast: 0n, chainLastRoot: ZeroHash };
  }

  /** The highest batch id with a root on chain (ids are consecutive): exponential probe, then bisection. */
  private async lastOnChain(): Promise<bigint> {
    if ((await this.rootOf(1n)) === ZeroHash) return 0n;
    let lo = 1n;
    let hi = 2n;
    while ((await this.rootOf(hi)) !== ZeroHash) {
      lo = hi;
      hi *= 2n;
    }
    while (hi - lo > 1n) {
      const mid = (lo + hi) / 2n;
      if ((await this.rootOf(mid)) !== ZeroHash) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  private async head(): Promise<Head> {
    const [row] = await this.sql.q<Array<{ batch_id: bigint; root: string; last_sequence: bigint }>>(
      `SELECT "batch_id", "root", "last_sequence" FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 ORDER BY "batch_id" DESC LIMIT 1`,
      this.chainId,
      this.anchor,
    );
    if (row) return { nextBatchId: row.batch_id + 1n, previousRoot: row.root, afterSequence: row.last_sequence };
    const s = await this.start();
    return { nextBatchId: s.chainLast + 1n, previousRoot: s.chainLastRoot, afterSequence: 0n };
  }

  private async loadJournal(after: bigint, n: number): Promise<JournalTransaction[]> {
    const out: JournalTransaction[] = [];
    let cursor = after;
    while (out.length < n) {
      const page = await this.ledger.listJournal(cursor, Math.min(JOURNAL_PAGE, n - out.length));
      out.push(...page);
      if (page.length === 0) break;
      cursor = page[page.length - 1]!.sequence;
    }
    return out;
  }

  private async factsFor(txs: readonly JournalTransaction[]): Promise<Map<string, SettlementFacts>> {
    const out = new Map<string, SettlementFacts>();
    if (!this.settlements) return out;
    const keys = txs.filter((t) => journalKind(t) === "settlement").map((t) => t.idempotencyKey);
    for (let i = 0; i < keys.length; i += 5_000) {
      for (const [key, f] of await this.settlements.amountsByEventKeys(keys.slice(i, i + 5_000))) out.set(key, f);
    }
    return out;
  }

  /** Builds and commits the next batch when a threshold is met; null when nothing is due. */
  private async buildNext(): Promise<AnchorBatch | null> {
    const head = await this.head();
    const docs = await this.sql.q<Array<{ kind: string; document_id: string; digest: string; created_at: Date }>>(
      `SELECT "kind", "document_id", "digest", "created_at" FROM "anchor_documents"
        WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" IS NULL ORDER BY "created_at", "kind", "document_id" LIMIT $3`,
      this.chainId,
      this.anchor,
      this.maxCount,
    );
    const [oldest] = await this.ledger.listJournal(head.afterSequence, 1);
    if (oldest === undefined && docs.length === 0) return null;
    const room = this.maxCount - docs.length;
    // Gapless journal: sequence after + room exists iff at least `room` transactions are waiting.
    const full = room === 0 || (oldest !== undefined && (await this.ledger.listJournal(head.afterSequence + BigInt(room) - 1n, 1)).length > 0);
    const oldestAt = Math.min(oldest?.bookedAt.getTime() ?? Infinity, docs[0]?.created_at.getTime() ?? Infinity);
    if (!full && this.now().getTime() - oldestAt < this.maxAgeMs) return null;

    const t0 = performance.now();
    const txs = oldest === undefined || room === 0 ? [] : await this.loadJournal(head.afterSequence, room);
    const t1 = performance.now();
    txs.forEach((t, i) => {
      // The journal is gapless; anything else means the ledger broke its contract.
      if (t.sequence !== head.afterSequence + BigInt(i) + 1n) throw new Error(`journal gap: expected sequence ${head.afterSequence + BigInt(i) + 1n}, got ${t.sequence}`);
    });
    const facts = await this.factsFor(txs);
    const t2 = performance.now();
    const ctx = { chainId: this.chainId, anchor: this.anchor, batchId: head.nextBatchId };
    const leaves: Array<{ leaf: AnyLeaf; subject: string }> = [
      ...txs.map((t) => ({ leaf: { type: "journal" as const, leaf: journalLeaf(ctx, t, facts.get(t.idempotencyKey) ?? null) }, subject: t.id })),
      ...docs.map((d) => ({ leaf: { type: "document" as const, leaf: documentLeaf(ctx, { kind: d.kind, id: d.document_id, digest: d.digest }) }, subject: `${d.kind}:${d.document_id}` })),
    ];
    if (leaves.length > MAX_UINT32) throw new Error("batch too large for uint32 count");
    const hashes = leaves.map((l) => leafHash(l.leaf));
    const t3 = performance.now();
    const root = merkleRoot(hashes);
    const t4 = performance.now();
    const totals = currencyTotals(txs);
    const firstSequence = head.afterSequence + 1n;
    const lastSequence = head.afterSequence + BigInt(txs.length);
    const preimage: BatchPreimage = {
      format: BATCH_FORMAT,
      chainId: this.chainId,
      anchor: this.anchor,
      batchId: head.nextBatchId,
      previousRoot: head.previousRoot,
      firstSequence,
      lastSequence,
      count: BigInt(leaves.length),
      currencyTotalsDigest: currencyTotalsDigest(totals),
    };
    const digest = totalsDigest(preimage);
    const key = this.senderKey(head.nextBatchId);
    const at = this.now();
    try {
      await this.sql.transaction(async (tx) => {
        await tx.q(
          `INSERT INTO "anchor_batches" ("chain_id", "anchor_address", "batch_id", "root", "leaf_count", "journal_count", "first_sequence",
             "last_sequence", "currency_totals", "totals_digest", "previous_root", "status", "sender_key", "created_at", "updated_at")
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, 'built', $12, $13, $13)`,
          this.chainId,
          this.anchor,
          head.nextBatchId,
          root,
          leaves.length,
          txs.length,
          firstSequence,
          lastSequence,
          JSON.stringify(totals.map((t) => ({ currency: t.currency, total: t.total.toString() }))),
          digest,
          head.previousRoot,
          key,
          at,
        );
        await tx.q(
          `INSERT INTO "anchor_leaves" ("chain_id", "anchor_address", "batch_id", "position", "kind", "subject_id", "leaf_hash", "leaf_values")
           SELECT $1, $2, $3, * FROM unnest($4::int[], $5::text[], $6::text[], $7::text[], $8::jsonb[])`,
          this.chainId,
          this.anchor,
          head.nextBatchId,
          leaves.map((_, i) => i),
          leaves.map((l) => l.leaf.type),
          leaves.map((l) => l.subject),
          hashes,
          leaves.map((l) => JSON.stringify(leafValuesJson(l.leaf))),
        );
        if (docs.length > 0) {
          const claimed = await tx.q<Array<{ kind: string }>>(
            `UPDATE "anchor_documents" d SET "batch_id" = $3
               FROM unnest($4::text[], $5::text[]) AS x("kind", "document_id")
              WHERE d."chain_id" = $1 AND d."anchor_address" = $2 AND d."kind" = x."kind" AND d."document_id" = x."document_id" AND d."batch_id" IS NULL
              RETURNING d."kind"`,
            this.chainId,
            this.anchor,
            head.nextBatchId,
            docs.map((d) => d.kind),
            docs.map((d) => d.document_id),
          );
          // Another process put one of them in its batch first: give up this one (rolled back).
          if (claimed.length !== docs.length) throw Object.assign(new Error("documents claimed concurrently"), { code: "23505" });
        }
      });
    } catch (e) {
      // Another process built this batch id (or anchored one of these subjects) first: nothing of
      // ours was written; the next tick starts from its batch.
      if (isUniqueViolation(e)) {
        this.log?.info({ batchId: head.nextBatchId.toString() }, "batch built concurrently by another process");
        return null;
      }
      throw e;
    }
    const ms = (a: number, b: number) => Math.round(b - a);
    this.log?.info(
      {
        batchId: head.nextBatchId.toString(),
        count: leaves.length,
        firstSequence: firstSequence.toString(),
        lastSequence: lastSequence.toString(),
        root,
        ms: { journal: ms(t0, t1), settlements: ms(t1, t2), leaves: ms(t2, t3), tree: ms(t3, t4), commit: ms(t4, performance.now()) },
      },
      "anchor batch built",
    );
    return (await this.getBatch(head.nextBatchId))!;
  }

  /** Hands a built batch to the sender (idempotent by key) and records that it is submitted. */
  private async submit(batch: AnchorBatch): Promise<void> {
    const data = this.contract.interface.encodeFunctionData("anchorBatch", [batch.batchId, batch.root, batch.count, batch.totalsDigest]);
    const tx = await this.sender.submit({ key: batch.senderKey, purpose: PURPOSE, from: this.anchorer, to: this.anchor, data });
    await this.sql.q(
      `UPDATE "anchor_batches" SET "status" = 'submitted', "tx_hash" = $4, "updated_at" = $5
        WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3 AND "status" = 'built'`,
      this.chainId,
      this.anchor,
      batch.batchId,
      tx.hash,
      this.now(),
    );
  }

  /** Sets a batch's chain state; returns true when something changed. */
  private async setState(b: { batchId: bigint; from: BatchStatus }, to: BatchStatus, at: { txHash: string | null; blockNumber: bigint | null; blockHash: string | null }): Promise<boolean> {
    const rows = await this.sql.q<Array<{ batch_id: bigint }>>(
      `UPDATE "anchor_batches" SET "status" = $4, "tx_hash" = coalesce($5, "tx_hash"), "block_number" = $6, "block_hash" = $7, "updated_at" = $8
        WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3 AND "status" = $9
          AND ("status" <> $4 OR "block_hash" IS DISTINCT FROM $7 OR "tx_hash" IS DISTINCT FROM coalesce($5, "tx_hash"))
        RETURNING "batch_id"`,
      this.chainId,
      this.anchor,
      b.batchId,
      to,
      at.txHash,
      at.blockNumber,
      at.blockHash,
      this.now(),
      b.from,
    );
    return rows.length > 0;
  }

  /** Follows every batch that is submitted but not final: from the index, else from the sender. */
  private async follow(): Promise<AnchorTickResult["updated"]> {
    const rows = await this.sql.q<BatchRow[]>(
      `SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" IN ('submitted', 'observed', 'safe')
        ORDER BY "batch_id"`,
      this.chainId,
      this.anchor,
    );
    const updated: AnchorTickResult["updated"] = [];
    const problems: Error[] = [];
    for (const r of rows) {
      const b = toBatch(r);
      const sent = await this.sender.get(b.senderKey);
      if (sent?.status === "reverted") {
        if (await this.setState({ batchId: b.batchId, from: b.status }, "reverted", { txHash: sent.hash, blockNumber: null, blockHash: null })) {
          updated.push({ batchId: b.batchId, from: b.status, to: "reverted" });
        }
        problems.push(
          AnchorErrors.batchReverted(`anchoring transaction ${sent.hash} of batch ${b.batchId} reverted${sent.revertReason ? `: ${sent.revertReason}` : ""}`, {
            details: { batchId: b.batchId.toString(), txHash: sent.hash, reason: sent.revertReason },
          }),
        );
        continue;
      }
      let next: { status: BatchStatus; txHash: string | null; blockNumber: bigint | null; blockHash: string | null } | null = null;
      if (this.indexer) {
        const events = (await this.indexer.events({ contract: "SettlementAnchor", name: "BatchAnchored", args: { batchId: b.batchId.toString() } })).filter(
          (e) => e.chainId === this.chainId && getAddress(e.address) === this.anchor,
        );
        const ours = events.find((e) => e.args["root"]?.toLowerCase() === b.root);
        const other = events.find((e) => e.args["root"]?.toLowerCase() !== b.root);
        if (other) problems.push(this.foreignRoot(b.batchId, other));
        if (ours) next = { status: ours.state, txHash: ours.txHash, blockNumber: ours.blockNumber, blockHash: ours.blockHash };
        else if (b.status !== "submitted") next = { status: "submitted", txHash: sent?.hash ?? null, blockNumber: null, blockHash: null };
      } else if (sent?.status === "mined") {
        next = { status: b.status === "submitted" ? "observed" : b.status, txHash: sent.hash, blockNumber: sent.blockNumber, blockHash: sent.blockHash };
      } else if (sent && b.status !== "submitted") {
        next = { status: "submitted", txHash: sent.hash, blockNumber: null, blockHash: null };
      }
      if (next && (await this.setState({ batchId: b.batchId, from: b.status }, next.status, next))) {
        if (next.status !== b.status) updated.push({ batchId: b.batchId, from: b.status, to: next.status });
        this.log?.info({ batchId: b.batchId.toString(), from: b.status, to: next.status, txHash: next.txHash }, "anchor batch state");
      }
    }
    if (problems[0]) throw problems[0];
    return updated;
  }

  private foreignRoot(batchId: bigint, e: IndexedEvent) {
    return AnchorErrors.chainMismatch(`batch ${batchId} was anchored on chain with root ${e.args["root"]} (tx ${e.txHash}), not the root this database built`, {
      details: { batchId: batchId.toString(), txHash: e.txHash, rootOnChain: e.args["root"] },
    });
  }

  /**
   * Listener for ChainIndexer.onChange: removed BatchAnchored events put their batch back to
   * "submitted" (the sender re-broadcasts); new or advanced ones set observed/safe/final.
   * Idempotent; `tick()` re-reads the index anyway, so a failed delivery is recovered.
   */
  onIndexed(change: IndexerChange): Promise<void> {
    return this.exclusive(async () => {
      if (change.chainId !== this.chainId) return;
      const ours = (e: IndexedEvent) => e.name === "BatchAnchored" && e.contract === "SettlementAnchor" && getAddress(e.address) === this.anchor;
      const problems: Error[] = [];
      for (const e of change.removed.filter(ours)) {
        await this.sql.q(
          `UPDATE "anchor_batches" SET "status" = 'submitted', "block_number" = NULL, "block_hash" = NULL, "updated_at" = $5
            WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3 AND "block_hash" = $4 AND "status" IN ('observed', 'safe', 'final')`,
          this.chainId,
          this.anchor,
          BigInt(e.args["batchId"]!),
          e.blockHash,
          this.now(),
        );
        this.log?.warn({ batchId: e.args["batchId"], txHash: e.txHash, blockHash: e.blockHash }, "anchor batch rolled back by a reorganisation");
      }
      const [maxRow] = await this.sql.q<Array<{ batch_id: bigint | null }>>(
        `SELECT max("batch_id") AS batch_id FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2`,
        this.chainId,
        this.anchor,
      );
      // Ids up to the chain's last batch at start-up (an empty database continued after them) and
      // up to our own last batch are known; a BatchAnchored beyond both is another writer's.
      const { chainLast } = await this.start();
      const ownLast = maxRow?.batch_id ?? 0n;
      const lastId = ownLast > chainLast ? ownLast : chainLast;
      for (const e of change.changed.filter(ours)) {
        const batchId = BigInt(e.args["batchId"]!);
        const b = await this.getBatch(batchId);
        if (b === null) {
          // Ids below our first batch are the chain's history before this database; beyond our last, another writer.
          if (batchId > lastId) problems.push(this.foreignRoot(batchId, e));
          continue;
        }
        if (e.args["root"]?.toLowerCase() !== b.root) {
          problems.push(this.foreignRoot(batchId, e));
          continue;
        }
        if (b.status === "built" || b.status === "reverted") continue;
        await this.setState({ batchId, from: b.status }, e.state, { txHash: e.txHash, blockNumber: e.blockNumber, blockHash: e.blockHash });
      }
      if (problems[0]) throw problems[0];
    });
  }
}

