/**
 * The canonical serialisation a run's report digest covers, so anyone holding the report (JSON or
 * CSV from the API) can recompute the digest and compare it with the one anchored on chain:
 *  - canonical JSON: object keys sorted (by UTF-16 code units), no whitespace, bigints as decimal
 *    strings, Dates as ISO 8601, undefined members omitted;
 *  - the document: one line per item in seq order (`canonicalJson(itemJson(item))`), then one line
 *    with the run header (`canonicalJson(runHeader)`), each line ending with "\n";
 *  - digest = "0x" + sha256(document), lowercase hex (a bytes32).
 */
import { createHash, type Hash } from "node:crypto";
import type { ReconItem } from "./types.js";

export function canonicalJson(v: unknown): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "bigint":
      return JSON.stringify(v.toString());
    case "number":
      if (!Number.isFinite(v)) throw new Error("canonical JSON has no representation for a non-finite number");
      return JSON.stringify(v);
    case "string":
    case "boolean":
      return JSON.stringify(v);
    case "object": {
      if (v instanceof Date) return JSON.stringify(v.toISOString());
      if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : canonicalJson(x))).join(",")}]`;
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
    }
    case "undefined":
    case "function":
    case "symbol":
      break;
  }
  throw new Error(`canonical JSON has no representation for ${typeof v}`);
}

/** An item as the JSON the API returns (amounts as strings): also its canonical digest form. */
export function itemJson(item: ReconItem): Record<string, unknown> {
  return {
    seq: item.seq,
    category: item.category,
    rule: item.rule,
    gateway: item.gateway,
    market: item.market,
    sellerId: item.sellerId,
    currency: item.currency,
    settlementId: item.settlementId,
    gatewayReference: item.gatewayReference,
    gatewayEventId: item.gatewayEventId,
    journalTransactionId: item.journalTransactionId,
    lines: item.lines,
    reportAmount: item.reportAmount?.toString() ?? null,
    ledgerAmount: item.ledgerAmount?.toString() ?? null,
    difference: item.difference?.toString() ?? null,
    evidence: item.evidence,
  };
}

/** Incremental digest of a run's report document (items first, in seq order, then the header). */
export class ReportDigest {
  private readonly hash: Hash = createHash("sha256");
  private items = 0;

  addItem(item: ReconItem): void {
    if (item.seq !== this.items + 1) throw new Error(`report items must be digested in seq order (got ${item.seq} after ${this.items})`);
    this.items++;
    this.hash.update(canonicalJson(itemJson(item)));
    this.hash.update("\n");
  }

  finish(header: Record<string, unknown>): string {
    this.hash.update(canonicalJson(header));
    this.hash.update("\n");
    return `0x${this.hash.digest("hex")}`;
  }
}

/** The digest of a complete report (what a verifier runs over the API's JSON). */
export function reportDigest(items: readonly ReconItem[], header: Record<string, unknown>): string {
  const d = new ReportDigest();
  for (const item of items) d.addItem(item);
  return d.finish(header);
}
