/**
 * The index's tables (migration 20261125120000_chain_index), through the raw SQL runner: ingestion
 * inserts thousands of rows per block range, as one multi-row statement per 5,000 rows (unnest of
 * arrays), one database transaction per range. Every write transaction first locks the cursor row
 * and checks it still stands where the caller read it, so two indexers on one database never
 * interleave their ranges (the loser gets ENT_INDEXER_CURSOR_MOVED and resumes from the winner).
 */
import type { SqlRunner } from "../../db/sql.js";
import { IndexerErrors } from "./errors.js";
import type { BlockHeader } from "./rpc.js";
import type { Confirmation, EventFilter, IndexedContract, IndexedEvent } from "./types.js";

export interface Cursor {
  id: bigint;
  chainId: bigint;
  contractsKey: string;
  deployBlock: bigint;
  deployBlockHash: string;
  indexedBlock: bigint;
  indexedHash: string;
  safeBlock: bigint;
  finalBlock: bigint;
}

interface CursorRow {
  id: bigint;
  chain_id: bigint;
  contracts_key: string;
  deploy_block: bigint;
  deploy_block_hash: string;
  indexed_block: bigint;
  indexed_hash: string;
  safe_block: bigint;
  final_block: bigint;
}

interface EventRow {
  chain_id: bigint;
  tx_hash: string;
  log_index: number;
  block_number: bigint;
  block_hash: string;
  address: string;
  contract: string;
  name: string;
  args: Record<string, string> | string;
  state: string;
}

const CURSOR_COLUMNS = `"id", "chain_id", "contracts_key", "deploy_block", "deploy_block_hash", "indexed_block", "indexed_hash", "safe_block", "final_block"`;
const EVENT_COLUMNS = `"chain_id", "tx_hash", "log_index", "block_number", "block_hash", "address", "contract", "name", "args", "state"`;
const INSERT_CHUNK = 5000;

function cursorOf(r: CursorRow): Cursor {
  return {
    id: r.id,
    chainId: r.chain_id,
    contractsKey: r.contracts_key,
    deployBlock: r.deploy_block,
    deployBlockHash: r.deploy_block_hash,
    indexedBlock: r.indexed_block,
    indexedHash: r.indexed_hash,
    safeBlock: r.safe_block,
    finalBlock: r.final_block,
  };
}

function eventOf(r: EventRow): IndexedEvent {
  return {
    chainId: r.chain_id,
    txHash: r.tx_hash,
    logIndex: Number(r.log_index),
    blockNumber: r.block_number,
    blockHash: r.block_hash,
    address: r.address,
    contract: r.contract as IndexedContract,
    name: r.name,
    args: typeof r.args === "string" ? (JSON.parse(r.args) as Record<string, string>) : r.args,
    state: r.state as Confirmation,
  };
}

export function byChainOrder(a: IndexedEvent, b: IndexedEvent): number {
  return a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1;
}

export class IndexStore {
  constructor(private readonly sql: SqlRunner) {}

  async findCursor(chainId: bigint, contractsKey: string): Promise<Cursor | null> {
    const rows = await this.sql.q<CursorRow[]>(
      `SELECT ${CURSOR_COLUMNS} FROM "chain_index_cursors" WHERE "chain_id" = $1 AND "contracts_key" = $2`,
      chainId,
      contractsKey,
    );
    return rows[0] === undefined ? null : cursorOf(rows[0]);
  }

  async cursorById(id: bigint): Promise<Cursor> {
    const rows = await this.sql.q<CursorRow[]>(`SELECT ${CURSOR_COLUMNS} FROM "chain_index_cursors" WHERE "id" = $1`, id);
    if (rows[0] === undefined) throw IndexerErrors.inconsistent(`index cursor ${id} vanished`);
    return cursorOf(rows[0]);
  }

  /** Other cursors of the same chain (other deployments), for the stale-chain sweep on local chains. */
  async otherCursors(chainId: bigint, contractsKey: string): Promise<Cursor[]> {
    const rows = await this.sql.q<CursorRow[]>(
      `SELECT ${CURSOR_COLUMNS} FROM "chain_index_cursors" WHERE "chain_id" = $1 AND "contracts_key" <> $2`,
      chainId,
      contractsKey,
    );
    return rows.map(cursorOf);
  }

  /**
   * The cursor of a deployment, created just before its deploy block (whose parent header `start`
   * is the first block of the window) when there is none. Two indexers racing both get the one row.
   */
  async createCursor(c: { chainId: bigint; contractsKey: string; deployBlock: bigint; deployBlockHash: string }, start: BlockHeader): Promise<Cursor> {
    return this.sql.transaction(async (tx) => {
      const rows = await tx.q<CursorRow[]>(
        `INSERT INTO "chain_index_cursors" ("chain_id", "contracts_key", "deploy_block", "deploy_block_hash", "indexed_block", "indexed_hash", "safe_block", "final_block")
         VALUES ($1, $2, $3, $4, $5, $6, $5, $5)
         ON CONFLICT ("chain_id", "contracts_key") DO NOTHING RETURNING ${CURSOR_COLUMNS}`,
        c.chainId,
        c.contractsKey,
        c.deployBlock,
        c.deployBlockHash,
        start.number,
        start.hash,
      );
      if (rows[0] === undefined) {
        const existing = await tx.q<CursorRow[]>(
          `SELECT ${CURSOR_COLUMNS} FROM "chain_index_cursors" WHERE "chain_id" = $1 AND "contracts_key" = $2`,
          c.chainId,
          c.contractsKey,
        );
        return cursorOf(existing[0]!);
      }
      const cursor = cursorOf(rows[0]);
      await tx.q(
        `INSERT INTO "chain_index_blocks" ("cursor_id", "number", "hash", "parent_hash") VALUES ($1, $2, $3, $4)`,
        cursor.id,
        start.number,
        start.hash,
        start.parentHash,
      );
      return cursor;
    });
  }

  /** Runs `fn` in a transaction holding the cursor row, after checking nobody moved it since `expected` was read. */
  private guarded<R>(expected: Cursor, fn: (tx: SqlRunner) => Promise<R>): Promise<R> {
    // The id is a bigint read from the database, so inlining it is safe (`first` takes no parameters).
    return this.sql.transaction(
      async (tx, rows) => {
        const r = rows[0] as { indexed_block: bigint; indexed_hash: string; deploy_block_hash: string; safe_block: bigint; final_block: bigint } | undefined;
        if (
          r === undefined ||
          r.indexed_block !== expected.indexedBlock ||
          r.indexed_hash !== expected.indexedHash ||
          r.deploy_block_hash !== expected.deployBlockHash ||
          r.safe_block !== expected.safeBlock ||
          r.final_block !== expected.finalBlock
        ) {
          throw IndexerErrors.cursorMoved(`index cursor ${expected.id} moved while this indexer worked (another indexer on the same database?)`);
        }
        return fn(tx);
      },
      `SELECT "indexed_block", "indexed_hash", "deploy_block_hash", "safe_block", "final_block" FROM "chain_index_cursors" WHERE "id" = ${BigInt(expected.id).toString()} FOR UPDATE`,
    );
  }

  /** Stored headers of the window, highest first, at or below `max`. */
  async window(cursorId: bigint, max: bigint): Promise<Array<{ number: bigint; hash: string }>> {
    return this.sql.q<Array<{ number: bigint; hash: string }>>(
      `SELECT "number", "hash" FROM "chain_index_blocks" WHERE "cursor_id" = $1 AND "number" <= $2 ORDER BY "number" DESC`,
      cursorId,
      max,
    );
  }

  /** The highest stored header at or below `at` (the window always holds the final block). */
  async storedAtOrBelow(cursorId: bigint, at: bigint): Promise<{ number: bigint; hash: string } | null> {
    const rows = await this.sql.q<Array<{ number: bigint; hash: string }>>(
      `SELECT "number", "hash" FROM "chain_index_blocks" WHERE "cursor_id" = $1 AND "number" <= $2 ORDER BY "number" DESC LIMIT 1`,
      cursorId,
      at,
    );
    return rows[0] ?? null;
  }

  /**
   * One block range in one transaction: its events (new rows only: a row already present with the
   * same block hash is an idempotent replay, with another block hash a contradiction), the window
   * headers it brings, and the cursor moved to `head`. Returns the events actually inserted.
   */
  async ingest(expected: Cursor, events: IndexedEvent[], blocks: BlockHeader[], head: BlockHeader): Promise<{ cursor: Cursor; inserted: IndexedEvent[] }> {
    return this.guarded(expected, async (tx) => {
      let inserted = events;
      for (let i = 0; i < events.length; i += INSERT_CHUNK) {
        const chunk = events.slice(i, i + INSERT_CHUNK);
        const rows = await tx.q<Array<{ n: number }>>(
          `WITH ins AS (
             INSERT INTO "chain_index_events" ("cursor_id", "chain_id", "tx_hash", "log_index", "block_number", "block_hash", "address", "contract", "name", "args", "state")
             SELECT $2::bigint, $1::bigint, t.tx, t.li, t.bn, t.bh, t.ad, t.c, t.n, t.a::jsonb, t.s
             FROM unnest($3::text[], $4::int[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
               AS t(tx, li, bn, bh, ad, c, n, a, s)
             ON CONFLICT DO NOTHING RETURNING 1)
           SELECT count(*)::int AS n FROM ins`,
          expected.chainId,
          expected.id,
          chunk.map((e) => e.txHash),
          chunk.map((e) => e.logIndex),
          chunk.map((e) => e.blockNumber),
          chunk.map((e) => e.blockHash),
          chunk.map((e) => e.address),
          chunk.map((e) => e.contract),
          chunk.map((e) => e.name),
          chunk.map((e) => JSON.stringify(e.args)),
          chunk.map((e) => e.state),
        );
        if (Number(rows[0]!.n) !== chunk.length) inserted = await this.replayed(tx, expected, inserted, chunk);
      }
      if (blocks.length > 0) {
        await tx.q(
          `INSERT INTO "chain_index_blocks" ("cursor_id", "number", "hash", "parent_hash")
           SELECT $1::bigint, t.n, t.h, t.p FROM unnest($2::bigint[], $3::text[], $4::text[]) AS t(n, h, p)`,
          expected.id,
          blocks.map((b) => b.number),
          blocks.map((b) => b.hash),
          blocks.map((b) => b.parentHash),
        );
      }
      await tx.q(
        `UPDATE "chain_index_cursors" SET "indexed_block" = $2, "indexed_hash" = $3, "updated_at" = now() WHERE "id" = $1`,
        expected.id,
        head.number,
        head.hash,
      );
      return { cursor: { ...expected, indexedBlock: head.number, indexedHash: head.hash }, inserted };
    });
  }

  /** Some rows of `chunk` existed: each must be the same log in the same block (an idempotent replay). */
  private async replayed(tx: SqlRunner, c: Cursor, inserted: IndexedEvent[], chunk: IndexedEvent[]): Promise<IndexedEvent[]> {
    const rows = await tx.q<Array<{ tx_hash: string; log_index: number; block_hash: string }>>(
      `SELECT e."tx_hash", e."log_index", e."block_hash" FROM "chain_index_events" e
       JOIN unnest($2::text[], $3::int[]) AS t(tx, li) ON e."tx_hash" = t.tx AND e."log_index" = t.li
       WHERE e."cursor_id" = $1 AND e."indexed_at" < transaction_timestamp()`,
      c.id,
      chunk.map((e) => e.txHash),
      chunk.map((e) => e.logIndex),
    );
    const existing = new Set<string>();
    const mine = new Map(chunk.map((e) => [`${e.txHash}:${e.logIndex}`, e]));
    for (const r of rows) {
      const key = `${r.tx_hash}:${Number(r.log_index)}`;
      const e = mine.get(key)!;
      if (r.block_hash !== e.blockHash) {
        throw IndexerErrors.inconsistent(`log ${key} is already indexed in block ${r.block_hash}, not ${e.blockHash}`, {
          details: { txHash: r.tx_hash, logIndex: Number(r.log_index) },
        });
      }
      existing.add(key);
    }
    return inserted.filter((e) => !existing.has(`${e.txHash}:${e.logIndex}`));
  }

  /** Deletes everything above `ancestor` (returned, oldest first) and records the reorganisation. */
  async rollback(expected: Cursor, ancestor: { number: bigint; hash: string }): Promise<{ cursor: Cursor; removed: IndexedEvent[] }> {
    return this.guarded(expected, async (tx) => {
      const rows = await tx.q<EventRow[]>(
        `DELETE FROM "chain_index_events" WHERE "cursor_id" = $1 AND "block_number" > $2 RETURNING ${EVENT_COLUMNS}`,
        expected.id,
        ancestor.number,
      );
      await tx.q(`DELETE FROM "chain_index_blocks" WHERE "cursor_id" = $1 AND "number" > $2`, expected.id, ancestor.number);
      const safe = expected.safeBlock < ancestor.number ? expected.safeBlock : ancestor.number;
      await tx.q(
        `UPDATE "chain_index_cursors" SET "indexed_block" = $2, "indexed_hash" = $3, "safe_block" = $4, "updated_at" = now() WHERE "id" = $1`,
        expected.id,
        ancestor.number,
        ancestor.hash,
        safe,
      );
      await tx.q(
        `INSERT INTO "chain_index_reorgs" ("cursor_id", "ancestor_block", "ancestor_hash", "old_head_block", "old_head_hash", "removed_events", "kind")
         VALUES ($1, $2, $3, $4, $5, $6, 'reorg')`,
        expected.id,
        ancestor.number,
        ancestor.hash,
        expected.indexedBlock,
        expected.indexedHash,
        rows.length,
      );
      return {
        cursor: { ...expected, indexedBlock: ancestor.number, indexedHash: ancestor.hash, safeBlock: safe },
        removed: rows.map(eventOf).sort(byChainOrder),
      };
    });
  }

  /**
   * A local chain was reset (same contract addresses, new history): everything of the cursor goes,
   * and it restarts before the new deploy block. Returns the deleted events.
   */
  async reset(expected: Cursor, deploy: { deployBlock: bigint; deployBlockHash: string }, start: BlockHeader): Promise<{ cursor: Cursor; removed: IndexedEvent[] }> {
    return this.guarded(expected, async (tx) => {
      const rows = await tx.q<EventRow[]>(`DELETE FROM "chain_index_events" WHERE "cursor_id" = $1 RETURNING ${EVENT_COLUMNS}`, expected.id);
      await tx.q(`DELETE FROM "chain_index_blocks" WHERE "cursor_id" = $1`, expected.id);
      await tx.q(
        `INSERT INTO "chain_index_blocks" ("cursor_id", "number", "hash", "parent_hash") VALUES ($1, $2, $3, $4)`,
        expected.id,
        start.number,
        start.hash,
        start.parentHash,
      );
      await tx.q(
        `UPDATE "chain_index_cursors" SET "deploy_block" = $2, "deploy_block_hash" = $3, "indexed_block" = $4, "indexed_hash" = $5,
           "safe_block" = $4, "final_block" = $4, "updated_at" = now() WHERE "id" = $1`,
        expected.id,
        deploy.deployBlock,
        deploy.deployBlockHash,
        start.number,
        start.hash,
      );
      await tx.q(
        `INSERT INTO "chain_index_reorgs" ("cursor_id", "ancestor_block", "ancestor_hash", "old_head_block", "old_head_hash", "removed_events", "kind")
         VALUES ($1, $2, $3, $4, $5, $6, 'reset')`,
        expected.id,
        start.number,
        start.hash,
        expected.indexedBlock,
        expected.indexedHash,
        rows.length,
      );
      return {
        cursor: {
          ...expected,
          deployBlock: deploy.deployBlock,
          deployBlockHash: deploy.deployBlockHash,
          indexedBlock: start.number,
          indexedHash: start.hash,
          safeBlock: start.number,
          finalBlock: start.number,
        },
        removed: rows.map(eventOf).sort(byChainOrder),
      };
    });
  }

  /** Drops a cursor of a chain history that no longer exists (a reset local chain, another deployment). */
  async drop(cursorId: bigint): Promise<number> {
    return this.sql.transaction(async (tx) => {
      const rows = await tx.q<Array<{ n: number }>>(
        `WITH d AS (DELETE FROM "chain_index_events" WHERE "cursor_id" = $1 RETURNING 1) SELECT count(*)::int AS n FROM d`,
        cursorId,
      );
      await tx.q(`DELETE FROM "chain_index_blocks" WHERE "cursor_id" = $1`, cursorId);
      await tx.q(`DELETE FROM "chain_index_reorgs" WHERE "cursor_id" = $1`, cursorId);
      await tx.q(`DELETE FROM "chain_index_cursors" WHERE "id" = $1`, cursorId);
      return Number(rows[0]!.n);
    });
  }

  /**
   * Moves events at or below `safe` / `final` to those states (the caller checked both blocks are
   * the node's), prunes headers below the final block, and returns the events whose state changed.
   */
  async promote(expected: Cursor, safe: bigint, final: bigint): Promise<{ cursor: Cursor; changed: IndexedEvent[] }> {
    return this.guarded(expected, async (tx) => {
      const finals = await tx.q<EventRow[]>(
        `UPDATE "chain_index_events" SET "state" = 'final'
         WHERE "cursor_id" = $1 AND "block_number" > $2 AND "block_number" <= $3 AND "state" <> 'final' RETURNING ${EVENT_COLUMNS}`,
        expected.id,
        expected.finalBlock,
        final,
      );
      const safes = await tx.q<EventRow[]>(
        `UPDATE "chain_index_events" SET "state" = 'safe'
         WHERE "cursor_id" = $1 AND "block_number" > $2 AND "block_number" <= $3 AND "state" = 'observed' RETURNING ${EVENT_COLUMNS}`,
        expected.id,
        final,
        safe,
      );
      await tx.q(`DELETE FROM "chain_index_blocks" WHERE "cursor_id" = $1 AND "number" < $2`, expected.id, final);
      await tx.q(
        `UPDATE "chain_index_cursors" SET "safe_block" = $2, "final_block" = $3, "updated_at" = now() WHERE "id" = $1`,
        expected.id,
        safe,
        final,
      );
      return { cursor: { ...expected, safeBlock: safe, finalBlock: final }, changed: [...finals, ...safes].map(eventOf).sort(byChainOrder) };
    });
  }

  async events(cursorId: bigint, filter: EventFilter): Promise<IndexedEvent[]> {
    const where = [`"cursor_id" = $1`];
    const params: unknown[] = [cursorId];
    const add = (cond: (n: number) => string, v: unknown) => {
      params.push(v);
      where.push(cond(params.length));
    };
    if (filter.contract !== undefined) add((n) => `"contract" = $${n}`, filter.contract);
    if (filter.name !== undefined) add((n) => `"name" = $${n}`, filter.name);
    if (filter.txHash !== undefined) add((n) => `"tx_hash" = $${n}`, filter.txHash.toLowerCase()); // the key's prefix: (cursor_id, tx_hash, ...)
    if (filter.args !== undefined && Object.keys(filter.args).length > 0) add((n) => `"args" @> $${n}::jsonb`, JSON.stringify(filter.args));
    if (filter.fromBlock !== undefined) add((n) => `"block_number" >= $${n}`, filter.fromBlock);
    const rows = await this.sql.q<EventRow[]>(
      `SELECT ${EVENT_COLUMNS} FROM "chain_index_events" WHERE ${where.join(" AND ")} ORDER BY "block_number", "log_index"`,
      ...params,
    );
    return rows.map(eventOf);
  }
}
