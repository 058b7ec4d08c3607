/** A real HTTP receiver for webhook tests: records every request and answers as told. */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  at: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** What the receiver answered (0 = it hung up / never answered). */
  answered: number;
}

export type Behaviour = (n: number, body: string) => { status: number } | { hang: true } | { redirect: string };

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  behave(b: Behaviour): void;
  close(): Promise<void>;
}

export async function startReceiver(behaviour: Behaviour = () => ({ status: 200 })): Promise<Receiver> {
  let behave = behaviour;
  const received: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const r: Received = { at: Date.now(), path: req.url ?? "", headers: req.headers, body, answered: 0 };
      received.push(r);
      const what = behave(received.length, body);
      if ("hang" in what) {
        hanging.add(res);
        return;
      }
      if ("redirect" in what) {
        r.answered = 302;
        res.writeHead(302, { location: what.redirect }).end();
        return;
      }
      r.answered = what.status;
      res.writeHead(what.status, { "content-type": "text/plain" }).end("ok");
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    port,
    received,
    behave: (b) => (behave = b),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
