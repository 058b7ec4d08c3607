/**
 * Public API of the settlement module: gateway events -> ledger transactions, seller programs,
 * fee schedules and tax tables. Other modules use only what is exported here.
 */
export { SettlementErrors } from "./errors.js";
export { Accounts, SETTLEMENT_CURRENCY, accountSpec } from "./accounts.js";
export { FEE_SCHEDULES, MARKETS, TAX_RULES } from "./data.js";
export { captureStateOf, cumulativeShare, eventKey, inclusiveTax, planCapture, planFollowUp, type CapturePlanInput, type FollowUpPlanInput, type PlanRates } from "./plan.js";
export { selectSchedule, selectTaxRule, validateSchedule, validateTaxRule } from "./schedules.js";
export { parseEvent, validateEvent } from "./validate.js";
export { MAX_SELLER_GATEWAYS } from "./program.js";
export { breakdownFromJson, breakdownToJson, fxLegToJson, settlementToJson } from "./codec.js";
export { PrismaSettlementRepository, type ProgramItem, type SettlementListFilter, type SettlementRepository, type SettlementVolume } from "./repository.js";
export { FxRealisation, MAX_RATE_DEVIATION_BPS, REMITTANCE_ID, type RealisationRates, type Remittance, type RemittanceInput, type Revaluation, type RevaluationLine } from "./realisation.js";
export { BANDED_FEES, bandFee, MAX_WEIGHT_GRAMS, perOrderFees, STORAGE_RATE, weightBandsFromJson, weightBandsToJson, type FeeBandEvidence, type WeightBand, type WeightBands, type WeightBandTable, type WeightBandsJson } from "./fees.js";
export { FULFILMENT_STATUSES, MAX_CARRIER_LENGTH, orderKey, TRACKING_NUMBER, type Fulfilment, type FulfilmentInput, type FulfilmentStatus, type OverdueDelivery } from "./fulfilment.js";
export { CHARGE_KINDS, type ChargeKind, type SellerCharge, type SellerChargeInput } from "./charges.js";
export { lineKind, type LineEvidence, type SellerStatement, type TaxReturn } from "./statement.js";
export { errorItem, itemError, SettlementService, unknownSellerOfCapture, type ReleaseResult, type SettlementFx, type SettlementServiceOptions } from "./service.js";
export * from "./types.js";
