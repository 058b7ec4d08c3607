/**
 * Inclusion proofs: the JSON an auditor keeps (`AnchorProof`), and `verifyProof`, which checks one
 * against any JSON-RPC endpoint using nothing but the proof itself and a trust anchor the verifier
 * fixes out of band: the SettlementAnchor address the operator publishes (`anchor`). No database,
 * no deployment record, no ABI file (ISettlementAnchor's ABI is compiled in, generated at build
 * time). The proof names its contract itself, and anyone can deploy a SettlementAnchor and anchor a
 * batch of their choosing in it: without a pinned address every other check can pass on such a
 * contract, so the verdict is then `unpinned`, never `verified`.
 *
 * What a passing report establishes: the leaf is exactly the journal transaction (or document)
 * shown in the proof, bound to this chain, contract and batch; the Merkle path leads from it to the
 * root; that root is what SettlementAnchor holds for the batch and what its BatchAnchored event
 * committed, together with a totals digest whose preimage (journal range, count, per-currency
 * totals with their salt, previous root) the proof carries; the previous root is the one the chain holds for the
 * batch before, so a rewritten or missing batch in between would show; and the transaction is on
 * the canonical chain with the reported number of confirmations. What it does not establish is
 * listed in the report (`unverified`): fields the proof carries for reading that no check covers.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress, isAddress, ZeroHash, type Provider } from "ethers";
import type { JournalTransaction, Posting } from "../ledger/types.js";
import { journalToJson, type JournalTransactionJson } from "../ledger/json.js";
import { ISettlementAnchor__factory } from "../chain/contracts.js";
import { isLocalChain } from "../chain/local-chain.js";
import {
  BATCH_FORMAT_V1,
  BATCH_FORMATS,
  batchCurrencyTotalsDigest,
  fieldsOf,
  jsonDocumentDigest,
  journalLeaf,
  PERIOD_CLOSE_DOCUMENT,
  settlementFactsOf,
  leafEncoding,
  leafFieldsJson,
  leafFromJson,
  leafValues,
  leafValuesJson,
  standardLeafHash,
  totalsDigest,
  type AnchoredTransaction,
  type AnyLeaf,
  type BatchFormat,
  type BatchPreimage,
  type JournalLeaf,
} from "./leaf.js";
import { revertData } from "../chain/revert.js";

export const PROOF_FORMAT = "entrepot-anchor-proof";
export const PROOF_VERSION = 1;

/** Inclusion state of a journal transaction or document (spec §3). */
export type AnchorState = "unanchored" | "queued" | "submitted" | "observed" | "safe" | "final";
const ANCHOR_STATES: readonly AnchorState[] = ["unanchored", "queued", "submitted", "observed", "safe", "final"];

export interface AnchorProof {
  format: typeof PROOF_FORMAT;
  version: typeof PROOF_VERSION;
  /** Decimal string. */
  chainId: string;
  /** SettlementAnchor address (checksummed). */
  anchor: string;
  batchId: string;
  root: string;
  leaf: {
    type: AnyLeaf["type"];
    /** The leaf-format constant (first value of the leaf). */
    format: string;
    /** ABI types, StandardMerkleTree's `leafEncoding`. */
    encoding: string[];
    /** Values in encoding order, integers as decimal strings. */
    values: unknown[];
    /** The same values by name, for reading. */
    fields: Record<string, unknown>;
    /** keccak256(keccak256(abi.encode(encoding, values))). */
    hash: string;
    /** Index of the leaf among the batch's leaves (tree input order). */
    position: number;
  };
  /** Sibling hashes from the leaf up to the root (OpenZeppelin MerkleProof order). */
  proof: string[];
  /** The preimage of the batch's totalsDigest, which chains it to the batch before. */
  batch: {
    /** `entrepot.anchor.batch.v2` (salted totals digest), or v1 for a batch anchored before it. */
    format: BatchFormat;
    previousRoot: string;
    firstSequence: string;
    lastSequence: string;
    count: string;
    /**
     * The batch's totals per currency, which sum every gateway's transactions in the batch: null in a
     * proof for one gateway (withheld), whose check then takes `currencyTotalsDigest` as given; it
     * is still part of `totalsDigest`, which the chain holds.
     */
    currencyTotals: Array<{ currency: string; total: string }> | null;
    /**
     * v2: the batch's random salt, committed in `currencyTotalsDigest` beside the totals and shown
     * and withheld with them (so the digest alone gives no guess of the totals away); null in a
     * v1 batch (none: its digest is unsalted), and absent from a v1 proof written before v2.
     */
    totalsSalt?: string | null;
    currencyTotalsDigest: string;
    totalsDigest: string;
  };
  /** Where the anchoring transaction is, as the service last saw it (the verifier re-reads the chain). */
  anchoring: {
    state: AnchorState;
    transactionHash: string | null;
    blockNumber: string | null;
    blockHash: string | null;
  };
  /** What was anchored: the journal transaction itself (journal leaves) ... */
  journalTransaction?: JournalTransactionJson;
  /** ... or the document digest (document leaves). */
  document?: { kind: string; id: string; digest: string };
  generatedAt: string;
}

const INTEGER = /^-?(0|[1-9][0-9]{0,76})$/;

/**
 * Reads a journal transaction back from a proof; throws a RangeError naming the field. Without the
 * postings' `balanceAfter` (null in a gateway's proof: neither the leaf nor the hash covers it).
 */
export function journalFromJson(x: unknown): AnchoredTransaction {
  const bad = (field: string) => new RangeError(`journalTransaction.${field} is missing or malformed`);
  if (x === null || typeof x !== "object") throw bad("(object)");
  const o = x as Record<string, unknown>;
  const str = (k: string) => {
    if (typeof o[k] !== "string") throw bad(k);
    return o[k];
  };
  const int = (v: unknown, field: string) => {
    if (typeof v !== "string" || !INTEGER.test(v)) throw bad(field);
    return BigInt(v);
  };
  const date = (k: string) => {
    const d = new Date(str(k));
    if (Number.isNaN(d.getTime())) throw bad(k);
    return d;
  };
  if (!Array.isArray(o["postings"])) throw bad("postings");
  const metadata = o["metadata"];
  if (metadata === null || typeof metadata !== "object" || Object.values(metadata).some((v) => typeof v !== "string")) throw bad("metadata");
  return {
    id: str("id"),
    sequence: int(o["sequence"], "sequence"),
    kind: str("kind") as JournalTransaction["kind"],
    status: str("status") as JournalTransaction["status"],
    idempotencyKey: str("idempotencyKey"),
    postings: (o["postings"] as unknown[]).map((p, i) => {
      if (p === null || typeof p !== "object") throw bad(`postings.${i}`);
      const q = p as Record<string, unknown>;
      for (const k of ["id", "account", "currency", "direction", "phase"]) if (typeof q[k] !== "string") throw bad(`postings.${i}.${k}`);
      return {
        id: q["id"] as string,
        account: q["account"] as string,
        currency: q["currency"] as string,
        direction: q["direction"] as Posting["direction"],
        phase: q["phase"] as NonNullable<Posting["phase"]>,
        amount: int(q["amount"], `postings.${i}.amount`),
      };
    }),
    metadata: metadata as Record<string, string>,
    description: o["description"] === null ? null : str("description"),
    effectiveAt: date("effectiveAt"),
    bookedAt: date("bookedAt"),
    referencesId: o["referencesId"] === null ? null : str("referencesId"),
    hash: str("hash"),
    previousHash: str("previousHash"),
  };
}

/** Builds the proof document (the service calls this; the fields come from its stored batch). */
export function makeProof(p: {
  chainId: bigint;
  anchor: string;
  batchId: bigint;
  root: string;
  leaf: AnyLeaf;
  leafHash: string;
  position: number;
  proof: string[];
  preimage: BatchPreimage;
  currencyTotals: ReadonlyArray<{ currency: string; total: bigint }>;
  /** The v2 batch's salt; null for v1. */
  totalsSalt: string | null;
  totalsDigest: string;
  anchoring: AnchorProof["anchoring"];
  journalTransaction?: JournalTransaction;
  document?: { kind: string; id: string; digest: string };
  now: Date;
}): AnchorProof {
  return {
    format: PROOF_FORMAT,
    version: PROOF_VERSION,
    chainId: p.chainId.toString(),
    anchor: getAddress(p.anchor),
    batchId: p.batchId.toString(),
    root: p.root,
    leaf: {
      type: p.leaf.type,
      format: p.leaf.leaf.format,
      encoding: [...leafEncoding(p.leaf)],
      values: leafValuesJson(p.leaf),
      fields: leafFieldsJson(p.leaf),
      hash: p.leafHash,
      position: p.position,
    },
    proof: p.proof,
    batch: {
      format: p.preimage.format,
      previousRoot: p.preimage.previousRoot,
      firstSequence: p.preimage.firstSequence.toString(),
      lastSequence: p.preimage.lastSequence.toString(),
      count: p.preimage.count.toString(),
      currencyTotals: p.currencyTotals.map((t) => ({ currency: t.currency, total: t.total.toString() })),
      totalsSalt: p.totalsSalt,
      currencyTotalsDigest: p.preimage.currencyTotalsDigest,
      totalsDigest: p.totalsDigest,
    },
    anchoring: p.anchoring,
    ...(p.journalTransaction ? { journalTransaction: journalToJson(p.journalTransaction) } : {}),
    ...(p.document ? { document: p.document } : {}),
    generatedAt: p.now.toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// Verification

export interface ProofCheck {
  /** Stable name: proof-format, leaf-hash, leaf-binding, leaf-content, [document,] merkle-proof,
   *  batch-digest, trust-anchor, chain-id, contract-code, root-on-chain, verify-settlement,
   *  batch-event, previous-root, confirmations. */
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * `verified`: every check passed against the pinned contract and the anchoring block is final.
 * `not-final`: the same, but a reorganisation can still remove the anchoring block.
 * `unpinned`: every check but `trust-anchor` passed, and no contract was pinned: the proof was
 * checked only against the contract it names itself, which proves nothing about who anchored it.
 * `failed`: a check failed.
 */
export type ProofVerdict = "verified" | "not-final" | "unpinned" | "failed";

export interface ProofReport {
  /** Every check passed (finality aside: see `verdict`). */
  ok: boolean;
  verdict: ProofVerdict;
  checks: ProofCheck[];
  /** Confirmations of the anchoring transaction and whether it is final, when it was found. */
  confirmations?: number;
  final?: boolean;
  /** The contract the proof names (checksummed), when the proof could be read. */
  contract?: string;
  /** What the leaf states, by name, for the reader: what the checks bind (when they pass). */
  facts: Array<{ name: string; value: string }>;
  /** Fields the proof carries that no check covers, each with why: read them as the service's word. */
  unverified: Array<{ field: string; why: string }>;
}

export interface VerifyOptions {
  /**
   * The trust anchor: the SettlementAnchor address the verifier fixed out of band (the address the
   * operator publishes), compared case-insensitively with the proof's. Without it the verdict is
   * at best `unpinned`.
   */
  anchor?: string;
  /** Confirmations required for the `confirmations` check (default 1: mined on the canonical chain). */
  minConfirmations?: number;
  /** Depth at which a block counts as final on chains without a meaningful `finalized` tag (local chains); default 12, the service's CHAIN_CONFIRMATIONS default. */
  finalityDepth?: number;
  /**
   * A period close's report (`ledger.period_close`), or the API's answer holding it (`{report, digest}`
   * of GET /v1/ledger/periods/:id/report): the `document` check recomputes its digest (sha256 of
   * JSON.stringify(report), `jsonDocumentDigest`) and compares it with the anchored one.
   */
  document?: unknown;
}

interface ParsedProof {
  raw: AnchorProof;
  chainId: bigint;
  anchor: string;
  batchId: bigint;
  root: string;
  leaf: AnyLeaf;
  proof: string[];
  preimage: BatchPreimage;
  currencyTotals: Array<{ currency: string; total: bigint }> | null;
  totalsSalt: string | null;
  totalsDigest: string;
  txHash: string | null;
}

const HEX32 = /^0x[0-9a-f]{64}$/;

/** Structural validation of a proof file; throws a RangeError naming the first bad field. */
export function parseProof(x: unknown): ParsedProof {
  const bad = (field: string, what = "is missing or malformed") => new RangeError(`${field} ${what}`);
  if (x === null || typeof x !== "object") throw bad("proof", "must be a JSON object");
  const p = x as AnchorProof;
  if (p.format !== PROOF_FORMAT) throw bad("format", `must be "${String(PROOF_FORMAT)}"`);
  if (p.version !== PROOF_VERSION) throw bad("version", `must be ${String(PROOF_VERSION)} (this verifier's version)`);
  const int = (v: unknown, field: string, min = 0n) => {
    if (typeof v !== "string" || !INTEGER.test(v) || BigInt(v) < min) throw bad(field);
    return BigInt(v);
  };
  const hex32 = (v: unknown, field: string) => {
    if (typeof v !== "string" || !HEX32.test(v)) throw bad(field, "must be 0x-prefixed lowercase 32-byte hex");
    return v;
  };
  const chainId = int(p.chainId, "chainId", 1n);
  let anchor: string;
  try {
    anchor = getAddress(String(p.anchor));
  } catch {
    throw bad("anchor", "must be an address");
  }
  const batchId = int(p.batchId, "batchId", 1n);
  const root = hex32(p.root, "root");
  if (p.leaf === null || typeof p.leaf !== "object") throw bad("leaf");
  const leaf = leafFromJson(p.leaf.values);
  hex32(p.leaf.hash, "leaf.hash");
  if (!Number.isSafeInteger(p.leaf.position) || p.leaf.position < 0) throw bad("leaf.position", "must be a non-negative integer");
  if (p.leaf.fields === null || typeof p.leaf.fields !== "object") throw bad("leaf.fields");
  if (!Array.isArray(p.proof)) throw bad("proof");
  const proof = p.proof.map((s, i) => hex32(s, `proof[${i}]`));
  const b = p.batch;
  if (b === null || typeof b !== "object") throw bad("batch");
  if (!(BATCH_FORMATS as readonly unknown[]).includes(b.format)) throw bad("batch.format", `must be one of ${BATCH_FORMATS.map((f) => `"${f}"`).join(", ")}`);
  if (b.currencyTotals !== null && !Array.isArray(b.currencyTotals)) throw bad("batch.currencyTotals");
  // v1 has no salt; v2 shows its salt exactly when it shows the totals (both withheld from a gateway).
  const totalsSalt = b.totalsSalt === undefined || b.totalsSalt === null ? null : hex32(b.totalsSalt, "batch.totalsSalt");
  if (b.format === BATCH_FORMAT_V1 && totalsSalt !== null) throw bad("batch.totalsSalt", `must be null in a ${BATCH_FORMAT_V1} batch (its totals digest is unsalted)`);
  if (b.format !== BATCH_FORMAT_V1) {
    if (b.totalsSalt === undefined) throw bad("batch.totalsSalt", "is required (null when the totals are withheld)");
    if ((totalsSalt === null) !== (b.currencyTotals === null)) throw bad("batch.totalsSalt", "must be given with batch.currencyTotals and withheld with them");
  }
  const currencyTotals = b.currencyTotals?.map((t, i) => {
    if (t === null || typeof t !== "object" || typeof t.currency !== "string") throw bad(`batch.currencyTotals[${i}]`);
    return { currency: t.currency, total: int(t.total, `batch.currencyTotals[${i}].total`) };
  }) ?? null;
  const preimage: BatchPreimage = {
    format: b.format,
    chainId,
    anchor,
    batchId,
    previousRoot: hex32(b.previousRoot, "batch.previousRoot"),
    firstSequence: int(b.firstSequence, "batch.firstSequence", 1n),
    lastSequence: int(b.lastSequence, "batch.lastSequence"),
    count: int(b.count, "batch.count", 1n),
    currencyTotalsDigest: hex32(b.currencyTotalsDigest, "batch.currencyTotalsDigest"),
  };
  const totals = hex32(b.totalsDigest, "batch.totalsDigest");
  const a = p.anchoring;
  if (a === null || typeof a !== "object") throw bad("anchoring");
  if (!ANCHOR_STATES.includes(a.state)) throw bad("anchoring.state", `must be one of ${ANCHOR_STATES.join(", ")}`);
  const txHash = a.transactionHash ?? null;
  if (txHash !== null) hex32(txHash, "anchoring.transactionHash");
  if (a.blockNumber !== null && (typeof a.blockNumber !== "string" || !INTEGER.test(a.blockNumber))) throw bad("anchoring.blockNumber");
  if (a.blockHash !== null) hex32(a.blockHash, "anchoring.blockHash");
  if (leaf.type === "journal" && p.journalTransaction === undefined) throw bad("journalTransaction", "is required for a journal leaf");
  if (leaf.type === "document" && (p.document === undefined || p.document === null)) throw bad("document", "is required for a document leaf");
  return { raw: p, chainId, anchor, batchId, root, leaf, proof, preimage, currencyTotals, totalsSalt, totalsDigest: totals, txHash };
}

const message = (e: unknown) => (e instanceof Error ? e.message.split("\n")[0]!.slice(0, 300) : String(e));

/** The first field of `leaf`'s format whose value differs, named, or null when all agree. */
function same(leaf: AnyLeaf, a: unknown[], b: unknown[]): string | null {
  const fields = fieldsOf(leaf);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const name = fields[i]?.[0] ?? `value ${i}`;
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) return `${name}: proof has ${JSON.stringify(a[i])}, recomputed ${JSON.stringify(b[i])}`;
  }
  return null;
}

/** The offline checks: everything that needs no chain. */
function offlineChecks(p: ParsedProof): ProofCheck[] {
  const checks: ProofCheck[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const encoding = leafEncoding(p.leaf);
  const values = leafValuesJson(p.leaf);

  // 1. The leaf hash, recomputed from the values with the encoding their format prescribes.
  const recomputed = standardLeafHash(encoding, leafValues(p.leaf));
  const encodingOk = JSON.stringify(p.raw.leaf.encoding) === JSON.stringify(encoding);
  add(
    "leaf-hash",
    encodingOk && recomputed === p.raw.leaf.hash,
    !encodingOk ? `leaf.encoding is not the ${p.leaf.leaf.format} encoding` : recomputed === p.raw.leaf.hash ? `leaf hash ${recomputed}` : `recomputed ${recomputed}, proof says ${p.raw.leaf.hash}`,
  );

  // 2. The leaf names this chain, contract and batch (no replay across deployments or batches).
  const l = p.leaf.leaf;
  const bound = l.chainId === p.chainId && l.anchor === p.anchor && l.batchId === p.batchId;
  add("leaf-binding", bound, bound ? `chain ${p.chainId}, contract ${p.anchor}, batch ${p.batchId}` : `leaf is bound to chain ${l.chainId}, contract ${l.anchor}, batch ${l.batchId}`);

  // 3. The leaf is exactly what the proof shows was anchored: first its own named view (`fields`,
  // what a person reads), which must say what the hashed values say; then the journal transaction
  // or document beside it.
  const view = viewMismatch(p);
  if (view !== null) add("leaf-content", false, view);
  else if (p.leaf.type === "journal") {
    let detail: string;
    let ok = false;
    try {
      const tx = journalFromJson(p.raw.journalTransaction);
      const leaf = p.leaf.leaf;
      // The gross and fee lines come from the transaction's metadata; only a transaction booked
      // before settlements wrote them there is checked against the leaf's own values for them.
      const legacy = settlementFactsOf(tx.metadata) === null ? leafSettlementFacts(leaf) : null;
      // Recomputed in the leaf's own format: a v1 leaf (before the settlement's v2 facts) still verifies.
      const again = journalLeaf({ chainId: leaf.chainId, anchor: leaf.anchor, batchId: leaf.batchId }, tx, legacy, leaf.format);
      const diff = same(p.leaf, values, leafValuesJson({ type: "journal", leaf: again }));
      ok = diff === null;
      detail = ok
        ? `journal transaction ${tx.id} (sequence ${tx.sequence}, ${leaf.kind}) matches every leaf value${legacy === null ? "" : " (its gross and fee lines predate the journal metadata: as the leaf states them)"}`
        : `leaf does not match the journal transaction: ${diff}`;
    } catch (e) {
      detail = message(e);
    }
    add("leaf-content", ok, detail);
  } else {
    const d = p.raw.document!;
    const leaf = p.leaf.leaf;
    const ok = d.kind === leaf.documentKind && d.id === leaf.documentId && typeof d.digest === "string" && d.digest.toLowerCase() === leaf.digest;
    add("leaf-content", ok, ok ? `document ${d.kind}:${d.id} digest ${leaf.digest}` : "leaf does not match the document in the proof");
  }

  // 4. The Merkle path from the leaf to the root (the library's own StandardMerkleTree.verify).
  let merkle: boolean;
  try {
    merkle = StandardMerkleTree.verify(p.root, encoding, leafValues(p.leaf), p.proof);
  } catch {
    merkle = false;
  }
  add("merkle-proof", merkle, merkle ? `${p.proof.length} siblings lead to root ${p.root}` : `the siblings do not lead from the leaf to root ${p.root}`);

  // 5. The batch preimage: per-currency totals (v2: with their salt) -> digest -> totalsDigest, and
  // the leaf inside the range. Withheld totals (a gateway's proof): their digest is taken as given,
  // still bound by totalsDigest.
  const ctd = p.currencyTotals === null ? p.preimage.currencyTotalsDigest : batchCurrencyTotalsDigest(p.preimage.format, p.currencyTotals, p.totalsSalt);
  const td = totalsDigest(p.preimage);
  const journalCount = p.preimage.lastSequence - p.preimage.firstSequence + 1n;
  const inRange = p.leaf.type !== "journal" || (p.leaf.leaf.sequence >= p.preimage.firstSequence && p.leaf.leaf.sequence <= p.preimage.lastSequence);
  const problems = [
    ...(ctd === p.preimage.currencyTotalsDigest ? [] : [`currency totals digest is ${ctd}, proof says ${p.preimage.currencyTotalsDigest}`]),
    ...(td === p.totalsDigest ? [] : [`totals digest recomputed ${td}, proof says ${p.totalsDigest}`]),
    ...(journalCount >= 0n && journalCount <= p.preimage.count ? [] : [`journal range ${p.preimage.firstSequence}..${p.preimage.lastSequence} does not fit ${p.preimage.count} leaves`]),
    ...(inRange ? [] : ["the leaf's sequence is outside the batch's journal range"]),
    ...(BigInt(p.raw.leaf.position) < p.preimage.count ? [] : [`leaf.position ${p.raw.leaf.position} is outside the batch's ${p.preimage.count} leaves`]),
  ];
  add(
    "batch-digest",
    problems.length === 0,
    problems.length === 0
      ? `totals digest ${td} (${p.preimage.format}, ${journalCount === 0n ? "no journal transaction" : `journal ${p.preimage.firstSequence}..${p.preimage.lastSequence}`}, ${p.preimage.count} leaves, previous root ${p.preimage.previousRoot}${withheldNote(p)})`
      : problems.join("; "),
  );
  return checks;
}

/** Where the leaf's named view (type, format, fields) differs from its hashed values, or null. */
function viewMismatch(p: ParsedProof): string | null {
  const l = p.raw.leaf;
  if (l.type !== p.leaf.type) return `leaf.type is ${JSON.stringify(l.type)}, the leaf's values are a ${p.leaf.type} leaf`;
  if (l.format !== p.leaf.leaf.format) return `leaf.format is ${JSON.stringify(l.format)}, the leaf's values say ${JSON.stringify(p.leaf.leaf.format)}`;
  const fields = leafFieldsJson(p.leaf);
  for (const name of new Set([...Object.keys(fields), ...Object.keys(l.fields)])) {
    if (JSON.stringify(l.fields[name]) !== JSON.stringify(fields[name])) {
      return `leaf.fields.${name} is ${JSON.stringify(l.fields[name]) ?? "missing"}, the leaf's value is ${JSON.stringify(fields[name]) ?? "none"}`;
    }
  }
  return null;
}

function withheldNote(p: ParsedProof): string {
  if (p.currencyTotals !== null) return p.totalsSalt === null ? "; per-currency totals recomputed" : "; per-currency totals recomputed with their salt";
  return p.preimage.format === BATCH_FORMAT_V1 ? "; per-currency totals withheld, their digest as given" : "; per-currency totals withheld with their salt, their digest as given";
}

/**
 * The proof as a gateway may read it: without the batch's per-currency totals (they sum every
 * gateway's transactions in the batch) and, in a v2 batch, without the salt of their digest, which
 * would let the totals be recovered from the digest by enumeration. It still verifies: the digest
 * is taken as given, bound by the totals digest on chain.
 */
export function withoutBatchTotals(proof: AnchorProof): AnchorProof {
  return { ...proof, batch: { ...proof.batch, currencyTotals: null, totalsSalt: null } };
}

/**
 * The settlement facts a journal leaf states (null: none), which a transaction booked before
 * settlements wrote them into its metadata is recomputed with (the whole-history audit does the same).
 */
export function leafSettlementFacts(leaf: JournalLeaf) {
  if (leaf.grossCurrency === "" && leaf.grossAmount === 0n && leaf.feeCurrency === "" && leaf.gatewayFee === 0n) return null;
  return {
    currency: leaf.grossCurrency,
    amount: leaf.grossAmount,
    gatewayFee: leaf.gatewayFee,
    feeCurrency: leaf.feeCurrency,
    commission: leaf.commission,
    paymentFeeRecovery: leaf.paymentFeeRecovery,
    logistics: leaf.logistics,
    warehousing: leaf.warehousing,
    fulfilment: leaf.fulfilment,
    fxMarkup: leaf.fxMarkup,
  };
}

/**
 * Verifies a proof file against `provider`. Never throws on a bad proof or a failing node: every
 * problem is a failed check with its reason. `ok` only when every check passes.
 */
export async function verifyProof(input: unknown, provider: Provider, opts: VerifyOptions = {}): Promise<ProofReport> {
  const minConfirmations = opts.minConfirmations ?? 1;
  const finalityDepth = opts.finalityDepth ?? 12;
  let p: ParsedProof;
  try {
    p = parseProof(input);
  } catch (e) {
    return { ok: false, verdict: "failed", checks: [{ name: "proof-format", ok: false, detail: message(e) }], facts: [], unverified: [] };
  }
  const checks: ProofCheck[] = [{ name: "proof-format", ok: true, detail: `${PROOF_FORMAT} v${PROOF_VERSION}, ${p.leaf.leaf.format}` }];
  checks.push(...offlineChecks(p));
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  if (opts.document !== undefined) add("document", ...documentCheck(p, opts.document));

  // The trust anchor. Everything below reads the contract the proof names; only this check ties
  // that contract to the operator, through an address the verifier got elsewhere.
  const pinned = opts.anchor !== undefined && isAddress(opts.anchor) ? getAddress(opts.anchor) : null;
  if (opts.anchor === undefined) {
    add("trust-anchor", false, `not pinned: ${p.anchor} is only the address the proof names itself (anyone can deploy a SettlementAnchor and anchor what they like in it)`);
  } else {
    const ok = pinned === p.anchor;
    add("trust-anchor", ok, ok ? `${p.anchor} is the pinned SettlementAnchor` : `the proof names ${p.anchor}, the pinned SettlementAnchor is ${pinned ?? JSON.stringify(opts.anchor)}`);
  }
  const attempt = async (name: string, fn: () => Promise<{ ok: boolean; detail: string }>) => {
    try {
      const r = await fn();
      add(name, r.ok, r.detail);
    } catch (e) {
      add(name, false, `RPC error: ${message(e)}`);
    }
  };
  // A verifier reads only what ISettlementAnchor declares: rootOf, verifySettlement, BatchAnchored, BatchNotAnchored.
  const anchor = ISettlementAnchor__factory.connect(p.anchor, provider);
  const rootOf = (id: bigint) => anchor.rootOf(id);

  await attempt("chain-id", async () => {
    const { chainId } = await provider.getNetwork();
    return { ok: chainId === p.chainId, detail: chainId === p.chainId ? `node is on chain ${chainId}` : `node is on chain ${chainId}, the proof is for chain ${p.chainId}` };
  });
  await attempt("contract-code", async () => {
    const code = await provider.getCode(p.anchor);
    return { ok: code !== "0x", detail: code !== "0x" ? `${(code.length - 2) / 2} bytes of code at ${p.anchor}` : `no contract at ${p.anchor}` };
  });
  await attempt("root-on-chain", async () => {
    const onChain = (await rootOf(p.batchId)).toLowerCase();
    return { ok: onChain === p.root, detail: onChain === p.root ? `rootOf(${p.batchId}) = ${onChain}` : `rootOf(${p.batchId}) = ${onChain}, the proof says ${p.root}` };
  });
  await attempt("verify-settlement", async () => {
    try {
      const ok = await anchor.verifySettlement(p.batchId, p.raw.leaf.hash, p.proof);
      return { ok, detail: `verifySettlement(${p.batchId}, leaf, proof) = ${ok}` };
    } catch (e) {
      const data = revertData(e);
      const parsed = data ? anchor.interface.parseError(data) : null;
      if (parsed?.name === "BatchNotAnchored") return { ok: false, detail: `verifySettlement reverted: BatchNotAnchored(${p.batchId})` };
      throw e;
    }
  });
  let receiptBlock: { number: bigint; hash: string } | null = null;
  await attempt("batch-event", async () => {
    if (p.txHash === null) return { ok: false, detail: "the proof names no anchoring transaction (not yet submitted)" };
    const receipt = await provider.getTransactionReceipt(p.txHash);
    if (receipt === null) return { ok: false, detail: `transaction ${p.txHash} not found on this chain (not mined, or dropped by a reorganisation)` };
    if (receipt.status !== 1) return { ok: false, detail: `transaction ${p.txHash} reverted` };
    receiptBlock = { number: BigInt(receipt.blockNumber), hash: receipt.blockHash };
    const events = receipt.logs
      .filter((log) => log.address.toLowerCase() === p.anchor.toLowerCase())
      .map((log) => anchor.interface.parseLog(log))
      .filter((e) => e?.name === "BatchAnchored");
    const ev = events.find((e) => (e!.args[0] as bigint) === p.batchId);
    if (ev === undefined) return { ok: false, detail: `no BatchAnchored(${p.batchId}) from ${p.anchor} in transaction ${p.txHash}` };
    const [, root, count, digest] = ev!.args as unknown as [bigint, string, bigint, string];
    const recomputed = totalsDigest(p.preimage);
    // Where the proof says the transaction was mined is read, so it must be where it is.
    const { blockNumber, blockHash } = p.raw.anchoring;
    const problems = [
      ...(blockNumber === null || blockNumber === String(receipt.blockNumber) ? [] : [`anchoring.blockNumber is ${blockNumber}, the transaction is in block ${receipt.blockNumber}`]),
      ...(blockHash === null || blockHash === receipt.blockHash.toLowerCase() ? [] : [`anchoring.blockHash is ${blockHash}, the transaction's block is ${receipt.blockHash}`]),
      ...(root.toLowerCase() === p.root ? [] : [`event root ${root}`]),
      ...(count === p.preimage.count ? [] : [`event count ${count}, proof count ${p.preimage.count}`]),
      ...(digest.toLowerCase() === recomputed ? [] : [`event totalsDigest ${digest}, recomputed ${recomputed}`]),
    ];
    return {
      ok: problems.length === 0,
      detail: problems.length === 0 ? `BatchAnchored(${p.batchId}, root, ${count}, ${digest}) in block ${receipt.blockNumber}` : problems.join("; "),
    };
  });
  await attempt("previous-root", async () => {
    if (p.batchId === 1n) {
      const ok = p.preimage.previousRoot === ZeroHash;
      return { ok, detail: ok ? "batch 1 has no predecessor (zero root)" : "batch 1 must name the zero root as its predecessor" };
    }
    const previous = (await rootOf(p.batchId - 1n)).toLowerCase();
    const ok = previous === p.preimage.previousRoot && previous !== ZeroHash;
    return {
      ok,
      detail: ok
        ? `rootOf(${p.batchId - 1n}) = ${previous}`
        : previous === ZeroHash
          ? `batch ${p.batchId - 1n} is not anchored: a gap before this batch`
          : `rootOf(${p.batchId - 1n}) = ${previous}, the batch names ${p.preimage.previousRoot}`,
    };
  });
  let confirmations: number | undefined;
  let final: boolean | undefined;
  await attempt("confirmations", async () => {
    const block: { number: bigint; hash: string } | null = receiptBlock;
    if (block === null) return { ok: false, detail: "no mined anchoring transaction to count confirmations of" };
    const [latest, canonical] = await Promise.all([provider.getBlockNumber(), provider.getBlock(block.number)]);
    if (canonical === null || canonical.hash !== block.hash) return { ok: false, detail: `block ${block.number} of the receipt is no longer canonical` };
    confirmations = latest - Number(block.number) + 1;
    if (isLocalChain(p.chainId)) {
      final = confirmations >= finalityDepth;
    } else {
      const finalized = await provider.getBlock("finalized").catch(() => null);
      final = finalized !== null ? BigInt(finalized.number) >= block.number : confirmations >= finalityDepth;
    }
    const ok = confirmations >= minConfirmations;
    return {
      ok,
      detail: `${confirmations} confirmation${confirmations === 1 ? "" : "s"} (required ${minConfirmations}); ${final ? "final" : "not final yet"}${isLocalChain(p.chainId) ? ` (local chain: final at depth ${finalityDepth})` : ""}`,
    };
  });
  const failed = checks.filter((c) => !c.ok).map((c) => c.name);
  const verdict: ProofVerdict =
    failed.length === 0 ? (final === true ? "verified" : "not-final") : failed.length === 1 && failed[0] === "trust-anchor" && opts.anchor === undefined ? "unpinned" : "failed";
  return {
    ok: failed.length === 0,
    verdict,
    checks,
    ...(confirmations === undefined ? {} : { confirmations }),
    ...(final === undefined ? {} : { final }),
    contract: p.anchor,
    ...reading(p),
  };
}

/** The report's verdict in one line, as `npm run verify` and the console print it; `pinHint` says how to pin a contract there. */
export function verdictLine(report: ProofReport, pinHint: string): string {
  const n = report.checks.length;
  const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
  switch (report.verdict) {
    case "verified":
      return `VERIFIED: all ${n} checks passed`;
    case "not-final":
      return `VERIFIED, NOT FINAL: all ${n} checks passed, but the anchoring block is not final yet (${report.confirmations ?? 0} confirmations): a reorganisation can still remove it; verify again later`;
    case "unpinned":
      return `NOT VERIFIED: contract not pinned: the other ${n - 1} checks passed, but only against ${report.contract ?? "the contract"}, the address the proof names itself. ${pinHint}`;
    case "failed":
      return `NOT VERIFIED: ${failed.length} check(s) failed: ${failed.join(", ")}`;
  }
}

/** `--document`: the report's digest in its canonical form against the anchored document digest. */
function documentCheck(p: ParsedProof, given: unknown): [boolean, string] {
  if (p.leaf.type !== "document") return [false, "this proof is of a journal transaction, not of a document"];
  const leaf = p.leaf.leaf;
  if (leaf.documentKind !== PERIOD_CLOSE_DOCUMENT) return [false, `only a period close's report (${PERIOD_CLOSE_DOCUMENT}) is checked; this proof's document is ${leaf.documentKind}`];
  // The API's answer ({report, digest}) as saved, or the report alone.
  const report = given !== null && typeof given === "object" && "report" in given && "digest" in given ? (given as { report: unknown }).report : given;
  const digest = jsonDocumentDigest(report);
  return digest === leaf.digest
    ? [true, `the report's sha256 (JSON.stringify of it) is ${digest}, the anchored digest of ${leaf.documentKind} ${leaf.documentId}`]
    : [false, `the report's sha256 (JSON.stringify of it) is ${digest}, the anchored digest of ${leaf.documentKind} ${leaf.documentId} is ${leaf.digest}`];
}

/** What the leaf states for a reader, and what the proof carries that no check covers. */
function reading(p: ParsedProof): Pick<ProofReport, "facts" | "unverified"> {
  const notCovered = [
    { field: "leaf.position", why: "checked only to lie within the batch's leaf count: the sorted-pair Merkle path does not give the leaf's index" },
    { field: "anchoring.state", why: "the service's view when it wrote the proof; the confirmations check gives this verifier's own" },
    { field: "generatedAt", why: "when the service wrote the proof" },
  ];
  if (p.leaf.type === "document") {
    const l = p.leaf.leaf;
    return {
      facts: [
        { name: "document", value: `${l.documentKind} ${l.documentId}` },
        { name: "digest", value: l.digest },
      ],
      unverified: notCovered,
    };
  }
  const l = p.leaf.leaf;
  const facts = [
    { name: "journal transaction", value: `${l.journalTransactionId} (sequence ${l.sequence}, ${l.kind}, ledger kind ${l.ledgerKind})` },
    { name: "idempotency key", value: l.idempotencyKey },
    ...(l.settlementId === "" ? [] : [{ name: "settlement", value: l.settlementId }]),
    ...(l.gatewayEventId === "" ? [] : [{ name: "gateway event", value: `${l.gateway} ${l.gatewayEventId}${l.eventType === "" ? "" : ` (${l.eventType})`}` }]),
    ...(l.sellerId === "" ? [] : [{ name: "seller", value: l.sellerId }]),
    ...(l.grossCurrency === "" ? [] : [{ name: "amount", value: `${l.grossAmount} ${l.grossCurrency} (minor units)` }]),
    ...(l.grossCurrency === "" ? [] : [{ name: "gateway fee", value: `${l.gatewayFee} ${l.grossCurrency} (minor units)` }]),
    { name: "effective at", value: new Date(Number(l.effectiveAtMs)).toISOString() },
  ];
  // The journal hash covers these, but recomputing it needs what a proof does not carry (the
  // request hash, internal account ids, a pending transfer's expiry: service/ledger/hash.ts).
  const hashOnly = "covered only by the journal hash, which cannot be recomputed from a proof (it needs the request hash and internal account ids)";
  return {
    facts,
    unverified: [
      { field: "journalTransaction.status", why: "not in the leaf: the status when the proof was written (an inclusion proof shows the transaction was booked, not that it still stands: a later reversal or void is a transaction of its own)" },
      { field: "journalTransaction.description", why: hashOnly },
      { field: "journalTransaction.referencesId", why: hashOnly },
      { field: "journalTransaction.previousHash", why: hashOnly },
      { field: "journalTransaction.postings[].id", why: "not in the leaf" },
      { field: "journalTransaction.postings[].balanceAfter", why: "not in the leaf (null in a gateway's proof)" },
      ...notCovered,
    ],
  };
}

