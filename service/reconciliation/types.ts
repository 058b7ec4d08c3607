/**
 * Public types of the reconciliation module: report formats and their normalised rows, the
 * exception categories, imports, runs, items and resolutions. Amounts are bigint minor units of
 * the currency named beside them.
 */
import type { RateFraction } from "../money/index.js";

export const REPORT_FORMATS = ["adyen_settlement_details", "stripe_itemized_balance"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The gateway a format's reports come from when the importer names none. */
export const DEFAULT_GATEWAY: Record<ReportFormat, string> = {
  adyen_settlement_details: "adyen",
  stripe_itemized_balance: "stripe",
};

/**
 * What a report row is, in our terms. capture/refund/chargeback/chargeback_reversal are matched to
 * settlement events of the same type; "fee" rows to fee_adjustment events (by reference, or in
 * total per currency); "payout" rows are checked against the sum of the rows they pay out; "other"
 * rows (deposit corrections, gateway costs, transfers, ...) count in payout sums and, when they move
 * money, are reported as `gateway_cost` exceptions with the adjusting entry that books them.
 */
export const ROW_KINDS = ["capture", "refund", "chargeback", "chargeback_reversal", "fee", "payout", "other"] as const;
export type RowKind = (typeof ROW_KINDS)[number];

/** A validated report row, normalised across formats. */
export interface ReportRow {
  /** Index of the import in the run (0 for a single import). */
  source: number;
  line: number;
  /** The gateway's own record type (Adyen "Type", Stripe "reporting_category"). */
  recordType: string;
  kind: RowKind;
  /** The row's own identity in the report (Adyen: Modification Reference, else Psp Reference; Stripe: balance_transaction_id). */
  rowId: string;
  /** Candidate references, by name (see the format's `references`); empty values omitted. */
  refs: Record<string, string>;
  /** The marketplace order reference (Adyen Merchant Reference; Stripe payment_metadata). */
  settlementRef: string | null;
  occurredAt: number;
  /** Buyer-side currency and positive amount (Adyen gross; Stripe customer-facing, else gross). */
  currency: string | null;
  amount: bigint | null;
  /** Gateway fee of the row, in `currency` minor units (converted when the report states it in another currency). */
  fee: bigint | null;
  /** How far `fee` may be off from rounding when it was converted from another currency (0 when it was not). */
  feeSlack: bigint;
  /** The rate from `currency` to `netCurrency`: Adyen's Exchange Rate, or implied by Stripe's gross / customer-facing amount. */
  rate: RateFraction | null;
  netCurrency: string | null;
  /** Signed net effect on the merchant balance (+ credited), `netCurrency` minor units. */
  net: bigint | null;
  /** Adyen Batch Number / Stripe automatic_payout_id (for payout rows: the payout they are). */
  batch: string | null;
}

export const CATEGORIES = [
  "missing_in_ledger",
  "missing_at_gateway",
  "missing_on_chain",
  "amount_mismatch",
  "currency_mismatch",
  "fx_difference",
  "duplicate",
  "timing_difference",
  /** A gateway's own charge or correction (Adyen MiscCosts, InvoiceDeduction, DepositCorrection; Stripe network_cost, other_adjustment): money the books do not have yet, with the entry that would book it. */
  "gateway_cost",
] as const;
export type Category = (typeof CATEGORIES)[number];

/** The rule that produced a match or an exception (also in the evidence). */
export const RULE_NAMES = [
  "exact_reference",
  "amount_date_window",
  "one_to_many",
  "many_to_one",
  "merchant_reference",
  "fee_total",
  "payout_batch",
  "chain_state",
  "duplicate_reference",
  "gateway_cost_row",
  "unmatched",
] as const;
export type RuleName = (typeof RULE_NAMES)[number];

export interface ReconItem {
  /** 1-based position in the run (the item id). */
  seq: number;
  category: Category;
  rule: RuleName;
  gateway: string;
  market: string | null;
  sellerId: string | null;
  currency: string | null;
  settlementId: string | null;
  /** The report row's reference (its row id), when a report row is involved. */
  gatewayReference: string | null;
  /** Our settlement event's gateway event id, when a ledger event is involved. */
  gatewayEventId: string | null;
  journalTransactionId: string | null;
  /** Report lines involved (of the import named in evidence.imports). */
  lines: number[];
  reportAmount: bigint | null;
  ledgerAmount: bigint | null;
  /** report - ledger, when both are known in the same currency. */
  difference: bigint | null;
  /** Both sides' values, the rule's parameters, what was compared (JSON-safe: amounts as strings). */
  evidence: Record<string, unknown>;
}

/** Open exceptions age from the first run that found them. */
export const AGE_BUCKETS = ["0-7", "8-30", "over-30"] as const;
export type AgeBucket = (typeof AGE_BUCKETS)[number];

/** An exception across runs: its latest occurrence, when it was first and last seen, who owns it. */
export interface ExceptionEntry {
  /** Identity across runs (sha256 hex of gateway, category, currency, references, amounts, and the report row's batch and instant). */
  exceptionId: string;
  status: "open" | "resolved";
  item: ReconItem;
  /** The run and item of its latest occurrence. */
  runId: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  /** Runs that found it. */
  runs: number;
  owner: string | null;
}

export interface ExceptionQuery {
  gateway?: string;
  status?: "open" | "resolved";
  category?: string;
  owner?: string;
  ageBucket?: AgeBucket;
  /** Entries after this exception id (pages in order of first seen, then id). */
  after?: string;
  limit: number;
}

export interface ImportError {
  line: number;
  column: string | null;
  /** Stable: column_count, quote, unterminated_quote, too_long, nul, required, amount, precision, currency, date, timezone, rate, sign, net. */
  code: string;
  message: string;
}

export interface ImportRecord {
  id: string;
  gateway: string;
  format: ReportFormat;
  /** sha256 of the file's bytes. */
  sha256: string;
  /** sha256 of its content up to byte order mark, line endings and trailing blank lines (content-hash.ts); null for imports stored before it was kept. */
  contentSha256: string | null;
  fileName: string | null;
  byteSize: bigint;
  lineCount: number;
  /** Records read as valid rows. */
  rowCount: number;
  /** Records refused (rows not read), each listed with its line; `summary.errorEntries` counts the errors listed for them. */
  errorCount: number;
  minOccurredAt: Date | null;
  maxOccurredAt: Date | null;
  summary: ImportSummary;
  importedBy: string | null;
  createdAt: Date;
}

export interface ImportSummary {
  header: string[];
  /** The zone the report's local times were read in (`?timezone=` at import), when it had to be named. */
  timeZone?: string;
  /** Valid rows per record type (the gateway's names). */
  recordTypes: Record<string, number>;
  /** Valid rows per buyer currency. */
  currencies: Record<string, number>;
  /** Errors listed for the refused records: one per malformed cell (a record may have several). Absent on imports made before it was counted. */
  errorEntries?: number;
  /** Errors stored (the first `errorCap` of `errorEntries`). */
  errorsStored: number;
  errorCap: number;
  compressedBytes: number;
}

export interface ImportResult {
  status: "created" | "exists";
  import: ImportRecord;
}

export interface RunSummary {
  gateway: string;
  periodFrom: string;
  periodTo: string;
  imports: Array<{ id: string; sha256: string; format: ReportFormat; rows: number; errors: number }>;
  reportRows: number;
  /** Report rows per kind. */
  rowsByKind: Record<string, number>;
  ledgerEvents: number;
  ledgerEventsInPeriod: number;
  matched: { rows: number; events: number; byRule: Record<string, number> };
  exceptions: { total: number; byCategory: Record<string, number> };
  payoutBatches: { checked: number; mismatched: number };
  chain: { checked: number; notAnchored: number; byState: Record<string, number>; enabled: boolean };
  /** Rows that could not be considered by the fallback rules (over the memory cap): straight to missing_in_ledger. */
  leftoverCapped: number;
  /**
   * Records of the imports refused at import (malformed, not valid rows), which this run could not
   * read: per import, how many and their first lines; `note` says so (null when none). Exceptions
   * they may explain (missing at the gateway, a payout batch or fee total that does not add up)
   * carry the same note in their reason and `evidence.refusedAtImport`.
   */
  refusedAtImport: RefusedAtImport;
}

export interface RefusedAtImport {
  rows: number;
  imports: Array<{ importId: string; rows: number; lines: number[] }>;
  note: string | null;
}

export interface RunRecord {
  id: string;
  gateway: string;
  periodFrom: Date;
  periodTo: Date;
  importIds: string[];
  rules: unknown;
  rulesVersion: string;
  rulesSha256: string;
  summary: RunSummary;
  itemCount: number;
  matchedSha256: string;
  digest: string;
  startedAt: Date;
  finishedAt: Date;
  createdBy: string | null;
}

export interface Resolution {
  runId: string;
  itemSeq: number;
  note: string;
  adjustment: AdjustmentRequest | null;
  journalTransactionId: string | null;
  resolvedBy: string | null;
  createdAt: Date;
}

export interface AdjustmentRequest {
  postings: Array<{ account: string; currency: string; direction: "debit" | "credit"; amount: bigint }>;
  description?: string;
  /** When the entry is effective, overriding the instant derived from the exception (booking.ts). */
  effectiveAt?: Date;
  /** The entry goes beyond the exception's amount on purpose (the note says why): not bounded by it. */
  exceedsException?: boolean;
}

export interface ItemFilter {
  category?: Category;
  market?: string;
  gateway?: string;
  sellerId?: string;
  currency?: string;
}
