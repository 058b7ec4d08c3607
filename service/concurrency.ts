/**
 * The in-process concurrency primitives, in one place: a mutex, a lock per key, and a bounded
 * worker pool. Each is a promise chain (no timers, no polling); waiters run in call order.
 */

/** Mutual exclusion: `run` calls wait for each other, in call order. */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** Mutual exclusion per key: calls with the same key wait for each other; a key's entry is dropped once idle. */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Keys with a holder or a waiter (for tests). */
  get size(): number {
    return this.#tails.size;
  }
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight, taking items in order. `fn` handles
 * its own errors: a throw rejects the whole call (the calls already started still finish).
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
