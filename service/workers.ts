/**
 * The background workers of a running service: maintenance (expired pending transfers, due
 * releases), webhook delivery and, when a chain is configured, the transaction sender, the event index, anchoring,
 * payouts and the treasury (the vault's own events booked). On any number of instances sharing one
 * database they run on exactly one at a time: the holder of the worker lease (service/leader). Each
 * is a loop of idempotent ticks (service/loop.ts) that starts a tick only while the leader's term is
 * valid, and runs inside the term's fence; `stop()` waits for ticks in progress, then releases the
 * lease so a standby takes over at once.
 */
import type { Config } from "./config.js";
import { LeaderElector, runFenced } from "./leader/index.js";
import { ANCHOR_HALTED, CHAIN_HALTED, CHAIN_OUTAGE, startLoop, type Loop, type LoopHalt } from "./loop.js";
import { startMaintenance } from "./maintenance.js";
import type { Services } from "./services.js";
import type { LogTarget } from "./worker-log.js";

/** The lease's name: one worker leader per database. */
export const WORKERS_LEASE = "workers";

export type WorkersConfig = Pick<Config, "maintenanceIntervalSeconds" | "chain" | "workers"> & Partial<Pick<Config, "webhooks" | "bank">>;

export interface Workers {
  /** This instance holds the lease now (its workers run). */
  isLeader(): boolean;
  stop(): Promise<void>;
}

export function startWorkers(services: Services, config: WorkersConfig, log: LogTarget, opts: { holder?: string } = {}): Workers {
  services.workerLog.attach(log);
  const elector = new LeaderElector({
    store: services.leases,
    lease: WORKERS_LEASE,
    // The services' name unless a test gives one: /readyz compares it with the lease's holder.
    holder: opts.holder ?? services.instanceId,
    ttlMs: config.workers.leaseTtlMs,
    log,
    // Timers created inside runFenced keep its context: every tick of this term carries the fence.
    lead: (fence) => runFenced(fence, () => startLoops(services, config, log, () => fence.isValid())),
  });
  elector.start();
  return { isLeader: () => elector.isLeader(), stop: () => elector.stop() };
}

/** The loops of one leadership term; the returned function stops them and waits for ticks in progress. */
function startLoops(services: Services, config: WorkersConfig, log: LogTarget, when: () => boolean): () => Promise<void> {
  const loops: Loop[] = [];
  if (config.maintenanceIntervalSeconds > 0) {
    loops.push(startMaintenance(services, { intervalMs: config.maintenanceIntervalSeconds * 1000, log, when }));
  }
  const { chain, anchoring, payouts, treasury, webhooks, bank } = services;
  loops.push(startLoop("webhooks", config.webhooks?.pollIntervalMs ?? 250, () => webhooks.dispatcher.tick(), log, { when }));
  // The bank rail: files not yet in the outbox, cash bookings to retry, the camt.054 inbox.
  const bankEvery = config.bank?.pollIntervalSeconds ?? 0;
  if (bank !== undefined && bankEvery > 0) loops.push(startLoop("bank", bankEvery * 1000, () => bank.tick(), log, { when }));
  if (chain !== undefined) {
    const every = config.chain.pollIntervalMs;
    // A node outage, or a chain that is not the database's any more, is logged when it starts and
    // when it ends (loop.ts), not at every tick.
    // A halt (only an operator resolves it) is recorded for /readyz and /metrics on every instance.
    const onHalt = (worker: string) => (halt: LoopHalt | null) => services.leases.recordHalt(worker, halt);
    const chainOpts = (worker: string) => ({ when, outage: [CHAIN_OUTAGE, CHAIN_HALTED], onHalt: onHalt(worker) });
    chain.indexer.start({ intervalMs: every, when, outage: CHAIN_OUTAGE });
    loops.push(
      startLoop("chain-sender", every, async () => {
        await chain.sender.tick();
      }, log, chainOpts("chain-sender")),
    );
    if (anchoring !== undefined) {
      loops.push(
        startLoop("anchoring", every, async () => {
          await anchoring.tick();
        }, log, { when, outage: [CHAIN_OUTAGE, CHAIN_HALTED, ANCHOR_HALTED], onHalt: onHalt("anchoring") }),
      );
    }
    if (payouts !== undefined) loops.push(startLoop("payouts", every, () => payouts.tick(), log, chainOpts("payouts")));
    if (treasury !== undefined) loops.push(startLoop("treasury", every, () => treasury.tick(), log, chainOpts("treasury")));
  }
  return async () => {
    await Promise.all([...loops.map((l) => l.stop()), chain?.indexer.stop()]);
    await webhooks.dispatcher.drain();
  };
}
