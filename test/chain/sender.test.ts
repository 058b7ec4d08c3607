/**
 * TxSender on an in-process chain (system deployed by deploySystem) and a real database (PGlite and
 * PostgreSQL). Every test starts from a chain snapshot and empty sender tables (one database per
 * kind, truncated between tests: a fresh PGlite costs seconds here), so nonces start from the chain.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Transaction, Wallet, type Provider } from "ethers";
import { network } from "hardhat";
import { devPrivateKey } from "../../service/chain/keys.js";
import { TxSender, type TxSenderOptions } from "../../service/chain/sender.js";
import { isAppError, type AppError } from "../../service/errors.js";
import { currentFence, LeaderElector, LeaseStore, runFenced, type Fence } from "../../service/leader/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { deployedSystem, type System } from "./fixture.js";
import { anchorCall, minedFrom, storedAttempts } from "./support/sender-harness.js";
import { rpcGate, type RpcGate } from "./support/rpc-gate.js";

const kinds = await testDatabaseKinds();

async function expectCode(p: Promise<unknown>, code: string, status?: number): Promise<AppError> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  expect(isAppError(error), `expected ${code}, got ${String(error)}`).toBe(true);
  if (!isAppError(error)) throw new Error("unreachable");
  expect(error.code).toBe(code);
  if (status !== undefined) expect(error.status).toBe(status);
  return error;
}

class CrashHere extends Error {}

describe("TxSender", { timeout: 120_000 }, () => {
  let sys: System;
  let gate: RpcGate;
  beforeAll(async () => {
    sys = await deployedSystem();
    gate = await rpcGate(sys.connection.provider);
  }, 120_000);
  afterAll(async () => {
    await gate?.close();
    await sys?.close();
  });

  describe.each(kinds)("on %s", (kind) => {
    let db: TestDatabase;
    let snapshot: string;
    let provider: Provider;
    let anchorer: Wallet;
    let payer: Wallet;
    let startBlock: number;
    let logs: Array<{ level: string; o: object; m?: string }>;
    const rpc = <T = unknown>(method: string, params: unknown[] = []) => sys.connection.provider.request({ method, params }) as Promise<T>;
    const make = (opts: Partial<TxSenderOptions> = {}) =>
      new TxSender({
        sql: db.sql,
        provider,
        chainId: sys.chainId,
        signers: [anchorer, payer],
        record: sys.result.record,
        log: { info: (o, m) => logs.push({ level: "info", o, ...(m === undefined ? {} : { m }) }), warn: (o, m) => logs.push({ level: "warn", o, ...(m === undefined ? {} : { m }) }) },
        ...opts,
      });
    const intent = (key: string, batchId: bigint, from = anchorer.address) => ({ key, purpose: "anchor", from, ...anchorCall(sys, batchId) });

    beforeAll(async () => {
      db = await freshDatabase(kind);
    }, 120_000);
    afterAll(async () => {
      await db?.close();
    });
    beforeEach(async () => {
      snapshot = await rpc<string>("evm_snapshot");
      await db.sql.q(`TRUNCATE chain_transactions, chain_nonces, chain_sender_chains`);
      provider = sys.connection.ethers.provider;
      anchorer = new Wallet(devPrivateKey(1, sys.chainId), provider);
      payer = new Wallet(devPrivateKey(2, sys.chainId), provider);
      startBlock = (await provider.getBlockNumber()) + 1;
      logs = [];
      gate.failing.clear();
    });
    afterEach(async () => {
      gate.failing.clear();
      await rpc("evm_setAutomine", [true]);
      await rpc("evm_revert", [snapshot]);
      // No log line may ever carry a sending key, whatever the test did.
      const text = JSON.stringify(logs, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)).toLowerCase();
      for (const i of [1, 2]) expect(text).not.toContain(devPrivateKey(i).slice(2).toLowerCase());
    });

    describe("when a transaction is submitted", () => {
      it("commits it signed, broadcasts it, and tick marks it mined with its block", async () => {
        const s = make();
        const nonce0 = await provider.getTransactionCount(anchorer.address);
        const tx = await s.submit(intent("anchor:1", 1n));
        expect(tx).toMatchObject({ key: "anchor:1", purpose: "anchor", status: "sent", from: anchorer.address, nonce: BigInt(nonce0), blockNumber: null });
        expect(tx.hashes).toEqual([tx.hash]);
        const [attempt] = await storedAttempts(db.sql, "anchor:1");
        expect(Transaction.from(attempt!.raw).hash).toBe(tx.hash);
        expect(attempt!.sentAt).not.toBeNull();

        const changed = await s.tick();
        expect(changed.map((c) => [c.key, c.status])).toEqual([["anchor:1", "mined"]]);
        const receipt = await provider.getTransactionReceipt(tx.hash);
        const mined = await s.get("anchor:1");
        expect(mined).toMatchObject({ status: "mined", hash: tx.hash, blockNumber: BigInt(receipt!.blockNumber), blockHash: receipt!.blockHash });
        expect(await sys.c.anchor.rootOf(1n)).not.toBe("0x" + "0".repeat(64));
        expect(await s.tick()).toEqual([]);
      });

      it("is idempotent by key: a repeated submit returns the record and never sends a second transaction", async () => {
        const s = make();
        const call = intent("anchor:2", 2n);
        const first = await s.submit(call);
        const again = await s.submit(call);
        expect(again.hash).toBe(first.hash);
        expect(again.id).toBe(first.id);
        await s.tick();
        const afterMined = await make().submit(call);
        expect(afterMined).toMatchObject({ status: "mined", hash: first.hash });
        expect(await minedFrom(provider, anchorer.address, startBlock)).toHaveLength(1);
      });

      it("refuses the same key with another calldata, target or sender (ENT_CHAIN_TX_KEY_CONFLICT, 409)", async () => {
        const s = make();
        const call = intent("anchor:3", 3n);
        await s.submit(call);
        const e = await expectCode(s.submit({ ...call, data: anchorCall(sys, 3n).data }), "ENT_CHAIN_TX_KEY_CONFLICT", 409);
        expect(e.fields).toEqual([{ field: "data", message: "differs from the recorded transaction" }]);
        await expectCode(s.submit({ ...call, to: payer.address }), "ENT_CHAIN_TX_KEY_CONFLICT", 409);
        await expectCode(s.submit({ ...call, from: payer.address }), "ENT_CHAIN_TX_KEY_CONFLICT", 409);
        // Case of the hex does not make another transaction.
        expect((await s.submit({ ...call, data: call.data.toUpperCase().replace(/^0X/, "0x") })).key).toBe("anchor:3");
      });

      it("refuses malformed intents naming the field, and senders it has no key for", async () => {
        const s = make();
        const ok = intent("k", 4n);
        const field = async (p: Promise<unknown>) => (await expectCode(p, "ENT_CHAIN_TX_INVALID", 400)).fields?.[0]?.field;
        expect(await field(s.submit({ ...ok, key: "" }))).toBe("key");
        expect(await field(s.submit({ ...ok, key: "x".repeat(256) }))).toBe("key");
        expect(await field(s.submit({ ...ok, purpose: "" }))).toBe("purpose");
        expect(await field(s.submit({ ...ok, to: "0x1234" }))).toBe("to");
        expect(await field(s.submit({ ...ok, from: "nope" }))).toBe("from");
        expect(await field(s.submit({ ...ok, data: "0xabc" }))).toBe("data");
        expect(await field(s.submit({ ...ok, gasLimit: 5n }))).toBe("gasLimit");
        await expectCode(s.submit({ ...ok, from: sys.others[0]!.address }), "ENT_CHAIN_TX_UNKNOWN_SENDER", 400);
        expect(await db.sql.q(`SELECT 1 FROM chain_transactions`)).toEqual([]);
      });

      it("gives concurrent submits from one key distinct consecutive nonces, and one record per key", async () => {
        const senders = [make(), make(), make()];
        const base = BigInt(await provider.getTransactionCount(anchorer.address));
        const payerBase = BigInt(await provider.getTransactionCount(payer.address));
        const anchorIntents = Array.from({ length: 12 }, (_, i) => intent(`c:${i}`, 100n + BigInt(i)));
        const sameKey = intent("c:same", 200n);
        const payerIntents = Array.from({ length: 4 }, (_, i) => ({ key: `p:${i}`, purpose: "payout", from: payer.address, to: sys.others[1]!.address, data: `0x0${i}` }));
        const results = await Promise.all([
          ...anchorIntents.map((x, i) => senders[i % 3]!.submit(x)),
          ...[0, 1, 2, 3].map((i) => senders[i % 3]!.submit(sameKey)),
          ...payerIntents.map((x, i) => senders[i % 3]!.submit(x)),
        ]);
        const sameResults = results.slice(12, 16);
        expect(new Set(sameResults.map((r) => r.hash)).size).toBe(1);
        const anchorNonces = [...results.slice(0, 12), sameResults[0]!].map((r) => r.nonce).sort((a, b) => Number(a - b));
        expect(anchorNonces).toEqual(Array.from({ length: 13 }, (_, i) => base + BigInt(i)));
        expect(results.slice(16).map((r) => r.nonce).sort((a, b) => Number(a - b))).toEqual([0n, 1n, 2n, 3n].map((i) => payerBase + i));

        // Broadcast concurrently, a later nonce can reach the node before an earlier one and wait in
        // its pool after the gap is filled, until the next block: mine one then and tick again (a
        // bounded number of times), as the worker's next tick would.
        let rows: Array<{ status: string }> = [];
        for (let round = 0; round < 3; round++) {
          await senders[0]!.tick();
          rows = await db.sql.q<Array<{ status: string }>>(`SELECT status FROM chain_transactions`);
          if (rows.every((r) => r.status === "mined")) break;
          await rpc("evm_mine", []);
        }
        expect(rows).toHaveLength(17);
        expect(rows.map((r) => r.status).filter((st) => st !== "mined")).toEqual([]);
        expect(await minedFrom(provider, anchorer.address, startBlock)).toHaveLength(13);
        expect(BigInt(await provider.getTransactionCount(anchorer.address))).toBe(base + 13n);
        const [n] = await db.sql.q<Array<{ next_nonce: bigint }>>(`SELECT next_nonce FROM chain_nonces WHERE address = $1`, anchorer.address);
        expect(n!.next_nonce).toBe(base + 13n);
      });

      it("starts from the node's pending nonce and never reuses a nonce the key spent elsewhere", async () => {
        await rpc("evm_setAutomine", [false]);
        // Someone else used the key: one mined, one still pending.
        await anchorer.sendTransaction({ to: sys.others[2]!.address, value: 1n });
        await rpc("evm_mine");
        await anchorer.sendTransaction({ to: sys.others[2]!.address, value: 2n });
        const latest = await provider.getTransactionCount(anchorer.address, "latest");
        const s = make();
        const a = await s.submit(intent("n:1", 300n));
        expect(a.nonce).toBe(BigInt(latest) + 1n);
        await rpc("evm_mine");
        // Used elsewhere again, behind the sender's back: the next nonce jumps past it.
        await anchorer.sendTransaction({ to: sys.others[2]!.address, value: 3n, nonce: latest + 2 });
        await rpc("evm_mine");
        const b = await s.submit(intent("n:2", 301n));
        expect(b.nonce).toBe(BigInt(latest) + 3n);
        await rpc("evm_mine");
        expect((await s.tick()).map((t) => t.status)).toEqual(["mined", "mined"]);
      });
    });

    describe("when the process dies after commit and before broadcast", () => {
      const crashBefore = { hooks: { beforeBroadcast: () => Promise.reject(new CrashHere("killed before broadcast")) } };

      it("tick broadcasts the stored raw transaction: same hash, one transaction for the nonce", async () => {
        const nonce0 = await provider.getTransactionCount(anchorer.address);
        await expect(make(crashBefore).submit(intent("crash:1", 10n))).rejects.toThrow(CrashHere);
        const stored = (await make().get("crash:1"))!;
        expect(stored).toMatchObject({ status: "signed", nonce: BigInt(nonce0) });
        expect(await provider.getTransaction(stored.hash)).toBeNull();
        expect(await provider.getTransactionCount(anchorer.address)).toBe(nonce0);

        const restarted = make();
        expect((await restarted.tick()).map((t) => [t.status, t.hash])).toEqual([["sent", stored.hash]]);
        expect((await restarted.tick()).map((t) => [t.status, t.hash])).toEqual([["mined", stored.hash]]);
        const mined = await minedFrom(provider, anchorer.address, startBlock);
        expect(mined).toEqual([{ hash: stored.hash, nonce: nonce0, data: stored.data }]);
      });

      it("a later submit with the same key broadcasts the stored transaction, never a new one", async () => {
        await expect(make(crashBefore).submit(intent("crash:2", 11n))).rejects.toThrow(CrashHere);
        const stored = (await make().get("crash:2"))!;
        // The caller rebuilds its calldata after the restart: the record's bytes are what gets sent.
        const again = await make().submit({ key: "crash:2", purpose: "anchor", from: stored.from, to: stored.to, data: stored.data });
        expect(again).toMatchObject({ status: "sent", hash: stored.hash, nonce: stored.nonce });
        await make().tick();
        expect((await minedFrom(provider, anchorer.address, startBlock)).map((t) => t.hash)).toEqual([stored.hash]);
      });

      it("after broadcast and before the record says so: the receipt settles it, a resubmit sends nothing new", async () => {
        const crashAfter = { hooks: { afterBroadcast: () => Promise.reject(new CrashHere("killed after broadcast")) } };
        await expect(make(crashAfter).submit(intent("crash:3", 12n))).rejects.toThrow(CrashHere);
        await expect(make(crashAfter).submit(intent("crash:4", 13n))).rejects.toThrow(CrashHere);
        const s = make();
        expect((await s.get("crash:3"))!.status).toBe("signed");
        // Automine has mined both already; re-broadcasting crash:3 hears "nonce too low".
        const three = (await s.get("crash:3"))!;
        expect(await s.submit({ key: three.key, purpose: three.purpose, from: three.from, to: three.to, data: three.data })).toMatchObject({
          status: "mined",
          hash: three.hash,
        });
        expect((await s.tick()).map((t) => [t.key, t.status])).toEqual([["crash:4", "mined"]]);
        expect(await minedFrom(provider, anchorer.address, startBlock)).toHaveLength(2);
      });
    });

    describe("when several processes tick at once", () => {
      it("they never send two transactions for one record, even while replacing", async () => {
        await rpc("evm_setAutomine", [false]);
        const crashBefore = { hooks: { beforeBroadcast: () => Promise.reject(new CrashHere("killed before broadcast")) } };
        for (const k of [0n, 1n, 2n]) await expect(make(crashBefore).submit(intent(`many:${k}`, 60n + k))).rejects.toThrow(CrashHere);
        const processes = [0, 1, 2].map(() => make({ stuckAfterMs: 0 }));
        for (let round = 0; round < 3; round++) await Promise.all(processes.flatMap((p) => [p.tick(), p.tick()]));
        await rpc("evm_mine");
        await Promise.all(processes.map((p) => p.tick()));
        const mined = await minedFrom(provider, anchorer.address, startBlock);
        expect(mined).toHaveLength(3);
        const attempts = await Promise.all([0, 1, 2].map(async (k) => (await storedAttempts(db.sql, `many:${k}`)).length));
        expect(Math.min(...attempts)).toBeGreaterThan(1); // replacements did race
        for (const k of [0, 1, 2]) {
          const record = (await processes[0]!.get(`many:${k}`))!;
          expect(record.status).toBe("mined");
          expect(mined.filter((t) => t.nonce === Number(record.nonce)).map((t) => t.hash)).toEqual([record.hash]);
          expect(record.hashes).toContain(record.hash);
        }
      });
    });

    describe("when a transaction is stuck", () => {
      // The sender's clock, moved by hand: "stuck" is decided by it alone, never by the wall clock.
      let clock: { at: Date; now: () => Date; advance: (ms: number) => void };
      beforeEach(() => {
        clock = {
          at: new Date("2026-01-01T00:00:00Z"),
          now: () => clock.at,
          advance: (ms) => {
            clock.at = new Date(clock.at.getTime() + ms);
          },
        };
      });

      it("replaces it with the same nonce and bumped fees; exactly one attempt is mined and the record knows which", async () => {
        await rpc("evm_setAutomine", [false]);
        const s = make({ stuckAfterMs: 100, feeBumpPercent: 25, now: clock.now });
        const tx = await s.submit(intent("stuck:1", 20n));
        expect(await s.tick()).toEqual([]); // not stuck yet
        clock.advance(99);
        expect(await s.tick()).toEqual([]); // still not: stuck means unmined for stuckAfterMs
        clock.advance(1);
        const [replaced] = await s.tick();
        expect(replaced).toMatchObject({ key: "stuck:1", status: "sent", nonce: tx.nonce });
        expect(replaced!.hashes).toEqual([tx.hash, replaced!.hash]);
        expect(await s.tick()).toEqual([]); // the replacement's own clock starts at its broadcast
        clock.advance(100);
        const [again] = await s.tick();
        expect(again!.hashes).toHaveLength(3);

        const attempts = await storedAttempts(db.sql, "stuck:1");
        for (let i = 1; i < attempts.length; i++) {
          const [prev, next] = [attempts[i - 1]!, attempts[i]!];
          expect(BigInt(next.maxFeePerGas!)).toBeGreaterThanOrEqual((BigInt(prev.maxFeePerGas!) * 125n + 99n) / 100n);
          expect(BigInt(next.maxPriorityFeePerGas!)).toBeGreaterThanOrEqual((BigInt(prev.maxPriorityFeePerGas!) * 125n + 99n) / 100n);
          expect(BigInt(next.maxFeePerGas!)).toBeGreaterThanOrEqual(BigInt(next.maxPriorityFeePerGas!));
          const decoded = Transaction.from(next.raw);
          expect([decoded.nonce, decoded.to, decoded.data, decoded.gasLimit]).toEqual([Number(tx.nonce), tx.to, tx.data, tx.gasLimit]);
        }
        // The node holds only the latest attempt: the others were replaced in its pool.
        expect(await provider.getTransaction(attempts[0]!.hash)).toBeNull();
        expect((await provider.getTransaction(attempts[2]!.hash))?.nonce).toBe(Number(tx.nonce));

        await rpc("evm_mine");
        expect((await s.tick()).map((t) => [t.status, t.hash])).toEqual([["mined", attempts[2]!.hash]]);
        expect(await provider.getTransactionReceipt(attempts[0]!.hash)).toBeNull();
        expect(await provider.getTransactionReceipt(attempts[1]!.hash)).toBeNull();
        expect((await minedFrom(provider, anchorer.address, startBlock)).map((t) => t.hash)).toEqual([attempts[2]!.hash]);
      });

      it("records the older attempt when it is the one mined, and never sends the newer one", async () => {
        await rpc("evm_setAutomine", [false]);
        const tx = await make({ now: clock.now }).submit(intent("stuck:2", 21n));
        clock.advance(60);
        // The replacement is committed, then the process dies before broadcasting it...
        const dying = make({ stuckAfterMs: 50, now: clock.now, hooks: { beforeBroadcast: () => Promise.reject(new CrashHere("killed")) } });
        await dying.tick();
        const stored = (await dying.get("stuck:2"))!;
        expect(stored.hashes).toHaveLength(2);
        expect(stored.hash).toBe(stored.hashes[1]);
        // ...and the chain mines the first attempt meanwhile.
        await rpc("evm_mine");
        const [mined] = await make({ stuckAfterMs: 50, now: clock.now }).tick();
        expect(mined).toMatchObject({ status: "mined", hash: tx.hash, hashes: [tx.hash, stored.hashes[1]] });
        expect(await provider.getTransaction(stored.hashes[1]!)).toBeNull();
        await rpc("evm_mine");
        expect(await make({ stuckAfterMs: 50, now: clock.now }).tick()).toEqual([]);
        expect((await minedFrom(provider, anchorer.address, startBlock)).map((t) => t.hash)).toEqual([tx.hash]);
      });

      it("stops bumping at the configured fee cap and says so", async () => {
        await rpc("evm_setAutomine", [false]);
        const tx = await make().submit(intent("stuck:3", 22n));
        const [first] = await storedAttempts(db.sql, "stuck:3");
        const capped = make({ stuckAfterMs: 0, maxFeePerGasCap: BigInt(first!.maxFeePerGas!) });
        expect(await capped.tick()).toEqual([]);
        const after = (await capped.get("stuck:3"))!;
        expect(after.hashes).toEqual([tx.hash]);
        expect(after.lastError).toMatch(/fee cap/);
      });
    });

    describe("when its calls carry a worker leader's fence", () => {
      const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
      /** An elected leader on this database (one election round), and its term's fence. */
      const lead = async (holder: string) => {
        let fence: Fence | undefined;
        const elector = new LeaderElector({ store: new LeaseStore(db.sql), lease: "workers", holder, ttlMs: 60_000, log: silent, lead: (f) => ((fence = f), async () => undefined) });
        await elector.step();
        if (fence === undefined) throw new Error(`${holder} was not elected`);
        return fence;
      };
      /** The leader's lease runs out behind its back (a long pause): another instance may take it. */
      const expireLease = () => db.sql.q(`UPDATE worker_leases SET expires_at = clock_timestamp() - interval '1 millisecond'`);
      beforeEach(async () => {
        await db.sql.q(`TRUNCATE worker_leases`);
      });

      it("signs inside the term; once deposed it allocates no nonce and records nothing; unfenced calls are not fenced", async () => {
        const s = make({ fence: currentFence });
        const a = await lead("A");
        const first = await runFenced(a, () => s.submit(intent("fence:1", 40n)));
        expect(first.status).toBe("sent");
        await expireLease();
        const b = await lead("B");
        const nonces = await db.sql.q(`SELECT next_nonce FROM chain_nonces`);
        await expectCode(runFenced(a, () => s.submit(intent("fence:2", 41n))), "ENT_LEADER_LEASE_LOST", 503);
        expect(await s.get("fence:2")).toBeNull();
        expect(await db.sql.q(`SELECT next_nonce FROM chain_nonces`)).toEqual(nonces);
        // The new term signs the next nonce; so does a call outside any term (an operator's route).
        expect((await runFenced(b, () => s.submit(intent("fence:2", 41n)))).nonce).toBe(first.nonce + 1n);
        expect((await s.submit(intent("fence:3", 42n))).nonce).toBe(first.nonce + 2n);
        await s.tick();
        expect((await minedFrom(provider, anchorer.address, startBlock)).map((t) => t.nonce)).toEqual([0, 1, 2].map((i) => Number(first.nonce) + i));
      });

      it("a deposed leader's tick cannot commit a replacement of a stuck transaction", async () => {
        await rpc("evm_setAutomine", [false]);
        const s = make({ fence: currentFence, stuckAfterMs: 0 });
        const a = await lead("A");
        const tx = await runFenced(a, () => s.submit(intent("fence-stuck:1", 43n)));
        await expireLease();
        await lead("B");
        await expect(runFenced(a, () => s.tick())).rejects.toMatchObject({ code: "ENT_LEADER_LEASE_LOST" });
        expect((await s.get("fence-stuck:1"))!.hashes).toEqual([tx.hash]);
      });
    });

    describe("when a reorg drops the receipt", () => {
      it("goes back to sent, re-broadcasts the same transaction, and is mined again", async () => {
        const s = make();
        const fork = await rpc<string>("evm_snapshot");
        const tx = await s.submit(intent("reorg:1", 30n));
        const [mined] = await s.tick();
        expect(mined).toMatchObject({ status: "mined", hash: tx.hash });

        await rpc("evm_revert", [fork]);
        await rpc("evm_mine"); // the other branch grows past the fork point
        expect(await provider.getTransactionReceipt(tx.hash)).toBeNull();
        await rpc("evm_setAutomine", [false]);
        const [dropped] = await s.tick();
        expect(dropped).toMatchObject({ status: "sent", hash: tx.hash, blockNumber: null, blockHash: null });
        expect((await provider.getTransaction(tx.hash))?.hash).toBe(tx.hash); // back in the node's pool

        await rpc("evm_mine");
        const [again] = await s.tick();
        expect(again).toMatchObject({ status: "mined", hash: tx.hash, hashes: [tx.hash] });
        expect(again!.blockHash).not.toBe(mined!.blockHash);
        expect((await minedFrom(provider, anchorer.address, startBlock)).map((t) => t.hash)).toEqual([tx.hash]);
      });

      it("re-checks mined transactions only within reorgDepth blocks of the head", async () => {
        await make().submit(intent("deep:1", 31n));
        await make().tick();
        await rpc("hardhat_mine", ["0x3"]);
        const receiptsRead = async (reorgDepth: number) => {
          const from = gate.calls.length;
          expect(await make({ reorgDepth, provider: gate.provider(sys.chainId) }).tick()).toEqual([]);
          return gate.calls.slice(from).filter((m) => m === "eth_getTransactionReceipt").length;
        };
        expect(await receiptsRead(2)).toBe(0);
        expect(await receiptsRead(4)).toBe(1);
      });
    });

    describe("when the node was reset (same chain id, another genesis)", () => {
      it("refuses to send or re-broadcast anything on it (ENT_CHAIN_RESET)", async () => {
        await make().submit(intent("reset:1", 32n));
        await rpc("hardhat_mine", ["0x20"]);
        await make().tick(); // records a witness block reorgDepth below the head
        const other = await network.create();
        try {
          expect((await other.ethers.provider.getNetwork()).chainId).toBe(sys.chainId);
          const onReset = () => make({ provider: other.ethers.provider });
          // The reset chain is shorter than the witness height...
          await expectCode(onReset().tick(), "ENT_CHAIN_RESET", 409);
          await expectCode(onReset().submit(intent("reset:2", 33n)), "ENT_CHAIN_RESET", 409);
          // ...or has grown past it with other blocks.
          await other.provider.request({ method: "hardhat_mine", params: ["0x40"] });
          await expectCode(onReset().tick(), "ENT_CHAIN_RESET", 409);
          expect(await other.ethers.provider.getTransactionCount(anchorer.address)).toBe(0);
          expect(await make().tick()).toEqual([]); // the original chain is still fine
        } finally {
          await other.close();
        }
      });
    });

    describe("when a transaction reverts", () => {
      it("is recorded reverted with the contract's custom error decoded", async () => {
        const s = make();
        await s.submit(intent("rev:ok", 40n));
        const root = "0x" + "ab".repeat(32);
        const dup = await s.submit({ key: "rev:dup", purpose: "anchor", from: anchorer.address, ...anchorCall(sys, 40n, root), gasLimit: 200_000n });
        const changed = await s.tick();
        expect(changed.map((t) => [t.key, t.status])).toEqual([
          ["rev:ok", "mined"],
          ["rev:dup", "reverted"],
        ]);
        const reverted = (await s.get("rev:dup"))!;
        expect(reverted.revertReason).toMatch(/^BatchAlreadyAnchored\(40, 0x[0-9a-f]{64}\)$/);
        expect(reverted.blockNumber).toBe(BigInt((await provider.getTransactionReceipt(dup.hash))!.blockNumber));

        const role = await sys.c.anchor.ANCHOR_ROLE();
        await s.submit({ key: "rev:role", purpose: "anchor", from: payer.address, ...anchorCall(sys, 41n), gasLimit: 200_000n });
        await s.tick();
        expect((await s.get("rev:role"))!.revertReason).toBe(`AccessControlUnauthorizedAccount(${payer.address}, ${role})`);
      });

      it("refuses to record a transaction that gas estimation shows would revert (ENT_CHAIN_TX_WOULD_REVERT, 422)", async () => {
        const s = make();
        const nonce0 = await provider.getTransactionCount(anchorer.address);
        const e = await expectCode(s.submit({ key: "rev:est", purpose: "anchor", from: anchorer.address, ...anchorCall(sys, 0n) }), "ENT_CHAIN_TX_WOULD_REVERT", 422);
        expect(e.message).toContain("InvalidBatchId(0)");
        expect(await s.get("rev:est")).toBeNull();
        expect((await s.submit(intent("rev:next", 42n))).nonce).toBe(BigInt(nonce0));
      });
    });

    describe("when the node answers a broadcast with an error (over HTTP JSON-RPC)", () => {
      it("an RPC outage at broadcast leaves the record signed; tick sends it when the node is back", async () => {
        const p = gate.provider(sys.chainId);
        const s = make({ provider: p });
        gate.failing.add("eth_sendRawTransaction");
        const tx = await s.submit(intent("rpc:1", 50n));
        expect(tx.status).toBe("signed");
        expect(tx.lastError).toMatch(/broadcast failed/);
        expect(await provider.getTransaction(tx.hash)).toBeNull();
        expect(await s.tick()).toEqual([]);
        gate.failing.add("*");
        await expectCode(s.tick(), "ENT_CHAIN_RPC_UNAVAILABLE", 503);
        await expectCode(s.submit(intent("rpc:2", 51n)), "ENT_CHAIN_RPC_UNAVAILABLE", 503);
        expect(await s.get("rpc:2")).toBeNull();

        gate.failing.clear();
        expect((await s.tick()).map((t) => [t.status, t.hash])).toEqual([["sent", tx.hash]]);
        expect((await s.tick()).map((t) => [t.status, t.hash, t.lastError])).toEqual([["mined", tx.hash, null]]);
        expect((await minedFrom(provider, anchorer.address, startBlock)).map((t) => t.hash)).toEqual([tx.hash]);
      });

      it('"already known": the transaction is pending in the node, so the record is sent', async () => {
        await rpc("evm_setAutomine", [false]);
        const p = gate.provider(sys.chainId);
        await expect(make({ provider: p, hooks: { beforeBroadcast: () => Promise.reject(new CrashHere("x")) } }).submit(intent("known:1", 52n))).rejects.toThrow(
          CrashHere,
        );
        const [attempt] = await storedAttempts(db.sql, "known:1");
        await provider.broadcastTransaction(attempt!.raw); // it did reach the node before the crash
        const s = make({ provider: p });
        expect((await s.tick()).map((t) => [t.status, t.lastError])).toEqual([["sent", null]]);
        expect(logs.some((l) => (l.o as { outcome?: string }).outcome === "known")).toBe(true);
        await rpc("evm_mine");
        expect((await s.tick()).map((t) => t.status)).toEqual(["mined"]);
        expect(await minedFrom(provider, anchorer.address, startBlock)).toHaveLength(1);
      });

      it('"nonce too low" with a receipt of ours: mined, no second transaction', async () => {
        const p = gate.provider(sys.chainId);
        await expect(
          make({ provider: p, hooks: { afterBroadcast: () => Promise.reject(new CrashHere("x")) } }).submit(intent("low:1", 53n)),
        ).rejects.toThrow(CrashHere);
        const stored = (await make().get("low:1"))!;
        const s = make({ provider: p });
        const again = await s.submit({ key: stored.key, purpose: stored.purpose, from: stored.from, to: stored.to, data: stored.data });
        expect(again).toMatchObject({ status: "mined", hash: stored.hash, lastError: null });
        expect(gate.calls).toContain("eth_sendRawTransaction");
        expect(await minedFrom(provider, anchorer.address, startBlock)).toHaveLength(1);
      });

      it('"nonce too low" because another transaction used the nonce: never re-signed, flagged for an operator', async () => {
        const p = gate.provider(sys.chainId);
        await expect(
          make({ provider: p, hooks: { beforeBroadcast: () => Promise.reject(new CrashHere("x")) } }).submit(intent("low:2", 54n)),
        ).rejects.toThrow(CrashHere);
        const stored = (await make().get("low:2"))!;
        await (await anchorer.sendTransaction({ to: sys.others[3]!.address, value: 1n, nonce: Number(stored.nonce) })).wait();
        const s = make({ provider: p, stuckAfterMs: 0 });
        expect(await s.tick()).toEqual([]);
        const after = (await s.get("low:2"))!;
        expect(after).toMatchObject({ status: "signed", hashes: [stored.hash] });
        expect(after.lastError).toMatch(/nonce as too low/);
        expect(await provider.getTransactionReceipt(stored.hash)).toBeNull();
      });
    });
  });
});
