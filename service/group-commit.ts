/**
 * Group commit for small, hot statements: calls made while a flush is in flight wait and go
 * together in the next flush, so N concurrent callers cost one database round trip per flush
 * instead of N. A flush starts at the end of the event-loop turn in which its first call was made
 * (`setImmediate`, after the turn's I/O callbacks), so requests that arrived together are flushed
 * together even when the database answers synchronously (PGlite runs in this thread: with a
 * microtask, each of its flushes finished before the next request was read, one statement each).
 *
 * At most `maxInFlight` flushes at a time (one by default; more overlap round trips on a pool,
 * for flushes whose statements do not depend on each other's order), at most `maxBatch` items
 * each. `flush` answers one result per item, in order; if it throws, every call of that flush
 * fails with the same error (each flush is one statement, so nothing is half-applied) and the
 * next flush runs normally.
 */
export type Flush<In, Out> = (items: readonly In[]) => Promise<readonly Out[]>;

interface Waiting<In, Out> {
  item: In;
  resolve(out: Out): void;
  reject(e: unknown): void;
}

export class GroupCommit<In, Out> {
  private queue: Array<Waiting<In, Out>> = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly flush: Flush<In, Out>,
    private readonly maxBatch = 1_000,
    private readonly maxInFlight = 1,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error("maxBatch must be a positive integer");
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new Error("maxInFlight must be a positive integer");
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.running < this.maxInFlight && !this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          if (this.running < this.maxInFlight && this.queue.length > 0) void this.drain();
        });
      }
    });
  }

  /** Calls waiting for a flush (for tests and metrics). */
  get pending(): number {
    return this.queue.length;
  }

  private async drain(): Promise<void> {
    this.running++;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        let results: readonly Out[];
        try {
          results = await this.flush(batch.map((w) => w.item));
          if (results.length !== batch.length) throw new Error(`group commit: flush answered ${results.length} results for ${batch.length} items`);
        } catch (e) {
          for (const w of batch) w.reject(e);
          continue;
        }
        batch.forEach((w, i) => w.resolve(results[i] as Out));
      }
    } finally {
      this.running--;
    }
  }
}
