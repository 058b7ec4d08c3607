/**
 * The log of the background workers (sender, indexer, anchoring, payouts, treasury), built with
 * the services, before the HTTP app and its logger exist. Until `server.ts` attaches the app's
 * logger, warnings and errors go to stderr and the rest is dropped.
 */
export interface LogTarget {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
  /** Repeated failures of an outage already reported (loop.ts); dropped when the target has no debug. */
  debug?(o: object, m?: string): void;
}

const stderr: LogTarget = {
  info: () => undefined,
  warn: (o, m) => console.warn(m ?? "", o),
  error: (o, m) => console.error(m ?? "", o),
};

export class WorkerLog implements LogTarget {
  #target: LogTarget = stderr;

  constructor(private readonly bindings: { worker?: string } = {}, private readonly root?: WorkerLog) {}

  attach(target: LogTarget): void {
    (this.root ?? this).#target = target;
  }

  /** A log whose lines name the worker. */
  child(worker: string): WorkerLog {
    return new WorkerLog({ worker }, this.root ?? this);
  }

  private get target(): LogTarget {
    return (this.root ?? this).#target;
  }

  info(o: object, m?: string): void {
    this.target.info({ ...this.bindings, ...o }, m);
  }
  warn(o: object, m?: string): void {
    this.target.warn({ ...this.bindings, ...o }, m);
  }
  error(o: object, m?: string): void {
    this.target.error({ ...this.bindings, ...o }, m);
  }
  debug(o: object, m?: string): void {
    this.target.debug?.({ ...this.bindings, ...o }, m);
  }
}
