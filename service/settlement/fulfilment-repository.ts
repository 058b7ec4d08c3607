/**
 * The `order_fulfilments` table (fulfilment.ts): each order's delivery evidence, append-only (a
 * trigger refuses UPDATE and DELETE). Only this file touches it. An entry takes the order's next
 * `sequence`; the unique (gateway, settlement_id, sequence) makes two concurrent writers of one
 * order a guard: writers take turns on a transaction lock of the order (appendFulfilment), so the
 * second reads the first's entry and answers it when it says the same.
 */
import type { SqlRunner } from "../db/index.js";
import { SettlementErrors } from "./errors.js";
import { MAX_FULFILMENT_ENTRIES, orderKey, sameFulfilment, type Fulfilment, type FulfilmentInput, type FulfilmentStatus, type OverdueDelivery } from "./fulfilment.js";

interface FulfilmentRow {
  id: bigint;
  gateway: string;
  settlementId: string;
  sequence: number;
  status: string;
  carrier: string;
  trackingNumber: string;
  shippedAt: Date;
  deliveredAt: Date | null;
  recordedBy: string;
  recordedAt: Date;
}

const COLUMNS = `"id", "gateway", "settlement_id" AS "settlementId", "sequence", "status", "carrier", "tracking_number" AS "trackingNumber",
  "shipped_at" AS "shippedAt", "delivered_at" AS "deliveredAt", "recorded_by" AS "recordedBy", "recorded_at" AS "recordedAt"`;

function toFulfilment(r: FulfilmentRow): Fulfilment {
  return {
    id: r.id.toString(),
    gateway: r.gateway,
    settlementId: r.settlementId,
    sequence: Number(r.sequence),
    status: r.status as FulfilmentStatus,
    carrier: r.carrier,
    trackingNumber: r.trackingNumber,
    shippedAt: r.shippedAt,
    deliveredAt: r.deliveredAt,
    recordedBy: r.recordedBy,
    recordedAt: r.recordedAt,
  };
}

/**
 * Appends `input` as the order's next entry, unless its latest entry already says the same ("exists",
 * that entry). Writers of one order take turns on a transaction lock of the order (any instance):
 * each reads the latest entry the one before it wrote.
 */
export async function appendFulfilment(sql: SqlRunner, input: FulfilmentInput, recordedBy: string): Promise<{ status: "created" | "exists"; fulfilment: Fulfilment }> {
  return sql.transaction(async (tx) => {
    await tx.q(`SELECT pg_advisory_xact_lock(hashtextextended('order_fulfilments:' || $1::text || ':' || $2::text, 0))`, input.gateway, input.settlementId);
    const [latest] = await tx.q<FulfilmentRow[]>(
      `SELECT ${COLUMNS} FROM "order_fulfilments" WHERE "gateway" = $1 AND "settlement_id" = $2 ORDER BY "sequence" DESC LIMIT 1`,
      input.gateway,
      input.settlementId,
    );
    if (latest !== undefined && sameFulfilment(toFulfilment(latest), input)) return { status: "exists" as const, fulfilment: toFulfilment(latest) };
    const sequence = (latest === undefined ? 0 : Number(latest.sequence)) + 1;
    if (sequence > MAX_FULFILMENT_ENTRIES) {
      throw SettlementErrors.fulfilmentTooManyEntries(`order ${input.settlementId} holds ${MAX_FULFILMENT_ENTRIES} entries of delivery evidence from ${input.gateway}: no more are taken`, {
        fields: [{ field: "settlementId", message: `at most ${MAX_FULFILMENT_ENTRIES} entries per order` }],
      });
    }
    const [row] = await tx.q<FulfilmentRow[]>(
      `INSERT INTO "order_fulfilments" ("gateway", "settlement_id", "sequence", "status", "carrier", "tracking_number", "shipped_at", "delivered_at", "recorded_by")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
      input.gateway,
      input.settlementId,
      sequence,
      input.status,
      input.carrier,
      input.trackingNumber,
      input.shippedAt,
      input.deliveredAt,
      recordedBy,
    );
    return { status: "created" as const, fulfilment: toFulfilment(row as FulfilmentRow) };
  });
}

/** An order's entries, oldest first; with `gateway`, that gateway's only. */
export async function listFulfilments(sql: SqlRunner, settlementId: string, gateway: string | null): Promise<Fulfilment[]> {
  const rows = await sql.q<FulfilmentRow[]>(
    `SELECT ${COLUMNS} FROM "order_fulfilments" WHERE "settlement_id" = $1 AND ($2::text IS NULL OR "gateway" = $2::text) ORDER BY "gateway", "sequence"`,
    settlementId,
    gateway,
  );
  return rows.map(toFulfilment);
}

/** The latest entry of each order named (by orderKey); orders without evidence are absent. */
export async function latestFulfilments(sql: SqlRunner, orders: ReadonlyArray<{ gateway: string; settlementId: string }>): Promise<Map<string, Fulfilment>> {
  const out = new Map<string, Fulfilment>();
  if (orders.length === 0) return out;
  const rows = await sql.q<FulfilmentRow[]>(
    `SELECT DISTINCT ON ("gateway", "settlement_id") ${COLUMNS} FROM "order_fulfilments"
      WHERE ("gateway", "settlement_id") IN (SELECT * FROM unnest($1::text[], $2::text[]))
      ORDER BY "gateway", "settlement_id", "sequence" DESC`,
    orders.map((o) => o.gateway),
    orders.map((o) => o.settlementId),
  );
  for (const r of rows) out.set(orderKey(r.gateway, r.settlementId), toFulfilment(r));
  return out;
}

/**
 * Held captures under a delivery-based schedule whose delivery deadline is at or before `asOf`,
 * neither released nor wholly refunded, whose order's latest evidence is no delivery; keyset-paged
 * by capture id. A sequential pass over the captures with a deadline, for a report.
 */
export async function listOverdueDeliveries(sql: SqlRunner, asOf: Date, afterId: bigint, limit: number): Promise<OverdueDelivery[]> {
  const rows = await sql.q<Array<{ id: bigint; gateway: string; settlementId: string; sellerId: string; occurredAt: Date; deadline: string }>>(
    `SELECT s."id", s."gateway", s."settlement_id" AS "settlementId", s."seller_id" AS "sellerId", s."occurred_at" AS "occurredAt",
            s."breakdown"->'confirmOnDelivery'->>'deadline' AS "deadline"
       FROM "settlements" s
      WHERE s."event_type" = 'capture' AND s."id" > $2
        AND s."breakdown"->>'sellerBucket' = 'held'
        AND (s."breakdown"->'confirmOnDelivery'->>'deadline')::timestamptz <= $1
        AND NOT EXISTS (SELECT 1 FROM "settlements" r WHERE r."capture_key" = s."capture_key" AND r."event_type" = 'release')
        AND (SELECT coalesce(sum(r."refunded_delta"), 0) FROM "settlements" r WHERE r."capture_key" = s."capture_key") < (s."breakdown"->'lines'->>'gross')::numeric
        AND NOT EXISTS (
          SELECT 1 FROM (SELECT f."status" FROM "order_fulfilments" f WHERE f."gateway" = s."gateway" AND f."settlement_id" = s."settlement_id" ORDER BY f."sequence" DESC LIMIT 1) l
           WHERE l."status" = 'delivered')
      ORDER BY s."id"
      LIMIT $3`,
    asOf,
    afterId,
    limit,
  );
  const latest = await latestFulfilments(sql, rows);
  return rows.map((r) => ({
    captureId: r.id.toString(),
    gateway: r.gateway,
    settlementId: r.settlementId,
    sellerId: r.sellerId,
    capturedAt: r.occurredAt,
    deadline: new Date(r.deadline),
    latest: latest.get(orderKey(r.gateway, r.settlementId)) ?? null,
  }));
}
