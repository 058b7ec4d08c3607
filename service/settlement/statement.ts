/**
 * A seller's statement for a period, by effective instant: for each of the seller's ledger accounts
 * (held, reserve, available, in each currency it holds), the opening balance, every posting with
 * what it was (a capture, a refund, a release, a payout...) and the balance after it, and the closing
 * balance. Read from the ledger alone: opening + lines = closing = the balance before `to`.
 */
import type { AccountStatement, Ledger } from "../ledger/types.js";
import type { Seller } from "./types.js";

export interface SellerStatement {
  seller: Seller;
  from: Date;
  to: Date;
  accounts: Array<Omit<AccountStatement, "lines"> & { lines: Array<AccountStatement["lines"][number] & { what: string }> }>;
}

/** What a journal line was, from its metadata: the event type, else the declared kind, else the ledger's kind. */
export function lineKind(metadata: Record<string, string>, transactionKind: string): string {
  return metadata["eventType"] ?? metadata["kind"] ?? transactionKind;
}

export async function sellerStatement(ledger: Pick<Ledger, "listAccounts" | "statement">, seller: Seller, period: { from: Date; to: Date }): Promise<SellerStatement> {
  const accounts = (await ledger.listAccounts({ ownerType: "seller", ownerId: seller.id, limit: 1000 })).items;
  accounts.sort((a, b) => (a.currency === b.currency ? (a.code < b.code ? -1 : 1) : a.currency < b.currency ? -1 : 1));
  const statements = [];
  for (const a of accounts) {
    const s = await ledger.statement(a.code, a.currency, period);
    statements.push({ ...s, lines: s.lines.map((l) => ({ ...l, what: lineKind(l.metadata, l.transactionKind) })) });
  }
  return { seller, from: period.from, to: period.to, accounts: statements };
}
