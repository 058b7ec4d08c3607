/**
 * Leader election through the database lease (lease-store.ts): at most one instance at a time runs
 * the background workers. A standby tries to take the lease every TTL/3; the leader renews it every
 * TTL/3 and stops its workers by its term's local deadline (term.ts) if renewals stop succeeding
 * (database unreachable, a long pause), whatever else happens, before any standby can take over.
 * So a dead leader is replaced within about TTL + TTL/3, and two leaders never run at once: the
 * old one's loops start no tick after its deadline, and a tick still running then is fenced (its
 * sender cannot allocate a nonce once the term is over; see fence.ts).
 *
 * Logs: one line when this instance becomes leader, one when it loses or releases the lease, one
 * when it first sees another holder; a database outage is logged when it starts and when it ends.
 * `step()` is one round, driven by `start()`'s timer in production and directly by tests.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { LeaderErrors } from "./errors.js";
import type { Fence } from "./fence.js";
import type { LeaseStorePort } from "./lease-store.js";
import { leaseTimings, Term, type LeaseTimings } from "./term.js";
import { failureCodes } from "../db/errors.js";

export interface ElectorLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
}

export interface LeaderElectorOptions {
  store: LeaseStorePort;
  /** The lease's name (one row per name). */
  lease: string;
  /** This instance's id in the lease row; default host:pid:random. */
  holder?: string;
  ttlMs: number;
  log: ElectorLog;
  /** Starts the work of a term; returns how to stop it (awaited before the term is given up). */
  lead: (fence: Fence) => () => Promise<void>;
  /** Local monotonic clock in ms; default `performance.now`. */
  now?: () => number;
}

type State =
  | { kind: "standby" }
  | { kind: "leading"; term: Term; stop: () => Promise<void> }
  | { kind: "stepping-down"; done: Promise<void> }
  | { kind: "stopped" };

/** host:pid:random, at most 128 characters (the lease row's holder column). */
export function instanceId(): string {
  return `${hostname().slice(0, 100)}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

export class LeaderElector {
  readonly holder: string;
  readonly timings: LeaseTimings;
  readonly #store: LeaseStorePort;
  readonly #lease: string;
  readonly #log: ElectorLog;
  readonly #lead: (fence: Fence) => () => Promise<void>;
  readonly #now: () => number;
  #state: State = { kind: "standby" };
  /** The message of the database failure being retried (logged once per outage). */
  #failing: string | null = null;
  /** The other holder already reported while standing by. */
  #seen: string | null = null;
  #timer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #running = false;

  constructor(opts: LeaderElectorOptions) {
    this.timings = leaseTimings(opts.ttlMs);
    this.holder = opts.holder ?? instanceId();
    this.#store = opts.store;
    this.#lease = opts.lease;
    this.#log = opts.log;
    this.#lead = opts.lead;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** This instance holds a term whose deadline has not passed. */
  isLeader(): boolean {
    return this.#state.kind === "leading" && this.#state.term.isValid(this.#now());
  }

  /** The token of the term this instance leads, if any. */
  token(): bigint | null {
    return this.#state.kind === "leading" ? this.#state.term.token : null;
  }

  /** One round (acquire, or renew, or step down); returns the milliseconds until the next one. */
  async step(): Promise<number> {
    const s = this.#state;
    switch (s.kind) {
      case "stopped":
        return Infinity;
      case "stepping-down":
        await s.done;
        return 0;
      case "leading":
        return this.#renew(s);
      case "standby":
        return this.#tryAcquire();
    }
  }

  /** Runs `step()` on a timer until `stop()`. The timer keeps the process alive (a workers-only instance has nothing else). */
  start(): void {
    if (this.#running || this.#state.kind === "stopped") return;
    this.#running = true;
    const round = async () => {
      let wait: number;
      try {
        wait = await this.step();
      } catch (err) {
        this.#log.error({ err, lease: this.#lease, ...failureCodes(err) }, "worker lease round failed");
        wait = this.timings.standbyPollMs;
      }
      if (this.#running && Number.isFinite(wait)) this.#timer = setTimeout(() => void round(), Math.max(0, wait));
    };
    void round();
  }

  /** Stops electing; a leader stops its workers, then releases the lease so a standby takes over at once. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    clearTimeout(this.#watchdog);
    const s = this.#state;
    this.#state = { kind: "stopped" };
    if (s.kind === "stepping-down") await s.done;
    if (s.kind !== "leading") return;
    s.term.end();
    await this.#stopWork(s.stop);
    try {
      await this.#store.release(this.#lease, this.holder, s.term.token);
      this.#log.info({ lease: this.#lease, holder: this.holder, token: s.term.token.toString() }, "worker lease released: background workers stopped");
    } catch (err) {
      this.#log.warn({ err, lease: this.#lease }, "worker lease not released (a standby takes over when it expires)");
    }
  }

  async #tryAcquire(): Promise<number> {
    const sentAt = this.#now();
    let r;
    try {
      r = await this.#store.acquire(this.#lease, this.holder, this.timings.ttlMs);
    } catch (err) {
      this.#failed(err);
      return this.timings.standbyPollMs;
    }
    this.#recovered();
    if (!r.acquired) {
      if (r.holder !== this.#seen && r.holder !== "") {
        this.#seen = r.holder;
        this.#log.info({ lease: this.#lease, holder: r.holder, token: r.token.toString() }, "worker lease held by another instance: standing by");
      }
      return this.timings.standbyPollMs;
    }
    const term = new Term(r.token, sentAt, this.timings);
    if (this.#state.kind !== "standby" || !term.isValid(this.#now())) {
      // Stopped meanwhile, or the statement took so long the term is already over: give it back.
      term.end();
      await this.#store.release(this.#lease, this.holder, r.token).catch(() => undefined);
      return this.timings.standbyPollMs;
    }
    this.#log.info({ lease: this.#lease, holder: this.holder, token: r.token.toString() }, "worker lease acquired: this instance runs the background workers");
    let stop: () => Promise<void>;
    try {
      stop = this.#lead(this.#fence(term));
    } catch (err) {
      term.end();
      this.#log.error({ err, lease: this.#lease }, "background workers failed to start; lease released");
      await this.#store.release(this.#lease, this.holder, r.token).catch(() => undefined);
      return this.timings.standbyPollMs;
    }
    this.#seen = null;
    this.#state = { kind: "leading", term, stop };
    this.#armWatchdog(term);
    return Math.max(0, term.renewAt - this.#now());
  }

  async #renew(s: Extract<State, { kind: "leading" }>): Promise<number> {
    const { term } = s;
    const sentAt = this.#now();
    if (!term.isValid(sentAt)) {
      await this.#stepDown(s, "the lease was not renewed before its deadline");
      return 0;
    }
    let ok: boolean;
    try {
      ok = await this.#store.renew(this.#lease, this.holder, term.token, this.timings.ttlMs);
    } catch (err) {
      this.#failed(err);
      // Retry soon, but wake up for the deadline at the latest.
      return Math.max(0, Math.min(this.timings.renewEveryMs / 2, term.stopBy - this.#now()));
    }
    this.#recovered();
    if (this.#state !== s) {
      // The watchdog ended this term while the renewal was under way: hand the renewed lease back.
      if (ok) await this.#store.release(this.#lease, this.holder, term.token).catch(() => undefined);
      return 0;
    }
    if (!ok) {
      await this.#stepDown(s, "the database refused the renewal (the lease expired or another instance holds it)");
      return 0;
    }
    term.renewed(sentAt);
    this.#armWatchdog(term);
    return Math.max(0, term.renewAt - this.#now());
  }

  async #stepDown(s: Extract<State, { kind: "leading" }>, reason: string): Promise<void> {
    if (this.#state !== s) return;
    s.term.end();
    clearTimeout(this.#watchdog);
    this.#log.warn({ lease: this.#lease, holder: this.holder, token: s.term.token.toString(), reason }, "worker lease lost: stopping the background workers");
    const done = this.#stopWork(s.stop);
    this.#state = { kind: "stepping-down", done };
    await done;
    if (this.#state.kind === "stepping-down") this.#state = { kind: "standby" };
  }

  async #stopWork(stop: () => Promise<void>): Promise<void> {
    try {
      await stop();
    } catch (err) {
      this.#log.error({ err, lease: this.#lease }, "background workers did not stop cleanly");
    }
  }

  /** In production, a renewal that hangs (a partition) must not keep the workers past the deadline. */
  #armWatchdog(term: Term): void {
    if (!this.#running) return;
    clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(() => {
      const s = this.#state;
      if (s.kind === "leading" && s.term === term && !term.isValid(this.#now())) void this.#stepDown(s, "the lease was not renewed before its deadline");
    }, Math.max(0, term.stopBy - this.#now()) + 1);
    this.#watchdog.unref();
  }

  #fence(term: Term): Fence {
    const { holder } = this;
    const lease = this.#lease;
    return {
      lease,
      token: term.token,
      isValid: () => term.isValid(this.#now()),
      verify: async (tx) => {
        if (!term.isValid(this.#now()) || !(await this.#store.verify(tx, lease, holder, term.token))) {
          throw LeaderErrors.leaseLost(`term ${term.token} of the ${lease} lease held by ${holder} has ended`, { details: { lease, token: term.token.toString() } });
        }
      },
    };
  }

  #failed(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (this.#failing !== null) return;
    this.#failing = message;
    this.#log.warn({ err, lease: this.#lease, ...failureCodes(err) }, "worker lease: the database did not answer; retrying");
  }

  #recovered(): void {
    if (this.#failing === null) return;
    this.#failing = null;
    this.#log.info({ lease: this.#lease }, "worker lease: the database answers again");
  }
}
