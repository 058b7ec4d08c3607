/**
 * `npm run verify -- <proof.json> --anchor 0x… [--document report.json] [--rpc URL]
 *   [--min-confirmations N] [--finality-depth N] [--json]`
 *
 * Verifies an anchoring proof (GET /v1/settlements/:id/proof) against any JSON-RPC endpoint, with
 * nothing but the proof file and the trust anchor: the SettlementAnchor address the operator
 * publishes, given with `--anchor` (or ENTREPOT_ANCHOR). The proof names its contract itself, and
 * anyone can deploy a SettlementAnchor of their own, so without a pinned address no proof is
 * VERIFIED. `--document` also checks a period close's report against the anchored digest.
 *
 * Prints every check, what the leaf states and what the proof carries unchecked. Exit codes:
 * 0 VERIFIED (every check passed and the anchoring block is final); 1 NOT VERIFIED (a check failed,
 * or the node cannot be reached); 2 a usage error (bad arguments, a file that cannot be read, is
 * empty, is not JSON, or is the API's problem document instead of a proof); 3 VERIFIED, NOT FINAL
 * (every check passed, but the anchoring block can still be reorganised away); 4 NOT VERIFIED,
 * contract not pinned (every other check passed, against the contract the proof names).
 *
 * `npm run verify -- --history --api URL --key KEY --anchor 0x… [--rpc URL] [--from-block N]
 *   [--block-range N] [--finality-depth N] [--json]` audits the whole anchored journal instead
 * (service/anchoring/audit.ts): every batch the pinned contract holds, read from the chain, against
 * the API's batches and leaves (a finance:read key; ENTREPOT_API_KEY keeps it off the command
 * line). The same exit codes: 0 every check passed and every batch is final, 1 a check failed (or
 * the node or the API cannot be read), 2 usage, 3 not final yet, 4 not pinned.
 */
import { readFile } from "node:fs/promises";
import { isAddress, JsonRpcProvider, Network } from "ethers";
import { apiHistorySource, auditHistory, historyVerdictLine, type HistoryReport } from "../service/anchoring/audit.js";
import { verdictLine, verifyProof, type ProofReport, type ProofVerdict } from "../service/anchoring/proof.js";

const USAGE =
  "usage: npm run verify -- <proof.json> --anchor <SettlementAnchor address> [--document report.json] [--rpc URL] [--min-confirmations N] [--finality-depth N] [--json]\n" +
  "       npm run verify -- --history --anchor <SettlementAnchor address> --api <URL> --key <finance:read key> [--rpc URL] [--from-block N] [--block-range N] [--finality-depth N] [--json]";
const DEFAULT_API = "http://localhost:3000";
const DEFAULT_RPC = "http://127.0.0.1:8545";
/** The service's CHAIN_CONFIRMATIONS default: a block this deep counts as final where the chain's tags are not used. */
const DEFAULT_FINALITY_DEPTH = 12;
const PIN_HINT =
  "Pin the contract: --anchor <address> (or ENTREPOT_ANCHOR=<address>), the SettlementAnchor address the operator publishes, taken from that published source, never from the proof or the server that gave it to you.";

/** Exit codes by verdict (a usage error is 2). */
const EXIT: Record<ProofVerdict, number> = { verified: 0, failed: 1, "not-final": 3, unpinned: 4 };

class UsageError extends Error {}
/** A file that holds the API's problem document instead of a proof: exit 2, without the usage line. */
class NotAProof extends UsageError {}

interface Args {
  file: string;
  anchor: string | undefined;
  document: string | undefined;
  rpc: string;
  minConfirmations: number;
  finalityDepth: number;
  json: boolean;
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Args {
  let file: string | undefined;
  let rpc = DEFAULT_RPC;
  let anchor = env["ENTREPOT_ANCHOR"] === undefined || env["ENTREPOT_ANCHOR"] === "" ? undefined : env["ENTREPOT_ANCHOR"];
  let document: string | undefined;
  let minConfirmations = 1;
  const count = (name: string, v: string | undefined, min: number) => {
    if (v === undefined || !/^\d{1,6}$/.test(v) || Number(v) < min) throw new UsageError(`${name} needs an integer >= ${min}`);
    return Number(v);
  };
  // The operator's own shell may hold the service's setting: the same depth then counts as final.
  let finalityDepth = env["CHAIN_CONFIRMATIONS"] === undefined ? DEFAULT_FINALITY_DEPTH : count("CHAIN_CONFIRMATIONS", env["CHAIN_CONFIRMATIONS"], 1);
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--rpc") {
      const v = argv[++i];
      if (v === undefined || !/^https?:\/\/\S+$/.test(v)) throw new UsageError("--rpc needs an http(s):// URL");
      rpc = v;
    } else if (a === "--anchor") anchor = argv[++i] ?? "";
    else if (a === "--document") {
      document = argv[++i];
      if (document === undefined) throw new UsageError("--document needs a file (a period close's report: GET /v1/ledger/periods/:id/report)");
    } else if (a === "--min-confirmations") minConfirmations = count(a, argv[++i], 0);
    else if (a === "--finality-depth") finalityDepth = count(a, argv[++i], 1);
    else if (a === "--json") json = true;
    else if (a === "--help" || a === "-h") throw new UsageError("");
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else if (file === undefined) file = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (file === undefined) throw new UsageError("the proof file is missing");
  if (anchor !== undefined && !isAddress(anchor)) throw new UsageError(`--anchor (or ENTREPOT_ANCHOR) needs a 0x address, got ${JSON.stringify(anchor)}`);
  return { file, anchor, document, rpc, minConfirmations, finalityDepth, json };
}

interface HistoryArgs {
  api: string;
  key: string;
  anchor: string | undefined;
  rpc: string;
  fromBlock: number;
  blockRange: number;
  finalityDepth: number;
  json: boolean;
}

/** `--history`: the whole journal against the chain, through the API (ENTREPOT_API_KEY may hold the key, kept off the command line). */
function parseHistoryArgs(argv: string[], env: NodeJS.ProcessEnv): HistoryArgs {
  const set = (v: string | undefined) => (v === undefined || v === "" ? undefined : v);
  let api = set(env["ENTREPOT_API"]) ?? DEFAULT_API;
  let key = set(env["ENTREPOT_API_KEY"]);
  let anchor = set(env["ENTREPOT_ANCHOR"]);
  let rpc = DEFAULT_RPC;
  const count = (name: string, v: string | undefined, min: number, digits = 6) => {
    if (v === undefined || !new RegExp(`^\\d{1,${digits}}$`).test(v) || Number(v) < min) throw new UsageError(`${name} needs an integer >= ${min}`);
    return Number(v);
  };
  let fromBlock = 0;
  let blockRange = 10_000;
  let finalityDepth = env["CHAIN_CONFIRMATIONS"] === undefined ? DEFAULT_FINALITY_DEPTH : count("CHAIN_CONFIRMATIONS", env["CHAIN_CONFIRMATIONS"], 1);
  let json = false;
  const url = (name: string, v: string | undefined) => {
    if (v === undefined || !/^https?:\/\/\S+$/.test(v)) throw new UsageError(`${name} needs an http(s):// URL`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--history") continue;
    else if (a === "--api") api = url(a, argv[++i]);
    else if (a === "--key") key = argv[++i] ?? "";
    else if (a === "--rpc") rpc = url(a, argv[++i]);
    else if (a === "--anchor") anchor = argv[++i] ?? "";
    else if (a === "--from-block") fromBlock = count(a, argv[++i], 0, 12);
    else if (a === "--block-range") blockRange = count(a, argv[++i], 1);
    else if (a === "--finality-depth") finalityDepth = count(a, argv[++i], 1);
    else if (a === "--json") json = true;
    else if (a === "--help" || a === "-h") throw new UsageError("");
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a} (with --history)`);
    else throw new UsageError(`unexpected argument ${a}: --history audits every batch, without a proof file`);
  }
  if (key === undefined || key === "") throw new UsageError("--history needs a finance:read API key: --key <key> (or ENTREPOT_API_KEY)");
  if (anchor !== undefined && !isAddress(anchor)) throw new UsageError(`--anchor (or ENTREPOT_ANCHOR) needs a 0x address, got ${JSON.stringify(anchor)}`);
  return { api, key, anchor, rpc, fromBlock, blockRange, finalityDepth, json };
}

function printHistory(report: HistoryReport): void {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  for (const c of report.checks) console.log(`${c.ok ? "PASS" : "FAIL"}  ${c.name.padEnd(width)}  ${c.detail}`);
  const s = report.summary;
  if (s !== undefined) {
    console.log(
      `\nHistory${report.ok ? "" : " (NOT established: a check failed)"}: ${s.batchesOnChain} batches on chain anchor journal 1..${s.anchoredThrough} ` +
        `(${s.transactions} transactions, ${s.documents} documents); journal head ${s.journalHead}, ${s.unanchored} not anchored yet` +
        (s.pendingBatches.length > 0 ? `; batches not on chain yet: ${s.pendingBatches.join(", ")}` : ""),
    );
  }
  console.log(`\n${historyVerdictLine(report, PIN_HINT)}`);
}

async function historyMain(argv: string[]): Promise<number> {
  let args: HistoryArgs;
  try {
    args = parseHistoryArgs(argv, process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`error: ${e.message}`);
    console.error(USAGE);
    return 2;
  }
  const provider = await providerAt(args.rpc);
  if (provider === null) return 1;
  try {
    const report = await auditHistory(apiHistorySource(args.api, args.key), provider, {
      fromBlock: args.fromBlock,
      blockRange: args.blockRange,
      finalityDepth: args.finalityDepth,
      ...(args.anchor === undefined ? {} : { anchor: args.anchor }),
      ...(process.stderr.isTTY ? { progress: (line: string) => process.stderr.write(`\r${line}\x1b[K`) } : {}),
    });
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
    if (args.json) console.log(JSON.stringify(report, null, 2));
    else printHistory(report);
    return EXIT[report.verdict];
  } finally {
    provider.destroy();
  }
}

/**
 * The API's problem document saved in place of a proof (the proof was asked for before its batch was
 * anchored, or with the wrong key), said as such rather than as a proof with a wrong format.
 */
function problemOf(v: unknown): string | null {
  if (typeof v !== "object" || v === null) return null;
  const p = v as Record<string, unknown>;
  if (typeof p["code"] !== "string" || typeof p["status"] !== "number") return null;
  const detail = typeof p["detail"] === "string" ? `: ${p["detail"]}` : "";
  const hint = p["code"] === "ENT_ANCHOR_NOT_ANCHORED" ? " (anchored within a few seconds of booking: fetch the proof again)" : "";
  return `${p["status"]} ${p["code"]}${detail}${hint}`;
}

/**
 * A provider for the node at `url` on the chain it says it is (a static network: the provider never
 * polls or retries network detection on its own), or null, said on stderr, when it cannot be reached.
 */
async function providerAt(url: string): Promise<JsonRpcProvider | null> {
  try {
    return new JsonRpcProvider(url, Network.from(await chainIdAt(url)), { staticNetwork: true, batchMaxCount: 1 });
  } catch (e) {
    console.error(`FAIL  rpc  cannot reach a JSON-RPC node at ${url}: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
}

async function chainIdAt(url: string): Promise<bigint> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { result?: unknown };
  if (typeof body.result !== "string") throw new Error(`no chain id in the answer (HTTP ${res.status})`);
  return BigInt(body.result);
}

function print(report: ProofReport, rpc: string): void {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  for (const c of report.checks) console.log(`${c.ok ? "PASS" : "FAIL"}  ${c.name.padEnd(width)}  ${c.detail}`);
  if (report.facts.length > 0) {
    console.log(`\nWhat the leaf states${report.ok ? " (bound by the checks above)" : " (NOT established: a check failed)"}:`);
    const w = Math.max(...report.facts.map((f) => f.name.length));
    for (const f of report.facts) console.log(`  ${f.name.padEnd(w)}  ${f.value}`);
  }
  if (report.unverified.length > 0) {
    console.log("\nIn the proof but not covered by these checks (the service's word only):");
    for (const u of report.unverified) console.log(`  ${u.field}: ${u.why}`);
  }
  console.log(`\n${verdictLine(report, PIN_HINT)}`);
  const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
  // Another chain or no contract: most likely the wrong node, not a forged proof.
  if (failed.includes("chain-id") || failed.includes("contract-code")) {
    console.log(
      `hint: the node at ${rpc} is not the chain this proof was anchored on (or not that chain's state): pass --rpc with a node of that chain. ` +
        "npm start prints its chain's URL when 8545 was taken, and a local chain started again is a new, empty chain.",
    );
  }
}

/** The `--document` file as JSON (a usage error when it cannot be read). */
async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(`${file} is not JSON (${what})`);
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--history")) return historyMain(argv);
  let args: Args;
  let proof: unknown;
  let document: unknown;
  try {
    args = parseArgs(argv, process.env);
    let text: string;
    try {
      text = await readFile(args.file, "utf8");
    } catch (e) {
      throw new UsageError(`cannot read ${args.file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    // What `curl -sf … > proof.json` leaves when the fetch failed: say so rather than "not JSON".
    if (text.trim() === "") throw new NotAProof(`${args.file} is empty: the proof was not saved (its fetch failed; fetch it again)`);
    try {
      proof = JSON.parse(text);
    } catch {
      throw new UsageError(`${args.file} is not JSON`);
    }
    const problem = problemOf(proof);
    if (problem !== null) throw new NotAProof(`${args.file} is not a proof but the API's answer: ${problem}`);
    if (args.document !== undefined) document = await readJson(args.document, "a period close's report");
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`error: ${e.message}`);
    if (!(e instanceof NotAProof)) console.error(USAGE);
    return 2;
  }
  const provider = await providerAt(args.rpc);
  if (provider === null) return 1;
  try {
    const report = await verifyProof(proof, provider, {
      minConfirmations: args.minConfirmations,
      finalityDepth: args.finalityDepth,
      ...(args.anchor === undefined ? {} : { anchor: args.anchor }),
      ...(args.document === undefined ? {} : { document }),
    });
    if (args.json) console.log(JSON.stringify(report, null, 2));
    else print(report, args.rpc);
    return EXIT[report.verdict];
  } finally {
    provider.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  },
);
