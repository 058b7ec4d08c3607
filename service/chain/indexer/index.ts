export { ChainIndexer, INDEXER_DEFAULTS, type ChainIndexerOptions } from "./indexer.js";
export { IndexerErrors } from "./errors.js";
export type {
  Confirmation,
  EventFilter,
  FinalityMode,
  IndexedContract,
  IndexedEvent,
  IndexerChange,
  IndexerListener,
  IndexerLog,
  IndexHead,
} from "./types.js";
