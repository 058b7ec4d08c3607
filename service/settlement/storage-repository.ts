/**
 * Storage of stock snapshots and storage runs (storage-service.ts). Only this file touches the
 * `stock_snapshots` and `storage_runs` tables.
 */
import { isUniqueViolation } from "../db/errors.js";
import type { PrismaClient } from "../db/generated/client.js";
import { isPositiveInt8 } from "../db/int8.js";
import type { StockSnapshot } from "./storage.js";

export interface StoredSnapshot extends StockSnapshot {
  id: string;
  createdBy: string | null;
  createdAt: Date;
}

/** What a storage run did for one seller in one warehouse. */
export interface StorageRunItem {
  sellerId: string;
  warehouse: string;
  /** created: charged now; exists: charged by an earlier run (same computation); nothing: nothing to bill; error: refused (see error). */
  status: "created" | "exists" | "nothing" | "error";
  chargeId: string;
  /** USD minor units (the computation's charge), as a decimal string; "0" when nothing. */
  amount: string;
  volumeDaysCm3: string;
  /** What the seller was charged, in `currency`; null unless charged. */
  charged: string | null;
  currency: string | null;
  transactionId: string | null;
  error: { code: string; message: string } | null;
}

export interface StorageRun {
  id: string;
  period: string;
  /** The one seller the run was for; null: every seller with snapshots. */
  sellerId: string | null;
  items: StorageRunItem[];
  createdBy: string | null;
  createdAt: Date;
}

const dateOf = (day: string) => new Date(`${day}T00:00:00.000Z`);
const dayOf = (d: Date) => d.toISOString().slice(0, 10);

interface SnapshotRow {
  id: bigint;
  sellerId: string;
  warehouse: string;
  country: string;
  snapshotDate: Date;
  volumeCm3: { toFixed(n: number): string };
  createdBy: string | null;
  createdAt: Date;
}

function toSnapshot(r: SnapshotRow): StoredSnapshot {
  return {
    id: r.id.toString(),
    sellerId: r.sellerId,
    warehouse: r.warehouse,
    country: r.country,
    date: dayOf(r.snapshotDate),
    volumeCm3: BigInt(r.volumeCm3.toFixed(0)),
    createdBy: r.createdBy,
    createdAt: r.createdAt,
  };
}

function toRun(r: { id: bigint; period: string; sellerId: string | null; items: unknown; createdBy: string | null; createdAt: Date }): StorageRun {
  return { id: r.id.toString(), period: r.period, sellerId: r.sellerId, items: r.items as StorageRunItem[], createdBy: r.createdBy, createdAt: r.createdAt };
}

export class PrismaStorageRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** "created", or the snapshot already stored for (seller, warehouse, date): the caller tells a replay from a conflict. */
  async insertSnapshot(s: StockSnapshot, createdBy: string | null): Promise<{ status: "created" | "exists"; snapshot: StoredSnapshot }> {
    try {
      const r = await this.prisma.stockSnapshot.create({
        data: { sellerId: s.sellerId, warehouse: s.warehouse, country: s.country, snapshotDate: dateOf(s.date), volumeCm3: s.volumeCm3.toString(), createdBy },
      });
      return { status: "created", snapshot: toSnapshot(r) };
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    const r = await this.prisma.stockSnapshot.findUnique({ where: { sellerId_warehouse_snapshotDate: { sellerId: s.sellerId, warehouse: s.warehouse, snapshotDate: dateOf(s.date) } } });
    if (r === null) throw new Error(`stock snapshot ${s.sellerId}/${s.warehouse}/${s.date} vanished after a unique violation`);
    return { status: "exists", snapshot: toSnapshot(r) };
  }

  /** Snapshots, oldest day first; `before` (a day, exclusive) and `from` (inclusive) bound the dates. */
  async listSnapshots(filter: { sellerId?: string; warehouse?: string; from?: string; before?: string; limit?: number }): Promise<StoredSnapshot[]> {
    const rows = await this.prisma.stockSnapshot.findMany({
      where: {
        ...(filter.sellerId === undefined ? {} : { sellerId: filter.sellerId }),
        ...(filter.warehouse === undefined ? {} : { warehouse: filter.warehouse }),
        ...(filter.from === undefined && filter.before === undefined
          ? {}
          : { snapshotDate: { ...(filter.from === undefined ? {} : { gte: dateOf(filter.from) }), ...(filter.before === undefined ? {} : { lt: dateOf(filter.before) }) } }),
      },
      orderBy: [{ sellerId: "asc" }, { warehouse: "asc" }, { snapshotDate: "asc" }],
      ...(filter.limit === undefined ? {} : { take: filter.limit }),
    });
    return rows.map(toSnapshot);
  }

  async insertRun(run: { period: string; sellerId: string | null; items: StorageRunItem[]; createdBy: string | null }): Promise<StorageRun> {
    return toRun(await this.prisma.storageRun.create({ data: { period: run.period, sellerId: run.sellerId, items: JSON.parse(JSON.stringify(run.items)) as object, createdBy: run.createdBy } }));
  }

  async getRun(id: string): Promise<StorageRun | null> {
    if (!isPositiveInt8(id)) return null;
    const r = await this.prisma.storageRun.findUnique({ where: { id: BigInt(id) } });
    return r === null ? null : toRun(r);
  }

  /** Runs, newest first. */
  async listRuns(filter: { period?: string; limit: number }): Promise<StorageRun[]> {
    const rows = await this.prisma.storageRun.findMany({ where: filter.period === undefined ? {} : { period: filter.period }, orderBy: { id: "desc" }, take: filter.limit });
    return rows.map(toRun);
  }
}
