/**
 * Errors of the reconciliation module (`ENT_RECON_*`). A report file that cannot be read at all
 * (wrong header, not UTF-8 text, too large) is refused as a whole; malformed RECORDS are not
 * errors of the request: they are listed on the import with their line numbers.
 */
import { defineError } from "../errors.js";

export const ReconErrors = {
  /** The file is not a report of the named format: missing columns (named), empty file, duplicate columns. */
  reportFormat: defineError("ENT_RECON_REPORT_FORMAT", 400, "Not a report of the named format"),
  /** Unknown `format` (or a gateway name that is not an identifier). */
  unknownFormat: defineError("ENT_RECON_UNKNOWN_FORMAT", 400, "Unknown report format"),
  /** The same bytes were already imported under another format or gateway. */
  duplicateImport: defineError("ENT_RECON_DUPLICATE_IMPORT", 409, "File already imported"),
  /** The upload exceeds the configured maximum size. */
  importTooLarge: defineError("ENT_RECON_IMPORT_TOO_LARGE", 413, "Report file too large"),
  importNotFound: defineError("ENT_RECON_IMPORT_NOT_FOUND", 404, "Import not found"),
  runNotFound: defineError("ENT_RECON_RUN_NOT_FOUND", 404, "Reconciliation run not found"),
  itemNotFound: defineError("ENT_RECON_ITEM_NOT_FOUND", 404, "Exception item not found"),
  /** A run request that cannot be honoured: imports of several gateways, an empty period, bad rules. */
  invalidRun: defineError("ENT_RECON_INVALID_RUN", 400, "Invalid reconciliation run request"),
  /** The matching rules given are invalid (named field). */
  invalidRules: defineError("ENT_RECON_INVALID_RULES", 400, "Invalid matching rules"),
  /** The exception already has a different resolution (a resolution is written once). */
  resolutionConflict: defineError("ENT_RECON_RESOLUTION_CONFLICT", 409, "Exception already resolved differently"),
  /** The adjusting entry posts where a reconciliation may not (a seller, a tax payable, another gateway) or beyond the amount bound (named posting). */
  adjustmentInvalid: defineError("ENT_RECON_ADJUSTMENT_INVALID", 422, "Adjusting entry outside what a reconciliation may move"),
  /**
   * The adjusting entry moves more than the exception's own amount (its difference, else the side
   * there), or a currency it is not in, without `adjustment.exceedsException`.
   */
  adjustmentExceedsException: defineError("ENT_RECON_ADJUSTMENT_EXCEEDS_EXCEPTION", 422, "Adjusting entry larger than its exception"),
  /** The adjusting entry was refused by the ledger (its code is in details.ledgerCode). */
  adjustmentRejected: defineError("ENT_RECON_ADJUSTMENT_REJECTED", 422, "Adjusting entry refused by the ledger"),
  /** The run's report digest is not anchored yet (no proof to give). */
  notAnchored: defineError("ENT_RECON_NOT_ANCHORED", 409, "Report digest not anchored yet"),
  /** The run needs the chain view (anchoring) and none is configured. */
  chainUnavailable: defineError("ENT_RECON_CHAIN_UNAVAILABLE", 503, "Chain view not configured"),
} as const;
