export { LeaderElector, instanceId, type ElectorLog, type LeaderElectorOptions } from "./elector.js";
export { LeaderErrors } from "./errors.js";
export { currentFence, runFenced, type Fence } from "./fence.js";
export { LeaseStore, type AcquireResult, type LeaseStatus, type LeaseStorePort, type WorkerHalt } from "./lease-store.js";
export { leaseTimings, MIN_LEASE_TTL_MS, Term, type LeaseTimings } from "./term.js";
