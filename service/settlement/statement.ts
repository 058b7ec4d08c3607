/**
 * A seller's statement for a period, by effective instant: for each of the seller's ledger accounts
 * (held, reserve, available, in each currency it holds), the opening balance, every posting with
 * what it was (a capture, a refund, a release, a payout...) and the balance after it, and the closing
 * balance. Read from the ledger alone: opening + lines = closing = the balance before `to`.
 */
import { settlementFactsOf, type SettlementFacts } from "../anchoring/leaf.js";
import { isAppError } from "../errors.js";
import { LedgerErrors, ORIGINAL_EFFECTIVE_AT } from "../ledger/index.js";
import type { AccountStatement, Ledger } from "../ledger/types.js";
import type { Seller, TaxCollector } from "./types.js";

export interface SellerStatement {
  seller: Seller;
  from: Date;
  to: Date;
  accounts: Array<Omit<AccountStatement, "lines"> & { lines: Array<AccountStatement["lines"][number] & { what: string; evidence: LineEvidence }> }>;
}

/**
 * What a seller needs beside a line's net amount to reconcile it, read from the line's journal
 * transaction (what was anchored with it): a settlement event's figures (its amount in the buyer's
 * currency and each fee it charged, in the fee currency), every rate it converted at, and a vault
 * payout's stablecoin amount and rate.
 */
export interface LineEvidence {
  event: SettlementFacts | null;
  /** Each conversion of the transaction: the pair (`EUR-USD`), the rate, and the FX quote when one was used. */
  rates: Array<{ pair: string; rate: string; quoteId: string | null }>;
  /** A vault payout: the token's base units sent, and the quote's rate (payout currency to USD). */
  token: { amount: string; rate: string | null; quoteId: string | null } | null;
}

const FX_RATE_KEY = /^fx\.([A-Z0-9]{3,12}-[A-Z0-9]{3,12})(?:\.[0-9]+)?\.rate$/;

export function lineEvidence(metadata: Record<string, string>): LineEvidence {
  let event: SettlementFacts | null = null;
  try {
    event = settlementFactsOf(metadata);
  } catch {
    // A malformed figure is the anchored leaf's refusal to make; a statement line shows none.
  }
  const rates: LineEvidence["rates"] = [];
  for (const [key, rate] of Object.entries(metadata)) {
    const m = FX_RATE_KEY.exec(key);
    if (m !== null) rates.push({ pair: m[1]!, rate, quoteId: metadata[key.replace(/rate$/, "quoteId")] ?? null });
  }
  const token = metadata["tokenAmount"] === undefined ? null : { amount: metadata["tokenAmount"], rate: metadata["fxRate"] ?? null, quoteId: metadata["fxQuoteId"] ?? null };
  return { event, rates, token };
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
    statements.push({ ...s, lines: s.lines.map((l) => ({ ...l, what: lineKind(l.metadata, l.transactionKind), evidence: lineEvidence(l.metadata) })) });
  }
  return { seller, from: period.from, to: period.to, accounts: statements };
}

/** The tax-payable account a return reads: a state tax's is named by its region. */
export function taxReturnAccount(r: { market: string; region?: string; scheme: string }): string {
  return `tax:${r.region ?? r.market}:${r.scheme}:payable`;
}

/** A tax's base beside its tax: buyer-currency minor units, signed as the tax (+ collected, - given back). */
export interface TaxReturnBase {
  /** What the rate applied to: net of the tax; for a tax on a base that contains it (Brazil's ICMS), with it. */
  taxableBase: bigint;
  /** The part of the gross outside the base that is no tax: a separately stated shipping the rule does not tax. */
  nonTaxable: bigint;
  /** The order's other taxes in the gross, outside this base (ICMS, on the national import tax's line). */
  otherTaxes: bigint;
  /** A fixed amount taken off the tax, not in the gross (Brazil's USD 20 above USD 50). */
  deduction: bigint;
}

/** Totals of the lines' bases; null when a line of the group has none recorded (never a partial sum). */
export type TaxReturnBaseTotal = { [K in keyof TaxReturnBase]: bigint | null };

/**
 * A tax return for a period, by effective instant: every posting of a tax-payable account
 * (`tax:<market>:<scheme>:payable`) with the order behind it. Collected tax (credits) and tax given
 * back (refunds, chargebacks: debits) sum to the account's movement, so the return equals the
 * tax-payable postings by construction: opening + net = closing. Beside each tax, its base as
 * booked with the event (journal metadata `tax.taxableBase`... and `tax.state.*` for a state tax):
 * never recomputed with today's rules or rates; a posting without it says why (`baseMissing`).
 *
 * A scheme the platform does not collect (the seller's own VAT, customs at import) books no tax
 * posting, so its return lists the sales booked under its rules instead, each with a tax of 0 and the
 * party liable (`collectedBy`): the record of the supplies the platform facilitated (EU VAT Directive
 * art. 242a), read from the journal by the rule each event was booked under.
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
  /** The bases of the lines that collected (tax > 0), that gave back (tax < 0, as positive figures like `refunded`), and their net. */
  bases: { collected: TaxReturnBaseTotal; refunded: TaxReturnBaseTotal; net: TaxReturnBaseTotal };
  /** How many lines have no base recorded (each says why). */
  linesWithoutBase: number;
  /**
   * The lines grouped by the rate their tax was computed at, ascending (a return is filed per rate:
   * IOSS per member state and rate): the tax collected and given back at that rate and the bases of
   * those lines, as `bases`. The rules behind a rate are listed (a rule's later version at the same
   * rate groups with it); lines with no rule recorded are a group of their own, `rateBps` null.
   */
  byRate: Array<{ rateBps: number | null; ruleIds: string[]; lines: number; collected: bigint; refunded: bigint; bases: TaxReturn["bases"] }>;
  lines: Array<
    {
      transactionId: string;
      effectiveAt: Date;
      /**
       * A line booked after its period was closed is effective at the close instant: the instant it
       * belongs to (the journal's `originalEffectiveAt`), so a filer sees which period it corrects;
       * null when it was booked in its own period.
       */
      originalEffectiveAt: Date | null;
      what: string;
      settlementId: string | null;
      gatewayEventId: string | null;
      /** The event's gross in the market currency (captures, refunds, chargebacks), signed as its tax and base: negative where it gives back; null otherwise. */
      gross: bigint | null;
      /** Signed: + collected, - given back. */
      tax: bigint;
      /** Why the base figures are null (they are all null or none is). */
      baseMissing: string | null;
      /** The tax rule the event was booked under (journal metadata `tax.ruleId`, `tax.state.ruleId`); null for a posting of no settlement event. */
      ruleId: string | null;
      /** That rule's rate, basis points: as booked for a state tax (`tax.state.rateBps`), else the rule's (rules are immutable versions); null without a rule. */
      rateBps: number | null;
      /** Who is liable for the tax of this line: "marketplace" for a tax-payable posting, the rule's party ("seller", "none") for a sale whose tax the platform does not collect. */
      collectedBy: TaxCollector | null;
      /** The seller of the order, where the goods shipped from (ISO 3166-1 alpha-2, as booked) and to (the capture's `shipToRegion`, else the market). */
      sellerId: string | null;
      shipFrom: string | null;
      shipTo: string | null;
    } & { [K in keyof TaxReturnBase]: bigint | null }
  >;
}

const BASE_KEYS = ["taxableBase", "nonTaxable", "otherTaxes", "deduction"] as const satisfies ReadonlyArray<keyof TaxReturnBase>;
/** The journal metadata key of each figure under its prefix (plan.ts taxBaseMetadata). */
const BASE_METADATA: Record<keyof TaxReturnBase, string> = { taxableBase: "taxableBase", nonTaxable: "nonTaxable", otherTaxes: "otherTaxes", deduction: "deducted" };
/** The events whose tax bases are the share they moved: given back (a chargeback reversal's share is negative, so it collects). */
const FOLLOW_UPS: ReadonlySet<string> = new Set(["refund", "chargeback", "chargeback_reversal"]);

/**
 * The base of one tax posting from its transaction's metadata, signed as the posting: a capture's
 * as booked, a follow-up's (the share it gave back) negated, and a ledger reversal (which carries
 * its original's metadata) the other way again. Null with the reason where nothing was recorded.
 */
export function taxPostingBase(metadata: Record<string, string>, transactionKind: string, state: boolean): { base: TaxReturnBase | null; missing: string | null } {
  const prefix = state ? "tax.state" : "tax";
  const event = metadata["eventType"];
  if (metadata["tax.ruleId"] === undefined || event === undefined) return { base: null, missing: "not a settlement event: no tax base recorded" };
  if (event !== "capture" && !FOLLOW_UPS.has(event)) return { base: null, missing: `a ${event} moves no tax base` };
  // The base itself is always written; the other figures only when not zero (plan.ts taxBaseMetadata).
  const values = BASE_KEYS.map((k) => metadata[`${prefix}.${BASE_METADATA[k]}`] ?? (k === "taxableBase" ? undefined : "0"));
  if (values.some((v) => v === undefined || !/^-?[0-9]+$/.test(v))) {
    return { base: null, missing: `booked before tax bases were recorded: the transaction has no ${prefix}.taxableBase` };
  }
  const sign = baseSign(event, transactionKind);
  const [taxableBase, nonTaxable, otherTaxes, deduction] = values.map((v) => sign * BigInt(v!)) as [bigint, bigint, bigint, bigint];
  return { base: { taxableBase, nonTaxable, otherTaxes, deduction }, missing: null };
}

/** How an event's figures as booked sign on its tax line: a capture's as they are, a follow-up's negated, and a ledger reversal's the other way again. */
function baseSign(event: string, transactionKind: string): bigint {
  return (event === "capture" ? 1n : -1n) * (transactionKind === "reversal" ? -1n : 1n);
}

/**
 * The event's gross signed as its tax and base: the gross an event records is its amount, positive
 * whichever way the money went, so a refund's or chargeback's is negated (it gives back), a
 * chargeback reversal's kept (it collects again, as its base's negative share negated does), and a
 * ledger reversal's turned the other way.
 */
function signedGross(gross: string | undefined, event: string | undefined, transactionKind: string): bigint | null {
  if (gross === undefined || !/^-?[0-9]+$/.test(gross)) return null;
  const amount = BigInt(gross);
  if (event === undefined) return amount;
  const sign = event === "chargeback_reversal" ? 1n : FOLLOW_UPS.has(event) ? -1n : 1n;
  return sign * (transactionKind === "reversal" ? -1n : 1n) * amount;
}

function sumBases(lines: ReadonlyArray<{ [K in keyof TaxReturnBase]: bigint | null }>, sign: bigint): TaxReturnBaseTotal {
  const out = { taxableBase: 0n, nonTaxable: 0n, otherTaxes: 0n, deduction: 0n } as TaxReturnBaseTotal;
  for (const k of BASE_KEYS) {
    for (const l of lines) {
      const v = l[k];
      const cur = out[k];
      out[k] = v === null || cur === null ? null : cur + sign * v;
    }
  }
  return out;
}

/** What a return needs of a tax rule: its rate and who is liable. */
export type TaxRuleOf = (ruleId: string) => { rateBps: number; collectedBy: TaxCollector; region?: string; territory?: string } | null;

/** A settlement event's transaction under a rule the platform does not collect: a line of its return with a tax of 0. */
export interface UncollectedSale {
  transactionId: string;
  effectiveAt: Date;
  transactionKind: string;
  metadata: Record<string, string>;
}

/** The events a return lists as sales: what moves a base (a release or a fee adjustment moves none). */
export function isTaxedEvent(metadata: Record<string, string>): boolean {
  const event = metadata["eventType"];
  return event === "capture" || (event !== undefined && FOLLOW_UPS.has(event));
}

export async function taxReturn(
  ledger: Pick<Ledger, "statement">,
  input: { market: string; region?: string; scheme: string; currency: string; from: Date; to: Date },
  ruleOf: TaxRuleOf,
  uncollected: readonly UncollectedSale[] = [],
): Promise<TaxReturn> {
  const state = input.region !== undefined;
  const account = taxReturnAccount(input);
  const s = await statementOrEmpty(ledger, account, input);
  let collected = 0n;
  let refunded = 0n;
  // A posted line's tax is what the platform collected; a sale's is 0, and its rate the rule's (a state tax books 0 where no one collects at the sale).
  const line = (l: UncollectedSale, tax: bigint, posted: boolean): TaxReturn["lines"][number] => {
    const { base, missing } = taxPostingBase(l.metadata, l.transactionKind, state);
    const ruleId = l.metadata[state ? "tax.state.ruleId" : "tax.ruleId"] ?? null;
    const bookedRate = state ? l.metadata["tax.state.rateBps"] : undefined;
    const rule = ruleId === null ? null : ruleOf(ruleId);
    const collectedBy: TaxCollector | null = posted ? "marketplace" : (rule?.collectedBy ?? null);
    const rateBps = ruleId === null ? null : collectedBy === "marketplace" && bookedRate !== undefined && /^[0-9]+$/.test(bookedRate) ? Number(bookedRate) : (rule?.rateBps ?? null);
    const event = l.metadata["eventType"] !== undefined;
    return {
      transactionId: l.transactionId,
      effectiveAt: l.effectiveAt,
      originalEffectiveAt: originalEffectiveAt(l.metadata),
      what: lineKind(l.metadata, l.transactionKind),
      settlementId: l.metadata["settlementId"] ?? null,
      gatewayEventId: l.metadata["gatewayEventId"] ?? null,
      gross: signedGross(l.metadata["grossAmount"], l.metadata["eventType"], l.transactionKind),
      tax,
      taxableBase: base?.taxableBase ?? null,
      nonTaxable: base?.nonTaxable ?? null,
      otherTaxes: base?.otherTaxes ?? null,
      deduction: base?.deduction ?? null,
      baseMissing: missing,
      ruleId,
      rateBps,
      collectedBy,
      sellerId: l.metadata["sellerId"] ?? null,
      shipFrom: l.metadata["shipFrom"] ?? null,
      shipTo: event ? shipToOf(l.metadata, ruleOf) : null,
    };
  };
  const posted = s.lines
    .filter((l) => l.change !== 0n)
    .map((l) => {
      if (l.change > 0n) collected += l.change;
      else refunded -= l.change;
      return line(l, l.change, true);
    });
  const sales = uncollected.map((l) => line(l, 0n, false));
  const lines = sales.length === 0 ? posted : [...posted, ...sales].sort((a, b) => a.effectiveAt.getTime() - b.effectiveAt.getTime() || compareIds(a.transactionId, b.transactionId));
  return {
    market: input.market,
    ...(input.region === undefined ? {} : { region: input.region }),
    scheme: input.scheme,
    account,
    currency: input.currency,
    from: input.from,
    to: input.to,
    opening: s.opening,
    collected,
    refunded,
    closing: s.closing,
    bases: basesOf(lines),
    linesWithoutBase: lines.filter((l) => l.baseMissing !== null).length,
    byRate: byRate(lines),
    lines,
  };
}

/**
 * Where an event's goods shipped to: its `shipToRegion`; a follow-up names none of its own, but the
 * rules it was booked under were chosen by its capture's (a state tax's region, a territory's rule),
 * else the market's country.
 */
function shipToOf(metadata: Record<string, string>, ruleOf: TaxRuleOf): string | null {
  const state = metadata["tax.state.ruleId"];
  const national = metadata["tax.ruleId"];
  return metadata["shipToRegion"] ?? (state === undefined ? undefined : ruleOf(state)?.region) ?? (national === undefined ? undefined : ruleOf(national)?.territory) ?? metadata["market"] ?? null;
}

/** The tax-payable account's statement; an account never booked (a scheme nothing was collected under yet) reads as empty. */
async function statementOrEmpty(ledger: Pick<Ledger, "statement">, account: string, input: { currency: string; from: Date; to: Date }): Promise<Pick<AccountStatement, "opening" | "closing" | "lines">> {
  try {
    return await ledger.statement(account, input.currency, { from: input.from, to: input.to });
  } catch (e) {
    if (!isAppError(e) || e.code !== LedgerErrors.accountNotFound.code) throw e;
    return { opening: 0n, closing: 0n, lines: [] };
  }
}

/** Journal ids (decimal sequences) in sequence order. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function originalEffectiveAt(metadata: Record<string, string>): Date | null {
  const at = metadata[ORIGINAL_EFFECTIVE_AT];
  if (at === undefined) return null;
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? null : d;
}

function byRate(lines: TaxReturn["lines"]): TaxReturn["byRate"] {
  const groups = new Map<number | null, TaxReturn["lines"]>();
  for (const l of lines) groups.set(l.rateBps, [...(groups.get(l.rateBps) ?? []), l]);
  return [...groups.entries()]
    .sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : a - b))
    .map(([rateBps, group]) => ({
      rateBps,
      ruleIds: [...new Set(group.flatMap((l) => (l.ruleId === null ? [] : [l.ruleId])))].sort(),
      lines: group.length,
      collected: group.reduce((t, l) => (l.tax > 0n ? t + l.tax : t), 0n),
      refunded: group.reduce((t, l) => (l.tax < 0n ? t - l.tax : t), 0n),
      bases: basesOf(group),
    }));
}

/**
 * Whether a line collects (+1) or gives back (-1): its tax's sign, and a sale with no tax collected
 * (a scheme the platform does not collect) by its gross's, so its base counts on the side it would.
 */
function sideOf(l: TaxReturn["lines"][number]): -1 | 0 | 1 {
  const v = l.tax !== 0n ? l.tax : (l.gross ?? 0n);
  return v > 0n ? 1 : v < 0n ? -1 : 0;
}

function basesOf(lines: TaxReturn["lines"]): TaxReturn["bases"] {
  return {
    collected: sumBases(lines.filter((l) => sideOf(l) > 0), 1n),
    refunded: sumBases(lines.filter((l) => sideOf(l) < 0), -1n),
    net: sumBases(lines, 1n),
  };
}
