/**
 * `startLocalNode` claims its port atomically: two nodes started at the same moment for the same
 * port (two `npm start`s) both come up, on different ports, each its own chain; neither attaches to
 * the other's node (the old check-then-claim made the second deploy onto the first's chain).
 * `npm run chain`, the node the README keeps for several instances, takes a port from its caller and
 * mines like `npm start`'s (a block a second when idle, or safe and final are never reached).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, startLocalNode, type LocalNode } from "../../service/chain/local-node.js";

const rpc = async <T>(url: string, method: string, params: unknown[] = []): Promise<T> => {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  return ((await res.json()) as { result: T }).result;
};

describe("startLocalNode", { timeout: 120_000 }, () => {
  const nodes: LocalNode[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it("brings up two nodes asked for the same port at once: one there, one on a free port, two distinct chains", async () => {
    const port = await freePort();
    nodes.push(...(await Promise.all([startLocalNode({ port, anyPortIfBusy: true }), startLocalNode({ port, anyPortIfBusy: true })])));
    const [a, b] = nodes as [LocalNode, LocalNode];
    expect(a.url).not.toBe(b.url);
    expect([a.url, b.url]).toContain(`http://127.0.0.1:${port}`);
    expect(a.pid).not.toBe(b.pid);
    // Two chains: each node is a separate Hardhat instance, and a block mined on one is not on the other.
    const [ia, ib] = await Promise.all([rpc<{ instanceId: string }>(a.url, "hardhat_metadata"), rpc<{ instanceId: string }>(b.url, "hardhat_metadata")]);
    expect(ia.instanceId).not.toBe(ib.instanceId);
    await rpc(a.url, "evm_mine");
    expect([await rpc<string>(a.url, "eth_blockNumber"), await rpc<string>(b.url, "eth_blockNumber")]).toEqual(["0x1", "0x0"]);
    // Stopping one leaves the other answering.
    await a.stop();
    expect(await rpc<string>(b.url, "eth_chainId")).toBe("0x7a69");
    await expect(fetch(a.url, { method: "POST" })).rejects.toThrow();
  });
});

describe("npm run chain", { timeout: 120_000 }, () => {
  it("listens on the port given after --, and mines a block every second while idle (the devnode network)", async () => {
    const port = await freePort();
    // Its own process group: npm, the shell and the node are stopped together.
    const child = spawn("npm", ["run", "chain", "--", "--port", String(port)], {
      cwd: path.resolve(import.meta.dirname, "../.."),
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    try {
      const deadline = Date.now() + 90_000;
      while (!out.includes("Started HTTP and WebSocket JSON-RPC server at")) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm run chain did not start: ${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(out).toContain(`Started HTTP and WebSocket JSON-RPC server at http://127.0.0.1:${port}/`);
      const url = `http://127.0.0.1:${port}`;
      const first = BigInt(await rpc<string>(url, "eth_blockNumber"));
      await new Promise((r) => setTimeout(r, 3_500));
      // No transaction was sent: only interval mining moves the head.
      expect(BigInt(await rpc<string>(url, "eth_blockNumber")) - first).toBeGreaterThanOrEqual(2n);
    } finally {
      // The group is gone already when npm exited on its own (a refused option): nothing to stop.
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGTERM");
      await exited;
    }
  });
});
