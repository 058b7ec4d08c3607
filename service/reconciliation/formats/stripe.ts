/**
 * Stripe's itemized balance report, "Balance change from activity" (Reports API report types
 * `balance_change_from_activity.itemized.1/.2`, the Dashboard's Balance report CSV), whose columns
 * are selectable: they are found by name. Required: balance_transaction_id, created_utc (or, in
 * the report's default time-zone variant, `created` in the zone given at import), currency, gross,
 * fee, net, reporting_category. Used when present: source_id, available_on_utc,
 * description, customer_facing_amount, customer_facing_currency, automatic_payout_id,
 * automatic_payout_effective_at_utc and `payment_metadata[settlement_id|settlementId|order_id|orderId]`
 * (the marketplace order). Amounts are major units of `currency` (lower-case ISO code), signed
 * from the account's point of view; gross - fee = net.
 *
 * reporting_category -> our rows:
 *   charge -> capture (gross > 0); refund -> refund (gross < 0); dispute -> chargeback (gross < 0);
 *   dispute_reversal -> chargeback_reversal (gross > 0); fee -> fee; payout -> payout (a payout row,
 *   present in exports that include payouts, checked against the rows whose automatic_payout_id it
 *   is); anything else (partial_capture_reversal, transfer, other_adjustment, network_cost,
 *   payout_reversal, ...) -> other.
 * Buyer side: a charge made in another currency than the account's carries it in
 * customer_facing_amount / customer_facing_currency; that is what our event recorded, and
 * |gross| / |customer_facing_amount| is the rate Stripe applied.
 * References: "source_id" (ch_/re_/dp_/po_...) then "balance_transaction_id" (txn_...).
 */
import { formatMinor, impliedRate } from "../../money/index.js";
import { ReconErrors } from "../errors.js";
import { parseReportTime } from "../time.js";
import type { ReportRow, RowKind } from "../types.js";
import { columnIndex, feeInBuyerCurrency, RowReader, type FormatDefinition, type RowDecoder } from "./common.js";

/** Besides these, `created_utc` or `created` (local time, with the import's time zone). */
export const STRIPE_REQUIRED = ["balance_transaction_id", "currency", "gross", "fee", "net", "reporting_category"] as const;

export const STRIPE_OPTIONAL = [
  "available_on_utc",
  "source_id",
  "description",
  "customer_facing_amount",
  "customer_facing_currency",
  "automatic_payout_id",
  "automatic_payout_effective_at_utc",
] as const;

const SETTLEMENT_METADATA = ["payment_metadata[settlement_id]", "payment_metadata[settlementId]", "payment_metadata[order_id]", "payment_metadata[orderId]"];

const KINDS: Record<string, { kind: RowKind; sign?: 1 | -1 }> = {
  charge: { kind: "capture", sign: 1 },
  refund: { kind: "refund", sign: -1 },
  dispute: { kind: "chargeback", sign: -1 },
  dispute_reversal: { kind: "chargeback_reversal", sign: 1 },
  fee: { kind: "fee" },
  payout: { kind: "payout" },
};

export const stripeItemizedBalance: FormatDefinition = {
  format: "stripe_itemized_balance",
  title: "Stripe itemized balance report (balance_change_from_activity.itemized)",
  required: STRIPE_REQUIRED,
  references: ["source_id", "balance_transaction_id"],
  decoder(header, opts = {}): RowDecoder {
    const ix = columnIndex(this, header);
    const c = (name: string) => ix.get(name);
    const txn = c("balance_transaction_id");
    const { column: created, zone } = createdColumn(ix, opts.timeZone);
    const cur = c("currency");
    const grossCol = c("gross");
    const feeCol = c("fee");
    const netCol = c("net");
    const category = c("reporting_category");
    const source = c("source_id");
    const cfa = c("customer_facing_amount");
    const cfc = c("customer_facing_currency");
    const payoutCol = c("automatic_payout_id");
    const metadata = SETTLEMENT_METADATA.map(c).filter((i): i is number => i !== undefined);
    const width = header.length;

    return (fields, line, sourceIndex, error) => {
      const r = new RowReader(fields, line, header, error);
      if (fields.length !== width) {
        r.fail(undefined, "column_count", `expected ${width} columns (as in the header), found ${fields.length}`);
        return null;
      }
      const recordType = r.text(category);
      if (recordType === "") r.fail(category, "required", "reporting_category is required");
      const spec = KINDS[recordType] ?? { kind: "other" as const };
      const id = r.text(txn);
      if (id === "") r.fail(txn, "required", "balance_transaction_id is required");
      const when = parseReportTime(r.text(created), zone);
      if (when === "invalid" || when === "zone") r.fail(created, "date", `${JSON.stringify(r.text(created).slice(0, 40))} is not a date-time "YYYY-MM-DD HH:MM:SS" (${zone})`);
      const account = r.currency(cur, true);
      let gross: bigint | null = null;
      let fee: bigint | null = null;
      let net: bigint | null = null;
      if (account !== null) {
        gross = r.amount(grossCol, account);
        fee = r.amount(feeCol, account, 0n);
        net = r.amount(netCol, account);
        if (r.text(grossCol) === "") r.fail(grossCol, "required", "gross is required");
        if (r.text(netCol) === "") r.fail(netCol, "required", "net is required");
        // The report's own identity: a net that is not gross - fee would feed payouts and remittances.
        if (gross !== null && fee !== null && net !== null && gross - fee !== net) {
          r.fail(netCol, "net", `net ${formatMinor(net, account)} is not gross - fee: ${formatMinor(gross, account)} - ${formatMinor(fee, account)} = ${formatMinor(gross - fee, account)} ${r.text(cur)}`);
        }
      }
      const sourceId = r.text(source);
      const refs: Record<string, string> = {};
      if (sourceId !== "") refs["source_id"] = sourceId;
      if (id !== "") refs["balance_transaction_id"] = id;
      let settlementRef: string | null = null;
      for (const i of metadata) {
        const v = r.text(i);
        if (v !== "") {
          settlementRef = v;
          break;
        }
      }
      const payoutText = r.text(payoutCol);
      let batch = payoutText === "" ? null : payoutText;

      let currency: string | null = account;
      let amount: bigint | null = null;
      let rate: ReportRow["rate"] = null;
      let rowFee: bigint | null = null;
      let feeSlack = 0n;
      if (account !== null && gross !== null && !r.failed) {
        if (spec.sign !== undefined) {
          if (gross === 0n || (gross > 0n ? 1 : -1) !== spec.sign) {
            r.fail(grossCol, "sign", `a ${recordType} row has a ${spec.sign > 0 ? "positive" : "negative"} gross`);
          } else {
            amount = gross < 0n ? -gross : gross;
            rowFee = fee;
            const facingCurrency = cfc === undefined || r.text(cfc) === "" ? null : r.currency(cfc, true);
            if (facingCurrency !== null && facingCurrency !== account) {
              const facing = r.amount(cfa, facingCurrency);
              if (facing === null || facing === 0n) {
                if (!r.failed) r.fail(cfa, "required", "customer_facing_amount is required with a customer_facing_currency other than currency");
              } else {
                // Stripe converted the buyer's amount into the account currency: rate = |gross| / |facing|.
                rate = impliedRate(facing, facingCurrency, gross, account);
                currency = facingCurrency;
                amount = facing < 0n ? -facing : facing;
                if (fee !== null) {
                  const converted = feeInBuyerCurrency(fee, account, facingCurrency, rate);
                  rowFee = r.bounded(feeCol, converted.fee, `fee ${formatMinor(fee, account)} in ${facingCurrency}`);
                  feeSlack = converted.slack;
                }
              }
            }
          }
        } else if (spec.kind === "fee" || spec.kind === "payout") {
          amount = -gross; // positive: charged / paid out
          if (spec.kind === "fee") rowFee = amount;
          if (spec.kind === "payout") {
            batch = sourceId !== "" ? sourceId : batch;
            if (batch === null) r.fail(source, "required", "a payout row names its payout (source_id or automatic_payout_id)");
          }
        }
      }
      if (r.failed || typeof when !== "number") return null;
      return {
        source: sourceIndex,
        line,
        recordType,
        kind: spec.kind,
        rowId: id,
        refs,
        settlementRef,
        occurredAt: when,
        currency,
        amount,
        fee: rowFee,
        feeSlack,
        rate,
        netCurrency: account,
        net,
        batch,
      };
    };
  },
};

/**
 * `created_utc` is UTC; the report's default variant has `created` in the time zone the report was
 * run in, which the file does not state: the importer names it (`?timezone=`), never guessed.
 */
function createdColumn(ix: ReadonlyMap<string, number>, timeZone: string | undefined): { column: number; zone: string } {
  const utc = ix.get("created_utc");
  if (utc !== undefined) return { column: utc, zone: "UTC" };
  const local = ix.get("created");
  if (local === undefined) {
    throw ReconErrors.reportFormat(`not a ${stripeItemizedBalance.title}: the header has neither created_utc nor created`, {
      fields: [{ field: "header.created_utc", message: "required column missing (or created, with the report's time zone)" }],
      details: { format: "stripe_itemized_balance", missing: ["created_utc"] },
    });
  }
  if (timeZone === undefined) {
    throw ReconErrors.reportFormat(
      "this Stripe report gives `created` in the time zone it was run in (the Dashboard's default), not `created_utc`: name that zone with ?timezone=<IANA name>, e.g. America/Los_Angeles or Etc/UTC",
      { fields: [{ field: "query.timezone", message: "required for a report without created_utc" }], details: { format: "stripe_itemized_balance", column: "created" } },
    );
  }
  return { column: local, zone: timeZone };
}
