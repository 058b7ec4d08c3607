/**
 * In-process mutual exclusion: `run` calls wait for each other, in call order. The planner takes
 * one before its database lease (so one process does not race itself for the lease), the executor
 * one around every pass over the batches and around a cancellation.
 */
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
