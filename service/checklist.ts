/**
 * The period-close checklist: before closing the period a close at `before` would close ([the
 * latest close, or the beginning of the books, before)), what a controller must look at, read
 * through each module's service (none of them is written to, nothing is locked): open gateway
 * reconciliation exceptions of runs over the period, unmatched bank statement entries the bank
 * booked in it, open bank payout exceptions, bank payouts instructed in it still in transit, vault
 * payouts not final, the FX check the close itself makes (PeriodClosing.fxCheck: planned, not
 * booked), pending journal transactions effective in it, and, for information, webhook deliveries
 * given up. Each item is counted and summed in full; only its `refs` are bounded (the first
 * CHECKLIST_REFS). The checklist informs: the close refuses only on the FX check, never on the
 * others (an open exception may rightly be carried into the next period).
 */
import type { CashReconciliation } from "./cash/index.js";
import type { PeriodClosing } from "./closing.js";
import { Errors } from "./errors.js";
import type { Ledger, StaleClosingRate, UnrevaluedPosition } from "./ledger/types.js";
import type { OpenItems, OpenPeriod } from "./open-items.js";
import type { BankRail, PayoutService } from "./payouts/index.js";
import type { ReconciliationService } from "./reconciliation/index.js";
import type { WebhookService } from "./webhooks/index.js";

/** How many of each item's open entries the checklist names (the first, oldest or lowest id first). */
export const CHECKLIST_REFS = 20;

export const CHECKLIST_KINDS = [
  "reconciliation_exceptions",
  "cash_exceptions",
  "bank_payout_exceptions",
  "bank_payouts_in_transit",
  "vault_payouts_not_final",
  "fx_revaluation",
  "pending_transactions",
  "dead_webhook_deliveries",
] as const;
export type ChecklistKind = (typeof CHECKLIST_KINDS)[number];

export interface ChecklistItem extends OpenItems {
  kind: ChecklistKind;
  status: "ok" | "open";
  /** False for an item listed for information only (dead webhook deliveries): it does not make the period not ready. */
  blocking: boolean;
  /** Whether the module is configured here (no bank rail, no chain: its item is `ok`, with nothing to count). */
  configured: boolean;
  action: string;
}

export interface Checklist {
  period: { from: Date | null; to: Date };
  /** Whether `before` has passed: only a period that has ended can be closed. */
  ended: boolean;
  /** Nothing blocks: the period has ended, the close would not be refused (FX) and no blocking item is open. */
  ready: boolean;
  /** The code the close at `before` would be refused with now (its FX checks), null: none. */
  closeRefusedWith: string | null;
  items: ChecklistItem[];
  fx: { revalueAt: string; positions: UnrevaluedPosition[]; rates: StaleClosingRate[] };
}

export interface ChecklistSources {
  ledger: Pick<Ledger, "periodCloses" | "pendingIn">;
  closing: Pick<PeriodClosing, "fxCheck">;
  reconciliation?: Pick<ReconciliationService, "openExceptionsIn"> | undefined;
  cash: Pick<CashReconciliation, "openExceptionsIn">;
  bank?: Pick<BankRail, "openExceptions" | "inTransitIn"> | undefined;
  payouts?: Pick<PayoutService, "notFinalBefore"> | undefined;
  webhooks: Pick<WebhookService, "store">;
}

const NONE: OpenItems = { count: 0, amounts: [], refs: [] };

function item(kind: ChecklistKind, found: OpenItems | null, blocking: boolean, open: string, ok: string): ChecklistItem {
  const f = found ?? NONE;
  const status = f.count > 0 ? "open" : "ok";
  return { kind, status, blocking, configured: found !== null, ...f, action: status === "open" ? open : ok };
}

/** The checklist of the period a close at `before` would close; 400 naming query.before when `before` is not after the latest close. */
export async function readChecklist(s: ChecklistSources, before: Date, now: Date = new Date()): Promise<Checklist> {
  const { closedBefore } = await s.ledger.periodCloses();
  if (closedBefore !== null && before.getTime() <= closedBefore.getTime()) {
    throw Errors.validation(`every period before ${closedBefore.toISOString()} is closed already: a close at ${before.toISOString()} would close nothing`, {
      fields: [{ field: "query.before", message: `must be after ${closedBefore.toISOString()}, the latest close` }],
    });
  }
  const period: OpenPeriod = { from: closedBefore, to: before };
  const n = CHECKLIST_REFS;
  const [recon, cash, bankExceptions, inTransit, vault, fx, pending, dead] = await Promise.all([
    s.reconciliation?.openExceptionsIn(period, n) ?? null,
    s.cash.openExceptionsIn(period, n),
    s.bank?.openExceptions(n) ?? null,
    s.bank?.inTransitIn(period, n) ?? null,
    s.payouts?.notFinalBefore(before, n) ?? null,
    s.closing.fxCheck(before),
    s.ledger.pendingIn(period, n),
    s.webhooks.store.deadIn(period, n),
  ]);
  const fxItem: ChecklistItem = {
    kind: "fx_revaluation",
    status: fx.refusedWith === null ? "ok" : "open",
    blocking: true,
    configured: true,
    count: fx.positions.length + fx.rates.length,
    // What the revaluation at the period's last instant would book, in USD minor units (the positions it would skip book nothing).
    amounts: (() => {
      const usd = fx.positions.reduce((t, p) => t + BigInt(p.change ?? "0"), 0n);
      return fx.positions.some((p) => p.change !== null) ? [{ currency: "USD", amount: usd }] : [];
    })(),
    refs: [...fx.positions.map((p) => p.currency), ...fx.rates.map((r) => r.currency)].slice(0, n).map((c) => ({ id: c, href: `/v1/fx/revaluations?at=${fx.revalueAt}` })),
    action:
      fx.action === null
        ? `the FX positions stand at closing rates at ${fx.revalueAt}: the close would pass its FX checks`
        : `the close would be refused (${fx.refusedWith ?? ""}): ${fx.action}`,
  };
  const items: ChecklistItem[] = [
    item("reconciliation_exceptions", recon, true, "resolve each: POST /v1/reconciliation/runs/:id/exceptions/:itemId/resolution (the queue: GET /v1/reconciliation/exceptions?status=open)", "no open reconciliation exception of a run over the period"),
    item("cash_exceptions", cash, true, "resolve each: POST /v1/cash/statements/:id/entries/:index/resolution (the queue: GET /v1/cash/exceptions?status=open)", "no open unmatched bank statement entry booked in the period"),
    item("bank_payout_exceptions", bankExceptions, true, "resolve each: POST /v1/payouts/bank/exceptions/:id/resolution (GET /v1/payouts/bank/exceptions?status=open)", "no open bank payout exception"),
    item("bank_payouts_in_transit", inTransit, true, "send the bank's camt.054 for them: POST /v1/payouts/bank/confirmations (each: GET /v1/payouts/bank/:id)", "no bank payout instructed in the period is in transit"),
    item("vault_payouts_not_final", vault, true, "wait for their batches to be final on chain, or cancel one: POST /v1/payouts/batches/:id/cancel (each: GET /v1/payouts/:id)", "no vault payout planned before the period's end is in flight"),
    fxItem,
    item("pending_transactions", pending, true, "each is committed or voided by its owner (a payout's reserve, or voided when it expires): GET /v1/transactions/:id", "no pending journal transaction effective in the period"),
    item("dead_webhook_deliveries", dead, false, "for information: redeliver each once its receiver is fixed, POST /v1/webhooks/endpoints/:id/deliveries/:eventId/redeliver", "no webhook delivery of the period was given up"),
  ];
  const ended = before.getTime() <= now.getTime();
  return {
    period,
    ended,
    ready: ended && fx.refusedWith === null && items.every((i) => !i.blocking || i.status === "ok"),
    closeRefusedWith: fx.refusedWith,
    items,
    fx: { revalueAt: fx.revalueAt, positions: fx.positions, rates: fx.rates },
  };
}
