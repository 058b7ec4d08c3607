import { SimpleMerkleTree, StandardMerkleTree } from "@openzeppelin/merkle-tree";
import fc from "fast-check";
import { AbiCoder, getAddress, hexlify, keccak256, ZeroHash } from "ethers";
import { describe, expect, it } from "vitest";
import { abiEncode } from "../../service/anchoring/abi.js";
import { merkleRoot } from "../../service/anchoring/tree.js";
import {
  BATCH_FORMAT,
  BATCH_FORMAT_V1,
  batchCurrencyTotalsDigest,
  currencyTotals,
  currencyTotalsDigest,
  currencyTotalsDigestV1,
  CURRENCY_TOTALS_FORMAT,
  DOCUMENT_LEAF_ENCODING,
  DOCUMENT_LEAF_FORMAT,
  documentLeaf,
  JOURNAL_LEAF_ENCODING,
  JOURNAL_LEAF_FIELDS,
  JOURNAL_LEAF_FORMAT,
  JOURNAL_LEAF_FORMAT_V1,
  journalKind,
  journalLeaf,
  leafFromJson,
  leafHash,
  leafValues,
  leafValuesJson,
  postingsDigest,
  totalsDigest,
  settlementFactsOf,
  SETTLEMENT_FACT_KEYS,
  type AnyLeaf,
  type BatchPreimage,
} from "../../service/anchoring/leaf.js";
import type { JournalTransaction } from "../../service/ledger/types.js";
import { settlementTransaction, SYNTHETIC_CONTEXT } from "../chain/settlements.js";

const ctx = { chainId: 31337n, anchor: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", batchId: 7n };
const SALT = keccak256("0x01");

function journal(i: number, c = ctx): AnyLeaf {
  return { type: "journal", leaf: journalLeaf(c, settlementTransaction(i).tx) };
}

describe("anchoring leaf encoding", () => {
  it("hashes exactly like @openzeppelin/merkle-tree's StandardMerkleTree, and builds the same root", () => {
    const leaves = Array.from({ length: 37 }, (_, i) => journal(i));
    const values = leaves.map(leafValues);
    const standard = StandardMerkleTree.of(values, JOURNAL_LEAF_ENCODING);
    leaves.forEach((l, i) => expect(leafHash(l)).toBe(standard.leafHash(values[i]!)));
    // The service builds trees over leaf hashes (batches mix journal and document leaves).
    expect(SimpleMerkleTree.of(leaves.map(leafHash)).root).toBe(standard.root);
    const tree = SimpleMerkleTree.of(leaves.map(leafHash));
    for (const i of [0, 17, 36]) expect(StandardMerkleTree.verify(tree.root, JOURNAL_LEAF_ENCODING, values[i]!, tree.getProof(i))).toBe(true);
  });

  it("is stable: fixed vectors for a journal leaf and a document leaf (a change here changes every root)", () => {
    const tx: JournalTransaction = {
      id: "42",
      sequence: 42n,
      kind: "standard",
      status: "posted",
      idempotencyKey: "settlement:adyen:evt-1",
      postings: [
        { id: "1", account: "gateway:adyen:receivable", currency: "BRL", direction: "debit", phase: "posted", amount: 14556n, balanceAfter: 14556n },
        { id: "2", account: "platform:expense:payment_fees", currency: "BRL", direction: "debit", phase: "posted", amount: 434n, balanceAfter: 434n },
        { id: "3", account: "fx:BRL-USD", currency: "BRL", direction: "credit", phase: "posted", amount: 14990n, balanceAfter: -14990n },
      ],
      metadata: { settlementId: "ORD-1", sellerId: "S-1", gateway: "adyen", gatewayEventId: "evt-1", eventType: "capture", "fx.BRL-USD.rate": "0.16612", fxQuoteId: "q-1" },
      description: "capture ORD-1",
      effectiveAt: new Date("2024-12-10T09:00:00.000Z"),
      bookedAt: new Date("2024-12-10T09:00:01.250Z"),
      referencesId: null,
      hash: "ab".repeat(32),
      previousHash: "00".repeat(32),
    };
    const facts = { currency: "BRL", amount: 14990n, gatewayFee: 434n, feeCurrency: "USD", commission: 199n, paymentFeeRecovery: 72n, logistics: 350n, warehousing: 0n, fulfilment: 0n, fxMarkup: 0n };
    // A v1 leaf (anchored before v2) keeps its hash: its proofs still verify.
    const v1: AnyLeaf = { type: "journal", leaf: journalLeaf(ctx, tx, facts, JOURNAL_LEAF_FORMAT_V1) };
    expect(v1.leaf.format).toBe(JOURNAL_LEAF_FORMAT_V1);
    expect(leafHash(v1)).toBe("0x6f6b241187e28b1916f99499c5e426ebb7ab26a15f0af56c9baa78108e88063f");
    expect(leafHash({ type: "journal", leaf: leafFromJson(leafValuesJson(v1)).leaf as typeof v1.leaf })).toBe(leafHash(v1));
    // v2 adds the markup line, the listing, where the goods shipped, the tax rules and the tax postings.
    const v2tx: JournalTransaction = {
      ...tx,
      postings: [
        ...tx.postings,
        { id: "4", account: "tax:BR:BR_REMESSA_CONFORME:payable", currency: "BRL", direction: "credit", phase: "posted", amount: 2074n, balanceAfter: -2074n },
        { id: "5", account: "tax:BR-SP:BR_ICMS:payable", currency: "BRL", direction: "credit", phase: "posted", amount: 2548n, balanceAfter: -2548n },
      ],
      metadata: { ...tx.metadata, listingPrice: "9900", listingCurrency: "CNY", shipToRegion: "BR-SP", "tax.ruleId": "tax-BR-remessa-2024", "tax.state.ruleId": "tax-BR-SP-icms-2023-08" },
    };
    const j: AnyLeaf = { type: "journal", leaf: journalLeaf(ctx, v2tx, { ...facts, fxMarkup: 23n }) };
    expect(j.leaf.format).toBe(JOURNAL_LEAF_FORMAT);
    expect(j.leaf).toMatchObject({
      fxMarkup: 23n,
      listingCurrency: "CNY",
      listingPrice: 9900n,
      shipFrom: "",
      shipToRegion: "BR-SP",
      taxRules: ["tax-BR-remessa-2024", "tax-BR-SP-icms-2023-08"],
      taxAccounts: ["tax:BR-SP:BR_ICMS:payable BRL", "tax:BR:BR_REMESSA_CONFORME:payable BRL"],
      taxAmounts: [2548n, 2074n],
    });
    expect(leafHash(j)).toBe("0x4fc38ebeb67a1fff54b522a5e8c9ffc49266d9ac5fe54201f6c657d5d23b5d73");
    const d: AnyLeaf = { type: "document", leaf: documentLeaf(ctx, { kind: "reconciliation", id: "run-1", digest: keccak256("0x01") }) };
    expect(d.leaf.format).toBe(DOCUMENT_LEAF_FORMAT);
    expect(leafHash(d)).toBe("0xdbd0760478da4e1be0f83afe3065841b787d9a0275ad76291fe19ff1d3135ccc");
  });

  it("binds every field: changing any one value changes the leaf hash", () => {
    const base = journal(5);
    const values = leafValues(base);
    const hash = leafHash(base);
    const seen = new Set([hash]);
    JOURNAL_LEAF_FIELDS.forEach(([name, type], i) => {
      const v = values[i];
      let changed: unknown;
      if (type === "address") changed = getAddress("0x000000000000000000000000000000000000dEaD");
      else if (type === "bytes32") changed = keccak256(AbiCoder.defaultAbiCoder().encode(["string"], [String(v)]));
      else if (type === "int256[]") changed = [...(v as bigint[]), 1n];
      else if (type.endsWith("[]")) changed = [...(v as string[]), "X"];
      else if (type.startsWith("uint") || type.startsWith("int")) changed = (v as bigint) + 1n;
      else changed = `${String(v)}x`;
      const copy = [...values];
      copy[i] = changed;
      const h = StandardMerkleTree.of([copy], JOURNAL_LEAF_ENCODING).leafHash(copy);
      expect(seen.has(h), `field ${name}`).toBe(false);
      seen.add(h);
    });
  });

  it("binds chain, contract and batch: the same transaction in another batch or deployment is another leaf", () => {
    const a = leafHash(journal(1));
    expect(leafHash(journal(1, { ...ctx, batchId: 8n }))).not.toBe(a);
    expect(leafHash(journal(1, { ...ctx, chainId: 1n }))).not.toBe(a);
    expect(leafHash(journal(1, { ...ctx, anchor: SYNTHETIC_CONTEXT.anchor }))).not.toBe(a);
  });

  it("carries the settlement's content: keys, kind, gross, fees, FX evidence, postings and journal hash", () => {
    const { tx, facts } = settlementTransaction(2);
    const l = journalLeaf(ctx, tx);
    expect(l).toMatchObject({
      sequence: 3n,
      journalTransactionId: "3",
      idempotencyKey: tx.idempotencyKey,
      kind: "settlement",
      ledgerKind: "standard",
      settlementId: "ORD-2",
      gateway: tx.metadata["gateway"],
      gatewayEventId: "evt_2",
      eventType: "capture",
      sellerId: tx.metadata["sellerId"],
      grossCurrency: facts.currency,
      grossAmount: facts.amount,
      gatewayFee: facts.gatewayFee,
      feeCurrency: "USD",
      commission: facts.commission,
      logistics: facts.logistics,
      fxPairs: ["PLN-USD", "USD-CNY"],
      fxRates: ["0.24570", "7.2450"],
      postingsDigest: postingsDigest(tx.postings),
      journalHash: `0x${tx.hash}`,
    });
    // Without settlement facts (a payout, an adjustment) the settlement fields are empty, not guessed.
    const bare = journalLeaf(ctx, { ...tx, idempotencyKey: "payout:1", metadata: { kind: "payout", payoutId: "1" } });
    expect(bare).toMatchObject({ kind: "payout", grossCurrency: "", grossAmount: 0n, gatewayFee: 0n, settlementId: "", fxPairs: [] });
  });

  it("reads the gross and fee lines from the journal metadata; a given set of facts is used only where the metadata has none", () => {
    const { tx, facts } = settlementTransaction(4);
    expect(settlementFactsOf(tx.metadata)).toEqual(facts);
    const other = { ...facts, amount: facts.amount + 1n, commission: 0n };
    // The journal wins: a leaf is a function of the transaction, whatever the caller passes.
    expect(journalLeaf(ctx, tx, other)).toEqual(journalLeaf(ctx, tx));
    // A transaction booked before settlements wrote their facts: the given ones (the verifier takes them from the leaf).
    const legacy = { ...tx, metadata: Object.fromEntries(Object.entries(tx.metadata).filter(([k]) => !Object.values(SETTLEMENT_FACT_KEYS).includes(k as never))) };
    expect(settlementFactsOf(legacy.metadata)).toBeNull();
    expect(journalLeaf(ctx, legacy, other)).toMatchObject({ grossAmount: other.amount, commission: 0n, logistics: facts.logistics });
    expect(journalLeaf(ctx, legacy)).toMatchObject({ grossCurrency: "", grossAmount: 0n });
    // A malformed amount is refused, never read as zero.
    expect(() => settlementFactsOf({ ...tx.metadata, "fee.logistics": "1.5" })).toThrow(/fee.logistics/);
    expect(() => settlementFactsOf({ ...tx.metadata, grossAmount: "" })).toThrow(/grossAmount/);
  });

  it("classifies kinds from metadata: declared kind, settlement event keys, payouts, reversals, anything else", () => {
    const t = (idempotencyKey: string, metadata: Record<string, string>, kind: "standard" | "reversal" = "standard") => ({ idempotencyKey, metadata, kind });
    expect(journalKind(t("settlement:adyen:e1", { gatewayEventId: "e1" }))).toBe("settlement");
    expect(journalKind(t("x", { kind: "adjustment" }))).toBe("adjustment");
    expect(journalKind(t("x", { kind: "payout" }))).toBe("payout");
    expect(journalKind(t("x", { payoutId: "9" }))).toBe("payout");
    expect(journalKind(t("remittance:adyen:PO-1", { kind: "remittance" }))).toBe("remittance");
    expect(journalKind(t("fx-revaluation:2025-03-31T00:00:00.000Z", { kind: "fx_revaluation" }))).toBe("fx_revaluation");
    expect(journalKind(t("rev:1", { gatewayEventId: "e1" }, "reversal"))).toBe("adjustment");
    expect(journalKind(t("x", { kind: "nonsense" }))).toBe("journal");
    expect(journalKind(t("x", {}))).toBe("journal");
  });

  it("round-trips through JSON and refuses malformed values naming the field", () => {
    const j = journal(9);
    const json = JSON.parse(JSON.stringify(leafValuesJson(j))) as unknown[];
    const back = leafFromJson(json);
    expect(leafHash(back)).toBe(leafHash(j));
    const bad = (i: number, v: unknown) => {
      const copy = [...json];
      copy[i] = v;
      return () => leafFromJson(copy);
    };
    const idx = (n: string) => JOURNAL_LEAF_FIELDS.findIndex(([name]) => name === n);
    expect(bad(idx("grossAmount"), 12)).toThrow(/grossAmount/);
    expect(bad(idx("sequence"), "-1")).toThrow(/sequence/);
    expect(bad(idx("anchor"), "0x1234")).toThrow(/anchor/);
    expect(bad(idx("journalHash"), "0xABC")).toThrow(/journalHash/);
    expect(bad(idx("fxPairs"), "BRL-USD")).toThrow(/fxPairs/);
    expect(bad(0, "entrepot.anchor.journal.v0")).toThrow(/unknown leaf format/);
    expect(() => leafFromJson(json.slice(1))).toThrow();
    const d: AnyLeaf = { type: "document", leaf: documentLeaf(ctx, { kind: "k", id: "i", digest: ZeroHash }) };
    expect(leafFromJson(leafValuesJson(d)).type).toBe("document");
    expect(DOCUMENT_LEAF_ENCODING[0]).toBe("string");
  });

  it("digests a batch: per-currency debit totals and a preimage that chains to the previous root", () => {
    const txs = [0, 1, 2, 3, 4].map((i) => settlementTransaction(i).tx);
    const totals = currencyTotals(txs);
    expect(totals.map((t) => t.currency)).toEqual([...totals.map((t) => t.currency)].sort());
    for (const { currency, total } of totals) {
      const credits = txs.flatMap((t) => t.postings).filter((p) => p.currency === currency && p.direction === "credit").reduce((a, p) => a + p.amount, 0n);
      expect(total).toBe(credits); // every synthetic transaction balances per currency
    }
    const preimage: BatchPreimage = {
      format: BATCH_FORMAT,
      ...ctx,
      previousRoot: ZeroHash,
      firstSequence: 1n,
      lastSequence: 5n,
      count: 5n,
      currencyTotalsDigest: currencyTotalsDigest(totals, SALT),
    };
    const d = totalsDigest(preimage);
    expect(totalsDigest({ ...preimage, previousRoot: keccak256("0x02") })).not.toBe(d);
    expect(totalsDigest({ ...preimage, lastSequence: 6n })).not.toBe(d);
    expect(totalsDigest({ ...preimage, currencyTotalsDigest: currencyTotalsDigest(totals.slice(1), SALT) })).not.toBe(d);
    expect(totalsDigest({ ...preimage, format: BATCH_FORMAT_V1 })).not.toBe(d);
  });

  it("salts a v2 batch's per-currency totals digest; a v1 batch's stays the unsalted digest it was anchored with", () => {
    const totals = [
      { currency: "BRL", total: 14_990n },
      { currency: "USD", total: 3_999n },
    ];
    const coder = AbiCoder.defaultAbiCoder();
    const names = totals.map((t) => t.currency);
    const amounts = totals.map((t) => t.total);
    // The composition, checked with ethers' own encoder: format tag, salt, currencies, totals.
    expect(BATCH_FORMAT).toBe("entrepot.anchor.batch.v2");
    expect(currencyTotalsDigest(totals, SALT)).toBe(keccak256(coder.encode(["string", "bytes32", "string[]", "uint256[]"], [CURRENCY_TOTALS_FORMAT, SALT, names, amounts])));
    expect(CURRENCY_TOTALS_FORMAT).toBe("entrepot.anchor.currency-totals.v2");
    // v1 (batches anchored before the salt) is exactly what they were anchored with.
    expect(currencyTotalsDigestV1(totals)).toBe(keccak256(coder.encode(["string[]", "uint256[]"], [names, amounts])));
    expect(currencyTotalsDigestV1(totals)).toBe("0x29bb51c2a705754e110ce85ee1a150993c56cd1d69df4930ddecd167bac1ff08");
    expect(batchCurrencyTotalsDigest(BATCH_FORMAT_V1, totals, null)).toBe(currencyTotalsDigestV1(totals));
    expect(batchCurrencyTotalsDigest(BATCH_FORMAT, totals, SALT)).toBe(currencyTotalsDigest(totals, SALT));
    // Another salt, another digest; the same totals give nothing in common.
    expect(currencyTotalsDigest(totals, keccak256("0x02"))).not.toBe(currencyTotalsDigest(totals, SALT));
    expect(currencyTotalsDigest(totals, SALT)).not.toBe(currencyTotalsDigestV1(totals));
    expect(() => batchCurrencyTotalsDigest(BATCH_FORMAT, totals, null)).toThrow(/needs its salt/);
    expect(() => batchCurrencyTotalsDigest(BATCH_FORMAT_V1, totals, SALT)).toThrow(/has no totals salt/);
    expect(() => currencyTotalsDigest(totals, "0x1234")).toThrow(/32-byte/);
  });
});

describe("abiEncode (the leaves' fast encoder)", () => {
  const coder = AbiCoder.defaultAbiCoder();
  const TYPES = ["string", "uint64", "int256", "uint256", "address", "bytes32", "bool", "string[]", "uint256[]", "tuple(string,string,uint256)[]", "tuple(uint64,bytes32)"];
  const arbitraryFor = (t: string): fc.Arbitrary<unknown> => {
    switch (t) {
      case "string":
        return fc.string({ unit: "binary", maxLength: 80 });
      case "uint64":
        return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
      case "int256":
        return fc.bigInt({ min: -(1n << 255n), max: (1n << 255n) - 1n });
      case "uint256":
        return fc.bigInt({ min: 0n, max: (1n << 256n) - 1n });
      case "address":
        return fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(hexlify(b)));
      case "bytes32":
        return fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hexlify(b));
      case "bool":
        return fc.boolean();
      case "string[]":
        return fc.array(arbitraryFor("string"), { maxLength: 6 });
      case "uint256[]":
        return fc.array(arbitraryFor("uint256"), { maxLength: 6 });
      case "tuple(string,string,uint256)[]":
        return fc.array(fc.tuple(arbitraryFor("string"), arbitraryFor("string"), arbitraryFor("uint256")), { maxLength: 5 });
      default:
        return fc.tuple(arbitraryFor("uint64"), arbitraryFor("bytes32"));
    }
  };

  it("is byte-for-byte ethers' AbiCoder on random values of every supported type", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...TYPES), { minLength: 1, maxLength: 8 }).chain((types) => fc.tuple(fc.constant(types), fc.tuple(...types.map(arbitraryFor)))),
        ([types, values]) => {
          expect(hexlify(abiEncode(types, values))).toBe(coder.encode(types, values));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses out-of-range integers and malformed addresses", () => {
    expect(() => abiEncode(["uint64"], [1n << 64n])).toThrow(RangeError);
    expect(() => abiEncode(["uint256"], [-1n])).toThrow(RangeError);
    expect(() => abiEncode(["address"], ["0x1234"])).toThrow(TypeError);
    expect(() => abiEncode(["bytes32"], ["0x12"])).toThrow(TypeError);
    expect(() => abiEncode(["fixed128x18"], [1n])).toThrow(TypeError);
  });
});

describe("merkleRoot (the batches' fast tree)", () => {
  it("gives @openzeppelin/merkle-tree's root for any number of leaves", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 70 }), (raw) => {
        const hashes = [...new Set(raw.map((b) => hexlify(b)))];
        expect(merkleRoot(hashes)).toBe(SimpleMerkleTree.of(hashes).root);
      }),
      { numRuns: 200 },
    );
    const leaves = Array.from({ length: 1_000 }, (_, i) => keccak256(AbiCoder.defaultAbiCoder().encode(["uint256"], [i])));
    expect(merkleRoot(leaves)).toBe(SimpleMerkleTree.of(leaves).root);
    expect(merkleRoot([leaves[0]!])).toBe(leaves[0]);
    expect(() => merkleRoot([])).toThrow(RangeError);
  });
});
