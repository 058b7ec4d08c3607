/**
 * Reorganisations fabricated on the in-process chain with evm_snapshot / evm_revert: the events of
 * the abandoned branch come back in `removed`, the new branch's in `changed`, with correct states;
 * a transaction re-mined at another height is re-ingested under its new block; a chain that only
 * got shorter is rolled back; a reorg during a poll is retried; a reorg deeper than the final depth
 * stops the indexer (ENT_INDEXER_REORG_BEYOND_FINALITY) and leaves the index untouched; a reset
 * local chain (same addresses, new history) drops the old index. Every test starts from the same
 * funded chain (reverted after each test) and an index rebuilt up to it, so each runs alone.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HDNodeWallet, keccak256, toUtf8Bytes } from "ethers";
import { packPayout } from "../../../service/chain/contracts.js";
import { network } from "hardhat";
import { deploySystem } from "../../../service/chain/deploy.js";
import { ChainIndexer, type IndexedEvent } from "../../../service/chain/indexer/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../../support/db.js";
import { deployedSystem, revertAfterEach, type Signer, type System } from "../fixture.js";
import { collector, headNumber, indexerFor, memoryLog, mined, mineEmpty, rpc, summary, USDC } from "./support.js";

const kinds = await testDatabaseKinds();
const MNEMONIC = "test test test test test test test test test test test junk";
const root = (s: string) => keccak256(toUtf8Bytes(s));
const key = (e: IndexedEvent) => `${e.name}@${e.blockNumber}/${e.blockHash}/${e.txHash}:${e.logIndex}`;

describe.each(kinds)("ChainIndexer reorganisations on %s", { timeout: 60_000 }, (kind) => {
  let s: System;
  let db: TestDatabase;
  let indexer: ChainIndexer;
  let sellers: Signer[];
  let nextBatch = 1n;
  let nextPayout = 1n;

  const anchor = (r: string) => mined(s.c.anchor.connect(s.anchorer).anchorBatch(nextBatch++, root(r), 1, root(`${r} totals`)));
  const pay = (amounts: bigint[]) => {
    const first = nextPayout;
    nextPayout += BigInt(amounts.length);
    return mined(s.c.vault.connect(s.payer).payout(nextBatch++, first, amounts.map((a, i) => packPayout(sellers[i]!.address, a))));
  };
  const snapshot = () => rpc<string>(s, "evm_snapshot");
  const revert = async (id: string) => {
    expect(await rpc<boolean>(s, "evm_revert", [id])).toBe(true);
  };

  beforeAll(async () => {
    [s, db] = await Promise.all([deployedSystem(), freshDatabase(kind)]);
    sellers = s.others.slice(1);
    const treasury = s.others[0]!;
    await mined(s.c.mock.mint(treasury.address, 1_000_000n * USDC));
    await mined(s.c.mock.connect(treasury).approve(await s.c.vault.getAddress(), 1_000_000n * USDC));
    await mined(s.c.vault.connect(treasury).fund(1_000_000n * USDC));
    await mineEmpty(s, 6);
  });
  afterAll(async () => {
    await s?.close();
    await db?.close();
  });
  revertAfterEach(() => s.connection);
  beforeEach(async () => {
    // The index is a cache of the chain: emptied, then polled up to the reverted head.
    await db.sql.q(`TRUNCATE "chain_index_events", "chain_index_blocks", "chain_index_cursors", "chain_index_reorgs"`);
    indexer = indexerFor(s, db);
    await indexer.poll();
    [nextBatch, nextPayout] = [1n, 1n];
  });

  it("reports the abandoned branch's events in `removed` and the new branch's in `changed`, in one poll, with correct states", async () => {
    const base = await headNumber(s);
    const snap = await snapshot();
    const nextIds = [nextBatch, nextPayout];
    await anchor("branch A");
    await pay([10n * USDC, 20n * USDC]);
    await mineEmpty(s, 1);
    const a = await indexer.poll();
    const branchA = a.changed.filter((e) => e.blockNumber > base);
    expect(summary(branchA)).toEqual([
      `BatchAnchored@${base + 1n}:safe`,
      `Transfer@${base + 2n}:observed`,
      `Transfer@${base + 2n}:observed`,
      `PayoutBatchExecuted@${base + 2n}:observed`,
    ]);

    await revert(snap);
    [nextBatch, nextPayout] = nextIds as [bigint, bigint];
    await anchor("branch B");
    await mineEmpty(s, 1, 7);
    await pay([30n * USDC]);
    await mineEmpty(s, 2, 9);
    const seen = collector(indexer);
    const b = await indexer.poll();

    expect(b.removed.map(key)).toEqual(branchA.map(key));
    const branchB = b.changed.filter((e) => e.blockNumber > base);
    // head = base + 5: safe <= base + 3, final <= base - 1
    expect(summary(branchB)).toEqual([
      `BatchAnchored@${base + 1n}:safe`,
      `Transfer@${base + 3n}:safe`,
      `PayoutBatchExecuted@${base + 3n}:safe`,
    ]);
    expect(branchB.find((e) => e.name === "BatchAnchored")!.args["root"]).toBe(root("branch B"));
    expect(branchB.find((e) => e.name === "BatchAnchored")!.blockHash).not.toBe(branchA[0]!.blockHash);
    expect(seen).toEqual([b]);
    const current = (await indexer.events({})).filter((e) => e.blockNumber > base);
    expect(current.map(key)).toEqual(branchB.map(key));
    expect(await indexer.head()).toEqual({ indexed: base + 5n, safe: base + 3n, final: base - 1n });
    const reorgs = await db.sql.q<Array<{ ancestor_block: bigint; old_head_block: bigint; removed_events: number; kind: string }>>(
      `SELECT "ancestor_block", "old_head_block", "removed_events", "kind" FROM "chain_index_reorgs" ORDER BY "id"`,
    );
    expect(reorgs).toEqual([{ ancestor_block: base, old_head_block: base + 3n, removed_events: 4, kind: "reorg" }]);
  });

  it("rolls back a chain that only got shorter, then ingests what is mined next", async () => {
    const base = await headNumber(s);
    const snap = await snapshot();
    await anchor("doomed");
    await mineEmpty(s, 2);
    const before = await indexer.poll();
    expect(summary(before.changed.filter((e) => e.blockNumber > base))).toEqual([`BatchAnchored@${base + 1n}:safe`]);
    await revert(snap);
    nextBatch--;
    const shorter = await indexer.poll();
    expect(summary(shorter.removed)).toEqual([`BatchAnchored@${base + 1n}:safe`]);
    expect(shorter.changed.filter((e) => e.blockNumber > base)).toEqual([]);
    expect((await indexer.head()).indexed).toBe(base);
    expect(await indexer.events({ name: "BatchAnchored", args: { root: root("doomed") } })).toEqual([]);
    await anchor("survivor");
    const after = await indexer.poll();
    expect(summary(after.changed.filter((e) => e.blockNumber > base))).toEqual([`BatchAnchored@${base + 1n}:observed`]);
    expect(after.removed).toEqual([]);
  });

  it("re-ingests a transaction re-mined at another height under its new block, same tx hash and log index", async () => {
    // The anchorer's key (dev account #1) signs one raw transaction that is broadcast twice.
    const wallet = HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0/1");
    expect(wallet.address).toBe(s.anchorer.address);
    const provider = s.connection.ethers.provider;
    const latest = (await provider.getBlock("latest"))!;
    const raw = await wallet.signTransaction({
      type: 2,
      chainId: s.chainId,
      nonce: await provider.getTransactionCount(wallet.address, "latest"),
      to: await s.c.anchor.getAddress(),
      data: s.c.anchor.interface.encodeFunctionData("anchorBatch", [nextBatch++, root("re-mined"), 1, root("re-mined totals")]),
      gasLimit: 200_000n,
      maxFeePerGas: (latest.baseFeePerGas ?? 0n) * 4n + 1_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    });
    const base = await headNumber(s);
    const snap = await snapshot();
    const hash = await rpc<string>(s, "eth_sendRawTransaction", [raw]);
    await mineEmpty(s, 1);
    const first = (await indexer.poll()).changed.filter((e) => e.blockNumber > base);
    expect(summary(first)).toEqual([`BatchAnchored@${base + 1n}:observed`]);
    expect(first[0]!.txHash).toBe(hash);

    await revert(snap);
    await mineEmpty(s, 2, 21);
    expect(await rpc<string>(s, "eth_sendRawTransaction", [raw])).toBe(hash);
    const again = await indexer.poll();
    expect(again.removed).toEqual([first[0]]);
    const moved = again.changed.filter((e) => e.txHash === hash);
    expect(summary(moved)).toEqual([`BatchAnchored@${base + 3n}:observed`]);
    expect(moved[0]!.logIndex).toBe(first[0]!.logIndex);
    expect(moved[0]!.blockHash).not.toBe(first[0]!.blockHash);
    expect(await indexer.events({ txHash: hash })).toEqual(moved);
  });

  it("retries a poll during which the node reorganised (stale logs are never stored)", async () => {
    const base = await headNumber(s);
    const snap = await snapshot();
    await anchor("stale");
    await mineEmpty(s, 1);
    const provider = s.connection.ethers.provider;
    let armed = true;
    const racing = new Proxy(provider, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (prop !== "send") return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return async (method: string, params: unknown[]) => {
          const r = (await target.send(method, params)) as unknown;
          if (method === "eth_getLogs" && armed) {
            // The node switches branch right after answering: the answer describes the abandoned one.
            armed = false;
            await target.send("evm_revert", [snap]);
            await mineEmpty(s, 1, 31);
            await anchor("fresh");
          }
          return r;
        };
      },
    });
    const log = memoryLog();
    const idx = indexerFor(s, db, { provider: racing, log });
    const change = await idx.poll();
    expect(armed).toBe(false);
    expect(log.lines.some((l) => l.msg.includes("chain changed during the poll"))).toBe(true);
    expect(summary(change.changed.filter((e) => e.blockNumber > base))).toEqual([`BatchAnchored@${base + 2n}:observed`]);
    expect(change.changed.find((e) => e.name === "BatchAnchored" && e.blockNumber > base)!.args["root"]).toBe(root("fresh"));
    expect(await indexer.events({ args: { root: root("stale") } })).toEqual([]);
    await indexer.poll();
  });

  it("drops the index of a reset local chain (same addresses, new history) and reports its events removed", async () => {
    // A new chain whose history differs from the deploy block on (one earlier block at another
    // time), deployed by the same account: the same contract addresses, another deploy block hash.
    const connection = await network.create();
    const [deployer] = await connection.ethers.getSigners();
    await connection.ethers.provider.send("evm_mine", [Math.floor(Date.now() / 1000) + 1000]);
    const fresh = await deploySystem(deployer!, { network: connection.networkName, deploymentsDir: null });
    try {
      expect(fresh.record.contracts.SettlementVault.address).toBe(s.result.record.contracts.SettlementVault.address);
      expect(fresh.record.deployBlockHash).not.toBe(s.result.record.deployBlockHash);
      const old = await indexer.events({});
      const idx = new ChainIndexer({ sql: db.sql, provider: connection.ethers.provider, record: fresh.record, log: memoryLog() });
      const change = await idx.poll();
      expect(change.removed.map(key).sort()).toEqual(old.map(key).sort());
      const now = await idx.events({});
      expect(change.changed).toEqual(now);
      expect(now.map((e) => e.name)).toContain("RoleGranted");
      expect(now.every((e) => e.blockNumber >= BigInt(fresh.record.deployBlock))).toBe(true);
      const cursors = await db.sql.q<Array<{ deploy_block_hash: string }>>(`SELECT "deploy_block_hash" FROM "chain_index_cursors"`);
      expect(cursors).toEqual([{ deploy_block_hash: fresh.record.deployBlockHash.toLowerCase() }]);
      const resets = await db.sql.q<Array<{ kind: string; removed_events: number }>>(`SELECT "kind", "removed_events" FROM "chain_index_reorgs" WHERE "kind" = 'reset'`);
      expect(resets).toEqual([{ kind: "reset", removed_events: old.length }]);
    } finally {
      await connection.close();
    }
  });

  it("refuses a reorganisation deeper than the final depth: the index stays as it was and the loop stops loudly", async () => {
    // It leaves the index contradicting the chain on purpose (the next test starts from a new one).
    await db.sql.q(`TRUNCATE "chain_index_events", "chain_index_blocks", "chain_index_cursors", "chain_index_reorgs"`);
    const idx = indexerFor(s, db);
    const snap = await snapshot();
    await anchor("final soon");
    await mineEmpty(s, 8);
    await idx.poll();
    const before = await idx.events({});
    const anchored = before.find((e) => e.args["root"] === root("final soon"))!;
    expect(anchored.state).toBe("final");

    await revert(snap);
    await mineEmpty(s, 10, 41);
    await expect(idx.poll()).rejects.toMatchObject({ code: "ENT_INDEXER_REORG_BEYOND_FINALITY" });
    expect(idx.fatal()?.code).toBe("ENT_INDEXER_REORG_BEYOND_FINALITY");
    await expect(idx.poll()).rejects.toMatchObject({ code: "ENT_INDEXER_REORG_BEYOND_FINALITY" });
    expect(await idx.events({})).toEqual(before);

    // The background loop of a restarted indexer hits the same wall, says so, and stops.
    const log = memoryLog();
    const restarted = indexerFor(s, db, { log });
    const fatal = new Promise<{ code: string }>((resolve) => {
      const loud = indexerFor(s, db, { log, onFatal: resolve });
      loud.start({ intervalMs: 10 });
    });
    expect((await fatal).code).toBe("ENT_INDEXER_REORG_BEYOND_FINALITY");
    expect(log.lines.some((l) => l.level === "error" && l.msg.includes("STOPPED"))).toBe(true);
    await expect(restarted.poll()).rejects.toMatchObject({ code: "ENT_INDEXER_REORG_BEYOND_FINALITY" });
    expect(await restarted.events({})).toEqual(before);
  });
});
