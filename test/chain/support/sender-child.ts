/**
 * A sender process for the crash tests (test/chain/sender-crash.test.ts), run with
 * `process.execPath --import tsx`. It submits one transaction per key in SENDER_KEYS from the
 * anchorer (dev account #1) over JSON-RPC at SENDER_RPC_URL, recording in SENDER_DATABASE_URL
 * (PostgreSQL) or SENDER_PGLITE_DIR, then ticks until every record is mined and prints
 * `RESULT <json>`. SENDER_CRASH_AT makes it SIGKILL itself at one point:
 *   after-commit:<n>     the n-th key's transaction is committed, not broadcast
 *   after-broadcast:<n>  the n-th key's transaction reached the node, the record still says signed
 *   after-submit         every transaction is broadcast, no receipt recorded yet
 *   after-replace-commit a stuck transaction's replacement is committed, not broadcast
 * SENDER_STUCK_MS (default 30000) is the sender's stuckAfterMs.
 */
import { JsonRpcProvider, keccak256, Network, toUtf8Bytes } from "ethers";
import { loadSigners } from "../../../service/chain/keys.js";
import { TxSender, type ChainTx } from "../../../service/chain/sender.js";
import { openDatabase } from "../../../service/db/index.js";

const env = (name: string): string | undefined => process.env[name];
const crashAt = env("SENDER_CRASH_AT") ?? "";
const die = (): never => {
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable");
};

const db = await openDatabase(env("SENDER_DATABASE_URL") ? { url: env("SENDER_DATABASE_URL")! } : { dataDir: env("SENDER_PGLITE_DIR")! });
const provider = new JsonRpcProvider(env("SENDER_RPC_URL"), Network.from(31337n), { staticNetwork: true, cacheTimeout: -1 });
const { anchorer } = await loadSigners({}, 31337n, provider);
const keys = (env("SENDER_KEYS") ?? "").split(",").filter((k) => k !== "");
const to = env("SENDER_TO")!;

let submitting = 0;
const sender = new TxSender({
  sql: db.sql,
  provider,
  chainId: 31337n,
  signers: [anchorer],
  stuckAfterMs: Number(env("SENDER_STUCK_MS") ?? 30_000),
  hooks: {
    beforeBroadcast: (tx) => {
      if (crashAt === `after-commit:${submitting}`) die();
      if (crashAt === "after-replace-commit" && tx.hashes.length > 1) die();
    },
    afterBroadcast: () => {
      if (crashAt === `after-broadcast:${submitting}`) die();
    },
  },
});

for (const key of keys) {
  submitting++;
  await sender.submit({ key, purpose: "crash-test", from: anchorer.address, to, data: keccak256(toUtf8Bytes(key)) });
}
if (crashAt === "after-submit") die();

const deadline = Date.now() + 20_000;
let records: ChainTx[];
for (;;) {
  await sender.tick();
  records = (await Promise.all(keys.map((k) => sender.get(k)))).filter((r): r is ChainTx => r !== null);
  if (records.length === keys.length && records.every((r) => r.status === "mined")) break;
  if (Date.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`RESULT ${JSON.stringify(records, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`);
provider.destroy();
await db.close();
