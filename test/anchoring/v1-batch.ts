/**
 * A batch built the way anchoring built every batch before the salted totals digest (batch format
 * `entrepot.anchor.batch.v1`): the worker's build of that version (journal leaves, root, unsalted
 * per-currency totals digest) and its store's INSERT, which had no `totals_salt` column. Committed
 * as "built", it is what an upgraded database holds: the next `tick` submits it like any built
 * batch, and the batches after it are v2, chained to its root.
 */
import { getAddress } from "ethers";
import type { SqlRunner } from "../../service/db/sql.js";
import {
  BATCH_FORMAT_V1,
  currencyTotals,
  currencyTotalsDigestV1,
  journalLeaf,
  leafHash,
  leafValuesJson,
  totalsDigest,
  type AnyLeaf,
} from "../../service/anchoring/leaf.js";
import { merkleRoot } from "../../service/anchoring/tree.js";
import type { JournalTransaction } from "../../service/ledger/types.js";

export async function insertV1Batch(
  sql: SqlRunner,
  b: { chainId: bigint; anchor: string; batchId: bigint; previousRoot: string; txs: readonly JournalTransaction[]; at?: Date },
): Promise<{ root: string; totalsDigest: string; currencyTotalsDigest: string }> {
  const anchor = getAddress(b.anchor);
  const ctx = { chainId: b.chainId, anchor, batchId: b.batchId };
  const leaves: AnyLeaf[] = b.txs.map((t) => ({ type: "journal", leaf: journalLeaf(ctx, t) }));
  const hashes = leaves.map(leafHash);
  const root = merkleRoot(hashes);
  const totals = currencyTotals(b.txs);
  const firstSequence = b.txs[0]!.sequence;
  const lastSequence = b.txs[b.txs.length - 1]!.sequence;
  const ctd = currencyTotalsDigestV1(totals);
  const digest = totalsDigest({
    format: BATCH_FORMAT_V1,
    ...ctx,
    previousRoot: b.previousRoot,
    firstSequence,
    lastSequence,
    count: BigInt(leaves.length),
    currencyTotalsDigest: ctd,
  });
  const at = b.at ?? new Date();
  await sql.transaction(async (tx) => {
    await tx.q(
      `INSERT INTO "anchor_batches" ("chain_id", "anchor_address", "batch_id", "root", "leaf_count", "journal_count", "first_sequence",
         "last_sequence", "currency_totals", "totals_digest", "previous_root", "status", "sender_key", "created_at", "updated_at")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, 'built', $12, $13, $13)`,
      b.chainId,
      anchor,
      b.batchId,
      root,
      leaves.length,
      b.txs.length,
      firstSequence,
      lastSequence,
      JSON.stringify(totals.map((t) => ({ currency: t.currency, total: t.total.toString() }))),
      digest,
      b.previousRoot,
      `anchor:${b.chainId}:${anchor}:${b.batchId}`,
      at,
    );
    await tx.q(
      `INSERT INTO "anchor_leaves" ("chain_id", "anchor_address", "batch_id", "position", "kind", "subject_id", "leaf_hash", "leaf_values")
       SELECT $1, $2, $3, * FROM unnest($4::int[], $5::text[], $6::text[], $7::text[], $8::jsonb[])`,
      b.chainId,
      anchor,
      b.batchId,
      leaves.map((_, i) => i),
      leaves.map(() => "journal"),
      b.txs.map((t) => t.id),
      hashes,
      leaves.map((l) => JSON.stringify(leafValuesJson(l))),
    );
  });
  return { root, totalsDigest: digest, currencyTotalsDigest: ctd };
}
