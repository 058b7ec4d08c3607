/**
 * Run reports as CSV (RFC 4180, CRLF line ends): the items table (one row per exception; amounts
 * in minor units and, beside them, in major units with the decimals of each amount's own currency,
 * so EUR 12.34 and KRW 1234 are not misread: the report amount in `report_currency`, which differs
 * from `currency` (the ledger's) for a currency mismatch; the evidence as canonical JSON; columns
 * added later go at the end, after evidence) and the summary as metric/value rows. The JSON
 * forms are the API views (see service/http/routes/reconciliation.ts).
 *
 * Text cells come from gateway files and other people's ids: `csvLine` neutralises one that a
 * spreadsheet would run as a formula (service/csv.ts).
 */
import { csvLine } from "../csv.js";
import { exponentOrNull, formatMinor } from "../money/index.js";
import { canonicalJson } from "./canonical.js";
import type { ReconItem, RunRecord } from "./types.js";

export const ITEM_COLUMNS = [
  "seq",
  "category",
  "rule",
  "gateway",
  "market",
  "seller_id",
  "currency",
  "settlement_id",
  "gateway_reference",
  "gateway_event_id",
  "journal_transaction_id",
  "lines",
  "report_amount",
  "ledger_amount",
  "difference",
  "report_amount_major",
  "ledger_amount_major",
  "difference_major",
  "evidence",
  "report_currency",
] as const;

/** Minor units as a major-unit decimal of `code` ("" without a known currency). */
function major(amount: bigint | null, code: string | null): string | null {
  if (amount === null || code === null || exponentOrNull(code) === null) return null;
  return formatMinor(amount, code);
}

/** The report amount's currency: the row's where the matcher recorded one apart from the ledger's (a currency mismatch), else the item's. */
export function reportCurrencyOf(i: ReconItem): string | null {
  const c = i.evidence["reportCurrency"];
  return typeof c === "string" ? c : i.currency;
}

export function itemsCsvHeader(): string {
  return csvLine(ITEM_COLUMNS);
}

export function itemCsvLine(i: ReconItem): string {
  const reportCurrency = reportCurrencyOf(i);
  return csvLine([
    i.seq,
    i.category,
    i.rule,
    i.gateway,
    i.market,
    i.sellerId,
    i.currency,
    i.settlementId,
    i.gatewayReference,
    i.gatewayEventId,
    i.journalTransactionId,
    i.lines.join(" "),
    i.reportAmount,
    i.ledgerAmount,
    i.difference,
    major(i.reportAmount, reportCurrency),
    major(i.ledgerAmount, i.currency),
    // difference is only set when both sides are in the item's currency.
    major(i.difference, i.currency),
    canonicalJson(i.evidence),
    reportCurrency,
  ]);
}

/** All items as one CSV document (header + rows). */
export async function itemsCsv(pages: AsyncIterable<ReconItem[]>): Promise<string> {
  let out = itemsCsvHeader();
  for await (const page of pages) for (const i of page) out += itemCsvLine(i);
  return out;
}

/** The run and its summary as metric,value rows (counts flattened with dotted names). */
export function summaryCsv(run: RunRecord): string {
  const rows: Array<[string, string]> = [
    ["run_id", run.id],
    ["gateway", run.gateway],
    ["period_from", run.periodFrom.toISOString()],
    ["period_to", run.periodTo.toISOString()],
    ["import_ids", run.importIds.join(" ")],
    ["rules_version", run.rulesVersion],
    ["rules_sha256", run.rulesSha256],
    ["matched_sha256", run.matchedSha256],
    ["digest", run.digest],
    ["item_count", String(run.itemCount)],
    ["started_at", run.startedAt.toISOString()],
    ["finished_at", run.finishedAt.toISOString()],
  ];
  const flatten = (prefix: string, v: unknown): void => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(prefix === "" ? k : `${prefix}.${k}`, x);
    } else if (Array.isArray(v)) {
      rows.push([prefix, canonicalJson(v)]);
    } else {
      rows.push([prefix, v === null || v === undefined ? "" : typeof v === "string" ? v : canonicalJson(v)]);
    }
  };
  const { imports, ...rest } = run.summary;
  flatten("summary", rest);
  imports.forEach((imp, k) => flatten(`summary.imports.${k}`, imp));
  return csvLine(["metric", "value"]) + rows.map(([m, v]) => csvLine([m, v])).join("");
}
