/**
 * PayoutService: sellers' available balances -> payout batches executed through the vault, with
 * the ledger reserve committed only when the vault's events are final.
 *
 * Protocol (crash-safe; every step is idempotent and re-derivable from stored state):
 *  1. PLAN (one planner at a time: in-process mutex + database lease with fencing): read each
 *     seller's available balance, convert (CNY through an FX quote, rounded down; USD 1:1), record
 *     the batch and its payouts with consecutive ids (one database transaction), then book one
 *     PENDING ledger transaction per payout (idempotency key `payout:<id>:reserve`, the exact
 *     request stored with the payout). A crash between the two: the next run re-posts the stored
 *     requests before reading any balance.
 *  2. SEND: for a planned batch, if the sender has no record for the attempt's key, the ids are
 *     checked on chain (`processedBitmap`) first; then `TxSender.submit` (key
 *     `payout:<chainId>:<vault>:<batchId>`, `:attempt-<n>` for retries) records the signed
 *     transaction before broadcasting it. A crash after that: the same key returns the same signed
 *     transaction (re-broadcast), never a second one.
 *  3. FOLLOW: the vault's events in the index decide: `PayoutBatchExecuted` (matched on batch id,
 *     first id, count and payoutsHash, whatever transaction carried it) and the per-payout logs of
 *     the same transaction set observed/safe; at final the pending reserves are committed (a
 *     deferred payout is then moved to `seller:<id>:claimable`). An event rolled back by a reorg puts
 *     the batch back to `sent` (the ledger stays pending; the sender re-broadcasts).
 *  4. A reverted (or would-revert) attempt marks the batch `failed`; after `retryAfterMs` it is
 *     retried with the SAME ids under a new attempt key. An operator may cancel a failed or
 *     planned batch instead: the ids are voided on chain (`cancelPayouts`), and once that is final
 *     the pending reserves are voided.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { getAddress, Interface, type ethers } from "ethers";
import { attachSystem, packPayout, payoutsHash, type SettlementVaultContract, type StablecoinContract } from "../chain/contracts.js";
import type { DeploymentRecord } from "../chain/deployment-record.js";
import type { IndexedEvent, IndexerChange } from "../chain/indexer/types.js";
import type { SqlRunner } from "../db/sql.js";
import { isAppError } from "../errors.js";
import type { Ledger } from "../ledger/types.js";
import type { RoundingMode } from "../money/index.js";
import type { Seller } from "../settlement/types.js";
import {
  claimableRequest,
  claimRequest,
  fundingRequest,
  ledgerKeys,
  PayoutAccounts,
  pendingPayoutRequest,
  requestFromJson,
  requestToJson,
  STABLECOIN_CURRENCY,
  unitsPerCent,
} from "./booking.js";
import { PayoutErrors } from "./errors.js";
import { PayoutRepository, type NewPayout, type StoredPayout } from "./repository.js";
import { PAYOUT_STATUSES } from "./types.js";
import type {
  Payout,
  PayoutBatch,
  PayoutDestination,
  PayoutFilter,
  PayoutHooks,
  PayoutIndex,
  PayoutLog,
  PayoutOutcome,
  PayoutSender,
  PayoutStatus,
  PlanResult,
  SkippedSeller,
} from "./types.js";

/** What payouts need from the FX module (FxService satisfies it). */
export interface PayoutFxService {
  quote(request: { base: string; quote: string }): Promise<{ id: string; allInRate: string }>;
  convert(input: { amount: bigint; from: string; to: string; quoteId?: string; rounding: RoundingMode }): Promise<{ amount: bigint; rate: string; evidence: unknown }>;
}

export interface PayoutChain {
  chainId: bigint;
  provider: ethers.Provider;
  record: DeploymentRecord;
  sender: PayoutSender;
  index: PayoutIndex;
  /** Address of the PAYER_ROLE key the sender signs with. */
  payer: string;
}

export interface PayoutServiceOptions {
  sql: SqlRunner;
  ledger: Ledger;
  fx: PayoutFxService;
  /** Seller directory (SettlementService satisfies it). */
  sellers: { listSellers(): Promise<Seller[]> };
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
  /** Planner lease duration. Default 120 s. */
  leaseMs?: number;
  /** Rounding of the CNY -> USD conversion: towards the platform's safety. Default "down". */
  fxRounding?: RoundingMode;
  hooks?: PayoutHooks;
  log?: PayoutLog;
  now?: () => Date;
}

const ACTIVE: readonly PayoutStatus[] = ["planned", "sent", "observed", "safe", "failed", "cancelling"];

class Mutex {
  #tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

const sameAddress = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function describe(e: unknown): string {
  if (isAppError(e)) return `${e.code}: ${e.message}`.slice(0, 500);
  return (e instanceof Error ? e.message : String(e)).slice(0, 500);
}

export class PayoutService {
  readonly repo: PayoutRepository;
  readonly #ledger: Ledger;
  readonly #fx: PayoutFxService;
  readonly #sellers: PayoutServiceOptions["sellers"];
  readonly #chain: PayoutChain | undefined;
  readonly #chainId: bigint | undefined;
  readonly #vault: SettlementVaultContract | undefined;
  readonly #token: StablecoinContract | undefined;
  readonly #vaultIface: Interface | undefined;
  readonly #minAmount: bigint;
  readonly #maxPerBatch: number;
  readonly #maxBatches: number;
  readonly #intervalMs: number;
  readonly #retryAfterMs: number;
  readonly #leaseMs: number;
  readonly #rounding: RoundingMode;
  readonly #hooks: PayoutHooks | undefined;
  readonly #log: PayoutLog | undefined;
  readonly #now: () => Date;
  readonly #owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly #planning = new Mutex();
  readonly #driving = new Mutex();
  #decimals: Promise<number> | null = null;

  constructor(opts: PayoutServiceOptions) {
    this.repo = new PayoutRepository(opts.sql);
    this.#ledger = opts.ledger;
    this.#fx = opts.fx;
    this.#sellers = opts.sellers;
    this.#chain = opts.chain;
    this.#chainId = opts.chainId ?? opts.chain?.chainId;
    if (opts.chain) {
      const c = attachSystem(opts.chain.record, opts.chain.provider);
      this.#vault = c.vault;
      this.#token = c.token;
      this.#vaultIface = new Interface(opts.chain.record.contracts.SettlementVault.abi);
    }
    this.#minAmount = opts.minAmount ?? 100n;
    this.#maxPerBatch = opts.maxPerBatch ?? 100;
    this.#maxBatches = opts.maxBatchesPerRun ?? 10;
    this.#intervalMs = opts.intervalMs ?? 60_000;
    this.#retryAfterMs = opts.retryAfterMs ?? 60_000;
    this.#leaseMs = opts.leaseMs ?? 120_000;
    this.#rounding = opts.fxRounding ?? "down";
    this.#hooks = opts.hooks;
    this.#log = opts.log;
    this.#now = opts.now ?? (() => new Date());
    if (this.#minAmount < 1n) throw new RangeError("minAmount must be >= 1");
    if (!Number.isInteger(this.#maxPerBatch) || this.#maxPerBatch < 1 || this.#maxPerBatch > 1_000) throw new RangeError("maxPerBatch must be 1..1000");
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
    const chainId = this.#destinationChain(opts.chainId);
    let checksummed: string;
    try {
      checksummed = getAddress(address);
    } catch {
      throw PayoutErrors.invalid("address is not an EVM address", { fields: [{ field: "address", message: "must be a 20-byte hex address (checksummed or lower case)" }] });
    }
    if (BigInt(checksummed) === 0n) throw PayoutErrors.invalid("the zero address cannot receive payouts", { fields: [{ field: "address", message: "must not be the zero address" }] });
    // The vault refuses a batch containing itself (InvalidPayout): one bad row would block everyone.
    if (this.vaultAddress !== undefined && sameAddress(checksummed, this.vaultAddress) && chainId === this.#chain?.chainId) {
      throw PayoutErrors.invalid("the vault cannot be a payout destination", { fields: [{ field: "address", message: "must not be the vault" }] });
    }
    await this.#requireSeller(sellerId);
    const r = await this.repo.setDestination({ sellerId, chainId, address: checksummed, setBy: opts.by });
    if (r === null) {
      throw PayoutErrors.destinationTaken(`${checksummed} is another seller's payout destination on chain ${chainId}`, {
        fields: [{ field: "address", message: "already another seller's destination on this chain" }],
      });
    }
    if (r.changed) this.#log?.info({ sellerId, chainId: chainId.toString(), address: checksummed, by: opts.by }, "payout destination set");
    return r;
  }

  async getDestination(sellerId: string, chainId?: bigint): Promise<PayoutDestination> {
    const chain = this.#destinationChain(chainId);
    const d = await this.repo.getDestination(sellerId, chain);
    if (d === null) {
      await this.#requireSeller(sellerId);
      throw PayoutErrors.destinationNotFound(`seller ${sellerId} has no payout destination on chain ${chain}`);
    }
    return d;
  }

  #destinationChain(given: bigint | undefined): bigint {
    const chainId = given ?? this.#chainId;
    if (chainId === undefined) throw PayoutErrors.invalid("chainId is required (no chain is configured)", { fields: [{ field: "chainId", message: "required" }] });
    if (chainId <= 0n) throw PayoutErrors.invalid("chainId must be positive", { fields: [{ field: "chainId", message: "must be positive" }] });
    return chainId;
  }

  async #requireSeller(sellerId: string): Promise<Seller> {
    const s = (await this.#sellers.listSellers()).find((x) => x.id === sellerId);
    if (s === undefined) throw PayoutErrors.sellerNotFound(`no seller ${JSON.stringify(sellerId.slice(0, 120))}`, { fields: [{ field: "sellerId", message: "unknown seller" }] });
    return s;
  }

  // ---- reads ----------------------------------------------------------------------------------

  async getPayout(id: bigint): Promise<Payout> {
    const p = await this.repo.getPayout(id);
    if (p === null) throw PayoutErrors.notFound(`no payout ${id}`, { fields: [{ field: "id", message: "unknown payout id" }] });
    return publicPayout(p);
  }

  async listPayouts(filter: PayoutFilter): Promise<Payout[]> {
    return (await this.repo.listPayouts(filter)).map(publicPayout);
  }

  /** Batches in the given statuses (all when none given), oldest first (reconciliation, operations). */
  async listBatches(statuses: readonly PayoutStatus[] = PAYOUT_STATUSES): Promise<PayoutBatch[]> {
    return this.repo.batchesIn(statuses);
  }

  async getBatch(id: bigint): Promise<{ batch: PayoutBatch; payouts: Payout[] }> {
    const batch = await this.repo.getBatch(id);
    if (batch === null) throw PayoutErrors.batchNotFound(`no payout batch ${id}`, { fields: [{ field: "id", message: "unknown batch id" }] });
    return { batch, payouts: (await this.repo.payoutsOf(id)).map(publicPayout) };
  }

  // ---- the worker -----------------------------------------------------------------------------

  /** Plan now and drive every batch one step (POST /v1/payouts/runs). */
  async run(opts: { by?: string } = {}): Promise<PlanResult> {
    const planned = await this.plan(opts);
    await this.execute();
    const fresh = await Promise.all(planned.batches.map(async (b) => (await this.repo.getBatch(b.id)) ?? b));
    return { batches: fresh, skipped: planned.skipped };
  }

  /** One worker step: plan when the interval has passed, drive batches, book vault events. */
  async tick(): Promise<void> {
    if (this.#intervalMs > 0) {
      const last = await this.repo.lastPlannedAt();
      if (last === null || this.#now().getTime() - last.getTime() >= this.#intervalMs) {
        try {
          await this.plan({ by: "worker" });
        } catch (e) {
          // Batches already recorded must still move: a failed plan does not stop execution.
          if (!(isAppError(e) && e.code === PayoutErrors.plannerBusy.code)) this.#log?.error({ err: describe(e) }, "payout planning failed; retried next interval");
        }
      }
    }
    await this.execute();
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

  // ---- planning -------------------------------------------------------------------------------

  async plan(opts: { by?: string } = {}): Promise<PlanResult> {
    const chain = this.#requireChain();
    return this.#planning.run(async () => {
      if (!(await this.repo.acquireLease(this.#owner, this.#leaseMs))) {
        throw PayoutErrors.plannerBusy("another payout run holds the planner lease; retry shortly");
      }
      try {
        return await this.#plan(chain, opts.by ?? "worker");
      } finally {
        await this.repo.releaseLease(this.#owner);
      }
    });
  }

  async #plan(chain: PayoutChain, by: string): Promise<PlanResult> {
    // Intents recorded before a crash get their ledger reserve first, so no balance read below can
    // miss an earlier reservation.
    await this.#bookUnbooked();
    const stillUnbooked = new Set((await this.repo.unbooked()).map((p) => p.sellerId));

    const vault = chain.record.contracts.SettlementVault.address;
    const decimals = await this.#tokenDecimals();
    const perCent = unitsPerCent(decimals);
    const skipped: SkippedSeller[] = [];
    const destinations = new Map((await this.repo.listDestinations(chain.chainId)).map((d) => [d.sellerId, d]));
    const sellers = (await this.#sellers.listSellers()).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const quotes = new Map<string, Promise<{ id: string; allInRate: string }>>();
    const candidates: NewPayout[] = [];

    for (const s of sellers) {
      const dest = destinations.get(s.id);
      if (dest === undefined) {
        skipped.push({ sellerId: s.id, reason: "no_destination" });
        continue;
      }
      if (stillUnbooked.has(s.id)) {
        skipped.push({ sellerId: s.id, reason: "unbooked_intent", detail: "an earlier payout's ledger reserve is not booked yet" });
        continue;
      }
      let available: bigint;
      try {
        available = (await this.#ledger.balance(PayoutAccounts.available(s.id), s.payoutCurrency)).available;
      } catch (e) {
        if (isAppError(e) && e.code === "ENT_LEDGER_ACCOUNT_NOT_FOUND") {
          skipped.push({ sellerId: s.id, reason: "no_account" });
          continue;
        }
        throw e;
      }
      if (available < this.#minAmount) {
        skipped.push({ sellerId: s.id, reason: "below_minimum", detail: `${available} < ${this.#minAmount} ${s.payoutCurrency}` });
        continue;
      }
      let usdAmount = available;
      let fx: NewPayout["fx"] = null;
      if (s.payoutCurrency !== "USD") {
        try {
          let q = quotes.get(s.payoutCurrency);
          if (q === undefined) {
            q = this.#fx.quote({ base: s.payoutCurrency, quote: "USD" });
            quotes.set(s.payoutCurrency, q);
          }
          const quote = await q;
          const conv = await this.#fx.convert({ amount: available, from: s.payoutCurrency, to: "USD", quoteId: quote.id, rounding: this.#rounding });
          usdAmount = conv.amount;
          fx = { quoteId: quote.id, rate: conv.rate, rounding: this.#rounding, evidence: conv.evidence };
        } catch (e) {
          if (!isAppError(e)) throw e;
          quotes.delete(s.payoutCurrency);
          skipped.push({ sellerId: s.id, reason: "fx_unavailable", detail: describe(e) });
          continue;
        }
      }
      if (usdAmount <= 0n) {
        skipped.push({ sellerId: s.id, reason: "zero_after_conversion" });
        continue;
      }
      const tokenAmount = usdAmount * perCent;
      const sellerId = s.id;
      const currency = s.payoutCurrency;
      const address = dest.address;
      const fxForBooking = fx === null ? null : { quoteId: fx.quoteId, rate: fx.rate, rounding: fx.rounding };
      candidates.push({
        sellerId,
        address,
        currency,
        amount: available,
        usdAmount,
        tokenAmount,
        fx,
        ledgerRequest: ({ payoutId, batchId }) =>
          requestToJson(
            pendingPayoutRequest({
              payoutId,
              batchId,
              sellerId,
              chainId: chain.chainId,
              vault,
              address,
              currency,
              amount: available,
              usdAmount,
              tokenAmount,
              tokenCurrency: STABLECOIN_CURRENCY,
              fx: fxForBooking,
            }),
          ),
      });
    }

    // The vault must cover what is planned: its free balance minus what is already in flight
    // (conservative: a mined, not yet final batch is counted in both).
    let budget = (await this.#vault!.excess()) - (await this.repo.inFlightTotal(vault));
    const fitting: NewPayout[] = [];
    for (const c of candidates) {
      if (c.tokenAmount <= budget && fitting.length < this.#maxPerBatch * this.#maxBatches) {
        fitting.push(c);
        budget -= c.tokenAmount;
      } else {
        skipped.push({ sellerId: c.sellerId, reason: "vault_capacity", detail: `needs ${c.tokenAmount} base units; vault budget ${budget < 0n ? 0n : budget}` });
      }
    }

    const batches: PayoutBatch[] = [];
    for (let i = 0; i < fitting.length; i += this.#maxPerBatch) {
      const chunk = fitting.slice(i, i + this.#maxPerBatch);
      const packed = chunk.map((c) => packPayout(c.address, c.tokenAmount));
      const inserted = await this.repo.insertBatch(this.#owner, {
        chainId: chain.chainId,
        vault,
        createdBy: by,
        payouts: chunk,
        payoutsHash: payoutsHash(packed).toLowerCase(),
        total: chunk.reduce((t, c) => t + c.tokenAmount, 0n),
      });
      if (inserted === null) throw PayoutErrors.plannerBusy("the planner lease expired during the run; nothing more was recorded");
      await this.#hooks?.at?.("batch-recorded", { batchId: inserted.batch.id });
      await this.#bookReserves(inserted.payouts);
      this.#log?.info(
        { batchId: inserted.batch.id.toString(), firstPayoutId: inserted.batch.firstPayoutId.toString(), count: inserted.batch.count, total: inserted.batch.total.toString() },
        "payout batch planned",
      );
      await this.#hooks?.at?.("intent-recorded", { batchId: inserted.batch.id });
      batches.push(inserted.batch);
    }
    await this.repo.markPlanned(this.#owner);
    return { batches, skipped };
  }

  async #bookUnbooked(): Promise<void> {
    const unbooked = await this.repo.unbooked();
    if (unbooked.length > 0) await this.#bookReserves(unbooked);
  }

  /** Posts the stored pending requests (idempotent by key); a refusal leaves the payout unbooked (retried). */
  async #bookReserves(payouts: readonly StoredPayout[]): Promise<void> {
    const todo = payouts.filter((p) => p.pendingTxId === null);
    if (todo.length === 0) return;
    const results = await this.#ledger.postBatch(todo.map((p) => requestFromJson(p.ledgerRequest)));
    for (const [i, r] of results.entries()) {
      const p = todo[i]!;
      if (r.status === "error") {
        this.#log?.error({ payoutId: p.id.toString(), code: r.error.code, err: r.error.message }, "payout reserve refused by the ledger; retried next run");
        continue;
      }
      await this.repo.setPendingTx(p.id, r.transaction.id);
      p.pendingTxId = r.transaction.id;
    }
  }

  // ---- execution ------------------------------------------------------------------------------

  /** Drives every active batch of the current vault one step, then books final vault events. */
  async execute(): Promise<void> {
    const chain = this.#requireChain();
    await this.#driving.run(async () => {
      const vault = chain.record.contracts.SettlementVault.address;
      for (const batch of await this.repo.batchesIn(ACTIVE, vault)) {
        try {
          await this.#drive(chain, batch);
        } catch (e) {
          this.#log?.error({ batchId: batch.id.toString(), err: describe(e) }, "payout batch step failed; retried next tick");
          if (!isAppError(e)) throw e;
        }
      }
      await this.#bookVaultEvents(chain);
    });
  }

  async #drive(chain: PayoutChain, batch: PayoutBatch): Promise<void> {
    // The chain decides first: whatever transaction executed these ids is followed.
    const executed = await this.#executedEvent(chain, batch);
    if (executed !== null) {
      await this.#applyExecuted(chain, batch, executed);
      return;
    }
    switch (batch.status) {
      case "planned":
        await this.#send(chain, batch);
        return;
      case "sent":
      case "observed":
      case "safe":
        await this.#follow(chain, batch);
        return;
      case "failed":
        if (batch.nextAttemptAt === null || batch.nextAttemptAt.getTime() <= this.#now().getTime()) {
          const next = await this.repo.updateBatch(batch.id, ["failed"], { status: "planned", attempt: batch.attempt + 1, txKey: null, nextAttemptAt: null });
          if (next) {
            await this.repo.setPayoutsStatus(batch.id, "planned", { txHash: null, blockNumber: null, error: batch.error });
            this.#log?.info({ batchId: batch.id.toString(), attempt: next.attempt }, "retrying failed payout batch with the same ids");
            await this.#send(chain, next);
          }
        }
        return;
      case "cancelling":
        await this.#cancelStep(chain, batch);
        return;
      case "final":
      case "cancelled":
        return;
    }
  }

  txKey(batch: Pick<PayoutBatch, "id" | "vault" | "attempt">): string {
    const chainId = this.#requireChain().chainId;
    const base = `payout:${chainId}:${batch.vault}:${batch.id}`;
    return batch.attempt <= 1 ? base : `${base}:attempt-${batch.attempt}`;
  }

  /** Calldata of `vault.payout(batchId, firstPayoutId, packed)`, rebuilt from the stored payouts. */
  async calldata(batch: PayoutBatch): Promise<{ data: string; packed: bigint[] }> {
    const payouts = await this.repo.payoutsOf(batch.id);
    const packed = payouts.map((p) => packPayout(p.address, p.tokenAmount));
    if (payouts.length !== batch.count || payoutsHash(packed).toLowerCase() !== batch.payoutsHash.toLowerCase()) {
      throw new Error(`payout batch ${batch.id}: stored payouts do not match the recorded payoutsHash`);
    }
    return { data: this.#vaultIface!.encodeFunctionData("payout", [batch.id, batch.firstPayoutId, packed]), packed };
  }

  async #send(chain: PayoutChain, batch: PayoutBatch): Promise<void> {
    const payouts = await this.repo.payoutsOf(batch.id);
    await this.#bookReserves(payouts);
    if (payouts.some((p) => p.pendingTxId === null)) return; // nothing goes out before every reserve is booked
    const key = this.txKey(batch);
    const { data } = await this.calldata(batch);
    const known = await chain.sender.get(key);
    if (known === null) {
      // A NEW transaction: the bitmap is the last line of defence against paying ids twice.
      const processed = await this.processedIds(batch);
      if (processed.length > 0) {
        const note = `payout ids ${processed.join(", ")} are already processed on chain; waiting for the vault's events (operator: check for a foreign batch or a cancellation)`;
        if (batch.error !== note) {
          this.#log?.error({ batchId: batch.id.toString(), processed: processed.map(String) }, "payout ids already processed on chain; not sending");
          await this.repo.updateBatch(batch.id, ["planned"], { error: note });
        }
        return;
      }
    }
    let tx;
    try {
      tx = await chain.sender.submit({ key, purpose: "payout", from: chain.payer, to: chain.record.contracts.SettlementVault.address, data });
    } catch (e) {
      if (isAppError(e) && e.code === "ENT_CHAIN_TX_WOULD_REVERT") {
        await this.#markFailed(batch, ["planned"], describe(e));
        return;
      }
      throw e;
    }
    await this.#hooks?.at?.("submitted", { batchId: batch.id });
    const sent = await this.repo.updateBatch(batch.id, ["planned"], { status: "sent", txKey: key, txHash: tx.hash, sentAt: this.#now(), error: null });
    if (sent) {
      await this.repo.setPayoutsStatus(batch.id, "sent", { txHash: tx.hash, blockNumber: null });
      this.#log?.info({ batchId: batch.id.toString(), key, hash: tx.hash }, "payout batch sent");
    }
  }

  /** Sent and not (or no longer) executed on chain: did the transaction revert? */
  async #follow(chain: PayoutChain, batch: PayoutBatch): Promise<void> {
    if (batch.status === "observed" || batch.status === "safe") {
      // Its events were rolled back (reorg): back to sent; the ledger stays pending and the sender
      // re-broadcasts the same transaction.
      const back = await this.repo.updateBatch(batch.id, ["observed", "safe"], { status: "sent", blockNumber: null, blockHash: null, paidTotal: null, deferredTotal: null });
      if (back) {
        await this.repo.setPayoutsStatus(batch.id, "sent", { txHash: batch.txHash, blockNumber: null });
        await this.repo.clearOutcomes(batch.id);
        this.#log?.warn({ batchId: batch.id.toString(), hash: batch.txHash }, "payout batch events rolled back by a reorg; back to sent");
      }
      return;
    }
    const key = batch.txKey ?? this.txKey(batch);
    const tx = await chain.sender.get(key);
    if (tx === null) {
      // Marked sent but the sender has no record: cannot happen (submit commits first); resend.
      await this.repo.updateBatch(batch.id, ["sent"], { status: "planned" });
      return;
    }
    if (tx.status === "reverted") await this.#markFailed(batch, ["sent"], tx.revertReason ?? "reverted");
    else if (tx.hash !== batch.txHash) await this.repo.updateBatch(batch.id, ["sent"], { txHash: tx.hash });
  }

  async #markFailed(batch: PayoutBatch, from: readonly PayoutStatus[], reason: string): Promise<void> {
    const nextAttemptAt = new Date(this.#now().getTime() + this.#retryAfterMs);
    const failed = await this.repo.updateBatch(batch.id, from, { status: "failed", error: reason.slice(0, 2000), nextAttemptAt });
    if (failed) {
      await this.repo.setPayoutsStatus(batch.id, "failed", { txHash: batch.txHash, blockNumber: null, error: reason.slice(0, 2000) });
      this.#log?.warn({ batchId: batch.id.toString(), attempt: batch.attempt, reason, retryAt: nextAttemptAt.toISOString() }, "payout batch failed; will retry with the same ids");
    }
  }

  /** Ids of the batch already marked processed in the vault's bitmap (paid, deferred or cancelled). */
  async processedIds(batch: Pick<PayoutBatch, "firstPayoutId" | "count">): Promise<bigint[]> {
    const first = batch.firstPayoutId;
    const last = first + BigInt(batch.count) - 1n;
    const out: bigint[] = [];
    for (let word = first >> 8n; word <= last >> 8n; word++) {
      const bits = await this.#vault!.processedBitmap(word);
      if (bits === 0n) continue;
      for (let id = word << 8n; id < (word + 1n) << 8n; id++) {
        if (id >= first && id <= last && ((bits >> (id & 0xffn)) & 1n) === 1n) out.push(id);
      }
    }
    return out;
  }

  // ---- the vault's events ---------------------------------------------------------------------

  async #executedEvent(chain: PayoutChain, batch: PayoutBatch): Promise<IndexedEvent | null> {
    const events = await chain.index.events({ contract: "SettlementVault", name: "PayoutBatchExecuted", args: { batchId: batch.id.toString() } });
    const mine = events.filter(
      (e) =>
        sameAddress(e.address, batch.vault) &&
        e.args["firstPayoutId"] === batch.firstPayoutId.toString() &&
        e.args["count"] === String(batch.count) &&
        (e.args["payoutsHash"] ?? "").toLowerCase() === batch.payoutsHash.toLowerCase(),
    );
    if (mine.length > 1) this.#log?.error({ batchId: batch.id.toString(), events: mine.map((e) => e.txHash) }, "payout batch executed more than once?");
    return mine[0] ?? null;
  }

  /**
   * Per-payout outcome from the logs of the executing transaction. `PayoutDeferred` names its id;
   * every other payout was paid. When the index holds the token's Transfer logs too, the i-th
   * per-payout log (Transfer from the vault, or PayoutDeferred) before PayoutBatchExecuted must be
   * payout `firstPayoutId + i`, which cross-checks seller and amount of every payout.
   */
  async #outcomes(chain: PayoutChain, batch: PayoutBatch, payouts: readonly StoredPayout[], ev: IndexedEvent): Promise<{ outcomes: Map<bigint, { outcome: PayoutOutcome; logIndex: number | null }> } | { mismatch: string }> {
    const logs = (await chain.index.events({ txHash: ev.txHash })).filter((l) => l.blockHash === ev.blockHash && l.logIndex < ev.logIndex);
    const isDeferred = (l: IndexedEvent) =>
      l.contract === "SettlementVault" && l.name === "PayoutDeferred" && sameAddress(l.address, batch.vault) && l.args["batchId"] === batch.id.toString();
    const isPush = (l: IndexedEvent) => l.contract === "Stablecoin" && l.name === "Transfer" && sameAddress(l.args["from"] ?? "", batch.vault);
    const byId = new Map(payouts.map((p) => [p.id, p]));
    const deferred = new Map<bigint, IndexedEvent>();
    for (const l of logs.filter(isDeferred)) {
      const id = BigInt(l.args["payoutId"] ?? "-1");
      const p = byId.get(id);
      if (p === undefined || !sameAddress(l.args["seller"] ?? "", p.address) || l.args["amount"] !== p.tokenAmount.toString()) {
        return { mismatch: `PayoutDeferred for payout ${id} does not match the recorded payout` };
      }
      deferred.set(id, l);
    }
    let paidTotal = 0n;
    let deferredTotal = 0n;
    for (const p of payouts) {
      if (deferred.has(p.id)) deferredTotal += p.tokenAmount;
      else paidTotal += p.tokenAmount;
    }
    if (ev.args["paidTotal"] !== paidTotal.toString() || ev.args["deferredTotal"] !== deferredTotal.toString()) {
      return { mismatch: `totals differ: chain paid ${ev.args["paidTotal"]} deferred ${ev.args["deferredTotal"]}, recorded paid ${paidTotal} deferred ${deferredTotal}` };
    }
    const outcomes = new Map<bigint, { outcome: PayoutOutcome; logIndex: number | null }>();
    const sequence = logs.filter((l) => isDeferred(l) || isPush(l)).sort((a, b) => a.logIndex - b.logIndex);
    const ordered = sequence.length === payouts.length;
    for (const [i, p] of payouts.entries()) {
      const l = ordered ? sequence[i]! : (deferred.get(p.id) ?? null);
      if (ordered && l !== null) {
        const ok = isDeferred(l)
          ? l.args["payoutId"] === p.id.toString()
          : !deferred.has(p.id) && sameAddress(l.args["to"] ?? "", p.address) && l.args["value"] === p.tokenAmount.toString();
        if (!ok) return { mismatch: `log ${l.logIndex} of ${ev.txHash} is not payout ${p.id} (firstPayoutId + ${i})` };
      }
      outcomes.set(p.id, { outcome: deferred.has(p.id) ? "deferred" : "paid", logIndex: l?.logIndex ?? null });
    }
    return { outcomes };
  }

  async #applyExecuted(chain: PayoutChain, batch: PayoutBatch, ev: IndexedEvent): Promise<void> {
    const payouts = await this.repo.payoutsOf(batch.id);
    const r = await this.#outcomes(chain, batch, payouts, ev);
    if ("mismatch" in r) {
      // Never book what does not match: hold the batch for an operator, loudly.
      const note = `vault events do not match the recorded batch: ${r.mismatch}`;
      if (batch.error !== note) {
        this.#log?.error({ batchId: batch.id.toString(), tx: ev.txHash, mismatch: r.mismatch }, "payout batch events mismatch; not booking");
        await this.repo.updateBatch(batch.id, ACTIVE, { error: note });
      }
      return;
    }
    const position = {
      txHash: ev.txHash,
      blockNumber: ev.blockNumber,
      blockHash: ev.blockHash,
      paidTotal: BigInt(ev.args["paidTotal"] ?? "0"),
      deferredTotal: BigInt(ev.args["deferredTotal"] ?? "0"),
    };
    if (ev.state !== "final") {
      if (batch.status === ev.state && batch.blockHash === ev.blockHash) return;
      const moved = await this.repo.updateBatch(batch.id, ACTIVE, { status: ev.state, ...position, error: null, nextAttemptAt: null });
      if (moved) {
        await this.repo.setPayoutsStatus(batch.id, ev.state, { txHash: ev.txHash, blockNumber: ev.blockNumber });
        for (const [id, o] of r.outcomes) await this.repo.setOutcome(id, o.outcome, o.logIndex);
        this.#log?.info({ batchId: batch.id.toString(), state: ev.state, tx: ev.txHash, block: ev.blockNumber.toString() }, `payout batch ${ev.state}`);
      }
      return;
    }
    // Final: only now does the seller's reserved balance leave the ledger.
    for (const p of payouts) {
      if (p.status === "final") continue;
      const o = r.outcomes.get(p.id)!;
      await this.#hooks?.at?.("before-booking", { batchId: batch.id, payoutId: p.id });
      if (p.pendingTxId === null) throw new Error(`payout ${p.id} executed on chain without a ledger reserve`);
      const commit = await this.#ledger.commitPending(p.pendingTxId, ledgerKeys.commit(p.id));
      let claimableTxId: string | null = null;
      if (o.outcome === "deferred") {
        const c = await this.#ledger.post(
          claimableRequest({ payoutId: p.id, sellerId: p.sellerId, tokenAmount: p.tokenAmount, tokenCurrency: STABLECOIN_CURRENCY, txHash: ev.txHash, chainId: chain.chainId }),
        );
        claimableTxId = c.transaction.id;
      }
      await this.repo.finalizePayout({ id: p.id, outcome: o.outcome, commitTxId: commit.transaction.id, claimableTxId, txHash: ev.txHash, blockNumber: ev.blockNumber, logIndex: o.logIndex });
    }
    const done = await this.repo.updateBatch(batch.id, ACTIVE, { status: "final", ...position, error: null, nextAttemptAt: null, finalAt: this.#now() });
    if (done) {
      this.#log?.info(
        { batchId: batch.id.toString(), tx: ev.txHash, paid: position.paidTotal.toString(), deferred: position.deferredTotal.toString() },
        "payout batch final; ledger committed",
      );
    }
  }

  // ---- cancellation ---------------------------------------------------------------------------

  /**
   * Operator cancellation of a batch that is not in flight (planned or failed): its ids are voided
   * on chain (`cancelPayouts`, via the sender), and when that is final the ledger reserves are
   * voided. If the ids turn out to be executed after all, the batch follows its events instead.
   */
  async cancelBatch(id: bigint, opts: { by: string }): Promise<PayoutBatch> {
    const chain = this.#requireChain();
    return this.#driving.run(async () => {
      const batch = await this.repo.getBatch(id);
      if (batch === null) throw PayoutErrors.batchNotFound(`no payout batch ${id}`, { fields: [{ field: "id", message: "unknown batch id" }] });
      if (batch.status === "cancelling" || batch.status === "cancelled") return batch;
      if (batch.status !== "planned" && batch.status !== "failed") {
        throw PayoutErrors.invalidState(`payout batch ${id} is ${batch.status}; only a planned or failed batch can be cancelled`, {
          details: { status: batch.status },
        });
      }
      if (batch.status === "planned" && batch.txKey === null) {
        const tx = await chain.sender.get(this.txKey(batch));
        if (tx !== null && tx.status !== "reverted") {
          throw PayoutErrors.invalidState(`payout batch ${id} has a transaction in flight (${tx.hash}); wait for it`);
        }
      }
      const key = `payout-cancel:${chain.chainId}:${batch.vault}:${batch.id}`;
      const cancelling = await this.repo.updateBatch(id, ["planned", "failed"], { status: "cancelling", cancelTxKey: key, error: `cancel requested by ${opts.by}` });
      if (cancelling === null) throw PayoutErrors.invalidState(`payout batch ${id} changed state; retry`);
      await this.repo.setPayoutsStatus(id, "cancelling", { txHash: null, blockNumber: null });
      this.#log?.warn({ batchId: id.toString(), by: opts.by }, "payout batch cancellation requested");
      await this.#cancelStep(chain, cancelling);
      return (await this.repo.getBatch(id)) ?? cancelling;
    });
  }

  async #cancelStep(chain: PayoutChain, batch: PayoutBatch): Promise<void> {
    const key = batch.cancelTxKey ?? `payout-cancel:${chain.chainId}:${batch.vault}:${batch.id}`;
    let tx = await chain.sender.get(key);
    if (tx === null) {
      const data = this.#vaultIface!.encodeFunctionData("cancelPayouts", [batch.firstPayoutId, batch.count]);
      try {
        tx = await chain.sender.submit({ key, purpose: "payout-cancel", from: chain.payer, to: batch.vault, data });
      } catch (e) {
        if (isAppError(e) && e.code === "ENT_CHAIN_TX_WOULD_REVERT") {
          // Some id is processed already: something executed the batch; follow its events.
          await this.repo.updateBatch(batch.id, ["cancelling"], { status: "sent", error: `cancellation refused on chain: ${describe(e)}` });
          await this.repo.setPayoutsStatus(batch.id, "sent", { txHash: batch.txHash, blockNumber: null });
          return;
        }
        throw e;
      }
    }
    if (tx.status === "reverted") {
      await this.repo.updateBatch(batch.id, ["cancelling"], { status: "sent", error: `cancellation reverted: ${tx.revertReason ?? "unknown reason"}` });
      await this.repo.setPayoutsStatus(batch.id, "sent", { txHash: batch.txHash, blockNumber: null });
      return;
    }
    if (tx.status !== "mined" || tx.blockNumber === null) return;
    const head = await chain.index.head();
    if (tx.blockNumber > head.final) return; // a reorg could still undo the cancellation
    for (const p of await this.repo.payoutsOf(batch.id)) {
      if (p.status === "cancelled") continue;
      let voidTxId: string | null = null;
      if (p.pendingTxId !== null) voidTxId = (await this.#ledger.voidPending(p.pendingTxId, ledgerKeys.void(p.id))).transaction.id;
      await this.repo.cancelPayout(p.id, voidTxId);
    }
    const done = await this.repo.updateBatch(batch.id, ["cancelling"], { status: "cancelled", finalAt: this.#now() });
    if (done) this.#log?.warn({ batchId: batch.id.toString(), cancelTx: tx.hash }, "payout batch cancelled; ledger reserves voided");
  }

  // ---- Funded / Claimed -----------------------------------------------------------------------

  async #bookVaultEvents(chain: PayoutChain): Promise<void> {
    const vault = chain.record.contracts.SettlementVault.address;
    for (const name of ["Funded", "Claimed"] as const) {
      const events = (await chain.index.events({ contract: "SettlementVault", name })).filter((e) => e.state === "final" && sameAddress(e.address, vault));
      for (const ev of events) {
        if (await this.repo.bookingExists(chain.chainId, ev.txHash, ev.logIndex)) continue;
        try {
          await (name === "Funded" ? this.#bookFunded(chain, ev) : this.#bookClaimed(chain, ev));
        } catch (e) {
          this.#log?.warn({ tx: ev.txHash, logIndex: ev.logIndex, event: name, err: describe(e) }, "vault event not booked yet; retried next tick");
        }
      }
    }
  }

  async #bookFunded(chain: PayoutChain, ev: IndexedEvent): Promise<void> {
    const amount = BigInt(ev.args["amount"] ?? "0");
    const from = ev.args["from"] ?? "";
    const r = await this.#ledger.post(
      fundingRequest({ chainId: chain.chainId, txHash: ev.txHash, logIndex: ev.logIndex, from, amount, tokenCurrency: STABLECOIN_CURRENCY, tokenDecimals: await this.#tokenDecimals() }),
    );
    await this.repo.recordBooking({ chainId: chain.chainId, txHash: ev.txHash, logIndex: ev.logIndex, vault: ev.address, kind: "funded", account: from, toAddress: null, amount, sellerId: null, ledgerTxId: r.transaction.id, blockNumber: ev.blockNumber });
    this.#log?.info({ tx: ev.txHash, amount: amount.toString(), from }, "vault funding booked");
  }

  async #bookClaimed(chain: PayoutChain, ev: IndexedEvent): Promise<void> {
    const amount = BigInt(ev.args["amount"] ?? "0");
    const seller = ev.args["seller"] ?? "";
    const to = ev.args["to"] ?? "";
    const sellerId = (await this.repo.sellerOfDeferred(ev.address, seller)) ?? (await this.repo.destinationByAddress(chain.chainId, seller))?.sellerId ?? null;
    const base = { chainId: chain.chainId, txHash: ev.txHash, logIndex: ev.logIndex, vault: ev.address, kind: "claimed" as const, account: seller, toAddress: to, amount, blockNumber: ev.blockNumber };
    if (sellerId === null) {
      // Not a debt this service booked (a payout made elsewhere): recorded for reconciliation, not booked.
      await this.repo.recordBooking({ ...base, sellerId: null, ledgerTxId: null });
      this.#log?.error({ tx: ev.txHash, seller, amount: amount.toString() }, "Claimed by an address with no deferred payout of ours; recorded, not booked");
      return;
    }
    // Refused (insufficient claimable) while the deferral it pays is not final yet: retried next tick.
    const r = await this.#ledger.post(claimRequest({ chainId: chain.chainId, txHash: ev.txHash, logIndex: ev.logIndex, sellerId, amount, tokenCurrency: STABLECOIN_CURRENCY, to }));
    await this.repo.recordBooking({ ...base, sellerId, ledgerTxId: r.transaction.id });
    this.#log?.info({ tx: ev.txHash, sellerId, amount: amount.toString() }, "claim of deferred payouts booked");
  }

  // ---- helpers --------------------------------------------------------------------------------

  #requireChain(): PayoutChain {
    if (!this.#chain) throw PayoutErrors.unavailable("payouts need a chain (CHAIN_RPC_URL) and a deployment record");
    return this.#chain;
  }

  async #tokenDecimals(): Promise<number> {
    this.#decimals ??= this.#token!.decimals().then((d) => {
      const n = Number(d);
      unitsPerCent(n); // refuses a token with fewer than 2 decimals
      return n;
    });
    try {
      return await this.#decimals;
    } catch (e) {
      this.#decimals = null;
      throw e;
    }
  }
}

function publicPayout(p: StoredPayout): Payout {
  const { ledgerRequest: _omit, ...rest } = p;
  void _omit;
  return rest;
}
