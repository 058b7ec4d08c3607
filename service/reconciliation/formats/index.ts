/** The supported gateway report formats, by name. */
import type { ReportFormat } from "../types.js";
import { adyenSettlementDetails } from "./adyen.js";
import type { FormatDefinition } from "./common.js";
import { stripeItemizedBalance } from "./stripe.js";

export { ADYEN_COLUMNS } from "./adyen.js";
export { STRIPE_OPTIONAL, STRIPE_REQUIRED } from "./stripe.js";
export type { DecoderOptions, FormatDefinition, RowDecoder } from "./common.js";

export const FORMATS: Record<ReportFormat, FormatDefinition> = {
  adyen_settlement_details: adyenSettlementDetails,
  stripe_itemized_balance: stripeItemizedBalance,
};
