/** Public API of the payouts module. Other modules use only what is exported here. */
export { PayoutErrors } from "./errors.js";
export { PayoutService, type PayoutServiceOptions } from "./service.js";
export { assignDemoDestinations, demoPayoutAddress, FIRST_DEMO_SELLER_ACCOUNT, fundVaultLocal, publishDemoPayoutRates, type FundVaultResult } from "./funding.js";
export { ledgerKeys, PayoutAccounts } from "./booking.js";
export * from "./types.js";
