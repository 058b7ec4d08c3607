import { describe, expect, it } from "vitest";
import { GroupCommit } from "../service/group-commit.js";

/** One event-loop turn: a flush scheduled by `submit` has started after it. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A flush whose completion the test controls, recording every batch it was given. */
function controlled<T>() {
  const batches: T[][] = [];
  const releases: Array<() => void> = [];
  const flush = async (items: readonly T[]) => {
    batches.push([...items]);
    await new Promise<void>((resolve) => releases.push(resolve));
    return items.map((i) => `done:${String(i)}`);
  };
  return { batches, flush, release: () => releases.shift()?.() };
}

describe("GroupCommit", () => {
  it("flushes calls made in the same event-loop turn together, and calls made during a flush in the next one", async () => {
    const c = controlled<number>();
    const g = new GroupCommit(c.flush);
    const first = [g.submit(1), g.submit(2), g.submit(3)];
    await turn();
    expect(c.batches).toEqual([[1, 2, 3]]);
    const later = [g.submit(4), g.submit(5)];
    expect(g.pending).toBe(2);
    c.release();
    expect(await Promise.all(first)).toEqual(["done:1", "done:2", "done:3"]);
    await turn();
    expect(c.batches).toEqual([[1, 2, 3], [4, 5]]);
    c.release();
    expect(await Promise.all(later)).toEqual(["done:4", "done:5"]);
  });

  it("never runs two flushes at once and splits at maxBatch", async () => {
    let running = 0;
    let most = 0;
    const sizes: number[] = [];
    const g = new GroupCommit<number, number>(async (items) => {
      running++;
      most = Math.max(most, running);
      sizes.push(items.length);
      await new Promise((r) => setImmediate(r));
      running--;
      return items.map((i) => i * 2);
    }, 4);
    const out = await Promise.all(Array.from({ length: 10 }, (_, i) => g.submit(i)));
    expect(out).toEqual(Array.from({ length: 10 }, (_, i) => i * 2));
    expect(most).toBe(1);
    expect(sizes).toEqual([4, 4, 2]);
  });

  it("overlaps up to maxInFlight flushes, each taking what queued meanwhile", async () => {
    const c = controlled<number>();
    const g = new GroupCommit(c.flush, 1_000, 2);
    const a = g.submit(1);
    await turn();
    const b = [g.submit(2), g.submit(3)];
    await turn();
    const waiting = g.submit(4);
    await turn();
    expect(c.batches).toEqual([[1], [2, 3]]); // two in flight; 4 waits for one of them
    c.release();
    expect(await a).toBe("done:1");
    await turn();
    expect(c.batches).toEqual([[1], [2, 3], [4]]);
    c.release();
    c.release();
    expect(await Promise.all([...b, waiting])).toEqual(["done:2", "done:3", "done:4"]);
  });

  it("fails every call of a flush that throws or answers the wrong count, and keeps serving", async () => {
    let calls = 0;
    const g = new GroupCommit<number, number>(async (items) => {
      calls++;
      if (calls === 1) throw new Error("connection lost");
      if (calls === 2) return [1];
      return items.map(() => 0);
    });
    const failed = [g.submit(1), g.submit(2)];
    await expect(Promise.all(failed)).rejects.toThrow("connection lost");
    await expect(failed[1]).rejects.toThrow("connection lost");
    const short = [g.submit(3), g.submit(4)];
    await expect(short[0]).rejects.toThrow(/answered 1 results for 2 items/);
    await expect(short[1]).rejects.toThrow(/answered 1 results for 2 items/);
    expect(await g.submit(5)).toBe(0);
  });
});
