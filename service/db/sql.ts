/**
 * A minimal SQL runner over the same driver Prisma uses (the pg Pool or the PGlite instance), for
 * hot paths. Measured here: a raw statement inside a Prisma interactive transaction costs ~2 ms of
 * client overhead, the driver ~0.2 ms; the ledger's group-commit flush is one function call (plus
 * BEGIN/reads/COMMIT on its locking path), so the driver path is what makes thousands of transfers
 * per second possible.
 *
 * Normalised results on both drivers: int8 -> bigint, numeric -> string (never a lossy JS number),
 * timestamptz -> Date, json and jsonb (json_agg too) -> parsed values, so callers never parse JSON
 * (test/db/sql.test.ts). bigint parameters (also inside arrays) are sent as text; an array of
 * integers as one array literal.
 */
import { createHash } from "node:crypto";
import type { PGlite, Transaction as PGliteTransaction } from "@electric-sql/pglite";
import pg from "pg";

export interface SqlRunner {
  /** `T` is the whole result: an array of row objects. */
  q<T extends unknown[] = Array<Record<string, unknown>>>(sql: string, ...params: unknown[]): Promise<T>;
  /**
   * Runs `fn` in one database transaction (READ COMMITTED); rolls back if it throws. `first`, one
   * statement, is sent together with BEGIN (one round trip) and its rows passed on.
   */
  transaction<R>(fn: (tx: TxRunner, firstRows: Array<Record<string, unknown>>) => Promise<R>, first?: string | Statement): Promise<R>;
}

/** The runner of one transaction. */
export interface TxRunner extends SqlRunner {
  /**
   * Runs `s`, then commits: on PostgreSQL one message, so the commit costs no round trip of its
   * own. Nothing may run on the runner after it; the transaction's function returns its answer.
   */
  commitWith<T extends unknown[] = Array<Record<string, unknown>>>(s: Statement): Promise<T>;
}

/**
 * A statement with parameters `$1`..`$n`. As the `first` of a transaction, or with `commitWith`, on
 * PostgreSQL it goes in BEGIN's or COMMIT's message, a simple-protocol query, which carries no
 * parameters: each is inlined there as an escaped string constant (`literal`), so its text must
 * hold no other `$`.
 */
export interface Statement {
  text: string;
  values: readonly unknown[];
}

/**
 * `s` with each parameter as an escaped literal or NULL: a string, number or boolean as its text, a
 * bigint as its digits, an instant as its ISO text (UTC), an array of these (or nulls) as its array
 * literal. Anything else is refused.
 */
function inlined(s: Statement): string {
  return s.text.replace(/\$(\d+)/g, (_, n: string) => {
    // As the extended protocol would refuse a statement given fewer values than it names.
    if (Number(n) > s.values.length) throw new Error(`parameter $${n} has no value (${s.values.length} given)`);
    const v = inlineParam(s.values[Number(n) - 1] ?? null);
    if (v === undefined) throw new Error(`parameter $${n} cannot be inlined`);
    return v === null ? "NULL" : literal(v);
  });
}

/**
 * `s` as a string constant, as libpq's PQescapeLiteral writes it: quotes doubled, and where there
 * is a backslash, an E'' constant with backslashes doubled (right whatever standard_conforming_strings
 * says). The driver's escapeLiteral does the same a character at a time: 10-100 ms for a flush's
 * 760 KB of parameters, where two replaces take about 1 ms.
 */
function literal(s: string): string {
  const quoted = s.indexOf("'") < 0 ? s : s.replace(/'/g, "''");
  return s.indexOf("\\") < 0 ? `'${quoted}'` : ` E'${quoted.replace(/\\/g, "\\\\")}'`;
}

function inlineParam(v: unknown): string | null | undefined {
  if (v === null) return null;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) {
    const text = arrayLiteral(v);
    if (text !== null) return text;
    if (!v.every((x) => x === null || x instanceof Date)) return undefined;
    return `{${v.map((x: Date | null) => (x === null ? "NULL" : `"${x.toISOString()}"`)).join(",")}}`;
  }
  const p = param(v);
  return typeof p === "string" || typeof p === "number" || typeof p === "boolean" ? String(p) : undefined;
}

const INT8 = 20;
const NUMERIC = 1700;

function param(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return arrayLiteral(v) ?? v.map(param);
  return v;
}

/**
 * An array of integers (bigints, safe integers) or of strings, with nulls, as PostgreSQL's array
 * literal ("{1,-2,NULL}", "{\"a\",NULL}"), built in one pass. The driver quotes and escapes element
 * by element with two regex replaces each; for the text arrays of a 250-event settlement flush that
 * took 1.3-1.5 ms, this 0.7 ms (an escape only where a quote or backslash is present). Every string
 * is quoted, so an empty one, "NULL", braces, commas and spaces read back as sent. Null for any
 * other array (dates, nested arrays, mixed kinds): the driver encodes those.
 */
function arrayLiteral(v: readonly unknown[]): string | null {
  let kind: "integer" | "text" | null = null;
  let out = "{";
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (i > 0) out += ",";
    if (x === null) {
      out += "NULL";
    } else if (typeof x === "string" && kind !== "integer") {
      kind = "text";
      out += quoted(x);
    } else if ((typeof x === "bigint" || (typeof x === "number" && Number.isSafeInteger(x))) && kind !== "text") {
      kind = "integer";
      out += x.toString();
    } else {
      return null;
    }
  }
  return `${out}}`;
}

function quoted(s: string): string {
  if (s.indexOf('"') < 0 && s.indexOf("\\") < 0) return `"${s}"`;
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

const pgTypes = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8) return (s: string) => BigInt(s);
    if (oid === NUMERIC) return (s: string) => s;
    return pg.types.getTypeParser(oid, format as "text") as (s: string) => unknown;
  }) as typeof pg.types.getTypeParser,
};

// Named statements are parsed once per connection; the ledger's write call is large (37 array
// parameters) and re-parsing it on every flush was measurable.
const names = new Map<string, string>();
function statementName(sql: string): string {
  let n = names.get(sql);
  if (!n) {
    n = `ent_${createHash("sha1").update(sql).digest("hex").slice(0, 16)}`;
    if (names.size < 1000) names.set(sql, n);
  }
  return n;
}

function pgRunner(client: pg.Pool | pg.PoolClient, pool: pg.Pool | null): SqlRunner {
  return {
    q: async <T extends unknown[]>(sql: string, ...params: unknown[]) =>
      (await client.query({ name: statementName(sql), text: sql, values: params.map(param), types: pgTypes })).rows as T,
    transaction: async <R>(fn: (tx: TxRunner, firstRows: Array<Record<string, unknown>>) => Promise<R>, first?: string | Statement): Promise<R> => {
      if (!pool) throw new Error("nested transactions are not supported");
      return withClient(pool, async (c) => {
        try {
          let rows: Array<Record<string, unknown>> = [];
          if (first) {
            // Simple query protocol: both statements in one message, one result per statement.
            const text = typeof first === "string" ? first : inlined(first);
            const res = (await c.query({ text: `BEGIN; ${text}`, types: pgTypes })) as unknown as pg.QueryResult[];
            rows = res[1]!.rows as Array<Record<string, unknown>>;
          } else {
            await c.query("BEGIN");
          }
          let committed = false;
          const tx: TxRunner = {
            ...pgRunner(c, null),
            commitWith: async <T extends unknown[]>(s: Statement) => {
              committed = true;
              const res = (await c.query({ text: `${inlined(s)}; COMMIT`, types: pgTypes })) as unknown as pg.QueryResult[];
              return res[0]!.rows as T;
            },
          };
          const r = await fn(tx, rows);
          if (!committed) await c.query("COMMIT");
          return r;
        } catch (e) {
          // Rolled back, the connection is as good as new; if even that fails, it is closed.
          await c.query("ROLLBACK").catch((fault: unknown) => {
            throw new ConnectionFault(e, fault);
          });
          throw e;
        }
      });
    },
  };
}

export function pgSqlRunner(pool: pg.Pool): SqlRunner {
  return pgRunner(pool, pool);
}

/** The permanent "error" listener of a pooled connection (createPool). */
function ignoreConnectionError(): void {}

/** The server answered a statement with an error: the connection is at ReadyForQuery again, fit for the next one. */
function isServerAnswer(e: unknown): boolean {
  return e instanceof pg.DatabaseError && e.severity !== "FATAL" && e.severity !== "PANIC";
}

/** Carries `error` out of withClient's `fn` when the connection is no longer fit for use (`fault`): withClient closes it and throws `error`. */
class ConnectionFault extends Error {
  constructor(
    readonly error: unknown,
    readonly fault: unknown,
  ) {
    super("connection fault", { cause: fault });
  }
}

/**
 * One pooled connection for `fn`. Back to the pool when `fn` ends, whether it resolved or threw;
 * closed after a connection fault: the client's "error" event, or a ConnectionFault thrown by `fn`
 * (a transaction whose ROLLBACK failed). While checked out the client's "error" event is listened
 * to, so a connection lost under `fn` rejects its statement instead of crashing the process.
 */
export async function withClient<R>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<R>): Promise<R> {
  const c = await pool.connect();
  let fault: Error | undefined;
  const onError = (e: Error) => {
    fault ??= e;
  };
  c.on("error", onError);
  try {
    return await fn(c);
  } catch (e) {
    if (e instanceof ConnectionFault) {
      fault ??= e.fault instanceof Error ? e.fault : new Error(String(e.fault));
      throw e.error;
    }
    throw e;
  } finally {
    c.removeListener("error", onError);
    c.release(fault);
  }
}

type QueryWithCallback = (
  textOrConfig: string | pg.QueryConfig,
  values: unknown[] | undefined,
  callback: (e: Error | null, result: pg.QueryResult) => void,
) => void;

/**
 * pg's Pool, with a `query` that keeps its connection when the server answers an error. pg-pool's own
 * `query` releases the client with the error, which closes the connection: every unique violation,
 * refused check or stale ledger flush then cost a new connection (a backend started and logged in:
 * 20-40 ms on the bench machine, with the statements prepared on it lost). Prisma's adapter and the raw
 * runner both go through it. Written with callbacks like pg-pool's `query`: the same statement through
 * promises (connect, query, release) cost 12-14 us more CPU here. A call that passes its own callback
 * goes to pg-pool's `query` unchanged.
 */
export function createPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(config);
  // A connection's "error" event with no listener is thrown and ends the process. pg-pool listens
  // only while a client is idle: from checkout on, the holder must, and between a checkout and the
  // holder's listener (or for a holder that never adds one) a terminated backend's 57P01 took a
  // whole instance down during a failover. Every client keeps this listener for life; the holder's
  // own still sees the fault, and its statements fail with it.
  pool.on("connect", (client) => client.on("error", ignoreConnectionError));
  const poolQuery = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const query = (...args: unknown[]): unknown => {
    if (args.some((a) => typeof a === "function")) return poolQuery(...args);
    const [textOrConfig, values] = args as [string | pg.QueryConfig, unknown[] | undefined];
    return new Promise((resolve, reject) => {
      pool.connect((connectError, client, release) => {
        if (connectError || !client) return reject(connectError ?? new Error("pool.connect gave no client"));
        let settled = false;
        const finish = (e: Error | undefined, result?: pg.QueryResult): void => {
          if (settled) return;
          settled = true;
          client.removeListener("error", onError);
          // Closed after a connection fault; back to the pool after the server's own error answer.
          release(e !== undefined && !isServerAnswer(e) ? e : undefined);
          if (e !== undefined) reject(e);
          else resolve(result);
        };
        const onError = (e: Error): void => finish(e);
        client.once("error", onError);
        try {
          // pg's untyped form: a text or a config, then values (or none), then the callback.
          (client.query as unknown as QueryWithCallback).call(client, textOrConfig, values, (e, result) => finish(e ?? undefined, result));
        } catch (e) {
          finish(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
  };
  pool.query = query as typeof pool.query;
  return pool;
}

const pgliteParsers = { [INT8]: (s: string) => BigInt(s), [NUMERIC]: (s: string) => s };

function pgliteRunner(db: PGlite | PGliteTransaction, root: PGlite | null): SqlRunner {
  return {
    q: async <T extends unknown[]>(sql: string, ...params: unknown[]) =>
      (await db.query(sql, params.map(param), { parsers: pgliteParsers })).rows as T,
    transaction: async <R>(fn: (tx: TxRunner, firstRows: Array<Record<string, unknown>>) => Promise<R>, first?: string | Statement): Promise<R> => {
      if (!root) throw new Error("nested transactions are not supported");
      return root.transaction(async (tx) => {
        const { text, values } = typeof first === "string" ? { text: first, values: [] } : (first ?? { text: "", values: [] });
        const rows = text ? (await tx.query<Record<string, unknown>>(text, values.map(param), { parsers: pgliteParsers })).rows : [];
        const runner = pgliteRunner(tx, null);
        // One connection, nothing to save: the statement runs, and the transaction commits when `fn` returns.
        return fn({ ...runner, commitWith: (s) => runner.q(s.text, ...s.values) }, rows);
      });
    },
  };
}

export function pgliteSqlRunner(db: PGlite): SqlRunner {
  return pgliteRunner(db, db);
}
