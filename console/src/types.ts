/** The shapes of the /v1 answers the console reads (as /openapi.json documents them). */

import type { JournalTransactionJson } from "../../service/ledger/json";

/** A journal transaction as the API answers it (the ledger's JSON shape, shared with the proof verifier). */
export type Transaction = JournalTransactionJson;
export type Posting = Transaction["postings"][number];

export interface FxLeg {
  from: string;
  to: string;
  rate: string;
  quoteId: string | null;
  source: string;
  asOf: string;
  fromAmount?: string;
  toAmount?: string;
  midRate?: string;
  markupBps?: number;
}

export interface Settlement {
  id: string;
  eventKey: string;
  captureKey: string;
  sequence: number;
  status: string;
  program: string;
  event: {
    type: string;
    gateway: string;
    gatewayEventId: string;
    settlementId: string;
    sellerId: string;
    market: string;
    category: string;
    currency: string;
    amount: string;
    gatewayFee: string;
    occurredAt: string;
    [k: string]: unknown;
  };
  fx: FxLeg[];
  breakdown: Record<string, unknown>;
  refundedDelta: string;
  journalTransactionId: string | null;
  createdAt: string;
}

export interface Balance {
  account: string;
  currency: string;
  posted: string;
  available: string;
  pendingDebits: string;
  pendingCredits: string;
  postedDebits: string;
  postedCredits: string;
  asOf: string;
  lastTransactionId: string | null;
}

export interface Account {
  code: string;
  currency: string;
  ownerType: string;
  ownerId: string;
  normalBalance: "debit" | "credit";
  allowNegative: boolean;
  createdAt: string;
  balance: Balance;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
