/**
 * The bank payout run's lease (`bank-payouts` in `worker_leases`, through the leader's lease store):
 * taken with a short TTL and renewed every TTL/3 while the run works, so a run that dies (kill -9,
 * a lost host) leaves a lease that ends within one TTL, and another instance's run takes over. The
 * run's writes are fenced: every transaction that records a payout or a file first verifies the
 * term inside itself (`verify`: the row locked FOR SHARE, so a takeover waits for it), and the
 * steps outside a transaction check the term's local deadline (leader/term.ts: never later than
 * the database's expiry). A run that lost its lease stops with ENT_PAYOUT_PLANNER_LEASE_LOST at
 * its next write; what it wrote before is a planned payout with its stored reserve request, which
 * the worker (or the next run) reserves and files (the ledger key makes the reserve one whoever posts it).
 *
 * The vault payout planner (planner.ts) holds its run the same way, on its `payout_state` row
 * (planner-repository.ts' PayoutStateLeases): `rail: "vault"` names it in its errors and logs.
 */
import type { SqlRunner } from "../db/sql.js";
import type { Fence } from "../leader/fence.js";
import type { LeaseStorePort } from "../leader/lease-store.js";
import { leaseTimings, Term, type LeaseTimings } from "../leader/term.js";
import { PayoutErrors } from "./errors.js";
import type { PayoutLog } from "./types.js";

/** A run renews every 2 s: a dead instance's lease ends 4 to 6 s after it died. */
export const BANK_RUN_LEASE_MS = 6_000;

/** Which rail's run holds the lease (its errors and logs say so). */
export type RunRail = "bank" | "vault";

export class RunLease implements Fence {
  readonly #store: LeaseStorePort;
  readonly #holder: string;
  readonly #term: Term;
  readonly #timings: LeaseTimings;
  readonly #now: () => number;
  readonly #log: PayoutLog | undefined;
  readonly #rail: RunRail;
  #timer: NodeJS.Timeout | undefined;
  #lost: string | null = null;

  private constructor(
    readonly lease: string,
    o: { store: LeaseStorePort; holder: string; term: Term; timings: LeaseTimings; now: () => number; log: PayoutLog | undefined; rail: RunRail },
  ) {
    this.#rail = o.rail;
    this.#store = o.store;
    this.#holder = o.holder;
    this.#term = o.term;
    this.#timings = o.timings;
    this.#now = o.now;
    this.#log = o.log;
    this.#schedule();
  }

  /** The lease, renewed until `release()`; ENT_PAYOUT_PLANNER_BUSY while another instance's run holds it. */
  static async take(o: { store: LeaseStorePort; lease: string; holder: string; ttlMs: number; log?: PayoutLog | undefined; now?: () => number; rail?: RunRail }): Promise<RunLease> {
    const rail = o.rail ?? "bank";
    const timings = leaseTimings(o.ttlMs);
    const now = o.now ?? (() => performance.now());
    const sentAt = now();
    const r = await o.store.acquire(o.lease, o.holder, timings.ttlMs);
    if (!r.acquired) throw PayoutErrors.plannerBusy(`another process (${r.holder}) is planning ${rail} payouts; retry shortly`);
    return new RunLease(o.lease, { store: o.store, holder: o.holder, term: new Term(r.token, sentAt, timings), timings, now, log: o.log, rail });
  }

  get token(): bigint {
    return this.#term.token;
  }

  isValid(): boolean {
    return this.#lost === null && this.#term.isValid(this.#now());
  }

  /** Throws ENT_PAYOUT_PLANNER_LEASE_LOST unless the term may still start work (local clock; no I/O). */
  check(): void {
    if (this.isValid()) return;
    this.#lose(this.#lost ?? "its lease was not renewed before its deadline");
    throw this.#error();
  }

  /** Inside `tx`: the term is the database's current one and stays so until `tx` ends, else ENT_PAYOUT_PLANNER_LEASE_LOST. */
  async verify(tx: SqlRunner): Promise<void> {
    this.check();
    if (await this.#store.verify(tx, this.lease, this.#holder, this.#term.token)) return;
    this.#lose("another instance took its lease over");
    throw this.#error();
  }

  /** Stops renewing and ends the term now (a no-op in the database when it was lost). */
  async release(): Promise<void> {
    clearTimeout(this.#timer);
    const was = this.#term.ended;
    this.#term.end();
    if (!was) await this.#store.release(this.lease, this.#holder, this.#term.token);
  }

  #error() {
    return PayoutErrors.plannerLeaseLost(`this ${this.#rail} payout run lost the planner lease (${this.#lost ?? "expired"}): it stopped before its next write; another run takes over what it planned`);
  }

  #lose(why: string): void {
    if (this.#term.ended) return;
    this.#lost ??= why;
    this.#term.end();
    clearTimeout(this.#timer);
    this.#log?.warn({ lease: this.lease, token: this.#term.token.toString(), why }, `${this.#rail} payout run lost the planner lease: it stops at its next write`);
  }

  #schedule(delay = this.#timings.renewEveryMs): void {
    this.#timer = setTimeout(() => void this.#renew(), Math.max(0, delay));
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#term.ended) return;
    const sentAt = this.#now();
    if (!this.#term.isValid(sentAt)) return this.#lose("its lease was not renewed before its deadline");
    let ok: boolean;
    try {
      ok = await this.#store.renew(this.lease, this.#holder, this.#term.token, this.#timings.ttlMs);
    } catch (err) {
      // The database is out: try again soon; the term's deadline stops the run if it stays out.
      this.#log?.warn({ err, lease: this.lease }, `${this.#rail} payout run could not renew the planner lease; retrying`);
      if (!this.#term.ended) this.#schedule(this.#timings.renewEveryMs / 2);
      return;
    }
    if (this.#term.ended) return;
    if (!ok) return this.#lose("its lease expired or was taken over");
    this.#term.renewed(sentAt);
    this.#schedule(this.#term.renewAt - this.#now());
  }
}
