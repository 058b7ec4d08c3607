/**
 * The dashboard's overview, read through each module's service (none of them is written to):
 * when the latest posted settlement occurred (where the dashboard's volumes end by default),
 * per-currency balances from the ledger's running totals (net per normal side, and gross: the
 * accounts against their normal side apart, per owner type), how far the journal is anchored, payouts
 * per rail, state and currency, and what waits for a person: open gateway reconciliation exceptions
 * and unmatched bank statement entries by age, open bank payout exceptions. Parts whose module is
 * not configured (no chain: no anchoring, no vault payouts; no bank rail) answer as empty.
 */
import type { AnchorService } from "./anchoring/index.js";
import type { CashReconciliation } from "./cash/index.js";
import type { BalanceSummary, Ledger } from "./ledger/types.js";
import type { BankRail, PayoutService } from "./payouts/index.js";
import type { SettlementService } from "./settlement/index.js";
import { AGE_BUCKETS, type AgeBucket, type ReconciliationService } from "./reconciliation/index.js";

export interface Overview {
  /** The latest occurredAt of a posted settlement record (null: none), by time, not by booking order. */
  settlements: { latestOccurredAt: Date | null };
  balances: BalanceSummary[];
  anchoring: {
    /** Sequence of the newest journal transaction (0: empty journal). */
    journalHead: bigint;
    /** Last journal sequence in a batch seen on chain; null: none (or no chain configured). */
    anchoredThrough: bigint | null;
    /** Journal transactions after `anchoredThrough`. */
    lagTransactions: bigint;
    /** When the first of them was booked; null: everything is anchored. */
    oldestUnanchoredAt: Date | null;
  };
  payouts: Array<{ rail: "stablecoin" | "bank"; state: string; currency: string; count: number; amount: bigint }>;
  /** Open reconciliation exceptions per age bucket, the exception queue's own (AGE_BUCKETS). */
  exceptions: Array<{ ageBucket: AgeBucket; count: number }>;
  /** Open unmatched bank statement entries per age bucket (the cash queue's own). */
  cashExceptions: Array<{ ageBucket: AgeBucket; count: number }>;
  /** Open bank payout exceptions (camt.054 entries not applied, cash bookings not made); 0 without a bank rail. */
  bankPayoutExceptions: number;
}

export interface OverviewSources {
  ledger: Ledger;
  settlement?: Pick<SettlementService, "latestOccurredAt"> | undefined;
  anchoring?: AnchorService | undefined;
  payouts?: PayoutService | undefined;
  bank?: BankRail | undefined;
  reconciliation?: ReconciliationService | undefined;
  cash?: Pick<CashReconciliation, "exceptions"> | undefined;
}

export async function readOverview(s: OverviewSources): Promise<Overview> {
  const [latestOccurredAt, balances, anchoredThrough, vault, bank, exceptions, cash, bankExceptions] = await Promise.all([
    s.settlement?.latestOccurredAt() ?? null,
    s.ledger.balanceSummary(),
    s.anchoring?.anchoredThrough() ?? null,
    s.payouts?.summary() ?? [],
    s.bank?.summary() ?? [],
    s.reconciliation?.openExceptionsByAge() ?? null,
    s.cash?.exceptions({ status: "open", limit: 1 }) ?? null,
    s.bank?.exceptions({ status: "open", limit: 1 }) ?? null,
  ]);
  const position = await s.ledger.journalPosition(anchoredThrough ?? 0n);
  return {
    settlements: { latestOccurredAt },
    balances,
    anchoring: {
      journalHead: position.head,
      anchoredThrough,
      lagTransactions: position.head > (anchoredThrough ?? 0n) ? position.head - (anchoredThrough ?? 0n) : 0n,
      oldestUnanchoredAt: position.firstAfterBookedAt,
    },
    payouts: [...vault.map((p) => ({ rail: "stablecoin" as const, ...p })), ...bank.map((p) => ({ rail: "bank" as const, ...p }))],
    exceptions: exceptions === null ? [] : AGE_BUCKETS.map((ageBucket) => ({ ageBucket, count: exceptions[ageBucket] })),
    cashExceptions: cash === null ? [] : AGE_BUCKETS.map((ageBucket) => ({ ageBucket, count: cash.openByAge[ageBucket] })),
    bankPayoutExceptions: bankExceptions?.open ?? 0,
  };
}
