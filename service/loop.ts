/**
 * A background loop: runs `tick` to completion, waits `intervalMs`, runs it again. Ticks never
 * overlap; a failing tick is logged and the next one runs on schedule (every worker's tick is
 * idempotent, so retrying is always safe). `stop()` stops scheduling and waits for a tick in progress.
 */
export interface LoopLog {
  error(obj: object, msg: string): void;
}

export interface Loop {
  stop(): Promise<void>;
}

export function startLoop(name: string, intervalMs: number, tick: () => Promise<void>, log: LoopLog): Loop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const run = async () => {
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
