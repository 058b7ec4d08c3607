/**
 * `startLocalNode` claims its port atomically: two nodes started at the same moment for the same
 * port (two `npm start`s) both come up, on different ports, each its own chain; neither attaches to
 * the other's node (the old check-then-claim made the second deploy onto the first's chain).
 */
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
