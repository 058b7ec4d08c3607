/** The one read both rails' planners make of a seller's ledger before paying it. */
import { balanceOrNull } from "../ledger/index.js";
import type { Ledger } from "../ledger/types.js";
import { PayoutAccounts } from "./booking.js";

/** The seller's available balance in `currency` (pending reserves deducted); null when it has no ledger account yet. */
export async function availableBalance(ledger: Pick<Ledger, "balance">, sellerId: string, currency: string): Promise<bigint | null> {
  return (await balanceOrNull(ledger, PayoutAccounts.available(sellerId), currency))?.available ?? null;
}
