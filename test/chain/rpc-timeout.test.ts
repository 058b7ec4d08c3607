/**
 * A chain node that accepts TCP and never answers JSON-RPC (service/chain/rpc-transport.ts):
 * - the boot's first call ends within CHAIN_RPC_TIMEOUT_MS with ENT_CHAIN_NODE_UNREACHABLE naming
 *   scheme://host:port only (the URL's path and query hold a provider's API key), and the hung
 *   connection is closed, not leaked;
 * - the sender and anchoring loops (real TxSender, AnchorService, `hardhat node`, PostgreSQL) fail
 *   each tick within the timeout and retry, log one warn per loop for the outage (ENT_CHAIN_NODE_UNREACHABLE,
 *   the endpoint) and one info when the node answers again, then anchor what waited;
 * - an HTTP error status from a provider is ENT_CHAIN_NODE_UNREACHABLE naming the endpoint, not the URL;
 * - GET /readyz says the chain does not answer (ENT_CHAIN_RPC_TIMEOUT) and stays 200, then says it answers.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JsonRpcProvider, Wallet } from "ethers";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../service/app.js";
import { deploySystem } from "../../service/chain/deploy.js";
import type { DeploymentRecord } from "../../service/chain/deployment-record.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { startLocalNode, type LocalNode } from "../../service/chain/local-node.js";
import { connectChain, type ChainConnection } from "../../service/chain/runtime.js";
import { loadConfig } from "../../service/config.js";
import { isAppError } from "../../service/errors.js";
import { CHAIN_OUTAGE, startLoop, type Loop } from "../../service/loop.js";
import { createServices } from "../../service/services.js";
import { WorkerLog } from "../../service/worker-log.js";
import { openAnchoring, type AnchoringHarness } from "../anchoring/support.js";

/** What a provider URL carries and no log line or error may. */
const SECRET = "k3y-5ecret-0f-the-provider";

type Line = { level: string; obj: Record<string, unknown>; msg: string };

function recorder() {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? "" });
  return { lines, target: { info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") } };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

/** Accepts connections and never answers; counts them and those closed. */
async function hungServer() {
  const stats = { accepted: 0, closed: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    stats.accepted++;
    sockets.add(s);
    s.resume(); // reads the request, as a hung node would, and so sees the client close
    s.on("error", () => undefined);
    s.on("close", () => {
      stats.closed++;
      sockets.delete(s);
    });
  });
  const port = await listen(server);
  return {
    port,
    stats,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A TCP relay to the node that, while `hung`, swallows every request on every connection (the node stops answering). */
async function hangableRelay(target: URL) {
  const state = { hung: false };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => sockets.delete(s));
    }
    client.on("data", (d) => {
      if (!state.hung) upstream.write(d);
    });
    upstream.on("data", (d) => client.write(d));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  const port = await listen(server);
  return {
    port,
    state,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function until(what: string, probe: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("a hung chain node at boot", () => {
  it("connectChain fails within CHAIN_RPC_TIMEOUT_MS with ENT_CHAIN_NODE_UNREACHABLE naming scheme://host:port, and closes the connection", async () => {
    const hung = await hungServer();
    const dir = await mkdtemp(path.join(tmpdir(), "entrepot-rpc-timeout-"));
    try {
      const t0 = Date.now();
      const e = await connectChain({
        rpcUrl: `http://127.0.0.1:${hung.port}/v3/${SECRET}?apikey=${SECRET}`,
        rpcTimeoutMs: 300,
        deploymentsDir: dir,
        anchorerKey: undefined,
        payerKey: undefined,
      }).catch((x: unknown) => x);
      const ms = Date.now() - t0;
      expect(isAppError(e) && e.code).toBe("ENT_CHAIN_NODE_UNREACHABLE");
      expect(ms).toBeLessThan(3_000);
      const err = e as Error & { details?: Record<string, unknown> };
      expect(err.details).toEqual({ endpoint: `http://127.0.0.1:${hung.port}` });
      expect(err.message).toContain(`no answer from http://127.0.0.1:${hung.port} within 300 ms (eth_chainId)`);
      expect(`${err.message} ${JSON.stringify(err)} ${String((err.cause as Error | undefined)?.message)}`).not.toContain(SECRET);
      expect(isAppError(err.cause) && err.cause.code).toBe("ENT_CHAIN_RPC_TIMEOUT");
      // The timed-out request's connection is closed by the client, not left open to the hung node.
      await until("the hung connection to close", () => hung.stats.accepted > 0 && hung.stats.closed === hung.stats.accepted, 5_000);
    } finally {
      await hung.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 20_000);
});

describe("a provider that answers an HTTP error status", () => {
  it("connectChain fails with ENT_CHAIN_NODE_UNREACHABLE naming the endpoint and status, never the URL (ethers' own error quotes it whole)", async () => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end("bad gateway");
    });
    const port = await listen(server);
    const dir = await mkdtemp(path.join(tmpdir(), "entrepot-rpc-502-"));
    try {
      const e = await connectChain({ rpcUrl: `http://127.0.0.1:${port}/v3/${SECRET}?apikey=${SECRET}`, rpcTimeoutMs: 2_000, deploymentsDir: dir, anchorerKey: undefined, payerKey: undefined }).catch(
        (x: unknown) => x,
      );
      expect(isAppError(e) && e.code).toBe("ENT_CHAIN_NODE_UNREACHABLE");
      const err = e as Error & { details?: Record<string, unknown> };
      expect(err.message).toContain(`http://127.0.0.1:${port} answered HTTP 502 Bad Gateway`);
      expect(`${err.message} ${JSON.stringify(err)} ${String((err.cause as Error | undefined)?.message)} ${JSON.stringify(err.cause ?? null)}`).not.toContain(SECRET);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    }
  }, 20_000);
});

describe("a chain node that stops answering while the workers run (hardhat node, PostgreSQL)", { timeout: 180_000 }, () => {
  let node: LocalNode;
  let relay: Awaited<ReturnType<typeof hangableRelay>>;
  let direct: JsonRpcProvider;
  let record: DeploymentRecord;
  let conn: ChainConnection;
  let h: AnchoringHarness;
  let app: FastifyInstance;
  const loops: Loop[] = [];

  beforeAll(async () => {
    node = await startLocalNode();
    direct = new JsonRpcProvider(node.url, undefined, { batchMaxCount: 1, cacheTimeout: -1 });
    const chainId = (await direct.getNetwork()).chainId;
    ({ record } = await deploySystem(new Wallet(devPrivateKey(0, chainId), direct), { network: "localhost", deploymentsDir: null }));
    relay = await hangableRelay(new URL(node.url));
    conn = await connectChain({
      rpcUrl: `http://127.0.0.1:${relay.port}/v3/${SECRET}?apikey=${SECRET}`,
      rpcTimeoutMs: 400,
      record,
      deploymentsDir: "unused",
      anchorerKey: undefined,
      payerKey: undefined,
    });
    h = await openAnchoring("postgres", { provider: conn.provider, chainId, record });
    const config = loadConfig({ LOG_LEVEL: "silent", CHAIN_RPC_URL: `http://127.0.0.1:${relay.port}/v3/${SECRET}` });
    app = await buildApp({ services: createServices(h.db, config, conn), config, logger: false });
  }, 150_000);

  afterAll(async () => {
    await Promise.all(loops.map((l) => l.stop()));
    await app?.close();
    await h?.close();
    conn?.close();
    direct?.destroy();
    await relay?.close();
    await node?.stop();
  });

  async function readyChain(): Promise<Record<string, unknown>> {
    const r = await app.inject({ url: "/readyz" });
    expect(r.statusCode).toBe(200);
    return (JSON.parse(r.body) as { chain: Record<string, unknown> }).chain;
  }

  it("each tick fails within the timeout and is retried, one warn per loop names the endpoint, the work resumes after", async () => {
    const endpoint = `http://127.0.0.1:${relay.port}`;
    expect(await readyChain()).toMatchObject({ endpoint, status: "answering" });

    const { lines, target } = recorder();
    const log = new WorkerLog();
    log.attach(target);
    const anchoring = h.service({ batchMaxCount: 2 });
    relay.state.hung = true;
    await h.post(2);
    loops.push(
      startLoop("chain-sender", 50, async () => void (await h.sender.tick()), log.child("sender"), { outage: CHAIN_OUTAGE }),
      startLoop("anchoring", 50, async () => void (await anchoring.tick()), log.child("anchoring"), { outage: CHAIN_OUTAGE }),
    );
    // Retried, not waiting: several failed ticks of each loop within a few timeouts.
    const failures = (loop: string) => lines.filter((l) => l.obj["loop"] === loop && (l.level === "warn" || l.level === "debug")).length;
    await until("three failed ticks of each loop", () => failures("anchoring") >= 3 && failures("chain-sender") >= 3);

    const chain = await readyChain();
    expect(chain).toMatchObject({ endpoint, status: "not answering", reason: "ENT_CHAIN_RPC_TIMEOUT" });

    relay.state.hung = false;
    await until("the batch's transaction to be mined", async () => {
      const batch = await anchoring.getBatch(1n);
      return batch !== null && (await h.sender.get(batch.senderKey))?.status === "mined";
    });
    await until("both loops to log the end of the outage", () => lines.filter((l) => l.level === "info" && /answers again/.test(l.msg)).length === 2);
    expect(await readyChain()).toMatchObject({ endpoint, status: "answering" });

    const above = lines.filter((l) => l.level !== "debug" && /chain node/.test(l.msg));
    expect(above.map((l) => [l.level, l.obj["worker"], l.msg]).sort()).toEqual(
      [
        ["info", "anchoring", "anchoring: the chain node answers again"],
        ["info", "sender", "chain-sender: the chain node answers again"],
        ["warn", "anchoring", "anchoring: the chain node does not answer; retrying"],
        ["warn", "sender", "chain-sender: the chain node does not answer; retrying"],
      ].sort(),
    );
    for (const w of above.filter((l) => l.level === "warn")) {
      expect(w.obj).toMatchObject({ code: "ENT_CHAIN_NODE_UNREACHABLE", endpoint });
      expect(w.obj["reason"]).toMatch(/ENT_CHAIN_RPC_TIMEOUT|ENT_CHAIN_RPC_UNAVAILABLE|ENT_CHAIN_NODE_UNREACHABLE/);
    }
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain(SECRET);
  });
});
