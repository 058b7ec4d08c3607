/**
 * Rate-limit budget per key and fixed window, shared by every instance through `WindowCounters`,
 * without a database round trip per request: an instance claims a slice of the window's budget
 * (`chunk` requests: one increment of the shared counter by `chunk`) and spends it locally; when
 * the slice is spent it claims the next one. The counter holds what all instances have CLAIMED,
 * so the budget is never exceeded, whatever the number of instances: a claim that finds the
 * counter near `max` is granted only the remainder, and one that finds it at `max` none (429).
 * The price is the opposite error, bounded: near the end of a budget, requests may be refused
 * while another instance still holds unspent requests of its slice, at most (instances - 1) x
 * (chunk - 1) of them per window. The slice is max/100 (at least 1, at most 64): a limit of 100 or
 * less is counted exactly, request by request; the default 6,000 a minute costs one round trip
 * per 60 requests.
 *
 * Concurrent requests of one key while a claim is in flight wait for it (one claim at a time per
 * key), so a burst claims one slice, not one per request.
 */
import { windowStartOf, type WindowCounters } from "./window-counters.js";

export interface QuotaAnswer {
  /** The request's position in the window's budget (> max: refused). */
  current: number;
  /** Milliseconds until the window ends. */
  ttl: number;
}

interface Slice {
  windowStart: number;
  /** Requests of the claimed slices not yet spent by this instance. */
  left: number;
  /** The budget position the next locally spent request takes. */
  next: number;
  /** The shared counter after this instance's last claim (what all instances had claimed). */
  claimed: number;
  /** A claim of this key in flight; requests arriving meanwhile wait for it. */
  claiming: Promise<void> | null;
}

export function sliceOf(max: number): number {
  return Math.min(64, Math.max(1, Math.floor(max / 100)));
}

export class RateLimitQuota {
  private readonly slices = new Map<string, Slice>();

  constructor(
    private readonly counters: WindowCounters,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  async take(bucket: string, windowMs: number, max: number): Promise<QuotaAnswer> {
    for (;;) {
      const now = this.now();
      const windowStart = windowStartOf(now, windowMs);
      const ttl = windowStart + windowMs - now;
      let s = this.slices.get(bucket);
      if (s === undefined || s.windowStart !== windowStart) {
        s = { windowStart, left: 0, next: 0, claimed: 0, claiming: null };
        this.remember(bucket, s);
      }
      if (s.left > 0) {
        s.left--;
        return { current: s.next++, ttl };
      }
      if (s.claiming !== null) {
        await s.claiming;
        continue;
      }
      if (s.claimed > max) return { current: s.claimed, ttl }; // this window is spent everywhere
      const slice = s;
      let answer: QuotaAnswer | null = null;
      slice.claiming = (async () => {
        const chunk = sliceOf(max);
        const r = await this.counters.add(bucket, windowMs, chunk, now);
        const before = r.count - chunk;
        const granted = Math.max(0, Math.min(chunk, max - before));
        slice.claimed = r.count;
        if (granted === 0) {
          answer = { current: r.count, ttl };
          return;
        }
        // This request takes the first of the granted requests; the rest are spent locally.
        slice.left = granted - 1;
        slice.next = before + 2;
        answer = { current: before + 1, ttl };
      })().finally(() => {
        slice.claiming = null;
      });
      await slice.claiming;
      if (answer !== null) return answer;
    }
  }

  private remember(bucket: string, s: Slice): void {
    if (this.slices.size >= this.maxKeys) this.slices.delete(this.slices.keys().next().value as string);
    this.slices.set(bucket, s);
  }
}
