/**
 * Storage billing: warehouse stock snapshots recorded per seller, warehouse and day, and storage
 * runs that charge each seller its volume x days for a period (storage.ts computes) through the
 * seller-charge path (charges.ts, kind `storage`, revenue `platform:revenue:storage`), whether
 * anything sold.
 *
 * A run is idempotent: the charge id is deterministic per seller, warehouse and period
 * (`storage:<period>:<warehouse>`), so a re-run of the same period finds every charge already
 * booked (`exists`) and charges nothing twice; a snapshot recorded for the period after its run
 * changes the computation, which the charge path refuses (ENT_SETTLEMENT_CHARGE_CONFLICT, on that
 * seller's item only) rather than booking a second charge. Each seller and warehouse is charged on
 * its own: one failure is an `error` item, the others are charged. Every run is recorded with its
 * items.
 */
import { isAppError } from "../errors.js";
import type { SellerCharge, SellerChargeInput } from "./charges.js";
import { SettlementErrors } from "./errors.js";
import type { PrismaStorageRepository, StorageRun, StorageRunItem, StoredSnapshot } from "./storage-repository.js";
import { computeStorage, storageChargeId, storageEvidence, storageNote, storagePeriod, type StockSnapshot } from "./storage.js";
import type { FeeSchedule, Seller } from "./types.js";

/** Largest volume one snapshot may record, cm3 (a million cubic metres). */
export const MAX_VOLUME_CM3 = 10n ** 12n;

export interface StorageDeps {
  repository: PrismaStorageRepository;
  settlement: {
    listSellers(): Promise<Seller[]>;
    listSchedules(): Promise<FeeSchedule[]>;
    chargeSeller(sellerId: string, input: SellerChargeInput): Promise<{ status: "created" | "exists"; charge: SellerCharge }>;
  };
  now?: () => Date;
  /** Called with an unexpected (non-AppError) failure of one item; the item answers a generic message. */
  onUnexpected?: (e: unknown, item: { sellerId: string; warehouse: string }) => void;
}

function invalid(field: string, message: string): never {
  throw SettlementErrors.invalidEvent(`${field}: ${message}`, { fields: [{ field, message }] });
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const isDay = (s: string) => DAY.test(s) && new Date(`${s}T00:00:00.000Z`).toISOString().slice(0, 10) === s;

export class StorageBilling {
  private readonly now: () => Date;

  constructor(private readonly deps: StorageDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  private async seller(id: string): Promise<Seller> {
    const s = (await this.deps.settlement.listSellers()).find((x) => x.id === id);
    if (s === undefined) throw SettlementErrors.unknownSeller(`unknown seller ${id}`, { fields: [{ field: "id", message: "no such seller" }] });
    return s;
  }

  /**
   * Records a seller's stock volume in a warehouse on a day. Once per (seller, warehouse, date): the
   * same content again answers `exists`, another volume or country 409 ENT_STORAGE_SNAPSHOT_CONFLICT.
   */
  async recordSnapshot(s: StockSnapshot, createdBy: string | null): Promise<{ status: "created" | "exists"; snapshot: StoredSnapshot }> {
    if (!isDay(s.date)) invalid("date", "must be a calendar day YYYY-MM-DD");
    if (s.date > this.now().toISOString().slice(0, 10)) invalid("date", "must not be in the future: a snapshot records stock that was there");
    if (s.volumeCm3 < 0n || s.volumeCm3 > MAX_VOLUME_CM3) invalid("volumeCm3", `must be an integer of cubic centimetres from 0 to ${MAX_VOLUME_CM3}`);
    await this.seller(s.sellerId);
    const other = (await this.deps.repository.listSnapshots({ sellerId: s.sellerId, warehouse: s.warehouse, limit: 1 }))[0];
    if (other !== undefined && other.country !== s.country) {
      throw SettlementErrors.snapshotConflict(`warehouse ${s.warehouse} of ${s.sellerId} is in ${other.country}, not ${s.country}`, {
        fields: [{ field: "country", message: `must be ${other.country}, as on the warehouse's earlier snapshots` }],
      });
    }
    const r = await this.deps.repository.insertSnapshot(s, createdBy);
    if (r.status === "exists" && (r.snapshot.volumeCm3 !== s.volumeCm3 || r.snapshot.country !== s.country)) {
      throw SettlementErrors.snapshotConflict(`${s.sellerId}'s stock in ${s.warehouse} on ${s.date} was recorded as ${r.snapshot.volumeCm3} cm3`, {
        fields: [{ field: "volumeCm3", message: `already recorded as ${r.snapshot.volumeCm3} for this warehouse and date` }],
        details: { snapshotId: r.snapshot.id },
      });
    }
    return r;
  }

  async listSnapshots(sellerId: string, filter: { warehouse?: string; from?: string; before?: string }): Promise<StoredSnapshot[]> {
    await this.seller(sellerId);
    return this.deps.repository.listSnapshots({ sellerId, ...filter });
  }

  /**
   * Charges storage for `period` (YYYY-MM, over) to every seller with snapshots (or to `sellerId`),
   * per warehouse, dated the period's last instant; records and returns the run.
   */
  async run(period: string, opts: { sellerId?: string; createdBy: string | null }): Promise<StorageRun> {
    const p = storagePeriod(period);
    if (p.end.getTime() > this.now().getTime()) {
      throw SettlementErrors.invalidStorageRun(`period ${period} ends ${p.end.toISOString()}: storage is billed once the period is over`, {
        fields: [{ field: "period", message: "must have ended" }],
      });
    }
    const sellers = new Map((await this.deps.settlement.listSellers()).map((s) => [s.id, s]));
    if (opts.sellerId !== undefined && !sellers.has(opts.sellerId)) {
      throw SettlementErrors.unknownSeller(`unknown seller ${opts.sellerId}`, { fields: [{ field: "sellerId", message: "no such seller" }] });
    }
    const schedules = await this.deps.settlement.listSchedules();
    const snapshots = await this.deps.repository.listSnapshots({ ...(opts.sellerId === undefined ? {} : { sellerId: opts.sellerId }), before: p.to });
    const groups = new Map<string, StoredSnapshot[]>();
    for (const s of snapshots) {
      const key = `${s.sellerId}\u0000${s.warehouse}`;
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    const occurredAt = new Date(p.end.getTime() - 1);
    const items: StorageRunItem[] = [];
    for (const group of groups.values()) {
      const first = group[0] as StoredSnapshot;
      const chargeId = storageChargeId(period, first.warehouse);
      const item: StorageRunItem = { sellerId: first.sellerId, warehouse: first.warehouse, status: "nothing", chargeId, amount: "0", volumeDaysCm3: "0", charged: null, currency: null, transactionId: null, error: null };
      items.push(item);
      try {
        const seller = sellers.get(first.sellerId);
        if (seller === undefined) throw SettlementErrors.unknownSeller(`unknown seller ${first.sellerId}`, { fields: [{ field: "sellerId", message: "no such seller" }] });
        const c = computeStorage({ sellerId: seller.id, program: seller.program, warehouse: first.warehouse, country: first.country, period, snapshots: group, schedules });
        item.amount = c.amount.toString();
        item.volumeDaysCm3 = c.volumeDaysCm3.toString();
        if (c.amount === 0n) continue;
        const r = await this.deps.settlement.chargeSeller(seller.id, { chargeId, kind: "storage", amount: c.amount, occurredAt, note: storageNote(c), evidence: storageEvidence(c) });
        Object.assign(item, { status: r.status, charged: r.charge.charged.toString(), currency: r.charge.currency, transactionId: r.charge.transactionId });
      } catch (e) {
        item.status = "error";
        if (isAppError(e)) item.error = { code: e.code, message: e.message };
        else {
          this.deps.onUnexpected?.(e, item);
          item.error = { code: "ENT_INTERNAL", message: "internal error on this seller's storage; the others were charged" };
        }
      }
    }
    return this.deps.repository.insertRun({ period, sellerId: opts.sellerId ?? null, items, createdBy: opts.createdBy });
  }

  async getRun(id: string): Promise<StorageRun> {
    const r = await this.deps.repository.getRun(id);
    if (r === null) throw SettlementErrors.storageRunNotFound(`no storage run ${id}`, { fields: [{ field: "id", message: "no such run" }] });
    return r;
  }

  async listRuns(filter: { period?: string; limit: number }): Promise<StorageRun[]> {
    return this.deps.repository.listRuns(filter);
  }
}
