/**
 * PayoutService: the payouts module's one entry point. Sellers' available balances become payout
 * batches executed through the vault, with the ledger reserve committed only when the vault's
 * events are final. The jobs live apart, each in its own file:
 * - destinations.ts: sellers' payout addresses;
 * - planner.ts (rules in plan.ts): which balances become which batches;
 * - executor.ts: sending, following to finality, reorgs, retries, cancellation; the crash-safety
 *   protocol of the whole module is written at its top;
 * - the reads below.
 * The vault's own events (funding, claims) are booked by service/treasury, which asks this service
 * who a claiming address belongs to (`sellerOfClaimant`).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { attachSystem } from "../chain/contracts.js";
import type { IndexerChange } from "../chain/indexer/types.js";
import { sameAddress } from "../chain/address.js";
import type { SqlRunner } from "../db/sql.js";
import { isAppError } from "../errors.js";
import type { AccountStatement, Ledger } from "../ledger/types.js";
import { availableChange, PayoutAccounts } from "./booking.js";
import type { RoundingMode } from "../money/index.js";
import type { Seller } from "../settlement/types.js";
import { tokenDecimalsOf, type TokenDecimals } from "../treasury/index.js";
import { DestinationRepository } from "./destination-repository.js";
import { PayoutDestinations } from "./destinations.js";
import { PayoutErrors } from "./errors.js";
import { PayoutExecutor } from "./executor.js";
import type { LeaseStorePort } from "../leader/lease-store.js";
import { PayoutPlanner, VAULT_PLANNER_LEASE_MS } from "./planner.js";
import { PayoutStateLeases, PlannerRepository } from "./planner-repository.js";
import { PayoutRepository, type StoredPayout } from "./repository.js";
import { Reserves } from "./reserves.js";
import { PAYOUT_STATUSES } from "./types.js";
import type { Payout, PayoutBatch, PayoutChain, PayoutDestination, PayoutFilter, PayoutFxService, PayoutHooks, PayoutLog, PayoutStateSummary, PayoutStatus, PlanResult, SkippedSeller, VaultState } from "./types.js";
import type { OpenItems } from "../open-items.js";


export interface PayoutServiceOptions {
  sql: SqlRunner;
  ledger: Ledger;
  fx: PayoutFxService;
  /** Seller directory (SettlementService satisfies it). */
  sellers: { listSellers(): Promise<Seller[]> };
  /** The sellers the vault pays (default: every seller): services.ts leaves out those on the bank rail. */
  payable?: { listSellers(): Promise<Seller[]> };
  /** Without a chain only destinations and reads work; planning and execution are ENT_PAYOUT_UNAVAILABLE. */
  chain?: PayoutChain;
  /** Chain of destinations when no chain is attached (default: the chain's id). */
  chainId?: bigint;
  /** Smallest payout, in minor units of the seller's payout currency. Default 100. */
  minAmount?: bigint;
  /** Most payouts in one vault call. Default 100. */
  maxPerBatch?: number;
  /** Most batches one run plans. Default 10. */
  maxBatchesPerRun?: number;
  /** `tick()` plans when the last run is older than this; 0 = only on demand (POST /v1/payouts/runs). Default 60 s. */
  intervalMs?: number;
  /** Delay before a failed batch is retried with the same ids. Default 60 s. */
  retryAfterMs?: number;
  /**
   * The planner run's lease TTL (`payout_state`), renewed every third of it while a run works: a
   * dead instance holds planning off for at most this long. Default VAULT_PLANNER_LEASE_MS (6 s).
   */
  leaseMs?: number;
  /** Where the planner's lease lives (default: `payout_state`, PayoutStateLeases); tests wrap it. */
  leases?: LeaseStorePort;
  /** The token's decimals, shared with the treasury and the exports (read from the token when absent). */
  tokenDecimals?: TokenDecimals;
  /** Rounding of the CNY -> USD conversion: towards the platform's safety. Default "down". */
  fxRounding?: RoundingMode;
  hooks?: PayoutHooks;
  log?: PayoutLog;
  now?: () => Date;
}

/** The module's tables, one repository per job (for this module and its tests only). */
export interface PayoutRepositories {
  destinations: DestinationRepository;
  planner: PlannerRepository;
  batches: PayoutRepository;
}

export class PayoutService {
  readonly repo: PayoutRepositories;
  readonly #chain: PayoutChain | undefined;
  readonly #chainId: bigint | undefined;
  readonly #destinations: PayoutDestinations;
  readonly #planner: PayoutPlanner | undefined;
  readonly #executor: PayoutExecutor | undefined;
  readonly #intervalMs: number;
  readonly #log: PayoutLog | undefined;
  readonly #now: () => Date;
  readonly #ledger: Ledger;
  /** The held-back sellers last logged (`reason:sellerId`, sorted; "" none). */
  #heldBack = "";
  #barred = "";

  constructor(opts: PayoutServiceOptions) {
    this.#ledger = opts.ledger;
    this.repo = { destinations: new DestinationRepository(opts.sql), planner: new PlannerRepository(opts.sql), batches: new PayoutRepository(opts.sql) };
    this.#chain = opts.chain;
    this.#chainId = opts.chainId ?? opts.chain?.chainId;
    const minAmount = opts.minAmount ?? 100n;
    const maxPerBatch = opts.maxPerBatch ?? 100;
    this.#intervalMs = opts.intervalMs ?? 60_000;
    this.#log = opts.log;
    this.#now = opts.now ?? (() => new Date());
    if (minAmount < 1n) throw new RangeError("minAmount must be >= 1");
    if (!Number.isInteger(maxPerBatch) || maxPerBatch < 1 || maxPerBatch > 1_000) throw new RangeError("maxPerBatch must be 1..1000");

    const chain = opts.chain;
    this.#destinations = new PayoutDestinations({
      repo: this.repo.destinations,
      sellers: opts.sellers,
      chainId: this.#chainId,
      contracts:
        chain === undefined
          ? undefined
          : {
              chainId: chain.chainId,
              addresses: [
                { name: "the vault", address: chain.record.contracts.SettlementVault.address },
                { name: "the vault's payout token", address: chain.record.token.address },
                { name: "the anchor contract", address: chain.record.contracts.SettlementAnchor.address },
              ],
            },
      log: opts.log,
    });
    if (chain !== undefined) {
      const { vault } = attachSystem(chain.record, chain.provider);
      const decimals = opts.tokenDecimals ?? tokenDecimalsOf(chain);
      const reserves = new Reserves(opts.ledger, this.repo.planner, opts.log);
      this.#planner = new PayoutPlanner({
        repo: this.repo.planner,
        leases: opts.leases ?? new PayoutStateLeases(opts.sql),
        destinations: this.repo.destinations,
        reserves,
        ledger: opts.ledger,
        fx: opts.fx,
        sellers: opts.payable ?? opts.sellers,
        chain,
        vault,
        tokenDecimals: () => decimals.read(),
        owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
        minAmount,
        maxPerBatch,
        maxBatchesPerRun: opts.maxBatchesPerRun ?? 10,
        leaseMs: opts.leaseMs ?? VAULT_PLANNER_LEASE_MS,
        rounding: opts.fxRounding ?? "down",
        hooks: opts.hooks,
        log: opts.log,
      });
      this.#executor = new PayoutExecutor({
        repo: this.repo.batches,
        reserves,
        ledger: opts.ledger,
        chain,
        vault,
        retryAfterMs: opts.retryAfterMs ?? 60_000,
        hooks: opts.hooks,
        log: opts.log,
        now: this.#now,
      });
    }
  }

  /** The chain this service pays on (also the default chain of destinations). */
  get chainId(): bigint | undefined {
    return this.#chainId;
  }

  get vaultAddress(): string | undefined {
    return this.#chain?.record.contracts.SettlementVault.address;
  }

  // ---- destinations ---------------------------------------------------------------------------

  async setDestination(sellerId: string, address: string, opts: { chainId?: bigint; by: string }): Promise<{ destination: PayoutDestination; changed: boolean }> {
    return this.#destinations.set(sellerId, address, opts);
  }

  async getDestination(sellerId: string, chainId?: bigint): Promise<PayoutDestination> {
    return this.#destinations.get(sellerId, chainId);
  }

  /**
   * The seller a claiming address belongs to (the treasury's ClaimantDirectory): the seller of this
   * vault's latest deferred payout to it, else the seller whose destination it is on the chain.
   */
  async sellerOfClaimant(claim: { chainId: bigint; vault: string; address: string }): Promise<string | null> {
    return (await this.repo.batches.sellerOfDeferred(claim.vault, claim.address)) ?? (await this.repo.destinations.byAddress(claim.chainId, claim.address))?.sellerId ?? null;
  }

  // ---- reads ----------------------------------------------------------------------------------

  async getPayout(id: bigint): Promise<Payout> {
    const p = await this.repo.batches.getPayout(id);
    if (p === null) throw PayoutErrors.notFound(`no payout ${id}`, { fields: [{ field: "id", message: "unknown payout id" }] });
    return publicPayout(p);
  }

  /** Vault payouts per state and currency (the dashboard's figures). */
  summary(): Promise<PayoutStateSummary[]> {
    return this.repo.batches.summary();
  }

  /** For the period-close checklist: the vault payouts planned before `before` that are not final. */
  notFinalBefore(before: Date, limit: number): Promise<OpenItems> {
    return this.repo.batches.notFinalBefore(before, limit);
  }

  async listPayouts(filter: PayoutFilter): Promise<Payout[]> {
    return (await this.repo.batches.listPayouts(filter)).map(publicPayout);
  }

  /**
   * What a payout pays: the lines of the seller's available balance since the previous payout of
   * the same currency reserved it (or since the start), up to this payout's reserve. A payout takes
   * the whole available balance, so the lines' effect on it (`available`: posted legs, a reserve
   * taken, a reserve released) sums to the payout's amount (`matches`).
   */
  async settledBy(id: bigint): Promise<{ payout: Payout; lines: Array<AccountStatement["lines"][number] & { available: bigint }>; total: bigint; matches: boolean }> {
    const payout = await this.getPayout(id);
    if (payout.pendingTxId === null) return { payout, lines: [], total: 0n, matches: false };
    const earlier = (await this.repo.batches.listPayouts({ sellerId: payout.sellerId, before: id, limit: 1000 })).find(
      (p) => p.currency === payout.currency && p.pendingTxId !== null,
    );
    const lines = (
      await this.#ledger.postingsBetween(PayoutAccounts.available(payout.sellerId), payout.currency, {
        afterTransactionId: earlier?.pendingTxId ?? null,
        beforeTransactionId: payout.pendingTxId,
      })
    ).map((l) => ({ ...l, available: availableChange(l) }));
    const total = lines.reduce((t, l) => t + l.available, 0n);
    return { payout, lines, total, matches: total === payout.amount };
  }

  /** Batches in the given statuses (all when none given), oldest first (reconciliation, operations). */
  async listBatches(statuses: readonly PayoutStatus[] = PAYOUT_STATUSES): Promise<PayoutBatch[]> {
    return this.repo.batches.batchesIn(statuses);
  }

  async getBatch(id: bigint): Promise<{ batch: PayoutBatch; payouts: Payout[] }> {
    const batch = await this.repo.batches.getBatch(id);
    if (batch === null) throw PayoutErrors.batchNotFound(`no payout batch ${id}`, { fields: [{ field: "id", message: "unknown batch id" }] });
    return { batch, payouts: (await this.repo.batches.payoutsOf(id)).map(publicPayout) };
  }

  // ---- the worker -----------------------------------------------------------------------------

  /** Plan now and drive every batch one step (POST /v1/payouts/runs). */
  async run(opts: { by?: string } = {}): Promise<PlanResult> {
    const planned = await this.plan(opts);
    await this.execute();
    const fresh = await Promise.all(planned.batches.map(async (b) => (await this.repo.batches.getBatch(b.id)) ?? b));
    return { batches: fresh, skipped: planned.skipped };
  }

  /**
   * One worker step: plan when the interval has passed, then drive batches. A failed plan does not
   * stop execution (batches already recorded must still move); its error is thrown after it, to the
   * worker's loop (service/loop.ts), which logs a node or database outage once when it starts (its
   * retries at debug) and anything else as an error with its stack. Another planner at work, or a
   * lost lease (logged by the lease; the next run takes over what this one recorded), is no failure.
   */
  async tick(): Promise<void> {
    let failure: { error: unknown } | null = null;
    if (this.#intervalMs > 0) {
      const last = await this.repo.planner.lastPlannedAt();
      if (last === null || this.#now().getTime() - last.getTime() >= this.#intervalMs) {
        try {
          await this.plan({ by: "worker" });
        } catch (e) {
          const code = isAppError(e) ? e.code : null;
          if (code !== PayoutErrors.plannerBusy.code && code !== PayoutErrors.plannerLeaseLost.code) failure = { error: e };
        }
      }
    }
    await this.execute();
    if (failure !== null) throw failure.error;
  }

  /** Index listener: a vault event changed or was rolled back -> follow the batches now. */
  async onIndexed(change: IndexerChange): Promise<void> {
    const chain = this.#chain;
    if (!chain || change.chainId !== chain.chainId) return;
    const vault = chain.record.contracts.SettlementVault.address;
    const relevant = [...change.changed, ...change.removed].some(
      (e) => sameAddress(e.address, vault) || (e.contract === "Stablecoin" && (sameAddress(e.args["from"] ?? "", vault) || sameAddress(e.args["to"] ?? "", vault))),
    );
    if (relevant) await this.execute();
  }

  /**
   * One planning run (planner.ts); ENT_PAYOUT_PLANNER_BUSY while another process plans,
   * ENT_PAYOUT_PLANNER_LEASE_LOST when the run's lease ended under it (it recorded nothing more).
   */
  async plan(opts: { by?: string } = {}): Promise<PlanResult> {
    const r = await this.#requirePlanner().plan(opts.by ?? "worker");
    this.#reportHeldBack(r.skipped);
    this.#reportBarred(r.skipped);
    return r;
  }

  /**
   * Sellers the vault may never pay (`vault_not_permitted`: established in mainland China) and no
   * bank account puts on the bank rail are paid by nobody until an operator sets one: logged at warn
   * when that set changes, like the sellers the vault holds back.
   */
  #reportBarred(skipped: readonly SkippedSeller[]): void {
    const barred = skipped.filter((x) => x.reason === "vault_not_permitted");
    const key = barred.map((x) => x.sellerId).sort().join(",");
    if (key === this.#barred) return;
    this.#barred = key;
    if (barred.length === 0) return;
    this.#log?.warn(
      { reason: "vault_not_permitted", sellers: barred.length, skipped: barred.slice(0, 20) },
      `${barred.length} seller(s) may not be paid in a stablecoin and have no bank account: unpaid until one is set (PUT /v1/sellers/:id/bank-account)`,
    );
  }

  /**
   * Sellers the vault held back (`vault_capacity`, `vault_paused`) are logged at warn when that set
   * changes, not at every run: an underfunded or paused vault leaves sellers unpaid until someone
   * acts, and that must reach the log once. The figures are in /metrics (`lastRun`).
   */
  #reportHeldBack(skipped: readonly SkippedSeller[]): void {
    const held = skipped.filter((x) => x.reason === "vault_capacity" || x.reason === "vault_paused");
    const key = held.map((x) => `${x.reason}:${x.sellerId}`).sort().join(",");
    if (key === this.#heldBack) return;
    this.#heldBack = key;
    if (held.length === 0) {
      this.#log?.info({}, "the vault covers every due payout again");
      return;
    }
    const paused = held.some((x) => x.reason === "vault_paused");
    this.#log?.warn(
      { reason: paused ? "vault_paused" : "vault_capacity", sellers: held.length, skipped: held.slice(0, 20) },
      paused
        ? `the vault is paused: ${held.length} due payout(s) not planned until it is unpaused`
        : `the vault cannot cover ${held.length} due payout(s) (vault_capacity): fund it, or they wait`,
    );
  }

  /** When the last planning run (any instance) ended, and what it found of the vault; null before the first. */
  lastRun(): Promise<{ at: Date; vault: VaultState } | null> {
    return this.repo.planner.lastRun();
  }

  /** Drives every active batch of the current vault one step (executor.ts). */
  async execute(): Promise<void> {
    await this.#requireExecutor().execute();
  }

  /**
   * Operator cancellation of a batch that is not in flight (planned or failed): its ids are voided
   * on chain, and when that is final the ledger reserves are voided (executor.ts).
   */
  async cancelBatch(id: bigint, opts: { by: string }): Promise<PayoutBatch> {
    return this.#requireExecutor().cancelBatch(id, opts);
  }

  /** The sender's key of a batch's current attempt. */
  txKey(batch: Pick<PayoutBatch, "id" | "vault" | "attempt">): string {
    return this.#requireExecutor().txKey(batch);
  }

  /** Calldata of `vault.payout(batchId, firstPayoutId, packed)`, rebuilt from the stored payouts. */
  async calldata(batch: PayoutBatch): Promise<{ data: string; packed: bigint[] }> {
    return this.#requireExecutor().calldata(batch);
  }

  /** Ids of the batch already marked processed in the vault's bitmap (paid, deferred or cancelled). */
  async processedIds(batch: Pick<PayoutBatch, "firstPayoutId" | "count">): Promise<bigint[]> {
    return this.#requireExecutor().processedIds(batch);
  }

  #requirePlanner(): PayoutPlanner {
    if (this.#planner === undefined) throw unavailable();
    return this.#planner;
  }

  #requireExecutor(): PayoutExecutor {
    if (this.#executor === undefined) throw unavailable();
    return this.#executor;
  }
}

function unavailable() {
  return PayoutErrors.unavailable("payouts need a chain (CHAIN_RPC_URL) and a deployment record");
}

function publicPayout(p: StoredPayout): Payout {
  const { ledgerRequest: _omit, ...rest } = p;
  void _omit;
  return rest;
}
