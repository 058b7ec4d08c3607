/**
 * The payout worker as its own process, for the crash-injection test: the real services on a
 * PostgreSQL database and a `hardhat node` over JSON-RPC, looping sender tick -> index poll ->
 * payouts tick until every payout batch of the vault is final.
 *
 * CRASH_AT=<step>[#n] makes the process SIGKILL itself (no cleanup, no finally, like a power cut)
 * the n-th time (default 1st) it reaches that step: a PayoutStep ("batch-recorded",
 * "intent-recorded", "submitted", "before-booking") or "before-broadcast" (inside the sender:
 * signed and committed, not yet broadcast). Prints one JSON line `{"done":...}` and exits 0 when
 * everything is final; exits 2 on timeout.
 *
 * Env: DATABASE_URL, RPC_URL, RECORD_FILE (a deployment record), PAYER_KEY, CRASH_AT (optional).
 */
import { readFile } from "node:fs/promises";
import { JsonRpcProvider, Wallet } from "ethers";
import { ChainIndexer } from "../../../service/chain/indexer/index.js";
import type { DeploymentRecord } from "../../../service/chain/deployment-record.js";
import { TxSender } from "../../../service/chain/sender.js";
import { loadConfig } from "../../../service/config.js";
import { openDatabase } from "../../../service/db/index.js";
import { PayoutService } from "../../../service/payouts/index.js";
import { createServices } from "../../../service/services.js";

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === "") throw new Error(`${name} is required`);
  return v;
}

const [crashStep, crashNth] = (process.env["CRASH_AT"] ?? "").split("#");
let reached = 0;
function maybeCrash(step: string): void {
  if (step !== crashStep) return;
  reached++;
  if (reached < Number(crashNth ?? "1")) return;
  process.stdout.write(`${JSON.stringify({ crashing: step, n: reached })}\n`);
  process.kill(process.pid, "SIGKILL");
}

const record = JSON.parse(await readFile(env("RECORD_FILE"), "utf8")) as DeploymentRecord;
const chainId = BigInt(record.chainId);
// The test migrated the database; a worker never races it.
const db = await openDatabase({ url: env("DATABASE_URL"), poolSize: 4, migrate: false });
const services = createServices(db, loadConfig({ LOG_LEVEL: "silent" }));
const provider = new JsonRpcProvider(env("RPC_URL"), Number(chainId), { staticNetwork: true, pollingInterval: 100 });
const payer = new Wallet(env("PAYER_KEY"), provider);
const quiet = { info: () => undefined, warn: () => undefined, error: (o: object, m?: string) => process.stderr.write(`${m ?? ""} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`) };
const sender = new TxSender({
  sql: db.sql,
  provider,
  chainId,
  signers: [payer],
  record,
  log: quiet,
  hooks: { beforeBroadcast: () => maybeCrash("before-broadcast") },
});
const indexer = new ChainIndexer({ sql: db.sql, provider, record, confirmations: 2, safeDepth: 1, log: quiet });
const payouts = new PayoutService({
  sql: db.sql,
  ledger: services.ledger,
  fx: services.fx,
  sellers: services.settlement,
  chain: { chainId, provider, record, sender, index: indexer, payer: payer.address },
  intervalMs: 1,
  retryAfterMs: 500,
  log: quiet,
  hooks: { at: (step) => maybeCrash(step) },
});
indexer.onChange((change) => payouts.onIndexed(change));

const deadline = Date.now() + 90_000;
for (;;) {
  await sender.tick();
  await indexer.poll();
  await payouts.tick();
  const batches = await payouts.listBatches();
  if (batches.length > 0 && batches.every((b) => b.status === "final")) {
    // The index can see a batch final before the sender's next tick has read the receipt: one more
    // tick so the sender's own record says mined too.
    await sender.tick();
    process.stdout.write(`${JSON.stringify({ done: batches.map((b) => ({ id: b.id.toString(), status: b.status, tx: b.txHash })) })}\n`);
    break;
  }
  if (Date.now() > deadline) {
    process.stdout.write(`${JSON.stringify({ timeout: batches.map((b) => ({ id: b.id.toString(), status: b.status, error: b.error })) })}\n`);
    process.exit(2);
  }
  await new Promise((r) => setTimeout(r, 100));
}
provider.destroy();
await db.close();
process.exit(0);
