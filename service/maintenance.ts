/**
 * Time-driven bookkeeping that no request triggers: pending ledger transfers past their timeout are
 * voided (their reserved amounts released), and held POP proceeds and rolling reserves whose date
 * has come are released to the sellers. Each tick runs to completion before the next is scheduled,
 * so ticks never overlap; a failing tick is logged and retried at the next interval (the work is
 * idempotent: both operations key their postings by the transaction/settlement they act on).
 * With several instances on one database it runs on the elected worker leader only (workers.ts).
 * A release the ledger refuses stays due but backs off (1 minute doubling, at most a day; settlement
 * releaseDue), so refusals that persist neither fill every tick ahead of due releases nor repeat every tick.
 * Delivery deadlines passed since the last tick are checked once each: an order not delivered by its
 * deadline is announced (`order.fulfilment_overdue`, once per order; settlement checkDeliveryDeadlines).
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
  /** Of those, the ones refused for the first time (a refused release is retried with backoff), by code likewise. */
  newReleaseErrors: number;
  newReleaseErrorCodes: Record<string, { count: number; first: string }>;
  /** Delivery deadlines checked this tick, and of those the orders found overdue (announced). */
  deadlinesChecked: number;
  overdueDeliveries: number;
}

/** Releases are read a page at a time; a tick keeps paging while pages come back full. */
const RELEASE_PAGE = 500;

/**
 * One tick. `more` is asked before each further page of due releases: false (the loop is stopping,
 * this instance no longer leads) ends the tick after the page in hand, so a backlog of releases
 * neither holds a graceful close past its grace nor runs on after the leadership term ended.
 */
export async function runMaintenanceTick(
  services: { ledger: Pick<Ledger, "expirePending">; settlement: Pick<SettlementService, "releaseDue" | "checkDeliveryDeadlines"> },
  now: Date = new Date(),
  more: () => boolean = () => true,
): Promise<MaintenanceTick> {
  const expiredPending = await services.ledger.expirePending();
  let released = 0;
  let releaseErrors = 0;
  let newReleaseErrors = 0;
  const releaseErrorCodes: MaintenanceTick["releaseErrorCodes"] = {};
  const newReleaseErrorCodes: MaintenanceTick["newReleaseErrorCodes"] = {};
  const count = (byCode: MaintenanceTick["releaseErrorCodes"], code: string, message: string) => {
    (byCode[code] ??= { count: 0, first: message.slice(0, 500) }).count++;
  };
  for (;;) {
    const page = await services.settlement.releaseDue(now, RELEASE_PAGE);
    released += page.filter((r) => r.status === "created").length;
    for (const r of page) {
      if (r.status !== "error") continue;
      releaseErrors++;
      count(releaseErrorCodes, r.error.code, r.error.message);
      if ((r.attempt ?? 1) > 1) continue;
      newReleaseErrors++;
      count(newReleaseErrorCodes, r.error.code, r.error.message);
    }
    // A page of only errors would come back again: stop and let the next tick (and the log) deal with it.
    if (page.length < RELEASE_PAGE || page.every((r) => r.status === "error") || !more()) break;
  }
  let deadlinesChecked = 0;
  let overdueDeliveries = 0;
  for (;;) {
    const page = await services.settlement.checkDeliveryDeadlines(now, RELEASE_PAGE);
    deadlinesChecked += page.checked;
    overdueDeliveries += page.overdue;
    if (page.checked < RELEASE_PAGE || !more()) break;
  }
  return { expiredPending, released, releaseErrors, releaseErrorCodes, newReleaseErrors, newReleaseErrorCodes, deadlinesChecked, overdueDeliveries };
}

export function startMaintenance(
  services: Parameters<typeof runMaintenanceTick>[0],
  opts: { intervalMs: number; log: MaintenanceLog; when?: () => boolean },
): Loop {
  return startLoop(
    "maintenance",
    opts.intervalMs,
    async (stopping) => {
      const more = () => !stopping.aborted && (opts.when?.() ?? true);
      const { releaseErrorCodes, newReleaseErrorCodes, ...r } = await runMaintenanceTick(services, new Date(), more);
      if (r.expiredPending + r.released + r.releaseErrors + r.overdueDeliveries > 0) opts.log.info({ ...r }, "maintenance tick");
      // By code, with the first message (which names the event): a count alone does not say what to
      // fix. A refused release is retried with backoff until its cause is fixed: an error once, on its
      // first refusal; its retries are in the tick's line (releaseErrors) and here by code, as info.
      if (r.newReleaseErrors > 0) opts.log.error({ releaseErrors: r.newReleaseErrors, byCode: newReleaseErrorCodes }, "some due releases were refused");
      if (r.releaseErrors > r.newReleaseErrors) opts.log.info({ releaseErrors: r.releaseErrors - r.newReleaseErrors, byCode: releaseErrorCodes }, "due releases still refused, retried with backoff");
    },
    opts.log,
    opts.when === undefined ? {} : { when: opts.when },
  );
}
