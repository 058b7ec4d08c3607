/**
 * `npm start`: the whole local stack, no setup. Without CHAIN_RPC_URL it runs a local chain
 * (`hardhat node --network devnode` as a child: chain 31337, a block a second, on 127.0.0.1:8545 when
 * free, else on a port the child claims itself) and, because that chain starts empty every time, a
 * fresh embedded database to go with it (PGlite in `$DATA_DIR/pglite`, cleared at start; with
 * DATABASE_URL the database must be new or belong to the same chain). Then: contracts deployed
 * (idempotent; record in `deployments/`), migrations applied, demo data loaded (settlements, payout
 * destinations, a funded vault), and the service with its workers (anchoring, event index,
 * payouts, maintenance) until Ctrl-C.
 *
 * Two `npm start`s at once: each gets its own chain (the chain port is claimed atomically by the
 * node itself). The HTTP port and the embedded database folder are not shared: a second start on
 * the same PORT or DATA_DIR stops at once, before it starts a chain or touches the folder, with a
 * message naming the variable (give it another PORT and DATA_DIR, e.g. PORT=0).
 *
 *   npm start                                   # everything local
 *   CHAIN_RPC_URL=http://127.0.0.1:8545 npm start  # against `npm run chain` (kept between starts)
 *   DEMO=false npm start                        # no demo data
 *   npm start -- --new-keys                     # also issue a fresh demo gateway + finance key pair
 *   npm start -- --webhooks                     # also a local webhook receiver that prints every event
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { WebhookService } from "../service/webhooks/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The Prisma client is generated (git-ignored), so a fresh clone has none: generate it before the
 * service modules are loaded, instead of failing on a missing import.
 */
function ensurePrismaClient(): void {
  if (existsSync(path.join(root, "service/db/generated/client.ts"))) return;
  process.stdout.write("Entrepot: generating the Prisma client (first run)\n");
  const r = spawnSync(path.join(root, "node_modules/.bin/prisma"), ["generate", "--config", "service/db/prisma.config.ts"], {
    cwd: root,
    stdio: ["ignore", "inherit", "inherit"],
    // `generate` only checks that the schema-engine binary exists; it never runs it (offline).
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env["PRISMA_SCHEMA_ENGINE_BINARY"] ?? path.join(root, "package.json") },
  });
  if (r.status !== 0) throw new Error(`prisma generate failed (exit ${r.status ?? r.signal})`);
}

/**
 * Fails fast (before a chain is started) when the HTTP port is taken. Only an early warning: the
 * listen itself is what claims the port, and it reports a taken port the same way.
 */
async function assertPortFree(host: string, port: number, portInUse: () => Error): Promise<void> {
  if (port === 0) return;
  const { createServer } = await import("node:net");
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", (e: Error & { code?: string }) => reject(e.code === "EADDRINUSE" ? portInUse() : e));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

const DEMO_RECEIVER = "npm start -- --webhooks: local receiver";

/** A local receiver subscribed to every event; endpoints of earlier starts (dead ports) are disabled. */
async function demoWebhooks(webhooks: WebhookService, say: (line: string) => void) {
  const { startDemoReceiver } = await import("../service/webhooks/demo-receiver.js");
  const owner = { gateway: null, keyId: "npm-start" };
  for (const e of await webhooks.listEndpoints(owner)) {
    if (e.description === DEMO_RECEIVER && e.status === "active") await webhooks.setStatus(owner, e.id, "disabled");
  }
  const receiver = await startDemoReceiver((event, ok) => {
    const about = [event.data["eventKey"] ?? event.data["payoutId"] ?? event.data["runId"] ?? event.subject].map(String)[0];
    say(`  webhook ${event.id.padEnd(9)} ${event.type.padEnd(34)} ${about}  signature ${ok ? "ok" : "INVALID"}`);
  });
  const { secret } = await webhooks.createEndpoint(owner, { url: receiver.url, eventTypes: ["*"], description: DEMO_RECEIVER });
  receiver.setSecret(secret);
  return receiver;
}

async function main(): Promise<void> {
  ensurePrismaClient();
  const { mkdir, rm, writeFile } = await import("node:fs/promises");
  const { JsonRpcProvider, Wallet } = await import("ethers");
  const { ConfigError, loadConfig } = await import("../service/config.js");
  const { DbErrors, lockDataDir } = await import("../service/db/index.js");
  const { deploySystem } = await import("../service/chain/deploy.js");
  const { isLocalChain } = await import("../service/chain/deployment-record.js");
  const { devPrivateKey } = await import("../service/chain/keys.js");
  const { startLocalNode } = await import("../service/chain/local-node.js");
  const { formatIssuedKeys, issueDemoKeys } = await import("../service/http/auth/bootstrap.js");
  const { assignDemoDestinations, fundVaultLocal, mayTakeStablecoin, publishDemoPayoutRates } = await import("../service/payouts/index.js");
  const { assignDemoBankAccounts, demoStatement } = await import("../service/payouts/bank/demo-bank.js");
  const { assertChainForWorkers, assertDeployment, closeOnSignals, openInstanceServices, startServer, startWorkerInstance } = await import("../service/server.js");
  const { DEMO_GATEWAY, DEMO_RANGE, DEMO_SELLERS, loadDemo, loadDemoPeriodEnd, loadDemoRemittances, loadDemoStorage } = await import("../service/settlement/demo.js");
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // Everything runs on this machine: webhooks may go to loopback receivers.
  const env: Record<string, string | undefined> = { DEMO: "true", LOG_LEVEL: "warn", WEBHOOK_ALLOW_PRIVATE: "true", ...process.env };
  const ownChain = env["CHAIN_RPC_URL"] === undefined || env["CHAIN_RPC_URL"].trim() === "";
  // Everything another running stack could hold is checked before anything is started or cleared.
  const early = loadConfig(env);
  if (early.databaseUrl === undefined) {
    // Held until this process exits; the database opened below takes the same lock (re-entrant).
    await lockDataDir(`${early.dataDir}/pglite`).catch((e: unknown) => {
      throw e instanceof Error && "code" in e && e.code === DbErrors.dataDirInUse.code ? new ConfigError("DATA_DIR", `${early.dataDir}: ${e.message}`) : e;
    });
  }
  if (early.role !== "workers") {
    await assertPortFree(early.host, early.port, () => new ConfigError("PORT", `${early.port} on ${early.host} is already in use (another npm start?): stop it, or set PORT to a free port (PORT=0 picks one)`));
  }
  let node: { url: string; stop(): Promise<void> } | undefined;
  if (ownChain) {
    // 8545 when free, so `npm run verify -- proof.json` needs no --rpc; else a port the node claims itself.
    node = await startLocalNode({ port: 8545, anyPortIfBusy: true, network: "devnode" });
    env["CHAIN_RPC_URL"] = node.url;
    // A block a second: "safe" after 1 block, "final" after 3, anchoring every 2 s, payouts every 10 s.
    env["CHAIN_SAFE_DEPTH"] ??= "1";
    env["CHAIN_CONFIRMATIONS"] ??= "3";
    env["ANCHOR_BATCH_MAX_AGE_SECONDS"] ??= "2";
    env["PAYOUT_INTERVAL_SECONDS"] ??= "10";
    say(`Entrepot: local chain ${node.url} (hardhat node, chain 31337, a block a second)`);
  }
  const stopNode = async () => {
    await node?.stop();
  };
  try {
    const config = loadConfig(env);
    const rpcUrl = config.chain.rpcUrl!;
    if (node !== undefined && config.databaseUrl === undefined) {
      // The embedded chain starts empty, so the embedded database that anchored to the last one goes with it.
      await rm(`${config.dataDir}/pglite`, { recursive: true, force: true });
      // And the bank rail's files of that database: an old camt.054 in the inbox names payouts of
      // the old database's tag, which the new one would only record as unmatched exceptions.
      for (const folder of [config.bank.outbox, config.bank.inbox, `${config.dataDir}/bank/statements`]) {
        if (folder.startsWith(`${config.dataDir}/bank/`)) await rm(folder, { recursive: true, force: true });
      }
    }

    const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
    const chainId = (await provider.getNetwork()).chainId;
    let admin: InstanceType<typeof Wallet> | undefined;
    let deployment: Awaited<ReturnType<typeof deploySystem>>["record"] | undefined;
    if (isLocalChain(chainId)) {
      // Dev chains: deploy (or find) the contracts with dev account #0; elsewhere `npm run deploy` is a deliberate act.
      admin = new Wallet(devPrivateKey(0, chainId), provider);
      const deployed = await deploySystem(admin, { network: node === undefined ? "localhost" : "devnode", deploymentsDir: config.chain.deploymentsDir });
      say(`Entrepot: contracts ${deployed.outcome} (${deployed.file ?? "no record"})`);
      // This chain's record, not the file: a stack started at the same time writes the same file name.
      if (node !== undefined) deployment = deployed.record;
    }

    // The whole stack is local: a secrets key file in DATA_DIR serves when SECRETS_KEY is unset,
    // whatever the database (a deployment sets SECRETS_KEY and runs service/server.ts).
    // A database that cannot be opened is reported in one line naming DATABASE_URL (no stack).
    const services = await openInstanceServices(config, { localSecretsKey: true, ...(deployment === undefined ? {} : { deployment }) });
    const where = config.databaseUrl === undefined ? `embedded PGlite in ${config.dataDir}/pglite` : "PostgreSQL (DATABASE_URL)";
    say(`Entrepot: database ready (${where})`);
    if (node !== undefined && config.databaseUrl !== undefined && (await services.leases.boundChains()).length > 0) {
      // This start's chain is new, and a kept database's records belong to the chain of an earlier
      // start, which stopped with it: its workers would refuse every tick (ENT_CHAIN_RESET).
      await services.close();
      throw new ConfigError(
        "DATABASE_URL",
        "holds the records of an earlier npm start's local chain, which stopped with it, and this start has a new chain: " +
          "use a new database (dropdb, createdb), or keep a chain with `npm run chain` and start with CHAIN_RPC_URL=http://127.0.0.1:8545 (README: against a node you keep)",
      );
    }

    // The boot checks before the demo writes anything: a kept database on another deployment (or
    // without its chain) is refused with nothing booked, as server.ts would refuse it after.
    try {
      if (config.role !== "http") await assertChainForWorkers(services);
      await assertDeployment(services, config);
    } catch (e) {
      await services.close().catch(() => undefined);
      throw e;
    }

    const receiver = process.argv.includes("--webhooks") ? await demoWebhooks(services.webhooks, say) : null;
    if (receiver !== null) say(`Entrepot: webhook receiver ${receiver.url} subscribed to every event (each printed below as it arrives)`);

    if (config.demo) {
      try {
        const summary = await loadDemo({ settlement: services.settlement, fx: services.fx, log: (l) => say(`  ${l}`) });
        if (summary.errors.length > 0) {
          // The demo is the first thing a newcomer sees: a refused event is a bug to surface, not hide.
          for (const e of summary.errors) process.stderr.write(`  demo event #${e.index} refused: ${e.code} ${e.message}\n`);
          throw new Error(`${summary.errors.length} demo event(s) were refused`);
        }
        const remitted = await loadDemoRemittances({ realisation: services.realisation, fx: services.fx, log: (l) => say(`  ${l}`) });
        // December's storage, billed by volume x days from the demo's warehouse stock snapshots.
        const stored = await loadDemoStorage({ storage: services.storage, fx: services.fx, log: (l) => say(`  ${l}`) });
        if (stored.errors.length > 0) {
          for (const e of stored.errors) process.stderr.write(`  demo storage of ${e.sellerId} in ${e.warehouse} refused: ${e.code} ${e.message}\n`);
          throw new Error(`${stored.errors.length} demo storage charge(s) were refused`);
        }
        // December's closing rates, and the positions revalued at its last instant: the period can
        // close, on the source's last rates of the year (older than a close allows: said, and how).
        await loadDemoPeriodEnd({ realisation: services.realisation, fx: services.fx, log: (l) => say(`  ${l}`) }, undefined, config.fx.closeMaxRateAgeDays);
        // The bank's statement of that day, as finance would download it: the gateway's payouts
        // credited with their reference, and one credit nobody booked (to be found, not absorbed).
        const statement = path.join(config.dataDir, "bank", "statements", `camt053-${DEMO_RANGE.to}.xml`);
        await mkdir(path.dirname(statement), { recursive: true });
        await writeFile(statement, demoStatement(remitted.remittances, { ...config.bank.account, clearingSystem: null, clearingMember: null }, DEMO_RANGE.to));
        say(`  cash: the bank's statement of ${DEMO_RANGE.to} (camt.053) in ${statement}`);
        if (services.bank !== undefined) {
          const onBank = await assignDemoBankAccounts(services.bank);
          say(`  payouts: ${onBank} mainland sellers on the bank rail (CNY by pain.001 to ${services.bank.directories.outbox}; \`npm run bank:demo\` answers as their bank)`);
        }
        if (services.chain !== undefined && admin !== undefined && services.payouts !== undefined) {
          // The vault pays the sellers who are not on the bank rail and may take a stablecoin (never
          // a mainland-China one: the API would refuse its destination, 422).
          const onVault = (await (services.bank?.vaultSellers(DEMO_SELLERS) ?? DEMO_SELLERS)).filter(mayTakeStablecoin);
          const set = await assignDemoDestinations(services.payouts, onVault.map((s) => s.id), chainId);
          await publishDemoPayoutRates(services.fx, { currencies: [...new Set(DEMO_SELLERS.map((s) => s.payoutCurrency))], day: DEMO_RANGE.to });
          const funded = await fundVaultLocal({ record: services.chain.record, admin, amount: 10_000_000n * 10n ** 6n, topUp: true });
          say(`  payouts: ${set} demo payout destinations set; vault ${funded === null ? "already funded" : "funded with 10,000,000 test USDC"}`);
        }
      } catch (e) {
        await services.close();
        throw e;
      }
    }
    provider.destroy();

    if (config.role === "workers") {
      const workers = await startWorkerInstance(config, { services });
      closeOnSignals({ ...workers, close: async () => {
        await workers.close();
        await stopNode();
      } });
      say("Entrepot runs the background workers only (ROLE=workers; no HTTP). Ctrl-C to stop.");
      return;
    }
    const firstStartKeys: string[] = [];
    const running = await startServer(config, { services, printKeys: (t) => firstStartKeys.push(t) });
    closeOnSignals({
      ...running,
      close: async () => {
        await running.close();
        await receiver?.close();
        await stopNode();
      },
    });

    const extra = process.argv.includes("--new-keys")
      ? await issueDemoKeys(services.apiKeys, DEMO_GATEWAY)
      : [];
    const chain = services.chain;
    const out = [
      "",
      `Entrepot is listening on ${running.url}`,
      `  Console:       ${running.url}/console/  (sign in with the demo finance key below)`,
      `  API reference: ${running.url}/docs/`,
      `  OpenAPI:       ${running.url}/openapi.json`,
      `  Health:        ${running.url}/healthz  ${running.url}/readyz  ${running.url}/metrics`,
      ...(chain === undefined
        ? []
        : [
            `  Chain:         ${rpcUrl} (chain ${chain.chainId})`,
            `  Contracts:     SettlementAnchor ${chain.record.contracts.SettlementAnchor.address}`,
            `                 SettlementVault  ${chain.record.contracts.SettlementVault.address}`,
            `  Anchoring, payouts and the event index run in the background; GET /v1/settlements/{id}/proof`,
            `  returns a settlement's inclusion proof; \`npm run verify -- proof.json --anchor ${chain.record.contracts.SettlementAnchor.address}${rpcUrl === "http://127.0.0.1:8545" ? "" : ` --rpc ${rpcUrl}`}\` checks it`,
            `  against this SettlementAnchor (the address to pin: in production, the one the operator publishes).`,
          ]),
      ...firstStartKeys,
      ...(extra.length > 0 ? [formatIssuedKeys(extra)] : []),
      ...(firstStartKeys.length === 0 && extra.length === 0
        ? ["API keys were printed at the first start (bearer keys are stored as hashes, signing secrets encrypted). `npm start -- --new-keys` issues a fresh demo pair."]
        : []),
      "",
      "Ctrl-C to stop.",
      "",
    ];
    process.stdout.write(out.join("\n"));
  } catch (e) {
    await stopNode();
    throw e;
  }
}

main().catch((e: unknown) => {
  // A configuration error is the user's to fix: its message names the variable, no stack needed.
  const configError = e instanceof Error && e.name === "ConfigError";
  const code = e instanceof Error && "code" in e && typeof e.code === "string" ? `${e.code}: ` : "";
  process.stderr.write(`${configError ? e.message : `npm start failed: ${code}${e instanceof Error ? (e.stack ?? e.message) : String(e)}`}\n`);
  process.exit(configError ? 2 : 1);
});
