/**
 * A background loop: runs `tick` to completion, waits `intervalMs`, runs it again. Ticks never
 * overlap; a failing tick is logged and the next one runs on schedule (every worker's tick is
 * idempotent, so retrying is always safe). `stop()` stops scheduling and waits for a tick in progress.
 * `when`, checked before each tick, skips it while false: the worker leader's term (service/leader)
 * must still be valid for a tick to start.
 *
 * `outage` (the chain workers): a chain node that does not answer (connection refused, timeout,
 * ENT_CHAIN_RPC_UNAVAILABLE...) is an outage, not a bug: like the worker lease's database outage, it
 * is logged once when it starts (warn, without a stack) and once when a tick succeeds again (info);
 * the failures in between go to debug. Any other failure is logged at error level with its stack,
 * every time.
 */
export interface LoopLog {
  error(obj: object, msg: string): void;
  warn?(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

export interface Loop {
  stop(): Promise<void>;
}

/** Codes of a node that does not answer (Node's sockets, undici, ethers, and our own wrappers of them). */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "NETWORK_ERROR",
  "TIMEOUT",
  "ENT_CHAIN_RPC_UNAVAILABLE",
  "ENT_CHAIN_NODE_UNREACHABLE",
  "ENT_INDEXER_RPC",
]);

/** Whether `e` (or an error it wraps) says the chain node did not answer: retried quietly. */
export function isNodeUnreachable(e: unknown): boolean {
  const seen = new Set<unknown>();
  let x: unknown = e;
  for (let depth = 0; depth < 8 && typeof x === "object" && x !== null && !seen.has(x); depth++) {
    seen.add(x);
    const o = x as { code?: unknown; cause?: unknown; error?: unknown; message?: unknown };
    if (typeof o.code === "string" && UNREACHABLE_CODES.has(o.code)) return true;
    if (typeof o.message === "string" && /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|fetch failed)\b/.test(o.message)) return true;
    x = o.cause ?? o.error;
  }
  return false;
}

function summary(e: unknown): string {
  const code = typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string" ? `${(e as { code: string }).code}: ` : "";
  const message = e instanceof Error ? e.message : String(e);
  // An RPC URL often embeds an API key: never in a log line.
  return `${code}${message}`.replace(/\b(?:https?|wss?):\/\/\S+/gi, "<url>").slice(0, 300);
}

/** How a loop recognises an outage of what it depends on, and names it in its log lines. */
export interface OutagePolicy {
  is(e: unknown): boolean;
  /** "the chain node": logged as "<loop>: the chain node does not answer; retrying". */
  what: string;
}

/** The chain workers' outage: the node does not answer. */
export const CHAIN_OUTAGE: OutagePolicy = { is: isNodeUnreachable, what: "the chain node" };

export function startLoop(name: string, intervalMs: number, tick: () => Promise<void>, log: LoopLog, opts: { when?: () => boolean; outage?: OutagePolicy } = {}): Loop {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  /** Failed ticks of the current outage (0: none). */
  let outage = 0;
  const run = async () => {
    if (opts.when !== undefined && !opts.when()) return;
    try {
      await tick();
    } catch (err) {
      const policy = opts.outage;
      if (policy?.is(err) === true) {
        outage++;
        if (outage === 1) (log.warn ?? log.error).call(log, { loop: name, reason: summary(err) }, `${name}: ${policy.what} does not answer; retrying`);
        else log.debug?.call(log, { loop: name, failures: outage, reason: summary(err) }, `${name} tick failed: ${policy.what} still does not answer`);
        return;
      }
      log.error({ err, loop: name }, `${name} tick failed`);
      return;
    }
    if (outage > 0) {
      (log.info ?? log.error).call(log, { loop: name, failures: outage }, `${name}: ${opts.outage?.what ?? "the node"} answers again`);
      outage = 0;
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
