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
 * Whether the capture `s` (a held capture under a delivery-based schedule) is overdue once its
 * deadline has passed: neither released nor wholly refunded (refunds and chargebacks, less their
 * reversals), and its order's latest evidence is no delivery. The listing and the worker's check
 * read the same rule.
 */
const STILL_UNDELIVERED = `NOT EXISTS (SELECT 1 FROM "settlements" r WHERE r."capture_key" = s."capture_key" AND r."event_type" = 'release')
        AND (SELECT coalesce(sum(r."refunded_delta"), 0) FROM "settlements" r WHERE r."capture_key" = s."capture_key") < (s."breakdown"->'lines'->>'gross')::numeric
        AND NOT EXISTS (
          SELECT 1 FROM (SELECT f."status" FROM "order_fulfilments" f WHERE f."gateway" = s."gateway" AND f."settlement_id" = s."settlement_id" ORDER BY f."sequence" DESC LIMIT 1) l
           WHERE l."status" = 'delivered')`;

/**
 * Held captures under a delivery-based schedule whose delivery deadline is at or before `asOf`,
 * neither released nor wholly refunded, whose order's latest evidence is no delivery; keyset-paged
 * by capture id. Read from `order_delivery_deadlines` (one row per such capture, filled by a
 * trigger at capture; migration 20261222100000_fulfilment_deadline) through its indexes, never a
 * pass over every settlement. $1 asOf, $2 the capture id after which the page starts, $3 the page's size.
 */
export const OVERDUE_LISTING = `SELECT s."id", s."gateway", s."settlement_id" AS "settlementId", s."seller_id" AS "sellerId", s."occurred_at" AS "occurredAt", d."deadline"
       FROM "order_delivery_deadlines" d JOIN "settlements" s ON s."id" = d."capture_id"
      WHERE d."deadline" <= $1 AND d."capture_id" > $2
        AND ${STILL_UNDELIVERED}
      ORDER BY d."capture_id"
      LIMIT $3`;

export async function listOverdueDeliveries(sql: SqlRunner, asOf: Date, afterId: bigint, limit: number): Promise<OverdueDelivery[]> {
  const rows = await sql.q<Array<{ id: bigint; gateway: string; settlementId: string; sellerId: string; occurredAt: Date; deadline: Date }>>(OVERDUE_LISTING, asOf, afterId, limit);
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

/**
 * Checks up to `limit` captures whose delivery deadline has passed by `now` and were not checked
 * yet, once each: an order still undelivered then is marked `overdue`, which announces
 * `order.fulfilment_overdue` in this transaction (trigger `webhook_on_order_overdue`), unless
 * another capture of the order was announced already. SKIP LOCKED: two instances never check the
 * same capture, and a checked row never returns (`checked_at`); the event's dedupe key holds one
 * per order even when two captures of it are checked at once. Evidence that arrives later changes
 * nothing here. Returns how many were checked and how many were found overdue.
 */
export async function checkDeliveryDeadlines(sql: SqlRunner, now: Date, limit: number): Promise<{ checked: number; overdue: number }> {
  const [row] = await sql.q<Array<{ checked: number; overdue: number }>>(
    `WITH due AS (
       SELECT d."capture_id" FROM "order_delivery_deadlines" d
        WHERE d."checked_at" IS NULL AND d."deadline" <= $1
        ORDER BY d."deadline", d."capture_id" LIMIT $2
          FOR UPDATE SKIP LOCKED
     ), judged AS (
       SELECT due."capture_id",
              (${STILL_UNDELIVERED}
               AND NOT EXISTS (SELECT 1 FROM "order_delivery_deadlines" o WHERE o."gateway" = s."gateway" AND o."settlement_id" = s."settlement_id" AND o."overdue")) AS "overdue"
         FROM due JOIN "settlements" s ON s."id" = due."capture_id"
     ), marked AS (
       UPDATE "order_delivery_deadlines" d SET "checked_at" = now(), "overdue" = j."overdue"
         FROM judged j WHERE d."capture_id" = j."capture_id"
       RETURNING j."overdue"
     )
     SELECT count(*)::int AS "checked", count(*) FILTER (WHERE "overdue")::int AS "overdue" FROM marked`,
    now,
    limit,
  );
  return { checked: row?.checked ?? 0, overdue: row?.overdue ?? 0 };
}
