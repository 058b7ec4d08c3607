/**
 * A realistic settlement leaf for the Merkle batches, shared by the end-to-end tests and the gas
 * bench. Encoded the StandardMerkleTree way (double keccak of the ABI encoding), which is what
 * SettlementAnchor.verifySettlement expects.
 */
import { AbiCoder, keccak256 } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

/**
 * The leaf of one settlement: the settlement's id (hash of the gateway event
 * id), the seller, the ISO 4217 currency, the signed amount in minor units (refunds and
 * chargebacks are negative) and the booking time. Encoded the StandardMerkleTree way.
 */
export const SETTLEMENT_LEAF_ENCODING = ["bytes32", "bytes32", "string", "int256", "uint64"];
export type SettlementLeaf = [settlementId: string, sellerId: string, currency: string, amountMinor: bigint, bookedAt: bigint];

export function settlementLeaf(i: number, currency = ["EUR", "USD", "BRL", "JPY"][i % 4]!): SettlementLeaf {
  const amount = BigInt(1_000 + ((i * 7919) % 500_000)) * (i % 13 === 0 ? -1n : 1n);
  return [
    keccak256(AbiCoder.defaultAbiCoder().encode(["string"], [`gw:evt_${i}`])),
    keccak256(AbiCoder.defaultAbiCoder().encode(["string"], [`seller_${i % 97}`])),
    currency,
    amount,
    1_764_000_000n + BigInt(i),
  ];
}

export function settlementTree(n: number, offset = 0): StandardMerkleTree<SettlementLeaf> {
  return StandardMerkleTree.of(
    Array.from({ length: n }, (_, i) => settlementLeaf(offset + i)),
    SETTLEMENT_LEAF_ENCODING,
  );
}

/** Digest of per-currency totals, sorted by currency, committed alongside the root. */
export function totalsDigest(leaves: readonly SettlementLeaf[]): string {
  const totals = new Map<string, bigint>();
  for (const [, , currency, amount] of leaves) totals.set(currency, (totals.get(currency) ?? 0n) + amount);
  const currencies = [...totals.keys()].sort();
  return keccak256(AbiCoder.defaultAbiCoder().encode(["string[]", "int256[]"], [currencies, currencies.map((c) => totals.get(c)!)]));
}
