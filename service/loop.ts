/**
 * A background loop: runs `tick` to completion, waits `intervalMs`, runs it again. Ticks never
 * overlap; a failing tick is logged and the next one runs on schedule (every worker's tick is
 * idempotent, so retrying is always safe). `stop()` stops scheduling and waits for a tick in progress.
 * `when`, checked before each tick, skips it while false: the worker leader's term (service/leader)
 * must still be valid for a tick to start.
 */
export interface LoopLog {
  error(obj: object, msg: string): void;
}

export interface Loop {
  stop(): Promise<void>;
}

export function startLoop(name: string, intervalMs: number, tick: () => Promise<void>, log: LoopLog, opts: { when?: () => boolean } = {}): Loop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const run = async () => {
    if (opts.when !== undefined && !opts.when()) return;
    try {
      await tick();
    } catch (err) {
      log.error({ err, loop: name }, `${name} tick failed`);
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = run().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
