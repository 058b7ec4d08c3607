/**
 * One outbound webhook request: POST with a deadline over the whole exchange (connect, send,
 * answer), redirects never followed (a 3xx is a failed attempt), at most 64 KiB of the answer read
 * (and then dropped), and the guarded lookup (address.ts) on every new connection. Connections
 * are kept alive per origin, so a busy endpoint costs no handshake per event.
 */
import http from "node:http";
import https from "node:https";
import { checkConnectHost, guardedLookup } from "./address.js";

export interface PostResult {
  statusCode: number | null;
  /** Why the attempt failed (null on a 2xx). */
  error: string | null;
  durationMs: number;
}

const MAX_ANSWER_BYTES = 64 * 1024;

export interface Poster {
  post(url: string, body: string, headers: Record<string, string>): Promise<PostResult>;
  close(): void;
}

export function createPoster(opts: { timeoutMs: number; allowPrivate: boolean; maxSockets?: number }): Poster {
  const agents = {
    "http:": new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64 }),
    "https:": new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64 }),
  };
  const lookup = guardedLookup(opts.allowPrivate);
  return {
    post(url, body, headers) {
      const started = performance.now();
      const done = (statusCode: number | null, error: string | null): PostResult => ({ statusCode, error, durationMs: Math.round(performance.now() - started) });
      return new Promise<PostResult>((resolve) => {
        let u: URL;
        try {
          u = new URL(url);
        } catch {
          return resolve(done(null, "invalid URL"));
        }
        const refused = checkConnectHost(u.hostname, opts.allowPrivate);
        if (refused !== null) return resolve(done(null, `address refused: ${refused}`));
        const transport = u.protocol === "https:" ? https : http;
        const agent = u.protocol === "https:" ? agents["https:"] : agents["http:"];
        let settled = false;
        const finish = (r: PostResult) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(r);
        };
        const req = transport.request(
          u,
          {
            method: "POST",
            agent,
            lookup,
            headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body).toString(), "user-agent": "Entrepot-Webhooks/1" },
          },
          (res) => {
            const code = res.statusCode ?? 0;
            let read = 0;
            res.on("data", (chunk: Buffer) => {
              read += chunk.length;
              if (read > MAX_ANSWER_BYTES) res.destroy();
            });
            const conclude = () => {
              if (code >= 200 && code < 300) return finish(done(code, null));
              if (code >= 300 && code < 400) return finish(done(code, `redirect not followed${res.headers.location === undefined ? "" : ` (to ${String(res.headers.location).slice(0, 200)})`}`));
              return finish(done(code, `answered ${code}`));
            };
            res.on("end", conclude);
            res.on("close", conclude);
            res.on("error", conclude);
          },
        );
        const timer = setTimeout(() => {
          req.destroy();
          finish(done(null, `timed out after ${opts.timeoutMs} ms`));
        }, opts.timeoutMs);
        req.on("error", (e: NodeJS.ErrnoException) => {
          const reason = e.code === "ENT_WEBHOOK_ADDRESS_REFUSED" ? `address refused: ${e.message}` : `${e.code ?? "error"}: ${e.message}`;
          finish(done(null, reason.slice(0, 500)));
        });
        req.end(body);
      });
    },
    close() {
      agents["http:"].destroy();
      agents["https:"].destroy();
    },
  };
}
