/**
 * The planner: sellers' available balances -> payout batches with consecutive on-chain ids, each
 * payout reserved in the ledger before anything is sent. This is step 1 (PLAN) of the payout
 * protocol written at the top of executor.ts; the rules themselves (who is due, how much, what fits,
 * how batches are cut) are the pure functions of plan.ts.
 *
 * One planner at a time: an in-process mutex, then the database lease (`payout_state`), which the
 * insert of every batch re-checks under lock (fencing). Per run: the reserves a crash left unbooked
 * are posted first, so no balance read below can miss an earlier reservation; each batch is
 * recorded with its payouts and their exact ledger requests in one transaction, then its pending
 * reserves are posted (`payout:<id>:reserve`).
 */
import type { SettlementVaultContract } from "../chain/contracts.js";
import { errorSummary, isAppError } from "../errors.js";
import type { Ledger } from "../ledger/types.js";
import type { RoundingMode } from "../money/index.js";
import type { Seller } from "../settlement/types.js";
import { STABLECOIN_CURRENCY, unitsPerCent } from "../treasury/index.js";
import { availableBalance } from "./balances.js";
import { pendingPayoutRequest, requestToJson } from "./booking.js";
import type { DestinationRepository } from "./destination-repository.js";
import { PayoutErrors } from "./errors.js";
import { Mutex } from "../concurrency.js";
import { candidate, draftBatches, fitVault, isCandidate, planningOrder, skipBeforeBalance, skipForBalance, type Candidate, type Conversion } from "./plan.js";
import type { NewPayout, PlannerRepository } from "./planner-repository.js";
import type { Reserves } from "./reserves.js";
import type { PayoutBatch, PayoutChain, PayoutFxService, PayoutHooks, PayoutLog, PlanResult, SkippedSeller } from "./types.js";

export interface PlannerOptions {
  repo: PlannerRepository;
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

  /** One planning run under the lease; ENT_PAYOUT_PLANNER_BUSY while another planner holds it. */
  async plan(by: string): Promise<PlanResult> {
    const { repo, owner, leaseMs } = this.#o;
    return this.#mutex.run(async () => {
      if (!(await repo.acquireLease(owner, leaseMs))) {
        throw PayoutErrors.plannerBusy("another payout run holds the planner lease; retry shortly");
      }
      try {
        return await this.#plan(by);
      } finally {
        await repo.releaseLease(owner);
      }
    });
  }

  async #plan(by: string): Promise<PlanResult> {
    const { repo, reserves, chain, owner } = this.#o;
    // Intents recorded before a crash get their ledger reserve first, so no balance read below can
    // miss an earlier reservation.
    await reserves.bookUnbooked();
    const stillUnbooked = new Set((await repo.unbooked()).map((p) => p.sellerId));

    const vault = chain.record.contracts.SettlementVault.address;
    const perCent = unitsPerCent(await this.#o.tokenDecimals());
    const skipped: SkippedSeller[] = [];
    const destinations = new Map((await this.#o.destinations.list(chain.chainId)).map((d) => [d.sellerId, d]));
    const sellers = planningOrder(await this.#o.sellers.listSellers());
    const quotes = new Map<string, Promise<{ id: string; allInRate: string }>>();
    const candidates: Candidate[] = [];

    for (const s of sellers) {
      const destination = destinations.get(s.id);
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
    const { fitting, skipped: overCapacity } = fitVault(candidates, budget, this.#o.maxPerBatch * this.#o.maxBatchesPerRun);
    skipped.push(...overCapacity);

    const batches: PayoutBatch[] = [];
    for (const draft of draftBatches(fitting, this.#o.maxPerBatch)) {
      const inserted = await repo.insertBatch(owner, {
        chainId: chain.chainId,
        vault,
        createdBy: by,
        payouts: draft.payouts.map((c) => newPayout(c, chain.chainId, vault)),
        payoutsHash: draft.payoutsHash,
        total: draft.total,
      });
      if (inserted === null) throw PayoutErrors.plannerBusy("the planner lease expired during the run; nothing more was recorded");
      await this.#o.hooks?.at?.("batch-recorded", { batchId: inserted.batch.id });
      await reserves.book(inserted.payouts);
      this.#o.log?.info(
        { batchId: inserted.batch.id.toString(), firstPayoutId: inserted.batch.firstPayoutId.toString(), count: inserted.batch.count, total: inserted.batch.total.toString() },
        "payout batch planned",
      );
      await this.#o.hooks?.at?.("intent-recorded", { batchId: inserted.batch.id });
      batches.push(inserted.batch);
    }
    await repo.markPlanned(owner);
    return { batches, skipped };
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
