import { defineError } from "../errors.js";

export const DbErrors = {
  migrationChecksum: defineError("ENT_DB_MIGRATION_CHECKSUM", 500, "An applied migration was changed after it was applied"),
  migrationMissing: defineError("ENT_DB_MIGRATION_MISSING", 500, "An applied migration is missing from the migrations folder"),
  migrationFailed: defineError("ENT_DB_MIGRATION_FAILED", 500, "A database migration failed"),
  /** Another live process holds the embedded database folder (PGlite is single-process). */
  dataDirInUse: defineError("ENT_DB_DATA_DIR_IN_USE", 500, "The embedded database folder is in use by another process"),
} as const;
