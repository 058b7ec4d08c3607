/**
 * A `hardhat node` child process on 127.0.0.1 (chain 31337, the public dev accounts funded): for
 * `npm start` and for tests that need a chain outliving a process (crash tests). Started with
 * `process.execPath` (the Node 24 running us: Hardhat refuses older ones) and stopped with SIGTERM,
 * then SIGKILL if it does not exit; it is also killed if this process exits first.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { PROJECT_ROOT } from "./artifacts.js";
import { ChainErrors } from "./sender-errors.js";

const HARDHAT_CLI = path.join(PROJECT_ROOT, "node_modules", "hardhat", "dist", "src", "cli.js");

export interface LocalNode {
  url: string;
  /** Process id of the node (for diagnostics). */
  pid: number;
  stop(): Promise<void>;
}

export interface LocalNodeOptions {
  /** TCP port; a free one when absent. */
  port?: number;
  /** How long to wait for JSON-RPC to answer; default 60 s (a cold start compiles nothing but loads a lot). */
  startTimeoutMs?: number;
  /**
   * Hardhat network config the node simulates (hardhat.config.ts); default Hardhat's own (automine
   * only). `npm start` uses `devnode`, which also mines a block every second.
   */
  network?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
      signal: AbortSignal.timeout(2_000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

export async function startLocalNode(opts: LocalNodeOptions = {}): Promise<LocalNode> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  if (opts.port !== undefined && (await answers(url))) {
    throw ChainErrors.localNodeFailed(`something already answers JSON-RPC on ${url}`);
  }
  const child = spawn(process.execPath, [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(port), ...(opts.network === undefined ? [] : ["--network", opts.network])], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // The node prints every request; keep only the tail for a failure message.
  let tail = "";
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (exited) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exit;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  while (!(await answers(url))) {
    if (exited !== null || Date.now() > deadline) {
      await stop();
      const why = exited === null ? "timed out" : `exited (${JSON.stringify(exited)})`;
      throw ChainErrors.localNodeFailed(`hardhat node on ${url} ${why}: ${tail.slice(-1_000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, pid: child.pid!, stop };
}
