/**
 * The database-backed state of the HTTP edge, without HTTP: fixed-window counters exact under
 * concurrency (and across two pools, as two instances), replay claims that let exactly one claim
 * of a signature win, expired rows swept, the rate-limit budget claimed in slices (never past max)
 * and the store's callback API. On PGlite and PostgreSQL; the two-pool cases on PostgreSQL only.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openDatabase, type Database } from "../../../service/db/index.js";
import { DatabaseReplayGuard } from "../../../service/http/shared-state/replay-claims.js";
import { RateLimitQuota, sliceOf } from "../../../service/http/shared-state/rate-limit-quota.js";
import { databaseRateLimitStore } from "../../../service/http/shared-state/rate-limit-store.js";
import { WindowCounters, windowStartOf } from "../../../service/http/shared-state/window-counters.js";
import { gate, heldMethod } from "../../support/held.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../../support/db.js";

const kinds = await testDatabaseKinds();
const sig = (n: number) => n.toString(16).padStart(64, "0");

describe.each(kinds)("shared HTTP state on %s", (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase(kind);
  }, 60_000);
  afterAll(async () => db?.close());

  describe("WindowCounters", () => {
    it("gives concurrent increments the distinct counts 1..n, and the window's end", async () => {
      let now = 1_700_000_000_123;
      const c = new WindowCounters(db.sql, { now: () => now });
      const counts = await Promise.all(Array.from({ length: 50 }, () => c.add("t:concurrent", 60_000)));
      expect(counts.map((x) => x.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(new Set(counts.map((x) => x.resetAtMs))).toEqual(new Set([windowStartOf(now, 60_000) + 60_000]));
      expect((await c.read("t:concurrent", 60_000)).count).toBe(50);
      // The next window starts from zero.
      now += 60_000;
      expect((await c.read("t:concurrent", 60_000)).count).toBe(0);
      expect((await c.add("t:concurrent", 60_000)).count).toBe(1);
    });

    it("adds several buckets and weights in one flush", async () => {
      const c = new WindowCounters(db.sql);
      const [a1, b1, a2] = await Promise.all([c.add("t:a", 60_000, 2), c.add("t:b", 60_000), c.add("t:a", 60_000, 3)]);
      expect([a1?.count, b1?.count, a2?.count]).toEqual([2, 1, 5]);
    });

    it("never makes a flush wait for a sweep: the increments are answered while the DELETE is held back", async () => {
      let now = 1_850_000_000_000;
      let sweeps = 0;
      const deletes = gate();
      const open = deletes.hold();
      // The database as the counters see it, with the sweep's DELETE held back until released.
      const sql = heldMethod(db.sql, "q", (q) => async (text: string, ...params: unknown[]) => {
        if (text.includes("DELETE FROM")) {
          sweeps++;
          await deletes.wait();
        }
        return q(text, ...params);
      });
      const c = new WindowCounters(sql, { now: () => now, sweepEveryMs: 1_000 });
      expect((await c.add("t:held", 1_000)).count).toBe(1);
      now += 5_000;
      expect((await c.add("t:held", 1_000)).count).toBe(1);
      expect((await c.add("t:held", 1_000)).count).toBe(2);
      expect(sweeps).toBe(1); // the first sweep is still held back: no second one starts
      open();
      now += 5_000;
      await vi.waitFor(async () => {
        await c.add("t:after", 1_000);
        expect(sweeps).toBe(2);
      });
    });

    it("sweeps expired windows beside a flush", async () => {
      // After the instants of the test above: a sweep it started may still be running when this one
      // starts, and would delete this test's windows if they were older than its clock.
      let now = 1_860_000_000_000;
      const c = new WindowCounters(db.sql, { now: () => now, sweepEveryMs: 1_000 });
      await c.add("t:old", 1_000);
      const rows = async () => Number((await db.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM http_counters WHERE bucket = 't:old'`))[0]?.n);
      expect(await rows()).toBe(1);
      now += 5_000;
      // A sweep starts beside a flush only when none is running: on a slow machine the first one
      // may still be, so each try flushes again.
      await vi.waitFor(async () => {
        await c.add("t:fresh", 1_000);
        expect(await rows()).toBe(0);
      });
    });

  });

  describe("DatabaseReplayGuard", () => {
    it("lets the first claim of a signature win, also inside one flush, per key id", async () => {
      const g = new DatabaseReplayGuard(db.sql, 300_000);
      const now = Date.now();
      const [a, b, c] = await Promise.all([g.claim("aaaaaaaaaaaa", sig(1), now), g.claim("aaaaaaaaaaaa", sig(1), now), g.claim("bbbbbbbbbbbb", sig(1), now)]);
      expect([a, b, c]).toEqual([true, false, true]);
      expect(await g.claim("aaaaaaaaaaaa", sig(1), now)).toBe(false);
      expect(await g.claim("aaaaaaaaaaaa", sig(2), now)).toBe(true);
    });

    it("keeps a claim 2x the window, then sweeps it", async () => {
      let now = 1_900_000_000_000;
      const g = new DatabaseReplayGuard(db.sql, 1_000, { now: () => now, sweepEveryMs: 1_000 });
      expect(await g.claim("cccccccccccc", sig(3), now)).toBe(true);
      const left = async () => Number((await db.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM http_replay_claims WHERE key_id = 'cccccccccccc'`))[0]?.n);
      now += 1_500;
      expect(await g.claim("cccccccccccc", sig(4), now)).toBe(true);
      expect(await left()).toBe(2);
      now += 1_000;
      expect(await g.claim("cccccccccccc", sig(5), now)).toBe(true);
      // sig(3) expired (claimed + 2 s) and is swept beside a flush. A sweep starts only when none is
      // running, and on a slow machine the one before may still be: each try flushes another key's claim.
      let nudge = 100;
      await vi.waitFor(async () => {
        await g.claim("dddddddddddd", sig(nudge++), now);
        expect(await left()).toBe(2);
      });
    });
  });

  it("serves @fastify/rate-limit's store API (incr, read, child) from the counters", async () => {
    const Store = databaseRateLimitStore(new WindowCounters(db.sql));
    const store = new Store({});
    const incr = (key: string) => new Promise<{ current: number; ttl: number }>((resolve, reject) => store.incr(key, (e, r) => (e ? reject(e) : resolve(r!)), 60_000, 10));
    const read = (key: string) =>
      new Promise<{ current: number; ttl: number }>((resolve, reject) => (store as unknown as { read: typeof store.incr }).read(key, (e, r) => (e ? reject(e) : resolve(r!)), 60_000, 10));
    expect((await read("key:store")).current).toBe(0);
    expect((await incr("key:store")).current).toBe(1);
    // A route's child store counts in the same shared counters.
    const child = store.child({} as never);
    await new Promise<void>((resolve, reject) => child.incr("key:store", (e) => (e ? reject(e) : resolve()), 60_000, 10));
    const r = await incr("key:store");
    expect(r.current).toBe(3);
    expect(r.ttl).toBeGreaterThan(0);
    expect(r.ttl).toBeLessThanOrEqual(60_000);
    expect((await read("key:store")).current).toBe(3);
  });
});

describe.runIf(kinds.includes("postgres"))("shared HTTP state across two pools (two instances) on postgres", () => {
  let db: TestDatabase;
  let second: Database;
  beforeAll(async () => {
    db = await freshDatabase("postgres");
    second = await openDatabase({ url: db.url! });
  }, 60_000);
  afterAll(async () => {
    await second?.close();
    await db?.close();
  });

    it("stays exact across two pools (two instances) incrementing the same buckets at once", async () => {
      const a = new WindowCounters(db.sql);
      const b = new WindowCounters(second.sql);
      const buckets = ["t:x", "t:y", "t:z"];
      const all = await Promise.all(Array.from({ length: 120 }, (_, i) => (i % 2 ? a : b).add(buckets[i % 3] as string, 600_000)));
      for (let k = 0; k < 3; k++) {
        const mine = all.filter((_, i) => i % 3 === k).map((x) => x.count).sort((p, q) => p - q);
        expect(mine).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      }
    });

    it("lets exactly one of two instances claim a signature raced from both", async () => {
      const a = new DatabaseReplayGuard(db.sql, 300_000);
      const b = new DatabaseReplayGuard(second.sql, 300_000);
      const now = Date.now();
      for (let round = 0; round < 20; round++) {
        const s = sig(1_000 + round);
        const wins = await Promise.all([a.claim("dddddddddddd", s, now), b.claim("dddddddddddd", s, now), a.claim("dddddddddddd", s, now), b.claim("dddddddddddd", s, now)]);
        expect(wins.filter(Boolean)).toHaveLength(1);
      }
    });
});

describe.each(kinds)("rate-limit budget slices on %s", (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase(kind);
  }, 60_000);
  afterAll(async () => db?.close());

  it("sizes a slice at max/100, between 1 and 64", () => {
    expect([1, 10, 100, 199, 200, 6_000, 10_000_000].map(sliceOf)).toEqual([1, 1, 1, 1, 2, 60, 64]);
  });

  it("counts a small limit request by request: exactly max positions, then refusals", async () => {
    const q = new RateLimitQuota(new WindowCounters(db.sql));
    const answers = await Promise.all(Array.from({ length: 15 }, () => q.take("rl:small", 60_000, 10)));
    const positions = answers.map((a) => a.current).sort((a, b) => a - b);
    expect(positions.filter((p) => p <= 10)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(positions.filter((p) => p > 10)).toHaveLength(5);
  });

  it("claims one slice for a burst, spends it locally, and starts again in the next window", async () => {
    let now = 2_000_000_000_000;
    const counters = new WindowCounters(db.sql, { now: () => now });
    const q = new RateLimitQuota(counters, () => now);
    const answers = await Promise.all(Array.from({ length: 25 }, () => q.take("rl:burst", 60_000, 1_000)));
    expect(answers.map((a) => a.current).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect((await counters.read("rl:burst", 60_000)).count).toBe(30); // three slices of 10 claimed
    now += 60_000;
    expect((await q.take("rl:burst", 60_000, 1_000)).current).toBe(1);
    expect((await counters.read("rl:burst", 60_000)).count).toBe(10);
  });

  it("never admits more than max across instances, and refuses early at most (instances - 1) x (slice - 1)", async () => {
    const counters = new WindowCounters(db.sql);
    const instances = [new RateLimitQuota(counters), new RateLimitQuota(counters), new RateLimitQuota(counters)];
    const max = 500; // slices of 5
    const answers = await Promise.all(Array.from({ length: 700 }, (_, i) => (instances[i % 3] as RateLimitQuota).take("rl:shared", 60_000, max)));
    const admitted = answers.filter((a) => a.current <= max);
    expect(admitted.length).toBeLessThanOrEqual(max);
    expect(admitted.length).toBeGreaterThanOrEqual(max - 2 * (sliceOf(max) - 1));
    expect(new Set(admitted.map((a) => a.current)).size).toBe(admitted.length);
  });
});
