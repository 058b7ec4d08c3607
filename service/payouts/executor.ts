/**
 * PayoutExecutor: payout batches sent through the vault and followed to finality, with the ledger
 * reserve committed only when the vault's events are final; reorgs, retries and cancellation.
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
 *     the same transaction set observed/safe; at final the pending reserves are committed, a
 *     converted payout's FX realised (`payout:<id>:fx`, derived from the commit's postings, so the
 *     same on a retry), and a deferred payout then moved to `seller:<id>:claimable`. An event
 *     rolled back by a reorg puts the batch back to `sent` (the ledger stays pending; the sender
 *     re-broadcasts).
 *  4. A reverted (or would-revert) attempt marks the batch `failed`; after `retryAfterMs` it is
 *     retried with the SAME ids under a new attempt key. An operator may cancel a failed or
 *     planned batch instead: the ids are voided on chain (`cancelPayouts`), and once that is final
 *     the pending reserves are voided.
 *
 * Step 1 is planner.ts (with plan.ts, its rules); steps 2-4 are this file. The step names of
 * `PayoutHooks` ("batch-recorded", "intent-recorded", "submitted", "before-booking") mark the points
 * between these writes, and `test/payouts/crash.test.ts` kills a real worker process at each.
 */
import { packPayout, payoutsHash, type SettlementVaultContract, type SettlementVaultInterface } from "../chain/contracts.js";
import type { IndexedEvent } from "../chain/indexer/types.js";
import { ChainErrors } from "../chain/sender-errors.js";
import { failureCodes } from "../db/errors.js";
import { errorSummary, isAppError } from "../errors.js";
import { isNodeUnreachable } from "../loop.js";
import type { Ledger } from "../ledger/types.js";
import { STABLECOIN_CURRENCY } from "../treasury/index.js";
import { claimableRequest, fxRealisationRequest, ledgerKeys, positionBeforeCommit } from "./booking.js";
import { PayoutErrors } from "./errors.js";
import { Mutex } from "../concurrency.js";
import { isExecutionOf, matchOutcomes } from "./outcomes.js";
import type { PayoutRepository } from "./repository.js";
import type { Reserves } from "./reserves.js";
import type { PayoutBatch, PayoutChain, PayoutHooks, PayoutLog, PayoutStatus } from "./types.js";

/** Every status a batch can still move from. */
const ACTIVE: readonly PayoutStatus[] = ["planned", "sent", "observed", "safe", "failed", "cancelling"];

export interface ExecutorOptions {
  repo: PayoutRepository;
  reserves: Reserves;
  ledger: Ledger;
  chain: PayoutChain;
  vault: SettlementVaultContract;
  /** Delay before a failed batch is retried with the same ids. */
  retryAfterMs: number;
  hooks: PayoutHooks | undefined;
  log: PayoutLog | undefined;
  now: () => Date;
}

export class PayoutExecutor {
  readonly #repo: PayoutRepository;
  readonly #reserves: Reserves;
  readonly #ledger: Ledger;
  readonly #chain: PayoutChain;
  readonly #vault: SettlementVaultContract;
  readonly #vaultIface: SettlementVaultInterface;
  readonly #retryAfterMs: number;
  readonly #hooks: PayoutHooks | undefined;
  readonly #log: PayoutLog | undefined;
  readonly #now: () => Date;
  readonly #driving = new Mutex();

  constructor(o: ExecutorOptions) {
    this.#repo = o.repo;
    this.#reserves = o.reserves;
    this.#ledger = o.ledger;
    this.#chain = o.chain;
    this.#vault = o.vault;
    this.#vaultIface = o.vault.interface;
    this.#retryAfterMs = o.retryAfterMs;
    this.#hooks = o.hooks;
    this.#log = o.log;
    this.#now = o.now;
  }

  /** Drives every active batch of the current vault one step. */
  async execute(): Promise<void> {
    const chain = this.#chain;
    await this.#driving.run(async () => {
      const vault = chain.record.contracts.SettlementVault.address;
      for (const batch of await this.#repo.batchesIn(ACTIVE, vault)) {
        try {
          await this.#drive(batch);
        } catch (e) {
          // An outage of the database or the node, or the end of this instance's term, is the whole
          // tick's, not this batch's: the loop reports it once per outage (loop.ts), not per batch and tick.
          if (failureCodes(e).transient || isNodeUnreachable(e) || (isAppError(e) && e.code === "ENT_LEADER_LEASE_LOST")) throw e;
          this.#log?.error({ batchId: batch.id.toString(), err: errorSummary(e) }, "payout batch step failed; retried next tick");
          if (!isAppError(e)) throw e;
        }
      }
    });
  }

  async #drive(batch: PayoutBatch): Promise<void> {
    // The chain decides first: whatever transaction executed these ids is followed.
    const executed = await this.#executedEvent(batch);
    if (executed !== null) {
      await this.#applyExecuted(batch, executed);
      return;
    }
    switch (batch.status) {
      case "planned":
        await this.#send(batch);
        return;
      case "sent":
      case "observed":
      case "safe":
        await this.#follow(batch);
        return;
      case "failed":
        if (batch.nextAttemptAt === null || batch.nextAttemptAt.getTime() <= this.#now().getTime()) {
          const next = await this.#repo.updateBatch(batch.id, ["failed"], { status: "planned", attempt: batch.attempt + 1, txKey: null, nextAttemptAt: null });
          if (next) {
            await this.#repo.setPayoutsStatus(batch.id, "planned", { txHash: null, blockNumber: null, error: batch.error });
            this.#log?.info({ batchId: batch.id.toString(), attempt: next.attempt }, "retrying failed payout batch with the same ids");
            await this.#send(next);
          }
        }
        return;
      case "cancelling":
        await this.#cancelStep(batch);
        return;
      case "final":
      case "cancelled":
        return;
    }
  }

  txKey(batch: Pick<PayoutBatch, "id" | "vault" | "attempt">): string {
    const base = `payout:${this.#chain.chainId}:${batch.vault}:${batch.id}`;
    return batch.attempt <= 1 ? base : `${base}:attempt-${batch.attempt}`;
  }

  /** Calldata of `vault.payout(batchId, firstPayoutId, packed)`, rebuilt from the stored payouts. */
  async calldata(batch: PayoutBatch): Promise<{ data: string; packed: bigint[] }> {
    const payouts = await this.#repo.payoutsOf(batch.id);
    const packed = payouts.map((p) => packPayout(p.address, p.tokenAmount));
    if (payouts.length !== batch.count || payoutsHash(packed).toLowerCase() !== batch.payoutsHash.toLowerCase()) {
      throw new Error(`payout batch ${batch.id}: stored payouts do not match the recorded payoutsHash`);
    }
    return { data: this.#vaultIface.encodeFunctionData("payout", [batch.id, batch.firstPayoutId, packed]), packed };
  }

  async #send(batch: PayoutBatch): Promise<void> {
    const chain = this.#chain;
    const payouts = await this.#repo.payoutsOf(batch.id);
    await this.#reserves.book(payouts);
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
          await this.#repo.updateBatch(batch.id, ["planned"], { error: note });
        }
        return;
      }
    }
    let tx;
    try {
      tx = await chain.sender.submit({ key, purpose: "payout", from: chain.payer, to: chain.record.contracts.SettlementVault.address, data });
    } catch (e) {
      if (isAppError(e) && e.code === ChainErrors.txWouldRevert.code) {
        await this.#markFailed(batch, ["planned"], errorSummary(e));
        return;
      }
      throw e;
    }
    await this.#hooks?.at?.("submitted", { batchId: batch.id });
    const sent = await this.#repo.updateBatch(batch.id, ["planned"], { status: "sent", txKey: key, txHash: tx.hash, sentAt: this.#now(), error: null });
    if (sent) {
      await this.#repo.setPayoutsStatus(batch.id, "sent", { txHash: tx.hash, blockNumber: null });
      this.#log?.info({ batchId: batch.id.toString(), key, hash: tx.hash }, "payout batch sent");
    }
  }

  /** Sent and not (or no longer) executed on chain: did the transaction revert? */
  async #follow(batch: PayoutBatch): Promise<void> {
    if (batch.status === "observed" || batch.status === "safe") {
      // Its events were rolled back (reorg): back to sent; the ledger stays pending and the sender
      // re-broadcasts the same transaction.
      const back = await this.#repo.updateBatch(batch.id, ["observed", "safe"], { status: "sent", blockNumber: null, blockHash: null, paidTotal: null, deferredTotal: null });
      if (back) {
        await this.#repo.setPayoutsStatus(batch.id, "sent", { txHash: batch.txHash, blockNumber: null });
        await this.#repo.clearOutcomes(batch.id);
        this.#log?.warn({ batchId: batch.id.toString(), hash: batch.txHash }, "payout batch events rolled back by a reorg; back to sent");
      }
      return;
    }
    const key = batch.txKey ?? this.txKey(batch);
    const tx = await this.#chain.sender.get(key);
    if (tx === null) {
      // Marked sent but the sender has no record: cannot happen (submit commits first); resend.
      await this.#repo.updateBatch(batch.id, ["sent"], { status: "planned" });
      return;
    }
    if (tx.status === "reverted") await this.#markFailed(batch, ["sent"], tx.revertReason ?? "reverted");
    else if (tx.hash !== batch.txHash) await this.#repo.updateBatch(batch.id, ["sent"], { txHash: tx.hash });
  }

  async #markFailed(batch: PayoutBatch, from: readonly PayoutStatus[], reason: string): Promise<void> {
    const nextAttemptAt = new Date(this.#now().getTime() + this.#retryAfterMs);
    const failed = await this.#repo.updateBatch(batch.id, from, { status: "failed", error: reason.slice(0, 2000), nextAttemptAt });
    if (failed) {
      await this.#repo.setPayoutsStatus(batch.id, "failed", { txHash: batch.txHash, blockNumber: null, error: reason.slice(0, 2000) });
      this.#log?.warn({ batchId: batch.id.toString(), attempt: batch.attempt, reason, retryAt: nextAttemptAt.toISOString() }, "payout batch failed; will retry with the same ids");
    }
  }

  /** Ids of the batch already marked processed in the vault's bitmap (paid, deferred or cancelled). */
  async processedIds(batch: Pick<PayoutBatch, "firstPayoutId" | "count">): Promise<bigint[]> {
    const first = batch.firstPayoutId;
    const last = first + BigInt(batch.count) - 1n;
    const out: bigint[] = [];
    for (let word = first >> 8n; word <= last >> 8n; word++) {
      const bits = await this.#vault.processedBitmap(word);
      if (bits === 0n) continue;
      for (let id = word << 8n; id < (word + 1n) << 8n; id++) {
        if (id >= first && id <= last && ((bits >> (id & 0xffn)) & 1n) === 1n) out.push(id);
      }
    }
    return out;
  }

  // ---- the vault's events ---------------------------------------------------------------------

  async #executedEvent(batch: PayoutBatch): Promise<IndexedEvent | null> {
    const events = await this.#chain.index.events({ contract: "SettlementVault", name: "PayoutBatchExecuted", args: { batchId: batch.id.toString() } });
    const mine = events.filter((e) => isExecutionOf(batch, e));
    if (mine.length > 1) this.#log?.error({ batchId: batch.id.toString(), events: mine.map((e) => e.txHash) }, "payout batch executed more than once?");
    return mine[0] ?? null;
  }

  async #applyExecuted(batch: PayoutBatch, ev: IndexedEvent): Promise<void> {
    const payouts = await this.#repo.payoutsOf(batch.id);
    const r = matchOutcomes(batch, payouts, ev, await this.#chain.index.events({ txHash: ev.txHash }));
    if ("mismatch" in r) {
      // Never book what does not match: hold the batch for an operator, loudly.
      const note = `vault events do not match the recorded batch: ${r.mismatch}`;
      if (batch.error !== note) {
        this.#log?.error({ batchId: batch.id.toString(), tx: ev.txHash, mismatch: r.mismatch }, "payout batch events mismatch; not booking");
        await this.#repo.updateBatch(batch.id, ACTIVE, { error: note });
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
      const moved = await this.#repo.updateBatch(batch.id, ACTIVE, { status: ev.state, ...position, error: null, nextAttemptAt: null });
      if (moved) {
        await this.#repo.setPayoutsStatus(batch.id, ev.state, { txHash: ev.txHash, blockNumber: ev.blockNumber });
        for (const [id, o] of r.outcomes) await this.#repo.setOutcome(id, o.outcome, o.logIndex);
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
      // Derived from the commit's postings, not a balance read now: a retry books the same request.
      const realisation = fxRealisationRequest(
        { payoutId: p.id, batchId: p.batchId, sellerId: p.sellerId, currency: p.currency, amount: p.amount, usdAmount: p.usdAmount, fxQuoteId: p.fx?.quoteId ?? null },
        positionBeforeCommit(commit.transaction, p.currency),
      );
      if (realisation !== null) await this.#ledger.post(realisation);
      let claimableTxId: string | null = null;
      if (o.outcome === "deferred") {
        const c = await this.#ledger.post(
          claimableRequest({ payoutId: p.id, sellerId: p.sellerId, tokenAmount: p.tokenAmount, tokenCurrency: STABLECOIN_CURRENCY, txHash: ev.txHash, chainId: this.#chain.chainId }),
        );
        claimableTxId = c.transaction.id;
      }
      await this.#repo.finalizePayout({ id: p.id, outcome: o.outcome, commitTxId: commit.transaction.id, claimableTxId, txHash: ev.txHash, blockNumber: ev.blockNumber, logIndex: o.logIndex });
    }
    const done = await this.#repo.updateBatch(batch.id, ACTIVE, { status: "final", ...position, error: null, nextAttemptAt: null, finalAt: this.#now() });
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
    const chain = this.#chain;
    return this.#driving.run(async () => {
      const batch = await this.#repo.getBatch(id);
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
      const cancelling = await this.#repo.updateBatch(id, ["planned", "failed"], { status: "cancelling", cancelTxKey: key, error: `cancel requested by ${opts.by}` });
      if (cancelling === null) throw PayoutErrors.invalidState(`payout batch ${id} changed state; retry`);
      await this.#repo.setPayoutsStatus(id, "cancelling", { txHash: null, blockNumber: null });
      this.#log?.warn({ batchId: id.toString(), by: opts.by }, "payout batch cancellation requested");
      await this.#cancelStep(cancelling);
      return (await this.#repo.getBatch(id)) ?? cancelling;
    });
  }

  async #cancelStep(batch: PayoutBatch): Promise<void> {
    const chain = this.#chain;
    const key = batch.cancelTxKey ?? `payout-cancel:${chain.chainId}:${batch.vault}:${batch.id}`;
    let tx = await chain.sender.get(key);
    if (tx === null) {
      const data = this.#vaultIface.encodeFunctionData("cancelPayouts", [batch.firstPayoutId, batch.count]);
      try {
        tx = await chain.sender.submit({ key, purpose: "payout-cancel", from: chain.payer, to: batch.vault, data });
      } catch (e) {
        if (isAppError(e) && e.code === ChainErrors.txWouldRevert.code) {
          // Some id is processed already: something executed the batch; follow its events.
          await this.#repo.updateBatch(batch.id, ["cancelling"], { status: "sent", error: `cancellation refused on chain: ${errorSummary(e)}` });
          await this.#repo.setPayoutsStatus(batch.id, "sent", { txHash: batch.txHash, blockNumber: null });
          return;
        }
        throw e;
      }
    }
    if (tx.status === "reverted") {
      await this.#repo.updateBatch(batch.id, ["cancelling"], { status: "sent", error: `cancellation reverted: ${tx.revertReason ?? "unknown reason"}` });
      await this.#repo.setPayoutsStatus(batch.id, "sent", { txHash: batch.txHash, blockNumber: null });
      return;
    }
    if (tx.status !== "mined" || tx.blockNumber === null) return;
    const head = await chain.index.head();
    if (tx.blockNumber > head.final) return; // a reorg could still undo the cancellation
    for (const p of await this.#repo.payoutsOf(batch.id)) {
      if (p.status === "cancelled") continue;
      let voidTxId: string | null = null;
      if (p.pendingTxId !== null) voidTxId = (await this.#ledger.voidPending(p.pendingTxId, ledgerKeys.void(p.id))).transaction.id;
      await this.#repo.cancelPayout(p.id, voidTxId);
    }
    const done = await this.#repo.updateBatch(batch.id, ["cancelling"], { status: "cancelled", finalAt: this.#now() });
    if (done) this.#log?.warn({ batchId: batch.id.toString(), cancelTx: tx.hash }, "payout batch cancelled; ledger reserves voided");
  }
}
