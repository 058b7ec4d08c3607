/**
 * Leaf encodings of the anchored Merkle trees. Changing anything here changes every root, so each
 * encoding carries its own format constant as its FIRST value (a verifier picks the encoding by
 * it, and a journal leaf can never be read as a document leaf or vice versa) and is covered by
 * tests with fixed vectors.
 *
 * Every leaf is hashed the @openzeppelin/merkle-tree StandardMerkleTree way,
 * keccak256(keccak256(abi.encode(types, values))), which is what SettlementAnchor.verifySettlement
 * (OpenZeppelin MerkleProof) expects; the double hash keeps a 64-byte inner node from passing as a
 * leaf. A batch whose leaves all share one encoding has exactly the root StandardMerkleTree.of
 * would give; mixed batches (journal + documents) hash each leaf with its own encoding and build
 * the same sorted-pair tree over the leaf hashes (SimpleMerkleTree).
 *
 * Every leaf binds the chain id, the anchor contract and the batch id, so a proof cannot be
 * replayed against another deployment, chain or batch.
 */
import { getAddress, getBytes, keccak256, sha256, toUtf8Bytes } from "ethers";
import { abiEncode } from "./abi.js";
import type { JournalTransaction, Posting } from "../ledger/types.js";

/**
 * What a leaf is computed from: the journal transaction without its postings' running balances,
 * which neither the leaf nor the transaction's hash covers (a gateway's proof withholds them).
 */
export type AnchoredTransaction = Omit<JournalTransaction, "postings"> & { postings: Array<Omit<Posting, "balanceAfter">> };

/** The journal leaf written today; v1 leaves (without the settlement's v2 facts) still verify. */
export const JOURNAL_LEAF_FORMAT = "entrepot.anchor.journal.v2";
export const JOURNAL_LEAF_FORMAT_V1 = "entrepot.anchor.journal.v1";
export const DOCUMENT_LEAF_FORMAT = "entrepot.anchor.document.v1";
/**
 * Format of the batch preimage committed as `totalsDigest` in BatchAnchored: the one built today.
 * v2's per-currency totals digest commits to a random per-batch salt; v1 batches (anchored before)
 * keep their unsalted digest and still verify.
 */
export const BATCH_FORMAT = "entrepot.anchor.batch.v2";
export const BATCH_FORMAT_V1 = "entrepot.anchor.batch.v1";
export type BatchFormat = typeof BATCH_FORMAT | typeof BATCH_FORMAT_V1;
export const BATCH_FORMATS: readonly BatchFormat[] = [BATCH_FORMAT, BATCH_FORMAT_V1];
/** Tag of a v2 batch's per-currency totals digest (its first value). */
export const CURRENCY_TOTALS_FORMAT = "entrepot.anchor.currency-totals.v2";

/** What a journal transaction is, for an auditor: from its metadata (see `journalKind`). */
export type JournalLeafKind = "settlement" | "payout" | "adjustment" | "remittance" | "fx_revaluation" | "seller_charge" | "journal";
export const JOURNAL_LEAF_KINDS: readonly JournalLeafKind[] = ["settlement", "payout", "adjustment", "remittance", "fx_revaluation", "seller_charge", "journal"];

/**
 * Field names and ABI types of a journal leaf, in encoding order. v2 added the settlement's
 * corrected facts after its fee lines (fxMarkup .. taxAmounts), so a verifier reads them without the
 * journal; a v1 leaf has every other field, in the same order.
 */
export const JOURNAL_LEAF_FIELDS = [
  ["format", "string"],
  ["chainId", "uint256"],
  ["anchor", "address"],
  ["batchId", "uint64"],
  ["sequence", "uint64"],
  ["journalTransactionId", "string"],
  /** = the settlement event key `settlement:<gateway>:<gatewayEventId>` for settlements. */
  ["idempotencyKey", "string"],
  ["kind", "string"],
  /** The ledger's own kind: standard, pending, commit, void, reversal. */
  ["ledgerKind", "string"],
  ["settlementId", "string"],
  ["gateway", "string"],
  ["gatewayEventId", "string"],
  ["eventType", "string"],
  ["sellerId", "string"],
  /** The gateway event's amount (buyer currency, minor units) and currency; "" / 0 when not a settlement. */
  ["grossCurrency", "string"],
  ["grossAmount", "int256"],
  /** Gateway fee of the event, in `grossCurrency` minor units (signed for fee adjustments). */
  ["gatewayFee", "int256"],
  /** Currency of the platform fee lines below (the settlement currency, USD). */
  ["feeCurrency", "string"],
  ["commission", "int256"],
  ["paymentFeeRecovery", "int256"],
  ["logistics", "int256"],
  ["warehousing", "int256"],
  ["fulfilment", "int256"],
  /** v2: the FX markup taken on the event, its own revenue line (in `feeCurrency` minor units). */
  ["fxMarkup", "int256"],
  /** v2: a seller-priced capture's listing currency and price ("" / 0 without one). */
  ["listingCurrency", "string"],
  ["listingPrice", "int256"],
  /** v2: where the goods shipped from for tax (the capture's, or the seller's warehouse) and the state they ship to. */
  ["shipFrom", "string"],
  ["shipToRegion", "string"],
  /** v2: the tax rules applied, the national one then the state one. */
  ["taxRules", "string[]"],
  /** v2: every tax payable the transaction moves, `<account> <currency>` (sorted), and by how much (credit positive). */
  ["taxAccounts", "string[]"],
  ["taxAmounts", "int256[]"],
  ["fxQuoteId", "string"],
  /** Conversions of the transaction, `<from>-<to>` (sorted), and their rates (decimal strings). */
  ["fxPairs", "string[]"],
  ["fxRates", "string[]"],
  ["effectiveAtMs", "uint64"],
  ["bookedAtMs", "uint64"],
  /** `metadataDigest`: sha256 of the canonical JSON of ALL metadata, keys sorted. */
  ["metadataDigest", "bytes32"],
  /** `postingsDigest`: sha256 of the canonical JSON of the postings (account, currency, direction, phase, amount), in order. */
  ["postingsDigest", "bytes32"],
  /** The ledger's own hash-chain link (service/ledger/hash.ts), as bytes32. */
  ["journalHash", "bytes32"],
] as const;

const V2_ONLY = new Set(["fxMarkup", "listingCurrency", "listingPrice", "shipFrom", "shipToRegion", "taxRules", "taxAccounts", "taxAmounts"]);
/** A v1 journal leaf's fields: the v2 list without the fields v2 added. */
export const JOURNAL_LEAF_FIELDS_V1: ReadonlyArray<readonly [string, string]> = JOURNAL_LEAF_FIELDS.filter(([name]) => !V2_ONLY.has(name));

export const DOCUMENT_LEAF_FIELDS = [
  ["format", "string"],
  ["chainId", "uint256"],
  ["anchor", "address"],
  ["batchId", "uint64"],
  ["documentKind", "string"],
  ["documentId", "string"],
  ["digest", "bytes32"],
] as const;

/** The document kind of a period close's report (service/closing.ts), anchored as a document leaf. */
export const PERIOD_CLOSE_DOCUMENT = "ledger.period_close";

/**
 * A JSON document's anchored digest (a period close's report): 0x-prefixed sha256 of the UTF-8 text
 * JSON.stringify writes for it, compact, keys in the object's own order. The service writes the
 * digest with this function and the verifier recomputes it with it, so the canonical form is one.
 */
export function jsonDocumentDigest(doc: unknown): string {
  return sha256(toUtf8Bytes(JSON.stringify(doc)));
}

export const JOURNAL_LEAF_ENCODING: string[] = JOURNAL_LEAF_FIELDS.map(([, t]) => t);
export const JOURNAL_LEAF_ENCODING_V1: string[] = JOURNAL_LEAF_FIELDS_V1.map(([, t]) => t);
export const DOCUMENT_LEAF_ENCODING: string[] = DOCUMENT_LEAF_FIELDS.map(([, t]) => t);

type FieldList = ReadonlyArray<readonly [string, string]>;
type AbiValue<T extends string> = T extends `${infer E}[]` ? Array<AbiValue<E>> : T extends `uint${string}` | `int${string}` ? bigint : string;
type FieldsOf<L extends FieldList> = { -readonly [K in L[number] as K[0]]: AbiValue<K[1]> };

export type JournalLeaf = FieldsOf<typeof JOURNAL_LEAF_FIELDS>;
export type DocumentLeaf = FieldsOf<typeof DOCUMENT_LEAF_FIELDS>;
export type AnyLeaf = { type: "journal"; leaf: JournalLeaf } | { type: "document"; leaf: DocumentLeaf };

/** Where a leaf is anchored: bound into every leaf. */
export interface AnchorContext {
  chainId: bigint;
  anchor: string;
  batchId: bigint;
}

/**
 * The gross and the fee lines of the event behind a settlement transaction, as its journal
 * metadata carries them (the settlement module writes these keys when it books the event; see
 * `SETTLEMENT_FACT_KEYS`). Absent for other transactions.
 */
export interface SettlementFacts {
  currency: string;
  amount: bigint;
  gatewayFee: bigint;
  feeCurrency: string;
  commission: bigint;
  paymentFeeRecovery: bigint;
  logistics: bigint;
  warehousing: bigint;
  fulfilment: bigint;
  /** The FX markup line (feeCurrency); 0 where it was not written (before v2). */
  fxMarkup: bigint;
}

/** The journal metadata keys of each settlement fact (amounts in minor units, as decimal strings). */
export const SETTLEMENT_FACT_KEYS = {
  currency: "grossCurrency",
  amount: "grossAmount",
  gatewayFee: "gatewayFee",
  feeCurrency: "feeCurrency",
  commission: "fee.commission",
  paymentFeeRecovery: "fee.paymentFeeRecovery",
  logistics: "fee.logistics",
  warehousing: "fee.warehousing",
  fulfilment: "fee.fulfilment",
  fxMarkup: "fee.fxMarkup",
} as const satisfies Record<keyof SettlementFacts, string>;

/** The metadata entries that carry `facts` (what settlement writes into its journal transactions). */
export function settlementFactsMetadata(facts: SettlementFacts): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, key] of Object.entries(SETTLEMENT_FACT_KEYS)) out[key] = String(facts[name as keyof SettlementFacts]);
  return out;
}

const INTEGER = /^-?(0|[1-9][0-9]{0,39})$/;

/**
 * The facts a transaction's metadata carries, or null when it carries none (not a settlement, or
 * booked before settlements wrote them). A malformed amount throws: a leaf never guesses.
 */
export function settlementFactsOf(metadata: Record<string, string>): SettlementFacts | null {
  if (metadata[SETTLEMENT_FACT_KEYS.amount] === undefined) return null;
  const amount = (name: keyof SettlementFacts) => {
    const v = metadata[SETTLEMENT_FACT_KEYS[name]] ?? "0";
    if (!INTEGER.test(v)) throw new RangeError(`metadata ${SETTLEMENT_FACT_KEYS[name]} is not an integer: ${JSON.stringify(v.slice(0, 50))}`);
    return BigInt(v);
  };
  return {
    currency: metadata[SETTLEMENT_FACT_KEYS.currency] ?? "",
    amount: amount("amount"),
    gatewayFee: amount("gatewayFee"),
    feeCurrency: metadata[SETTLEMENT_FACT_KEYS.feeCurrency] ?? "",
    commission: amount("commission"),
    paymentFeeRecovery: amount("paymentFeeRecovery"),
    logistics: amount("logistics"),
    warehousing: amount("warehousing"),
    fulfilment: amount("fulfilment"),
    fxMarkup: amount("fxMarkup"),
  };
}

const BYTES32 = /^0x[0-9a-f]{64}$/;

/**
 * Kind of a journal transaction: `metadata.kind` when it names one (payouts, adjustments, a
 * gateway's remittance, an FX revaluation and a charge to a seller set it), else "settlement" for the settlement module's event transactions (idempotency key
 * `settlement:...` with a gateway event id), "adjustment" for reversals, "journal" otherwise.
 */
export function journalKind(tx: Pick<JournalTransaction, "idempotencyKey" | "metadata" | "kind">): JournalLeafKind {
  const declared = tx.metadata["kind"];
  if (declared !== undefined && (JOURNAL_LEAF_KINDS as readonly string[]).includes(declared)) return declared as JournalLeafKind;
  if (tx.idempotencyKey.startsWith("settlement:") && tx.metadata["gatewayEventId"] !== undefined) return "settlement";
  if (tx.metadata["payoutId"] !== undefined) return "payout";
  if (tx.kind === "reversal") return "adjustment";
  return "journal";
}

function sortedEntries(m: Record<string, string>): Array<[string, string]> {
  return Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * sha256 over a canonical JSON text (no keccak: these digests are checked off chain only, and the
 * native hash keeps a leaf cheap). Arrays only, so key order is fixed; strings as JSON.stringify
 * writes them (UTF-8, only quotes, backslashes and control characters escaped).
 */
function contentDigest(tag: string, body: unknown): string {
  return sha256(toUtf8Bytes(JSON.stringify([tag, body])));
}

/** sha256 of ["entrepot.metadata.v1", [[key, value], ...]] over ALL metadata, keys sorted. */
export function metadataDigest(metadata: Record<string, string>): string {
  return contentDigest("entrepot.metadata.v1", sortedEntries(metadata));
}

/** sha256 of ["entrepot.postings.v1", [[account, currency, direction, phase, "amount"], ...]] in posting order. */
export function postingsDigest(postings: AnchoredTransaction["postings"]): string {
  return contentDigest(
    "entrepot.postings.v1",
    postings.map((p) => [p.account, p.currency, p.direction, p.phase ?? "posted", p.amount.toString()]),
  );
}

/** The ledger stores sha256 hex without 0x; as bytes32. */
export function journalHashBytes32(hash: string): string {
  const h = hash.startsWith("0x") ? hash.toLowerCase() : `0x${hash.toLowerCase()}`;
  if (!BYTES32.test(h)) throw new RangeError(`journal hash ${hash} is not 32 bytes of hex`);
  return h;
}

/** FX evidence from the settlement metadata (`fx.<A>-<B>.rate`), pairs sorted. */
export function fxOf(metadata: Record<string, string>): { pairs: string[]; rates: string[] } {
  const pairs: string[] = [];
  const rates: string[] = [];
  for (const [k, v] of sortedEntries(metadata)) {
    const m = /^fx\.([A-Z0-9]{3,12}-[A-Z0-9]{3,12})\.rate$/.exec(k);
    if (m) {
      pairs.push(m[1]!);
      rates.push(v);
    }
  }
  return { pairs, rates };
}

/** The journal metadata keys of the facts v2 leaves carry beside SETTLEMENT_FACT_KEYS (settlement writes them). */
export const LEAF_FACT_KEYS = {
  listingCurrency: "listingCurrency",
  listingPrice: "listingPrice",
  shipFrom: "shipFrom",
  shipToRegion: "shipToRegion",
  taxRule: "tax.ruleId",
  stateTaxRule: "tax.state.ruleId",
} as const;

/** A tax payable account (`tax:<jurisdiction>:<scheme>:payable`): what a tax return reads. */
const TAX_PAYABLE = /^tax:[^:]+:[^:]+:payable$/;

/** Every tax payable the postings move, `<account> <currency>` sorted, with the net credit of each. */
export function taxMovements(postings: AnchoredTransaction["postings"]): { accounts: string[]; amounts: bigint[] } {
  const net = new Map<string, bigint>();
  for (const p of postings) {
    if (!TAX_PAYABLE.test(p.account)) continue;
    const key = `${p.account} ${p.currency}`;
    net.set(key, (net.get(key) ?? 0n) + (p.direction === "credit" ? p.amount : -p.amount));
  }
  const accounts = [...net.keys()].sort();
  return { accounts, amounts: accounts.map((k) => net.get(k)!) };
}

/**
 * The journal leaf of `tx` in batch `ctx`: a pure function of the transaction (its settlement facts
 * from its metadata, its taxes from its postings). `facts` overrides the facts only for a
 * transaction whose metadata predates them (the verifier takes them from such a transaction's
 * leaf). A v1 leaf (`format`) leaves v2's fields empty: they are not part of its encoding.
 */
export function journalLeaf(ctx: AnchorContext, tx: AnchoredTransaction, facts?: SettlementFacts | null, format: string = JOURNAL_LEAF_FORMAT): JournalLeaf {
  const m = tx.metadata;
  const fx = fxOf(m);
  const f = settlementFactsOf(m) ?? facts ?? null;
  const v2 = format !== JOURNAL_LEAF_FORMAT_V1;
  const taxes = v2 ? taxMovements(tx.postings) : { accounts: [], amounts: [] };
  const listingPrice = v2 ? m[LEAF_FACT_KEYS.listingPrice] : undefined;
  if (listingPrice !== undefined && !INTEGER.test(listingPrice)) throw new RangeError(`metadata listingPrice is not an integer: ${JSON.stringify(listingPrice.slice(0, 50))}`);
  const text = (key: string) => (v2 ? (m[key] ?? "") : "");
  return {
    format: v2 ? JOURNAL_LEAF_FORMAT : JOURNAL_LEAF_FORMAT_V1,
    chainId: ctx.chainId,
    anchor: getAddress(ctx.anchor),
    batchId: ctx.batchId,
    sequence: tx.sequence,
    journalTransactionId: tx.id,
    idempotencyKey: tx.idempotencyKey,
    kind: journalKind(tx),
    ledgerKind: tx.kind,
    settlementId: m["settlementId"] ?? "",
    gateway: m["gateway"] ?? "",
    gatewayEventId: m["gatewayEventId"] ?? "",
    eventType: m["eventType"] ?? "",
    sellerId: m["sellerId"] ?? "",
    grossCurrency: f?.currency ?? "",
    grossAmount: f?.amount ?? 0n,
    gatewayFee: f?.gatewayFee ?? 0n,
    feeCurrency: f?.feeCurrency ?? "",
    commission: f?.commission ?? 0n,
    paymentFeeRecovery: f?.paymentFeeRecovery ?? 0n,
    logistics: f?.logistics ?? 0n,
    warehousing: f?.warehousing ?? 0n,
    fulfilment: f?.fulfilment ?? 0n,
    fxMarkup: v2 ? (f?.fxMarkup ?? 0n) : 0n,
    listingCurrency: text(LEAF_FACT_KEYS.listingCurrency),
    listingPrice: listingPrice === undefined ? 0n : BigInt(listingPrice),
    shipFrom: text(LEAF_FACT_KEYS.shipFrom),
    shipToRegion: text(LEAF_FACT_KEYS.shipToRegion),
    taxRules: v2 ? [m[LEAF_FACT_KEYS.taxRule], m[LEAF_FACT_KEYS.stateTaxRule]].filter((r): r is string => r !== undefined) : [],
    taxAccounts: taxes.accounts,
    taxAmounts: taxes.amounts,
    fxQuoteId: m["fxQuoteId"] ?? "",
    fxPairs: fx.pairs,
    fxRates: fx.rates,
    effectiveAtMs: BigInt(tx.effectiveAt.getTime()),
    bookedAtMs: BigInt(tx.bookedAt.getTime()),
    metadataDigest: metadataDigest(m),
    postingsDigest: postingsDigest(tx.postings),
    journalHash: journalHashBytes32(tx.hash),
  };
}

export function documentLeaf(ctx: AnchorContext, doc: { kind: string; id: string; digest: string }): DocumentLeaf {
  const digest = doc.digest.toLowerCase();
  if (!BYTES32.test(digest)) throw new RangeError("document digest must be 0x-prefixed 32-byte hex");
  return {
    format: DOCUMENT_LEAF_FORMAT,
    chainId: ctx.chainId,
    anchor: getAddress(ctx.anchor),
    batchId: ctx.batchId,
    documentKind: doc.kind,
    documentId: doc.id,
    digest,
  };
}

/** A leaf's fields by its format (a v1 journal leaf has fewer). */
export function fieldsOf(leaf: AnyLeaf): FieldList {
  if (leaf.type === "document") return DOCUMENT_LEAF_FIELDS;
  return leaf.leaf.format === JOURNAL_LEAF_FORMAT_V1 ? JOURNAL_LEAF_FIELDS_V1 : JOURNAL_LEAF_FIELDS;
}

/** The ABI types of a leaf, in order (what StandardMerkleTree calls the leaf encoding). */
export function leafEncoding(leaf: AnyLeaf): string[] {
  if (leaf.type === "document") return DOCUMENT_LEAF_ENCODING;
  return leaf.leaf.format === JOURNAL_LEAF_FORMAT_V1 ? JOURNAL_LEAF_ENCODING_V1 : JOURNAL_LEAF_ENCODING;
}

/** The leaf's values in encoding order (bigints stay bigints). */
export function leafValues(leaf: AnyLeaf): unknown[] {
  const record = leaf.leaf as unknown as Record<string, unknown>;
  return fieldsOf(leaf).map(([name]) => record[name]);
}

/** keccak256(keccak256(abi.encode(types, values))): StandardMerkleTree's leaf hash. */
export function standardLeafHash(types: readonly string[], values: readonly unknown[]): string {
  return keccak256(getBytes(keccak256(abiEncode(types, values))));
}

export function leafHash(leaf: AnyLeaf): string {
  return standardLeafHash(leafEncoding(leaf), leafValues(leaf));
}

/** JSON form: integers as decimal strings, in encoding order. */
export function leafValuesJson(leaf: AnyLeaf): unknown[] {
  return leafValues(leaf).map(toJsonValue);
}

function toJsonValue(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(toJsonValue);
  return v;
}

/**
 * Reads a leaf back from its JSON values (a stored leaf, or a proof file), checking each value's
 * shape against its ABI type. Throws a RangeError naming the field on anything malformed.
 */
export function leafFromJson(values: unknown): AnyLeaf {
  if (!Array.isArray(values) || values.length === 0) throw new RangeError("leaf values must be a non-empty array");
  const format: unknown = values[0];
  const type = format === JOURNAL_LEAF_FORMAT || format === JOURNAL_LEAF_FORMAT_V1 ? "journal" : format === DOCUMENT_LEAF_FORMAT ? "document" : null;
  if (type === null) throw new RangeError(`unknown leaf format ${JSON.stringify(format)}`);
  const fields: FieldList = type === "document" ? DOCUMENT_LEAF_FIELDS : format === JOURNAL_LEAF_FORMAT_V1 ? JOURNAL_LEAF_FIELDS_V1 : JOURNAL_LEAF_FIELDS;
  if (values.length !== fields.length) throw new RangeError(`a ${String(format)} leaf has ${fields.length} values, got ${values.length}`);
  // A v1 leaf reads with v2's fields empty (they are not part of its encoding).
  const out: Record<string, unknown> = format === JOURNAL_LEAF_FORMAT_V1 ? { fxMarkup: 0n, listingCurrency: "", listingPrice: 0n, shipFrom: "", shipToRegion: "", taxRules: [], taxAccounts: [], taxAmounts: [] } : {};
  fields.forEach(([name, t], i) => {
    out[name] = fromJsonValue(values[i], t, name);
  });
  return type === "journal" ? { type, leaf: out as unknown as JournalLeaf } : { type, leaf: out as unknown as DocumentLeaf };
}

function fromJsonValue(v: unknown, t: string, name: string): unknown {
  const bad = (what: string) => new RangeError(`leaf field ${name} (${t}): ${what}`);
  if (t.endsWith("[]")) {
    if (!Array.isArray(v)) throw bad("must be an array");
    return v.map((x, i) => fromJsonValue(x, t.slice(0, -2), `${name}[${i}]`));
  }
  if (t.startsWith("uint") || t.startsWith("int")) {
    if (typeof v !== "string" || !/^-?(0|[1-9][0-9]{0,76})$/.test(v)) throw bad("must be a decimal integer string");
    const n = BigInt(v);
    if (t.startsWith("uint") && n < 0n) throw bad("must not be negative");
    return n;
  }
  if (typeof v !== "string") throw bad("must be a string");
  if (t === "address") {
    try {
      return getAddress(v);
    } catch {
      throw bad("must be an address");
    }
  }
  if (t === "bytes32" && !BYTES32.test(v)) throw bad("must be 0x-prefixed lowercase 32-byte hex");
  return v;
}

/** Named view of a leaf for humans (proof files, the API): integers as decimal strings. */
export function leafFieldsJson(leaf: AnyLeaf): Record<string, unknown> {
  const record = leaf.leaf as unknown as Record<string, unknown>;
  return Object.fromEntries(fieldsOf(leaf).map(([name]) => [name, toJsonValue(record[name])]));
}

/**
 * Per-currency totals of a batch: the sum of the debit postings of its journal transactions per
 * currency (every transaction balances per currency, so this is also the credit total), sorted
 * by currency.
 */
export function currencyTotals(txs: readonly JournalTransaction[]): Array<{ currency: string; total: bigint }> {
  const totals = new Map<string, bigint>();
  for (const t of txs) for (const p of t.postings) if (p.direction === "debit") totals.set(p.currency, (totals.get(p.currency) ?? 0n) + p.amount);
  return [...totals.keys()].sort().map((currency) => ({ currency, total: totals.get(currency)! }));
}

/**
 * The per-currency totals digest of a v2 batch: keccak256(abi.encode(CURRENCY_TOTALS_FORMAT,
 * bytes32 salt, string[] currencies, uint256[] totals)). The salt is 32 random bytes drawn when the
 * batch is built and shown only with the totals (to platform keys): a gateway's proof carries this
 * digest without either, and without the salt no guess of the totals can be checked against it
 * (the v1 digest below, over a few small numbers, was found by enumeration in under a second).
 */
export function currencyTotalsDigest(totals: ReadonlyArray<{ currency: string; total: bigint }>, salt: string): string {
  if (!BYTES32.test(salt)) throw new RangeError("totals salt must be 0x-prefixed lowercase 32-byte hex");
  return keccak256(
    abiEncode(["string", "bytes32", "string[]", "uint256[]"], [CURRENCY_TOTALS_FORMAT, salt, totals.map((t) => t.currency), totals.map((t) => t.total)]),
  );
}

/** A v1 batch's per-currency totals digest, unsalted: keccak256(abi.encode(string[] currencies, uint256[] totals)). */
export function currencyTotalsDigestV1(totals: ReadonlyArray<{ currency: string; total: bigint }>): string {
  return keccak256(abiEncode(["string[]", "uint256[]"], [totals.map((t) => t.currency), totals.map((t) => t.total)]));
}

/** The per-currency totals digest in a batch's own format (v2 needs its salt; v1 has none). */
export function batchCurrencyTotalsDigest(format: BatchFormat, totals: ReadonlyArray<{ currency: string; total: bigint }>, salt: string | null): string {
  if (format === BATCH_FORMAT_V1) {
    if (salt !== null) throw new RangeError(`a ${BATCH_FORMAT_V1} batch has no totals salt`);
    return currencyTotalsDigestV1(totals);
  }
  if (salt === null) throw new RangeError(`a ${format} batch's totals digest needs its salt`);
  return currencyTotalsDigest(totals, salt);
}

/** The preimage of a batch's `totalsDigest`; it chains the batch to its predecessor's root. */
export interface BatchPreimage {
  /** v1 and v2 share this preimage; they differ in how `currencyTotalsDigest` is made. */
  format: BatchFormat;
  chainId: bigint;
  anchor: string;
  batchId: bigint;
  /** Root of batch `batchId - 1` (zero for batch 1). */
  previousRoot: string;
  /** Journal range [firstSequence, lastSequence]; empty (first = last + 1) for a documents-only batch. */
  firstSequence: bigint;
  lastSequence: bigint;
  /** Leaves in the batch (journal transactions + documents): the `count` of BatchAnchored. */
  count: bigint;
  currencyTotalsDigest: string;
}

export const BATCH_PREIMAGE_TYPES = ["string", "uint256", "address", "uint64", "bytes32", "uint64", "uint64", "uint32", "bytes32"];

export function totalsDigest(p: BatchPreimage): string {
  return keccak256(
    abiEncode(BATCH_PREIMAGE_TYPES, [
      p.format,
      p.chainId,
      getAddress(p.anchor),
      p.batchId,
      p.previousRoot,
      p.firstSequence,
      p.lastSequence,
      p.count,
      p.currencyTotalsDigest,
    ]),
  );
}
