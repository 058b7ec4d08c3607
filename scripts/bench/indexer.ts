/**
 * Indexer catch-up: events per second ingested by a fresh index (empty database, polls from the
 * deploy block until it reaches the head) over an in-process Hardhat chain holding 100,000+ events of
 * the deployment. The chain is built once per process and shared by the PGlite and PostgreSQL
 * runs: payout batches of 250 payouts, each emitting 250 token Transfers from the vault plus one
 * PayoutBatchExecuted (the shape a real payout run leaves on chain). Only the catch-up is timed;
 * building the chain is reported for information.
 * The measurement is a fixed amount of work, so `seconds` is not used.
 * Standalone: `npx tsx scripts/bench/indexer.ts [--url postgresql://...]`.
 */
import { network } from "hardhat";
import { getAddress, hexlify, randomBytes, type ContractTransactionResponse } from "ethers";
import { attachSystem, packPayout } from "../../service/chain/contracts.js";
import { deploySystem } from "../../service/chain/deploy.js";
import type { DeploymentRecord } from "../../service/chain/deployment-record.js";
import { ChainIndexer } from "../../service/chain/indexer/index.js";
import { freshTarget } from "../lib/bench-db.js";
import { figure, info, runBenchCli, type Figure } from "../lib/figures.js";

export const INDEXER_BENCH_EVENTS = 100_000;
const PER_BATCH = 250;

type Connection = Awaited<ReturnType<typeof network.create>>;
interface BenchChain {
  connection: Connection;
  record: DeploymentRecord;
  events: number;
  buildSeconds: number;
}

let shared: Promise<BenchChain> | null = null;

async function buildChain(): Promise<BenchChain> {
  const started = performance.now();
  const connection = await network.create();
  const [deployer, , payer, , , treasury] = await connection.ethers.getSigners();
  const { record } = await deploySystem(deployer!, { network: connection.networkName, deploymentsDir: null });
  const c = attachSystem(record, deployer!);
  const mock = c.mock!;
  const vault = c.vault.connect(payer);
  const batches = Math.ceil(INDEXER_BENCH_EVENTS / (PER_BATCH + 1));
  const sellers = Array.from({ length: PER_BATCH }, () => getAddress(hexlify(randomBytes(20))));
  const amount = (i: number) => 1_000n + BigInt(i);
  const total = BigInt(batches) * sellers.reduce((t, _, i) => t + amount(i), 0n);
  await (await mock.mint(treasury!.address, total)).wait();
  await (await mock.connect(treasury).approve(record.contracts.SettlementVault.address, total)).wait();
  await (await c.vault.connect(treasury).fund(total)).wait();
  const payouts = sellers.map((s, i) => packPayout(s, amount(i)));
  // Automine: each transaction is mined when sent; only the last receipt needs waiting for.
  let last: ContractTransactionResponse | undefined;
  for (let b = 0; b < batches; b++) last = await vault.payout(BigInt(b + 1), BigInt(b * PER_BATCH + 1), payouts, { gasLimit: 8_000_000n });
  const receipt = await last!.wait();
  if (receipt?.status !== 1) throw new Error("the last payout batch of the bench chain failed");
  // The deployment's own events (role grants) and the funding add a few more.
  const events = batches * (PER_BATCH + 1);
  return { connection, record, events, buildSeconds: (performance.now() - started) / 1000 };
}

/** The bench chain of this process (built on first use). */
function benchChain(): Promise<BenchChain> {
  shared ??= buildChain();
  return shared;
}

export async function benchIndexer(opts: { databaseUrl?: string; seconds?: number }): Promise<Figure[]> {
  const firstUse = shared === null;
  const chain = await benchChain();
  const target = await freshTarget(opts.databaseUrl, 4);
  try {
    const where = target.db.kind === "postgres" ? "PostgreSQL" : "PGlite";
    const indexer = new ChainIndexer({
      sql: target.db.sql,
      provider: chain.connection.ethers.provider,
      record: chain.record,
      log: { info: () => undefined, warn: (o, m) => console.warn(m, o), error: (o, m) => console.error(m, o) },
    });
    const head = BigInt(await chain.connection.ethers.provider.getBlockNumber());
    const start = performance.now();
    let polls = 0;
    // Catch-up = polls until the index reaches the head (each poll holds at most maxEventsPerPoll events).
    while ((await indexer.head()).indexed < head) {
      await indexer.poll();
      polls++;
    }
    const seconds = (performance.now() - start) / 1000;
    const [{ n }] = await target.db.sql.q<[{ n: bigint }]>(`SELECT count(*)::bigint AS n FROM "chain_index_events"`);
    const ingested = Number(n);
    if (ingested < chain.events) throw new Error(`the indexer stored ${ingested} events, the chain holds at least ${chain.events}`);
    console.log(`indexer bench (${where}): ${ingested} events in ${seconds.toFixed(2)} s, ${polls} polls`);
    const figures = [figure(`indexer catch-up, ${ingested.toLocaleString("en-US")} events from the deploy block (${where})`, Math.round(ingested / seconds), "events/s", ">=", 10_000)];
    if (firstUse) figures.push(info(`indexer bench: building the chain of ${chain.events.toLocaleString("en-US")} payout events (in-process Hardhat)`, Math.round(chain.buildSeconds * 10) / 10, "s"));
    return figures;
  } finally {
    await target.close();
  }
}

/** Closes the shared bench chain (the in-process node); the next bench call builds a new one. */
export async function closeIndexerBenchChain(): Promise<void> {
  const c = shared;
  shared = null;
  if (c !== null) await (await c).connection.close();
}

runBenchCli(import.meta.url, "Event indexer", async (opts) => {
  try {
    return await benchIndexer(opts);
  } finally {
    await closeIndexerBenchChain();
  }
});
