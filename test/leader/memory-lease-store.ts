/**
 * The lease store's semantics in memory on an injected clock (the database's clock in production):
 * for the elector tests, which drive time by hand. lease-store.test.ts runs the same behaviour
 * suite against this and against the SQL store on PGlite and PostgreSQL, so the two cannot drift.
 */
import type { SqlRunner } from "../../service/db/sql.js";
import type { AcquireResult, LeaseStorePort } from "../../service/leader/index.js";

interface Row {
  holder: string;
  token: bigint;
  expiresAt: number;
}

export class MemoryLeaseStore implements LeaseStorePort {
  readonly rows = new Map<string, Row>();
  /** Set to make every call fail (the database unreachable). */
  down = false;

  constructor(private readonly now: () => number) {}

  #up(): void {
    if (this.down) throw new Error("connection refused");
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<AcquireResult> {
    this.#up();
    const r = this.rows.get(name);
    if (r === undefined || r.expiresAt <= this.now()) {
      const token = (r?.token ?? 0n) + 1n;
      this.rows.set(name, { holder, token, expiresAt: this.now() + ttlMs });
      return { acquired: true, token };
    }
    return { acquired: false, holder: r.holder, token: r.token };
  }

  async renew(name: string, holder: string, token: bigint, ttlMs: number): Promise<boolean> {
    this.#up();
    const r = this.rows.get(name);
    if (r === undefined || r.holder !== holder || r.token !== token || r.expiresAt <= this.now()) return false;
    r.expiresAt = this.now() + ttlMs;
    return true;
  }

  async release(name: string, holder: string, token: bigint): Promise<void> {
    this.#up();
    const r = this.rows.get(name);
    if (r !== undefined && r.holder === holder && r.token === token && r.expiresAt > this.now()) r.expiresAt = this.now();
  }

  async verify(_tx: SqlRunner, name: string, holder: string, token: bigint): Promise<boolean> {
    this.#up();
    const r = this.rows.get(name);
    return r !== undefined && r.holder === holder && r.token === token && r.expiresAt > this.now();
  }

  /** Ends the current term at once, as if its TTL had run out. */
  expire(name: string): void {
    const r = this.rows.get(name);
    if (r !== undefined) r.expiresAt = this.now();
  }
}
