/**
 * AnchorStore: every statement over anchoring's tables (`anchor_batches`, `anchor_leaves`,
 * `anchor_documents`), for one (chain, contract). The worker and the read side share it; nothing
 * else touches these tables.
 */
import type { SqlRunner } from "../db/sql.js";
import { BATCH_FORMAT, BATCH_FORMAT_V1, batchCurrencyTotalsDigest, type AnyLeaf, type BatchFormat } from "./leaf.js";
import type { AnchorState } from "./proof.js";

export type BatchStatus = "built" | "submitted" | "observed" | "safe" | "final" | "reverted";

export interface AnchorBatch {
  chainId: bigint;
  anchor: string;
  batchId: bigint;
  root: string;
  /** Leaves (journal transactions + documents): the `count` of BatchAnchored. */
  count: number;
  journalCount: number;
  documentCount: number;
  firstSequence: bigint;
  lastSequence: bigint;
  /** v2 (salted totals digest) for every batch built since; v1 for those anchored before (no salt). */
  format: BatchFormat;
  currencyTotals: Array<{ currency: string; total: bigint }>;
  /** A v2 batch's random salt of `currencyTotalsDigest` (null for v1): as secret as the totals it hides. */
  totalsSalt: string | null;
  currencyTotalsDigest: string;
  totalsDigest: string;
  previousRoot: string;
  status: BatchStatus;
  /** The batch's status as an inclusion state of its leaves. */
  state: AnchorState;
  senderKey: string;
  txHash: string | null;
  blockNumber: bigint | null;
  blockHash: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A new batch as the worker built it, with its leaves in position order and the documents it claims. */
export interface NewBatch {
  batchId: bigint;
  root: string;
  journalCount: number;
  firstSequence: bigint;
  lastSequence: bigint;
  currencyTotals: ReadonlyArray<{ currency: string; total: bigint }>;
  /** The v2 salt of the totals digest (every batch is built as v2). */
  totalsSalt: string;
  totalsDigest: string;
  previousRoot: string;
  senderKey: string;
  leaves: ReadonlyArray<{ leaf: AnyLeaf; subject: string; hash: string; values: unknown }>;
  documents: ReadonlyArray<{ kind: string; id: string }>;
  at: Date;
}

export interface LeafRow {
  batch_id: bigint;
  position: number;
  leaf_hash: string;
  leaf_values: unknown;
}

/** A leaf with what it anchors: the journal transaction's id, or `<kind>:<id>` of a document. */
export interface BatchLeafRow extends LeafRow {
  kind: "journal" | "document";
  subject_id: string;
}

export interface QueuedDocument {
  kind: string;
  document_id: string;
  digest: string;
  created_at: Date;
}

export interface ChainPosition {
  txHash: string | null;
  blockNumber: bigint | null;
  blockHash: string | null;
}

interface BatchRow {
  chain_id: bigint;
  anchor_address: string;
  batch_id: bigint;
  root: string;
  leaf_count: number;
  journal_count: number;
  first_sequence: bigint;
  last_sequence: bigint;
  currency_totals: Array<{ currency: string; total: string }>;
  totals_salt: string | null;
  totals_digest: string;
  previous_root: string;
  status: BatchStatus;
  sender_key: string;
  tx_hash: string | null;
  block_number: bigint | null;
  block_hash: string | null;
  created_at: Date;
  updated_at: Date;
}

const BATCH_COLUMNS = `"chain_id", "anchor_address", "batch_id", "root", "leaf_count", "journal_count", "first_sequence", "last_sequence",
  "currency_totals", "totals_salt", "totals_digest", "previous_root", "status", "sender_key", "tx_hash", "block_number", "block_hash", "created_at", "updated_at"`;

export function stateOfStatus(status: BatchStatus): AnchorState {
  // A built batch is not on chain yet; neither is a reverted one (it waits for an operator).
  return status === "built" || status === "reverted" ? "queued" : status;
}

function toBatch(r: BatchRow): AnchorBatch {
  const currencyTotals = r.currency_totals.map((t) => ({ currency: t.currency, total: BigInt(t.total) }));
  // A batch built before the salt (migration 20261217040000) has none: the v1 format it was anchored in.
  const format = r.totals_salt === null ? BATCH_FORMAT_V1 : BATCH_FORMAT;
  return {
    chainId: r.chain_id,
    anchor: r.anchor_address,
    batchId: r.batch_id,
    root: r.root,
    count: r.leaf_count,
    journalCount: r.journal_count,
    documentCount: r.leaf_count - r.journal_count,
    firstSequence: r.first_sequence,
    lastSequence: r.last_sequence,
    format,
    currencyTotals,
    totalsSalt: r.totals_salt,
    currencyTotalsDigest: batchCurrencyTotalsDigest(format, currencyTotals, r.totals_salt),
    totalsDigest: r.totals_digest,
    previousRoot: r.previous_root,
    status: r.status,
    state: stateOfStatus(r.status),
    senderKey: r.sender_key,
    txHash: r.tx_hash,
    blockNumber: r.block_number,
    blockHash: r.block_hash,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class AnchorStore {
  constructor(
    private readonly sql: SqlRunner,
    readonly chainId: bigint,
    readonly anchor: string,
  ) {}

  private q<T extends unknown[]>(text: string, ...params: unknown[]): Promise<T> {
    return this.sql.q<T>(text, this.chainId, this.anchor, ...params);
  }

  // ---- batches --------------------------------------------------------------------------------

  async getBatch(batchId: bigint): Promise<AnchorBatch | null> {
    const [row] = await this.q<BatchRow[]>(`SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3`, batchId);
    return row ? toBatch(row) : null;
  }

  /** Newest first, `limit + 1` rows (the caller pages), before a batch id and of one status when given. */
  async listBatches(limit: number, before?: bigint, status?: BatchStatus): Promise<AnchorBatch[]> {
    const params: unknown[] = [];
    let where = "";
    if (before !== undefined) {
      params.push(before);
      where += ` AND "batch_id" < $${params.length + 2}`;
    }
    if (status !== undefined) {
      params.push(status);
      where += ` AND "status" = $${params.length + 2}`;
    }
    params.push(limit + 1);
    const rows = await this.q<BatchRow[]>(
      `SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 ${where}
        ORDER BY "batch_id" DESC LIMIT $${params.length + 2}`,
      ...params,
    );
    return rows.map(toBatch);
  }

  /** Batches in any of `statuses`, oldest first. */
  async batchesIn(statuses: readonly BatchStatus[]): Promise<AnchorBatch[]> {
    const rows = await this.q<BatchRow[]>(
      `SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" = ANY($3::text[]) ORDER BY "batch_id"`,
      statuses,
    );
    return rows.map(toBatch);
  }

  /** Every batch not yet final, and the last final one (the start-up check's rows). */
  async unsettledAndLastFinal(): Promise<AnchorBatch[]> {
    const rows = await this.q<BatchRow[]>(
      `(SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" <> 'final')
       UNION ALL
       (SELECT ${BATCH_COLUMNS} FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" = 'final' ORDER BY "batch_id" DESC LIMIT 1)`,
    );
    return rows.map(toBatch);
  }

  async countIn(statuses: readonly BatchStatus[]): Promise<number> {
    const [row] = await this.q<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" = ANY($3::text[])`,
      statuses,
    );
    return row!.n;
  }

  /** The last journal sequence in a batch seen on chain (observed, safe or final); null: none yet. */
  async anchoredThrough(): Promise<bigint | null> {
    const [row] = await this.q<Array<{ s: bigint | null }>>(
      `SELECT max("last_sequence") AS s FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "status" IN ('observed', 'safe', 'final')`,
    );
    return row?.s === null || row?.s === undefined ? null : BigInt(row.s);
  }

  /** The last batch: where the next one starts. */
  async last(): Promise<{ batchId: bigint; root: string; lastSequence: bigint } | null> {
    const [row] = await this.q<Array<{ batch_id: bigint; root: string; last_sequence: bigint }>>(
      `SELECT "batch_id", "root", "last_sequence" FROM "anchor_batches" WHERE "chain_id" = $1 AND "anchor_address" = $2 ORDER BY "batch_id" DESC LIMIT 1`,
    );
    return row ? { batchId: row.batch_id, root: row.root, lastSequence: row.last_sequence } : null;
  }

  /**
   * Commits a batch, its leaves and its claim on the queued documents in one transaction. Throws a
   * unique violation when another process built this id, anchored one of these subjects, or
   * claimed one of these documents first (nothing of this batch is then written).
   */
  async insertBatch(b: NewBatch): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.q(
        `INSERT INTO "anchor_batches" ("chain_id", "anchor_address", "batch_id", "root", "leaf_count", "journal_count", "first_sequence",
           "last_sequence", "currency_totals", "totals_salt", "totals_digest", "previous_root", "status", "sender_key", "created_at", "updated_at")
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, 'built', $13, $14, $14)`,
        this.chainId,
        this.anchor,
        b.batchId,
        b.root,
        b.leaves.length,
        b.journalCount,
        b.firstSequence,
        b.lastSequence,
        JSON.stringify(b.currencyTotals.map((t) => ({ currency: t.currency, total: t.total.toString() }))),
        b.totalsSalt,
        b.totalsDigest,
        b.previousRoot,
        b.senderKey,
        b.at,
      );
      await tx.q(
        `INSERT INTO "anchor_leaves" ("chain_id", "anchor_address", "batch_id", "position", "kind", "subject_id", "leaf_hash", "leaf_values")
         SELECT $1, $2, $3, * FROM unnest($4::int[], $5::text[], $6::text[], $7::text[], $8::jsonb[])`,
        this.chainId,
        this.anchor,
        b.batchId,
        b.leaves.map((_, i) => i),
        b.leaves.map((l) => l.leaf.type),
        b.leaves.map((l) => l.subject),
        b.leaves.map((l) => l.hash),
        b.leaves.map((l) => JSON.stringify(l.values)),
      );
      if (b.documents.length > 0) {
        const claimed = await tx.q<Array<{ kind: string }>>(
          `UPDATE "anchor_documents" d SET "batch_id" = $3
             FROM unnest($4::text[], $5::text[]) AS x("kind", "document_id")
            WHERE d."chain_id" = $1 AND d."anchor_address" = $2 AND d."kind" = x."kind" AND d."document_id" = x."document_id" AND d."batch_id" IS NULL
            RETURNING d."kind"`,
          this.chainId,
          this.anchor,
          b.batchId,
          b.documents.map((d) => d.kind),
          b.documents.map((d) => d.id),
        );
        // Another process put one of them in its batch first: give up this one (rolled back).
        if (claimed.length !== b.documents.length) throw Object.assign(new Error("documents claimed concurrently"), { code: "23505" });
      }
    });
  }

  /** built -> submitted, with the transaction the sender made; a no-op when no longer built. */
  async markSubmitted(batchId: bigint, txHash: string, at: Date): Promise<void> {
    await this.q(
      `UPDATE "anchor_batches" SET "status" = 'submitted', "tx_hash" = $4, "updated_at" = $5
        WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3 AND "status" = 'built'`,
      batchId,
      txHash,
      at,
    );
  }

  /** Moves a batch from status `from` to `to` at `pos`; true when something changed. */
  async setState(batchId: bigint, from: BatchStatus, to: BatchStatus, pos: ChainPosition, at: Date): Promise<boolean> {
    const rows = await this.q<Array<{ batch_id: bigint }>>(
      `UPDATE "anchor_batches" SET "status" = $4, "tx_hash" = coalesce($5, "tx_hash"), "block_number" = $6, "block_hash" = $7, "updated_at" = $8
        WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3 AND "status" = $9
          AND ("status" <> $4 OR "block_hash" IS DISTINCT FROM $7 OR "tx_hash" IS DISTINCT FROM coalesce($5, "tx_hash"))
        RETURNING "batch_id"`,
      batchId,
      to,
      pos.txHash,
      pos.blockNumber,
      pos.blockHash,
      at,
      from,
    );
    return rows.length > 0;
  }

  /** A reorganisation removed the block that held the batch: back to submitted. */
  async rollBack(batchId: bigint, blockHash: string, at: Date): Promise<void> {
    await this.q(
      `UPDATE "anchor_batches" SET "status" = 'submitted', "block_number" = NULL, "block_hash" = NULL, "updated_at" = $5
        WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3 AND "block_hash" = $4 AND "status" IN ('observed', 'safe', 'final')`,
      batchId,
      blockHash,
      at,
    );
  }

  // ---- leaves ---------------------------------------------------------------------------------

  async leafOf(kind: "journal" | "document", subject: string): Promise<LeafRow | null> {
    const [row] = await this.q<LeafRow[]>(
      `SELECT "batch_id", "position", "leaf_hash", "leaf_values" FROM "anchor_leaves"
        WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "kind" = $3 AND "subject_id" = $4`,
      kind,
      subject,
    );
    return row ?? null;
  }

  /** A batch's leaf hashes in position order. */
  async leafHashes(batchId: bigint): Promise<string[]> {
    const rows = await this.q<Array<{ leaf_hash: string }>>(
      `SELECT "leaf_hash" FROM "anchor_leaves" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3 ORDER BY "position"`,
      batchId,
    );
    return rows.map((r) => r.leaf_hash);
  }

  /** A batch's leaves in position order after position `after` (-1: from the first), `limit + 1` rows (the caller pages). */
  async leavesOf(batchId: bigint, after: number, limit: number): Promise<BatchLeafRow[]> {
    return this.q<BatchLeafRow[]>(
      `SELECT "batch_id", "position", "kind", "subject_id", "leaf_hash", "leaf_values" FROM "anchor_leaves"
        WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" = $3 AND "position" > $4 ORDER BY "position" LIMIT $5`,
      batchId,
      after,
      limit + 1,
    );
  }

  /** Batch and status of the journal transactions among `ids` that are in a batch. */
  async journalStates(ids: readonly string[]): Promise<Array<{ subject_id: string; batch_id: bigint; status: BatchStatus }>> {
    return this.q<Array<{ subject_id: string; batch_id: bigint; status: BatchStatus }>>(
      `SELECT l."subject_id", l."batch_id", b."status" FROM "anchor_leaves" l
         JOIN "anchor_batches" b ON b."chain_id" = l."chain_id" AND b."anchor_address" = l."anchor_address" AND b."batch_id" = l."batch_id"
        WHERE l."chain_id" = $1 AND l."anchor_address" = $2 AND l."kind" = 'journal' AND l."subject_id" = ANY($3::text[])`,
      ids,
    );
  }

  // ---- documents ------------------------------------------------------------------------------

  /** Queues a document unless (kind, id) is queued already; answers the digest on record. */
  async queueDocument(doc: { kind: string; id: string; digest: string }, at: Date): Promise<string> {
    await this.q(
      `INSERT INTO "anchor_documents" ("chain_id", "anchor_address", "kind", "document_id", "digest", "created_at")
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      doc.kind,
      doc.id,
      doc.digest,
      at,
    );
    const [row] = await this.q<Array<{ digest: string }>>(
      `SELECT "digest" FROM "anchor_documents" WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "kind" = $3 AND "document_id" = $4`,
      doc.kind,
      doc.id,
    );
    return row!.digest;
  }

  /** null when never queued; batch and its status null while it waits for a batch. */
  async documentBatch(kind: string, id: string): Promise<{ batch_id: bigint | null; status: BatchStatus | null } | null> {
    const [row] = await this.q<Array<{ batch_id: bigint | null; status: BatchStatus | null }>>(
      `SELECT d."batch_id", b."status" FROM "anchor_documents" d
         LEFT JOIN "anchor_batches" b ON b."chain_id" = d."chain_id" AND b."anchor_address" = d."anchor_address" AND b."batch_id" = d."batch_id"
        WHERE d."chain_id" = $1 AND d."anchor_address" = $2 AND d."kind" = $3 AND d."document_id" = $4`,
      kind,
      id,
    );
    return row ?? null;
  }

  /** Documents waiting for a batch, oldest first. */
  async queuedDocuments(limit: number): Promise<QueuedDocument[]> {
    return this.q<QueuedDocument[]>(
      `SELECT "kind", "document_id", "digest", "created_at" FROM "anchor_documents"
        WHERE "chain_id" = $1 AND "anchor_address" = $2 AND "batch_id" IS NULL ORDER BY "created_at", "kind", "document_id" LIMIT $3`,
      limit,
    );
  }
}
