/**
 * The finance console (console/, built by `npm run build` into console/dist) at /console: the page
 * and its bundled assets, nothing from elsewhere. Every path under /console that is not an asset
 * answers the page, whose router shows the view (each view has its own URL). The page reads and
 * writes through the public /v1 API with a session cookie (POST /v1/sessions); these routes hold
 * no data of their own, only `config.json`: the chain endpoint the page offers for verifying
 * proofs in the browser (CONSOLE_RPC_URL; public, so never a provider URL with a key in it) and the
 * depth at which the service counts an anchor final (CHAIN_CONFIRMATIONS).
 *
 * The page is served with a strict Content-Security-Policy: scripts, styles and images from this
 * origin only; `connect-src` also allows any http(s) endpoint, because the reader may verify a
 * proof against a node of their own choosing.
 */
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";
import { PROJECT_ROOT } from "../../chain/artifacts.js";
import { defineError } from "../../errors.js";

export const CONSOLE_DIST = path.join(PROJECT_ROOT, "console", "dist");
const notBuilt = defineError("ENT_CONSOLE_NOT_BUILT", 503, "Console not built");

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self' http: https:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CSP)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("x-frame-options", "DENY");
}

export async function consoleRoutes(app: FastifyInstance, opts: { dist?: string } = {}): Promise<void> {
  const dist = opts.dist ?? CONSOLE_DIST;
  const built = await access(path.join(dist, "index.html")).then(
    () => true,
    () => false,
  );
  const hide = { schema: { hide: true } };
  const page = async (reply: FastifyReply) => {
    if (!built) throw notBuilt("the console is not built in this checkout: run `npm run build` (npm start does)");
    // Read per request: a rebuild (npm run build while the service runs) is served at once.
    const html = await readFile(path.join(dist, "index.html"), "utf8");
    return secure(reply).header("cache-control", "no-cache").type("text/html; charset=utf-8").send(html);
  };

  if (built) {
    // Hashed file names: an asset never changes under its name.
    await app.register(fastifyStatic, { root: path.join(dist, "assets"), prefix: "/console/assets/", decorateReply: false, immutable: true, maxAge: "365d", index: false, setHeaders: (res) => void res.header("x-content-type-options", "nosniff") });
  }
  app.get("/console", hide, async (_request, reply) => reply.redirect("/console/", 301));
  app.get("/console/config.json", hide, async (_request, reply) => {
    const chain = app.appConfig.chain;
    // finalityDepth: the depth at which this service counts an anchor final (CHAIN_CONFIRMATIONS), so
    // the page's "final" is the service's where the chain's tags are not used.
    return secure(reply).header("cache-control", "no-cache").send({ rpcUrl: chain.consoleRpcUrl, chainId: app.services.chain?.chainId.toString() ?? null, finalityDepth: chain.confirmations });
  });
  app.get("/console/", hide, async (_request, reply) => page(reply));
  app.get("/console/*", hide, async (_request, reply) => page(reply));
}
