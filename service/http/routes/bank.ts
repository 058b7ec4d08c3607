/**
 * The bank rail (service/payouts/bank): sellers' bank accounts (admin sets, finance reads), a bank
 * payout run that writes one pain.001 to the outbox (admin), the payouts and files (finance read),
 * the bank's camt.054 applied (finance write; the worker also reads it from the inbox folder), and
 * the entries it did not apply, as a queue an operator resolves (finance read / write), settling a
 * partial debit by what the bank did, and an instructed payout the bank never executed cancelled
 * (finance write).
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { BANK_EXCEPTION_CODES, BANK_PAYOUT_STATUSES, HOLDER_NAME_RESULTS, BANK_SKIP_REASONS, CONFIRMATION_OUTCOMES, PayoutErrors, RESOLUTION_ACTIONS, type BankAccount, type BankException, type BankFile, type BankPayout, type BankRail } from "../../payouts/index.js";
import { TAGS } from "../plugins/docs.js";
import { bearer, Identifier, Int8Id, LimitQuery, problems } from "../schemas/common.js";
import { SettlesView, settlesView } from "./payouts.js";
import { actorOf } from "../auth/reach.js";
import { acceptXmlBodies, xmlBody, xmlBodyDocs } from "../xml-body.js";
import { isAppError } from "../../errors.js";
import { CashErrors } from "../../cash/index.js";

const TAG = TAGS.payouts;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const SellerParams = Type.Object({ id: Identifier });
const Id = Int8Id("^[0-9]{1,19}$", "Bank payout id, decimal");

const AccountFields = {
  holderName: Type.String({ minLength: 1, maxLength: 140, description: "The account holder's name, as the bank knows it: checked against the seller's registered name (`holderNameCheck`)" }),
  iban: Nullable(Type.String({ maxLength: 42, description: "IBAN (spaces allowed; check digits verified). Give this or `accountNumber`" })),
  accountNumber: Nullable(Type.String({ maxLength: 34, description: "Domestic account number where there is no IBAN (e.g. a mainland China account): 4 to 34 letters and digits, single hyphens between them, not all zeros" })),
  bic: Nullable(Type.String({ maxLength: 11, description: "Beneficiary bank's BIC (8 or 11 characters); its country code (characters 5-6) must be `country`, or the country whose IBANs `country` uses (FR for GF, GP, MQ, RE, YT, BL, MF, PM, NC, PF, TF, WF; GB for JE, GG, IM; FI for AX), or FR for MC, GB for IE: else 400 naming `bic`" })),
  clearingSystem: Nullable(Type.String({ maxLength: 5, description: "Clearing system code, e.g. `CNAPS` (with `clearingMember`)" })),
  clearingMember: Nullable(Type.String({ maxLength: 35, description: "The bank's member id in that system, e.g. a 12-digit CNAPS code" })),
  country: Type.String({
    pattern: "^[A-Z]{2}$",
    description:
      "ISO 3166 alpha-2 country of the account (an assigned code, or `XK` for Kosovo as the IBAN registry and BICs write it: `ZZ` or `UK` is 400 ENT_PAYOUT_INVALID_REQUEST naming `country`). With an `iban`, its first two letters, or a territory whose accounts carry that country's IBANs (an FR IBAN is an account in FR or GF, GP, MQ, RE, YT, BL, MF, PM, NC, PF, TF, WF; a GB IBAN in GB or JE, GG, IM; an FI IBAN in FI or AX): else 400 naming `country`",
  }),
};
/** The holder's structured address (ISO 20022 PostalAddress24 as the pain.001 writes it in Cdtr/PstlAdr, in this order). */
const ADDRESS_TEXT = "Latin letters, digits, spaces and ASCII punctuation (the Swift CBPR+ character set: a Chinese address in pinyin or English); else 400 ENT_PAYOUT_INVALID_REQUEST naming it";
const AddressFields = {
  streetName: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 70, description: `StrtNm (ISO 20022 Max70Text), e.g. \`Keji South 12th Road\`: ${ADDRESS_TEXT}` }))),
  buildingNumber: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 16, description: `BldgNb (Max16Text), e.g. \`18\`: ${ADDRESS_TEXT}` }))),
  postCode: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 16, description: `PstCd (Max16Text), e.g. \`518057\`: ${ADDRESS_TEXT}` }))),
  townName: Type.String({ minLength: 1, maxLength: 35, description: `TwnNm (Max35Text), required: the town or city, e.g. \`Shenzhen\`: ${ADDRESS_TEXT}` }),
  countrySubDivision: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 35, description: `CtrySubDvsn (Max35Text): the province or state, e.g. \`Guangdong\`: ${ADDRESS_TEXT}` }))),
  country: Type.Optional(Type.String({ pattern: "^[A-Z]{2}$", description: "Ctry: ISO 3166 alpha-2 country of the address (an assigned code, or `XK`, Kosovo); the account's `country` when left out" })),
};
const AddressBody = Type.Object(AddressFields, {
  additionalProperties: false,
  description:
    "The holder's postal address, structured, required: since November 2026 Swift CBPR+ no longer carries cross-border payments whose parties' addresses are unstructured only; the town and country at least go in their own elements. Written in the pain.001's Cdtr/PstlAdr (StrtNm, BldgNb, PstCd, TwnNm, CtrySubDvsn, Ctry). A missing address or town, a field too long or outside the character set is 400 naming it (`address`, `address.townName`, ...)",
});
const AddressView = Nullable(
  Type.Object(
    {
      streetName: Nullable(Type.String()),
      buildingNumber: Nullable(Type.String()),
      postCode: Nullable(Type.String()),
      townName: Type.String(),
      countrySubDivision: Nullable(Type.String()),
      country: Type.String(),
    },
    { description: "The holder's structured address (Cdtr/PstlAdr). Null: the account was set before addresses were required; bank runs skip the seller (`address_missing`) until it is set again with one" },
  ),
);

const AccountBody = Type.Object(
  {
    holderName: AccountFields.holderName,
    iban: Type.Optional(AccountFields.iban),
    accountNumber: Type.Optional(AccountFields.accountNumber),
    bic: Type.Optional(AccountFields.bic),
    clearingSystem: Type.Optional(AccountFields.clearingSystem),
    clearingMember: Type.Optional(AccountFields.clearingMember),
    country: AccountFields.country,
    address: AddressBody,
    confirmReturnedAccount: Type.Optional(
      Type.Boolean({
        description:
          "`true`: the account the bank returned a payout from (the `hold` of GET, or any account whose last payout, this seller's or another's, was returned) was checked with the seller and may be paid again; it lifts the hold for this seller only (one account is one seller's: anyone given the account later is held again, unless the bank has paid a later payout to it since: booked final or partly paid after the return; one merely instructed lifts nothing). Without it, setting that same account again (the same IBAN or account number at the same bank, however written, whatever the holder's name) is 409 ENT_PAYOUT_BANK_ACCOUNT_HELD and the hold stays",
      }),
    ),
    confirmHolderName: Type.Optional(
      Type.Boolean({
        description:
          "`true`: the holder's name was checked to be this seller's account although it is not the seller's registered name (a `close_match` or `no_match`). Without it such a name is 409 ENT_PAYOUT_BANK_HOLDER_NAME_MISMATCH naming `holderName`, the seller's name and the result; stored as `holderNameCheck.confirmed`",
      }),
    ),
  },
  { additionalProperties: false },
);
export const BankAccountView = Type.Object({
  sellerId: Type.String(),
  ...AccountFields,
  address: AddressView,
  setAt: Type.String({ format: "date-time" }),
  setBy: Type.String(),
  holderNameCheck: Nullable(
    Type.Object(
      {
        result: Type.String({ enum: [...HOLDER_NAME_RESULTS], description: "The holder's name against the seller's registered name, as Verification of Payee compares them (README, the bank rail)" }),
        sellerName: Type.String({ description: "The seller's registered name it was compared with, when the account was set" }),
        confirmed: Type.Boolean({ description: "A close_match or no_match the admin confirmed with `confirmHolderName`; false for a match" }),
        scriptMismatch: Type.Boolean({
          description: "The holder's name and the seller's registered name are written in different scripts (e.g. Chinese characters against Latin letters): no transliteration is attempted, so such names are never a match and `confirmHolderName` is what is expected once the account is checked",
        }),
      },
      { description: "Null: the account was set before the check existed, until it is set again" },
    ),
  ),
  sharedWith: Type.Array(Type.String(), {
    description: "Other sellers whose account on file is this same account (the same IBAN or account number at the same bank): only rows set before one account was one seller's can share; a new write of it is 409 ENT_PAYOUT_BANK_ACCOUNT_IN_USE. Bank runs pay none of them (skipped as bank_account_shared) until another account is set on all but one of them (or it is taken off them)",
  }),
  hold: Nullable(
    Type.Object(
      {
        payoutId: Type.String(),
        sellerId: Type.String({ description: "The seller the returned payout was for: another seller's when both had this account on file (rows set before one account was one seller's)" }),
        endToEndId: Type.String(),
        reason: Nullable(Type.String()),
      },
      {
        description:
          "The payout the bank returned from this account since it was set, whichever seller it paid (a return holds the account, not the seller): no bank payout runs for the seller (skipped as account_returned) until another account is set, or this one again with `confirmReturnedAccount: true`, or the bank pays a later payout to this account (booked final or partly paid after the return)",
      },
    ),
  ),
});

export const BankPayoutView = Type.Object({
  id: Type.String(),
  sellerId: Type.String(),
  currency: Type.String({ description: "The seller's payout currency: the transfer's instructed currency" }),
  amount: Type.String({ description: "Minor units of `currency`, taken from the seller's available balance" }),
  endToEndId: Type.String({
    description:
      "ISO 20022 EndToEndId (`ENT-BP-<tag>-<id>`, `<tag>`: 8 hex digits made once per database, so a new database never repeats an id a bank saw; payouts issued before the tag keep `ENT-BP-<id>`): the bank's confirmation is matched on it",
  }),
  status: Type.String({
    enum: [...BANK_PAYOUT_STATUSES],
    description:
      "planned, instructed (in a pain.001), final (the bank's debit booked), rejected (returned before final: the reserve back to the seller; or never instructed: its reserve refused by the ledger, or not filed because its seller was held when it came to be filed, `reason` saying which), returned (a full return after final, booked back to the seller in `ledger.returnTransactionId`), partially_paid (the bank executed part of it: an operator settled its debit, `paid` of `amount` booked in `ledger.cashTransactionId`, the rest back to the seller), cancelled (the bank never executed it: an operator cancelled it, the reserve voided in `ledger.voidTransactionId`)",
  }),
  fileId: Nullable(Type.String({ description: "The pain.001's MsgId (`ENT-<tag>-<yyyymmdd>-<n>`; files issued before the tag: `ENT-<yyyymmdd>-<n>`)" })),
  account: Type.Object({ ...AccountFields, address: AddressView }),
  settled: Nullable(Type.Object({ currency: Type.String(), amount: Type.String({ description: "What the bank debited the platform's account, minor units" }) })),
  returned: Nullable(Type.Object({ currency: Type.String(), amount: Type.String({ description: "A return after final: what the bank credited back (net of its charges), minor units" }) })),
  paid: Nullable(Type.Object({ currency: Type.String(), amount: Type.String({ description: "partially_paid: what the bank paid of `amount` (the payout's currency, minor units); the rest went back to the seller's available balance" }) })),
  ledger: Type.Object({
    pendingTransactionId: Nullable(Type.String()),
    commitTransactionId: Nullable(Type.String()),
    cashTransactionId: Nullable(Type.String()),
    voidTransactionId: Nullable(Type.String()),
    returnTransactionId: Nullable(Type.String({ description: "A return after final: its own journal transaction (the cash booking is never edited)" })),
  }),
  reason: Nullable(Type.String({ description: "Why it was rejected, returned, partly paid or cancelled, or why its booking waits" })),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
  finalAt: Nullable(Type.String({ format: "date-time" })),
  returnedAt: Nullable(Type.String({ format: "date-time", description: "When a return after final was booked" })),
});

const EntryView = Type.Object({
  side: Type.String({ enum: ["debit", "credit"] }),
  status: Type.String({ description: "Ntry/Sts: BOOK, PDNG, INFO" }),
  currency: Type.String(),
  amount: Type.String({ description: "Minor units of `currency`" }),
  instructed: Nullable(Type.Object({ currency: Type.String(), amount: Type.String() }, { description: "AmtDtls/InstdAmt: the instructed amount beside a converted one" })),
  reversal: Type.Boolean(),
  returnReason: Nullable(Type.String({ description: "RtrInf/Rsn (e.g. AC04, closed account)" })),
  bankReference: Nullable(Type.String({ description: "Ntry/AcctSvcrRef" })),
  bookingDate: Nullable(Type.String()),
});


const ExceptionCode = Type.String({
  enum: [...BANK_EXCEPTION_CODES],
  description:
    "Why it was not applied. unmatched: `no_end_to_end_id`, `unknown_end_to_end_id`; mismatch (not the instruction in full): `not_account_currency`, `no_instructed_amount`, `instructed_mismatch` (a debit of part of the instruction is settled by what the bank did: resolution `action: book_partial_debit`), `rate_out_of_range`, `debit_with_return_info`, `charges_mismatch` (a return's itemised charges not in the account's currency or not taken from its amount); exception (the payout's state does not take it): `returned_after_final` (a partial, stray or second credit after final: a full one is booked, `returned`), `returned_not_instructed`, `debited_not_instructed`, `debited_again` (a debit of a payout already final that is another bank entry, by Ntry/AcctSvcrRef, whatever its amount, or of another amount), `cash_refused` (retried on every tick, resolved by `system` once booked), `cash_cleared` (a stored booking that could never go through, dropped), `no_reference_rate` (a converted entry with nothing to hold its rate against: the fx position holds none of the currency owed and no mid rate is published at its booking date; never booked unchecked)",
});

const ExceptionView = Type.Object({
  id: Type.String(),
  payoutId: Nullable(Type.String({ description: "Null: the entry names no bank payout" })),
  endToEndId: Nullable(Type.String()),
  messageId: Nullable(Type.String({ description: "The camt.054's GrpHdr/MsgId; null when the worker found it (a cash booking cleared)" })),
  outcome: Type.String({ enum: ["unmatched", "mismatch", "exception"] }),
  code: ExceptionCode,
  detail: Type.String(),
  entry: Nullable(EntryView),
  receivedBy: Type.String({ description: "`api-key:<id>` (POST /v1/payouts/bank/confirmations), `inbox:<file>`, or `worker`" }),
  receivedAt: Type.String({ format: "date-time" }),
  status: Type.String({ enum: ["open", "resolved"] }),
  resolution: Nullable(
    Type.Object({
      note: Type.String(),
      resolvedBy: Type.String({ description: "`api-key:<id>` (or the console session's), or `system` when the rail overtook it" }),
      resolvedAt: Type.String({ format: "date-time" }),
      journalTransactionId: Nullable(Type.String({ description: "The journal transaction that settled it, as the resolver named it (`system`: the one the rail booked)" })),
      cashEntry: Nullable(Type.Object({ statementId: Type.String(), index: Type.Integer() }, { description: "The cash statement entry it answers (its adjusting entry, if any, is booked in the cash queue)" })),
    }),
  ),
});

const BankPayoutDetailView = Type.Object({
  ...BankPayoutView.properties,
  exceptions: Type.Array(ExceptionView, { description: "The bank's entries for this payout that were not applied (and cash bookings that could not be made), oldest first" }),
});

const FileView = Type.Object({
  id: Type.String({ description: "GrpHdr/MsgId (`ENT-<tag>-<yyyymmdd>-<n>`; files issued before the tag: `ENT-<yyyymmdd>-<n>`)" }),
  count: Type.Integer(),
  ctrlSum: Type.String({ description: "GrpHdr/CtrlSum: the instructed amounts summed, major units" }),
  createdBy: Type.String(),
  createdAt: Type.String({ format: "date-time" }),
  writtenAt: Nullable(Type.String({ format: "date-time", description: "When it reached the outbox folder" })),
});

const SkipView = Type.Object({
  sellerId: Type.String(),
  reason: Type.String({
    enum: [...BANK_SKIP_REASONS],
    description: "no_seller, in_flight (a payout planned or instructed), bank_account_shared (the account on file is also another seller's, `sharedWith`: rows set before one account was one seller's; money for one would reach the other's holder, so none of them is paid until an admin sets another account on all but one of them, or takes it off), account_returned (the bank returned a payout from the account on file since it was set, this seller's or another's that had the same account, named in `detail`: set another account, or this one again with `confirmReturnedAccount: true` once it is checked, to resume), address_missing (the account on file was set before addresses were required: the bank would refuse a cross-border transfer without the beneficiary's town and country; PUT the account again with its `address` to resume), account_changed (a payout planned before, by an interrupted run or an older version, to an account that is no longer the seller's account on file: not filed, its reserve released; the next run pays the account on file; a planned payout failing any of these holds is not filed either, `rejected` while planned with the reason), no_account (no available balance account yet), below_minimum, reserve_refused",
  }),
  detail: Type.Optional(Type.String()),
  sharedWith: Type.Optional(Type.Array(Type.String(), { description: "bank_account_shared: the other sellers whose account on file is this same account" })),
});
const ResultView = Type.Object({
  endToEndId: Nullable(Type.String()),
  payoutId: Nullable(Type.String()),
  outcome: Type.String({ enum: [...CONFIRMATION_OUTCOMES] }),
  code: Type.Optional(ExceptionCode),
  detail: Type.Optional(Type.String()),
  exceptionId: Type.Optional(Type.String({ description: "The exception recorded for an entry not applied (unmatched, mismatch, exception): GET /v1/payouts/bank/exceptions" })),
  entry: EntryView,
});

const ExceptionQuery = Type.Object(
  {
    status: Type.Optional(Type.String({ enum: ["open", "resolved"] })),
    payoutId: Type.Optional(Int8Id("^[0-9]{1,19}$", "Only this bank payout's")),
    limit: Type.Optional(LimitQuery),
    cursor: Type.Optional(Int8Id("^[0-9]{1,19}$", "nextCursor of the previous page")),
  },
  { additionalProperties: false },
);
const ResolutionBody = Type.Object(
  {
    note: Type.String({ minLength: 1, maxLength: 2000, description: "What was done (e.g. the return booked by hand, the bank's answer)" }),
    journalTransactionId: Type.Optional(Int8Id("^[0-9]{1,19}$", "The journal transaction that settled it (e.g. the cash queue's adjusting entry): it must exist")),
    cashEntry: Type.Optional(
      Type.Object(
        { statementId: Int8Id("^[0-9]{1,19}$", "The imported bank statement's id (GET /v1/cash/statements)"), index: Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: "The entry's index in it" }) },
        { additionalProperties: false, description: "The cash statement entry it answers (POST /v1/cash/statements/:id/entries/:index/resolution books an adjusting entry): it must exist" },
      ),
    ),
    action: Type.Optional(
      Type.String({
        enum: [...RESOLUTION_ACTIONS],
        description:
          "`book_partial_debit`: settle an `instructed_mismatch` debit by what the bank did (it executed part of the instruction): the bank's debit is booked for the part paid and the rest goes back to the seller's available balance, the payout becomes `partially_paid`, and the resolution names the journal transaction booked. `book_return`: book a `returned_after_final` credit of a partially paid payout that gives back the part paid (InstdAmt the part paid; converted, within 10% of what the bank debited for it) as a full return after final is booked: the seller gets the part paid back, the payout becomes `returned`, and the resolution names the journal transaction booked. Not with `journalTransactionId` or `cashEntry`",
      }),
    ),
  },
  { additionalProperties: false },
);
const CancellationBody = Type.Object(
  { note: Type.String({ minLength: 1, maxLength: 2000, description: "Why it is cancelled (e.g. the bank's refusal, who said it and when)" }) },
  { additionalProperties: false },
);

const ListQuery = Type.Object(
  {
    sellerId: Type.Optional(Identifier),
    status: Type.Optional(Type.String({ enum: [...BANK_PAYOUT_STATUSES] })),
    fileId: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9-]{1,35}$" })),
    limit: Type.Optional(LimitQuery),
    cursor: Type.Optional(Int8Id("^[0-9]{1,19}$", "nextCursor of the previous page")),
  },
  { additionalProperties: false },
);

function accountView(a: BankAccount, hold: { payoutId: bigint; sellerId: string; endToEndId: string; reason: string | null } | null, sharedWith: string[]): Static<typeof BankAccountView> {
  return { ...a, address: a.address ?? null, setAt: a.setAt.toISOString(), sharedWith, hold: hold === null ? null : { ...hold, payoutId: hold.payoutId.toString() } };
}

function payoutView(p: BankPayout): Static<typeof BankPayoutView> {
  return {
    id: p.id.toString(),
    sellerId: p.sellerId,
    currency: p.currency,
    amount: p.amount.toString(),
    endToEndId: p.endToEndId,
    status: p.status,
    fileId: p.fileId,
    account: { ...p.account, address: p.account.address ?? null },
    settled: p.settledCurrency === null || p.settledAmount === null ? null : { currency: p.settledCurrency, amount: p.settledAmount.toString() },
    returned: p.returned === null ? null : { currency: p.returned.currency, amount: p.returned.amount.toString() },
    paid: p.paidAmount === null ? null : { currency: p.currency, amount: p.paidAmount.toString() },
    ledger: { pendingTransactionId: p.pendingTxId, commitTransactionId: p.commitTxId, cashTransactionId: p.cashTxId, voidTransactionId: p.voidTxId, returnTransactionId: p.returnTxId },
    reason: p.reason,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    finalAt: p.finalAt?.toISOString() ?? null,
    returnedAt: p.returnedAt?.toISOString() ?? null,
  };
}

function exceptionView(x: BankException): Static<typeof ExceptionView> {
  return {
    id: x.id.toString(),
    payoutId: x.payoutId?.toString() ?? null,
    endToEndId: x.endToEndId,
    messageId: x.messageId,
    outcome: x.outcome,
    code: x.code,
    detail: x.detail,
    entry: x.entry,
    receivedBy: x.receivedBy,
    receivedAt: x.createdAt.toISOString(),
    status: x.status,
    resolution:
      x.resolution === null
        ? null
        : { note: x.resolution.note, resolvedBy: x.resolution.resolvedBy, resolvedAt: x.resolution.resolvedAt.toISOString(), journalTransactionId: x.resolution.journalTransactionId, cashEntry: x.resolution.cashEntry },
  };
}

function fileView(f: BankFile): Static<typeof FileView> {
  return { id: f.id, count: f.count, ctrlSum: f.ctrlSum, createdBy: f.createdBy, createdAt: f.createdAt.toISOString(), writtenAt: f.writtenAt?.toISOString() ?? null };
}


export async function bankRoutes(app: FastifyInstance): Promise<void> {
  const rail = (): BankRail => {
    const b = app.services.bank;
    if (b === undefined) throw PayoutErrors.unavailable("the bank rail is not configured on this server");
    return b;
  };
  const read = { auth: { scopes: ["finance:read" as const] } };
  const write = { auth: { scopes: ["finance:write" as const] } };
  const admin = { auth: { scopes: ["admin" as const] } };

  acceptXmlBodies(app);

  app.put("/v1/sellers/:id/bank-account", {
    config: admin,
    schema: {
      tags: [TAG],
      summary: "Put a seller on the bank rail",
      description:
        "The account the seller is paid to by ISO 20022 credit transfer, in its payout currency (a CNY seller gets CNY into a mainland account through the platform's bank or licensed provider; no stablecoin). A seller with a bank account is no longer paid through the vault. Exactly one of `iban` (check digits verified) and `accountNumber`; the bank by `bic` or by `clearingSystem` + `clearingMember` (e.g. CNAPS). A bad field is 400 ENT_PAYOUT_INVALID_REQUEST naming it. An account the bank returned a payout from (`hold`: its latest return, whichever seller it was for, a return holding the account, not the seller, until the bank pays a later payout to it: booked final or partly paid after the return) stays held when it is set again, on this seller or any other: the same account (the same IBAN or account number, spaces, hyphens, dots and case aside, at the same bank: the BIC's first 6 characters when both have a BIC, else the bank behind the clearing member whichever branch's code it is (a CNAPS code's first 3 digits, a Hong Kong bank code), else, when nothing tells two banks apart, the country; whatever the holder's name; also after the account was removed) is 409 ENT_PAYOUT_BANK_ACCOUNT_HELD naming the returned payout (`details.hold`, with the `sellerId` it was for) unless `confirmReturnedAccount` is `true` (which lifts it for this seller only); another account lifts the hold. The details on file sent again unconfirmed change nothing (`setAt` stays). One account, one seller: an account on file for another seller (the same account, as for the hold) is 409 ENT_PAYOUT_BANK_ACCOUNT_IN_USE naming the field (`iban` or `accountNumber`) and the other seller (`details.sellerId`); two sellers given it at once cannot both have it. `country` must be the IBAN's and the BIC's country (or a territory using them): else 400 naming `country` or `bic`. The holder's name is compared with the seller's registered name (`match`, `close_match`, `no_match`, rule in the README's bank rail section); anything but a `match` without `confirmHolderName: true` is 409 ENT_PAYOUT_BANK_HOLDER_NAME_MISMATCH naming `holderName` (`details`: `holderName`, `sellerName`, `result`, `scriptMismatch`: `true` when the two names are in different scripts, e.g. 深圳市小工具有限公司 against Shenzhen Gadget Works, which never match since nothing is transliterated, so the confirmation is expected there); the result is stored (`holderNameCheck`). `address` is required: the holder's structured postal address (at least `townName`; `country` defaults to the account's), in the Swift CBPR+ character set and the ISO 20022 lengths, else 400 naming the field; an account stored before addresses were required is skipped by bank runs (`address_missing`) until it is set again with one.",
      security: bearer,
      params: SellerParams,
      body: AccountBody,
      response: { 200: BankAccountView, ...problems(400, 401, 403, 404, 409, 429, 503) },
    },
  }, async (request) => {
    const { id } = request.params as Static<typeof SellerParams>;
    const { confirmReturnedAccount, confirmHolderName, ...account } = request.body as Static<typeof AccountBody>;
    const bank = rail();
    const set = await bank.setAccount(id, account, actorOf(request.principal), {
      ...(confirmReturnedAccount === undefined ? {} : { confirmReturnedAccount }),
      ...(confirmHolderName === undefined ? {} : { confirmHolderName }),
    });
    return accountView(set, await bank.accountHold(id), await bank.accountSharedWith(id));
  });

  app.get("/v1/sellers/:id/bank-account", {
    config: read,
    schema: { tags: [TAG], summary: "Get a seller's bank account", security: bearer, params: SellerParams, response: { 200: BankAccountView, ...problems(400, 401, 403, 404, 429, 503) } },
  }, async (request) => {
    const { id } = request.params as Static<typeof SellerParams>;
    return accountView(await rail().account(id), await rail().accountHold(id), await rail().accountSharedWith(id));
  });

  app.delete("/v1/sellers/:id/bank-account", {
    config: admin,
    schema: {
      tags: [TAG],
      summary: "Take a seller off the bank rail (back to the vault)",
      description: "Payouts already instructed go on to their end.",
      security: bearer,
      params: SellerParams,
      response: { 204: Type.Null(), ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (request, reply) => {
    await rail().removeAccount((request.params as Static<typeof SellerParams>).id);
    return reply.status(204).send();
  });

  app.post("/v1/payouts/bank/runs", {
    config: admin,
    schema: {
      tags: [TAG],
      summary: "Run bank payouts now: one pain.001 in the outbox",
      description:
        "For each seller with a bank account, no bank payout in flight and an available balance of at least PAYOUT_MIN_AMOUNT: the whole available balance is reserved in the ledger (pending `seller:<id>:available` -> `platform:payouts:in_transit`) and instructed in one pain.001.001.10 file, written to BANK_OUTBOX_DIR as `<MsgId>.xml`: each transfer with the seller's structured address (Cdtr/PstlAdr: StrtNm, BldgNb, PstCd, TwnNm, CtrySubDvsn, Ctry), the platform's (Dbtr/PstlAdr, BANK_ACCOUNT_TOWN etc.), its purpose (Purp/Cd, BANK_PURPOSE_CODE, default GDDS), the regulatory reporting configured for mainland China (RgltryRptg, BANK_REGULATORY_REPORTING_CN, on transfers to CN beneficiaries only) and the ultimate debtor (UltmtDbtr, BANK_ULTIMATE_DEBTOR_NAME) when set. A seller whose account was set before addresses were required is skipped (`address_missing`); so is each seller whose account on file is also another seller's (`bank_account_shared`, naming them in `sharedWith`: rows set before one account was one seller's) until an admin sets another account on all but one of them. `file` is null when nobody was due. Another run in progress (any instance) is ENT_PAYOUT_PLANNER_BUSY. A run holds a short lease (6 s) that it renews every 2 s while it works, so a run whose instance died is taken over within seconds by the next; a run that lost its lease stops before its next write, 409 ENT_PAYOUT_PLANNER_LEASE_LOST (what it planned is reserved and filed once, by the worker's next tick after the lease ends or by the next run).",
      security: bearer,
      response: { 201: Type.Object({ file: Nullable(FileView), payouts: Type.Array(BankPayoutView), skipped: Type.Array(SkipView) }), ...problems(401, 403, 409, 429, 503) },
    },
  }, async (request, reply) => {
    const r = await rail().run(actorOf(request.principal));
    return reply.status(201).send({ file: r.file === null ? null : fileView(r.file), payouts: r.payouts.map(payoutView), skipped: r.skipped });
  });

  app.post("/v1/payouts/bank/confirmations", {
    config: { ...write, swaggerTransform: xmlBodyDocs("camt.054 XML") },
    schema: {
      tags: [TAG],
      summary: "Apply the bank's camt.054 notification",
      description:
        "Body: a camt.054 (.001.02 to .001.13) as `application/xml`, e.g. the bank's debit notification for a pain.001 (the worker applies files dropped in BANK_INBOX_DIR the same way). It must be for the platform's account (BANK_ACCOUNT_IBAN or BANK_ACCOUNT_NUMBER, in BANK_ACCOUNT_CURRENCY when Acct/Ccy is given), else 422 ENT_PAYOUT_BANK_NOTIFICATION_ACCOUNT naming `Ntfctn/Acct/Id` or `Ntfctn/Acct/Ccy` and nothing is applied. Each transaction is matched on its EndToEndId and must be the instruction in full: in the account's currency, of the instructed amount (AmtDtls/InstdAmt beside a converted amount, within 10% of what the currency was booked at). A booked debit makes the payout `final` (the reserve committed, `platform:cash:bank` credited with what the bank debited; a conversion by the bank realises FX against the fx:<currency>-USD position at the mid rate of the booking instant, the bank's debit beyond the mid value booked as its spread to `platform:expense:fx_conversion`; no mid rate in force: all of it realised, `midMissing` in the booking's metadata); a full return (a credit, or a reversal; RtrInf gives the reason) makes it `rejected` (the money is available again). A full return after final (days later, e.g. AC04 closed account) makes it `returned`: a correcting journal transaction of its own books the credited cash and gives the seller the instructed amount back in `available` (outcome `returned`). A return credited net of the bank's charges is full when the charges are itemised (TxDtls/Chrgs/Rcrd/Amt, in the account's currency) and the amount plus the charges is the instructed amount (AmtDtls/InstdAmt): the seller gets the instructed amount, the charges are booked to `platform:expense:bank_charges`. A partial or stray credit (also after final), charges not itemised or not adding up, another amount or currency, an unknown id, a debit of a payout not instructed or a second debit of a final one (another bank entry, Ntry/AcctSvcrRef, whatever its amount) is reported (`mismatch`, `unmatched`, `exception`, with a `code`), never booked, and recorded as an exception (`exceptionId`; GET /v1/payouts/bank/exceptions). Applying the same file again changes nothing and records nothing new; so does the debit a payout was booked final with, sent again in another notification (the same Ntry/AcctSvcrRef, or, when either has none, the same amount). The document is decoded as its BOM, XML declaration or Content-Type charset say. Not a camt.054: 422 ENT_PAYOUT_BANK_STATEMENT_INVALID.",
      security: bearer,
      consumes: ["application/xml"],
      response: { 200: Type.Object({ messageId: Type.String(), version: Type.String(), results: Type.Array(ResultView) }), ...problems(400, 401, 403, 413, 415, 422, 429, 503) },
    },
  }, async (request) => {
    const { bytes, options } = xmlBody(request, "camt.054");
    return rail().confirm(bytes, { ...options, by: actorOf(request.principal) });
  });

  app.get("/v1/payouts/bank/exceptions", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "The bank's entries that were not applied, newest first",
      description:
        "Every camt.054 entry the bank rail did not apply (from the API or the inbox folder) and every cash booking the worker had to clear: its outcome and `code`, the detail, the entry as the bank reported it, who sent it and when, open until resolved. `open`: how many are open in all. Filters `status`, `payoutId`; cursor pagination (`nextCursor`).",
      security: bearer,
      querystring: ExceptionQuery,
      response: { 200: Type.Object({ items: Type.Array(ExceptionView), open: Type.Integer(), nextCursor: Nullable(Type.String()) }), ...problems(400, 401, 403, 429, 503) },
    },
  }, async (request) => {
    const q = request.query as Static<typeof ExceptionQuery>;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    const { items, open } = await rail().exceptions({
      ...(q.status === undefined ? {} : { status: q.status as "open" | "resolved" }),
      ...(q.payoutId === undefined ? {} : { payoutId: BigInt(q.payoutId) }),
      ...(q.cursor === undefined ? {} : { before: BigInt(q.cursor) }),
      limit,
    });
    return { items: items.map(exceptionView), open, nextCursor: items.length === limit ? items[items.length - 1]!.id.toString() : null };
  });

  app.post("/v1/payouts/bank/exceptions/:id/resolution", {
    config: write,
    schema: {
      tags: [TAG],
      summary: "Resolve a bank notification exception with a note",
      description:
        "Closes it once (201), recording who and when; the same note and references again answer 200 with the same resolution, others 409 ENT_PAYOUT_BANK_EXCEPTION_CONFLICT; an unknown id 404 ENT_PAYOUT_BANK_EXCEPTION_NOT_FOUND. With a note alone nothing is booked: money the item calls for (a return after final) is booked by the operator (in the cash queue, POST /v1/cash/statements/:id/entries/:index/resolution, or the ledger), and the resolution names it: `journalTransactionId` and/or `cashEntry`, each of which must exist (else 400 ENT_PAYOUT_INVALID_REQUEST naming it). " +
        "`action: \"book_partial_debit\"` settles an `instructed_mismatch` exception by what the bank did when its booked debit paid part of the instruction (AmtDtls/InstdAmt, in the payout's currency, above 0 and below the instructed amount; unconverted, the amount debited; converted, within 10% of what that part was booked at, as a full debit must be): the reserve is committed and one journal transaction (under the cash booking's key, so a full debit or a return can no longer book) credits `platform:cash:bank` with what the bank debited (FX through fx:<currency>-USD as a full debit's), takes the part paid out of `platform:payouts:in_transit` and gives the rest back to `seller:<id>:available`; the payout becomes `partially_paid` (`paid`, announced as `bank_payout.partially_paid`), the exception is resolved naming that transaction, and the next run pays the rest. An exception resolved before by a note alone (nothing booked) may still be settled so: its resolution keeps its note and now names the transaction (the request's note is in its metadata). The same request again answers 200. Refused: 422 ENT_PAYOUT_BANK_PARTIAL_NOT_APPLICABLE (another code, not a booked debit, another currency, no InstdAmt, a rate far from the booked one), 422 ENT_PAYOUT_BANK_PARTIAL_AMOUNT (nothing paid, or not below the instruction), 409 ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN (the payout is at its outcome already: final, partially paid, rejected, returned, cancelled), 409 ENT_PAYOUT_BANK_PAYOUT_DEBITED (another debit of the bank is recorded for it, its cash booking waiting, or another booked debit of the bank, another entry, is reported for it in an exception, open or resolved by a note), 400 with `journalTransactionId` or `cashEntry`. `action: \"book_return\"` books a `returned_after_final` exception of a partially paid payout when the bank's booked credit (or reversal) gives back the part paid (InstdAmt: `paid`, in the payout's currency; unconverted, the amount credited; converted, within 10% of what the bank debited for it): one journal transaction under `bankpayout:<id>:returned`, as a full return after final (`platform:cash:bank` debited with what the bank credited, the part paid back in `seller:<id>:available`, FX through fx:<currency>-USD), the payout `returned` (keeping `paid`; announced as `bank_payout.returned`), the exception resolved naming it (a note-only resolution keeps its note and names it); the same request again answers 200. Refused: 422 ENT_PAYOUT_BANK_PARTIAL_NOT_APPLICABLE (another code, not a booked credit, not the part paid, a rate far from the debit), 409 ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN (the payout is not partially paid).",
      security: bearer,
      params: Type.Object({ id: Id }),
      body: ResolutionBody,
      response: { 200: ExceptionView, 201: ExceptionView, ...problems(400, 401, 403, 404, 409, 429, 503) },
    },
  }, async (request, reply) => {
    const { note, journalTransactionId, cashEntry, action } = request.body as Static<typeof ResolutionBody>;
    const cash = app.services.cash;
    const cashEntryExists = async (statementId: bigint, index: number) => {
      try {
        return (await cash.get(statementId)).entries.some((e) => e.index === index);
      } catch (e) {
        if (isAppError(e) && e.code === CashErrors.statementNotFound.code) return false;
        throw e;
      }
    };
    const r = await rail().resolveException(
      BigInt((request.params as { id: string }).id),
      {
        note,
        ...(journalTransactionId === undefined ? {} : { journalTransactionId }),
        ...(cashEntry === undefined ? {} : { cashEntry }),
        ...(action === undefined ? {} : { action: action as (typeof RESOLUTION_ACTIONS)[number] }),
      },
      actorOf(request.principal),
      cashEntryExists,
    );
    return reply.status(r.status === "created" ? 201 : 200).send(exceptionView(r.exception));
  });

  app.get("/v1/payouts/bank/exceptions/:id", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Get one bank notification exception, with how it was resolved",
      description: "The entry not applied, its code and detail, who sent it and when; once resolved, by whom, when, the note and what it names (`journalTransactionId`, `cashEntry`). An unknown id is 404 ENT_PAYOUT_BANK_EXCEPTION_NOT_FOUND.",
      security: bearer,
      params: Type.Object({ id: Id }),
      response: { 200: ExceptionView, ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (request) => exceptionView(await rail().exception(BigInt((request.params as { id: string }).id))));

  app.get("/v1/payouts/bank", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "List bank payouts, newest first",
      description: "Filters `sellerId`, `status`, `fileId`; cursor pagination (`nextCursor`).",
      security: bearer,
      querystring: ListQuery,
      response: { 200: Type.Object({ items: Type.Array(BankPayoutView), nextCursor: Nullable(Type.String()) }), ...problems(400, 401, 403, 429, 503) },
    },
  }, async (request) => {
    const q = request.query as Static<typeof ListQuery>;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    const items = await rail().payouts({
      ...(q.sellerId === undefined ? {} : { sellerId: q.sellerId }),
      ...(q.status === undefined ? {} : { status: q.status as BankPayout["status"] }),
      ...(q.fileId === undefined ? {} : { fileId: q.fileId }),
      ...(q.cursor === undefined ? {} : { before: BigInt(q.cursor) }),
      limit,
    });
    return { items: items.map(payoutView), nextCursor: items.length === limit ? items[items.length - 1]!.id.toString() : null };
  });

  app.get("/v1/payouts/bank/:id", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Get one bank payout, with the bank's entries for it that were not applied",
      security: bearer,
      params: Type.Object({ id: Id }),
      response: { 200: BankPayoutDetailView, ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (request) => {
    const { payout, exceptions } = await rail().payoutWithExceptions(BigInt((request.params as { id: string }).id));
    return { ...payoutView(payout), exceptions: exceptions.map(exceptionView) };
  });

  app.post("/v1/payouts/bank/:id/cancellation", {
    config: write,
    schema: {
      tags: [TAG],
      summary: "Cancel an instructed bank payout the bank never executed",
      description:
        "For a transfer the bank refused or never made (e.g. it said so by phone, with no camt.054 to send): the reserve is voided (the money is back in `seller:<id>:available`), the payout becomes `cancelled` with the note as its reason (announced as `bank_payout.cancelled`), and the next run pays the seller again. Unlike a return, it does not hold the seller's account. The same note again from the same key answers 200 with the payout; 201 when cancelled now. Refused: 409 ENT_PAYOUT_BANK_PAYOUT_DEBITED once the bank's debit is booked for it, or reported (an exception naming a booked debit, open or resolved: a resolution's note does not undo what the bank paid; settle it by what the bank did, `action: book_partial_debit`, or have the bank return it); 409 ENT_PAYOUT_BANK_PAYOUT_NOT_OPEN for a payout not instructed (planned, or at its outcome, or cancelled before with another note); 404 ENT_PAYOUT_NOT_FOUND. A debit of the bank arriving after is an exception (`debited_not_instructed`), never booked.",
      security: bearer,
      params: Type.Object({ id: Id }),
      body: CancellationBody,
      response: { 200: BankPayoutView, 201: BankPayoutView, ...problems(400, 401, 403, 404, 409, 429, 503) },
    },
  }, async (request, reply) => {
    const { note } = request.body as Static<typeof CancellationBody>;
    const r = await rail().cancel(BigInt((request.params as { id: string }).id), note, actorOf(request.principal));
    return reply.status(r.status === "created" ? 201 : 200).send(payoutView(r.payout));
  });

  app.get("/v1/payouts/bank/:id/settles", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "What a bank payout pays: the seller's available-balance lines it drained",
      description:
        "The postings of `seller:<id>:available` in the payout's currency since the previous bank payout of that currency reserved the balance (or since the start), up to this payout's reserve, each with its effect on the spendable balance; they sum to `total`, which equals the payout's amount (`matches`).",
      security: bearer,
      params: Type.Object({ id: Id }),
      response: { 200: SettlesView, ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (request) => settlesView(await rail().settledBy(BigInt((request.params as { id: string }).id))));

  app.get("/v1/payouts/bank/files", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "List the pain.001 files, newest first",
      security: bearer,
      querystring: Type.Object({ limit: Type.Optional(LimitQuery) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(FileView) }), ...problems(400, 401, 403, 429, 503) },
    },
  }, async (request) => {
    const { limit } = request.query as { limit?: string };
    return { items: (await rail().files(limit === undefined ? 50 : Number(limit))).map(fileView) };
  });

  app.get("/v1/payouts/bank/files/:id", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Download a pain.001 file as written to the outbox",
      security: bearer,
      params: Type.Object({ id: Type.String({ pattern: "^[A-Za-z0-9-]{1,35}$" }) }),
      produces: ["application/xml"],
      response: { 200: Type.String({ description: "pain.001.001.10 XML" }), ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (request, reply) => {
    const f = await rail().file((request.params as { id: string }).id);
    return reply.type("application/xml; charset=utf-8").header("content-disposition", `attachment; filename="${f.id}.xml"`).send(f.xml);
  });
}
