/**
 * The delivery worker (run by the worker leader only). Each tick fans new outbox events out to
 * deliveries, then keeps up to `maxInFlight` requests going (at most `maxPerEndpoint` per
 * endpoint, so a slow or dead endpoint holds only its own slots, and at most `maxPerOwner` per
 * owner, so a gateway with many slow endpoints holds only its share) for up to `tickBudgetMs`,
 * claiming more as requests finish; free slots go round the owners (store.ts, `claim`). A
 * request's outcome is written through a group commit (one statement for all outcomes that finish
 * together). Requests still in flight when a tick ends go on; `drain()` waits for them and their
 * outcomes' writes. At-least-once: a claim is a lease (`leaseMs`): if this process dies
 * mid-request, the delivery is due again when the lease ends.
 *
 * Measured (scripts/bench/webhooks.ts, a backlog of 240,000 deliveries, 16 per endpoint, a receiver
 * answering in 50 ms): a slot is freed when its request ends, not once its outcome is written (that
 * write took 12-25 ms on a loaded machine, and held the endpoint's slot); a request that ends while
 * the tick is busy sends it round again at once (its wake-up was lost, and the tick slept 50 ms with
 * a free slot); new events are fanned out at most every 100 ms within a tick, not before every
 * claim; a tick that fills an endpoint's slots runs 5 s, not 1 s, and when it ends with the backlog
 * still at hand the next tick starts at once (the worker otherwise pauses 250 ms between ticks, with
 * nothing claimed): 274-279 -> 290-296 deliveries/s on PostgreSQL (ceiling 320/s). A claim waits
 * 2 ms after the last one (`CLAIM_GAP_MS`).
 */
import { errorSummary } from "../errors.js";
import { GroupCommit } from "../group-commit.js";
import type { TickResult } from "../loop.js";
import type { SecretBox, Sealed } from "../http/auth/secret-box.js";
import type { Poster } from "./post.js";
import { signatureHeader } from "./signature.js";
import type { Claimed, Outcome, WebhookStore } from "./store.js";
import { eventIdText, type WebhookEventBody } from "./types.js";

/** Default waits after failed attempt 1, 2, ...: 11 retries over 85.6 hours (then dead). */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [60, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 36_000, 43_200, 43_200, 86_400].map((s) => s * 1000);

/** Within a tick, new events are fanned out at most this often (the worker ticks every 250 ms besides). */
const FAN_OUT_EVERY_MS = 100;

/**
 * A claim follows the last one by at least this much, so that slots freed meanwhile are claimed
 * together. Without it, a fast receiver on PGlite (one connection, run on the service's own thread)
 * was sent one claim per freed slot: 10,000 claims of one delivery for 10,000 events, 1.5 ms each,
 * and 345 events/s; with it, 27 deliveries a claim and 874 events/s. A slot waits at most this long.
 */
const CLAIM_GAP_MS = 2;

export interface DispatcherOptions {
  store: WebhookStore;
  box: SecretBox;
  poster: Poster;
  retryDelaysMs?: readonly number[];
  maxInFlight?: number;
  maxPerEndpoint?: number;
  /** Requests at most in flight for one owner's endpoints together (default `defaultMaxPerOwner`). */
  maxPerOwner?: number;
  /** How long a claimed delivery stays claimed (longer than the request timeout). */
  leaseMs: number;
  /** How long a tick keeps claiming (default 1 s)... */
  tickBudgetMs?: number;
  /** ...or this long once an endpoint's slots are all in use (default 5 s): the worker's pause between ticks would idle them. */
  busyTickBudgetMs?: number;
  /** ±jitter as a fraction of each delay (default 0.2). */
  jitter?: number;
  /** Events (with their deliveries and attempts) are kept this many days once nothing is open (default 30). */
  retentionDays?: number;
  random?: () => number;
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void; debug?(obj: object, msg: string): void };
}

export class WebhookDispatcher {
  readonly #o: Required<Omit<DispatcherOptions, "log">> & Pick<DispatcherOptions, "log">;
  /** Requests in flight, in all, per endpoint and per owner (an outcome being written holds no slot). */
  #requests = 0;
  /** Outcomes not written since the last one that was (#unrecorded). */
  #unrecordedRun = 0;
  readonly #perEndpoint = new Map<string, number>();
  readonly #perOwner = new Map<string, number>();
  /** Every attempt until its outcome is written. */
  readonly #sends = new Set<Promise<void>>();
  #woken = false;
  readonly #writes: GroupCommit<Outcome, void>;
  readonly #secrets = new Map<string, string>();
  #wake: (() => void) | null = null;
  #prunedAt = 0;
  /**
   * Endpoints whose deliveries this instance's address policy refuses (a loopback or private
   * receiver without WEBHOOK_ALLOW_PRIVATE): warned once each, not at every delivery, until one is
   * delivered again. Another instance may have been started with another policy.
   */
  readonly #refused = new Set<string>();

  constructor(opts: DispatcherOptions) {
    const maxInFlight = opts.maxInFlight ?? 64;
    const maxPerEndpoint = opts.maxPerEndpoint ?? 16;
    this.#o = {
      retryDelaysMs: DEFAULT_RETRY_DELAYS_MS,
      maxInFlight,
      maxPerEndpoint,
      maxPerOwner: defaultMaxPerOwner(maxInFlight, maxPerEndpoint),
      tickBudgetMs: 1_000,
      busyTickBudgetMs: 5_000,
      jitter: 0.2,
      retentionDays: 30,
      random: Math.random,
      ...opts,
    };
    const store = opts.store;
    this.#writes = new GroupCommit<Outcome, void>(async (items) => {
      await store.record(items);
      return items.map(() => undefined);
    }, 1_000, 2);
  }

  /** Attempts in all before a delivery is dead. */
  get maxAttempts(): number {
    return this.#o.retryDelaysMs.length + 1;
  }

  get inFlight(): number {
    return this.#requests;
  }

  /**
   * One tick; `"again"` when it ended on its budget with a backlog at hand (an endpoint's or an
   * owner's slots all in use, or the last claim as large as its room): the worker's loop then starts
   * the next tick at once instead of pausing, so slots freed meanwhile do not idle.
   */
  async tick(): Promise<TickResult> {
    const started = Date.now();
    let deadline = started + this.#o.tickBudgetMs;
    if (Date.now() - this.#prunedAt > 600_000) {
      this.#prunedAt = Date.now();
      await this.#o.store.prune(this.#o.retentionDays, 5_000);
    }
    let fannedOutAt = 0;
    let backlog = false;
    let claimedAt = -Infinity;
    for (;;) {
      this.#woken = false;
      // Not on every turn: a turn runs each time a request ends, and its claim should not wait for a
      // fan-out that finds nothing new.
      if (Date.now() - fannedOutAt >= FAN_OUT_EVERY_MS) {
        for (let i = 0; i < 10; i++) if ((await this.#o.store.fanOut(1_000)).events < 1_000) break;
        fannedOutAt = Date.now();
      }
      // Outcomes waiting for their write count against a second allowance: a slow database holds
      // back new claims rather than letting the leases of unwritten outcomes lapse.
      const room = Math.min(this.#o.maxInFlight - this.#requests, 2 * this.#o.maxInFlight - this.#sends.size);
      if (room > 0) {
        const claimed = await this.#o.store.claim(
          room,
          { perEndpoint: this.#o.maxPerEndpoint, perOwner: this.#o.maxPerOwner },
          { endpoints: Object.fromEntries(this.#perEndpoint), owners: Object.fromEntries(this.#perOwner) },
          this.#o.leaseMs,
        );
        claimedAt = performance.now();
        for (const c of claimed) this.#start(c);
        // A backlog (an endpoint's or an owner's slots all in use, or more due than there was room
        // for): the tick goes on longer, and the next one follows it without the worker's pause.
        if (claimed.length > 0 && (claimed.length === room || anyAtLeast(this.#perEndpoint, this.#o.maxPerEndpoint) || anyAtLeast(this.#perOwner, this.#o.maxPerOwner))) {
          backlog = true;
          deadline = Math.max(deadline, started + this.#o.busyTickBudgetMs);
        }
      }
      if (this.#sends.size === 0) return;
      if (Date.now() >= deadline) return backlog ? "again" : undefined;
      // Wait for a request to end (a slot frees) or an outcome to be written, unless one did while
      // this turn ran, or a short while (new events may be due)...
      if (!this.#woken) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 50);
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.#wake = null;
      }
      // ...and claim no sooner than CLAIM_GAP_MS after the last claim.
      const gap = CLAIM_GAP_MS - (performance.now() - claimedAt);
      if (gap > 0) await new Promise((resolve) => setTimeout(resolve, gap));
    }
  }

  /** Waits for every request in flight and its outcome's write. */
  async drain(): Promise<void> {
    while (this.#sends.size > 0) await Promise.allSettled([...this.#sends]);
  }

  #start(c: Claimed): void {
    this.#requests++;
    this.#perEndpoint.set(c.endpointId, (this.#perEndpoint.get(c.endpointId) ?? 0) + 1);
    this.#perOwner.set(c.owner, (this.#perOwner.get(c.owner) ?? 0) + 1);
    let held = true;
    // The endpoint's slot is freed when the request ends, not when its outcome is written: the
    // delivery stays claimed until then, so it is not sent again, and the next of its subject is
    // made due only by that write.
    const release = () => {
      if (!held) return;
      held = false;
      this.#requests--;
      decrement(this.#perEndpoint, c.endpointId);
      decrement(this.#perOwner, c.owner);
      this.#nudge();
    };
    const p = this.#send(c, release)
      .then(() => this.#recorded(), (err: unknown) => this.#unrecorded(err, c))
      .finally(() => {
        this.#sends.delete(p);
        release();
        // The write may have made the next of its subject due: worth a claim only if the endpoint and
        // its owner have a free slot (if not, the next request's end claims anyway).
        if ((this.#perEndpoint.get(c.endpointId) ?? 0) < this.#o.maxPerEndpoint && (this.#perOwner.get(c.owner) ?? 0) < this.#o.maxPerOwner) this.#nudge();
      });
    this.#sends.add(p);
  }

  /**
   * An outcome that could not be written (the database is away): the delivery is sent again once its
   * claim lapses. Logged at warn for the first of a run of them, with its reason, and at debug for the
   * others, so an outage is one line, not one per delivery in flight (README "Logs").
   */
  #unrecorded(err: unknown, c: Claimed): void {
    const fields = { endpointId: c.endpointId, eventId: c.eventId.toString(), reason: errorSummary(err) };
    if (this.#unrecordedRun++ === 0) this.#o.log?.warn(fields, "webhook outcome not recorded; retried after its lease (further ones at debug until outcomes are recorded again)");
    else this.#o.log?.debug?.(fields, "webhook outcome not recorded");
  }

  #recorded(): void {
    if (this.#unrecordedRun === 0) return;
    this.#o.log?.info?.({ unrecorded: this.#unrecordedRun }, "webhook outcomes are recorded again");
    this.#unrecordedRun = 0;
  }

  /** A slot freed or an outcome written: the tick claims again (now, or after the turn it is in). */
  #nudge(): void {
    this.#woken = true;
    this.#wake?.();
  }

  async #send(c: Claimed, release: () => void): Promise<void> {
    const attempt = c.attempt;
    const body: WebhookEventBody = { id: eventIdText(c.eventId), type: c.type, createdAt: c.createdAt.toISOString(), subject: c.subject, data: c.data };
    const text = JSON.stringify(body);
    const secrets = [this.#open(c.endpointId, c.secret)];
    if (c.previousSecret !== null && c.previousSecretValidUntil !== null && c.previousSecretValidUntil.getTime() > Date.now()) secrets.push(this.#open(c.endpointId, c.previousSecret));
    const startedAtMs = Date.now();
    const r = await this.#o.poster.post(c.url, text, {
      "entrepot-signature": signatureHeader(text, secrets, startedAtMs / 1000),
      "entrepot-event-id": body.id,
      "entrepot-event-type": c.type,
      "entrepot-delivery-attempt": String(attempt),
    });
    release();
    const ok = r.error === null;
    this.#noteRefusal(c.endpointId, r.error);
    const result = ok ? "delivered" : attempt >= this.maxAttempts ? "dead" : "retry";
    await this.#writes.submit({
      endpointId: c.endpointId,
      eventId: c.eventId,
      subject: c.subject,
      attempt,
      startedAtMs,
      durationMs: r.durationMs,
      statusCode: r.statusCode,
      error: r.error,
      result,
      delayMs: result === "retry" ? this.#delay(attempt) : 0,
    });
  }

  #noteRefusal(endpointId: string, error: string | null): void {
    if (error === null || !error.startsWith("address refused:")) {
      if (error === null) this.#refused.delete(endpointId);
      return;
    }
    if (this.#refused.has(endpointId)) return;
    this.#refused.add(endpointId);
    this.#o.log?.warn(
      { code: "ENT_WEBHOOK_ADDRESS_REFUSED", endpointId, reason: error.slice(0, 200) },
      "webhook deliveries to this endpoint are refused by this instance's address policy (WEBHOOK_ALLOW_PRIVATE is false): " +
        "set WEBHOOK_ALLOW_PRIVATE=true on every ROLE=all/workers instance if private receivers are intended, or point the endpoint at a public address",
    );
  }

  #delay(failedAttempt: number): number {
    const delays = this.#o.retryDelaysMs;
    const base = delays[Math.min(failedAttempt, delays.length) - 1] ?? 0;
    return Math.max(0, base * (1 - this.#o.jitter + 2 * this.#o.jitter * this.#o.random()));
  }

  #open(endpointId: string, s: Sealed): string {
    const cacheKey = `${s.keyId}:${s.ciphertext}`;
    let secret = this.#secrets.get(cacheKey);
    if (secret === undefined) {
      secret = this.#o.box.open(s, secretAad(endpointId));
      if (this.#secrets.size > 10_000) this.#secrets.clear();
      this.#secrets.set(cacheKey, secret);
    }
    return secret;
  }
}

/**
 * An owner's share of the in-flight slots unless configured: a quarter, or one endpoint's allowance
 * if that is more (a lone busy endpoint keeps its full speed; with the defaults both are 16 of 64).
 * While at most three other owners are at their cap, an owner with a due delivery finds a free slot
 * at once; with four at theirs, it takes the first slot freed (the claim serves the owner with the
 * fewest in flight first), so it waits at most one request deadline.
 */
export function defaultMaxPerOwner(maxInFlight: number, maxPerEndpoint: number): number {
  return Math.max(1, Math.floor(maxInFlight / 4), maxPerEndpoint);
}

function anyAtLeast(counts: ReadonlyMap<string, number>, cap: number): boolean {
  for (const n of counts.values()) if (n >= cap) return true;
  return false;
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 1) - 1;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}

/** Associated data of an endpoint's sealed secrets: a ciphertext moved to another row does not open. */
export function secretAad(endpointId: string): string {
  return `webhook_endpoints:${endpointId}:secret`;
}
