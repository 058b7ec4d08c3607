/**
 * AnchorWorker: anchors the ledger's journal in consecutive batches on SettlementAnchor, plus
 * document digests queued for the next batch. The read side (proofs, states) is `service.ts`.
 *
 * Batches (see README.md for the argument):
 * - Batch N covers the journal range right after batch N-1's (the journal is gapless and sequence
 *   order is commit order, so "everything after the last anchored sequence" is well defined), plus
 *   the documents queued meanwhile. It is built when `batchMaxCount` leaves are waiting or the
 *   oldest waiting one is older than `batchMaxAgeMs`. Every leaf is a pure function of its journal
 *   transaction (a settlement's gross and fee lines are in its metadata) or of its document.
 * - The batch row and all its leaves are COMMITTED (status "built") before anything is sent, under
 *   a primary key (chain, contract, batch id) and a unique key per subject: a crash at any point
 *   never loses a batch, never gives one journal range a second id, and never anchors a
 *   transaction twice. A "built" batch is (re)submitted through the TxSender with the key
 *   `anchor:<chainId>:<anchor>:<batchId>`, which makes the submission itself idempotent.
 * - totalsDigest = keccak256(abi.encode(BATCH_FORMAT, chainId, anchor, batchId, previousRoot,
 *   firstSequence, lastSequence, count, currencyTotalsDigest)): every batch names its predecessor's
 *   root, so a verifier spots a gap or a rewritten batch with `rootOf(batchId - 1)`. The
 *   per-currency totals digest commits to 32 random bytes drawn here (`totalsSalt`, stored with the
 *   batch): a gateway's proof shows the digest without totals or salt, and unsalted it gave the
 *   other gateways' amounts away by enumeration.
 * - Pipelining: up to `maxBatchesInFlight` batches may be built/submitted but not yet mined; the
 *   sender's nonces mine them in id order.
 * States: built -> submitted -> observed -> safe -> final, from the event index (BatchAnchored of
 * our batch with our root); a reorg that removes the event puts the batch back to "submitted" (the
 * TxSender re-broadcasts the same transaction). Without an index, "mined" from the sender means
 * "observed" (enough for tests and tools; production wires the indexer).
 */
import { randomBytes } from "node:crypto";
import { getAddress, ZeroHash, type Provider } from "ethers";
import { ISettlementAnchor__factory, type ISettlementAnchor } from "../chain/contracts.js";
import type { EventFilter, IndexedEvent, IndexerChange } from "../chain/indexer/types.js";
import type { ChainTx, TxIntent } from "../chain/sender.js";
import { isUniqueViolation } from "../db/errors.js";
import type { JournalTransaction, Ledger } from "../ledger/types.js";
import { AnchorErrors } from "./errors.js";
import { BATCH_FORMAT, currencyTotals, currencyTotalsDigest, documentLeaf, journalLeaf, leafHash, leafValuesJson, totalsDigest, type AnyLeaf } from "./leaf.js";
import type { AnchorBatch, AnchorStore, BatchStatus, ChainPosition } from "./store.js";
import { merkleRoot } from "./tree.js";

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

export interface AnchorWorkerOptions {
  store: AnchorStore;
  ledger: Pick<Ledger, "listJournal">;
  /** Reads SettlementAnchor (start-up consistency check). */
  provider: Provider;
  sender: AnchorSender;
  /** Address of the ANCHOR_ROLE key the sender signs with. */
  anchorer: string;
  /** The event index: source of observed/safe/final and of reorgs. Without it, the sender's "mined" means observed. */
  indexer?: AnchorIndex | undefined;
  batchMaxCount: number;
  batchMaxAgeMs: number;
  maxBatchesInFlight: number;
  now: () => Date;
  log?: AnchorLog | undefined;
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
const JOURNAL_PAGE = 5_000;
const MAX_UINT32 = 4_294_967_295;

/** Where the next batch starts: after our last batch, or after what the chain already holds. */
interface Head {
  nextBatchId: bigint;
  previousRoot: string;
  afterSequence: bigint;
}

export class AnchorWorker {
  private readonly store: AnchorStore;
  private readonly chainId: bigint;
  private readonly anchor: string;
  private readonly contract: ISettlementAnchor;
  private readonly anchorer: string;
  /** The start-up check's result: the chain's last batch id when our database had none. */
  private started: Promise<{ chainLast: bigint; chainLastRoot: string }> | null = null;
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: AnchorWorkerOptions) {
    this.store = opts.store;
    this.chainId = opts.store.chainId;
    this.anchor = opts.store.anchor;
    this.anchorer = getAddress(opts.anchorer);
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
    for (const batch of await this.store.batchesIn(["built"])) {
      await this.submit(batch);
      result.submitted.push(batch.batchId);
    }
    // A reverted batch stops anchoring: the next id cannot be chained to a batch that is not on
    // chain, and what made it revert (another writer, a frozen anchorer) needs an operator.
    const [reverted] = await this.store.batchesIn(["reverted"]);
    if (reverted) {
      if (problems[0]) throw problems[0];
      throw AnchorErrors.batchReverted(`anchoring is stopped: the transaction ${reverted.txHash ?? "?"} of batch ${reverted.batchId} reverted`, {
        details: { batchId: reverted.batchId.toString(), txHash: reverted.txHash },
      });
    }
    while ((await this.store.countIn(["built", "submitted", "reverted"])) < this.opts.maxBatchesInFlight) {
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
    const { chainId } = await this.opts.provider.getNetwork();
    if (chainId !== this.chainId) throw AnchorErrors.chainMismatch(`the provider is on chain ${chainId}, anchoring is configured for chain ${this.chainId}`);
    if ((await this.opts.provider.getCode(this.anchor)) === "0x") throw AnchorErrors.chainMismatch(`no SettlementAnchor at ${this.anchor} on chain ${this.chainId}`);
    const last = await this.store.last();
    if (last === null) {
      const chainLast = await this.lastOnChain();
      const chainLastRoot = chainLast === 0n ? ZeroHash : await this.rootOf(chainLast);
      if (chainLast > 0n) {
        this.opts.log?.warn({ chainLast: chainLast.toString(), anchor: this.anchor }, "anchor contract already holds batches this database did not write: continuing after them");
      }
      return { chainLast, chainLastRoot };
    }
    const beyond = await this.rootOf(last.batchId + 1n);
    if (beyond !== ZeroHash) {
      throw AnchorErrors.chainMismatch(
        `batch ${last.batchId + 1n} is anchored on chain ${this.chainId} at ${this.anchor} but this database's last batch is ${last.batchId}: another writer uses this contract, or the database is behind the chain`,
        { details: { lastBatchInDatabase: last.batchId.toString(), rootOnChain: beyond } },
      );
    }
    // Every batch not yet final, and the last final one: bounded by the in-flight window.
    for (const b of await this.store.unsettledAndLastFinal()) {
      const onChain = await this.rootOf(b.batchId);
      if (onChain !== ZeroHash && onChain !== b.root) {
        throw AnchorErrors.chainMismatch(`batch ${b.batchId} is anchored on chain with root ${onChain}, this database built it with ${b.root}`, {
          details: { batchId: b.batchId.toString(), rootOnChain: onChain, rootInDatabase: b.root },
        });
      }
      if (onChain === ZeroHash && b.status === "final") {
        throw AnchorErrors.chainMismatch(
          `batch ${b.batchId} is final in this database but not anchored on chain ${this.chainId} at ${this.anchor} (a reset chain under a kept database?)`,
          { details: { batchId: b.batchId.toString() } },
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
    const last = await this.store.last();
    if (last) return { nextBatchId: last.batchId + 1n, previousRoot: last.root, afterSequence: last.lastSequence };
    const s = await this.start();
    return { nextBatchId: s.chainLast + 1n, previousRoot: s.chainLastRoot, afterSequence: 0n };
  }

  private async loadJournal(after: bigint, n: number): Promise<JournalTransaction[]> {
    const out: JournalTransaction[] = [];
    let cursor = after;
    while (out.length < n) {
      const page = await this.opts.ledger.listJournal(cursor, Math.min(JOURNAL_PAGE, n - out.length));
      out.push(...page);
      if (page.length === 0) break;
      cursor = page[page.length - 1]!.sequence;
    }
    return out;
  }

  /** Builds and commits the next batch when a threshold is met; null when nothing is due. */
  private async buildNext(): Promise<AnchorBatch | null> {
    const { ledger, batchMaxCount, batchMaxAgeMs, now, log } = this.opts;
    const head = await this.head();
    const docs = await this.store.queuedDocuments(batchMaxCount);
    const [oldest] = await ledger.listJournal(head.afterSequence, 1);
    if (oldest === undefined && docs.length === 0) return null;
    const room = batchMaxCount - docs.length;
    // Gapless journal: sequence after + room exists iff at least `room` transactions are waiting.
    const full = room === 0 || (oldest !== undefined && (await ledger.listJournal(head.afterSequence + BigInt(room) - 1n, 1)).length > 0);
    const oldestAt = Math.min(oldest?.bookedAt.getTime() ?? Infinity, docs[0]?.created_at.getTime() ?? Infinity);
    if (!full && now().getTime() - oldestAt < batchMaxAgeMs) return null;

    const t0 = performance.now();
    const txs = oldest === undefined || room === 0 ? [] : await this.loadJournal(head.afterSequence, room);
    const t1 = performance.now();
    txs.forEach((t, i) => {
      // The journal is gapless; anything else means the ledger broke its contract.
      if (t.sequence !== head.afterSequence + BigInt(i) + 1n) throw new Error(`journal gap: expected sequence ${head.afterSequence + BigInt(i) + 1n}, got ${t.sequence}`);
    });
    const ctx = { chainId: this.chainId, anchor: this.anchor, batchId: head.nextBatchId };
    const leaves: Array<{ leaf: AnyLeaf; subject: string }> = [
      ...txs.map((t) => ({ leaf: { type: "journal" as const, leaf: journalLeaf(ctx, t) }, subject: t.id })),
      ...docs.map((d) => ({ leaf: { type: "document" as const, leaf: documentLeaf(ctx, { kind: d.kind, id: d.document_id, digest: d.digest }) }, subject: `${d.kind}:${d.document_id}` })),
    ];
    if (leaves.length > MAX_UINT32) throw new Error("batch too large for uint32 count");
    const hashes = leaves.map((l) => leafHash(l.leaf));
    const t2 = performance.now();
    const root = merkleRoot(hashes);
    const t3 = performance.now();
    const totals = currencyTotals(txs);
    const totalsSalt = `0x${randomBytes(32).toString("hex")}`;
    const firstSequence = head.afterSequence + 1n;
    const lastSequence = head.afterSequence + BigInt(txs.length);
    const digest = totalsDigest({
      format: BATCH_FORMAT,
      chainId: this.chainId,
      anchor: this.anchor,
      batchId: head.nextBatchId,
      previousRoot: head.previousRoot,
      firstSequence,
      lastSequence,
      count: BigInt(leaves.length),
      currencyTotalsDigest: currencyTotalsDigest(totals, totalsSalt),
    });
    try {
      await this.store.insertBatch({
        batchId: head.nextBatchId,
        root,
        journalCount: txs.length,
        firstSequence,
        lastSequence,
        currencyTotals: totals,
        totalsSalt,
        totalsDigest: digest,
        previousRoot: head.previousRoot,
        senderKey: this.senderKey(head.nextBatchId),
        leaves: leaves.map((l, i) => ({ ...l, hash: hashes[i]!, values: leafValuesJson(l.leaf) })),
        documents: docs.map((d) => ({ kind: d.kind, id: d.document_id })),
        at: now(),
      });
    } catch (e) {
      // Another process built this batch id (or anchored one of these subjects) first: nothing of
      // ours was written; the next tick starts from its batch.
      if (isUniqueViolation(e)) {
        log?.info({ batchId: head.nextBatchId.toString() }, "batch built concurrently by another process");
        return null;
      }
      throw e;
    }
    const ms = (a: number, b: number) => Math.round(b - a);
    log?.info(
      {
        batchId: head.nextBatchId.toString(),
        count: leaves.length,
        firstSequence: firstSequence.toString(),
        lastSequence: lastSequence.toString(),
        root,
        ms: { journal: ms(t0, t1), leaves: ms(t1, t2), tree: ms(t2, t3), commit: ms(t3, performance.now()) },
      },
      "anchor batch built",
    );
    return (await this.store.getBatch(head.nextBatchId))!;
  }

  /** Hands a built batch to the sender (idempotent by key) and records that it is submitted. */
  private async submit(batch: AnchorBatch): Promise<void> {
    const data = this.contract.interface.encodeFunctionData("anchorBatch", [batch.batchId, batch.root, batch.count, batch.totalsDigest]);
    const tx = await this.opts.sender.submit({ key: batch.senderKey, purpose: PURPOSE, from: this.anchorer, to: this.anchor, data });
    await this.store.markSubmitted(batch.batchId, tx.hash, this.opts.now());
  }

  /** Follows every batch that is submitted but not final: from the index, else from the sender. */
  private async follow(): Promise<AnchorTickResult["updated"]> {
    const updated: AnchorTickResult["updated"] = [];
    const problems: Error[] = [];
    for (const b of await this.store.batchesIn(["submitted", "observed", "safe"])) {
      const sent = await this.opts.sender.get(b.senderKey);
      if (sent?.status === "reverted") {
        if (await this.store.setState(b.batchId, b.status, "reverted", { txHash: sent.hash, blockNumber: null, blockHash: null }, this.opts.now())) {
          updated.push({ batchId: b.batchId, from: b.status, to: "reverted" });
        }
        problems.push(
          AnchorErrors.batchReverted(`anchoring transaction ${sent.hash} of batch ${b.batchId} reverted${sent.revertReason ? `: ${sent.revertReason}` : ""}`, {
            details: { batchId: b.batchId.toString(), txHash: sent.hash, reason: sent.revertReason },
          }),
        );
        continue;
      }
      let next: (ChainPosition & { status: BatchStatus }) | null = null;
      if (this.opts.indexer) {
        const events = (await this.opts.indexer.events({ contract: "SettlementAnchor", name: "BatchAnchored", args: { batchId: b.batchId.toString() } })).filter(
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
      if (next && (await this.store.setState(b.batchId, b.status, next.status, next, this.opts.now()))) {
        if (next.status !== b.status) updated.push({ batchId: b.batchId, from: b.status, to: next.status });
        this.opts.log?.info({ batchId: b.batchId.toString(), from: b.status, to: next.status, txHash: next.txHash }, "anchor batch state");
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
        await this.store.rollBack(BigInt(e.args["batchId"]!), e.blockHash, this.opts.now());
        this.opts.log?.warn({ batchId: e.args["batchId"], txHash: e.txHash, blockHash: e.blockHash }, "anchor batch rolled back by a reorganisation");
      }
      // Ids up to the chain's last batch at start-up (an empty database continued after them) and
      // up to our own last batch are known; a BatchAnchored beyond both is another writer's.
      const { chainLast } = await this.start();
      const ownLast = (await this.store.last())?.batchId ?? 0n;
      const lastId = ownLast > chainLast ? ownLast : chainLast;
      for (const e of change.changed.filter(ours)) {
        const batchId = BigInt(e.args["batchId"]!);
        const b = await this.store.getBatch(batchId);
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
        await this.store.setState(batchId, b.status, e.state, { txHash: e.txHash, blockNumber: e.blockNumber, blockHash: e.blockHash }, this.opts.now());
      }
      if (problems[0]) throw problems[0];
    });
  }
}
