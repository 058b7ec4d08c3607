/**
 * `npm run verify -- <proof.json> [--rpc URL] [--min-confirmations N] [--finality-depth N] [--json]`
 *
 * Verifies an anchoring proof (GET /v1/settlements/:id/proof) against any JSON-RPC endpoint, with
 * nothing but the proof file: no database, no deployment record. Prints every check; exits 0 when
 * all pass, 1 when any fails (or the node cannot be reached), 2 on a usage error (bad arguments, a
 * file that cannot be read, is empty, is not JSON, or is the API's problem document instead of a proof).
 */
import { readFile } from "node:fs/promises";
import { JsonRpcProvider, Network } from "ethers";
import { verifyProof, type ProofReport } from "../service/anchoring/proof.js";

const USAGE = "usage: npm run verify -- <proof.json> [--rpc URL] [--min-confirmations N] [--finality-depth N] [--json]";
const DEFAULT_RPC = "http://127.0.0.1:8545";

class UsageError extends Error {}
/** A file that holds the API's problem document instead of a proof: exit 2, without the usage line. */
class NotAProof extends UsageError {}

interface Args {
  file: string;
  rpc: string;
  minConfirmations: number;
  finalityDepth: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  let file: string | undefined;
  let rpc = DEFAULT_RPC;
  let minConfirmations = 1;
  let finalityDepth = 12;
  let json = false;
  const count = (name: string, v: string | undefined, min: number) => {
    if (v === undefined || !/^\d{1,6}$/.test(v) || Number(v) < min) throw new UsageError(`${name} needs an integer >= ${min}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--rpc") {
      const v = argv[++i];
      if (v === undefined || !/^https?:\/\/\S+$/.test(v)) throw new UsageError("--rpc needs an http(s):// URL");
      rpc = v;
    } else if (a === "--min-confirmations") minConfirmations = count(a, argv[++i], 0);
    else if (a === "--finality-depth") finalityDepth = count(a, argv[++i], 1);
    else if (a === "--json") json = true;
    else if (a === "--help" || a === "-h") throw new UsageError("");
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else if (file === undefined) file = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (file === undefined) throw new UsageError("the proof file is missing");
  return { file, rpc, minConfirmations, finalityDepth, json };
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
  const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
  console.log(failed.length === 0 ? `\nVERIFIED: all ${report.checks.length} checks passed` : `\nNOT VERIFIED: ${failed.length} check(s) failed: ${failed.join(", ")}`);
  // Another chain or no contract: most likely the wrong node, not a forged proof.
  if (failed.includes("chain-id") || failed.includes("contract-code")) {
    console.log(
      `hint: the node at ${rpc} is not the chain this proof was anchored on (or not that chain's state): pass --rpc with a node of that chain. ` +
        "npm start prints its chain's URL when 8545 was taken, and a local chain started again is a new, empty chain.",
    );
  }
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  let proof: unknown;
  try {
    args = parseArgs(argv);
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
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`error: ${e.message}`);
    if (!(e instanceof NotAProof)) console.error(USAGE);
    return 2;
  }
  let chainId: bigint;
  try {
    chainId = await chainIdAt(args.rpc);
  } catch (e) {
    console.error(`FAIL  rpc  cannot reach a JSON-RPC node at ${args.rpc}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  // A static network: the provider never polls or retries network detection on its own.
  const provider = new JsonRpcProvider(args.rpc, Network.from(chainId), { staticNetwork: true, batchMaxCount: 1 });
  try {
    const report = await verifyProof(proof, provider, { minConfirmations: args.minConfirmations, finalityDepth: args.finalityDepth });
    if (args.json) console.log(JSON.stringify(report, null, 2));
    else print(report, args.rpc);
    return report.ok ? 0 : 1;
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
