/**
 * A local webhook receiver for `npm start -- --webhooks` and the delivery benchmark: listens on
 * 127.0.0.1, checks each delivery's signature with `verifyWebhookSignature` (as a real receiver
 * would), answers 200, and reports each event to `onEvent`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { verifyWebhookSignature } from "./signature.js";
import type { WebhookEventBody } from "./types.js";

export interface DemoReceiver {
  url: string;
  /** Set once the endpoint is registered (deliveries before that are answered 503 and retried). */
  setSecret(secret: string): void;
  close(): Promise<void>;
}

export async function startDemoReceiver(onEvent: (event: WebhookEventBody, signatureOk: boolean) => void, port = 0): Promise<DemoReceiver> {
  let secret: string | null = null;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (secret === null) return void res.writeHead(503).end();
      const body = Buffer.concat(chunks).toString("utf8");
      const header = req.headers["entrepot-signature"];
      const check = verifyWebhookSignature({ body, header: typeof header === "string" ? header : undefined, secret });
      let event: WebhookEventBody;
      try {
        event = JSON.parse(body) as WebhookEventBody;
      } catch {
        return void res.writeHead(400).end();
      }
      onEvent(event, check.ok);
      res.writeHead(check.ok ? 200 : 401).end();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/webhooks`,
    setSecret: (s) => (secret = s),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
