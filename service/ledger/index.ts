/** The ledger's public API: other modules import from here, never from its tables. */
export * from "./types.js";
export { LedgerErrors } from "./errors.js";
import type { createLedger } from "./ledger.js";
export { createLedger, type LedgerOptions, type BatchItemResult } from "./ledger.js";
export { balanceOrNull, postedDebitBalance } from "./lookup.js";
export { ORIGINAL_EFFECTIVE_AT, requestHash } from "./plan.js";
export { GENESIS_HASH, transactionHash } from "./hash.js";
export { journalToJson, type JournalTransactionJson } from "./json.js";
export type LedgerService = ReturnType<typeof createLedger>;
