/**
 * A store for @fastify/rate-limit backed by the shared `WindowCounters`, so the limit is one
 * budget per key across every instance on the database instead of one per process. Fixed windows
 * aligned on the epoch; `incr` answers the exact count the database produced (see
 * window-counters.ts), so no instance lets a request through past `max` within a window.
 *
 * The plugin constructs the store itself (`new Store(options)`), hence a class made per app.
 */
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from "@fastify/rate-limit";
import type { WindowCounters } from "./window-counters.js";

type Callback = Parameters<FastifyRateLimitStore["incr"]>[1];

export function databaseRateLimitStore(counters: WindowCounters, now: () => number = Date.now): FastifyRateLimitStoreCtor {
  const fail = (cb: Callback) => (e: unknown) => cb(e instanceof Error ? e : new Error(String(e)));
  return class DatabaseRateLimitStore implements FastifyRateLimitStore {
    incr(key: string, cb: Callback, timeWindow: number): void {
      counters.add(`rl:${key}`, timeWindow).then((r) => cb(null, { current: r.count, ttl: Math.max(0, r.resetAtMs - now()) }), fail(cb));
    }

    /** The non-mutating peek the plugin uses for `{ increment: false }`. */
    read(key: string, cb: Callback, timeWindow: number): void {
      counters.read(`rl:${key}`, timeWindow).then((r) => cb(null, { current: r.count, ttl: r.count === 0 ? 0 : Math.max(0, r.resetAtMs - now()) }), fail(cb));
    }

    child(): FastifyRateLimitStore {
      // Per-route settings (timeWindow, max) arrive with each call; the counters are shared.
      return new DatabaseRateLimitStore();
    }
  };
}
