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

/** The tax-payable account a return reads: a state tax's is named by its region. */
export function taxReturnAccount(r: { market: string; region?: string; scheme: string }): string {
  return `tax:${r.region ?? r.market}:${r.scheme}:payable`;
}

/**
 * A tax return for a period, by effective instant: every posting of a tax-payable account
 * (`tax:<market>:<scheme>:payable`) with the order behind it. Collected tax (credits) and tax given
 * back (refunds, chargebacks: debits) sum to the account's movement, so the return equals the
 * tax-payable postings by construction: opening + net = closing.
 */
export interface TaxReturn {
  market: string;
  /** A state tax's return: its ISO 3166-2 region (the account is tax:<region>:<scheme>:payable). */
  region?: string;
  scheme: string;
  account: string;
  currency: string;
  from: Date;
  to: Date;
  opening: bigint;
  collected: bigint;
  refunded: bigint;
  closing: bigint;
  lines: Array<{
    transactionId: string;
    effectiveAt: Date;
    what: string;
    settlementId: string | null;
    gatewayEventId: string | null;
    /** The event's gross in the market currency (captures, refunds, chargebacks), null otherwise. */
    gross: bigint | null;
    /** Signed: + collected, - given back. */
    tax: bigint;
  }>;
}

export async function taxReturn(
  ledger: Pick<Ledger, "statement">,
  input: { market: string; region?: string; scheme: string; currency: string; from: Date; to: Date },
): Promise<TaxReturn> {
  const account = taxReturnAccount(input);
  const s = await ledger.statement(account, input.currency, { from: input.from, to: input.to });
  let collected = 0n;
  let refunded = 0n;
  const lines = s.lines
    .filter((l) => l.change !== 0n)
    .map((l) => {
      if (l.change > 0n) collected += l.change;
      else refunded -= l.change;
      const gross = l.metadata["grossAmount"];
      return {
        transactionId: l.transactionId,
        effectiveAt: l.effectiveAt,
        what: lineKind(l.metadata, l.transactionKind),
        settlementId: l.metadata["settlementId"] ?? null,
        gatewayEventId: l.metadata["gatewayEventId"] ?? null,
        gross: gross === undefined ? null : BigInt(gross),
        tax: l.change,
      };
    });
  return { market: input.market, ...(input.region === undefined ? {} : { region: input.region }), scheme: input.scheme, account, currency: input.currency, from: input.from, to: input.to, opening: s.opening, collected, refunded, closing: s.closing, lines };
}
