/**
 * Period closes, anchored. Closing a period (the ledger's closePeriod) freezes its figures; the
 * close's report, the trial balance of the closed period with the journal head it closed at, is
 * then fixed for good, so its sha256 is anchored on chain like a reconciliation report: anyone can
 * recompute the report later (GET /v1/ledger/periods/:id/report) and check it against the digest
 * the chain holds (GET /v1/ledger/periods/:id/proof), without trusting our database.
 */
import { createHash } from "node:crypto";
import { AnchorErrors } from "./anchoring/errors.js";
import { Errors, isAppError } from "./errors.js";
import { LedgerErrors } from "./ledger/errors.js";
import type { Ledger, PeriodClose, TrialBalance } from "./ledger/types.js";

export const PERIOD_CLOSE_DOCUMENT = "ledger.period_close";
const REPORT_FORMAT = "entrepot.period_close.v1";

/** What closing needs from anchoring (AnchorService satisfies it). */
export interface CloseAnchor {
  enqueueDocument(doc: { kind: string; id: string; digest: string }): Promise<void>;
  proofOfDocument(kind: string, id: string): Promise<unknown>;
}

export interface PeriodCloseReport {
  format: typeof REPORT_FORMAT;
  close: { id: string; closedBefore: string; previousClosedBefore: string | null; journalSequence: string; journalHash: string };
  /** The closed period's trial balance: [previousClosedBefore, closedBefore), amounts as strings. */
  trialBalance: {
    accounts: Array<{ account: string; currency: string; normalBalance: string; opening: string; debits: string; credits: string; closing: string }>;
    currencies: Array<{ currency: string; debits: string; credits: string; balanced: boolean }>;
  };
}

/** The report's canonical text (keys in a fixed order by construction) and its digest, 0x-prefixed sha256. */
export function reportDigest(report: PeriodCloseReport): string {
  return `0x${createHash("sha256").update(JSON.stringify(report), "utf8").digest("hex")}`;
}

function buildReport(close: PeriodClose, tb: TrialBalance): PeriodCloseReport {
  return {
    format: REPORT_FORMAT,
    close: {
      id: close.id,
      closedBefore: close.closedBefore.toISOString(),
      previousClosedBefore: close.previousClosedBefore === null ? null : close.previousClosedBefore.toISOString(),
      journalSequence: close.journalSequence.toString(),
      journalHash: close.journalHash,
    },
    trialBalance: {
      accounts: tb.accounts.map((a) => ({
        account: a.account,
        currency: a.currency,
        normalBalance: a.normalBalance,
        opening: a.opening.toString(),
        debits: a.debits.toString(),
        credits: a.credits.toString(),
        closing: a.closing.toString(),
      })),
      currencies: tb.currencies.map((c) => ({ currency: c.currency, debits: c.debits.toString(), credits: c.credits.toString(), balanced: c.balanced })),
    },
  };
}

export class PeriodClosing {
  constructor(
    private readonly ledger: Pick<Ledger, "closePeriod" | "periodCloses" | "trialBalance">,
    private readonly anchor: CloseAnchor | null,
  ) {}

  /** Closes the period and queues its report's digest for the next anchoring batch (when a chain is configured). */
  /**
   * Closes every period before `input.before`. The same close again (the latest close, at the same
   * instant with the same note: a retry after a lost answer) answers it as `exists`; any other
   * instant not after the latest close is refused (ENT_LEDGER_PERIOD_CLOSED).
   */
  async close(input: { before: Date; closedBy?: string | null; note?: string | null }): Promise<{ status: "created" | "exists"; close: PeriodClose; digest: string; anchored: boolean }> {
    let close: PeriodClose;
    try {
      close = await this.ledger.closePeriod(input);
    } catch (e) {
      const latest = isAppError(e) && e.code === LedgerErrors.periodClosed.code ? (await this.ledger.periodCloses()).closes[0] : undefined;
      if (latest === undefined || latest.closedBefore.getTime() !== input.before.getTime() || latest.note !== (input.note ?? null)) throw e;
      return { status: "exists", close: latest, digest: (await this.reportOf(latest)).digest, anchored: this.anchor !== null };
    }
    const { digest } = await this.reportOf(close);
    if (this.anchor !== null) await this.anchor.enqueueDocument({ kind: PERIOD_CLOSE_DOCUMENT, id: close.id, digest });
    return { status: "created", close, digest, anchored: this.anchor !== null };
  }

  /** The close's report, recomputed from the journal (a closed period's figures cannot change), and its digest. */
  async report(id: string): Promise<{ report: PeriodCloseReport; digest: string }> {
    const close = (await this.ledger.periodCloses()).closes.find((c) => c.id === id);
    if (close === undefined) throw Errors.notFound(`no period close ${JSON.stringify(id.slice(0, 40))}`, { fields: [{ field: "id", message: "unknown period close" }] });
    return this.reportOf(close);
  }

  private async reportOf(close: PeriodClose): Promise<{ report: PeriodCloseReport; digest: string }> {
    const tb = await this.ledger.trialBalance({ ...(close.previousClosedBefore === null ? {} : { from: close.previousClosedBefore }), to: close.closedBefore });
    const report = buildReport(close, tb);
    return { report, digest: reportDigest(report) };
  }

  /** The inclusion proof of the close's report digest (409 until its batch is submitted). */
  async proof(id: string): Promise<unknown> {
    if (this.anchor === null) throw AnchorErrors.unavailable("anchoring is not configured on this server (no chain)");
    await this.report(id);
    return this.anchor.proofOfDocument(PERIOD_CLOSE_DOCUMENT, id);
  }
}
