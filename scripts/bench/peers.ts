/**
 * Comparison points for the ledger figures, measured on the same PostgreSQL in the same run
 * (PostgreSQL only; each in a FRESH database dropped after):
 *  - a pgledger-shaped peer (after github.com/pgr0ss/pgledger; our own SQL, written for the bench):
 *    accounts with balance and version, transfers, entries carrying the account's previous and
 *    current balance, and one plpgsql function per transfer that locks both accounts in id order
 *    (SELECT ... FOR UPDATE), updates the balances and inserts the transfer and its two entries.
 *    Driven like the ledger bench: WRITERS concurrent callers over `pool` connections, random pairs
 *    of 1,000 accounts and of 10 hot accounts;
 *  - the minimal durable-insert limit for a two-leg transfer: ONE statement per 1,000 transfers
 *    (1,000 transfer rows + 2,000 posting rows, arrays passed as parameters), one commit, one
 *    connection, on a bare two-table set (bigint columns, primary keys only);
 *  - the same limit on the project's own journal tables (ledger_transactions, ledger_postings,
 *    with every column, index, check and trigger the migrations create): no ledger logic, just
 *    the rows the ledger writes.
 */
import pg from "pg";
import { openDatabase } from "../../service/db/index.js";
import { freshPostgres } from "../lib/bench-db.js";

const PEER_SCHEMA = `
CREATE TABLE peer_accounts (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  currency text NOT NULL,
  balance numeric NOT NULL DEFAULT 0,
  version bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE peer_transfers (
  id bigserial PRIMARY KEY,
  from_account_id bigint NOT NULL REFERENCES peer_accounts(id),
  to_account_id bigint NOT NULL REFERENCES peer_accounts(id),
  amount numeric NOT NULL CHECK (amount > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE peer_entries (
  id bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES peer_accounts(id),
  transfer_id bigint NOT NULL REFERENCES peer_transfers(id),
  amount numeric NOT NULL,
  account_previous_balance numeric NOT NULL,
  account_current_balance numeric NOT NULL,
  account_version bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX peer_entries_account_idx ON peer_entries(account_id);
CREATE INDEX peer_entries_transfer_idx ON peer_entries(transfer_id);
CREATE FUNCTION peer_create_transfer(p_from bigint, p_to bigint, p_amount numeric) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  t_id bigint; from_prev numeric; from_ver bigint; to_prev numeric; to_ver bigint;
BEGIN
  IF p_from = p_to THEN RAISE EXCEPTION 'transfer to the same account'; END IF;
  PERFORM 1 FROM peer_accounts WHERE id IN (p_from, p_to) ORDER BY id FOR UPDATE;
  UPDATE peer_accounts SET balance = balance - p_amount, version = version + 1, updated_at = now()
    WHERE id = p_from RETURNING balance + p_amount, version INTO from_prev, from_ver;
  UPDATE peer_accounts SET balance = balance + p_amount, version = version + 1, updated_at = now()
    WHERE id = p_to RETURNING balance - p_amount, version INTO to_prev, to_ver;
  INSERT INTO peer_transfers(from_account_id, to_account_id, amount) VALUES (p_from, p_to, p_amount) RETURNING id INTO t_id;
  INSERT INTO peer_entries(account_id, transfer_id, amount, account_previous_balance, account_current_balance, account_version)
    VALUES (p_from, t_id, -p_amount, from_prev, from_prev - p_amount, from_ver),
           (p_to, t_id, p_amount, to_prev, to_prev + p_amount, to_ver);
  RETURN t_id;
END $$;
`;

function ignoreTermination(e: Error & { code?: string }): void {
  if (e.code !== "57P01") console.error(`[bench peers] connection error: ${e.message}`);
}

async function withFresh<T>(url: string, prefix: string, fn: (freshUrl: string) => Promise<T>): Promise<T> {
  const fresh = await freshPostgres(url, prefix);
  try {
    return await fn(fresh.url);
  } finally {
    await fresh.drop();
  }
}

/** The pgledger-shaped peer: transfers/s over 1,000 accounts and over 10 hot accounts. */
export async function benchPgledgerPeer(url: string, opts: { seconds: number; writers: number; pool: number }): Promise<{ wide: number; hot: number }> {
  return withFresh(url, "entrepot_bench_peer", async (freshUrl) => {
    const pool = new pg.Pool({ connectionString: freshUrl, max: opts.pool });
    // A connection still closing when the database is dropped (WITH FORCE) reports 57P01: expected.
    pool.on("error", ignoreTermination);
    try {
      await pool.query(PEER_SCHEMA);
      const ids = async (prefix: string, n: number): Promise<number[]> => {
        const r = await pool.query<{ id: string }>(
          "INSERT INTO peer_accounts(name, currency) SELECT $1 || g, 'USD' FROM generate_series(1, $2::int) g RETURNING id",
          [prefix, n],
        );
        return r.rows.map((x) => Number(x.id));
      };
      const wide = await ids("wide-", 1000);
      const hot = await ids("hot-", 10);
      let seq = 0;
      const run = async (accounts: number[], seconds: number): Promise<number> => {
        const deadline = performance.now() + seconds * 1000;
        let done = 0;
        const start = performance.now();
        await Promise.all(
          Array.from({ length: opts.writers }, async () => {
            while (performance.now() < deadline) {
              const i = Math.floor(Math.random() * accounts.length);
              let j = Math.floor(Math.random() * (accounts.length - 1));
              if (j >= i) j++;
              await pool.query("SELECT peer_create_transfer($1, $2, $3)", [accounts[i], accounts[j], 1 + (seq++ % 1000)]);
              done++;
            }
          }),
        );
        return done / ((performance.now() - start) / 1000);
      };
      await run(wide.slice(0, 50), Math.min(1, opts.seconds)); // warm-up
      return { wide: await run(wide, opts.seconds), hot: await run(hot, opts.seconds) };
    } finally {
      await pool.end();
    }
  });
}

const LIMIT_BATCH = 1000;

/** Runs `insert(firstId, amounts)` (one statement, autocommit) back to back; transfers/s. */
async function insertLoop(client: pg.Client, seconds: number, insert: (firstId: number, amounts: number[]) => Promise<unknown>): Promise<number> {
  let next = 1;
  const amounts = Array.from({ length: LIMIT_BATCH }, (_, i) => 1 + (i % 997));
  await insert(next, amounts); // warm-up
  next += LIMIT_BATCH;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  let done = 0;
  while (performance.now() < deadline) {
    await insert(next, amounts);
    next += LIMIT_BATCH;
    done += LIMIT_BATCH;
  }
  return done / ((performance.now() - start) / 1000);
}

/** Minimal bare tables: transfer (id, amount) and posting (id, transfer, account, signed amount). */
export async function benchInsertLimitBare(url: string, seconds: number): Promise<number> {
  return withFresh(url, "entrepot_bench_limit", async (freshUrl) => {
    const c = new pg.Client({ connectionString: freshUrl });
    c.on("error", ignoreTermination);
    await c.connect();
    try {
      await c.query(`
        CREATE TABLE min_transfers (id bigint PRIMARY KEY, amount bigint NOT NULL);
        CREATE TABLE min_postings (id bigint PRIMARY KEY, transfer_id bigint NOT NULL, account_id bigint NOT NULL, amount bigint NOT NULL);`);
      const sql = `
        WITH v AS (SELECT $1::bigint + o - 1 AS id, a FROM unnest($2::bigint[]) WITH ORDINALITY AS u(a, o)),
        t AS (INSERT INTO min_transfers (id, amount) SELECT id, a FROM v)
        INSERT INTO min_postings (id, transfer_id, account_id, amount)
        SELECT 2 * id, id, id % 1000, -a FROM v UNION ALL SELECT 2 * id + 1, id, (id + 1) % 1000, a FROM v`;
      return await insertLoop(c, seconds, (first, amounts) => c.query(sql, [first, amounts]));
    } finally {
      await c.end();
    }
  });
}

/** The same one-statement insert into the project's journal tables, schema from its migrations. */
export async function benchInsertLimitOwnSchema(url: string, seconds: number): Promise<number> {
  return withFresh(url, "entrepot_bench_limit_own", async (freshUrl) => {
    const db = await openDatabase({ url: freshUrl, poolSize: 1 }); // applies the migrations
    await db.close();
    const c = new pg.Client({ connectionString: freshUrl });
    c.on("error", ignoreTermination);
    await c.connect();
    try {
      const r = await c.query<{ id: string }>(`
        INSERT INTO ledger_accounts (code, currency, owner_type, owner_id, normal_balance, allow_negative)
        SELECT 'platform:limit-' || g || ':bench', 'USD', 'platform', 'limit-' || g, 'credit', true FROM generate_series(1, 10) g
        RETURNING id`);
      const accounts = r.rows.map((x) => Number(x.id));
      const sql = `
        WITH v AS (SELECT $1::bigint + o - 1 AS id, a::numeric AS a FROM unnest($2::bigint[]) WITH ORDINALITY AS u(a, o)),
        t AS (
          INSERT INTO ledger_transactions (id, kind, status, idempotency_key, request_hash, metadata, effective_at, booked_at, previous_hash, hash)
          SELECT id, 'standard', 'posted', 'limit-' || id, md5(id::text) || md5(a::text), '{}'::jsonb, now(), now(),
                 md5((id - 1)::text) || md5('p'), md5(id::text) || md5('h')
          FROM v)
        INSERT INTO ledger_postings (transaction_id, account_id, currency, direction, phase, amount, booked_at,
                                     balance_after, posted_debits_after, posted_credits_after, pending_debits_after, pending_credits_after)
        SELECT id, ($3::bigint[])[1 + id % 10], 'USD', 'debit', 'posted', a, now(), -a * id, a * id, 0, 0, 0 FROM v
        UNION ALL
        SELECT id, ($3::bigint[])[1 + (id + 1) % 10], 'USD', 'credit', 'posted', a, now(), a * id, 0, a * id, 0, 0 FROM v`;
      return await insertLoop(c, seconds, (first, amounts) => c.query(sql, [first, amounts, accounts]));
    } finally {
      await c.end();
    }
  });
}
