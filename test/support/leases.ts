/**
 * Lease tests' helpers (test/payouts/bank-lease.test.ts, planner-lease.test.ts): a lease store whose
 * instance "dies" (its renewals stop reaching the database while it believes them done, so only the
 * fence inside the database can stop its run), and a short lease so the tests wait little.
 */
import type { LeaseStorePort } from "../../service/leader/lease-store.js";

/** Short, so a test waits little: renewed every 500 ms. */
export const TEST_LEASE_TTL_MS = 1_500;

export function dyingLeases(real: LeaseStorePort): LeaseStorePort & { die(): void } {
  let dead = false;
  return {
    acquire: (...a) => real.acquire(...a),
    renew: async (...a) => (dead ? true : real.renew(...a)),
    release: (...a) => real.release(...a),
    verify: (...a) => real.verify(...a),
    die: () => void (dead = true),
  };
}
