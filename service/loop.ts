/**
 * A background loop: runs `tick` to completion, waits `intervalMs`, runs it again. Ticks never
 * overlap; a failing tick is logged and the next one runs on schedule (every worker's tick is
 * idempotent, so retrying is always safe). The first tick runs at once, and a tick that answers
 * `"again"` (its budget spent, work still at hand) is followed at once by the next. `stop()` stops
 * scheduling and waits for a tick in progress. `when`, checked before each tick, skips it while
 * false: the worker leader's term (service/leader) must still be valid for a tick to start.
 *
 * Outages are not bugs: like the worker lease's database outage, each is logged once when it starts
 * (warn, with its stable `code`, without a stack) and once when a tick succeeds again (info); the
 * failures in between go to debug. Two kinds:
 * - `outage` (the chain workers): a chain node that does not answer (connection refused, a call past
 *   CHAIN_RPC_TIMEOUT_MS, ENT_CHAIN_RPC_UNAVAILABLE...): `code` ENT_CHAIN_NODE_UNREACHABLE and the
 *   `endpoint` (scheme://host:port, never the URL: it may hold an API key);
 * - a transient database failure (every loop; db/errors.ts `failureCodes`, as the HTTP layer's 503):
 *   `code` ENT_DB_UNAVAILABLE and the driver's `sqlState`.
 * A third kind is a halt, not an outage: a state only an operator resolves (CHAIN_HALTED: the node's
 * chain is not the one the database's transactions were sent on, ENT_CHAIN_RESET). Retrying is
 * still right (the operator may restore the node), but the line is an error, logged once when the
 * halt starts, not at every tick.
 * A tick cut short because this instance's worker term ended under it (ENT_LEADER_LEASE_LOST, and
 * `when` now false: a graceful stop ends the term before it waits for the ticks) is no failure of
 * the worker: one info line, no stack; the elector reports a lease lost in earnest itself.
 * Any other failure is logged at error level with its stack and `code` (the AppError's, else
 * ENT_INTERNAL, as the HTTP layer answers it; `sqlState` when the database raised it), every time.
 */
import { failureCodes } from "./db/errors.js";

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
  "ENT_CHAIN_RPC_TIMEOUT",
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

/** A halt's own code (the first ENT_ code in the error's chain that the policy recognises, else the policy's), summary and details. */
function haltOf(policy: OutagePolicy, e: unknown): LoopHalt {
  const fields = policy.fields?.(e) ?? {};
  const code = typeof fields["haltCode"] === "string" ? fields["haltCode"] : policy.code;
  const details = findInChain(e, (o) => (o["code"] === code && typeof o["details"] === "object" && o["details"] !== null ? (o["details"] as Record<string, unknown>) : undefined));
  return { code, reason: summary(e), ...(details === undefined ? {} : { details }) };
}

/** The first value `pick` finds in `e` or the errors it wraps. */
function findInChain<T>(e: unknown, pick: (o: Record<string, unknown>) => T | undefined): T | undefined {
  const seen = new Set<unknown>();
  let x: unknown = e;
  for (let depth = 0; depth < 8 && typeof x === "object" && x !== null && !seen.has(x); depth++) {
    seen.add(x);
    const o = x as Record<string, unknown>;
    const found = pick(o);
    if (found !== undefined) return found;
    x = o["cause"] ?? o["error"];
  }
  return undefined;
}

/** How a loop recognises an outage of what it depends on, and names it in its log lines. */
export interface OutagePolicy {
  is(e: unknown): boolean;
  /** "the chain node": logged as "<loop>: the chain node does not answer; retrying". */
  what: string;
  /** "does not answer" (default), "fails transiently". */
  down?: string;
  /** "answers again" (default). */
  up?: string;
  /** The stable code of the outage's warn line. */
  code: string;
  /** Fields naming what failed (an endpoint, a SQLSTATE), never a secret. */
  fields?(e: unknown): Record<string, unknown>;
  /** Level of the line that starts it: warn (default) for an outage, error for a halt an operator must resolve. */
  level?: "warn" | "error";
}

/** The chain workers' outage: the node does not answer. Its line names the endpoint the transport put in the error (rpc-transport.ts). */
export const CHAIN_OUTAGE: OutagePolicy = {
  is: isNodeUnreachable,
  what: "the chain node",
  code: "ENT_CHAIN_NODE_UNREACHABLE",
  fields: (e) => {
    const endpoint = findInChain(e, (o) => {
      const details = o["details"] as { endpoint?: unknown } | undefined;
      return typeof details?.endpoint === "string" ? details.endpoint : undefined;
    });
    return endpoint === undefined ? {} : { endpoint };
  },
};

/**
 * The chain workers' halt: the node's chain is not the one the database's records belong to (a reset
 * node, a reorganisation deeper than the sender's depth). Nothing is sent until an operator acts.
 */
export const CHAIN_HALTED: OutagePolicy = {
  is: (e) => findInChain(e, (o) => (o["code"] === "ENT_CHAIN_RESET" ? true : undefined)) === true,
  what: "the chain",
  down: "is not the one this database's transactions were sent on (ENT_CHAIN_RESET)",
  up: "is the database's again",
  code: "ENT_CHAIN_RESET",
  level: "error",
};

/**
 * Anchoring halted on a disagreement with the chain only an operator resolves (a batch id taken on
 * chain by another root, a final batch missing there, an anchoring transaction that reverted):
 * logged once when it starts, at error, then retried quietly (the operator may fix the cause).
 */
export const ANCHOR_HALTED: OutagePolicy = {
  is: (e) => findInChain(e, (o) => (o["code"] === "ENT_ANCHOR_CHAIN_MISMATCH" || o["code"] === "ENT_ANCHOR_BATCH_REVERTED" ? true : undefined)) === true,
  what: "the anchored batches",
  down: "disagree with the chain: anchoring is halted until an operator resolves it (the reason; README, Known limits)",
  up: "agree with the chain again",
  code: "ENT_ANCHOR_CHAIN_MISMATCH",
  fields: (e) => ({ haltCode: findInChain(e, (o) => (typeof o["code"] === "string" && String(o["code"]).startsWith("ENT_ANCHOR_") ? String(o["code"]) : undefined)) }),
  level: "error",
};

/** The code of the error a fenced write raises once this instance's worker term has ended (leader/fence.ts). */
const LEASE_LOST = "ENT_LEADER_LEASE_LOST";

/** Every loop's: a transient database failure (what the HTTP layer answers 503 ENT_DB_UNAVAILABLE). */
export const DATABASE_OUTAGE: OutagePolicy = {
  is: (e) => failureCodes(e).transient,
  what: "the database",
  down: "fails transiently",
  up: "works again",
  code: "ENT_DB_UNAVAILABLE",
  fields: (e) => {
    const { sqlState } = failureCodes(e);
    return sqlState === undefined ? {} : { sqlState };
  },
};

/**
 * What a tick may answer: `"again"` when it stopped with work still at hand (its time budget spent,
 * not its work): the next tick starts at once, without the pause (`when` is still checked first).
 */
export type TickResult = void | "again";

/** A halt as `onHalt` reports it: the halt's own code (e.g. ENT_ANCHOR_BATCH_REVERTED), a summary without URLs, and its error's details. */
export interface LoopHalt {
  code: string;
  reason: string;
  details?: Record<string, unknown>;
}

/**
 * `tick` gets a signal aborted when the loop is stopped (a graceful close, the end of a leadership
 * term): a tick with a long backlog checks it between units of work and returns, so stopping waits
 * for one unit, not the backlog.
 */
export function startLoop(
  name: string,
  intervalMs: number,
  tick: (stopping: AbortSignal) => Promise<TickResult>,
  log: LoopLog,
  opts: {
    when?: () => boolean;
    outage?: OutagePolicy | readonly OutagePolicy[];
    /**
     * Told when a halt (an error-level policy) starts, and when a tick succeeds with a halt
     * reported or unknown (null): the first success of a loop clears what an earlier term left.
     * A failure to report is retried at the next tick, never fails the loop.
     */
    onHalt?: (halt: LoopHalt | null) => Promise<void>;
  } = {},
): Loop {
  let stopped = false;
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  // The loop's own dependency first: a chain loop's ECONNREFUSED is its node's.
  const own: readonly OutagePolicy[] = opts.outage === undefined ? [] : "is" in opts.outage ? [opts.outage] : opts.outage;
  const policies: OutagePolicy[] = [...own, DATABASE_OUTAGE];
  /** The outage in progress and its failed ticks (null: none). */
  let outage: { policy: OutagePolicy; failures: number } | null = null;
  /** The halt code reported (null: none); undefined until this loop has reported either way (an earlier term may have left one). */
  let reported: string | null | undefined;
  const report = async (halt: LoopHalt | null): Promise<void> => {
    if (opts.onHalt === undefined || reported === (halt?.code ?? null)) return;
    try {
      await opts.onHalt(halt);
      reported = halt?.code ?? null;
    } catch (e) {
      log.debug?.call(log, { loop: name, reason: summary(e) }, `${name}: the halt state was not recorded; retrying at the next tick`);
    }
  };
  /** Runs one tick; true when it asked for the next one at once. */
  const run = async (): Promise<boolean> => {
    if (opts.when !== undefined && !opts.when()) return false;
    let again: boolean;
    try {
      again = (await tick(stopping.signal)) === "again";
    } catch (err) {
      const policy = policies.find((p) => p.is(err));
      if (policy !== undefined) {
        const current = outage?.policy === policy ? outage : { policy, failures: 0 };
        current.failures++;
        outage = current;
        const fields = { loop: name, code: policy.code, ...policy.fields?.(err), reason: summary(err) };
        const down = policy.down ?? "does not answer";
        if (current.failures === 1) {
          const line = `${name}: ${policy.what} ${down}; retrying`;
          if (policy.level === "error" || log.warn === undefined) log.error(fields, line);
          else log.warn(fields, line);
        } else log.debug?.call(log, { ...fields, failures: current.failures }, `${name} tick failed: ${policy.what} still ${down}`);
        if (policy.level === "error") await report(haltOf(policy, err));
        return false;
      }
      const { code, sqlState } = failureCodes(err);
      if (code === LEASE_LOST && opts.when !== undefined && !opts.when()) {
        (log.info ?? log.warn ?? log.error).call(log, { loop: name, code }, `${name}: tick cut short, this instance no longer leads the workers`);
        return false;
      }
      log.error({ err, loop: name, code, ...(sqlState === undefined ? {} : { sqlState }) }, `${name} tick failed`);
      return false;
    }
    if (outage !== null) {
      const { policy, failures } = outage;
      (log.info ?? log.error).call(log, { loop: name, code: policy.code, failures }, `${name}: ${policy.what} ${policy.up ?? "answers again"}`);
      outage = null;
    }
    await report(null);
    return again;
  };
  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = run().then(
        (again) => schedule(again ? 0 : intervalMs),
        () => schedule(intervalMs),
      );
    }, delayMs);
    timer.unref();
  };
  // The first tick at once: a new leader (a start, a failover) does not wait a pause before working.
  schedule(0);
  return {
    async stop() {
      stopped = true;
      stopping.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
