/**
 * The HTTP transport of every chain JSON-RPC call the service makes, with a deadline.
 *
 * Why not ethers' own (Node `http`): its `FetchRequest.timeout` defaults to 300 s and is a socket
 * idle timeout, and on expiry it rejects without closing the request (its abort signal is handed to
 * `http.request` under a name Node ignores), so a node that accepts TCP and never answers held every
 * worker tick for five minutes and then leaked the socket at each retry. Here the deadline covers the
 * whole exchange (connect, headers, body) and its expiry destroys the request and its socket.
 * ethers stays the authority on everything else: JSON-RPC framing, batching, 429 throttling.
 *
 * Every failure to get an answer becomes an ENT_ error naming the endpoint as scheme://host:port
 * only: a provider URL carries its API key in the path, the query or the credentials.
 * `RpcMonitor` records each exchange's outcome for GET /readyz.
 */
import http from "node:http";
import https from "node:https";
import { gunzipSync } from "node:zlib";
import { FetchRequest, type FetchCancelSignal, type GetUrlResponse } from "ethers";
import { defineError } from "../errors.js";

export const RpcErrors = {
  timeout: defineError("ENT_CHAIN_RPC_TIMEOUT", 503, "The chain's JSON-RPC endpoint did not answer in time"),
} as const;

/** Default CHAIN_RPC_TIMEOUT_MS: above a slow eth_getLogs of a provider, far below ethers' 300 s. */
export const DEFAULT_RPC_TIMEOUT_MS = 30_000;

/** `scheme://host[:port]` of an RPC URL, the most of it a log line or an error may carry. */
export function rpcEndpoint(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "<unparsable url>";
  }
}

export interface ChainRpcStatus {
  /** scheme://host:port of CHAIN_RPC_URL. */
  endpoint: string;
  status: "answering" | "not answering";
  /** When the current state began (the first failure of an outage, or the first answer after one). */
  since: string;
  /** Why it does not answer: ENT_CHAIN_RPC_TIMEOUT, or the socket's code (ECONNREFUSED...). */
  reason?: string;
}

/** The outcome of the latest exchanges with the endpoint. */
export class RpcMonitor {
  #since = Date.now();
  #failing: string | null = null;
  #observedAt = Date.now();

  constructor(readonly endpoint: string) {}

  answered(): void {
    this.#observedAt = Date.now();
    if (this.#failing !== null) this.#since = this.#observedAt;
    this.#failing = null;
  }

  failed(reason: string): void {
    this.#observedAt = Date.now();
    if (this.#failing === null) this.#since = this.#observedAt;
    this.#failing = reason;
  }

  /** Milliseconds since the last exchange ended. */
  age(): number {
    return Date.now() - this.#observedAt;
  }

  status(): ChainRpcStatus {
    const base = { endpoint: this.endpoint, since: new Date(this.#since).toISOString() };
    return this.#failing === null ? { ...base, status: "answering" } : { ...base, status: "not answering", reason: this.#failing };
  }
}

function methodsOf(body: Uint8Array | null): string {
  try {
    const payload = JSON.parse(Buffer.from(body ?? []).toString("utf8")) as unknown;
    const list = (Array.isArray(payload) ? payload : [payload]) as Array<{ method?: unknown }>;
    const names = [...new Set(list.map((p) => (typeof p.method === "string" ? p.method : "?")))];
    return names.slice(0, 5).join(", ") + (names.length > 5 ? ", ..." : "");
  } catch {
    return "?";
  }
}

/** The socket's code under a failed exchange (ECONNREFUSED, ECONNRESET...). */
function causeCode(e: unknown): string {
  let x: unknown = e;
  for (let depth = 0; depth < 5 && typeof x === "object" && x !== null; depth++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === "string") return code;
    x = (x as { cause?: unknown }).cause;
  }
  return "connection failed";
}

/** One HTTP exchange; aborting `signal` destroys the request and its socket (Node's `http` does, undici's fetch left one open). */
function exchange(req: FetchRequest, signal: AbortSignal): Promise<GetUrlResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(req.url);
    const client = target.protocol === "https:" ? https : target.protocol === "http:" ? http : null;
    if (client === null) return reject(new Error(`unsupported protocol ${target.protocol} (JSON-RPC over http(s) only)`));
    const r = client.request(target, { method: req.method, headers: req.headers, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        let body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
        try {
          if (headers["content-encoding"] === "gzip" && body.length > 0) body = gunzipSync(body);
        } catch (e) {
          return reject(e instanceof Error ? e : new Error(String(e)));
        }
        resolve({ statusCode: res.statusCode ?? 0, statusMessage: res.statusMessage ?? "", headers, body: body.length === 0 ? null : new Uint8Array(body) });
      });
    });
    r.on("error", reject);
    r.end(req.body === null ? undefined : Buffer.from(req.body));
  });
}

/**
 * A FetchRequest for `url` whose every exchange ends within `timeoutMs`. Failures are
 * ENT_CHAIN_RPC_TIMEOUT or ENT_CHAIN_NODE_UNREACHABLE (`unreachable`, from runtime.ts), each with
 * `details.endpoint`. An HTTP error status is an answer, judged by ethers (runtime.ts replaces its
 * error, which quotes the URL whole).
 */
export function rpcRequest(
  url: string,
  opts: { timeoutMs: number; monitor: RpcMonitor; unreachable: (detail: string, extra: { details: Record<string, unknown>; cause: unknown }) => Error },
): FetchRequest {
  const endpoint = rpcEndpoint(url);
  const request = new FetchRequest(url);
  request.timeout = opts.timeoutMs;
  request.getUrlFunc = async (req: FetchRequest, signal?: FetchCancelSignal): Promise<GetUrlResponse> => {
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, opts.timeoutMs);
    signal?.addListener(() => abort.abort());
    try {
      const res = await exchange(req, abort.signal);
      opts.monitor.answered();
      return res;
    } catch (e) {
      if (timedOut) {
        opts.monitor.failed(RpcErrors.timeout.code);
        throw RpcErrors.timeout(`no answer from ${endpoint} within ${opts.timeoutMs} ms (${methodsOf(req.body)}); CHAIN_RPC_TIMEOUT_MS sets the limit`, {
          details: { endpoint, timeoutMs: opts.timeoutMs },
        });
      }
      if (signal?.cancelled === true) throw e;
      const code = causeCode(e);
      opts.monitor.failed(code);
      throw opts.unreachable(`${endpoint} does not answer (${code}; ${methodsOf(req.body)})`, { details: { endpoint }, cause: e });
    } finally {
      clearTimeout(timer);
    }
  };
  return request;
}
