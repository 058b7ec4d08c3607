/**
 * The ledger side of a run, held compactly: every settlement event of the gateway in the period
 * (plus the look-around margin), read page by page from the settlement module's API, stored
 * column-wise: numbers in typed arrays, repeated strings interned, ids in byte arenas, and an
 * open-addressing hash index from gatewayEventId to position. About 100 bytes an event and a
 * handful of objects in all — a million JavaScript strings and Map entries instead made the
 * garbage collector the largest cost of a run (measured: ~9 s of a 1M-row run).
 */
import type { ReconciliationRecord, SettlementEventType } from "../settlement/types.js";
import { ANCHOR_STATES, type AnchorStateName } from "./rules.js";

/**
 * The code each settlement event type is stored as in the window's `type` column (one byte an
 * event). Code compares through these names (`type[i] === EventCode.fee_adjustment`), never
 * through numbers or an array's order, so adding or reordering event types cannot shift a rule.
 */
export const EventCode = {
  capture: 0,
  refund: 1,
  chargeback: 2,
  chargeback_reversal: 3,
  fee_adjustment: 4,
  release: 5,
  reserve_release: 6,
} as const satisfies Record<SettlementEventType, number>;
export type EventCode = (typeof EventCode)[SettlementEventType];

/** Code -> event type (the inverse of EventCode; refuses two types sharing a code). */
const TYPE_OF_CODE: readonly SettlementEventType[] = (() => {
  const out: SettlementEventType[] = [];
  for (const [type, code] of Object.entries(EventCode) as Array<[SettlementEventType, number]>) {
    if (out[code] !== undefined) throw new Error(`EventCode: ${type} and ${out[code]} share the code ${code}`);
    out[code] = type;
  }
  return out;
})();

/** Interns repeated strings (sellers, markets, currencies, rates) as small integers. */
class Dictionary {
  private readonly ids = new Map<string, number>();
  readonly values: string[] = [];
  id(v: string): number {
    let i = this.ids.get(v);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(v);
      this.ids.set(v, i);
    }
    return i;
  }
}

/** Growable column of strings stored as UTF-8 bytes in one arena (few objects for the GC to trace). */
class StringColumn {
  private bytes = Buffer.alloc(1 << 16);
  private used = 0;
  private ends = new Uint32Array(1024);
  private count = 0;

  push(v: string): void {
    const need = Buffer.byteLength(v, "utf8");
    while (this.used + need > this.bytes.length) {
      const next = Buffer.alloc(this.bytes.length * 2);
      this.bytes.copy(next, 0, 0, this.used);
      this.bytes = next;
    }
    this.used += this.bytes.write(v, this.used, "utf8");
    if (this.count === this.ends.length) {
      const next = new Uint32Array(this.ends.length * 2);
      next.set(this.ends);
      this.ends = next;
    }
    this.ends[this.count++] = this.used;
  }

  get(i: number): string {
    return this.bytes.toString("utf8", i === 0 ? 0 : this.ends[i - 1]!, this.ends[i]);
  }

  /** True when entry i is exactly `v` (ASCII compared in place; anything else through a string). */
  equals(i: number, v: string): boolean {
    const start = i === 0 ? 0 : this.ends[i - 1]!;
    const end = this.ends[i]!;
    if (end - start !== v.length) return Buffer.byteLength(v, "utf8") === end - start && this.get(i) === v;
    for (let k = 0; k < v.length; k++) {
      const c = v.charCodeAt(k);
      if (c > 127) return this.get(i) === v;
      if (this.bytes[start + k] !== c) return false;
    }
    return true;
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units: the window's index hash, and the matcher's row-id hash. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A growable column of bigints: int64 storage, with the rare larger values kept aside, so a value
 * (or a sum kept in it: the matcher's per-event sums) never wraps around as a BigInt64Array would.
 */
export class BigColumn {
  data: BigInt64Array;
  private readonly wide = new Map<number, bigint>();
  constructor(capacity: number) {
    this.data = new BigInt64Array(capacity);
  }
  set(i: number, v: bigint): void {
    if (v > 9_223_372_036_854_775_807n || v < -9_223_372_036_854_775_808n) {
      this.wide.set(i, v);
      this.data[i] = 0n;
    } else {
      this.data[i] = v;
      if (this.wide.size !== 0) this.wide.delete(i);
    }
  }
  get(i: number): bigint {
    return this.wide.size === 0 ? this.data[i]! : (this.wide.get(i) ?? this.data[i]!);
  }
  grow(capacity: number): void {
    const next = new BigInt64Array(capacity);
    next.set(this.data);
    this.data = next;
  }
}

export class LedgerWindow {
  size = 0;
  private capacity: number;
  /** Open addressing, linear probing: slot -> event index + 1 (0 = empty); at most half full. */
  private table = new Int32Array(2048);
  private readonly ids = new StringColumn();
  private readonly orders = new StringColumn();
  private readonly journal = new StringColumn();
  /** Per event, its EventCode. */
  type: Uint8Array;
  seller: Uint32Array;
  market: Uint32Array;
  currency: Uint32Array;
  rate: Int32Array;
  occurredAt: Float64Array;
  recordedAt: Float64Array;
  /** Anchor state per event when read ahead (index in ANCHOR_STATES; -1 = not read). */
  chainState: Int8Array;
  /** Anchor batch id per event when read ahead (NaN = none). */
  chainBatch: Float64Array;
  /** True once the chain states of every event with a journal transaction were read ahead. */
  chainRead = false;
  readonly amount: BigColumn;
  readonly fee: BigColumn;
  readonly dict = new Dictionary();

  constructor(capacity = 1024) {
    this.capacity = capacity;
    this.type = new Uint8Array(capacity);
    this.seller = new Uint32Array(capacity);
    this.market = new Uint32Array(capacity);
    this.currency = new Uint32Array(capacity);
    this.rate = new Int32Array(capacity);
    this.occurredAt = new Float64Array(capacity);
    this.recordedAt = new Float64Array(capacity);
    this.chainState = new Int8Array(capacity).fill(-1);
    this.chainBatch = new Float64Array(capacity).fill(Number.NaN);
    this.amount = new BigColumn(capacity);
    this.fee = new BigColumn(capacity);
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const g = <T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const next = make(cap);
      next.set(a);
      return next;
    };
    this.type = g(this.type, (n) => new Uint8Array(n));
    this.seller = g(this.seller, (n) => new Uint32Array(n));
    this.market = g(this.market, (n) => new Uint32Array(n));
    this.currency = g(this.currency, (n) => new Uint32Array(n));
    this.rate = g(this.rate, (n) => new Int32Array(n));
    this.occurredAt = g(this.occurredAt, (n) => new Float64Array(n));
    this.recordedAt = g(this.recordedAt, (n) => new Float64Array(n));
    const states = new Int8Array(cap).fill(-1);
    states.set(this.chainState);
    this.chainState = states;
    this.chainBatch = g(this.chainBatch, (n) => new Float64Array(n).fill(Number.NaN));
    this.amount.grow(cap);
    this.fee.grow(cap);
    this.capacity = cap;
  }

  /** Index of the event with this gatewayEventId, or -1. */
  find(gatewayEventId: string): number {
    const mask = this.table.length - 1;
    for (let slot = fnv1a(gatewayEventId) & mask; ; slot = (slot + 1) & mask) {
      const v = this.table[slot]!;
      if (v === 0) return -1;
      if (this.ids.equals(v - 1, gatewayEventId)) return v - 1;
    }
  }

  private place(i: number, h: number): void {
    const mask = this.table.length - 1;
    let slot = h & mask;
    while (this.table[slot] !== 0) slot = (slot + 1) & mask;
    this.table[slot] = i + 1;
  }

  private rehash(): void {
    this.table = new Int32Array(this.table.length * 2);
    for (let i = 0; i < this.size; i++) this.place(i, fnv1a(this.ids.get(i)));
  }

  /** Adds a record; returns its index (or -1 when its gatewayEventId is already in the window). */
  add(r: ReconciliationRecord): number {
    const code = EventCode[r.type] as EventCode | undefined;
    if (code === undefined) throw new Error(`ledger window: unknown settlement event type ${JSON.stringify(r.type)}`);
    if (this.find(r.gatewayEventId) >= 0) return -1; // (gateway, gatewayEventId) is unique upstream
    if (this.size === this.capacity) this.grow();
    const i = this.size++;
    this.ids.push(r.gatewayEventId);
    this.orders.push(r.settlementId);
    this.journal.push(r.journalTransactionId);
    if (this.size * 2 > this.table.length) this.rehash();
    else this.place(i, fnv1a(r.gatewayEventId));
    this.type[i] = code;
    this.seller[i] = this.dict.id(r.sellerId);
    this.market[i] = this.dict.id(r.market);
    this.currency[i] = this.dict.id(r.currency);
    this.rate[i] = r.buyerToUsdRate === null ? -1 : this.dict.id(r.buyerToUsdRate);
    this.occurredAt[i] = r.occurredAt.getTime();
    this.recordedAt[i] = r.recordedAt.getTime();
    this.amount.set(i, r.amount);
    this.fee.set(i, r.gatewayFee);
    return i;
  }

  setChain(i: number, state: string, batchId: bigint | null): void {
    this.chainState[i] = (ANCHOR_STATES as readonly string[]).indexOf(state);
    this.chainBatch[i] = batchId === null ? Number.NaN : Number(batchId);
  }

  chainOf(i: number): { state: AnchorStateName; batchId: bigint | null } | null {
    const s = this.chainState[i]!;
    if (s < 0) return null;
    const b = this.chainBatch[i]!;
    return { state: ANCHOR_STATES[s]!, batchId: Number.isNaN(b) ? null : BigInt(b) };
  }

  eventId(i: number): string {
    return this.ids.get(i);
  }
  settlementOf(i: number): string {
    return this.orders.get(i);
  }
  journalOf(i: number): string {
    return this.journal.get(i);
  }
  typeOf(i: number): SettlementEventType {
    return TYPE_OF_CODE[this.type[i]!]!;
  }
  currencyOf(i: number): string {
    return this.dict.values[this.currency[i]!]!;
  }
  sellerOf(i: number): string {
    return this.dict.values[this.seller[i]!]!;
  }
  marketOf(i: number): string {
    return this.dict.values[this.market[i]!]!;
  }
  rateOf(i: number): string | null {
    const r = this.rate[i]!;
    return r < 0 ? null : this.dict.values[r]!;
  }
}
