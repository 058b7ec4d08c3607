import { defineError } from "../errors.js";

export const LeaderErrors = {
  /**
   * Work of a leadership term was attempted after the term ended (the lease expired or another
   * instance took it over): nothing was written. The workers of that term are stopping.
   */
  leaseLost: defineError("ENT_LEADER_LEASE_LOST", 503, "This instance no longer holds the worker lease"),
  /** A lease option is out of range (a TTL too short to renew within). */
  invalidOption: defineError("ENT_LEADER_OPTION", 500, "Invalid leader lease option"),
} as const;
