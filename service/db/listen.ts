/**
 * PostgreSQL notifications on a connection of their own (`LISTEN`), for caches that several
 * instances keep of one row set: a change committed through any instance (or by hand in psql, when
 * a trigger sends the notification) reaches every listening instance at its commit.
 *
 * A notification sent while the connection is down is lost. So every (re)connection, once its
 * LISTEN is in place, calls `onGap`: the cache forgets everything it holds, and what it reads from
 * then on is at least as new as the notifications it will hear. A dropped connection is reopened
 * with backoff (0.5 s doubling to 30 s); meanwhile the cache keeps its own expiry as the bound.
 * PGlite needs none of this: it is one process, and changes through it forget their entries at once.
 */
import pg from "pg";
import { failureCodes } from "./errors.js";

export interface ListenHandlers {
  /** A notification's payload (e.g. the changed row's id). */
  onNotify(payload: string): void;
  /** Notifications may have been missed (first connection, reconnection): forget everything. */
  onGap(): void;
  log?: { warn(o: object, m?: string): void; info(o: object, m?: string): void };
}

export interface Listener {
  /** True while the LISTEN connection is up. */
  readonly listening: boolean;
  close(): Promise<void>;
}

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

export function listenPostgres(url: string, channel: string, handlers: ListenHandlers): Listener {
  if (!CHANNEL.test(channel)) throw new Error(`listen: ${JSON.stringify(channel)} is not a plain channel name`);
  let client: pg.Client | null = null;
  let listening = false;
  let closed = false;
  let delayMs = 500;
  let timer: NodeJS.Timeout | null = null;
  let reported = false;

  const lost = (err: unknown) => {
    if (closed) return;
    const was = client;
    client = null;
    listening = false;
    was?.removeAllListeners();
    was?.on("error", () => undefined);
    void was?.end().catch(() => undefined);
    if (!reported) {
      reported = true;
      handlers.log?.warn({ channel, ...(err === null ? { code: "ENT_DB_UNAVAILABLE", transient: true } : failureCodes(err)) }, `notifications on ${channel} interrupted; cached entries expire on their own until they resume`);
    }
    timer = setTimeout(connect, delayMs);
    timer.unref();
    delayMs = Math.min(delayMs * 2, 30_000);
  };

  const connect = () => {
    timer = null;
    if (closed) return;
    const c = new pg.Client({ connectionString: url, application_name: `entrepot-listen-${channel}` });
    client = c;
    c.on("notification", (m) => {
      if (m.channel === channel) handlers.onNotify(m.payload ?? "");
    });
    c.on("error", lost);
    c.on("end", () => lost(null));
    c.connect()
      .then(() => c.query(`LISTEN "${channel}"`))
      .then(() => {
        if (closed || client !== c) return;
        listening = true;
        delayMs = 500;
        if (reported) handlers.log?.info({ channel }, `notifications on ${channel} resumed`);
        reported = false;
        handlers.onGap();
      })
      .catch((e: unknown) => {
        if (client === c) lost(e);
      });
  };

  connect();
  return {
    get listening() {
      return listening;
    },
    async close() {
      closed = true;
      listening = false;
      if (timer !== null) clearTimeout(timer);
      const c = client;
      client = null;
      c?.removeAllListeners();
      c?.on("error", () => undefined);
      await c?.end().catch(() => undefined);
    },
  };
}
