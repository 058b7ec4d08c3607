/**
 * The root of a batch, computed exactly as @openzeppelin/merkle-tree builds its trees (leaf hashes
 * sorted ascending, laid out at the end of a complete binary tree array in reverse order, each node
 * keccak256 of its two children sorted), on bytes rather than hex strings: ~4x faster than
 * `SimpleMerkleTree.of`, which matters at thousands of leaves per batch. Proofs are still served by
 * the library itself (service.ts rebuilds the tree with it and checks the root against this one),
 * and the tests compare both on random trees.
 */
import { keccak256 } from "ethers";

export function merkleRoot(leafHashes: readonly string[]): string {
  if (leafHashes.length === 0) throw new RangeError("a Merkle tree needs at least one leaf");
  const leaves = leafHashes.map((h) => {
    if (!/^0x[0-9a-fA-F]{64}$/.test(h)) throw new RangeError(`leaf hash ${h} is not 32 bytes of hex`);
    return Buffer.from(h.slice(2), "hex");
  });
  leaves.sort((a, b) => Buffer.compare(a, b));
  const n = leaves.length;
  const tree: Buffer[] = new Array<Buffer>(2 * n - 1);
  for (let i = 0; i < n; i++) tree[tree.length - 1 - i] = leaves[i]!;
  const pair = Buffer.alloc(64);
  for (let i = tree.length - 1 - n; i >= 0; i--) {
    const a = tree[2 * i + 1]!;
    const b = tree[2 * i + 2]!;
    const [lo, hi] = Buffer.compare(a, b) <= 0 ? [a, b] : [b, a];
    lo.copy(pair, 0);
    hi.copy(pair, 32);
    tree[i] = Buffer.from(keccak256(pair).slice(2), "hex");
  }
  return `0x${tree[0]!.toString("hex")}`;
}
