/**
 * Prometheus metrics on a registry owned by this app instance (not prom-client's global one), so
 * several apps in one process (tests, the benchmark) never collide. Route labels use the route
 * PATTERN, never the raw URL, to keep label cardinality bounded.
 */
import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: "entrepot_http_requests_total", help: "HTTP requests by route, method and status", labelNames: ["method", "route", "status"], registers: [this.registry] });
  readonly latency = new Histogram({
    name: "entrepot_http_request_duration_seconds",
    help: "HTTP request latency by route, method and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly settlementEvents = new Counter({ name: "entrepot_settlement_events_total", help: "Settlement events by type and result (created, exists, error code)", labelNames: ["type", "result"], registers: [this.registry] });
  readonly ledgerTransactions = new Counter({ name: "entrepot_ledger_transactions_total", help: "Journal transactions booked through the API", registers: [this.registry] });
  readonly ledgerPostings = new Counter({ name: "entrepot_ledger_postings_total", help: "Journal postings booked through the API", registers: [this.registry] });
  readonly problems = new Counter({ name: "entrepot_http_problems_total", help: "Problem responses by code", labelNames: ["code"], registers: [this.registry] });
  /** Read from the database at each scrape of /metrics (and each /readyz): whether any instance runs the background workers. */
  readonly workerLease = new Gauge({
    name: "entrepot_worker_lease_live",
    help: "1 while an instance holds the worker lease (anchoring, payouts, maintenance run), 0 when it has expired or was never taken",
    registers: [this.registry],
  });

  /**
   * What the last payout planning run (any instance) found of the vault, read from the database at
   * each scrape: no series before a run has planned. Base units of the payout token (USDC: 10^-6),
   * as a float (exact below 2^53, 9 billion USDC).
   */
  readonly vaultPaused = new Gauge({ name: "entrepot_payout_vault_paused", help: "1 when the last payout planning run found the vault paused (nothing planned: its due sellers skipped as vault_paused)", labelNames: ["vault"], registers: [this.registry] });
  readonly vaultBudget = new Gauge({
    name: "entrepot_payout_vault_budget_base_units",
    help: "The vault's budget at the last payout planning run: excess() minus payouts in flight, in token base units (0 when negative)",
    labelNames: ["vault"],
    registers: [this.registry],
  });
  readonly payoutsDue = new Gauge({
    name: "entrepot_payout_due_base_units",
    help: "What the due sellers' payouts came to at the last payout planning run, whether or not the vault could cover them, in token base units",
    labelNames: ["vault"],
    registers: [this.registry],
  });
  readonly payoutsHeldBack = new Gauge({
    name: "entrepot_payout_skipped_vault_capacity",
    help: "Sellers the last payout planning run skipped as vault_capacity (the vault's budget or the run's cap could not cover them)",
    labelNames: ["vault"],
    registers: [this.registry],
  });
  readonly lastPlanned = new Gauge({ name: "entrepot_payout_last_planned_timestamp_seconds", help: "When the last payout planning run ended (Unix time): the figures above are as of then", labelNames: ["vault"], registers: [this.registry] });
  /** Read from the database at each scrape, with a chain configured. */
  readonly anchoringLag = new Gauge({
    name: "entrepot_anchoring_lag_transactions",
    help: "Journal transactions after the last one in a batch seen on chain (journal head minus the last anchored sequence)",
    labelNames: ["anchor"],
    registers: [this.registry],
  });

  /** The background workers halted on a state only an operator resolves (worker_halts, read at each scrape). */
  readonly workerHalted = new Gauge({
    name: "entrepot_worker_halted",
    help: "1 for each background worker halted until an operator acts (anchoring, chain-sender, payouts, treasury), labelled with the halt's code; no series while none is",
    labelNames: ["worker", "code"],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "entrepot_" });
  }
}

export async function metricsPlugin(app: FastifyInstance): Promise<void> {
  const metrics = new Metrics();
  app.decorate("metrics", metrics);
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    const labels = { method: request.method, route, status: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.latency.observe(labels, reply.elapsedTime / 1000);
  });
}
