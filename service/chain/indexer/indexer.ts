/**
 * The chain event index: follows the deployment's contracts from their deploy block, keeps a
 * database copy of their logs with confirmation states, and rolls it back on reorganisations.
 *
 * One poll: (1) check the stored tip against the node (one header); on a mismatch walk the stored
 * window of unfinalized headers down to the common ancestor and roll back to it; (2) ingest block
 * ranges up to the node's head, one database transaction per range, each range's headers linked
 * by parent hash to the stored tip and each log's block hash checked against the node's block at
 * that height; (3) move events to safe/final after checking the node still has the stored blocks
 * at those heights; (4) hand listeners what changed. A step that finds the node contradicting
 * itself (a reorg happening during the poll) is retried from (1).
 */
import { getAddress, type Provider } from "ethers";
import { failureCodes } from "../../db/errors.js";
import type { SqlRunner } from "../../db/sql.js";
import { isAppError, type AppError } from "../../errors.js";
import { startLoop, type Loop, type OutagePolicy } from "../../loop.js";
import { isLocalChain, type DeploymentRecord } from "../deployment-record.js";
import { ChangeAccumulator } from "./change.js";
import { LogDecoder, type RawLog } from "./decode.js";
import { IndexerErrors } from "./errors.js";
import { isTooManyResults, NodeClient, redactedMessage, type BlockHeader, type LogQuery } from "./rpc.js";
import { IndexStore, type Cursor } from "./store.js";
import type {
  Confirmation,
  EventFilter,
  FinalityMode,
  IndexedEvent,
  IndexerChange,
  IndexerListener,
  IndexerLog,
  IndexHead,
} from "./types.js";

export interface ChainIndexerOptions {
  sql: SqlRunner;
  provider: Provider;
  record: DeploymentRecord;
  /** Depth for "final" when the chain's tags are not used (local chains): a block is final once this many blocks are on top of it. Default 12. */
  confirmations?: number;
  /** Depth for "safe" likewise. Default 2. */
  safeDepth?: number;
  /** Largest block range per eth_getLogs; halved on "too many results" answers, grown back after successes. Default 2,000. */
  maxBlocksPerQuery?: number;
  /** Logs per ingested range the block span adapts to (one database transaction per range). Default 10,000. */
  targetLogsPerRange?: number;
  /**
   * A poll stops ingesting after the range that reaches this many events (the change it returns is
   * held in memory); the loop polls again at once. Default 100,000.
   */
  maxEventsPerPoll?: number;
  /** Where safe/final heights come from; default "auto" (see FinalityMode). */
  finality?: FinalityMode;
  log?: IndexerLog;
  /** Called when the background loop stops on an error it cannot get past (a reorg beyond finality, a wrong chain). */
  onFatal?: (error: AppError) => void;
}

export const INDEXER_DEFAULTS = { confirmations: 12, safeDepth: 2, maxBlocksPerQuery: 2000, targetLogsPerRange: 10_000, maxEventsPerPoll: 100_000, finality: "auto" as FinalityMode };

/** First eth_getLogs span, in blocks (see `span`). */
const INITIAL_SPAN = 100;

interface FetchedRange {
  first: BlockHeader;
  last: BlockHeader;
  events: IndexedEvent[];
  /** Headers to store in the window. */
  blocks: BlockHeader[];
}

/** The node answered inconsistently within one step (a reorg under way): the step is retried. */
class Unsettled extends Error {}

const FATAL = new Set([IndexerErrors.reorgBeyondFinality.code, IndexerErrors.chainMismatch.code, IndexerErrors.deploymentMismatch.code]);

const consoleLog: IndexerLog = {
  info: () => undefined,
  warn: (o, m) => console.warn(`[chain-indexer] ${m ?? ""}`, o),
  error: (o, m) => console.error(`[chain-indexer] ${m ?? ""}`, o),
};

function integer(name: string, v: number | undefined, fallback: number, min: number, max: number): number {
  const x = v ?? fallback;
  if (!Number.isSafeInteger(x) || x < min || x > max) {
    throw IndexerErrors.invalidOption(`${name} must be an integer in [${min}, ${max}], got ${String(v)}`, { fields: [{ field: name, message: `integer in [${min}, ${max}]` }] });
  }
  return x;
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

export class ChainIndexer {
  readonly chainId: bigint;
  private readonly node: NodeClient;
  private readonly store: IndexStore;
  private readonly decoder: LogDecoder;
  private readonly record: DeploymentRecord;
  private readonly contractsKey: string;
  private readonly confirmations: number;
  private readonly safeDepth: number;
  private readonly maxBlocksPerQuery: number;
  private readonly logsPerRange: number;
  private readonly maxEventsPerPoll: number;
  private readonly finality: FinalityMode;
  private readonly log: IndexerLog;
  private readonly onFatal: ((e: AppError) => void) | undefined;
  private readonly queries: LogQuery[];

  /**
   * Current eth_getLogs span in blocks: starts small (a dense chain must not put its whole history
   * in one transaction), then follows the log density towards LOGS_PER_RANGE per range; halves on
   * "too many results".
   */
  private span: number;
  private verified = false;
  private cursorId: bigint | null = null;
  private useTags: boolean | null = null;
  private waiting = false;
  /** The last poll stopped at maxEventsPerPoll before the node's head. */
  private behind = false;
  private fatalError: AppError | null = null;
  private readonly listeners = new Set<{ fn: IndexerListener; pending: IndexerChange[] }>();
  private serial: Promise<unknown> = Promise.resolve();
  private loop: Loop | null = null;

  constructor(opts: ChainIndexerOptions) {
    this.record = opts.record;
    this.chainId = BigInt(opts.record.chainId);
    this.node = new NodeClient(opts.provider);
    this.store = new IndexStore(opts.sql);
    this.decoder = new LogDecoder(opts.record);
    this.confirmations = integer("confirmations", opts.confirmations, INDEXER_DEFAULTS.confirmations, 0, 1_000_000);
    this.safeDepth = integer("safeDepth", opts.safeDepth, INDEXER_DEFAULTS.safeDepth, 0, this.confirmations);
    this.maxBlocksPerQuery = integer("maxBlocksPerQuery", opts.maxBlocksPerQuery, INDEXER_DEFAULTS.maxBlocksPerQuery, 1, 1_000_000);
    this.maxEventsPerPoll = integer("maxEventsPerPoll", opts.maxEventsPerPoll, INDEXER_DEFAULTS.maxEventsPerPoll, 1, 100_000_000);
    this.logsPerRange = integer("targetLogsPerRange", opts.targetLogsPerRange, INDEXER_DEFAULTS.targetLogsPerRange, 1, 1_000_000);
    this.finality = opts.finality ?? INDEXER_DEFAULTS.finality;
    if (!["auto", "tags", "depth"].includes(this.finality)) throw IndexerErrors.invalidOption(`finality must be auto, tags or depth`, { fields: [{ field: "finality", message: "auto | tags | depth" }] });
    if (opts.record.deployBlock < 1) throw IndexerErrors.invalidOption("the deployment record's deployBlock must be at least 1");
    this.log = opts.log ?? consoleLog;
    this.onFatal = opts.onFatal;
    this.span = Math.min(this.maxBlocksPerQuery, INITIAL_SPAN);

    const anchor = opts.record.contracts.SettlementAnchor.address;
    const vault = opts.record.contracts.SettlementVault.address;
    const token = opts.record.token.address;
    this.contractsKey = [anchor, vault, token].map((a) => a.toLowerCase()).join(",");
    const transfer = this.decoder.topicOf("Stablecoin", "Transfer");
    const vaultTopic = `0x${vault.slice(2).toLowerCase().padStart(64, "0")}`;
    // Everything the anchor and the vault emit; of the token, only Transfers from or to the vault.
    this.queries = [{ address: [anchor, vault] }, { address: token, topics: [transfer, vaultTopic] }, { address: token, topics: [transfer, null, vaultTopic] }];
  }

  /** One step (see the file comment). Serialised: a call during another poll runs after it. */
  poll(): Promise<IndexerChange> {
    const run = this.serial.then(() => this.pollNow());
    this.serial = run.catch(() => undefined);
    return run;
  }

  /** Registers a listener, called after each poll that changed something, once the changes are committed. Returns an unsubscribe function. */
  onChange(listener: IndexerListener): () => void {
    const entry = { fn: listener, pending: [] as IndexerChange[] };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** Current (not rolled back) events of this deployment, oldest first. */
  async events(filter: EventFilter = {}): Promise<IndexedEvent[]> {
    const cursor = await this.currentCursor();
    if (cursor === null) return [];
    const args = filter.args === undefined ? undefined : Object.fromEntries(Object.entries(filter.args).map(([k, v]) => [k, normaliseArg(v)]));
    return this.store.events(cursor.id, { ...filter, ...(args === undefined ? {} : { args }) });
  }

  async head(): Promise<IndexHead> {
    const c = await this.currentCursor();
    if (c === null) {
      const before = BigInt(this.record.deployBlock) - 1n;
      return { indexed: before, safe: before, final: before };
    }
    return { indexed: c.indexedBlock, safe: c.safeBlock, final: c.finalBlock };
  }

  /** The error that stopped this indexer for good (a reorg beyond finality), if any. */
  fatal(): AppError | null {
    return this.fatalError;
  }

  /** Polls every `intervalMs` (never two polls at once) until `stop()` or a fatal error; skips a poll while `when()` is false. */
  start(opts: { intervalMs: number; when?: () => boolean; outage?: OutagePolicy }): void {
    if (this.loop !== null) return;
    const intervalMs = integer("intervalMs", opts.intervalMs, 1000, 1, 3_600_000);
    this.loop = startLoop(
      "chain-indexer",
      intervalMs,
      async () => {
        try {
          // Catching up: poll again at once while polls stop at maxEventsPerPoll (stop() ends it).
          do await this.poll();
          while (this.behind && this.loop !== null && (opts.when?.() ?? true));
        } catch (e) {
          if (isAppError(e) && FATAL.has(e.code)) {
            this.log.error({ err: e, code: e.code, chainId: this.chainId.toString() }, `chain indexer STOPPED: ${e.message}`);
            const loop = this.loop;
            this.loop = null;
            void loop?.stop();
            this.onFatal?.(e);
            return;
          }
          throw e;
        }
      },
      this.log,
      { ...(opts.when === undefined ? {} : { when: opts.when }), ...(opts.outage === undefined ? {} : { outage: opts.outage }) },
    );
  }

  async stop(): Promise<void> {
    const loop = this.loop;
    this.loop = null;
    await loop?.stop();
  }

  private async pollNow(): Promise<IndexerChange> {
    if (this.fatalError !== null) throw this.fatalError;
    const acc = new ChangeAccumulator(this.chainId);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.step(acc);
          break;
        } catch (e) {
          if (!(e instanceof Unsettled)) throw e;
          if (attempt >= 3) throw IndexerErrors.rpc(`the node's chain kept changing during the poll: ${e.message}`);
          this.log.warn({ chainId: this.chainId.toString(), attempt, reason: e.message }, "chain changed during the poll; retrying the step");
        }
      }
    } catch (e) {
      if (isAppError(e) && e.code === IndexerErrors.reorgBeyondFinality.code) {
        this.fatalError = e;
        this.log.error({ err: e, code: e.code, chainId: this.chainId.toString() }, `chain indexer refuses to continue: ${e.message}`);
      }
      // What was committed before the failure is still delivered: listeners must not miss it.
      await this.deliver(acc.result());
      throw e;
    }
    const change = acc.result();
    await this.deliver(change);
    return change;
  }

  private async deliver(change: IndexerChange): Promise<void> {
    const has = change.changed.length > 0 || change.removed.length > 0;
    for (const l of this.listeners) {
      if (has) l.pending.push(change);
      while (l.pending.length > 0) {
        try {
          await l.fn(l.pending[0]!);
          l.pending.shift();
        } catch (err) {
          // The database away (a lost connection, a failover) is an outage, said by its code as the
          // workers' loops say it, not an error with a stack: the listener catches up once it is back.
          const failure = failureCodes(err);
          if (failure.transient) {
            this.log.warn(
              { ...failure, pendingChanges: l.pending.length, chainId: this.chainId.toString() },
              "indexer listener could not write (the database fails transiently); its changes are re-delivered, in order, after the next poll",
            );
          } else {
            this.log.error(
              { err, pendingChanges: l.pending.length, chainId: this.chainId.toString() },
              "indexer listener failed; its changes are re-delivered, in order, after the next poll",
            );
          }
          break;
        }
      }
    }
  }

  private async currentCursor(): Promise<Cursor | null> {
    if (this.cursorId !== null) return this.store.cursorById(this.cursorId);
    return this.store.findCursor(this.chainId, this.contractsKey);
  }

  private async step(acc: ChangeAccumulator): Promise<void> {
    this.behind = false;
    let c = await this.ensureCursor(acc);
    const head = await this.node.blockNumber();
    if (head < c.finalBlock) {
      // A lagging node (behind a load balancer) or a chain that lost final blocks: either way
      // nothing can be done until it is past our final block again; the hash checks then tell.
      if (!this.waiting) this.log.warn({ head: head.toString(), final: c.finalBlock.toString() }, "node head is below the index's final block; waiting");
      this.waiting = true;
      return;
    }
    this.waiting = false;
    const targets = await this.targets(head);
    const tip = c.indexedBlock <= head ? await this.node.block(c.indexedBlock) : null;
    if (tip === null || tip.hash !== c.indexedHash) c = await this.rollBack(c, head, acc);
    c = await this.ingest(c, head, targets, acc);
    await this.promote(c, targets, acc);
  }

  private async ensureCursor(acc: ChangeAccumulator): Promise<Cursor> {
    const deployBlock = BigInt(this.record.deployBlock);
    const deployHash = this.record.deployBlockHash.toLowerCase();
    if (!this.verified) {
      const chainId = await this.node.chainId();
      if (chainId !== this.chainId) {
        throw IndexerErrors.chainMismatch(`the provider is on chain ${chainId}, the deployment record on chain ${this.chainId}`);
      }
      const deployed = await this.node.block(deployBlock);
      if (deployed === null || deployed.hash !== deployHash) {
        throw IndexerErrors.deploymentMismatch(
          `block ${deployBlock} of the node is ${deployed?.hash ?? "missing"}, the deployment record says ${deployHash}: redeploy (a local chain was reset?) or fix the record`,
          { details: { deployBlock: this.record.deployBlock, recordHash: deployHash, nodeHash: deployed?.hash ?? null } },
        );
      }
      this.verified = true;
    }
    if (this.cursorId !== null) return this.store.cursorById(this.cursorId);

    let c = await this.store.findCursor(this.chainId, this.contractsKey);
    const local = isLocalChain(this.chainId);
    if (c === null) {
      c = await this.store.createCursor({ chainId: this.chainId, contractsKey: this.contractsKey, deployBlock, deployBlockHash: deployHash }, await this.header(deployBlock - 1n));
    } else if (c.deployBlockHash !== deployHash) {
      if (!local) {
        throw IndexerErrors.deploymentMismatch(
          `the index of these contracts was built from deploy block hash ${c.deployBlockHash}, the record says ${deployHash}`,
          { details: { indexed: c.deployBlockHash, record: deployHash } },
        );
      }
      // A restarted local chain redeploys at the same addresses: the old index describes a chain that is gone.
      const r = await this.store.reset(c, { deployBlock, deployBlockHash: deployHash }, await this.header(deployBlock - 1n));
      acc.remove(r.removed);
      this.log.warn({ chainId: this.chainId.toString(), removedEvents: r.removed.length }, "local chain was reset: index of the old chain dropped");
      c = r.cursor;
    }
    if (local) await this.dropStaleCursors();
    this.cursorId = c.id;
    return c;
  }

  /**
   * On a local chain, the index of another deployment whose deploy block is no longer on the node
   * describes a chain that was reset: dead data, dropped so dev databases do not pile it up.
   */
  private async dropStaleCursors(): Promise<void> {
    for (const other of await this.store.otherCursors(this.chainId, this.contractsKey)) {
      const b = await this.node.block(other.deployBlock);
      if (b !== null && b.hash === other.deployBlockHash) continue;
      const n = await this.store.drop(other.id);
      this.log.warn({ chainId: this.chainId.toString(), contracts: other.contractsKey, removedEvents: n }, "dropped the index of a deployment on a reset local chain");
    }
  }

  private async header(n: bigint): Promise<BlockHeader> {
    const h = await this.node.block(n);
    if (h === null) throw new Unsettled(`block ${n} vanished`);
    return h;
  }

  private async tagsUsable(head: bigint): Promise<boolean> {
    if (this.useTags !== null) return this.useTags;
    if (this.finality === "depth" || (this.finality === "auto" && isLocalChain(this.chainId))) {
      this.useTags = false;
      return false;
    }
    if (this.finality === "tags") {
      this.useTags = true;
      return true;
    }
    let finalized: BlockHeader | null = null;
    try {
      finalized = await this.node.block("finalized");
    } catch (e) {
      this.log.info({ reason: redactedMessage(e) }, "node has no 'finalized' tag: using confirmation depths");
    }
    // A node answering `finalized` with its head while the chain is longer than our depth (a
    // dev chain under another chain id) has no meaningful tag; depths are the safe reading.
    this.useTags = finalized !== null && !(finalized.number >= head && head > BigInt(this.confirmations));
    if (!this.useTags) this.log.info({ chainId: this.chainId.toString() }, "using confirmation depths for safe/final");
    return this.useTags;
  }

  /** Heights the node considers safe and final now (not yet clamped to what is indexed). */
  private async targets(head: bigint): Promise<{ safe: bigint; final: bigint }> {
    const depth = { safe: head - BigInt(this.safeDepth), final: head - BigInt(this.confirmations) };
    if (!(await this.tagsUsable(head))) return depth;
    const [finalized, safe] = await Promise.all([this.node.block("finalized"), this.node.block("safe").catch(() => null)]);
    if (finalized === null) throw IndexerErrors.rpc("the node returned no 'finalized' block");
    const final = min(finalized.number, head);
    return { final, safe: max(final, min(safe?.number ?? depth.safe, head)) };
  }

  private async rollBack(c: Cursor, head: bigint, acc: ChangeAccumulator): Promise<Cursor> {
    const window = await this.store.window(c.id, min(c.indexedBlock, head));
    let ancestor: { number: bigint; hash: string } | null = null;
    for (let i = 0; i < window.length && ancestor === null; i += 32) {
      const chunk = window.slice(i, i + 32);
      const onNode = await this.node.blocks(chunk.map((b) => b.number));
      ancestor = chunk.find((b) => onNode.get(b.number)?.hash === b.hash) ?? null;
    }
    if (ancestor === null || ancestor.number < c.finalBlock) {
      const finalOnNode = await this.node.block(c.finalBlock);
      throw IndexerErrors.reorgBeyondFinality(
        `the node no longer has block ${c.finalBlock} as the index does (stored ${window.at(-1)?.hash ?? "?"}, node ${finalOnNode?.hash ?? "none"}): ` +
          `a reorganisation deeper than finality (${this.useTags ? "the node's finalized tag" : `${this.confirmations} confirmations`}); the index is left untouched`,
        { details: { chainId: this.chainId.toString(), finalBlock: c.finalBlock.toString(), indexedBlock: c.indexedBlock.toString() } },
      );
    }
    const r = await this.store.rollback(c, ancestor);
    acc.remove(r.removed);
    this.log.warn(
      {
        chainId: this.chainId.toString(),
        ancestor: ancestor.number.toString(),
        depth: (c.indexedBlock - ancestor.number).toString(),
        removedEvents: r.removed.length,
      },
      "chain reorganisation: index rolled back to the common ancestor",
    );
    return r.cursor;
  }

  private async fetchLogs(from: bigint, to: bigint): Promise<RawLog[]> {
    const parts = await Promise.all(this.queries.map((q) => this.node.logs(from, to, q)));
    const seen = new Set<string>();
    const all: RawLog[] = [];
    for (const part of parts) {
      for (const l of part) {
        const k = `${l.transactionHash}:${l.logIndex}`;
        if (seen.has(k)) continue; // a Transfer from the vault to itself matches both token queries
        seen.add(k);
        all.push(l);
      }
    }
    return all.sort((a, b) => (a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1));
  }

  /**
   * Fetches one range's logs and headers, checks they describe one chain (consecutive headers
   * linked, each log's block hash the node's at that height) and decodes the logs. Nothing is
   * written: the caller commits ranges in order, and fetches the next range meanwhile.
   */
  private async fetchRange(from: bigint, head: bigint, targets: { safe: bigint; final: bigint }): Promise<FetchedRange> {
    let to = min(head, from + BigInt(this.span) - 1n);
    let logs: RawLog[];
    for (;;) {
      try {
        logs = await this.fetchLogs(from, to);
        break;
      } catch (e) {
        if (!isTooManyResults(e)) throw e;
        if (to === from) throw IndexerErrors.rpc(`eth_getLogs refuses even the single block ${from}: ${redactedMessage(e)}`);
        this.span = Math.max(1, Math.floor(Number(to - from + 1n) / 2));
        to = from + BigInt(this.span) - 1n;
        this.log.info({ from: from.toString(), span: this.span }, "eth_getLogs answered 'too many results': smaller ranges");
      }
    }
    // Next span: about targetLogsPerRange logs per range (bounded transactions, and ranges small
    // enough to overlap fetching with committing), never above maxBlocksPerQuery.
    const blocks = Number(to - from + 1n);
    if (logs.length > this.logsPerRange) this.span = Math.max(1, Math.floor((blocks * this.logsPerRange) / logs.length));
    else if (logs.length < this.logsPerRange / 4 && blocks === this.span) this.span = Math.min(this.maxBlocksPerQuery, this.span * 2);

    // Headers: the whole unfinalized part of the range (the reorg window), both ends (to link the
    // range to the stored tip and to store the new tip), and every block holding a log (to prove
    // each log comes from the node's block at that height, final ones included).
    const need = new Set<bigint>([from, to]);
    for (let n = max(from, targets.final); n <= to; n++) need.add(n);
    for (const l of logs) need.add(l.blockNumber);
    const numbers = [...need].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const headers = await this.node.blocks(numbers);
    for (const n of numbers) if (!headers.get(n)) throw new Unsettled(`block ${n} vanished`);
    const at = (n: bigint) => headers.get(n)!;
    for (let i = 1; i < numbers.length; i++) {
      const n = numbers[i]!;
      if (numbers[i - 1] === n - 1n && at(n).parentHash !== at(n - 1n).hash) throw new Unsettled(`blocks ${n - 1n} and ${n} do not link`);
    }
    for (const l of logs) {
      if (at(l.blockNumber).hash !== l.blockHash) throw new Unsettled(`a log of block ${l.blockNumber} names another block than the node's`);
    }

    const events: IndexedEvent[] = logs.map((l) => {
      const d = this.decoder.decode(l);
      const state: Confirmation = l.blockNumber <= targets.final ? "final" : l.blockNumber <= targets.safe ? "safe" : "observed";
      return {
        chainId: this.chainId,
        txHash: l.transactionHash,
        logIndex: l.logIndex,
        blockNumber: l.blockNumber,
        blockHash: l.blockHash,
        address: d.address,
        contract: d.contract,
        name: d.name,
        args: d.args,
        state,
      };
    });
    const unknown = events.filter((e) => e.name === "Unknown");
    if (unknown.length > 0) this.log.warn({ count: unknown.length, first: unknown[0]!.txHash }, "logs the deployment's ABIs do not describe (indexed as Unknown)");
    return { first: at(from), last: at(to), events, blocks: numbers.filter((n) => n >= targets.final || n === to).map(at) };
  }

  /** Commits a fetched range after the one the cursor ends with (one database transaction). */
  private async commitRange(c: Cursor, r: FetchedRange, acc: ChangeAccumulator): Promise<Cursor> {
    if (r.first.number !== c.indexedBlock + 1n || r.first.parentHash !== c.indexedHash) {
      throw new Unsettled(`block ${r.first.number} no longer follows the indexed block ${c.indexedBlock}`);
    }
    const { cursor, inserted } = await this.store.ingest(c, r.events, r.blocks, r.last);
    acc.add(inserted, true);
    return cursor;
  }

  /** Ingests up to `head`, fetching range k+1 from the node while range k is being committed. */
  private async ingest(c: Cursor, head: bigint, targets: { safe: bigint; final: bigint }, acc: ChangeAccumulator): Promise<Cursor> {
    const fetch = (from: bigint) => {
      const p = this.fetchRange(from, head, targets);
      p.catch(() => undefined); // awaited below; a commit failing first must not leave it unhandled
      return p;
    };
    let next = c.indexedBlock < head ? fetch(c.indexedBlock + 1n) : null;
    let events = 0;
    this.behind = false;
    while (next !== null) {
      const range = await next;
      events += range.events.length;
      const more = range.last.number < head;
      this.behind = more && events >= this.maxEventsPerPoll;
      next = more && !this.behind ? fetch(range.last.number + 1n) : null;
      c = await this.commitRange(c, range, acc);
    }
    return c;
  }

  private async promote(c: Cursor, targets: { safe: bigint; final: bigint }, acc: ChangeAccumulator): Promise<void> {
    const wantFinal = min(max(targets.final, c.finalBlock), c.indexedBlock);
    const wantSafe = min(max(targets.safe, wantFinal), c.indexedBlock);
    if (wantFinal === c.finalBlock && wantSafe <= c.safeBlock) return;
    // Only heights whose header is stored can be checked against the node: the highest at or below each.
    const f = await this.store.storedAtOrBelow(c.id, wantFinal);
    const s = await this.store.storedAtOrBelow(c.id, wantSafe);
    if (f === null || s === null || f.number < c.finalBlock) throw IndexerErrors.inconsistent(`no stored header at or below ${wantFinal} in the window of cursor ${c.id}`);
    const onNode = await this.node.blocks([...new Set([f.number, s.number])]);
    for (const b of [f, s]) {
      if (onNode.get(b.number)?.hash !== b.hash) throw new Unsettled(`block ${b.number} changed before it could become safe/final`);
    }
    const safe = max(max(s.number, c.safeBlock), f.number);
    if (f.number === c.finalBlock && safe === c.safeBlock) return;
    const r = await this.store.promote(c, safe, f.number);
    acc.add(r.changed, false);
  }
}

/** Filter values compare as stored: addresses checksummed, other hex lowercase. */
function normaliseArg(v: string): string {
  if (/^0x[0-9a-fA-F]{40}$/.test(v)) return getAddressSafe(v);
  if (/^0x[0-9a-fA-F]*$/.test(v)) return v.toLowerCase();
  return v;
}

function getAddressSafe(v: string): string {
  try {
    return getAddress(v.toLowerCase());
  } catch {
    return v;
  }
}
