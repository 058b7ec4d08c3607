/**
 * The bank rail's tables (`payout_bank_accounts`, `bank_payouts`, `bank_payout_files`, migration
 * 20261206090000_bank_rail; `returned` and `bank_rail_installation`: 20261215140000_bank_returns_and_ids;
 * `partially_paid` and `cancelled`: 20261219143700_bank_payout_partial_cancel; the holder's name check:
 * 20261220110000_bank_account_holder_check; the holder's address: 20261220150000_bank_account_address),
 * through the raw SQL runner. State changes are compare-and-set on the
 * status, so two processes confirming the same payout cannot both win.
 */
import { randomBytes } from "node:crypto";
import { isUniqueViolation } from "../../db/errors.js";
import type { SqlRunner } from "../../db/sql.js";
import { accountNumberKey, sameBankAccount } from "./account-identity.js";
import { holderNameScriptMismatch, type HolderNameResult } from "./holder-name.js";
import type { BankAccountRef, PostalAddress } from "./iso20022.js";
import { amountsOf, type OpenItems, type OpenPeriod } from "../../open-items.js";

/** The holder's name as checked against the seller's registered name when the account was set (holder-name.ts). */
export interface HolderNameCheck {
  result: HolderNameResult;
  /** The seller's registered name it was compared with. */
  sellerName: string;
  /** A close_match or no_match the admin confirmed (`confirmHolderName`); false for a match. */
  confirmed: boolean;
  /** The holder's name and the seller's are in different scripts (holder-name.ts): never a match, so confirming is what is expected. Derived, not stored. */
  scriptMismatch: boolean;
}

export interface BankAccount extends BankAccountRef {
  sellerId: string;
  setAt: Date;
  setBy: string;
  /** Null: set before the check existed (migration 20261220110000), until it is set again. */
  holderNameCheck: HolderNameCheck | null;
}

/** The account's own fields (what a pain.001 sends, its address too), without who set it, when, or its check. */
export function accountRef(a: BankAccountRef): BankAccountRef {
  return { holderName: a.holderName, iban: a.iban, accountNumber: a.accountNumber, bic: a.bic, clearingSystem: a.clearingSystem, clearingMember: a.clearingMember, country: a.country, address: a.address ?? null };
}

/**
 * The payout the bank returned from the seller's account since it was set, whichever seller it paid
 * (a return holds the account, not the seller), with no payout to that account paid since: runs skip
 * the seller until it is set again (`#holds`).
 */
export interface BankAccountHold {
  payoutId: bigint;
  /** The seller the returned payout was for: another seller's when both had this account on file (rows from before one account was one seller's). */
  sellerId: string;
  endToEndId: string;
  reason: string | null;
  /** The account the bank returned it from (as instructed). */
  account: BankAccountRef;
}

export const BANK_PAYOUT_STATUSES = ["planned", "instructed", "final", "rejected", "returned", "partially_paid", "cancelled"] as const;
export type BankPayoutStatus = (typeof BANK_PAYOUT_STATUSES)[number];

export interface BankPayout {
  id: bigint;
  sellerId: string;
  currency: string;
  amount: bigint;
  endToEndId: string;
  status: BankPayoutStatus;
  fileId: string | null;
  account: BankAccountRef;
  reserveRequest: unknown;
  pendingTxId: string | null;
  commitTxId: string | null;
  cashRequest: unknown;
  cashTxId: string | null;
  voidTxId: string | null;
  settledCurrency: string | null;
  settledAmount: bigint | null;
  reason: string | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  finalAt: Date | null;
  /** A full return after final: its journal transaction and when it was booked. */
  returnTxId: string | null;
  returnedAt: Date | null;
  /** What the bank credited back (net of charges), in the account's currency. */
  returned: { currency: string; amount: bigint } | null;
  /** `partially_paid`: what the bank paid of `amount`, in the payout currency (the rest went back to the seller's available balance). */
  paidAmount: bigint | null;
}

export interface BankFile {
  id: string;
  count: number;
  ctrlSum: string;
  xml: string;
  createdBy: string;
  createdAt: Date;
  writtenAt: Date | null;
}

type Row = Record<string, unknown>;
const str = (v: unknown): string | null => (typeof v === "string" ? v : typeof v === "bigint" || typeof v === "number" ? v.toString() : null);

/** The account's columns of a `payout_bank_accounts` row. */
function refOf(r: Row): BankAccountRef {
  return {
    holderName: r["holder_name"] as string,
    iban: str(r["iban"]),
    accountNumber: str(r["account_number"]),
    bic: str(r["bic"]),
    clearingSystem: str(r["clearing_system"]),
    clearingMember: str(r["clearing_member"]),
    country: r["country"] as string,
  };
}

/** The address columns of a `payout_bank_accounts` row; null for a row stored before they were required. */
function addressOf(r: Row): PostalAddress | null {
  const town = str(r["address_town_name"]);
  const country = str(r["address_country"]);
  if (town === null || country === null) return null;
  return {
    streetName: str(r["address_street_name"]),
    buildingNumber: str(r["address_building_number"]),
    postCode: str(r["address_post_code"]),
    townName: town,
    countrySubDivision: str(r["address_country_sub_division"]),
    country,
  };
}

function accountOf(r: Row): BankAccount {
  const check = str(r["holder_name_check"]) as HolderNameResult | null;
  const sellerName = str(r["holder_name_checked_against"]);
  const ref = refOf(r);
  return {
    sellerId: r["seller_id"] as string,
    ...ref,
    address: addressOf(r),
    setAt: r["set_at"] as Date,
    setBy: r["set_by"] as string,
    holderNameCheck:
      check === null || sellerName === null ? null : { result: check, sellerName, confirmed: r["holder_name_confirmed"] === true, scriptMismatch: holderNameScriptMismatch(ref.holderName, sellerName) },
  };
}

/** The same IBAN or account number, as the SQL narrows it (`accountNumberKey`; stored numbers hold no other separators). */
const numberKeySql = (iban: string, accountNumber: string): string => `upper(regexp_replace(COALESCE(${iban}, ${accountNumber}), '[[:space:].-]', '', 'g'))`;
const NUMBER_KEY_SQL = numberKeySql("iban", "account_number");
/** The same, of the account a payout was instructed to (its `account` snapshot). */
const PAYOUT_NUMBER_KEY_SQL = numberKeySql("account->>'iban'", "account->>'accountNumber'");
const numberKey = (a: BankAccountRef): string => accountNumberKey(a.iban ?? a.accountNumber ?? "");

function payoutOf(r: Row): BankPayout {
  return {
    id: r["id"] as bigint,
    sellerId: r["seller_id"] as string,
    currency: r["currency"] as string,
    amount: BigInt(r["amount"] as string),
    endToEndId: r["end_to_end_id"] as string,
    status: r["status"] as BankPayoutStatus,
    fileId: str(r["file_id"]),
    account: r["account"] as BankAccountRef,
    reserveRequest: r["reserve_request"],
    pendingTxId: str(r["pending_tx_id"]),
    commitTxId: str(r["commit_tx_id"]),
    cashRequest: r["cash_request"] ?? null,
    cashTxId: str(r["cash_tx_id"]),
    voidTxId: str(r["void_tx_id"]),
    settledCurrency: str(r["settled_currency"]),
    settledAmount: r["settled_amount"] === null ? null : BigInt(r["settled_amount"] as string),
    reason: str(r["reason"]),
    createdBy: r["created_by"] as string,
    createdAt: r["created_at"] as Date,
    updatedAt: r["updated_at"] as Date,
    finalAt: (r["final_at"] as Date | null) ?? null,
    returnTxId: str(r["return_tx_id"]),
    returnedAt: (r["returned_at"] as Date | null) ?? null,
    returned: r["returned_currency"] === null || r["returned_amount"] === null ? null : { currency: r["returned_currency"] as string, amount: BigInt(r["returned_amount"] as string) },
    paidAmount: r["paid_amount"] === null || r["paid_amount"] === undefined ? null : BigInt(r["paid_amount"] as string),
  };
}

function fileOf(r: Row): BankFile {
  return {
    id: r["id"] as string,
    count: Number(r["count"]),
    ctrlSum: r["ctrl_sum"] as string,
    xml: r["xml"] as string,
    createdBy: r["created_by"] as string,
    createdAt: r["created_at"] as Date,
    writtenAt: (r["written_at"] as Date | null) ?? null,
  };
}

/** Max35Text, [A-Z0-9-]: 15 + at most 19 digits of a bigint id. Payouts issued before the tag keep `ENT-BP-<id>`. */
export const bankEndToEndId = (tag: string, id: bigint): string => `ENT-BP-${tag}-${id}`;
/** The prefix of a day's pain.001 MsgIds (`<prefix><n>`, at most 35 characters). Files issued before the tag keep `ENT-<yyyymmdd>-<n>`. */
export const bankFilePrefix = (tag: string, day: string): string => `ENT-${tag}-${day.replace(/-/g, "")}-`;
const TAG = /^[0-9A-F]{8}$/;

export class BankStore {
  constructor(private readonly sql: SqlRunner) {}

  /**
   * The installation's tag (migration 20261215140000 makes it; made here at first use if the row is
   * missing): the same for every instance on the database, another for another database.
   */
  async installationTag(): Promise<string> {
    const read = async () => (await this.sql.q<Array<{ tag: string }>>(`SELECT tag FROM bank_rail_installation WHERE id`))[0]?.tag;
    let tag = await read();
    if (tag === undefined) {
      await this.sql.q(`INSERT INTO bank_rail_installation (id, tag) VALUES (true, $1) ON CONFLICT (id) DO NOTHING`, randomBytes(4).toString("hex").toUpperCase());
      tag = await read();
    }
    if (tag === undefined || !TAG.test(tag)) throw new Error(`bank rail: installation tag ${JSON.stringify(tag)} is not 8 upper-case hex digits`);
    return tag;
  }

  async account(sellerId: string): Promise<BankAccount | null> {
    const [r] = await this.sql.q(`SELECT * FROM payout_bank_accounts WHERE seller_id = $1`, sellerId);
    return r ? accountOf(r) : null;
  }

  async accounts(): Promise<BankAccount[]> {
    return (await this.sql.q(`SELECT * FROM payout_bank_accounts ORDER BY seller_id`)).map(accountOf);
  }

  /**
   * The accounts on file for other sellers that are this account (`sameBankAccount`): one account is
   * one seller's, so a write finding any is refused; rows stored before that rule may share one.
   */
  async accountsSharing(sellerId: string, a: BankAccountRef, sql: SqlRunner = this.sql): Promise<BankAccount[]> {
    const rows = await sql.q(`SELECT * FROM payout_bank_accounts WHERE seller_id <> $1 AND ${NUMBER_KEY_SQL} = $2 ORDER BY seller_id`, sellerId, numberKey(a));
    return rows.map(accountOf).filter((x) => sameBankAccount(a, x));
  }

  /**
   * Sets the seller's account in one transaction: first a transaction-scoped advisory lock on the
   * account's number (`accountNumberKey`), so two sellers given the same account at once are
   * serialised and the second sees the first's row; then the seller's row locked. `decide` sees the
   * accounts other sellers have that are this one, the account on file and its hold (as of now) and
   * says whether to write it (`set_at` moves, which lifts the hold) or keep the one on file
   * untouched; it may throw instead.
   */
  async setAccount(
    a: Omit<BankAccount, "setAt">,
    decide: (others: BankAccount[], current: BankAccount | null, hold: BankAccountHold | null) => "write" | "keep" | Promise<"write" | "keep">,
  ): Promise<BankAccount> {
    return this.sql.transaction(async (tx) => {
      await tx.q(`SELECT pg_advisory_xact_lock(hashtextextended('payout_bank_accounts:' || $1::text, 0))`, numberKey(a));
      const others = await this.accountsSharing(a.sellerId, a, tx);
      const [cur] = await tx.q(`SELECT * FROM payout_bank_accounts WHERE seller_id = $1 FOR UPDATE`, a.sellerId);
      const current = cur ? accountOf(cur) : null;
      // The account being set, held as a run holds it (`#holds`): since the account on file was set
      // (or confirmed) when it is this one, else whenever the bank returned a payout from it.
      const [held] = await BankStore.#holds(tx, [{ account: a, since: current !== null && sameBankAccount(a, current) ? current.setAt : null }]);
      const hold = held?.hold ?? null;
      if ((await decide(others, current, hold)) === "keep" && current !== null) return current;
      return BankStore.#writeAccount(tx, a);
    });
  }

  static async #writeAccount(sql: SqlRunner, a: Omit<BankAccount, "setAt">): Promise<BankAccount> {
    const [r] = await sql.q(
      `INSERT INTO payout_bank_accounts (seller_id, holder_name, iban, account_number, bic, clearing_system, clearing_member, country, set_at, set_by,
                                         holder_name_check, holder_name_checked_against, holder_name_confirmed,
                                         address_street_name, address_building_number, address_post_code, address_town_name, address_country_sub_division, address_country)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
       ON CONFLICT (seller_id) DO UPDATE SET holder_name = EXCLUDED.holder_name, iban = EXCLUDED.iban, account_number = EXCLUDED.account_number,
         bic = EXCLUDED.bic, clearing_system = EXCLUDED.clearing_system, clearing_member = EXCLUDED.clearing_member, country = EXCLUDED.country,
         set_at = EXCLUDED.set_at, set_by = EXCLUDED.set_by, holder_name_check = EXCLUDED.holder_name_check,
         holder_name_checked_against = EXCLUDED.holder_name_checked_against, holder_name_confirmed = EXCLUDED.holder_name_confirmed,
         address_street_name = EXCLUDED.address_street_name, address_building_number = EXCLUDED.address_building_number,
         address_post_code = EXCLUDED.address_post_code, address_town_name = EXCLUDED.address_town_name,
         address_country_sub_division = EXCLUDED.address_country_sub_division, address_country = EXCLUDED.address_country
       RETURNING *`,
      a.sellerId,
      a.holderName,
      a.iban,
      a.accountNumber,
      a.bic,
      a.clearingSystem,
      a.clearingMember,
      a.country,
      a.setBy,
      a.holderNameCheck?.result ?? null,
      a.holderNameCheck?.sellerName ?? null,
      a.holderNameCheck?.confirmed ?? false,
      a.address?.streetName ?? null,
      a.address?.buildingNumber ?? null,
      a.address?.postCode ?? null,
      a.address?.townName ?? null,
      a.address?.countrySubDivision ?? null,
      a.address?.country ?? null,
    );
    return accountOf(r!);
  }

  async removeAccount(sellerId: string): Promise<boolean> {
    return (await this.sql.q(`DELETE FROM payout_bank_accounts WHERE seller_id = $1 RETURNING seller_id`, sellerId)).length === 1;
  }

  /**
   * Records a planned payout; its reserve request is built from the id the row gets. Null when the
   * seller already has a payout planned or instructed (the partial unique index says so, whatever
   * any lease said). `fence`: the run's lease verified inside the transaction (it throws if lost).
   */
  async insertPlanned(
    p: { sellerId: string; currency: string; amount: bigint; account: BankAccountRef; createdBy: string; tag: string },
    request: (id: bigint, endToEndId: string) => unknown,
    fence?: (tx: SqlRunner) => Promise<void>,
  ): Promise<BankPayout | null> {
    return this.sql.transaction(async (tx) => {
      await fence?.(tx);
      const [{ id }] = (await tx.q<Array<{ id: bigint }>>(`SELECT nextval('bank_payouts_id_seq') AS id`)) as [{ id: bigint }];
      const endToEndId = bankEndToEndId(p.tag, id);
      const [r] = await tx.q(
        `INSERT INTO bank_payouts (id, seller_id, currency, amount, end_to_end_id, status, account, reserve_request, created_by)
         VALUES ($1, $2, $3, $4, $5, 'planned', $6::jsonb, $7::jsonb, $8) RETURNING *`,
        id,
        p.sellerId,
        p.currency,
        p.amount,
        endToEndId,
        JSON.stringify(p.account),
        JSON.stringify(request(id, endToEndId)),
        p.createdBy,
      );
      return payoutOf(r!);
    }).catch((e: unknown) => {
      if (isUniqueViolation(e, "bank_payouts_one_in_flight_key")) return null;
      throw e;
    });
  }

  async setPendingTx(id: bigint, txId: string): Promise<void> {
    await this.sql.q(`UPDATE bank_payouts SET pending_tx_id = $2, updated_at = now() WHERE id = $1 AND pending_tx_id IS NULL`, id, txId);
  }

  /** Planned payouts: without their reserve (a crash before it was posted), or reserved and in no file yet. */
  async planned(): Promise<BankPayout[]> {
    return (await this.sql.q(`SELECT * FROM bank_payouts WHERE status = 'planned' ORDER BY id`)).map(payoutOf);
  }

  /**
   * Sellers whose bank account on file is held (`accountHolds`): a payout to it, whichever seller it
   * was for, came back from the bank since the account was set, and none to it was paid since. A
   * return holds the account, not the seller, so a seller that had the same account on file (rows
   * from before one account was one seller's) is not paid to it either once the other moves off it.
   * Paying the same account again would be returned again, charges and all. Setting the account
   * again (another account, or the same one confirmed: rail.ts) clears it for that seller. Only a
   * payout to the account on file counts (`sameBankAccount`, account-identity.ts): a payout to the
   * account the seller replaced, returned after the new one was set, holds nothing. `sellerId`: that
   * seller's only.
   */
  async sellersReturned(sellerId?: string): Promise<Map<string, BankAccountHold>> {
    const accounts = (await this.sql.q(`SELECT * FROM payout_bank_accounts WHERE ($1::text IS NULL OR seller_id = $1) ORDER BY seller_id`, sellerId ?? null)).map(accountOf);
    const holds = await BankStore.#holds(
      this.sql,
      accounts.map((a) => ({ account: a, since: a.setAt })),
    );
    const out = new Map<string, BankAccountHold>();
    for (const [i, a] of accounts.entries()) {
      const h = holds[i];
      if (h !== null && h !== undefined) out.set(a.sellerId, h.hold);
    }
    return out;
  }

  /**
   * The hold rule, the one both the runs (`sellersReturned`) and a PUT of the account (`setAccount`)
   * apply: per account, the latest payout to it (`sameBankAccount`), whichever seller it was for,
   * that the bank returned (rejected after it was instructed, or returned after final), and when it
   * came back; none when it came back before `since` (the account set, or confirmed, after it), or
   * when the bank has paid a payout to that account since it came back (final or partially paid
   * after the return was booked: the account takes money again). A payout merely instructed
   * proves nothing: the bank may still return it. What it reads: the returns to the accounts'
   * numbers (the status index; returns are rare), then, only for the accounts that would be held,
   * the payouts paid to their numbers after the earliest of those returns.
   */
  static async #holds(sql: SqlRunner, targets: ReadonlyArray<{ account: BankAccountRef; since: Date | null }>): Promise<Array<{ hold: BankAccountHold; at: Date } | null>> {
    if (targets.length === 0) return [];
    const keys = [...new Set(targets.map((t) => numberKey(t.account)))];
    // `file_id IS NOT NULL`: instructed, so a rejection is the bank's return (a reserve the ledger
    // refused, or a payout the rail did not file, is rejected while planned and holds nothing).
    type Returned = { id: bigint; seller_id: string; end_to_end_id: string; reason: string | null; account: BankAccountRef; at: Date };
    const returns = await sql.q<Returned[]>(
      `SELECT id, seller_id, end_to_end_id, reason, account, COALESCE(returned_at, updated_at) AS at FROM bank_payouts
        WHERE status IN ('rejected', 'returned') AND file_id IS NOT NULL AND ${PAYOUT_NUMBER_KEY_SQL} = ANY($1::text[])
        ORDER BY COALESCE(returned_at, updated_at) DESC, id DESC`,
      keys,
    );
    const latest = targets.map((t) => {
      const r = returns.find((x) => sameBankAccount(x.account, t.account));
      return r === undefined || (t.since !== null && r.at < t.since) ? null : r;
    });
    const held = latest.filter((r): r is Returned => r !== null);
    if (held.length === 0) return latest.map(() => null);
    const earliest = new Date(Math.min(...held.map((r) => r.at.getTime())));
    const paid = await sql.q<Array<{ account: BankAccountRef; final_at: Date }>>(
      `SELECT account, final_at FROM bank_payouts
        WHERE status IN ('final', 'partially_paid') AND final_at > $1 AND ${PAYOUT_NUMBER_KEY_SQL} = ANY($2::text[])`,
      earliest,
      [...new Set(held.map((r) => numberKey(r.account)))],
    );
    return latest.map((r, i) => {
      if (r === null) return null;
      const account = targets[i]!.account;
      if (paid.some((q) => q.final_at > r.at && sameBankAccount(q.account, account))) return null;
      return { hold: { payoutId: BigInt(r.id), sellerId: r.seller_id, endToEndId: r.end_to_end_id, reason: r.reason, account: r.account }, at: r.at };
    });
  }

  /** Sellers with a payout not yet at its outcome (final, partially paid, rejected, cancelled, returned): the planner leaves them until it ends. */
  async sellersInFlight(): Promise<Set<string>> {
    const rows = await this.sql.q<Array<{ seller_id: string }>>(`SELECT DISTINCT seller_id FROM bank_payouts WHERE status IN ('planned', 'instructed')`);
    return new Set(rows.map((r) => r.seller_id));
  }

  /** The file and the move of its payouts from planned to instructed, in one transaction (fenced like `insertPlanned`). */
  async insertFile(file: Omit<BankFile, "createdAt" | "writtenAt">, payoutIds: readonly bigint[], fence?: (tx: SqlRunner) => Promise<void>): Promise<BankFile> {
    return this.sql.transaction(async (tx) => {
      await fence?.(tx);
      const [r] = await tx.q(`INSERT INTO bank_payout_files (id, count, ctrl_sum, xml, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING *`, file.id, file.count, file.ctrlSum, file.xml, file.createdBy);
      const moved = await tx.q(`UPDATE bank_payouts SET status = 'instructed', file_id = $1, updated_at = now() WHERE id = ANY($2::bigint[]) AND status = 'planned' RETURNING id`, file.id, payoutIds);
      if (moved.length !== payoutIds.length) throw new Error(`bank payout file ${file.id}: ${payoutIds.length - moved.length} payouts were no longer planned`);
      return fileOf(r!);
    });
  }

  async fileCount(prefix: string): Promise<number> {
    const [r] = await this.sql.q<Array<{ n: bigint }>>(`SELECT count(*)::bigint AS n FROM bank_payout_files WHERE id LIKE $1`, `${prefix}%`);
    return Number(r?.n ?? 0n);
  }

  async unwrittenFiles(): Promise<BankFile[]> {
    return (await this.sql.q(`SELECT * FROM bank_payout_files WHERE written_at IS NULL ORDER BY id`)).map(fileOf);
  }

  async markWritten(id: string): Promise<void> {
    await this.sql.q(`UPDATE bank_payout_files SET written_at = now() WHERE id = $1 AND written_at IS NULL`, id);
  }

  async file(id: string): Promise<BankFile | null> {
    const [r] = await this.sql.q(`SELECT * FROM bank_payout_files WHERE id = $1`, id);
    return r ? fileOf(r) : null;
  }

  async files(limit: number): Promise<BankFile[]> {
    return (await this.sql.q(`SELECT * FROM bank_payout_files ORDER BY created_at DESC, id DESC LIMIT $1`, limit)).map(fileOf);
  }

  async byEndToEndId(endToEndId: string): Promise<BankPayout | null> {
    const [r] = await this.sql.q(`SELECT * FROM bank_payouts WHERE end_to_end_id = $1`, endToEndId);
    return r ? payoutOf(r) : null;
  }

  async get(id: bigint): Promise<BankPayout | null> {
    const [r] = await this.sql.q(`SELECT * FROM bank_payouts WHERE id = $1`, id);
    return r ? payoutOf(r) : null;
  }

  /** Per status and currency: count and sum of the instructed amounts (minor units). */
  async summary(): Promise<Array<{ state: string; currency: string; count: number; amount: bigint }>> {
    const rows = await this.sql.q<Array<{ status: string; currency: string; n: number; amount: string }>>(
      `SELECT status, currency, count(*)::int AS n, sum(amount)::text AS amount FROM bank_payouts GROUP BY status, currency ORDER BY status, currency`,
    );
    return rows.map((r) => ({ state: r.status, currency: r.currency, count: r.n, amount: BigInt(r.amount) }));
  }

  /**
   * The payouts instructed (their pain.001 file written) in `period` and not yet final, rejected,
   * returned or cancelled: in transit. How many, their amounts per currency, the first `limit` by id.
   */
  async inTransitIn(period: OpenPeriod, limit: number): Promise<OpenItems> {
    const where = `FROM bank_payouts p JOIN bank_payout_files f ON f.id = p.file_id
      WHERE p.status = 'instructed' AND f.created_at < $1 AND ($2::timestamptz IS NULL OR f.created_at >= $2::timestamptz)`;
    const totals = await this.sql.q<Array<{ currency: string; n: number; amount: string }>>(`SELECT p.currency, count(*)::int AS n, sum(p.amount)::text AS amount ${where} GROUP BY p.currency`, period.to, period.from);
    const first = await this.sql.q<Array<{ id: bigint }>>(`SELECT p.id ${where} ORDER BY p.id LIMIT $3`, period.to, period.from, limit);
    return {
      count: totals.reduce((n, t) => n + t.n, 0),
      amounts: amountsOf(totals),
      refs: first.map((r) => ({ id: String(r.id), href: `/v1/payouts/bank/${String(r.id)}` })),
    };
  }

  async list(filter: { sellerId?: string; status?: BankPayoutStatus; fileId?: string; before?: bigint; limit: number }): Promise<BankPayout[]> {
    const rows = await this.sql.q(
      `SELECT * FROM bank_payouts WHERE ($1::text IS NULL OR seller_id = $1) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR file_id = $3)
         AND ($4::bigint IS NULL OR id < $4) ORDER BY id DESC LIMIT $5`,
      filter.sellerId ?? null,
      filter.status ?? null,
      filter.fileId ?? null,
      filter.before ?? null,
      filter.limit,
    );
    return rows.map(payoutOf);
  }

  async setCommitTx(id: bigint, txId: string): Promise<void> {
    await this.sql.q(`UPDATE bank_payouts SET commit_tx_id = $2, updated_at = now() WHERE id = $1 AND commit_tx_id IS NULL`, id, txId);
  }

  /**
   * Stores the cash booking once (the first computation wins); returns the stored one. The same
   * bank debit computed twice (by two processes, the position moved between) is booked as the first.
   */
  async setCashRequest(id: bigint, request: unknown, settled: { currency: string; amount: bigint }): Promise<unknown> {
    const [r] = await this.sql.q(
      `UPDATE bank_payouts SET cash_request = COALESCE(cash_request, $2::jsonb), settled_currency = COALESCE(settled_currency, $3),
         settled_amount = COALESCE(settled_amount, $4), updated_at = now() WHERE id = $1 RETURNING cash_request`,
      id,
      JSON.stringify(request),
      settled.currency,
      settled.amount,
    );
    return r?.["cash_request"];
  }

  /**
   * Another bank debit than the one stored, while the stored one was never booked (the bank's
   * correction of a debit the ledger refused): this one is stored. Null when the payout was booked
   * or left `instructed` meanwhile.
   */
  async replaceCashRequest(id: bigint, request: unknown, settled: { currency: string; amount: bigint }): Promise<unknown> {
    const [r] = await this.sql.q(
      `UPDATE bank_payouts SET cash_request = $2::jsonb, settled_currency = $3, settled_amount = $4, updated_at = now()
        WHERE id = $1 AND status = 'instructed' AND cash_tx_id IS NULL RETURNING cash_request`,
      id,
      JSON.stringify(request),
      settled.currency,
      settled.amount,
    );
    return r?.["cash_request"] ?? null;
  }

  /** Drops a stored cash booking that can never go through (compare-and-set on what it settled); true when dropped. */
  async clearCashRequest(id: bigint, settled: { currency: string; amount: bigint }, reason: string): Promise<boolean> {
    const rows = await this.sql.q(
      `UPDATE bank_payouts SET cash_request = NULL, settled_currency = NULL, settled_amount = NULL, reason = $4, updated_at = now()
        WHERE id = $1 AND status = 'instructed' AND cash_tx_id IS NULL AND settled_currency = $2 AND settled_amount = $3 RETURNING id`,
      id,
      settled.currency,
      settled.amount,
      reason,
    );
    return rows.length === 1;
  }

  /** `settled`: what the posted cash booking says, when it is not the stored one (found in the ledger). */
  async markFinal(id: bigint, cashTxId: string, settled?: { currency: string; amount: bigint }): Promise<boolean> {
    const rows = await this.sql.q(
      `UPDATE bank_payouts SET status = 'final', cash_tx_id = $2, final_at = now(), reason = NULL, updated_at = now(),
         settled_currency = COALESCE($3::varchar, settled_currency), settled_amount = COALESCE($4::numeric, settled_amount)
        WHERE id = $1 AND status = 'instructed' AND commit_tx_id IS NOT NULL RETURNING id`,
      id,
      cashTxId,
      settled?.currency ?? null,
      settled?.amount ?? null,
    );
    return rows.length === 1;
  }

  /**
   * `voidTxId`: the reserve's void, or the return's entry when the reserve had been committed. A
   * cash booking stored and never posted goes with it: the bank took nothing.
   */
  async markRejected(id: bigint, voidTxId: string | null, reason: string): Promise<boolean> {
    const rows = await this.sql.q(
      `UPDATE bank_payouts SET status = 'rejected', void_tx_id = $2, reason = $3, cash_request = NULL, settled_currency = NULL, settled_amount = NULL, updated_at = now()
        WHERE id = $1 AND status IN ('planned', 'instructed') AND cash_tx_id IS NULL RETURNING id`,
      id,
      voidTxId,
      reason,
    );
    return rows.length === 1;
  }

  /** A final payout's full return booked (`returnTxId`); false when it was not final (returned already). */
  async markReturned(id: bigint, returnTxId: string, reason: string, credited: { currency: string; amount: bigint }): Promise<boolean> {
    const rows = await this.sql.q(
      `UPDATE bank_payouts SET status = 'returned', return_tx_id = $2, returned_at = now(), reason = $3, returned_currency = $4, returned_amount = $5, updated_at = now()
        WHERE id = $1 AND status IN ('final', 'partially_paid') RETURNING id`,
      id,
      returnTxId,
      reason,
      credited.currency,
      credited.amount,
    );
    return rows.length === 1;
  }

  /**
   * The bank executed part of the instruction (an operator settled its debit, rail.ts): `txId` books
   * what it debited and gives the rest back to the seller. False when the payout was not instructed
   * with its reserve committed and no cash booked (another outcome got there first).
   */
  async markPartiallyPaid(id: bigint, txId: string, settled: { currency: string; amount: bigint }, paidAmount: bigint, reason: string): Promise<boolean> {
    const rows = await this.sql.q(
      `UPDATE bank_payouts SET status = 'partially_paid', cash_tx_id = $2, final_at = now(), settled_currency = $3, settled_amount = $4, paid_amount = $5, reason = $6,
         cash_request = NULL, updated_at = now()
        WHERE id = $1 AND status = 'instructed' AND commit_tx_id IS NOT NULL AND cash_tx_id IS NULL RETURNING id`,
      id,
      txId,
      settled.currency,
      settled.amount,
      paidAmount,
      reason,
    );
    return rows.length === 1;
  }

  /**
   * An instructed payout the bank never executed, cancelled by an operator (its reserve voided in
   * `voidTxId`). False when the bank's debit was taken meanwhile (the reserve committed, or a cash
   * booking stored) or the payout left `instructed`.
   */
  async markCancelled(id: bigint, voidTxId: string, reason: string): Promise<boolean> {
    const rows = await this.sql.q(
      `UPDATE bank_payouts SET status = 'cancelled', void_tx_id = $2, reason = $3, updated_at = now()
        WHERE id = $1 AND status = 'instructed' AND commit_tx_id IS NULL AND cash_request IS NULL AND cash_tx_id IS NULL RETURNING id`,
      id,
      voidTxId,
      reason,
    );
    return rows.length === 1;
  }

  async setReason(id: bigint, reason: string): Promise<void> {
    await this.sql.q(`UPDATE bank_payouts SET reason = $2, updated_at = now() WHERE id = $1`, id, reason);
  }
}
