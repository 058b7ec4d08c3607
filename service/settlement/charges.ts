/**
 * Charges to a seller that no order carries: storage billed for a period, a logistics or
 * fulfilment service invoiced on its own. Priced in USD like the schedule's fees, charged to the
 * seller's available balance in its payout currency at the mid rate (no markup: the platform sets
 * the price, nothing of the seller's is exchanged for it), and credited to the platform's revenue
 * line of that service. One journal transaction per charge; idempotent on (seller, chargeId).
 */
import { createHash } from "node:crypto";
import type { JournalTransaction, Ledger, PostingInput } from "../ledger/types.js";
import { convertMinor } from "../money/index.js";
import { Accounts, accountSpec, SETTLEMENT_CURRENCY } from "./accounts.js";
import { SettlementErrors } from "./errors.js";
import { bookOnce } from "./once.js";
import type { Seller } from "./types.js";

const USD = SETTLEMENT_CURRENCY;
export const CHARGE_KINDS = ["warehousing", "logistics", "fulfilment", "storage"] as const;
export type ChargeKind = (typeof CHARGE_KINDS)[number];
const REVENUE: Record<ChargeKind, string> = { warehousing: Accounts.warehousing, logistics: Accounts.logistics, fulfilment: Accounts.fulfilment, storage: Accounts.storage };
const CHARGE_KIND = "seller_charge";

export interface SellerChargeInput {
  chargeId: string;
  kind: ChargeKind;
  /** USD minor units, > 0. */
  amount: bigint;
  occurredAt: Date;
  /** What it is for, e.g. "storage 2024-12: 1.8 m3 x 31 days". */
  note: string;
  /**
   * How the amount was computed (e.g. a storage run's snapshots, days, rate), recorded in the
   * journal metadata under `evidence.<key>` and covered by the request hash. Absent: none.
   */
  evidence?: Record<string, string>;
}

export interface SellerCharge extends SellerChargeInput {
  sellerId: string;
  currency: string;
  /** What the seller was charged, in `currency` minor units. */
  charged: bigint;
  rate: string | null;
  transactionId: string;
}

export interface ChargeRates {
  conversionRate(from: string, to: string, at: Date): Promise<{ mid: { rate: string; source: string; asOf: string } }>;
}

export async function chargeSeller(
  deps: { ledger: Pick<Ledger, "post" | "listTransactions">; rates: ChargeRates },
  seller: Seller,
  input: SellerChargeInput,
  /** The largest amount charged in the seller's payout currency (MAX_AMOUNT_MINOR of that currency): the USD bound alone let a conversion pass it. */
  maxCharged?: bigint,
): Promise<{ status: "created" | "exists"; charge: SellerCharge }> {
  const key = `charge:${seller.id}:${input.chargeId}`;
  const fields: unknown[] = [seller.id, input.chargeId, input.kind, input.amount.toString(), input.occurredAt.toISOString(), input.note];
  // Only when given: a charge without evidence hashes as before.
  if (input.evidence !== undefined) fields.push(Object.entries(input.evidence).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const hash = createHash("sha256").update(JSON.stringify(fields)).digest("hex");
  const find = async () => (await deps.ledger.listTransactions({ metadata: { kind: CHARGE_KIND, chargeKey: `${seller.id}:${input.chargeId}` }, limit: 1 })).items[0] ?? null;
  const r = await bookOnce({
    find,
    hash,
    conflict: (tx) => SettlementErrors.chargeConflict(`${key} was booked with another body`, { details: { transactionId: tx.id } }),
    read: chargeOf,
    post: async () => {
      const P = seller.payoutCurrency;
      let charged = input.amount;
      const metadata: Record<string, string> = {
        kind: CHARGE_KIND,
        chargeKey: `${seller.id}:${input.chargeId}`,
        sellerId: seller.id,
        chargeId: input.chargeId,
        feeKind: input.kind,
        amountUsd: input.amount.toString(),
        note: input.note,
        occurredAt: input.occurredAt.toISOString(),
        requestHash: hash,
      };
      for (const [k, v] of Object.entries(input.evidence ?? {})) metadata[`evidence.${k}`] = v;
      const postings: PostingInput[] = [{ account: REVENUE[input.kind], currency: USD, direction: "credit", amount: input.amount }];
      if (P !== USD) {
        let mid: { rate: string; source: string; asOf: string };
        try {
          mid = (await deps.rates.conversionRate(USD, P, input.occurredAt)).mid;
        } catch (e) {
          throw SettlementErrors.fxUnavailable(`no USD->${P} rate at ${input.occurredAt.toISOString()}`, { fields: [{ field: "occurredAt", message: `no USD->${P} rate published for this instant` }], cause: e });
        }
        charged = convertMinor(input.amount, USD, P, mid.rate, "half-even");
        if (maxCharged !== undefined && charged > maxCharged) {
          throw SettlementErrors.invalidEvent(`amount converts to ${charged} ${P} minor units at ${mid.rate}, above the limit of ${maxCharged}`, {
            fields: [{ field: "amount", message: `must convert to at most ${maxCharged} minor units of ${P}` }],
          });
        }
        Object.assign(metadata, { [`fx.USD-${P}.rate`]: mid.rate, [`fx.USD-${P}.source`]: mid.source, [`fx.USD-${P}.asOf`]: mid.asOf });
        postings.push(
          { account: Accounts.fxClearing(P), currency: USD, direction: "debit", amount: input.amount },
          { account: Accounts.fxClearing(P), currency: P, direction: "credit", amount: charged },
        );
      }
      postings.push({ account: Accounts.seller(seller.id, "available"), currency: P, direction: "debit", amount: charged });
      Object.assign(metadata, { charged: charged.toString(), currency: P });
      return deps.ledger.post({
        idempotencyKey: key,
        postings,
        accounts: postings.map((p) => accountSpec(p.account, p.currency)),
        effectiveAt: input.occurredAt,
        description: `${input.kind} charge ${input.chargeId} to ${seller.id}: ${input.note}`,
        metadata,
      });
    },
  });
  return { status: r.status, charge: r.value };
}

function chargeOf(tx: JournalTransaction): SellerCharge {
  const m = tx.metadata;
  const currency = m.currency ?? USD;
  const c: SellerCharge = {
    sellerId: m.sellerId ?? "",
    chargeId: m.chargeId ?? "",
    kind: (m.feeKind ?? "warehousing") as ChargeKind,
    amount: BigInt(m.amountUsd ?? "0"),
    occurredAt: new Date(m.occurredAt ?? tx.effectiveAt),
    note: m.note ?? "",
    currency,
    charged: BigInt(m.charged ?? "0"),
    rate: m[`fx.USD-${currency}.rate`] ?? null,
    transactionId: tx.id,
  };
  const evidence = Object.fromEntries(Object.entries(m).filter(([k]) => k.startsWith("evidence.")).map(([k, v]) => [k.slice("evidence.".length), v]));
  if (Object.keys(evidence).length > 0) c.evidence = evidence;
  return c;
}
