/**
 * Time-driven bookkeeping that no request triggers: pending ledger transfers past their timeout are
 * voided (their reserved amounts released), and held POP proceeds and rolling reserves whose date
 * has come are released to the sellers. Each tick runs to completion before the next is scheduled,
 * so ticks never overlap; a failing tick is logged and retried at the next interval (the work is
 * idempotent: both operations key their postings by the transaction/settlement they act on).
 * With several instances on one database it runs on the elected worker leader only (workers.ts).
 * A release the ledger refuses stays due and is tried again every tick until its cause is fixed.
 */
import type { Ledger } from "./ledger/types.js";
import type { SettlementService } from "./settlement/index.js";
import { startLoop, type Loop } from "./loop.js";

export interface MaintenanceLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface MaintenanceTick {
  expiredPending: number;
  released: number;
  releaseErrors: number;
  /** The refused releases by error code, each with its count and the first message (which names the event). */
  releaseErrorCodes: Record<string, { count: number; first: string }>;
}

/** Releases are read a page at a time; a tick keeps paging while pages come back full. */
const RELEASE_PAGE = 500;

export async function runMaintenanceTick(
  services: { ledger: Pick<Ledger, "expirePending">; settlement: Pick<SettlementService, "releaseDue"> },
  now: Date = new Date(),
): Promise<MaintenanceTick> {
  const expiredPending = await services.ledger.expirePending();
  let released = 0;
  let releaseErrors = 0;
  const releaseErrorCodes: MaintenanceTick["releaseErrorCodes"] = {};
  for (;;) {
    const page = await services.settlement.releaseDue(now, RELEASE_PAGE);
    released += page.filter((r) => r.status === "created").length;
    for (const r of page) {
      if (r.status !== "error") continue;
      releaseErrors++;
      const seen = (releaseErrorCodes[r.error.code] ??= { count: 0, first: r.error.message.slice(0, 500) });
      seen.count++;
    }
    // A page of only errors would come back again: stop and let the next tick (and the log) deal with it.
    if (page.length < RELEASE_PAGE || page.every((r) => r.status === "error")) break;
  }
  return { expiredPending, released, releaseErrors, releaseErrorCodes };
}

export function startMaintenance(
  services: Parameters<typeof runMaintenanceTick>[0],
  opts: { intervalMs: number; log: MaintenanceLog; when?: () => boolean },
): Loop {
  return startLoop(
    "maintenance",
    opts.intervalMs,
    async () => {
      const { releaseErrorCodes, ...r } = await runMaintenanceTick(services);
      if (r.expiredPending + r.released + r.releaseErrors > 0) opts.log.info({ ...r }, "maintenance tick");
      // By code, with the first message: a refused release is retried every tick until its cause is
      // fixed, and a count alone does not say what to fix.
      if (r.releaseErrors > 0) opts.log.error({ releaseErrors: r.releaseErrors, byCode: releaseErrorCodes }, "some due releases were refused");
    },
    opts.log,
    opts.when === undefined ? {} : { when: opts.when },
  );
}
