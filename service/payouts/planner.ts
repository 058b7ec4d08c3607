/**
 * The planner: sellers' available balances -> payout batches with consecutive on-chain ids, each
 * payout reserved in the ledger before anything is sent. This is step 1 (PLAN) of the payout
 * protocol written at the top of executor.ts; the rules themselves (who is due, how much, what fits,
 * how batches are cut) are the pure functions of plan.ts.
 *
 * One planner at a time: an in-process mutex, then the database lease (`payout_state`, through
 * run-lease.ts as the bank rail's run): short (VAULT_PLANNER_LEASE_MS, 6 s) and renewed every
 * third of it while the run works, so a run whose instance died (kill -9) holds planning off for at
 * most one TTL, however long runs take. Every write of the run is fenced: the transaction that
 * records a batch, the one linking a payout to its reserve and the one stamping `last_planned_at`
 * verify the lease (holder and token) first, and the reserve's posting checks its local deadline;
 * a run that lost its lease stops with ENT_PAYOUT_PLANNER_LEASE_LOST and records nothing more.
 * A seller the vault may not pay (established in mainland China, jurisdiction.ts) is skipped as
 * `vault_not_permitted` before its balance is read, whatever destination is on file.
 * Per run: the reserves a crash (or a dead run) left unbooked are posted first, so no balance read
 * below can miss an earlier reservation; a paused vault gets no batch (its due sellers are skipped
 * as `vault_paused`); what the run found of the vault is stamped with `last_planned_at` (VaultState); each batch is recorded with its payouts and their exact
 * ledger requests in one transaction, then its pending reserves are posted (`payout:<id>:reserve`,
 * one whoever posts it).
 */
import type { SettlementVaultContract } from "../chain/contracts.js";
import type { SqlRunner } from "../db/sql.js";
import { errorSummary, isAppError } from "../errors.js";
import type { Ledger } from "../ledger/types.js";
import type { RoundingMode } from "../money/index.js";
import type { Seller } from "../settlement/types.js";
import { STABLECOIN_CURRENCY, unitsPerCent } from "../treasury/index.js";
import { availableBalance } from "./balances.js";
import { pendingPayoutRequest, requestToJson } from "./booking.js";
import type { LeaseStorePort } from "../leader/lease-store.js";
import { RunLease } from "./run-lease.js";
import type { DestinationRepository } from "./destination-repository.js";
import { Mutex } from "../concurrency.js";
import { candidate, draftBatches, fitVault, isCandidate, planningOrder, skipBeforeBalance, skipForBalance, skipNotPermitted, type Candidate, type Conversion } from "./plan.js";
import { PLANNER_LEASE, type NewPayout, type PlannerRepository } from "./planner-repository.js";
import type { Reserves } from "./reserves.js";
import type { PayoutBatch, PayoutChain, PayoutFxService, PayoutHooks, PayoutLog, PlanResult, SkippedSeller, VaultState } from "./types.js";

/** A run renews every 2 s: a dead instance's run is taken over 4 to 6 s after it died. */
export const VAULT_PLANNER_LEASE_MS = 6_000;

export interface PlannerOptions {
  repo: PlannerRepository;
  /** The lease's store (PayoutStateLeases on `payout_state`). */
  leases: LeaseStorePort;
  destinations: DestinationRepository;
  reserves: Reserves;
  ledger: Ledger;
  fx: PayoutFxService;
  sellers: { listSellers(): Promise<Seller[]> };
  chain: PayoutChain;
  vault: SettlementVaultContract;
  tokenDecimals: () => Promise<number>;
  /** This process's name in the planner lease. */
  owner: string;
  minAmount: bigint;
  maxPerBatch: number;
  maxBatchesPerRun: number;
  /** The run's lease TTL, renewed every third of it while the run works. */
  leaseMs: number;
  rounding: RoundingMode;
  hooks: PayoutHooks | undefined;
  log: PayoutLog | undefined;
}

export class PayoutPlanner {
  readonly #o: PlannerOptions;
  readonly #mutex = new Mutex();

  constructor(options: PlannerOptions) {
    this.#o = options;
  }

  /**
   * One planning run under the lease; ENT_PAYOUT_PLANNER_BUSY while another planner holds it,
   * ENT_PAYOUT_PLANNER_LEASE_LOST when this run's lease ended under it (it recorded nothing more).
   */
  async plan(by: string): Promise<PlanResult> {
    const { leases, owner, leaseMs, log } = this.#o;
    return this.#mutex.run(async () => {
      const lease = await RunLease.take({ store: leases, lease: PLANNER_LEASE, holder: owner, ttlMs: leaseMs, log, rail: "vault" });
      try {
        return await this.#plan(by, lease);
      } finally {
        await lease.release();
      }
    });
  }

  async #plan(by: string, lease: RunLease): Promise<PlanResult> {
    const { repo, reserves, chain } = this.#o;
    const fence = (tx: SqlRunner) => lease.verify(tx);
    // Intents recorded before a crash (or by a run that died) get their ledger reserve first, so no
    // balance read below can miss an earlier reservation.
    await reserves.bookUnbooked(lease);
    const stillUnbooked = new Set((await repo.unbooked()).map((p) => p.sellerId));
    // A paused vault refuses every payout: planning one would only reserve balances for a batch that
    // fails, again at every interval (an emergency pause should quiet the payer, not feed it).
    const paused = await this.#o.vault.paused();

    const vault = chain.record.contracts.SettlementVault.address;
    const perCent = unitsPerCent(await this.#o.tokenDecimals());
    const skipped: SkippedSeller[] = [];
    const destinations = new Map((await this.#o.destinations.list(chain.chainId)).map((d) => [d.sellerId, d]));
    const sellers = planningOrder(await this.#o.sellers.listSellers());
    const quotes = new Map<string, Promise<{ id: string; allInRate: string }>>();
    const candidates: Candidate[] = [];

    for (const s of sellers) {
      const destination = destinations.get(s.id);
      // Before the balance is read: nothing of a barred seller's is reserved or converted.
      const barred = skipNotPermitted(s, destination);
      if (barred !== null) {
        skipped.push(barred);
        continue;
      }
      const early = skipBeforeBalance(s.id, destination, stillUnbooked);
      if (early !== null || destination === undefined) {
        if (early !== null) skipped.push(early);
        continue;
      }
      const available = await availableBalance(this.#o.ledger, s.id, s.payoutCurrency);
      const low = skipForBalance(s, available, this.#o.minAmount);
      if (low !== null || available === null) {
        if (low !== null) skipped.push(low);
        continue;
      }
      const conversion = await this.#convert(s, available, quotes);
      if ("reason" in conversion) {
        skipped.push(conversion);
        continue;
      }
      const c = candidate(s, destination.address, available, conversion, perCent);
      if (isCandidate(c)) candidates.push(c);
      else skipped.push(c);
    }

    // The vault must cover what is planned: its free balance minus what is already in flight
    // (conservative: a mined, not yet final batch is counted in both).
    const budget = (await this.#o.vault.excess()) - (await repo.inFlightTotal(vault));
    const { fitting, skipped: overCapacity } = paused
      ? { fitting: [], skipped: candidates.map((c): SkippedSeller => ({ sellerId: c.sellerId, reason: "vault_paused", detail: `needs ${c.tokenAmount} base units; the vault is paused` })) }
      : fitVault(candidates, budget, this.#o.maxPerBatch * this.#o.maxBatchesPerRun);
    skipped.push(...overCapacity);
    const vaultState: VaultState = {
      paused,
      budget: budget < 0n ? 0n : budget,
      due: candidates.reduce((t, c) => t + c.tokenAmount, 0n),
      capacitySkipped: paused ? 0 : overCapacity.length,
    };

    const batches: PayoutBatch[] = [];
    for (const draft of draftBatches(fitting, this.#o.maxPerBatch)) {
      const inserted = await repo.insertBatch(fence, {
        chainId: chain.chainId,
        vault,
        createdBy: by,
        payouts: draft.payouts.map((c) => newPayout(c, chain.chainId, vault)),
        payoutsHash: draft.payoutsHash,
        total: draft.total,
      });
      await this.#o.hooks?.at?.("batch-recorded", { batchId: inserted.batch.id });
      await reserves.book(inserted.payouts, lease);
      this.#o.log?.info(
        { batchId: inserted.batch.id.toString(), firstPayoutId: inserted.batch.firstPayoutId.toString(), count: inserted.batch.count, total: inserted.batch.total.toString() },
        "payout batch planned",
      );
      await this.#o.hooks?.at?.("intent-recorded", { batchId: inserted.batch.id });
      batches.push(inserted.batch);
    }
    await repo.markPlanned(fence, vaultState);
    return { batches, skipped, vault: vaultState };
  }

  /** USD 1:1; any other currency through one FX quote per currency and run, rounded as configured. */
  async #convert(s: Seller, available: bigint, quotes: Map<string, Promise<{ id: string; allInRate: string }>>): Promise<Conversion | SkippedSeller> {
    if (s.payoutCurrency === "USD") return { usdAmount: available, fx: null };
    const { fx, rounding } = this.#o;
    try {
      let q = quotes.get(s.payoutCurrency);
      if (q === undefined) {
        q = fx.quote({ base: s.payoutCurrency, quote: "USD" });
        quotes.set(s.payoutCurrency, q);
      }
      const quote = await q;
      const conv = await fx.convert({ amount: available, from: s.payoutCurrency, to: "USD", quoteId: quote.id, rounding });
      return { usdAmount: conv.amount, fx: { quoteId: quote.id, rate: conv.rate, rounding, evidence: conv.evidence } };
    } catch (e) {
      if (!isAppError(e)) throw e;
      quotes.delete(s.payoutCurrency);
      return { sellerId: s.id, reason: "fx_unavailable", detail: errorSummary(e) };
    }
  }
}

/** A candidate as the planner repository records it: its ledger request is built once the ids are known. */
function newPayout(c: Candidate, chainId: bigint, vault: string): NewPayout {
  const fx = c.fx === null ? null : { quoteId: c.fx.quoteId, rate: c.fx.rate, rounding: c.fx.rounding };
  return {
    ...c,
    ledgerRequest: ({ payoutId, batchId }) =>
      requestToJson(
        pendingPayoutRequest({
          payoutId,
          batchId,
          sellerId: c.sellerId,
          chainId,
          vault,
          address: c.address,
          currency: c.currency,
          amount: c.amount,
          usdAmount: c.usdAmount,
          tokenAmount: c.tokenAmount,
          tokenCurrency: STABLECOIN_CURRENCY,
          fx,
        }),
      ),
  };
}
