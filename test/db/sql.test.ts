/**
 * What service/db/sql.ts promises its callers, on both drivers: int8 -> bigint, numeric -> string,
 * timestamptz -> Date, json and jsonb (json_agg included) -> parsed values, through plain queries,
 * the statement sent with BEGIN, and queries inside a transaction. The ledger's row mapping
 * (service/ledger/store.ts) relies on it and parses no JSON itself.
 */
import pg from "pg";
import { isTransient, sqlState } from "../../service/db/errors.js";
import { createPool } from "../../service/db/sql.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";

const kinds = await testDatabaseKinds();

const PROBE = `SELECT 9007199254740993::int8 AS big, 12345678901234567890.5::numeric AS num, '2026-01-02T03:04:05.678Z'::timestamptz AS at,
  '{"a":"1"}'::jsonb AS jb, '{"b":[2]}'::json AS j, ARRAY['{"c":"3"}'::jsonb] AS jbs,
  (SELECT json_agg(json_build_array(x::text, 'k')) FROM generate_series(1, 2) x) AS agg,
  (SELECT json_agg(x) FROM generate_series(1, 0) x) AS empty_agg`;

const EXPECTED = {
  big: 9007199254740993n,
  num: "12345678901234567890.5",
  at: new Date("2026-01-02T03:04:05.678Z"),
  jb: { a: "1" },
  j: { b: [2] },
  jbs: [{ c: "3" }],
  agg: [
    ["1", "k"],
    ["2", "k"],
  ],
  empty_agg: null,
};

describe.each(kinds)("db.sql on %s", (kind) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase(kind);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it("normalises a plain query's values", async () => {
    expect(await db.sql.q(PROBE)).toEqual([EXPECTED]);
  });

  it("normalises the statement sent with BEGIN and the queries of the transaction alike", async () => {
    const out = await db.sql.transaction(async (tx, first) => ({ first, inside: await tx.q(PROBE) }), PROBE);
    expect(out).toEqual({ first: [EXPECTED], inside: [EXPECTED] });
  });

  it("returns a ledger table's jsonb column parsed", async () => {
    await db.sql.q(
      `INSERT INTO "ledger_accounts" ("code", "currency", "owner_type", "owner_id", "normal_balance", "allow_negative", "metadata")
       VALUES ('probe', 'USD', 'platform', 'p', 'credit', true, '{"k":"v"}')`,
    );
    const [row] = await db.sql.q<Array<{ metadata: unknown }>>(`SELECT "metadata" FROM "ledger_accounts" WHERE "code" = 'probe'`);
    expect(row!.metadata).toEqual({ k: "v" });
  });

  it("sends arrays of integers, bigints beyond 2^53 and nulls exactly, and arrays of text as the driver does", async () => {
    const big = 10n ** 37n - 1n;
    const texts = ['a "quoted" \\ value', "NULL", null, "{}", "", " spaced ", "a,b", "x}y{", "\\\"", "ü€😀", "line\nbreak"];
    const docs = [JSON.stringify({ k: 'v "q" \\ w', n: 1 }), JSON.stringify({})];
    const when = [new Date("2024-12-10T09:00:00.123Z"), null];
    const [row] = await db.sql.q<Array<{ n: string[]; b: string[]; t: string[]; e: string[]; j: unknown[]; d: Date[]; m: string[] }>>(
      `SELECT $1::numeric[]::text[] AS n, $2::bigint[]::text[] AS b, $3::text[] AS t, $4::bigint[]::text[] AS e, $5::jsonb[] AS j,
              $6::timestamptz[] AS d, $7::text[] AS m`,
      [big, -big, 0n, null, 7, -3],
      [9007199254740993n, 1n],
      texts,
      [],
      docs,
      when,
      [null, null],
    );
    expect(row).toEqual({
      n: [big.toString(), (-big).toString(), "0", null, "7", "-3"],
      b: ["9007199254740993", "1"],
      t: texts,
      e: [],
      j: [{ k: 'v "q" \\ w', n: 1 }, {}],
      d: when,
      m: [null, null],
    });
  });

  // On PostgreSQL these go in simple-protocol messages (BEGIN's, COMMIT's) with each parameter
  // inlined as a string constant: every value must read back as the parameter would have sent it.
  it("sends the parameters of the statements sent with BEGIN and with COMMIT exactly", async () => {
    const texts = ["it's", "back\\slash", "both ' and \\", "$1 $2", "'); DROP TABLE \"ledger_accounts\"; --", "E'x'", "ü€😀", "", null];
    const when = [new Date("2024-12-10T09:00:00.123Z"), null];
    const text = `SELECT $1::text[] AS t, $2::text AS one, $3::bigint AS big, $4::timestamptz AS at, $5::timestamptz[] AS d, $6::jsonb AS j, $7::text AS none`;
    const values = [texts, "x'y\\z $2", 9007199254740993n, when[0], when, JSON.stringify({ k: "v 'q' \\ \"w\"" }), null];
    const expected = { t: texts, one: "x'y\\z $2", big: 9007199254740993n, at: when[0], d: when, j: { k: "v 'q' \\ \"w\"" }, none: null };
    const out = await db.sql.transaction(async (tx, first) => ({ first, last: await tx.commitWith({ text, values }) }), { text, values });
    expect(out).toEqual({ first: [expected], last: [expected] });
    // Backslashes read back whatever standard_conforming_strings says (an E'' constant where there is one).
    const off = await db.sql.transaction(async (tx) => {
      await tx.q(`SET LOCAL standard_conforming_strings = off`);
      return tx.commitWith({ text, values });
    });
    expect(off).toEqual([expected]);
    // The injection attempt among the values was read back as text, not run: the table is still there.
    expect((await db.sql.q<Array<{ n: bigint }>>(`SELECT count(*) AS n FROM "ledger_accounts"`))[0]!.n).toBeGreaterThan(0n);
  });

  it("commits with the statement sent with COMMIT, and rolls back the whole transaction when it fails", async () => {
    const insert = (code: string) =>
      `INSERT INTO "ledger_accounts" ("code", "currency", "owner_type", "owner_id", "normal_balance") VALUES ('${code}', 'USD', 'platform', 'p', 'credit')`;
    const count = async (code: string) => (await db.sql.q<Array<{ n: bigint }>>(`SELECT count(*) AS n FROM "ledger_accounts" WHERE "code" = $1`, code))[0]!.n;
    await db.sql.transaction(async (tx) => {
      await tx.q(insert("commit-with-a"));
      await tx.commitWith({ text: `${insert("commit-with-b")} RETURNING "id"`, values: [] });
    });
    expect([await count("commit-with-a"), await count("commit-with-b")]).toEqual([1n, 1n]);
    await expect(
      db.sql.transaction(async (tx) => {
        await tx.q(insert("commit-with-c"));
        await tx.commitWith({ text: `SELECT 1 / $1::int`, values: [0] });
      }),
    ).rejects.toThrow(/division by zero/);
    expect(await count("commit-with-c")).toBe(0n);
    // The connection is fit for the next transaction.
    expect(await db.sql.transaction(async (tx) => tx.commitWith({ text: `SELECT $1::int AS one`, values: [1] }))).toEqual([{ one: 1 }]);
    // A statement naming more parameters than it is given is refused, as the extended protocol refuses it.
    await expect(db.sql.transaction(async (tx) => tx.commitWith({ text: `SELECT $1::int, $2::int`, values: [1] }))).rejects.toThrow(/parameter/);
  });
});

/**
 * The pool's connections (service/db/sql.ts: createPool, withClient), with one connection so every
 * statement shows which backend ran it. An error the server answers leaves the connection as it
 * was (pg-pool's own `query` closed it: a new backend, 20-40 ms, for every unique violation or
 * stale ledger flush); a lost connection fails only what ran on it, and the next statement gets a
 * new one.
 */
describe.runIf(kinds.includes("postgres"))("db pool connections on postgres", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase("postgres", { poolSize: 1 });
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  const backend = async (): Promise<number> => (await db.sql.q<Array<{ pid: number }>>(`SELECT pg_backend_pid() AS pid`))[0]!.pid;
  const prismaBackend = async (): Promise<number> => (await db.prisma.$queryRawUnsafe<Array<{ pid: number }>>(`SELECT pg_backend_pid() AS pid`))[0]!.pid;

  it("keeps the connection when the server answers an error, through the raw runner and through Prisma", async () => {
    const pid = await backend();
    await expect(db.sql.q(`SELECT 1 / 0`)).rejects.toMatchObject({ code: "22012" });
    // What a stale ledger flush raises, from inside a function.
    await expect(db.sql.q(`DO $$ BEGIN RAISE EXCEPTION 'stale' USING ERRCODE = '40001'; END $$`)).rejects.toMatchObject({ code: "40001" });
    await db.sql.q(`INSERT INTO "ledger_accounts" ("code", "currency", "owner_type", "owner_id", "normal_balance") VALUES ('dup', 'USD', 'platform', 'p', 'credit')`);
    await expect(
      db.sql.q(`INSERT INTO "ledger_accounts" ("code", "currency", "owner_type", "owner_id", "normal_balance") VALUES ('dup', 'USD', 'platform', 'p', 'credit')`),
    ).rejects.toMatchObject({ code: "23505" });
    expect(await backend()).toBe(pid);
    await expect(db.prisma.$queryRawUnsafe(`SELECT 1 / 0`)).rejects.toThrow(/division by zero/);
    expect(await prismaBackend()).toBe(pid);
  });

  it("rolls a failed transaction back and keeps its connection", async () => {
    const pid = await backend();
    await expect(
      db.sql.transaction(async (tx) => {
        await tx.q(`INSERT INTO "ledger_accounts" ("code", "currency", "owner_type", "owner_id", "normal_balance") VALUES ('rolled', 'USD', 'platform', 'p', 'credit')`);
        await tx.q(`SELECT 1 / 0`);
      }),
    ).rejects.toMatchObject({ code: "22012" });
    await expect(db.sql.transaction(async () => Promise.reject(new Error("caller's own failure")))).rejects.toThrow("caller's own failure");
    expect(await db.sql.q(`SELECT 1 FROM "ledger_accounts" WHERE "code" = 'rolled'`)).toEqual([]);
    expect(await backend()).toBe(pid);
  });

  it("fails only the transaction whose connection is lost, and the next statement runs on a new connection", async () => {
    const killer = new pg.Client({ connectionString: db.url! });
    await killer.connect();
    try {
      let lost = 0;
      await expect(
        db.sql.transaction(async (tx) => {
          lost = (await tx.q<Array<{ pid: number }>>(`SELECT pg_backend_pid() AS pid`))[0]!.pid;
          await killer.query(`SELECT pg_terminate_backend($1)`, [lost]);
          await tx.q(`SELECT 1`);
        }),
      ).rejects.toThrow();
      const next = await backend();
      expect(next).not.toBe(lost);
      expect(await backend()).toBe(next);

      // The same for a single statement whose connection is lost while it runs.
      // Its outcome is taken at once: the statement may fail before the terminating call returns.
      const running = db.sql.q(`SELECT pg_sleep(5)`).then(
        () => null,
        (e: unknown) => e,
      );
      await expect.poll(async () => (await killer.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep%'`, [next])).rowCount).toBe(1);
      await killer.query(`SELECT pg_terminate_backend($1)`, [next]);
      expect(await running).toBeInstanceOf(Error);
      expect(await backend()).not.toBe(next);
    } finally {
      await killer.end();
    }
  });

  it("survives a checked-out connection's loss when its holder listens for nothing (the process is not ended by the error event)", async () => {
    const pool = createPool({ connectionString: db.url!, max: 1 });
    const killer = new pg.Client({ connectionString: db.url! });
    await killer.connect();
    try {
      // As Prisma's adapter or withClient hold one between pool.connect() and their own listener.
      const held = await pool.connect();
      expect(held.listenerCount("error")).toBeGreaterThan(0);
      const ended = new Promise<void>((resolve) => held.once("end", () => resolve()));
      await killer.query(`SELECT pg_terminate_backend($1)`, [(held as unknown as { processID: number }).processID]);
      await ended;
      held.release(new Error("lost"));
      expect((await pool.query<{ one: number }>(`SELECT 1 AS one`)).rows).toEqual([{ one: 1 }]);
    } finally {
      await killer.end();
      await pool.end();
    }
  });

  it("classifies a lost connection under Prisma as transient (the SQLSTATE inside its wrapper), so the API answers 503, not 500", async () => {
    const killer = new pg.Client({ connectionString: db.url! });
    await killer.connect();
    try {
      // A model query (as the API-key lookup makes) waiting on a row lock when its backend is terminated.
      await db.sql.q(`INSERT INTO "ledger_accounts" ("code", "currency", "owner_type", "owner_id", "normal_balance") VALUES ('locked', 'USD', 'platform', 'p', 'credit')`);
      await killer.query("BEGIN");
      await killer.query(`SELECT 1 FROM "ledger_accounts" WHERE "code" = 'locked' FOR UPDATE`);
      const model = db.prisma.ledgerAccount.updateMany({ where: { code: "locked" }, data: { ownerId: "q" } }).then(() => null, (e: unknown) => e);
      // The one backend waiting in the statement now (by its wait event: its `state` may still read idle),
      // not the killer, not one terminated before (listed until it has exited, a while on a loaded machine).
      const killed: number[] = [];
      const runningOne = async (condition: string): Promise<number> => {
        let pid = 0;
        await expect
          .poll(async () => {
            const rows = (await killer.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND pid <> ALL($1::int[]) AND datname = current_database() AND ${condition}`, [killed])).rows;
            pid = rows.length === 1 ? rows[0]!.pid : 0;
            return rows.length;
          }, { timeout: 15_000 })
          .toBe(1);
        killed.push(pid);
        return pid;
      };
      await killer.query(`SELECT pg_terminate_backend($1)`, [await runningOne(`wait_event_type = 'Lock'`)]);
      await killer.query("ROLLBACK");
      // And a raw statement lost while it runs.
      const raw = db.prisma.$queryRawUnsafe(`SELECT pg_sleep(5)`).then(() => null, (e: unknown) => e);
      await killer.query(`SELECT pg_terminate_backend($1)`, [await runningOne(`wait_event = 'PgSleep'`)]);
      for (const e of [await model, await raw]) {
        expect(e).toBeInstanceOf(Error);
        expect((e as { code?: string }).code).toMatch(/^P/); // Prisma's own code outside...
        expect(sqlState(e)).toBe("57P01"); // ...the server's inside
        expect(isTransient(e)).toBe(true);
      }
    } finally {
      await killer.end();
    }
  });
});
