/**
 * The whole-history audit (`npm run verify -- --history`): is the WHOLE journal, from sequence 1 to
 * the last anchored transaction, anchored on the pinned SettlementAnchor, with no gap, no rewritten
 * batch and no batch hidden? An inclusion proof answers for one transaction; nothing in it says that
 * a transaction the operator never anchored exists, or that a batch on chain is missing from what
 * the API shows.
 *
 * The chain is the list: every `BatchAnchored` event the pinned contract emitted (and `rootOf` of
 * each id), never the API's batches, which are only compared with it. For each batch on chain the
 * audit reads the API's preimage (journal range, count, previous root, per-currency totals and
 * their salt) and recomputes the event's totals digest from it, so the range and the previous root
 * it uses are the chain's; then it reads the batch's leaves (GET /v1/anchoring/batches/:id/leaves,
 * page by page: only one batch's leaf hashes are held at a time), recomputes every leaf hash from
 * its values and the root from those hashes, and recomputes every journal leaf from the journal
 * transaction the API serves beside it. Across batches: ranges contiguous from sequence 1, each
 * batch's previous root the chain's root of the batch before, and each transaction's
 * `previousHash` the anchored journal hash of the transaction before it (sequence 1: the genesis
 * hash). What is still waiting (the journal head beyond the last anchored sequence, batches built
 * or submitted but not on chain yet) is reported, not failed.
 *
 * Never throws on a bad history or a failing node or API: every problem is a failed check naming the
 * batch, position or sequence. Verdicts as `verifyProof`'s: `verified` (every check passed and every
 * batch is final), `not-final`, `unpinned` (no --anchor: the contract the API names was read), `failed`.
 */
import { getAddress, isAddress, ZeroHash, type Provider } from "ethers";
import { ISettlementAnchor__factory } from "../chain/contracts.js";
import { isLocalChain } from "../chain/local-chain.js";
import { GENESIS_HASH } from "../ledger/hash.js";
import {
  BATCH_FORMATS,
  batchCurrencyTotalsDigest,
  fieldsOf,
  journalHashBytes32,
  journalLeaf,
  leafFromJson,
  leafHash,
  leafValuesJson,
  settlementFactsOf,
  totalsDigest,
  type BatchFormat,
} from "./leaf.js";
import { journalFromJson, leafSettlementFacts, type ProofCheck, type ProofVerdict } from "./proof.js";
import { merkleRoot } from "./tree.js";

/** A batch as the API lists it (GET /v1/anchoring/batches): the fields the audit reads. */
export interface ApiBatch {
  chainId: string;
  anchor: string;
  batchId: string;
  root: string;
  count: number;
  firstSequence: string;
  lastSequence: string;
  format: string;
  currencyTotals: Array<{ currency: string; total: string }>;
  totalsSalt: string | null;
  currencyTotalsDigest: string;
  totalsDigest: string;
  previousRoot: string;
  status: string;
  transactionHash: string | null;
}

/** A leaf as GET /v1/anchoring/batches/:id/leaves serves it. */
export interface ApiLeaf {
  position: number;
  type: string;
  subject: string;
  hash: string;
  values: unknown;
  journalTransaction: unknown;
}

/** Where the audit reads the operator's side (the API in the CLI). */
export interface HistorySource {
  /** Every batch the operator lists, in any status. */
  batches(): Promise<ApiBatch[]>;
  /** A page of a batch's leaves after position `after` (null: from the first); null when the batch is unknown (404). */
  leaves(batchId: bigint, after: number | null): Promise<{ count: number; items: ApiLeaf[]; nextAfter: number | null } | null>;
  /** The journal head's sequence (0: an empty journal). */
  journalHead(): Promise<bigint>;
}

export interface HistoryOptions {
  /** The pinned SettlementAnchor; without it the API's contract is read and the verdict is at best `unpinned`. */
  anchor?: string;
  /** First block to read events from (the contract's deployment block saves reading the chain before it); default 0. */
  fromBlock?: number;
  /** Blocks per eth_getLogs call (providers cap the range); default 10,000. */
  blockRange?: number;
  /** Depth at which a block counts as final on a local chain (else the `finalized` tag decides); default 12. */
  finalityDepth?: number;
  /** Progress, one line per batch audited (the CLI prints it on stderr). */
  progress?: (line: string) => void;
}

export interface HistoryReport {
  ok: boolean;
  verdict: ProofVerdict;
  checks: ProofCheck[];
  /** The contract read. */
  contract?: string;
  /** Batches on chain, the journal range they anchor, the API's journal head and what waits. */
  summary?: {
    batchesOnChain: number;
    anchoredThrough: string;
    journalHead: string;
    unanchored: string;
    pendingBatches: string[];
    transactions: number;
    documents: number;
    final: boolean;
  };
}

interface ChainBatch {
  batchId: bigint;
  root: string;
  count: bigint;
  totalsDigest: string;
  blockNumber: number;
  blockHash: string;
  txHash: string;
}

/** Failures listed in a check's detail at most (then "and N more"). */
const SHOWN = 5;
const message = (e: unknown) => (e instanceof Error ? e.message.split("\n")[0]!.slice(0, 300) : String(e));

/** One check's findings: `problem` adds a failure; the check passes with `okDetail` when none was added. */
class Finding {
  readonly problems: string[] = [];
  constructor(readonly name: string) {}
  problem(p: string): void {
    this.problems.push(p);
  }
  check(okDetail: string): ProofCheck {
    if (this.problems.length === 0) return { name: this.name, ok: true, detail: okDetail };
    const more = this.problems.length - SHOWN;
    return { name: this.name, ok: false, detail: this.problems.slice(0, SHOWN).join("; ") + (more > 0 ? `; and ${more} more` : "") };
  }
}

/** The chain's BatchAnchored events from `contract` in [from, to], `step` blocks per call. */
async function batchEvents(provider: Provider, contract: string, from: number, to: number, step: number): Promise<ChainBatch[]> {
  const anchor = ISettlementAnchor__factory.connect(contract, provider);
  const out: ChainBatch[] = [];
  for (let start = from; start <= to; start += step) {
    const logs = await anchor.queryFilter(anchor.filters.BatchAnchored(), start, Math.min(to, start + step - 1));
    for (const log of logs) {
      out.push({
        batchId: log.args.batchId,
        root: log.args.root.toLowerCase(),
        count: log.args.count,
        totalsDigest: log.args.totalsDigest.toLowerCase(),
        blockNumber: log.blockNumber,
        blockHash: log.blockHash.toLowerCase(),
        txHash: log.transactionHash.toLowerCase(),
      });
    }
  }
  return out;
}

export async function auditHistory(source: HistorySource, provider: Provider, opts: HistoryOptions = {}): Promise<HistoryReport> {
  const checks: ProofCheck[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const failed = (contract?: string): HistoryReport => ({ ok: false, verdict: "failed", checks, ...(contract === undefined ? {} : { contract }) });
  const finalityDepth = opts.finalityDepth ?? 12;

  // The operator's list first: a batch mined after it was read is then only "pending" below, never "hidden".
  let listed: ApiBatch[];
  try {
    listed = await source.batches();
  } catch (e) {
    add("api", false, `cannot read the API's batches: ${message(e)}`);
    return failed();
  }
  const pinned = opts.anchor !== undefined && isAddress(opts.anchor) ? getAddress(opts.anchor) : null;
  const named = listed[0] === undefined ? null : getAddress(listed[0].anchor);
  if (opts.anchor === undefined) {
    add("trust-anchor", false, `not pinned: reading ${named ?? "no contract"}, the address the API names itself (anyone can deploy a SettlementAnchor and anchor what they like in it)`);
  } else {
    const others = [...new Set(listed.map((b) => getAddress(b.anchor)).filter((a) => a !== pinned))];
    add(
      "trust-anchor",
      pinned !== null && others.length === 0,
      pinned === null ? `--anchor ${JSON.stringify(opts.anchor)} is not an address` : others.length === 0 ? `${pinned} is the pinned SettlementAnchor` : `the API lists batches of ${others.join(", ")}, the pinned SettlementAnchor is ${pinned}`,
    );
  }
  const contract = pinned ?? named;
  if (contract === null) {
    add("chain-batches", false, "no contract to read: pin the SettlementAnchor with --anchor (the API lists no batch either)");
    return failed();
  }
  const anchor = ISettlementAnchor__factory.connect(contract, provider);

  let chainId: bigint;
  let latest: number;
  let events: ChainBatch[];
  try {
    ({ chainId } = await provider.getNetwork());
    const apiChains = [...new Set(listed.map((b) => b.chainId))];
    const ok = apiChains.every((c) => c === chainId.toString());
    add("chain-id", ok, ok ? `node is on chain ${chainId}` : `node is on chain ${chainId}, the API lists batches of chain ${apiChains.join(", ")}`);
    const code = await provider.getCode(contract);
    add("contract-code", code !== "0x", code !== "0x" ? `${(code.length - 2) / 2} bytes of code at ${contract}` : `no contract at ${contract}`);
    if (code === "0x") return failed(contract);
    latest = await provider.getBlockNumber();
    events = await batchEvents(provider, contract, opts.fromBlock ?? 0, latest, opts.blockRange ?? 10_000);
  } catch (e) {
    add("chain", false, `RPC error: ${message(e)}`);
    return failed(contract);
  }

  // ---- the chain's batches: ids 1..N, once each, the event's root in storage, nothing after N ----
  const chainBatches = new Finding("chain-batches");
  const byId = new Map<bigint, ChainBatch>();
  for (const e of events) {
    if (byId.has(e.batchId)) chainBatches.problem(`batch ${e.batchId} anchored twice (blocks ${byId.get(e.batchId)!.blockNumber} and ${e.blockNumber})`);
    else byId.set(e.batchId, e);
  }
  const ids = [...byId.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lastId = ids[ids.length - 1] ?? 0n;
  if (ids.length === 0) chainBatches.problem(`no BatchAnchored event from ${contract} in blocks ${opts.fromBlock ?? 0}..${latest}`);
  let expectedId = 1n;
  for (const id of ids) {
    if (id > expectedId) chainBatches.problem(`batch${id - expectedId === 1n ? ` ${expectedId} is` : `es ${expectedId}..${id - 1n} are`} missing on chain (before batch ${id})`);
    expectedId = id + 1n;
  }
  try {
    for (const id of ids) {
      const stored = (await anchor.rootOf(id, { blockTag: latest })).toLowerCase();
      if (stored !== byId.get(id)!.root) chainBatches.problem(`rootOf(${id}) = ${stored}, its BatchAnchored event says ${byId.get(id)!.root}`);
    }
    const beyond = (await anchor.rootOf(lastId + 1n, { blockTag: latest })).toLowerCase();
    if (beyond !== ZeroHash) chainBatches.problem(`rootOf(${lastId + 1n}) holds ${beyond} without a BatchAnchored event in the blocks read (start earlier: --from-block)`);
  } catch (e) {
    chainBatches.problem(`RPC error: ${message(e)}`);
  }
  const first = byId.get(ids[0] ?? 0n);
  const last = byId.get(lastId);
  checks.push(
    chainBatches.check(
      first === undefined || last === undefined ? "" : `${ids.length} batch${ids.length === 1 ? "" : "es"} on chain (ids 1..${lastId}, blocks ${first.blockNumber}..${last.blockNumber}); rootOf agrees with every BatchAnchored event`,
    ),
  );

  // ---- per batch, oldest first: the API's word against the chain's, leaf by leaf ----
  const apiById = new Map(listed.map((b) => [BigInt(b.batchId), b]));
  const listing = new Finding("batch-listing");
  const digests = new Finding("batch-digests");
  const previousRoots = new Finding("previous-roots");
  const ranges = new Finding("journal-ranges");
  const hashes = new Finding("leaf-hashes");
  const roots = new Finding("roots");
  const content = new Finding("leaf-content");
  const totals = new Finding("currency-totals");
  const links = new Finding("journal-chain");
  let transactions = 0;
  let documents = 0;
  /** The last sequence anchored so far, and the journal hash its leaf anchors (the genesis before sequence 1). */
  let anchoredThrough = 0n;
  let previousJournalHash = journalHashBytes32(GENESIS_HASH);

  for (const id of ids) {
    const onChain = byId.get(id)!;
    const api = apiById.get(id);
    if (api === undefined) listing.problem(`batch ${id} is on chain (block ${onChain.blockNumber}) but the API does not list it`);
    else {
      const diff = [
        ...(api.root === onChain.root ? [] : [`root ${api.root}, the chain's ${onChain.root}`]),
        ...(BigInt(api.count) === onChain.count ? [] : [`count ${api.count}, the chain's ${onChain.count}`]),
        ...(api.totalsDigest === onChain.totalsDigest ? [] : [`totalsDigest ${api.totalsDigest}, the chain's ${onChain.totalsDigest}`]),
        ...(api.transactionHash === null || api.transactionHash === onChain.txHash ? [] : [`transaction ${api.transactionHash}, the chain's ${onChain.txHash}`]),
        ...(api.status === "built" || api.status === "reverted" ? [`status ${api.status}, but it is on chain`] : []),
      ];
      if (diff.length > 0) listing.problem(`batch ${id}: the API lists ${diff.join(", ")}`);
    }

    // The preimage, bound by the event's digest: from here on its range and previous root are the chain's.
    let range: { first: bigint; last: bigint } | null = null;
    let statedTotals: Map<string, bigint> | null = null;
    if (api === undefined) digests.problem(`batch ${id}: no preimage (the API does not list it)`);
    else {
      try {
        if (!(BATCH_FORMATS as readonly string[]).includes(api.format)) throw new Error(`unknown batch format ${JSON.stringify(api.format)}`);
        const format = api.format as BatchFormat;
        const stated = api.currencyTotals.map((t) => ({ currency: t.currency, total: BigInt(t.total) }));
        const ctd = batchCurrencyTotalsDigest(format, stated, api.totalsSalt);
        const td = totalsDigest({
          format,
          chainId,
          anchor: contract,
          batchId: id,
          previousRoot: api.previousRoot,
          firstSequence: BigInt(api.firstSequence),
          lastSequence: BigInt(api.lastSequence),
          count: onChain.count,
          currencyTotalsDigest: ctd,
        });
        if (td !== onChain.totalsDigest) {
          digests.problem(`batch ${id}: totals digest recomputed from the API's preimage (journal ${api.firstSequence}..${api.lastSequence}, previous root ${api.previousRoot}) is ${td}, the chain's ${onChain.totalsDigest}`);
        } else {
          range = { first: BigInt(api.firstSequence), last: BigInt(api.lastSequence) };
          statedTotals = new Map(stated.map((t) => [t.currency, t.total]));
        }
      } catch (e) {
        digests.problem(`batch ${id}: ${message(e)}`);
      }
      const expected = id === 1n ? ZeroHash : (byId.get(id - 1n)?.root ?? null);
      if (expected === null) previousRoots.problem(`batch ${id}: batch ${id - 1n} is not on chain`);
      else if (api.previousRoot !== expected) previousRoots.problem(`batch ${id} names previous root ${api.previousRoot}, the chain's root of ${id === 1n ? "(none: batch 1)" : `batch ${id - 1n}`} is ${expected}`);
    }
    if (range !== null) {
      if (range.last >= range.first && range.first !== anchoredThrough + 1n) {
        ranges.problem(
          range.first > anchoredThrough + 1n
            ? `batch ${id} starts at sequence ${range.first}, the batches before end at ${anchoredThrough}: ${range.first - anchoredThrough - 1n} transaction(s) (${anchoredThrough + 1n}..${range.first - 1n}) in no batch`
            : `batch ${id} starts at sequence ${range.first}, the batches before end at ${anchoredThrough}: anchored twice`,
        );
      }
      if (range.last < range.first - 1n) ranges.problem(`batch ${id}: journal range ${range.first}..${range.last} is not a range`);
    }

    // The leaves, a page at a time.
    const leafHashes: string[] = [];
    const sums = new Map<string, bigint>();
    let nextSequence = range?.first ?? null;
    let nextPosition = 0;
    let lastLeafSequence: bigint | null = null;
    let after: number | null = null;
    let served: number | null = null;
    try {
      for (;;) {
        const page = await source.leaves(id, after);
        if (page === null) {
          hashes.problem(`batch ${id}: the API has no leaves for it (404)`);
          break;
        }
        served = page.count;
        for (const l of page.items) {
          const at = `batch ${id} position ${l.position}`;
          if (l.position !== nextPosition) hashes.problem(`${at}: expected position ${nextPosition} (a leaf missing or out of order)`);
          nextPosition = l.position + 1;
          let leaf;
          try {
            leaf = leafFromJson(l.values);
          } catch (e) {
            hashes.problem(`${at}: ${message(e)}`);
            leafHashes.push(String(l.hash));
            continue;
          }
          const h = leafHash(leaf);
          leafHashes.push(h);
          if (h !== l.hash) hashes.problem(`${at}: hash of its values is ${h}, the API says ${l.hash}`);
          if (leaf.type !== l.type) hashes.problem(`${at}: served as a ${l.type} leaf, its values are a ${leaf.type} leaf`);
          const b = leaf.leaf;
          if (b.chainId !== chainId || b.anchor !== contract || b.batchId !== id) hashes.problem(`${at}: bound to chain ${b.chainId}, contract ${b.anchor}, batch ${b.batchId}`);
          if (leaf.type === "document") {
            documents++;
            continue;
          }
          transactions++;
          const j = leaf.leaf;
          lastLeafSequence = j.sequence;
          if (nextSequence !== null) {
            if (j.sequence !== nextSequence) ranges.problem(`${at}: sequence ${j.sequence}, expected ${nextSequence} (the batch anchors ${range!.first}..${range!.last})`);
            nextSequence = j.sequence + 1n;
          }
          // The hash chain across every leaf: this transaction names the anchored hash of the one before.
          const tx = l.journalTransaction;
          if (tx === null || tx === undefined) {
            content.problem(`${at}: journal transaction ${j.journalTransactionId} (sequence ${j.sequence}) is missing from the journal`);
            previousJournalHash = j.journalHash;
            continue;
          }
          try {
            const t = journalFromJson(tx);
            const legacy = settlementFactsOf(t.metadata) === null ? leafSettlementFacts(j) : null;
            const again = leafValuesJson({ type: "journal", leaf: journalLeaf({ chainId: j.chainId, anchor: j.anchor, batchId: j.batchId }, t, legacy, j.format) });
            const values = leafValuesJson(leaf);
            const i = values.findIndex((v, k) => JSON.stringify(v) !== JSON.stringify(again[k]));
            if (i >= 0) {
              const name = fieldsOf(leaf)[i]?.[0] ?? `value ${i}`;
              content.problem(`${at}: journal transaction ${t.id} (sequence ${t.sequence}) no longer matches its leaf: ${name} anchored ${JSON.stringify(values[i])}, the journal has ${JSON.stringify(again[i])}`);
            }
            if (journalHashBytes32(t.previousHash) !== previousJournalHash) {
              links.problem(`sequence ${t.sequence} names previous hash ${t.previousHash}, the anchored journal hash before it is ${previousJournalHash.slice(2)}`);
            }
            for (const p of t.postings) if (p.direction === "debit") sums.set(p.currency, (sums.get(p.currency) ?? 0n) + p.amount);
          } catch (e) {
            content.problem(`${at}: ${message(e)}`);
          }
          previousJournalHash = j.journalHash;
        }
        if (page.nextAfter === null) break;
        // A page that does not move forward, an empty page that says more follow, or more leaves than
        // the chain's count: stop reading (the counts fail below). Each page read adds a leaf, so a
        // batch is read in at most its count's pages, whatever an API answers.
        if ((after !== null && page.nextAfter <= after) || page.items.length === 0 || BigInt(leafHashes.length) > onChain.count) {
          hashes.problem(`batch ${id}: the API's pages do not end (next after ${page.nextAfter}, ${leafHashes.length} leaves read)`);
          break;
        }
        after = page.nextAfter;
      }
    } catch (e) {
      hashes.problem(`batch ${id}: cannot read its leaves: ${message(e)}`);
    }
    if (served !== null && BigInt(served) !== onChain.count) hashes.problem(`batch ${id}: the API says ${served} leaves, the chain's count is ${onChain.count}`);
    if (leafHashes.length > 0 || served !== null) {
      if (BigInt(leafHashes.length) !== onChain.count) roots.problem(`batch ${id}: ${leafHashes.length} leaves served, the chain's count is ${onChain.count}`);
      try {
        const root = merkleRoot(leafHashes);
        if (root !== onChain.root) roots.problem(`batch ${id}: its leaves give root ${root}, the chain holds ${onChain.root}`);
      } catch (e) {
        roots.problem(`batch ${id}: ${message(e)}`);
      }
    }
    if (range !== null && nextSequence !== null && nextSequence !== range.last + 1n) {
      ranges.problem(`batch ${id} anchors ${range.first}..${range.last}, its journal leaves end at ${nextSequence - 1n}`);
    }
    if (statedTotals !== null) {
      const all = [...new Set([...statedTotals.keys(), ...sums.keys()])].sort();
      const off = all.filter((c) => (statedTotals.get(c) ?? 0n) !== (sums.get(c) ?? 0n));
      if (off.length > 0) totals.problem(`batch ${id}: ${off.map((c) => `${c} anchored ${statedTotals.get(c) ?? 0n}, the journal sums ${sums.get(c) ?? 0n}`).join(", ")}`);
    }
    // Without a preimage the chain confirms, the leaves say where the batch ended (so one bad batch is reported once).
    const through = range?.last ?? (lastLeafSequence ?? anchoredThrough);
    if (through > anchoredThrough) anchoredThrough = through;
    opts.progress?.(`batch ${id}: ${onChain.count} leaves audited`);
  }

  // ---- what the API lists that is not on chain (yet) ----
  const pending: string[] = [];
  for (const b of [...apiById.values()].sort((x, y) => (BigInt(x.batchId) < BigInt(y.batchId) ? -1 : 1))) {
    const id = BigInt(b.batchId);
    if (byId.has(id)) continue;
    if (b.status === "built" || b.status === "submitted" || b.status === "reverted") {
      pending.push(`${id} (${b.status})`);
      continue;
    }
    // Said to be mined: it may have been after the block the audit read; the chain decides.
    try {
      const now = (await anchor.rootOf(id)).toLowerCase();
      if (now === b.root && id > lastId) pending.push(`${id} (${b.status}, anchored after block ${latest})`);
      else listing.problem(`the API lists batch ${id} as ${b.status}, ${now === ZeroHash ? "the chain has no such batch" : `the chain holds root ${now} for it`}`);
    } catch (e) {
      listing.problem(`batch ${id}: RPC error: ${message(e)}`);
    }
  }

  checks.push(listing.check(`the API lists every batch on chain with its root, count, totals digest and transaction${pending.length > 0 ? `; ${pending.length} more not on chain yet` : ""}`));
  checks.push(digests.check(`every BatchAnchored totals digest recomputed from the API's preimage (journal range, count, previous root, per-currency totals with their salt)`));
  checks.push(previousRoots.check(`every batch names the chain's root of the batch before it (batch 1: the zero root)`));
  checks.push(ranges.check(`journal 1..${anchoredThrough} anchored without a gap or an overlap, each batch's leaves exactly its range in order`));
  checks.push(hashes.check(`${transactions + documents} leaf hashes recomputed from their values, each bound to chain ${chainId}, this contract and its batch`));
  checks.push(roots.check(`every batch's root recomputed from its leaves is the chain's`));
  checks.push(content.check(`${transactions} journal transactions recomputed into their leaves as the journal holds them now${documents > 0 ? ` (${documents} document leaves: their digests as anchored)` : ""}`));
  checks.push(totals.check(`every batch's per-currency totals are the sums of its transactions' debit postings`));
  checks.push(links.check(`every transaction names the anchored journal hash of the one before it (sequence 1: the genesis hash)`));

  let head: bigint | null = null;
  try {
    head = await source.journalHead();
    const ok = head >= anchoredThrough;
    add(
      "unanchored-tail",
      ok,
      ok
        ? `journal head ${head}, anchored through ${anchoredThrough}: ${head - anchoredThrough} transaction(s) not anchored yet${pending.length > 0 ? `; batches ${pending.join(", ")} not on chain yet` : ""}`
        : `journal head ${head} is before the last anchored sequence ${anchoredThrough}: the journal lost anchored transactions`,
    );
  } catch (e) {
    add("unanchored-tail", false, `cannot read the journal head: ${message(e)}`);
  }

  let final = false;
  if (last !== undefined) {
    try {
      const block = await provider.getBlock(last.blockNumber);
      const canonical = block !== null && block.hash?.toLowerCase() === last.blockHash;
      let finalized: number;
      if (isLocalChain(chainId)) finalized = latest - finalityDepth + 1;
      else {
        const tagged = await provider.getBlock("finalized").catch(() => null);
        finalized = tagged !== null ? tagged.number : latest - finalityDepth + 1;
      }
      final = canonical && last.blockNumber <= finalized;
      const notFinal = ids.filter((id) => byId.get(id)!.blockNumber > finalized);
      const confirmations = latest - last.blockNumber + 1;
      add(
        "finality",
        canonical,
        !canonical
          ? `block ${last.blockNumber} of batch ${lastId} is no longer canonical`
          : `the last batch has ${confirmations} confirmation${confirmations === 1 ? "" : "s"}; ${notFinal.length === 0 ? "every batch is final" : `batch${notFinal.length === 1 ? "" : "es"} ${notFinal.join(", ")} not final yet`}${isLocalChain(chainId) ? ` (local chain: final at depth ${finalityDepth})` : ""}`,
      );
    } catch (e) {
      add("finality", false, `RPC error: ${message(e)}`);
    }
  }

  const failedNames = checks.filter((c) => !c.ok).map((c) => c.name);
  const verdict: ProofVerdict =
    failedNames.length === 0 ? (final ? "verified" : "not-final") : failedNames.length === 1 && failedNames[0] === "trust-anchor" && opts.anchor === undefined ? "unpinned" : "failed";
  return {
    ok: failedNames.length === 0,
    verdict,
    checks,
    contract,
    summary: {
      batchesOnChain: ids.length,
      anchoredThrough: anchoredThrough.toString(),
      journalHead: head === null ? "?" : head.toString(),
      unanchored: head === null ? "?" : (head > anchoredThrough ? head - anchoredThrough : 0n).toString(),
      pendingBatches: pending,
      transactions,
      documents,
      final,
    },
  };
}

/** The verdict in one line, as the CLI prints it. */
export function historyVerdictLine(report: HistoryReport, pinHint: string): string {
  const n = report.checks.length;
  const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
  const s = report.summary;
  const what = s === undefined ? "" : `: journal 1..${s.anchoredThrough} anchored in ${s.batchesOnChain} batch${s.batchesOnChain === 1 ? "" : "es"}, ${s.unanchored} transaction(s) after it not anchored yet`;
  switch (report.verdict) {
    case "verified":
      return `VERIFIED: all ${n} checks passed${what}, every batch final`;
    case "not-final":
      return `VERIFIED, NOT FINAL: all ${n} checks passed${what}, but a batch's block is not final yet: a reorganisation can still remove it; audit again later`;
    case "unpinned":
      return `NOT VERIFIED: contract not pinned: the other ${n - 1} checks passed, but only against ${report.contract ?? "the contract"}, the address the API names itself. ${pinHint}`;
    case "failed":
      return `NOT VERIFIED: ${failed.length} check(s) failed: ${failed.join(", ")}`;
  }
}

/**
 * The API as a HistorySource: GET /v1/anchoring/batches (every page), GET …/batches/:id/leaves,
 * and the journal head from GET /v1/transactions?limit=1 (newest first). `key` is a finance:read key.
 */
export function apiHistorySource(baseUrl: string, key: string, pageSize = 1000): HistorySource {
  const base = baseUrl.replace(/\/+$/, "");
  const get = async (path: string, allow404 = false): Promise<unknown> => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(60_000) });
    if (allow404 && res.status === 404) return null;
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { code?: unknown; detail?: unknown };
      throw new Error(`GET ${path} answered ${res.status}${typeof body.code === "string" ? ` ${body.code}` : ""}${typeof body.detail === "string" ? `: ${body.detail}` : ""}`);
    }
    return res.json();
  };
  return {
    async batches() {
      const out: ApiBatch[] = [];
      let before: string | null = null;
      do {
        const page = (await get(`/v1/anchoring/batches?limit=1000${before === null ? "" : `&before=${before}`}`)) as { items: ApiBatch[]; nextBefore: string | null };
        out.push(...page.items);
        // Newest first, so each page's cursor is below the last: one that is not, or an empty page
        // that says more follow, is an API that would be read forever.
        const next = page.nextBefore;
        if (next !== null && (page.items.length === 0 || !/^[0-9]{1,19}$/.test(next) || (before !== null && BigInt(next) >= BigInt(before)))) {
          throw new Error(`the API's batch pages do not end (nextBefore ${JSON.stringify(next).slice(0, 40)} after ${before ?? "the first page"}, ${out.length} batches read)`);
        }
        before = next;
      } while (before !== null);
      return out;
    },
    async leaves(batchId, after) {
      const page = await get(`/v1/anchoring/batches/${batchId}/leaves?limit=${pageSize}${after === null ? "" : `&after=${after}`}`, true);
      return page as { count: number; items: ApiLeaf[]; nextAfter: number | null } | null;
    },
    async journalHead() {
      const page = (await get("/v1/transactions?limit=1")) as { items: Array<{ sequence: string }> };
      return page.items[0] === undefined ? 0n : BigInt(page.items[0].sequence);
    },
  };
}
