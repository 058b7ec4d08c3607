/** Public API of the payouts module. Other modules use only what is exported here. */
export { PayoutErrors } from "./errors.js";
export { PayoutService, type PayoutServiceOptions } from "./service.js";
export { assignDemoDestinations, demoPayoutAddress, FIRST_DEMO_SELLER_ACCOUNT, fundVaultLocal, publishDemoPayoutRates, type FundVaultResult } from "./funding.js";
export { ledgerKeys, PayoutAccounts } from "./booking.js";
export { mayTakeStablecoin, STABLECOIN_BARRED_COUNTRIES, vaultBar } from "./jurisdiction.js";
export * from "./types.js";
export { BankRail, BANK_SKIP_REASONS, CONFIRMATION_OUTCOMES, RESOLUTION_ACTIONS, validateBankAccount, ibanValid, type BankRailOptions, type BankRunResult, type ConfirmationResult, type BankAccountInput, type InboxResult } from "./bank/rail.js";
export { accountRefusal, BANK_EXCEPTION_CODES, type AccountReport, type BankExceptionCode } from "./bank/matching.js";
export type { BankException, BankExceptionEntry } from "./bank/exceptions.js";
export { BANK_PAYOUT_STATUSES, type BankAccount, type BankFile, type BankPayout, type BankPayoutStatus, type HolderNameCheck } from "./bank/store.js";
export { HOLDER_NAME_RESULTS, holderNameMatch, holderNameScriptMismatch, type HolderNameResult } from "./bank/holder-name.js";
export { BankMessageError, pain001, readBankMessage, readCamt054, type BankAccountRef, type BankBalance, type BankEntry, type BankMessage, type BankReport } from "./bank/iso20022.js";
