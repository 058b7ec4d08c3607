/** Public API of the treasury module. Other modules use only what is exported here. */
export { TreasuryService, tokenDecimalsOf, type ClaimantDirectory, type TreasuryChain, type TreasuryLog, type TreasuryServiceOptions } from "./service.js";
export { Legs, TreasuryAccounts, treasuryAccountSpec } from "./accounts.js";
export { claimRequest, fundingRequest, sweepRequest, vaultEventKey, type VaultEventKind } from "./bookings.js";
export { decimalsReader, STABLECOIN_CURRENCY, TokenDecimals, unitsPerCent, USD_EXPONENT } from "./stablecoin.js";
