import { describe, expect, it } from "vitest";
import { KeyedLock, Mutex, forEachLimit } from "../service/concurrency.js";

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("Mutex", () => {
  it("runs holders one at a time, in call order, and survives a throwing holder", async () => {
    const m = new Mutex();
    const log: string[] = [];
    let inside = 0;
    const hold = (name: string, fail = false) =>
      m.run(async () => {
        inside++;
        expect(inside).toBe(1);
        log.push(`${name}+`);
        await tick();
        log.push(`${name}-`);
        inside--;
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([hold("a"), hold("b", true), hold("c")]);
    expect(log).toEqual(["a+", "a-", "b+", "b-", "c+", "c-"]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  });
});

describe("KeyedLock", () => {
  it("serialises one key, lets other keys run alongside, and forgets idle keys", async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const hold = (key: string, name: string) =>
      lock.run(key, async () => {
        log.push(`${name}+`);
        await tick();
        await tick();
        log.push(`${name}-`);
      });
    await Promise.all([hold("x", "x1"), hold("y", "y1"), hold("x", "x2")]);
    // x2 waits for x1; y1 starts while x1 holds x.
    expect(log.indexOf("y1+")).toBeLessThan(log.indexOf("x1-"));
    expect(log.indexOf("x2+")).toBeGreaterThan(log.indexOf("x1-"));
    expect(lock.size).toBe(0);
    await expect(lock.run("x", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await lock.run("x", async () => log.push("after"));
    expect(log.at(-1)).toBe("after");
    expect(lock.size).toBe(0);
  });
});

describe("forEachLimit", () => {
  it("visits every item once with at most `limit` in flight", async () => {
    const seen: number[] = [];
    let inFlight = 0;
    let peak = 0;
    await forEachLimit([...Array(25).keys()], 4, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick();
      seen.push(i);
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(25).keys()]);
    expect(peak).toBe(4);
  });

  it("does nothing for no items and rejects when a call throws", async () => {
    await forEachLimit([], 8, () => Promise.reject(new Error("never")));
    await expect(forEachLimit([1, 2, 3], 2, async (i) => { if (i === 2) throw new Error("two"); })).rejects.toThrow("two");
  });
});
