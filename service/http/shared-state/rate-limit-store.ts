/**
 * A store for @fastify/rate-limit over the budget every instance shares (rate-limit-quota.ts), so
 * the limit is one budget per key across every instance on the database instead of one per
 * process: fixed windows aligned on the epoch, never more than `max` requests in a window.
 *
 * The plugin constructs the store itself (`new Store(options)`), hence a class made per app.
 */
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from "@fastify/rate-limit";
import { RateLimitQuota } from "./rate-limit-quota.js";
import type { WindowCounters } from "./window-counters.js";

type Callback = Parameters<FastifyRateLimitStore["incr"]>[1];

export function databaseRateLimitStore(counters: WindowCounters, now: () => number = Date.now): FastifyRateLimitStoreCtor {
  const fail = (cb: Callback) => (e: unknown) => cb(e instanceof Error ? e : new Error(String(e)));
  const quota = new RateLimitQuota(counters, now);
  return class DatabaseRateLimitStore implements FastifyRateLimitStore {
    incr(key: string, cb: Callback, timeWindow: number, max: number): void {
      quota.take(`rl:${key}`, timeWindow, max).then((r) => cb(null, r), fail(cb));
    }

    /** The non-mutating peek the plugin uses for `{ increment: false }`: what all instances have claimed of the window. */
    read(key: string, cb: Callback, timeWindow: number): void {
      counters.read(`rl:${key}`, timeWindow).then((r) => cb(null, { current: r.count, ttl: r.count === 0 ? 0 : Math.max(0, r.resetAtMs - now()) }), fail(cb));
    }

    child(): FastifyRateLimitStore {
      // Per-route settings (timeWindow, max) arrive with each call; the counters are shared.
      return new DatabaseRateLimitStore();
    }
  };
}
