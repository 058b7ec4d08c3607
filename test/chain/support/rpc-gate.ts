/**
 * A real HTTP JSON-RPC endpoint in front of an in-process chain, with a switch to cut it: lets the
 * sender run over ethers' ordinary `JsonRpcProvider` (its real error mapping) and lets a test make
 * the RPC fail for chosen methods the way an outage does (the connection is reset).
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { JsonRpcProvider, Network } from "ethers";

interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

interface RpcRequest {
  id: unknown;
  method: string;
  params?: unknown[];
}

export interface RpcGate {
  url: string;
  /**
   * An ethers provider over the gate, on `chainId`: static network (no detection retries while
   * down), one request per HTTP call and no 250 ms result sharing, so a test controls what fails.
   */
  provider(chainId: bigint): JsonRpcProvider;
  /** Methods for which the gate resets the connection; `"*"` = everything. Empty = healthy. */
  failing: Set<string>;
  /** Methods seen so far, in order (to assert what the sender did). */
  calls: string[];
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  let s = "";
  for await (const chunk of req) s += (chunk as Buffer).toString();
  return s;
}

export async function rpcGate(chain: Eip1193): Promise<RpcGate> {
  const failing = new Set<string>();
  const calls: string[] = [];
  const answer = async (r: RpcRequest) => {
    try {
      return { jsonrpc: "2.0", id: r.id, result: await chain.request({ method: r.method, params: r.params ?? [] }) };
    } catch (e) {
      const o = e as { code?: unknown; message?: unknown; data?: unknown };
      return {
        jsonrpc: "2.0",
        id: r.id,
        error: { code: typeof o.code === "number" ? o.code : -32000, message: String(o.message ?? e), data: o.data },
      };
    }
  };
  const server = createServer((req, res) => {
    void (async () => {
      const parsed = JSON.parse(await body(req)) as RpcRequest | RpcRequest[];
      const list = Array.isArray(parsed) ? parsed : [parsed];
      calls.push(...list.map((r) => r.method));
      if (list.some((r) => failing.has("*") || failing.has(r.method))) {
        req.socket.destroy();
        return;
      }
      const out = Array.isArray(parsed) ? await Promise.all(list.map(answer)) : await answer(parsed);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(out, (_k, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)));
    })().catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const providers: JsonRpcProvider[] = [];
  return {
    url,
    provider: (chainId) => {
      const p = new JsonRpcProvider(url, Network.from(chainId), { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
      providers.push(p);
      return p;
    },
    failing,
    calls,
    close: async () => {
      for (const p of providers) p.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
