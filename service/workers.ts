/**
 * The background workers of a running service: maintenance (expired pending transfers, due
 * releases) and, when a chain is configured, the transaction sender, the event index, anchoring,
 * payouts and the treasury (the vault's own events booked). Each is a loop of idempotent ticks
 * (service/loop.ts); `stop()` waits for ticks in progress.
 */
import type { Config } from "./config.js";
import { startLoop, type Loop } from "./loop.js";
import { startMaintenance } from "./maintenance.js";
import type { Services } from "./services.js";
import type { LogTarget } from "./worker-log.js";

export interface Workers {
  stop(): Promise<void>;
}

export function startWorkers(services: Services, config: Pick<Config, "maintenanceIntervalSeconds" | "chain">, log: LogTarget): Workers {
  services.workerLog.attach(log);
  const loops: Loop[] = [];
  if (config.maintenanceIntervalSeconds > 0) {
    loops.push(startMaintenance(services, { intervalMs: config.maintenanceIntervalSeconds * 1000, log }));
  }
  const { chain, anchoring, payouts, treasury } = services;
  if (chain !== undefined) {
    const every = config.chain.pollIntervalMs;
    chain.indexer.start({ intervalMs: every });
    loops.push(
      startLoop("chain-sender", every, async () => {
        await chain.sender.tick();
      }, log),
    );
    if (anchoring !== undefined) {
      loops.push(
        startLoop("anchoring", every, async () => {
          await anchoring.tick();
        }, log),
      );
    }
    if (payouts !== undefined) loops.push(startLoop("payouts", every, () => payouts.tick(), log));
    if (treasury !== undefined) loops.push(startLoop("treasury", every, () => treasury.tick(), log));
  }
  return {
    async stop() {
      await Promise.all([...loops.map((l) => l.stop()), chain?.indexer.stop()]);
    },
  };
}
