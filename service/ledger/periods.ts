/**
 * Closing periods. A close sets the journal head's `closed_before` under the head lock that every
 * journal writer takes first, so no flush is half before and half after it; from then on the
 * writer books a transaction effective before that instant AT that instant, its own instant kept in
 * the metadata (plan.ts: effectiveIn), and a trigger refuses one planned before the close (the
 * writer re-plans it under the lock). Closes only move forward: a closed period is not reopened.
 * A caller's checks of the period run either before the lock (optimistic: refused with
 * ENT_LEDGER_PERIOD_CHANGED when a booking into the period overtook them) or under it (`check`:
 * fenced, never overtaken, writers wait for it).
 */
import type { SqlRunner } from "../db/index.js";
import { Errors } from "../errors.js";
import { LedgerErrors } from "./errors.js";
import { createQueries } from "./queries.js";
import * as store from "./store.js";
import type { ClosePeriodInput, Ledger, PeriodClose } from "./types.js";

export function createPeriods(sql: SqlRunner, now: () => Date): Pick<Ledger, "closePeriod" | "periodCloses"> {
  return {
    /** Closes every period before `before` (which must have passed, and be later than the last close). */
    async closePeriod(input: ClosePeriodInput): Promise<PeriodClose> {
      const at = now();
      if (!(input.before instanceof Date) || Number.isNaN(input.before.getTime())) {
        throw Errors.validation("before must be an instant", { fields: [{ field: "before", message: "must be an RFC 3339 instant" }] });
      }
      if (input.before.getTime() > at.getTime()) {
        throw Errors.validation(`before (${input.before.toISOString()}) has not passed yet: only a period that has ended can be closed`, {
          fields: [{ field: "before", message: "must not be in the future" }],
        });
      }
      if (input.note !== undefined && input.note !== null && input.note.length > 500) {
        throw Errors.validation("note is longer than 500 characters", { fields: [{ field: "note", message: "at most 500 characters" }] });
      }
      return store.underJournalLock(sql, async (tx, head) => {
        if (head.closedBefore !== null && input.before.getTime() <= head.closedBefore.getTime()) {
          throw LedgerErrors.periodClosed(`every period before ${head.closedBefore.toISOString()} is closed already; a close only moves forward`, {
            fields: [{ field: "before", message: `must be after ${head.closedBefore.toISOString()}` }],
            details: { closedBefore: head.closedBefore.toISOString() },
          });
        }
        // What the caller checked (service/closing.ts: the FX positions at the period's end) must be
        // what closes: nothing effective in the period may have been booked since it read the journal.
        if (input.checkedAtSequence !== undefined && (await store.bookedIntoPeriodSince(tx, input.checkedAtSequence, input.before, input.checkedAccountPrefix))) {
          throw LedgerErrors.periodChanged(`a transaction effective before ${input.before.toISOString()} was booked after journal sequence ${input.checkedAtSequence}, which the close was checked at`, {
            details: { checkedAtSequence: input.checkedAtSequence.toString() },
          });
        }
        // A fenced close: the caller's checks read the journal here, through this transaction, while
        // every writer waits on the lock it holds: what they read is what closes.
        const checked = input.check === undefined ? { fxNotRevalued: input.fxNotRevalued ?? null, fxRateStale: input.fxRateStale ?? null } : await input.check(createQueries(tx, now));
        return store.closePeriod(tx, { before: input.before, head, closedBy: input.closedBy ?? null, note: input.note ?? null, at, ...checked });
      });
    },

    /** The instant before which every period is closed (null: none), and every close, newest first. */
    async periodCloses(): Promise<{ closedBefore: Date | null; closes: PeriodClose[] }> {
      const closes = await store.periodCloses(sql);
      return { closedBefore: closes[0]?.closedBefore ?? null, closes };
    },
  };
}
