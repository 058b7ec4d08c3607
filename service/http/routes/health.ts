/**
 * Operations endpoints, public and not rate limited (probes and scrapers must never be throttled
 * into reporting an outage): liveness, readiness (database reachable, every migration applied),
 * Prometheus metrics.
 *
 * A probe's 503 is the answer, not a failure of this server: it is not logged per probe. A database
 * outage seen by the probes is logged once when it starts (warn) and once when it ends (info), like
 * the worker lease's outage lines; while it lasts the body says the database is unreachable, not
 * that migrations are pending (they cannot be read).
 *
 * With a chain configured, readiness also says whether its JSON-RPC endpoint answers (`chain`:
 * scheme://host:port only, never the URL's path or query, which may hold an API key). A chain
 * outage does not make the instance unready: the API works without the node (chain work waits in
 * the outbox), and taking every instance out of rotation would turn it into a full outage.
 *
 * `/metrics` also reads, at each scrape and from the database only, what the last payout planning
 * run found of the vault (paused, budget, due, sellers skipped for capacity) and the anchoring lag.
 *
 * Readiness lists the background workers halted on a state only an operator resolves (`halts`,
 * recorded by the worker leader: anchored batches that disagree with the chain, a reverted
 * anchoring transaction, a reset chain), read from the database so every instance reports them;
 * like the lease, never a 503. `entrepot_worker_halted` carries the same for alerts.
 *
 * Readiness also reports the worker lease (`workers`): who holds it, until when, whether this
 * instance does, and "no leader" once it has expired (every ROLE=all/workers instance down:
 * anchoring, payouts and maintenance have stopped). That is the whole deployment's state, not this
 * instance's: it never makes the answer 503 (an API-only instance serves without a leader), and
 * `entrepot_worker_lease_live` lets an alert fire on it.
 */
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { HttpErrors } from "../errors.js";
import { sendProblem } from "../plugins/errors.js";
import { problems } from "../schemas/common.js";
import { TAGS } from "../plugins/docs.js";
import { WORKERS_LEASE } from "../../workers.js";

const ChainRpcView = Type.Object({
  endpoint: Type.String({ description: "scheme://host:port of CHAIN_RPC_URL" }),
  status: Type.Union([Type.Literal("answering"), Type.Literal("not answering")]),
  since: Type.String({ format: "date-time", description: "when the current status began" }),
  reason: Type.Optional(Type.String({ description: "why it does not answer: ENT_CHAIN_RPC_TIMEOUT, ECONNREFUSED..." })),
});
const WorkerLeaseView = Type.Object({
  lease: Type.String({ description: "the lease's name (one worker leader per database)" }),
  status: Type.Union([Type.Literal("held"), Type.Literal("no leader")], {
    description: "held: an instance runs the background workers; no leader: the lease expired or was never taken (no ROLE=all/workers instance runs them)",
  }),
  expiresAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()], { description: "end of the term unless renewed (database clock)" }),
  thisInstance: Type.Boolean({ description: "this instance holds the lease" }),
});
const WorkerHaltView = Type.Object({
  worker: Type.String({ description: "anchoring, chain-sender, payouts or treasury" }),
  code: Type.String({ description: "the halt's stable code: ENT_ANCHOR_CHAIN_MISMATCH, ENT_ANCHOR_BATCH_REVERTED, ENT_CHAIN_RESET" }),
  reason: Type.String({ description: "what the worker found (no URL, no secret)" }),
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], { description: "the halt's figures: batch ids, roots, transaction hashes" }),
  since: Type.String({ format: "date-time", description: "when the worker leader first saw it" }),
});
const ReadyView = Type.Object({
  status: Type.Literal("ready"),
  database: Type.String(),
  kind: Type.String(),
  chain: Type.Optional(ChainRpcView),
  workers: WorkerLeaseView,
  halts: Type.Array(WorkerHaltView, {
    description:
      "Background workers halted until an operator acts (README, Known limits): recorded by the worker leader when the halt starts, gone at the worker's next successful tick. The deployment's state, as `workers`: it never makes the answer 503 (the API still books; what halted waits).",
  }),
});

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  /** The probes see the database down (logged once per outage). */
  let outage = false;

  app.get("/healthz", {
    config: { rateLimit: false },
    logLevel: "warn",
    schema: { tags: [TAGS.ops], summary: "Liveness: the process is up", response: { 200: Type.Object({ status: Type.Literal("ok") }) } },
  }, async () => ({ status: "ok" as const }));

  app.get("/readyz", {
    config: { rateLimit: false },
    logLevel: "warn",
    schema: {
      tags: [TAGS.ops],
      summary: "Readiness: database reachable and migrations applied",
      response: { 200: ReadyView, ...problems(503) },
    },
  }, async (request, reply) => {
    const r = await app.services.readiness();
    if (r.database === "unreachable") {
      if (!outage) app.log.warn({ probe: "/readyz" }, "readiness: the database does not answer; not ready until it does");
      outage = true;
      return sendProblem(request, reply, HttpErrors.notReady("the database is unreachable", { details: { database: r.database } }));
    }
    if (outage) app.log.info({ probe: "/readyz" }, "readiness: the database answers again");
    outage = false;
    if (!r.ok) {
      return sendProblem(request, reply, HttpErrors.notReady(`${r.pendingMigrations.length} migration(s) not applied`, {
        details: { database: r.database, pendingMigrations: r.pendingMigrations },
      }));
    }
    const chain = app.services.chain?.rpcStatus();
    const lease = await app.services.leases.status(WORKERS_LEASE);
    const live = lease?.live === true;
    app.metrics.workerLease.set(live ? 1 : 0);
    const workers = {
      lease: WORKERS_LEASE,
      status: live ? ("held" as const) : ("no leader" as const),
      expiresAt: lease?.expiresAt.toISOString() ?? null,
      thisInstance: live && lease?.holder === app.services.instanceId,
    };
    const halts = (await app.services.leases.halts()).map((h) => ({ ...h, since: h.since.toISOString() }));
    return { status: "ready" as const, database: r.database, kind: app.services.databaseKind, ...(chain === undefined ? {} : { chain }), workers, halts };
  });

  app.get("/metrics", {
    config: { rateLimit: false },
    logLevel: "warn",
    schema: {
      tags: [TAGS.ops],
      summary: "Prometheus metrics",
      produces: ["text/plain"],
      response: { 200: Type.String({ description: "Prometheus text exposition format" }) },
    },
  }, async (_request, reply) => {
    try {
      app.metrics.workerLease.set((await app.services.leases.status(WORKERS_LEASE))?.live === true ? 1 : 0);
      app.metrics.workerHalted.reset();
      for (const h of await app.services.leases.halts()) app.metrics.workerHalted.set({ worker: h.worker, code: h.code }, 1);
      await readChainGauges(app);
    } catch {
      // The database does not answer: /readyz says so; the scrape still serves the other metrics.
    }
    const body = await app.metrics.registry.metrics();
    return reply.type(app.metrics.registry.contentType).send(body);
  });
}

/**
 * The vault's figures from the last payout planning run and the anchoring lag, from the database
 * (never the chain node: a scrape must not wait on it), so every instance reports the same.
 */
async function readChainGauges(app: FastifyInstance): Promise<void> {
  const { payouts, anchoring, ledger } = app.services;
  const m = app.metrics;
  const vault = payouts?.vaultAddress;
  if (payouts !== undefined && vault !== undefined) {
    const run = await payouts.lastRun();
    if (run !== null) {
      const labels = { vault: vault.toLowerCase() };
      m.vaultPaused.set(labels, run.vault.paused ? 1 : 0);
      m.vaultBudget.set(labels, Number(run.vault.budget));
      m.payoutsDue.set(labels, Number(run.vault.due));
      m.payoutsHeldBack.set(labels, run.vault.capacitySkipped);
      m.lastPlanned.set(labels, run.at.getTime() / 1000);
    }
  }
  if (anchoring !== undefined) {
    const through = (await anchoring.anchoredThrough()) ?? 0n;
    const { head } = await ledger.journalPosition(through);
    m.anchoringLag.set({ anchor: anchoring.anchor.toLowerCase() }, Number(head > through ? head - through : 0n));
  }
}
