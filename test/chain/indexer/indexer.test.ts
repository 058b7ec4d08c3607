/**
 * The event index on an in-process chain (the system deployed by deploySystem) and a real
 * database of each kind: every event type decoded with its exact arguments, idempotent
 * re-ingestion (a second poll, a restarted indexer), confirmation states as blocks are mined,
 * listeners after commit with re-delivery, and range splitting (a small maxBlocksPerQuery, a node
 * refusing large answers, a provider without raw `send`). Every test starts from the same chain
 * (reverted after each test) and an empty index, so each runs alone.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { keccak256, toUtf8Bytes, ZeroAddress, type Interface, type Provider } from "ethers";
import { MockStablecoin__factory, packPayout, payoutsHash, type MockStablecoinContract } from "../../../service/chain/contracts.js";
import { deploySystem } from "../../../service/chain/deploy.js";
import { ChainIndexer, type IndexedEvent } from "../../../service/chain/indexer/index.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../../support/db.js";
import { deployedSystem, revertAfterEach, type Signer, type System } from "../fixture.js";
import { collector, headNumber, indexerFor, memoryLog, mined, mineEmpty, rpc, summary, USDC } from "./support.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("ChainIndexer on %s", { timeout: 60_000 }, (kind) => {
  let s: System;
  let db: TestDatabase;
  let indexer: ChainIndexer;
  let treasury: Signer;
  let sellers: Signer[];
  let vault: string;
  let token: string;
  let anchorAddress: string;
  let other: MockStablecoinContract;
  const root1 = keccak256(toUtf8Bytes("root 1"));
  const root2 = keccak256(toUtf8Bytes("root 2"));
  const digest1 = keccak256(toUtf8Bytes("totals 1"));
  const digest2 = keccak256(toUtf8Bytes("totals 2"));
  const payouts: bigint[] = [];

  beforeAll(async () => {
    [s, db] = await Promise.all([deployedSystem(), freshDatabase(kind)]);
    [treasury, ...sellers] = s.others as [Signer, ...Signer[]];
    vault = await s.c.vault.getAddress();
    token = await s.c.mock.getAddress();
    anchorAddress = await s.c.anchor.getAddress();

    // One of every event the index keeps, plus token Transfers it must NOT keep (neither from nor to the vault).
    const asVault = (who: Signer) => s.c.vault.connect(who);
    const asToken = (who: Signer) => s.c.mock.connect(who);
    await mined(s.c.mock.mint(treasury.address, 1_000_000n * USDC));
    await mined(asToken(treasury).approve(vault, 1_000n * USDC));
    await mined(asVault(treasury).fund(1_000n * USDC));
    await mined(asToken(treasury).transfer(vault, 3n)); // straight to the vault: a Transfer without Funded
    await mined(asToken(treasury).transfer(sellers[0]!.address, 5n)); // not the vault's: not indexed
    await mined(s.c.anchor.connect(s.anchorer).anchorBatch(1n, root1, 3, digest1));
    await mined(s.c.anchor.connect(s.anchorer).anchorCorrection(2n, root2, 2, digest2, 1n));
    await mined(s.c.mock.blocklist(sellers[2]!.address));
    payouts.push(...[10n, 20n, 30n].map((a, i) => packPayout(sellers[i]!.address, a * USDC)));
    await mined(asVault(s.payer).payout(1n, 1n, payouts));
    await mined(s.c.mock.unblocklist(sellers[2]!.address));
    await mined(asVault(sellers[2]!).claim(sellers[3]!.address));
    await mined(asVault(s.payer).cancelPayouts(100n, 5n));
    await mined(asVault(s.pauser).pause());
    await mined(s.c.vault.unpause());
    await mined(s.c.vault.sweepExcess(treasury.address, 5n * USDC));
    other = await new MockStablecoin__factory(s.deployer).deploy(s.deployer.address);
    await other.waitForDeployment();
    await mined(other.mint(vault, 7n));
    await mined(s.c.vault.rescueToken(await other.getAddress(), treasury.address, 7n));
    await mined(s.c.anchor.connect(s.pauser).freezeAnchorer(s.anchorer.address));
    await mined(s.c.anchor.beginDefaultAdminTransfer(sellers[4]!.address));
    await mined(s.c.anchor.cancelDefaultAdminTransfer());
  });
  afterAll(async () => {
    await s?.close();
    await db?.close();
  });
  // The index is a cache of the chain: emptying its tables gives a never-polled index.
  const wipeIndex = () => db.sql.q(`TRUNCATE "chain_index_events", "chain_index_blocks", "chain_index_cursors", "chain_index_reorgs"`);
  revertAfterEach(() => s.connection);
  beforeEach(async () => {
    await wipeIndex();
    indexer = indexerFor(s, db);
  });

  const byName = (events: IndexedEvent[], name: string) => events.filter((e) => e.name === name).map((e) => e.args);

  it("ingests every event of the anchor and the vault, and only the token's Transfers from or to the vault, with exact args", async () => {
    const change = await indexer.poll();
    const events = await indexer.events({});
    expect(change.removed).toEqual([]);
    expect(change.changed).toEqual(events);
    expect(new Set(events.map((e) => e.name))).toEqual(
      new Set([
        "RoleGranted",
        "Transfer",
        "Funded",
        "BatchAnchored",
        "BatchCorrected",
        "PayoutDeferred",
        "PayoutBatchExecuted",
        "Claimed",
        "PayoutsCancelled",
        "Paused",
        "Unpaused",
        "ExcessSwept",
        "TokenRescued",
        "RoleRevoked",
        "AnchorerFrozen",
        "DefaultAdminTransferScheduled",
        "DefaultAdminTransferCanceled",
      ]),
    );
    const [s0, s1, s2, s3] = sellers.map((x) => x.address) as [string, string, string, string];
    expect(byName(events, "Funded")).toEqual([{ from: treasury.address, amount: (1_000n * USDC).toString() }]);
    expect(byName(events, "BatchAnchored")).toEqual([
      { batchId: "1", root: root1, count: "3", totalsDigest: digest1 },
      { batchId: "2", root: root2, count: "2", totalsDigest: digest2 },
    ]);
    expect(byName(events, "BatchCorrected")).toEqual([{ batchId: "2", corrects: "1" }]);
    expect(byName(events, "PayoutDeferred")).toEqual([{ batchId: "1", payoutId: "3", seller: s2, amount: (30n * USDC).toString() }]);
    expect(byName(events, "PayoutBatchExecuted")).toEqual([
      {
        batchId: "1",
        firstPayoutId: "1",
        count: "3",
        paidTotal: (30n * USDC).toString(),
        deferredTotal: (30n * USDC).toString(),
        payoutsHash: payoutsHash(payouts),
        authorizedBy: s.payer.address,
      },
    ]);
    expect(byName(events, "Claimed")).toEqual([{ seller: s2, to: s3, amount: (30n * USDC).toString() }]);
    expect(byName(events, "PayoutsCancelled")).toEqual([{ firstPayoutId: "100", count: "5", by: s.payer.address }]);
    expect(byName(events, "Paused")).toEqual([{ account: s.pauser.address }]);
    expect(byName(events, "Unpaused")).toEqual([{ account: s.deployer.address }]);
    expect(byName(events, "ExcessSwept")).toEqual([{ to: treasury.address, amount: (5n * USDC).toString() }]);
    expect(byName(events, "TokenRescued")).toEqual([{ token: await other.getAddress(), to: treasury.address, amount: "7" }]);
    const anchorRole = await s.c.anchor.ANCHOR_ROLE();
    expect(byName(events, "RoleRevoked")).toEqual([{ role: anchorRole, account: s.anchorer.address, sender: s.pauser.address }]);
    expect(byName(events, "AnchorerFrozen")).toEqual([{ account: s.anchorer.address, by: s.pauser.address }]);
    expect(byName(events, "DefaultAdminTransferScheduled")).toEqual([{ newAdmin: sellers[4]!.address, acceptSchedule: expect.stringMatching(/^\d+$/) as string }]);
    expect(byName(events, "DefaultAdminTransferCanceled")).toEqual([{}]);
    expect(byName(events, "Transfer")).toEqual([
      { from: treasury.address, to: vault, value: (1_000n * USDC).toString() },
      { from: treasury.address, to: vault, value: "3" },
      { from: vault, to: s0, value: (10n * USDC).toString() },
      { from: vault, to: s1, value: (20n * USDC).toString() },
      { from: vault, to: s3, value: (30n * USDC).toString() },
      { from: vault, to: treasury.address, value: (5n * USDC).toString() },
    ]);
    expect(events.filter((e) => e.name === "Transfer").every((e) => e.contract === "Stablecoin" && e.address === token)).toBe(true);
    expect(events.filter((e) => e.name === "BatchAnchored").every((e) => e.contract === "SettlementAnchor" && e.address === anchorAddress)).toBe(true);
    // Role grants of the deployment itself: the index starts at the deploy block.
    expect(byName(events, "RoleGranted")).toContainEqual({ role: anchorRole, account: s.anchorer.address, sender: s.deployer.address });
    expect(byName(events, "RoleGranted")).toContainEqual({ role: await s.c.vault.PAYER_ROLE(), account: s.payer.address, sender: s.deployer.address });
    expect(events.every((e) => e.blockNumber >= BigInt(s.result.record.deployBlock))).toBe(true);
  });

  it("matches an independent decoding of eth_getLogs (ethers' Interface) field for field, in chain order", async () => {
    await indexer.poll();
    const record = s.result.record;
    const head = await headNumber(s);
    const filter = (extra: object) => ({ fromBlock: `0x${record.deployBlock.toString(16)}`, toBlock: `0x${head.toString(16)}`, ...extra });
    const pad = `0x${vault.slice(2).toLowerCase().padStart(64, "0")}`;
    const transfer = s.c.mock.interface.getEvent("Transfer").topicHash;
    type L = { address: string; topics: string[]; data: string; blockNumber: string; blockHash: string; transactionHash: string; logIndex: string };
    const logs = [
      ...(await rpc<L[]>(s, "eth_getLogs", [filter({ address: [anchorAddress, vault] })])),
      ...(await rpc<L[]>(s, "eth_getLogs", [filter({ address: token, topics: [transfer, pad] })])),
      ...(await rpc<L[]>(s, "eth_getLogs", [filter({ address: token, topics: [transfer, null, pad] })])),
    ].sort((a, b) => Number(BigInt(a.blockNumber) - BigInt(b.blockNumber)) || Number(BigInt(a.logIndex) - BigInt(b.logIndex)));
    const ifaces: Record<string, [IndexedEvent["contract"], Interface]> = {
      [anchorAddress.toLowerCase()]: ["SettlementAnchor", s.c.anchor.interface],
      [vault.toLowerCase()]: ["SettlementVault", s.c.vault.interface],
      [token.toLowerCase()]: ["Stablecoin", s.c.mock.interface],
    };
    const expected = logs.map((l) => {
      const [contract, iface] = ifaces[l.address.toLowerCase()]!;
      const parsed = iface.parseLog(l)!;
      const args: Record<string, string> = {};
      parsed.fragment.inputs.forEach((p, i) => {
        const v = parsed.args[i] as unknown;
        args[p.name] = typeof v === "bigint" ? v.toString() : typeof v === "boolean" ? String(v) : String(v);
      });
      return { txHash: l.transactionHash, logIndex: Number(l.logIndex), blockNumber: BigInt(l.blockNumber), blockHash: l.blockHash, contract, name: parsed.name, args };
    });
    const got = (await indexer.events({})).map(({ txHash, logIndex, blockNumber, blockHash, contract, name, args }) => ({
      txHash,
      logIndex,
      blockNumber,
      blockHash,
      contract,
      name,
      args,
    }));
    expect(got).toEqual(expected);
  });

  it("filters by contract, name, tx hash and args (addresses in any case)", async () => {
    await indexer.poll();
    const deferred = await indexer.events({ name: "PayoutDeferred" });
    expect(deferred).toHaveLength(1);
    const sameTx = await indexer.events({ txHash: deferred[0]!.txHash.toUpperCase().replace("0X", "0x") });
    expect(summary(sameTx).map((x) => x.split("@")[0])).toEqual(["Transfer", "Transfer", "PayoutDeferred", "PayoutBatchExecuted"]);
    expect(await indexer.events({ name: "BatchAnchored", args: { batchId: "2" } })).toHaveLength(1);
    expect(await indexer.events({ contract: "Stablecoin", args: { to: sellers[3]!.address.toLowerCase() } })).toHaveLength(1);
    expect(await indexer.events({ contract: "SettlementAnchor", name: "Funded" })).toEqual([]);
  });

  it("is idempotent: a second poll reports nothing, a restarted indexer on the same database resumes without duplicates", async () => {
    expect((await indexer.poll()).changed.length).toBeGreaterThan(20);
    const before = await indexer.events({});
    const head = await indexer.head();
    expect(await indexer.poll()).toEqual({ chainId: s.chainId, changed: [], removed: [] });
    const restarted = indexerFor(s, db);
    const seen = collector(restarted);
    expect(await restarted.poll()).toEqual({ chainId: s.chainId, changed: [], removed: [] });
    expect(seen).toEqual([]);
    expect(await restarted.events({})).toEqual(before);
    expect(await restarted.head()).toEqual(head);
    const [{ n }] = await db.sql.q<[{ n: bigint }]>(`SELECT count(*)::bigint AS n FROM "chain_index_events"`);
    expect(n).toBe(BigInt(before.length));
  });

  it("moves events observed -> safe -> final as blocks are mined (depths on a local chain: 2 and 6)", async () => {
    await mineEmpty(s, 6);
    await indexer.poll(); // everything so far is final now
    const receipt = await mined(s.c.anchor.connect(s.deployer).grantRole(await s.c.anchor.ANCHOR_ROLE(), s.anchorer.address));
    const at = BigInt(receipt.blockNumber);
    const seen = collector(indexer);
    const first = await indexer.poll();
    expect(summary(first.changed)).toEqual([`RoleGranted@${at}:observed`]);
    expect(await indexer.head()).toEqual({ indexed: at, safe: at - 2n, final: at - 6n });

    await rpc(s, "hardhat_mine", ["0x1"]);
    expect((await indexer.poll()).changed).toEqual([]); // one block on top: still observed
    await rpc(s, "hardhat_mine", ["0x1"]);
    const safe = await indexer.poll();
    expect(summary(safe.changed)).toEqual([`RoleGranted@${at}:safe`]);
    expect(await indexer.head()).toEqual({ indexed: at + 2n, safe: at, final: at - 4n });

    await rpc(s, "hardhat_mine", ["0x3"]);
    expect((await indexer.poll()).changed).toEqual([]);
    await rpc(s, "hardhat_mine", ["0x1"]);
    const final = await indexer.poll();
    expect(summary(final.changed)).toEqual([`RoleGranted@${at}:final`]);
    expect((await indexer.events({ name: "RoleGranted" })).at(-1)!.state).toBe("final");
    expect(seen.map((c) => summary(c.changed))).toEqual([[`RoleGranted@${at}:observed`], [`RoleGranted@${at}:safe`], [`RoleGranted@${at}:final`]]);
    // Earlier events were ingested below the final depth straight away and never reported again.
    expect((await indexer.events({})).every((e) => e.state === "final")).toBe(true);
    // Only the unfinalized window's headers are kept.
    const blocks = await db.sql.q<Array<{ number: bigint }>>(`SELECT "number" FROM "chain_index_blocks" ORDER BY "number"`);
    expect(blocks.map((b) => b.number)).toEqual([at, at + 1n, at + 2n, at + 3n, at + 4n, at + 5n, at + 6n]);
  });

  it("runs listeners after the commit, and re-delivers a change to a listener that threw, in order, on the next poll", async () => {
    const log = memoryLog();
    const idx = indexerFor(s, db, { log });
    // First the database away (a terminated connection: an outage, said at warn by its code), then a real failure.
    let failWith: Error | null = Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" });
    const calls: Array<{ names: string[]; visible: number }> = [];
    idx.onChange(async (c) => {
      if (c.changed[0]?.name !== "RoleRevoked") return;
      // The events are already committed: a fresh read sees them.
      const visible = (await idx.events({ txHash: c.changed[0].txHash })).length;
      calls.push({ names: c.changed.map((e) => e.name), visible });
      if (failWith !== null) throw failWith;
    });
    // The anchorer was frozen above (role revoked): give it the role back, so revoking it emits.
    await mined(s.c.anchor.connect(s.deployer).grantRole(await s.c.anchor.ANCHOR_ROLE(), s.anchorer.address));
    await mineEmpty(s, 6);
    await idx.poll();
    const steady = collector(idx);
    calls.length = 0;
    log.lines.length = 0;
    await mined(s.c.anchor.connect(s.deployer).revokeRole(await s.c.anchor.ANCHOR_ROLE(), s.anchorer.address));
    const change = await idx.poll();
    expect(change.changed.map((e) => e.name)).toEqual(["RoleRevoked"]);
    expect(calls).toEqual([{ names: ["RoleRevoked"], visible: 1 }]);
    expect(log.lines.map((l) => [l.level, l.msg])).toEqual([["warn", expect.stringContaining("listener could not write (the database fails transiently)") as string]]);
    expect(log.lines[0]!.obj).toMatchObject({ code: "ENT_DB_UNAVAILABLE", transient: true, sqlState: "57P01", pendingChanges: 1 });
    failWith = new Error("listener down");
    await idx.poll(); // nothing new on chain: the failed change comes again
    expect(log.lines.filter((l) => l.level === "error").map((l) => l.msg)).toEqual([expect.stringContaining("listener failed") as string]);
    failWith = null;
    await mineEmpty(s, 1);
    await idx.poll();
    expect(calls).toEqual([
      { names: ["RoleRevoked"], visible: 1 },
      { names: ["RoleRevoked"], visible: 1 },
      { names: ["RoleRevoked"], visible: 1 },
    ]);
    expect(steady.map((c) => c.changed.map((e) => e.name))).toEqual([["RoleRevoked"]]);
    await idx.poll();
    expect(calls).toHaveLength(3);
  });

  it("keeps a log two indexed deployments share in both indexes (a sweep from a retired vault to its successor)", async () => {
    const successor = await deploySystem(s.deployer, { network: s.connection.networkName, deploymentsDir: null, token });
    const next = successor.record.contracts.SettlementVault.address;
    expect(next).not.toBe(vault);
    const sweep = await mined(s.c.vault.sweepExcess(next, 1n * USDC));
    const newIndexer = new ChainIndexer({ sql: db.sql, provider: s.connection.ethers.provider, record: successor.record, log: memoryLog() });
    await Promise.all([indexer.poll(), newIndexer.poll()]);
    const inOld = await indexer.events({ txHash: sweep.hash, name: "Transfer" });
    const inNew = await newIndexer.events({ txHash: sweep.hash });
    expect(inOld.map((e) => e.args)).toEqual([{ from: vault, to: next, value: (1n * USDC).toString() }]);
    expect(inNew).toEqual(inOld);
    expect((await newIndexer.events({})).some((e) => e.name === "ExcessSwept")).toBe(false); // the old vault's own event is not the new index's
  });

  it("splits ranges: maxBlocksPerQuery 2, a node refusing answers of more than 4 logs, spans following log density, and a provider without raw send give the same index", async () => {
    await indexer.poll();
    const reference = await indexer.events({});
    const provider = s.connection.ethers.provider;
    let refused = 0;
    let getLogs = 0;
    // Methods bound to the real provider: its private fields do not follow a Proxy receiver.
    const member = (target: typeof provider, prop: string | symbol) => {
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    };
    // Counts eth_getLogs calls; with a limit, refuses larger answers the way Infura does (on the real node's real answer).
    const counting = (limit: number) =>
      new Proxy(provider, {
        get(target, prop) {
          if (prop !== "send") return member(target, prop);
          return async (method: string, params: unknown[]) => {
            const r = (await target.send(method, params)) as unknown;
            if (method === "eth_getLogs") {
              getLogs++;
              if ((r as unknown[]).length > limit) {
                refused++;
                throw Object.assign(new Error(`query returned more than ${limit} results`), { code: -32005 });
              }
            }
            return r;
          };
        },
      }) as Provider;
    const noSend = new Proxy(provider, {
      get(target, prop) {
        if (prop === "send") return undefined;
        return member(target, prop);
      },
    });
    // The index is a cache of the chain: wiping it and indexing again must give the same rows.
    const wipe = wipeIndex;
    const ranges: Record<string, number> = {};
    for (const [opts, name] of [
      [{ maxBlocksPerQuery: 2 }, "small ranges"],
      [{ provider: counting(4) }, "limited node"],
      [{ provider: counting(Infinity), maxBlocksPerQuery: 10, targetLogsPerRange: 3 }, "dense ranges"],
      [{ provider: noSend as Provider, maxBlocksPerQuery: 50 }, "typed provider"],
    ] as const) {
      await wipe();
      const log = memoryLog();
      const idx = indexerFor(s, db, { ...opts, log });
      const calls = getLogs;
      const change = await idx.poll();
      ranges[name] = (getLogs - calls) / 3; // three log queries per range
      expect(await idx.events({}), name).toEqual(reference);
      expect(change.changed, name).toEqual(reference);
      expect((await idx.head()).indexed, name).toBe(await headNumber(s));
      if (name === "limited node") expect(log.lines.some((l) => l.msg.includes("smaller ranges"))).toBe(true);
    }
    expect(refused).toBeGreaterThan(0);
    // A poll stops after the range reaching maxEventsPerPoll; the next ones resume where it stopped.
    await wipe();
    const capped = indexerFor(s, db, { maxBlocksPerQuery: 3, maxEventsPerPoll: 5 });
    const parts: IndexedEvent[] = [];
    let polls = 0;
    while ((await capped.head()).indexed < (await headNumber(s))) {
      const change = await capped.poll();
      parts.push(...change.changed.filter((e) => !parts.some((p) => p.txHash === e.txHash && p.logIndex === e.logIndex)));
      polls++;
    }
    expect(polls).toBeGreaterThan(2);
    expect(await capped.events({})).toEqual(reference);
    expect(parts.map((e) => `${e.txHash}:${e.logIndex}`)).toEqual(reference.map((e) => `${e.txHash}:${e.logIndex}`));
    // Spans follow the log density: far more ranges than 10-block spans alone would need.
    const blocks = Number((await headNumber(s)) - BigInt(s.result.record.deployBlock) + 1n);
    expect(ranges["dense ranges"]).toBeGreaterThan(Math.ceil(blocks / 10) + 3);
  });

  it("with finality 'tags' on EDR, which answers safe/finalized with its head, calls everything final at once (why 'auto' uses depths on local chains)", async () => {
    const idx = indexerFor(s, db, { finality: "tags" });
    const head = await headNumber(s);
    const before = BigInt(s.result.record.deployBlock) - 1n;
    expect(await idx.head()).toEqual({ indexed: before, safe: before, final: before });
    const change = await idx.poll();
    expect(change.changed.length).toBeGreaterThan(20);
    expect(change.changed.every((e) => e.state === "final")).toBe(true);
    expect(await idx.head()).toEqual({ indexed: head, safe: head, final: head });
  });

  it("refuses a provider on another chain and a record whose deploy block is not the node's", async () => {
    const record = { ...s.result.record, chainId: "1" };
    const wrongChain = new ChainIndexer({ sql: db.sql, provider: s.connection.ethers.provider, record, log: memoryLog() });
    await expect(wrongChain.poll()).rejects.toMatchObject({ code: "ENT_INDEXER_CHAIN_MISMATCH" });
    const stale = { ...s.result.record, deployBlockHash: keccak256(toUtf8Bytes("another chain")) };
    const wrongRecord = new ChainIndexer({ sql: db.sql, provider: s.connection.ethers.provider, record: stale, log: memoryLog() });
    await expect(wrongRecord.poll()).rejects.toMatchObject({ code: "ENT_INDEXER_DEPLOYMENT_MISMATCH" });
    expect(() => indexerFor(s, db, { safeDepth: 7, confirmations: 6 })).toThrow(expect.objectContaining({ code: "ENT_INDEXER_INVALID_OPTION" }) as Error);
    expect(ZeroAddress).toBe("0x0000000000000000000000000000000000000000");
  });
});
