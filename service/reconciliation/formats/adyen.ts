/**
 * Adyen "Settlement details report" (settlement_detail_report_batch_<n>.csv), as documented by
 * Adyen: 30 columns — Company Account, Merchant Account, Psp Reference, Merchant Reference,
 * Payment Method, Creation Date, TimeZone, Type, Modification Reference, Gross Currency,
 * Gross Debit (GC), Gross Credit (GC), Exchange Rate, Net Currency, Net Debit (NC), Net Credit (NC),
 * Commission (NC), Markup (NC), Scheme Fees (NC), Interchange (NC), Payment Method Variant,
 * Modification Merchant Reference, Batch Number, Reserved4..Reserved10. Amounts are major units
 * with "." decimals, debit and credit in separate columns, gross in the processing currency (GC),
 * net and costs in the settlement currency (NC); Exchange Rate converts GC to NC.
 *
 * Record types (the "Type" column, Adyen's journal types) -> our rows:
 *   Settled, SettledBulk            -> capture            (Gross Credit)
 *   Refunded, RefundedBulk          -> refund             (Gross Debit)
 *   Chargeback, SecondChargeback    -> chargeback         (Gross Debit)
 *   ChargebackReversed              -> chargeback_reversal (Gross Credit)
 *   Fee                             -> fee                (Net Debit, e.g. "Transaction Fees <month>")
 *   MerchantPayout                  -> payout             (Net Debit: the batch paid to the bank)
 *   anything else (DepositCorrection, MiscCosts, InvoiceDeduction, RefundedReversed, ...) -> other
 * References: "modification_reference" (Modification Reference: the capture/refund/chargeback's own
 * PSP reference) then "psp_reference" (Psp Reference: the original payment); Merchant Reference is
 * the marketplace order id (our settlementId).
 */
import { formatMinor, parseRateFraction } from "../../money/index.js";
import { parseReportTime, zoneOffsetMinutes } from "../time.js";
import type { ReportRow, RowKind } from "../types.js";
import { columnIndex, feeInBuyerCurrency, RowReader, type FormatDefinition, type RowDecoder, withLeadingZero } from "./common.js";

export const ADYEN_COLUMNS = [
  "Company Account",
  "Merchant Account",
  "Psp Reference",
  "Merchant Reference",
  "Payment Method",
  "Creation Date",
  "TimeZone",
  "Type",
  "Modification Reference",
  "Gross Currency",
  "Gross Debit (GC)",
  "Gross Credit (GC)",
  "Exchange Rate",
  "Net Currency",
  "Net Debit (NC)",
  "Net Credit (NC)",
  "Commission (NC)",
  "Markup (NC)",
  "Scheme Fees (NC)",
  "Interchange (NC)",
  "Payment Method Variant",
  "Modification Merchant Reference",
  "Batch Number",
  "Reserved4",
  "Reserved5",
  "Reserved6",
  "Reserved7",
  "Reserved8",
  "Reserved9",
  "Reserved10",
] as const;

/** The placeholders Reserved4-10 carry nothing; every other documented column is required. */
const REQUIRED = ADYEN_COLUMNS.filter((c) => !c.startsWith("Reserved"));

const KINDS: Record<string, { kind: RowKind; side?: "credit" | "debit" }> = {
  Settled: { kind: "capture", side: "credit" },
  SettledBulk: { kind: "capture", side: "credit" },
  Refunded: { kind: "refund", side: "debit" },
  RefundedBulk: { kind: "refund", side: "debit" },
  Chargeback: { kind: "chargeback", side: "debit" },
  SecondChargeback: { kind: "chargeback", side: "debit" },
  ChargebackReversed: { kind: "chargeback_reversal", side: "credit" },
  Fee: { kind: "fee" },
  MerchantPayout: { kind: "payout" },
};

const FEE_COLUMNS = ["Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)"] as const;

export const adyenSettlementDetails: FormatDefinition = {
  format: "adyen_settlement_details",
  title: "Adyen Settlement details report",
  required: REQUIRED,
  references: ["modification_reference", "psp_reference"],
  decoder(header): RowDecoder {
    const ix = columnIndex(this, header);
    const c = (name: string) => ix.get(name);
    const psp = c("Psp Reference");
    const merchantRef = c("Merchant Reference");
    const created = c("Creation Date");
    const zone = c("TimeZone");
    const type = c("Type");
    const modRef = c("Modification Reference");
    const grossCur = c("Gross Currency");
    const grossDebit = c("Gross Debit (GC)");
    const grossCredit = c("Gross Credit (GC)");
    const rateCol = c("Exchange Rate");
    const netCur = c("Net Currency");
    const netDebit = c("Net Debit (NC)");
    const netCredit = c("Net Credit (NC)");
    const feeCols = FEE_COLUMNS.map(c);
    const batchCol = c("Batch Number");
    const width = header.length;

    return (fields, line, source, error) => {
      const r = new RowReader(fields, line, header, error);
      if (fields.length !== width) {
        r.fail(undefined, "column_count", `expected ${width} columns (as in the header), found ${fields.length}`);
        return null;
      }
      const recordType = r.text(type);
      if (recordType === "") {
        r.fail(type, "required", "the record type is required");
        return null;
      }
      const spec = KINDS[recordType] ?? { kind: "other" as const };
      const when = parseReportTime(r.text(created), r.text(zone));
      if (when === "invalid") r.fail(created, "date", `${JSON.stringify(r.text(created).slice(0, 40))} is not a date-time "YYYY-MM-DD HH:MM:SS"`);
      if (when === "zone" || (when === "invalid" && zoneOffsetMinutes(r.text(zone), 0) === null)) {
        r.fail(zone, "timezone", `${JSON.stringify(r.text(zone).slice(0, 40))} is not a known time zone (use an unambiguous abbreviation or an IANA name)`);
      }
      const pspRef = r.text(psp);
      const mod = r.text(modRef);
      const refs: Record<string, string> = {};
      if (mod !== "") refs["modification_reference"] = mod;
      if (pspRef !== "") refs["psp_reference"] = pspRef;
      const batchText = r.text(batchCol);
      const batch = batchText === "" ? null : batchText;
      const settlementText = r.text(merchantRef);
      const settlementRef = settlementText === "" ? null : settlementText;

      let currency: string | null = null;
      let amount: bigint | null = null;
      let fee: bigint | null = null;
      let feeSlack = 0n;
      let rate: ReportRow["rate"] = null;
      let net: bigint | null = null;
      const ncText = r.text(netCur);
      const nc = ncText === "" && (spec.kind === "other") ? null : r.currency(netCur);
      if (nc !== null) {
        const debit = r.amount(netDebit, nc, 0n);
        const credit = r.amount(netCredit, nc, 0n);
        if (debit !== null && credit !== null) net = r.bounded(credit - debit < 0n ? netDebit : netCredit, credit - debit, "Net Credit (NC) - Net Debit (NC)");
      }

      if (spec.side !== undefined) {
        if (pspRef === "" && mod === "") r.fail(psp, "required", "a Psp Reference or Modification Reference is required");
        const gc = r.currency(grossCur);
        if (gc !== null) {
          const debit = r.amount(grossDebit, gc, 0n);
          const credit = r.amount(grossCredit, gc, 0n);
          if (debit !== null && credit !== null) {
            const signed = r.bounded(credit - debit < 0n ? grossDebit : grossCredit, credit - debit, "Gross Credit (GC) - Gross Debit (GC)") ?? 0n;
            if (spec.side === "credit" ? signed <= 0n : signed >= 0n) {
              r.fail(spec.side === "credit" ? grossCredit : grossDebit, "sign", `a ${recordType} row carries a positive amount in ${spec.side === "credit" ? "Gross Credit (GC)" : "Gross Debit (GC)"}`);
            } else {
              currency = gc;
              amount = signed < 0n ? -signed : signed;
            }
            const rateText = r.text(rateCol);
            if (rateText !== "") {
              rate = parseRateFraction(withLeadingZero(rateText));
              if (rate === null) r.fail(rateCol, "rate", `${JSON.stringify(rateText.slice(0, 30))} is not a positive decimal exchange rate`);
            } else if (nc !== null && nc !== gc) {
              r.fail(rateCol, "rate", `an Exchange Rate is required when Gross Currency (${gc}) and Net Currency (${nc}) differ`);
            }
            if (nc !== null && !r.failed) {
              // Costs are stated in NC; when every cost column is empty, gross - net is the cost.
              let feeNc: bigint | null = null;
              let anyFee = false;
              for (const col of feeCols) {
                if (r.text(col) === "") continue;
                anyFee = true;
                const v = r.amount(col, nc, 0n);
                if (v !== null) feeNc = (feeNc ?? 0n) + v;
              }
              if (!anyFee && nc === gc && net !== null) feeNc = signed - net;
              if (feeNc !== null) feeNc = r.bounded(feeCols[0], feeNc, "the sum of the cost columns");
              // Same currency: the row's own identity, Net = gross - costs (converted rows carry
              // the acquirer's rounding of gross x rate, not checked here).
              if (anyFee && nc === gc && feeNc !== null && net !== null && signed - feeNc !== net) {
                const col = net < 0n ? netDebit : netCredit;
                r.fail(col, "net", `Net ${formatMinor(net, nc)} ${nc} is not the gross less the costs: ${formatMinor(signed, nc)} - ${formatMinor(feeNc, nc)} = ${formatMinor(signed - feeNc, nc)} ${nc}`);
              }
              if (feeNc !== null && !r.failed) {
                if (nc === gc) fee = feeNc;
                else if (rate !== null) {
                  const converted = feeInBuyerCurrency(feeNc, nc, gc, rate);
                  fee = r.bounded(feeCols[0], converted.fee, `the costs ${formatMinor(feeNc, nc)} ${nc} in ${gc}`);
                  feeSlack = converted.slack;
                }
              }
            }
          }
        }
      } else if (spec.kind === "fee" || spec.kind === "payout") {
        if (nc !== null && net !== null) {
          currency = nc;
          amount = -net; // a debit of the merchant balance: positive fee charged / amount paid out
        }
        if (spec.kind === "fee") fee = amount;
        if (spec.kind === "payout" && batch === null) r.fail(batchCol, "required", "a MerchantPayout row names its Batch Number");
      } else {
        currency = nc;
      }
      if (r.failed || typeof when !== "number") return null;
      return {
        source,
        line,
        recordType,
        kind: spec.kind,
        rowId: mod !== "" ? mod : pspRef,
        refs,
        settlementRef,
        occurredAt: when,
        currency,
        amount,
        fee,
        feeSlack,
        rate,
        netCurrency: nc,
        net,
        batch,
      };
    };
  },
};
