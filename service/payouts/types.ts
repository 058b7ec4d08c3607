/**
 * Public types of the payouts module. Amounts are bigint: `amount` in minor units of the seller's
 * payout currency, `usdAmount` in USD cents, `tokenAmount` in base units of the vault's stablecoin.
 */
import type { ethers } from "ethers";
import type { DeploymentRecord } from "../chain/deployment-record.js";
import type { ChainTx, TxIntent } from "../chain/sender.js";
import type { EventFilter, IndexedEvent, IndexHead } from "../chain/indexer/types.js";
import type { RoundingMode } from "../money/index.js";

/** Payouts per state and currency: how many and how much (minor units of `currency`). */
export interface PayoutStateSummary {
  state: string;
  currency: string;
  count: number;
  amount: bigint;
}

export const PAYOUT_STATUSES = ["planned", "sent", "observed", "safe", "final", "failed", "cancelling", "cancelled"] as const;
/**
 * planned: intent + pending ledger reserve recorded, nothing sent (or a retry is due);
 * sent: the vault call is signed and broadcast (or a re-broadcast is pending after a reorg);
 * observed / safe: the vault's events are on chain at that confirmation level;
 * final: the events are final and the ledger reserve is committed (outcome paid | deferred);
 * failed: the transaction reverted or would revert; retried later with the SAME ids;
 * cancelling / cancelled: an operator voids the ids on chain, then the reserves are voided.
 */
export type PayoutStatus = (typeof PAYOUT_STATUSES)[number];
export type PayoutOutcome = "paid" | "deferred";

export interface PayoutDestination {
  sellerId: string;
  chainId: bigint;
  address: string;
  setAt: Date;
  setBy: string;
}

export interface PayoutFx {
  quoteId: string;
  /** All-in rate CNY -> USD (units of USD per unit of CNY). */
  rate: string;
  rounding: string;
  /** The FX module's conversion evidence (legs, sources, as-of), as recorded. */
  evidence: unknown;
}

export interface Payout {
  id: bigint;
  batchId: bigint;
  sellerId: string;
  chainId: bigint;
  vault: string;
  address: string;
  currency: string;
  amount: bigint;
  usdAmount: bigint;
  tokenAmount: bigint;
  fx: PayoutFx | null;
  status: PayoutStatus;
  outcome: PayoutOutcome | null;
  pendingTxId: string | null;
  commitTxId: string | null;
  claimableTxId: string | null;
  voidTxId: string | null;
  txHash: string | null;
  logIndex: number | null;
  blockNumber: bigint | null;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  finalAt: Date | null;
}

export interface PayoutBatch {
  id: bigint;
  chainId: bigint;
  vault: string;
  firstPayoutId: bigint;
  count: number;
  total: bigint;
  payoutsHash: string;
  status: PayoutStatus;
  attempt: number;
  txKey: string | null;
  txHash: string | null;
  blockNumber: bigint | null;
  blockHash: string | null;
  paidTotal: bigint | null;
  deferredTotal: bigint | null;
  cancelTxKey: string | null;
  error: string | null;
  nextAttemptAt: Date | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  sentAt: Date | null;
  finalAt: Date | null;
}

export interface PayoutFilter {
  sellerId?: string;
  status?: PayoutStatus;
  batchId?: bigint;
  /** Payouts with id < before (newest first pages). */
  before?: bigint;
  limit?: number;
}

/** Why a seller got no payout in a run (for the run report and logs). */
export interface SkippedSeller {
  sellerId: string;
  reason: "vault_not_permitted" | "no_destination" | "below_minimum" | "no_account" | "fx_unavailable" | "unbooked_intent" | "vault_capacity" | "vault_paused" | "zero_after_conversion";
  detail?: string;
}

/** What a planning run found of the vault (token base units); stored with `last_planned_at` for /metrics. */
export interface VaultState {
  /** `vault.paused()`: nothing was planned. */
  paused: boolean;
  /** `vault.excess()` minus what is in flight, 0 when that is negative. */
  budget: bigint;
  /** What the due sellers' payouts came to, whether or not they fit. */
  due: bigint;
  /** Sellers skipped as `vault_capacity`. */
  capacitySkipped: number;
}

export interface PlanResult {
  batches: PayoutBatch[];
  skipped: SkippedSeller[];
  /** Absent from a result rebuilt elsewhere (a run's report); the planner always sets it. */
  vault?: VaultState;
}

/** What payouts need from the transaction sender (TxSender satisfies it). */
export interface PayoutSender {
  submit(intent: TxIntent): Promise<ChainTx>;
  get(key: string): Promise<ChainTx | null>;
}

/** What payouts need from the event index (ChainIndexer satisfies it). */
export interface PayoutIndex {
  events(filter: EventFilter): Promise<IndexedEvent[]>;
  head(): Promise<IndexHead>;
}

/** What payouts need from the FX module (FxService satisfies it). */
export interface PayoutFxService {
  quote(request: { base: string; quote: string }): Promise<{ id: string; allInRate: string }>;
  convert(input: { amount: bigint; from: string; to: string; quoteId?: string; rounding: RoundingMode }): Promise<{ amount: bigint; rate: string; evidence: unknown }>;
}

/** The chain payouts are made on: the deployment, the sender, the index and the payer key. */
export interface PayoutChain {
  chainId: bigint;
  provider: ethers.Provider;
  record: DeploymentRecord;
  sender: PayoutSender;
  index: PayoutIndex;
  /** Address of the PAYER_ROLE key the sender signs with. */
  payer: string;
}

/** Named points of the payout protocol, for observers (and crash-injection tests). */
export type PayoutStep =
  /** The batch and its payouts (ids allocated) are recorded; their ledger reserves are not booked yet. */
  | "batch-recorded"
  /** The batch, its payouts and their pending ledger reserves are recorded; nothing sent yet. */
  | "intent-recorded"
  /** TxSender.submit returned: the transaction is committed and broadcast; the batch row not yet marked sent. */
  | "submitted"
  /** The vault's events are final; the ledger reserve is about to be committed. */
  | "before-booking";

export interface PayoutHooks {
  at?(step: PayoutStep, context: { batchId: bigint; payoutId?: bigint }): void | Promise<void>;
}

export interface PayoutLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
}
