/**
 * Ledger account codes used by settlements, and the specs to create them on first use.
 *
 * Decision (refund after payout): a seller's `available` account may go negative — the seller
 * then owes the platform, and the payout side must net that against future proceeds. `held` and
 * `reserve` may not: the planner only ever takes back from them what this capture put there.
 */
import type { AccountSpec } from "../ledger/types.js";

export const SETTLEMENT_CURRENCY = "USD" as const;

export const Accounts = {
  gatewayReceivable: (gateway: string) => `gateway:${gateway}:receivable`,
  paymentFees: "platform:expense:payment_fees",
  commission: "platform:revenue:commission",
  paymentFeeRecovery: "platform:revenue:payment_fee_recovery",
  logistics: "platform:revenue:logistics",
  warehousing: "platform:revenue:warehousing",
  fulfilment: "platform:revenue:fulfilment",
  /** Storage billed per period by volume x days (storage.ts), whether anything sold. */
  storage: "platform:revenue:storage",
  /** Full hosting before it was booked as principal: only follow-ups of such captures move it. */
  margin: "platform:revenue:hosting_margin",
  /** Full hosting, the platform as principal: the sale, its cost, returned stock, goods lost to chargebacks. */
  sales: "platform:revenue:sales",
  costOfSales: "platform:expense:cost_of_sales",
  returnedGoods: "platform:inventory:returned_goods",
  chargebackLosses: "platform:expense:chargeback_losses",
  /** Exchange differences on settlement's monetary items: a follow-up taken back at the capture's values and paid at today's rate (and, on captures booked before checkoutFx, their checkout difference). */
  fxGainLoss: "platform:fx_gain_loss",
  /** A listing price's checkout difference: what the buyer's money is worth at mid less what the seller was promised, a pricing result at initial recognition (no exchange difference). */
  checkoutFx: "platform:revenue:checkout_fx",
  /** The acquirer's or bank's conversion spread: what it paid (or debited) against the mid value of what it converted, at the conversion's instant (cost positive). */
  fxConversion: "platform:expense:fx_conversion",
  /** FX revenue: the markup taken on conversions done for sellers. */
  fxMarkup: "platform:revenue:fx_markup",
  /** Realised FX result: what a remitted or paid-out position was worth at mid when it closed, against its booked value. */
  fxRealised: "platform:fx:realised_gain_loss",
  /** Unrealised FX result of open positions, restated at each revaluation. */
  fxUnrealised: "platform:fx:unrealised_gain_loss",
  /** B the acquirer converted although it was owed as tax in B: to be bought back when the tax is paid. */
  fxTaxKept: (currency: string) => `fx:${currency}-USD:tax`,
  /** The revaluation of fx:X-USD's open positions (with fx:X-USD:tax) to the published mid rate (USD). */
  fxRevaluation: (currency: string) => `fx:${currency}-USD:revaluation`,
  /** The platform's bank account that gateways remit to. */
  bank: "platform:cash:bank",
  tax: (market: string, scheme: string) => `tax:${market}:${scheme}:payable`,
  /** FX clearing between a currency and the USD hub; exists in both currencies. */
  fxClearing: (currency: string) => `fx:${currency}-USD`,
  seller: (sellerId: string, bucket: "held" | "available" | "reserve") => `seller:${sellerId}:${bucket}`,
} as const;

/** The spec for an account code this module uses (owner, normal side, negative policy). */
export function accountSpec(code: string, currency: string): AccountSpec {
  const [head, id, tail] = code.split(":");
  if (head === "seller" && id !== undefined) {
    return { code, currency, ownerType: "seller", ownerId: id, normalBalance: "credit", allowNegative: tail === "available" };
  }
  if (head === "gateway" && id !== undefined) {
    // Receivable from the gateway: refunds after the gateway remitted can push it below zero.
    return { code, currency, ownerType: "gateway", ownerId: id, normalBalance: "debit", allowNegative: true };
  }
  if (head === "tax" && id !== undefined) {
    return { code, currency, ownerType: "tax_authority", ownerId: `${id}:${tail ?? ""}`, normalBalance: "credit", allowNegative: true };
  }
  if (head === "fx") {
    return { code, currency, ownerType: "fx_clearing", ownerId: id ?? code, normalBalance: "debit", allowNegative: true };
  }
  if (code === Accounts.bank) {
    return { code, currency, ownerType: "platform", ownerId: "platform", normalBalance: "debit", allowNegative: false };
  }
  if (code === Accounts.paymentFees || code === Accounts.fxConversion || code === Accounts.costOfSales || code === Accounts.returnedGoods || code === Accounts.chargebackLosses) {
    return { code, currency, ownerType: "platform", ownerId: "platform", normalBalance: "debit", allowNegative: true };
  }
  // Platform revenue / FX result: credit-normal; a loss or reversal may take them below zero.
  return { code, currency, ownerType: "platform", ownerId: "platform", normalBalance: "credit", allowNegative: true };
}
