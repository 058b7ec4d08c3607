/**
 * The elector on the in-memory lease store and a hand-driven clock (the same clock stands for the
 * database's): no database, no timers. Several electors share one store, as instances share one
 * database; "dying" is simply never stepping again.
 */
import { describe, expect, it } from "vitest";
import type { SqlRunner } from "../../service/db/sql.js";
import { LeaderElector, type Fence } from "../../service/leader/index.js";
import { MemoryLeaseStore } from "./memory-lease-store.js";

const TTL = 1_000;

function world() {
  const clock = { t: 0 };
  const store = new MemoryLeaseStore(() => clock.t);
  const lines: Array<{ who: string; level: string; m: string }> = [];
  const instance = (who: string) => {
    const state = { running: false, starts: 0, stops: 0, fence: null as Fence | null, stoppedAt: null as number | null };
    const log = (level: string) => (_o: object, m?: string) => lines.push({ who, level, m: m ?? "" });
    const elector = new LeaderElector({
      store,
      lease: "workers",
      holder: who,
      ttlMs: TTL,
      now: () => clock.t,
      log: { info: log("info"), warn: log("warn"), error: log("error") },
      lead: (fence) => {
        state.running = true;
        state.starts++;
        state.fence = fence;
        return async () => {
          state.running = false;
          state.stops++;
          state.stoppedAt = clock.t;
        };
      },
    });
    return { elector, state };
  };
  return { clock, store, lines, instance };
}

describe("the leader elector", () => {
  it("makes exactly one of several instances the leader, logging one line each", async () => {
    const w = world();
    const a = w.instance("A");
    const b = w.instance("B");
    await a.elector.step();
    await b.elector.step();
    expect([a.elector.isLeader(), b.elector.isLeader()]).toEqual([true, false]);
    expect([a.state.running, b.state.running]).toEqual([true, false]);
    expect(a.elector.token()).toBe(1n);
    // Many rounds later: still one leader, and the standby has said so once, not every round.
    for (let i = 0; i < 30; i++) {
      w.clock.t += 300;
      await a.elector.step();
      await b.elector.step();
      expect(a.elector.isLeader() !== b.elector.isLeader()).toBe(true);
    }
    expect(a.state.starts).toBe(1);
    expect(w.lines.map((l) => `${l.who} ${l.level} ${l.m}`)).toEqual([
      "A info worker lease acquired: this instance runs the background workers",
      "B info worker lease held by another instance: standing by",
    ]);
  });

  it("fails over when the leader dies: the standby leads after the lease expires, never before", async () => {
    const w = world();
    const a = w.instance("A");
    const b = w.instance("B");
    await a.elector.step();
    const diedAt = w.clock.t; // A's last renewal (the acquire itself); A never steps again
    for (;;) {
      w.clock.t += b.elector.timings.standbyPollMs;
      await b.elector.step();
      if (b.elector.isLeader()) break;
      expect(w.clock.t).toBeLessThan(diedAt + TTL);
    }
    expect(w.clock.t).toBeGreaterThanOrEqual(diedAt + TTL);
    expect(w.clock.t).toBeLessThanOrEqual(diedAt + TTL + b.elector.timings.standbyPollMs);
    expect(b.elector.token()).toBe(2n);
    // A (paused, not dead) can no longer start work: its term's local deadline has passed.
    expect(a.state.fence!.isValid()).toBe(false);
  });

  it("stops a leader whose renewals fail before any standby can take over, and never runs two at once", async () => {
    const w = world();
    const a = w.instance("A");
    const b = w.instance("B");
    await a.elector.step();
    const lastRenewal = w.clock.t;
    w.store.down = true; // A cannot reach the database; B, elsewhere, can after a while
    let bStartedAt: number | null = null;
    for (let i = 0; i < 40; i++) {
      w.clock.t += 100;
      await a.elector.step();
      w.store.down = false;
      await b.elector.step();
      w.store.down = true;
      if (b.state.running && bStartedAt === null) bStartedAt = w.clock.t;
      expect(a.state.running && b.state.running).toBe(false);
    }
    expect(a.state.stops).toBe(1);
    expect(a.state.stoppedAt!).toBeLessThan(lastRenewal + TTL);
    expect(bStartedAt!).toBeGreaterThanOrEqual(lastRenewal + TTL);
    const aLines = w.lines.filter((l) => l.who === "A").map((l) => l.m);
    expect(aLines).toEqual([
      "worker lease acquired: this instance runs the background workers",
      "worker lease: the database did not answer; retrying",
      "worker lease lost: stopping the background workers",
    ]);
  });

  it("steps down at once when the database refuses a renewal (another instance holds the lease)", async () => {
    const w = world();
    const a = w.instance("A");
    await a.elector.step();
    w.store.expire("workers");
    await w.store.acquire("workers", "C", TTL);
    w.clock.t += 300;
    await a.elector.step();
    expect(a.state.running).toBe(false);
    expect(a.elector.isLeader()).toBe(false);
    expect(w.lines.at(-1)).toMatchObject({ who: "A", level: "warn", m: "worker lease lost: stopping the background workers" });
    // Back to standby: it reports the holder once, and leads again only once that lease ends.
    await a.elector.step();
    expect(w.lines.at(-1)).toMatchObject({ who: "A", m: "worker lease held by another instance: standing by" });
    w.store.expire("workers");
    await a.elector.step();
    expect(a.state.running).toBe(true);
    expect(a.elector.token()).toBe(3n);
  });

  it("fences a term: verify passes while it is current, and throws ENT_LEADER_LEASE_LOST once it is not", async () => {
    const w = world();
    const a = w.instance("A");
    await a.elector.step();
    const fence = a.state.fence!;
    const tx = {} as SqlRunner;
    await expect(fence.verify(tx)).resolves.toBeUndefined();
    // Taken over behind A's back (A paused through its deadline): the database says no.
    w.store.expire("workers");
    await w.store.acquire("workers", "B", TTL);
    await expect(fence.verify(tx)).rejects.toMatchObject({ code: "ENT_LEADER_LEASE_LOST", status: 503 });
    // Past the local deadline the fence refuses without asking the database.
    const b = w.instance("B2");
    w.clock.t += 5_000;
    await b.elector.step();
    const bFence = b.state.fence!;
    w.clock.t += TTL;
    w.store.down = true;
    await expect(bFence.verify(tx)).rejects.toMatchObject({ code: "ENT_LEADER_LEASE_LOST" });
  });

  it("on stop, stops the workers first and then releases the lease, so a standby takes over at once", async () => {
    const w = world();
    const a = w.instance("A");
    const b = w.instance("B");
    await a.elector.step();
    await b.elector.step();
    await a.elector.stop();
    expect(a.state.running).toBe(false);
    expect(w.lines.at(-1)).toMatchObject({ who: "A", m: "worker lease released: background workers stopped" });
    await b.elector.step();
    expect(b.state.running).toBe(true);
    expect(await a.elector.step()).toBe(Infinity);
    // A standby that stops releases nothing.
    await w.instance("C").elector.stop();
    expect(b.elector.isLeader()).toBe(true);
  });

  it("logs a database outage once while standing by, and its end once", async () => {
    const w = world();
    const a = w.instance("A");
    const b = w.instance("B");
    await a.elector.step();
    w.store.down = true;
    for (let i = 0; i < 10; i++) await b.elector.step();
    w.store.down = false;
    await b.elector.step();
    expect(w.lines.filter((l) => l.who === "B").map((l) => l.m)).toEqual([
      "worker lease: the database did not answer; retrying",
      "worker lease: the database answers again",
      "worker lease held by another instance: standing by",
    ]);
  });
});
