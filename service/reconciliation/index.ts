/**
 * Public API of the reconciliation module: gateway report imports, three-way runs, exceptions
 * and their resolutions, report digests. Other modules use only what is exported here.
 */
export { ReconErrors } from "./errors.js";
export { adjustmentEffectiveAt, adjustmentRefusal, checkAdjustmentScope, exceptionInstant, EFFECTIVE_AT_FIELD, type AdjustmentScope } from "./booking.js";
export { adjustmentAccountSpecs, ReconciliationService, runHeader, type ReconciliationOptions, type ResolutionResult, type SettlementReader } from "./service.js";
export { ReconRepository } from "./repository.js";
export { REPORT_DOCUMENT_KIND, type ChainView } from "./chain-view.js";
export { DEFAULT_RULES, resolveRules, rulesSha256, ANCHOR_STATES, type MatchingRules, type AnchorStateName } from "./rules.js";
export { canonicalJson, itemJson, reportDigest } from "./canonical.js";
export { CsvReader, type CsvRecord, type CsvProblem } from "./csv.js";
export { ReportReader } from "./reader.js";
export { FORMATS, ADYEN_COLUMNS, STRIPE_REQUIRED, STRIPE_OPTIONAL } from "./formats/index.js";
export { itemsCsv, summaryCsv } from "./report.js";
export * from "./types.js";
