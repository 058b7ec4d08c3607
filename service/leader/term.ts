/**
 * One leadership term, as this instance sees it on its own monotonic clock (no I/O; tested alone).
 *
 * The database sets the lease's expiry to (its clock at the statement) + TTL. The statement runs
 * after this instance sent it, so counting the TTL from the moment of sending gives a local
 * deadline that is never later than the database's expiry (clock rates being equal); `marginMs`
 * absorbs rate drift and leaves the workers time to stop. A standby can take the lease only after
 * the database's expiry, so a leader that stops by its local deadline has stopped before any other
 * instance starts.
 */
import { LeaderErrors } from "./errors.js";

export interface LeaseTimings {
  ttlMs: number;
  /** The leader renews this often: two renewals may fail before the margin is reached. */
  renewEveryMs: number;
  /** A standby tries to take an expired lease this often. */
  standbyPollMs: number;
  /** The leader stops its workers this long before the lease could expire. */
  marginMs: number;
}

/** The smallest TTL the timings stay meaningful with. */
export const MIN_LEASE_TTL_MS = 300;

export function leaseTimings(ttlMs: number): LeaseTimings {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_LEASE_TTL_MS) {
    throw LeaderErrors.invalidOption(`the lease TTL must be an integer of at least ${MIN_LEASE_TTL_MS} ms, got ${ttlMs}`);
  }
  return { ttlMs, renewEveryMs: Math.floor(ttlMs / 3), standbyPollMs: Math.floor(ttlMs / 3), marginMs: Math.floor(ttlMs / 5) };
}

export class Term {
  #sentAt: number;
  #ended = false;

  constructor(
    readonly token: bigint,
    /** Local monotonic time at which the acquiring statement was sent. */
    sentAt: number,
    private readonly timings: LeaseTimings,
  ) {
    this.#sentAt = sentAt;
  }

  /** Local monotonic instant by which every worker of this term must have stopped. */
  get stopBy(): number {
    return this.#sentAt + this.timings.ttlMs - this.timings.marginMs;
  }

  /** When the next renewal is due. */
  get renewAt(): number {
    return this.#sentAt + this.timings.renewEveryMs;
  }

  /** A renewal sent at `sentAt` succeeded. */
  renewed(sentAt: number): void {
    if (sentAt > this.#sentAt) this.#sentAt = sentAt;
  }

  /** The term is over for good (lost, expired locally, or released): it never becomes valid again. */
  end(): void {
    this.#ended = true;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Work of this term may start at `now`. */
  isValid(now: number): boolean {
    return !this.#ended && now < this.stopBy;
  }
}
