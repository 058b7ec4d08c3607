/**
 * The worker lease store: the same behaviour suite on the in-memory double (which the elector tests
 * use) and on the SQL store over PGlite and PostgreSQL; then, on PostgreSQL, the fence against a
 * takeover from another connection: a takeover waits for a fenced transaction to end, and a term
 * taken over fails its fence.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgSqlRunner, type SqlRunner } from "../../service/db/sql.js";
import { LeaseStore, type LeaseStorePort } from "../../service/leader/index.js";
import { freshDatabase, postgresReachable, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { MemoryLeaseStore } from "./memory-lease-store.js";

const kinds = await testDatabaseKinds();
const pgUp = await postgresReachable();

interface Subject {
  store: LeaseStorePort;
  /** Ends the current term of `name` now, as if its TTL had run out. */
  expire(name: string): Promise<void>;
  inTx<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const TTL = 60_000;

function behaves(label: string, open: () => Promise<Subject>): void {
  describe(label, () => {
    let s: Subject;
    beforeAll(async () => {
      s = await open();
    }, 120_000);
    afterAll(async () => {
      await s?.close();
    });
    const verify = (name: string, holder: string, token: bigint) => s.inTx((tx) => s.store.verify(tx, name, holder, token));

    it("grants a free lease with token 1 and refuses it to others while it runs, naming the holder", async () => {
      expect(await s.store.acquire("a", "A", TTL)).toEqual({ acquired: true, token: 1n });
      expect(await s.store.acquire("a", "B", TTL)).toEqual({ acquired: false, holder: "A", token: 1n });
      // Not even the holder itself re-acquires a running term (it renews it).
      expect((await s.store.acquire("a", "A", TTL)).acquired).toBe(false);
    });

    it("lets only the current term renew; a takeover after expiry adds one to the token", async () => {
      await s.store.acquire("b", "A", TTL);
      expect(await s.store.renew("b", "A", 1n, TTL)).toBe(true);
      expect(await s.store.renew("b", "B", 1n, TTL)).toBe(false);
      expect(await s.store.renew("b", "A", 2n, TTL)).toBe(false);
      await s.expire("b");
      expect(await s.store.acquire("b", "B", TTL)).toEqual({ acquired: true, token: 2n });
      expect(await s.store.renew("b", "A", 1n, TTL)).toBe(false);
      expect(await s.store.renew("b", "B", 2n, TTL)).toBe(true);
    });

    it("never renews an expired term, even one nobody took: the next term has a new token", async () => {
      await s.store.acquire("c", "A", TTL);
      await s.expire("c");
      expect(await s.store.renew("c", "A", 1n, TTL)).toBe(false);
      expect(await s.store.acquire("c", "A", TTL)).toEqual({ acquired: true, token: 2n });
    });

    it("ends the term on release, so the next acquire takes it at once; a stale release changes nothing", async () => {
      await s.store.acquire("d", "A", TTL);
      await s.store.release("d", "B", 1n);
      expect((await s.store.acquire("d", "B", TTL)).acquired).toBe(false);
      await s.store.release("d", "A", 1n);
      expect(await s.store.acquire("d", "B", TTL)).toEqual({ acquired: true, token: 2n });
      await s.store.release("d", "A", 1n);
      expect(await s.store.renew("d", "B", 2n, TTL)).toBe(true);
    });

    it("verifies the current, unexpired term only", async () => {
      await s.store.acquire("e", "A", TTL);
      expect(await verify("e", "A", 1n)).toBe(true);
      expect(await verify("e", "B", 1n)).toBe(false);
      expect(await verify("e", "A", 2n)).toBe(false);
      expect(await verify("nothing", "A", 1n)).toBe(false);
      await s.expire("e");
      expect(await verify("e", "A", 1n)).toBe(false);
    });
  });
}

behaves("the in-memory lease store (test double)", async () => {
  let t = 0;
  const store = new MemoryLeaseStore(() => t);
  return {
    store,
    expire: async (name) => {
      store.expire(name);
      t += 1;
    },
    inTx: (fn) => fn({} as SqlRunner),
    close: async () => undefined,
  };
});

for (const kind of kinds) {
  behaves(`the SQL lease store on ${kind}`, async () => {
    const db = await freshDatabase(kind);
    return {
      store: new LeaseStore(db.sql),
      expire: async (name) => {
        await db.sql.q(`UPDATE worker_leases SET expires_at = clock_timestamp() - interval '1 millisecond' WHERE name = $1`, name);
      },
      inTx: (fn) => db.sql.transaction((tx) => fn(tx)),
      close: () => db.close(),
    };
  });
}

describe.skipIf(!pgUp)("the fence against a takeover from another connection [PostgreSQL]", () => {
  let db: TestDatabase;
  let other: pg.Pool;
  beforeAll(async () => {
    db = await freshDatabase("postgres");
    other = new pg.Pool({ connectionString: db.url!, max: 2 });
    // The test database is dropped WITH (FORCE) after the pool ends; a connection still closing then
    // gets the server's 57P01, which must not surface as an uncaught error of the run (it did once).
    other.on("connect", (client) => client.on("error", () => undefined));
    other.on("error", () => undefined);
  }, 120_000);
  afterAll(async () => {
    await other?.end();
    await db?.close();
  });

  it("holds a takeover until the fenced transaction ends; the old term then fails its fence", async () => {
    const store = new LeaseStore(db.sql);
    expect(await store.acquire("workers", "A", 60_000)).toEqual({ acquired: true, token: 1n });
    // A short remaining life, on the database's clock.
    await db.sql.q(`UPDATE worker_leases SET expires_at = clock_timestamp() + interval '300 milliseconds' WHERE name = 'workers'`);

    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let verified!: () => void;
    const inside = new Promise<void>((r) => (verified = r));
    const fenced = db.sql.transaction(async (tx) => {
      const ok = await store.verify(tx, "workers", "A", 1n);
      verified();
      await held;
      // The write the fence protects (a nonce allocation) commits inside the term.
      await tx.q(`INSERT INTO chain_nonces (chain_id, address, next_nonce) VALUES (1, '0x0000000000000000000000000000000000000001', 7)`);
      return ok;
    });
    await inside;
    // Wait (on the database's clock, read without locks) until the lease has expired.
    while (!(await other.query<{ over: boolean }>(`SELECT expires_at <= clock_timestamp() AS over FROM worker_leases WHERE name = 'workers'`)).rows[0]!.over) {
      await new Promise((r) => setTimeout(r, 20));
    }
    let takenAt: number | null = null;
    const takeover = new LeaseStore(pgSqlRunner(other))
      .acquire("workers", "B", 60_000)
      .then((r) => {
        takenAt = Date.now();
        return r;
      });
    // The takeover is blocked on the fenced transaction's row lock, not merely slow.
    const unblock = setTimeout(() => release(), 30_000); // a failed expectation must not leave the transaction hanging
    for (;;) {
      const waiting = await other.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      if (Number(waiting.rows[0]!.n) >= 1) break;
      expect(takenAt).toBeNull();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(takenAt).toBeNull();
    const committedAt = Date.now();
    clearTimeout(unblock);
    release();
    expect(await fenced).toBe(true);
    const taken = await takeover;
    expect(taken).toMatchObject({ acquired: true });
    expect(takenAt!).toBeGreaterThanOrEqual(committedAt);
    // Token 2 is a new term; the nonce row committed in term 1 is there for it to see.
    expect(taken.token).toBe(2n);
    expect(await db.sql.q(`SELECT next_nonce FROM chain_nonces`)).toEqual([{ next_nonce: 7n }]);
    expect(await db.sql.transaction((tx) => store.verify(tx, "workers", "A", 1n))).toBe(false);
    expect(await db.sql.transaction((tx) => store.verify(tx, "workers", "B", 2n))).toBe(true);
  });
});
