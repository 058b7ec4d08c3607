/**
 * A `hardhat node` child process on 127.0.0.1 (chain 31337, the public dev accounts funded): for
 * `npm start` and for tests that need a chain outliving a process (crash tests). Started with
 * `process.execPath` (the Node 24 running us: Hardhat refuses older ones) and stopped with SIGTERM,
 * then SIGKILL if it does not exit; it is also killed if this process exits first.
 *
 * The port is claimed by the child itself, atomically: it listens on the port asked for, or on
 * port 0 (the kernel picks a free one), and the URL is taken from the child's own "Started HTTP
 * and WebSocket JSON-RPC server at …" line, never from a probe of the port. A port that is taken
 * makes the child's listen fail (EADDRINUSE) and the child exit, so a node that answers is always
 * OUR child, never another process's node found on a port we checked earlier (two `npm start`s
 * once chose the same port that way, and the second deployed onto the first's chain).
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { PROJECT_ROOT } from "./artifacts.js";
import { ChainErrors } from "./sender-errors.js";

const HARDHAT_CLI = path.join(PROJECT_ROOT, "node_modules", "hardhat", "dist", "src", "cli.js");

/** What `hardhat node` prints once it listens (Hardhat 3.x); the URL carries the port it bound. */
const STARTED = /Started HTTP and WebSocket JSON-RPC server at (http:\/\/[^\s/]+)/;

export interface LocalNode {
  url: string;
  /** Process id of the node (for diagnostics). */
  pid: number;
  stop(): Promise<void>;
}

export interface LocalNodeOptions {
  /** TCP port; a free one (chosen by the kernel for the child) when absent. */
  port?: number;
  /** When `port` is taken, start on a free one instead of failing with ENT_CHAIN_LOCAL_NODE_PORT_IN_USE. */
  anyPortIfBusy?: boolean;
  /** How long to wait for JSON-RPC to answer; default 60 s (a cold start compiles nothing but loads a lot). */
  startTimeoutMs?: number;
  /**
   * Hardhat network config the node simulates (hardhat.config.ts); default Hardhat's own (automine
   * only). `npm start` uses `devnode`, which also mines a block every second.
   */
  network?: string;
}

/** A port free at the time of the call (for tests that need a port where nothing listens). */
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
  try {
    return await spawnNode(opts.port ?? 0, opts);
  } catch (e) {
    const busy = e instanceof Error && "code" in e && e.code === ChainErrors.localNodePortInUse.code;
    if (busy && opts.anyPortIfBusy === true && opts.port !== undefined && opts.port !== 0) return spawnNode(0, opts);
    throw e;
  }
}

async function spawnNode(port: number, opts: LocalNodeOptions): Promise<LocalNode> {
  const child = spawn(process.execPath, [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(port), ...(opts.network === undefined ? [] : ["--network", opts.network])], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // The node prints every request; keep only the tail for a failure message, and look for the
  // start line in what it printed first.
  let tail = "";
  let head = "";
  let url: string | null = null;
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4_000);
  };
  child.stdout.on("data", (d: Buffer) => {
    if (url === null && head.length < 16_000) {
      head += d.toString();
      url = STARTED.exec(head)?.[1] ?? null;
    }
    keep(d);
  });
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

  const where = port === 0 ? "a free port" : `127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  // Our child's own start line, then its answer: never a probe of the port alone.
  while (url === null || !(await answers(url))) {
    if (exited !== null || Date.now() > deadline) {
      await stop();
      if (/EADDRINUSE/.test(tail)) throw ChainErrors.localNodePortInUse(`port ${port} on 127.0.0.1 is already in use: hardhat node could not listen there`, { details: { port } });
      const why = exited === null ? "timed out" : `exited (${JSON.stringify(exited)})`;
      throw ChainErrors.localNodeFailed(`hardhat node on ${where} ${why}: ${tail.slice(-1_000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, pid: child.pid!, stop };
}
