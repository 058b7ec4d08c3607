/**
 * Realistic settlement leaves for the Merkle batches, shared by the end-to-end tests and the gas
 * bench: the service's real journal-leaf encoding (service/anchoring/leaf.ts) over synthetic
 * settlement journal transactions shaped like the settlement planner's (FX legs, fees, tax,
 * metadata), so the trees and proofs are exactly what production anchors.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress, keccak256, toUtf8Bytes, ZeroHash } from "ethers";
import {
  BATCH_FORMAT,
  currencyTotals,
  currencyTotalsDigest,
  JOURNAL_LEAF_ENCODING,
  journalLeaf,
  leafValues,
  settlementFactsMetadata,
  totalsDigest as batchTotalsDigest,
  type AnchorContext,
  type SettlementFacts,
} from "../../service/anchoring/leaf.js";
import type { JournalTransaction } from "../../service/ledger/types.js";

export const SETTLEMENT_LEAF_ENCODING = JOURNAL_LEAF_ENCODING;
/** A leaf's values in encoding order (what StandardMerkleTree stores). */
export type SettlementLeaf = unknown[];

/** Where the synthetic leaves say they are anchored (the contract does not check leaves). */
export const SYNTHETIC_CONTEXT: AnchorContext = { chainId: 31337n, anchor: getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3"), batchId: 1n };

const MARKETS = [
  { currency: "BRL", market: "BR", rate: "0.16612", tax: "BR_REMESSA_CONFORME" },
  { currency: "EUR", market: "ES", rate: "1.05380", tax: "EU_IOSS" },
  { currency: "PLN", market: "PL", rate: "0.24570", tax: "EU_IOSS" },
  { currency: "KRW", market: "KR", rate: "0.000716", tax: "KR_VAT" },
];

/** The journal transaction of synthetic capture `i` (a buyer-currency capture for a CNY-paid seller), its settlement facts in its metadata as settlement writes them. */
export function settlementTransaction(i: number): { tx: JournalTransaction; facts: SettlementFacts } {
  const m = MARKETS[i % MARKETS.length]!;
  const gross = BigInt(1_000 + ((i * 7919) % 500_000));
  const fee = (gross * 29n) / 1000n;
  const tax = (gross * 17n) / 100n;
  const netUsd = ((gross - tax) * 166n) / 1000n + 1n;
  const commission = (netUsd * 8n) / 100n;
  const logistics = netUsd / 20n + 1n;
  const sellerUsd = netUsd - commission - logistics;
  const sellerCny = sellerUsd * 7n;
  const gateway = i % 3 === 0 ? "adyen" : "stripe";
  const eventId = `evt_${i}`;
  const seller = `S-POP-SZ-${String(i % 97).padStart(2, "0")}`;
  const at = new Date(Date.UTC(2024, 11, 2, 9) + i * 1000);
  const postings = [
    { account: `gateway:${gateway}:receivable`, currency: m.currency, direction: "debit" as const, amount: gross - fee },
    { account: "platform:expense:payment_fees", currency: m.currency, direction: "debit" as const, amount: fee },
    { account: `tax:${m.market}:${m.tax}:payable`, currency: m.currency, direction: "credit" as const, amount: tax },
    { account: `fx:${m.currency}-USD`, currency: m.currency, direction: "credit" as const, amount: gross - tax },
    { account: `fx:${m.currency}-USD`, currency: "USD", direction: "debit" as const, amount: netUsd },
    { account: "platform:revenue:commission", currency: "USD", direction: "credit" as const, amount: commission },
    { account: "platform:revenue:logistics", currency: "USD", direction: "credit" as const, amount: logistics },
    { account: "fx:CNY-USD", currency: "USD", direction: "credit" as const, amount: sellerUsd },
    { account: "fx:CNY-USD", currency: "CNY", direction: "debit" as const, amount: sellerCny },
    { account: `seller:${seller}:held`, currency: "CNY", direction: "credit" as const, amount: sellerCny },
  ].map((p, j) => ({ ...p, id: String(i * 10 + j + 1), phase: "posted" as const, balanceAfter: p.amount }));
  const facts: SettlementFacts = {
    currency: m.currency,
    amount: gross,
    gatewayFee: fee,
    feeCurrency: "USD",
    commission,
    paymentFeeRecovery: 0n,
    logistics,
    warehousing: 0n,
    fulfilment: 0n,
    fxMarkup: 0n,
  };
  const sequence = BigInt(i + 1);
  const hex = (n: bigint) => n.toString(16).padStart(64, "0");
  const tx: JournalTransaction = {
    id: sequence.toString(),
    sequence,
    kind: "standard",
    status: "posted",
    idempotencyKey: `settlement:${gateway}:${eventId}`,
    postings,
    metadata: {
      settlementId: `ORD-${i}`,
      sellerId: seller,
      gateway,
      gatewayEventId: eventId,
      eventType: "capture",
      market: m.market,
      category: "electronics",
      program: "pop",
      captureKey: `settlement:${gateway}:${eventId}`,
      [`fx.${m.currency}-USD.rate`]: m.rate,
      "fx.USD-CNY.rate": "7.2450",
      ...settlementFactsMetadata(facts),
    },
    description: `capture ORD-${i} (pop, ${m.market})`,
    effectiveAt: at,
    bookedAt: at,
    referencesId: null,
    hash: hex(0x5e771e00n + sequence),
    previousHash: hex(0x5e771e00n + sequence - 1n),
  };
  return { tx, facts };
}

export function settlementLeaf(i: number, ctx: AnchorContext = SYNTHETIC_CONTEXT): SettlementLeaf {
  return leafValues({ type: "journal", leaf: journalLeaf(ctx, settlementTransaction(i).tx) });
}

export function settlementTree(n: number, offset = 0, ctx: AnchorContext = SYNTHETIC_CONTEXT): StandardMerkleTree<SettlementLeaf> {
  return StandardMerkleTree.of(
    Array.from({ length: n }, (_, i) => settlementLeaf(offset + i, ctx)),
    SETTLEMENT_LEAF_ENCODING,
  );
}

/**
 * The totalsDigest of the batch of settlements offset..offset+n-1 (its journal range, count, per-currency totals
 * with their salt, and previous root), as the anchoring service computes it; the service draws the salt at random,
 * here it is fixed per batch id so the gas figures repeat.
 */
export function settlementTotalsDigest(n: number, offset = 0, ctx: AnchorContext = SYNTHETIC_CONTEXT, previousRoot: string = ZeroHash): string {
  const salt = keccak256(toUtf8Bytes(`synthetic totals salt ${ctx.batchId}`));
  const txs = Array.from({ length: n }, (_, i) => settlementTransaction(offset + i).tx);
  return batchTotalsDigest({
    format: BATCH_FORMAT,
    chainId: ctx.chainId,
    anchor: ctx.anchor,
    batchId: ctx.batchId,
    previousRoot,
    firstSequence: BigInt(offset + 1),
    lastSequence: BigInt(offset + n),
    count: BigInt(n),
    currencyTotalsDigest: currencyTotalsDigest(currencyTotals(txs), salt),
  });
}

/** A batch as the service would anchor it: the tree of settlements offset..offset+n-1 and its totalsDigest. */
export function settlementBatch(
  n: number,
  offset = 0,
  ctx: AnchorContext = SYNTHETIC_CONTEXT,
  previousRoot: string = ZeroHash,
): { tree: StandardMerkleTree<SettlementLeaf>; totalsDigest: string; count: number } {
  return { tree: settlementTree(n, offset, ctx), totalsDigest: settlementTotalsDigest(n, offset, ctx, previousRoot), count: n };
}
