/**
 * Anchoring throughput and cost, end to end: settlement events posted through SettlementService
 * (FX, fees, taxes, one journal transaction each) while the AnchorService batches the journal,
 * builds the trees (real leaf encoding, settlement facts read back from the settlement module),
 * commits each batch and submits it through the TxSender to SettlementAnchor on an in-process
 * Hardhat chain (automine: a block per transaction), until every settlement is in a mined batch.
 *
 * Figures:
 * - settlements anchored per second, end to end: N / (first post -> last batch mined), posting and
 *   anchoring running concurrently on one database (the service's real arrangement);
 * - anchoring alone: a backlog of N already-booked settlements anchored per second;
 * - gas per settlement at the configured batch size (5,000): anchorBatch gasUsed / leaves.
 * Targets and why (2-core machine; README's service-layer booking rates, 1,000 events per call:
 * 2,038/s PGlite, 3,464/s PostgreSQL):
 * - the anchoring stage alone must outrun booking, so that anchoring never falls behind: a
 *   backlog anchored at >= 3,000 settlements/s (read journal + settlement amounts, ~2 KB leaf
 *   each hashed twice with keccak, tree, commit, submit);
 * - end to end, posting and anchoring share the two cores (and on PGlite its single connection),
 *   and the figure can never exceed the booking rate: >= 2,000/s on PostgreSQL, >= 1,000/s on
 *   PGlite. "settlements booked/s meanwhile" is printed beside it as the bound;
 * - gas: one transaction per batch whatever its size (~49,600 gas), so <= 10 gas per settlement
 *   at 5,000 per batch (the contract's own figure in `npm run bench:gas`).
 * Standalone: `npx tsx scripts/bench/anchoring.ts [--url postgresql://...] [--seconds 8]`; with
 * BENCH_ANCHOR_LOG=1 each batch prints its phase timings (journal, settlements, leaves, tree, commit).
 */
import { Wallet } from "ethers";
import { network } from "hardhat";
import { AnchorService } from "../../service/anchoring/index.js";
import { deploySystem } from "../../service/chain/deploy.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { TxSender } from "../../service/chain/sender.js";
import { freshTarget } from "../lib/bench-db.js";
import { benchSettlementEngine, captureStream } from "../lib/bench-settlements.js";
import { figure, info, runBenchCli, type Figure } from "../lib/figures.js";

const BATCH = 5_000;
const POST_CHUNK = 1_000;
const TICK_MS = 200;

export async function benchAnchoring(opts: { databaseUrl?: string; seconds?: number }): Promise<Figure[]> {
  const seconds = opts.seconds ?? 8;
  // Whole batches only, so every batch is cut by count (the age trigger would cut a partial one).
  const n = Math.max(2, Math.round((2_500 * seconds) / BATCH)) * BATCH;
  const target = await freshTarget(opts.databaseUrl, 16);
  const connection = await network.create();
  try {
    const db = target.db;
    const where = db.kind === "postgres" ? "PostgreSQL" : "PGlite";
    const [deployer] = await connection.ethers.getSigners();
    if (deployer === undefined) throw new Error("the in-process network has no accounts");
    const { record } = await deploySystem(deployer, { network: connection.networkName, deploymentsDir: null });
    const provider = connection.ethers.provider;
    const chainId = (await provider.getNetwork()).chainId;
    const anchorer = new Wallet(devPrivateKey(1, chainId), provider);

    const { ledger, settlement } = await benchSettlementEngine(db);
    const sender = new TxSender({ sql: db.sql, provider, chainId, signers: [anchorer], record });
    const anchoring = new AnchorService({
      sql: db.sql,
      ledger,
      provider,
      chainId,
      anchor: record.contracts.SettlementAnchor.address,
      sender,
      anchorer: anchorer.address,
      batchMaxCount: BATCH,
      batchMaxAgeMs: 600_000,
      ...(process.env["BENCH_ANCHOR_LOG"] ? { log: { info: (o: object, m?: string) => console.log(m, JSON.stringify(o)), warn: () => undefined, error: () => undefined } } : {}),
    });

    const next = captureStream();
    const post = async (count: number) => {
      for (let done = 0; done < count; done += POST_CHUNK) {
        const rs = await settlement.postEvents(Array.from({ length: Math.min(POST_CHUNK, count - done) }, next));
        const bad = rs.find((r) => r.status !== "created");
        if (bad) throw new Error(`bench settlement not created: ${JSON.stringify(bad.status === "error" ? bad.error : bad.status)}`);
      }
    };
    /** Ticks anchoring and the sender until journal sequence `last` is in a mined batch. */
    const anchorUntil = async (last: bigint, posting: Promise<void> | null) => {
      let posted = posting === null;
      void posting?.then(() => (posted = true));
      for (;;) {
        await anchoring.tick();
        await sender.tick();
        if (posted && (await anchoring.statesOf([last.toString()])).get(last.toString())?.state === "observed") return;
        // The worker's poll interval (the service ticks every CHAIN_POLL_INTERVAL_MS, 1 s by default;
        // a tighter loop here would mostly measure the poster waiting behind idle ticks).
        await new Promise((r) => setTimeout(r, TICK_MS));
      }
    };

    // Warm-up (JIT, caches, pools, the first batch): one whole batch booked and anchored, untimed.
    await post(BATCH);
    await anchorUntil(BigInt(BATCH), null);

    // End to end: booking and anchoring at the same time.
    const t0 = performance.now();
    let booked = 0;
    const posting = post(n).then(() => {
      booked = performance.now();
    });
    await Promise.all([posting, anchorUntil(BigInt(BATCH + n), posting)]);
    const endToEnd = n / ((performance.now() - t0) / 1000);
    const booking = n / ((booked - t0) / 1000);

    // Anchoring alone: a backlog booked first, then anchored.
    await post(n);
    const t1 = performance.now();
    await anchorUntil(BigInt(BATCH + 2 * n), null);
    const alone = n / ((performance.now() - t1) / 1000);

    const batches = (await anchoring.listBatches({ limit: 1000 })).items.filter((b) => b.count === BATCH && b.txHash !== null);
    let gas = 0n;
    let leaves = 0;
    for (const b of batches) {
      const receipt = await provider.getTransactionReceipt(b.txHash!);
      if (receipt === null || receipt.status !== 1) throw new Error(`batch ${b.batchId} has no successful receipt`);
      gas += receipt.gasUsed;
      leaves += b.count;
    }
    if (batches.length === 0) throw new Error("no full batch was anchored");
    const perSettlement = Number(gas) / leaves;
    return [
      figure(
        `anchoring: settlements anchored/s end to end, posted and anchored concurrently, ${BATCH.toLocaleString("en-US")}/batch (${where})`,
        Math.round(endToEnd),
        "settlements/s",
        ">=",
        db.kind === "postgres" ? 2000 : 1000,
      ),
      figure(`anchoring: journal backlog anchored/s, ${BATCH.toLocaleString("en-US")}/batch (${where})`, Math.round(alone), "settlements/s", ">=", 3000),
      figure(`anchoring: gas per settlement at ${BATCH.toLocaleString("en-US")}/batch (${where})`, Math.round(perSettlement * 100) / 100, "gas", "<=", 10),
      info(`anchoring: settlements booked/s meanwhile, the end-to-end bound (${where})`, Math.round(booking), "settlements/s"),
      info(`anchoring: batches measured for gas (${where})`, batches.length, "batches"),
    ];
  } finally {
    await connection.close();
    await target.close();
  }
}

runBenchCli(import.meta.url, "Anchoring (in-process chain)", benchAnchoring);
