/**
 * Remittances from a gateway report's payout lines: what each payout (Adyen MerchantPayout, Stripe
 * payout) paid into the bank, split by the buyer currency of the rows it pays out, as the input of
 * the ledger's remittance (settlement/realisation.ts), which clears the gateway's receivable and
 * realises the acquirer's FX.
 *
 * Per payout row (its batch and net currency N) the rows of the same batch settled in N are grouped
 * by their buyer currency B (a row without one, such as a fee or a deposit correction, counts as N):
 *   - B = N, nothing converted: the group settles the sum of its nets, and clears exactly that;
 *   - B != N, converted by the acquirer: it clears the rows' buyer-side net (gross less fee, signed
 *     by direction, what the ledger's receivable took in B) and settles the sum of their nets in N.
 * A row listed twice counts once (as in the payout check). A payout whose groups do not add up to
 * it (the payout_batch exception) is skipped: the bank received something the rows do not explain.
 *
 * What a converted row clears is what the LEDGER booked on the receivable for its event (`booked`:
 * the event matched by reference, amount less fee, signed), when the row agrees with it up to the
 * rounding of the fee's conversion back at the row's rate (feeSlack, plus the default fee
 * tolerance). The report's own figure would leave that rounding on the receivable for ever; the
 * ledger's figure lets the remittance realise it as FX (settled USD against the cleared amount's
 * booked USD). A row the ledger disagrees with beyond that (the run's amount_mismatch) clears its
 * own figure: such a difference is an exception to resolve, never FX.
 *
 * Ids: each remittance is `<batch>` (one buyer currency) or `<batch>-<B>` (several), in file order,
 * as it always was; a later payout line of the same batch (Adyen pays each net currency separately)
 * whose id is already taken by a DIFFERENT remittance gets `<batch>-<B>`, or `<batch>-<N>-<B>` if
 * that is taken too. The first claimant keeps the old id, so a replay of an import booked before
 * answers `exists`; the same payout line twice derives the same id (booked once).
 */
import { REMITTANCE_ID } from "../settlement/index.js";
import { DEFAULT_RULES } from "./rules.js";
import type { ReportRow } from "./types.js";

/** What the ledger booked for the event a report row is matched to (null: none found). */
export type BookedSide = (row: ReportRow) => { currency: string; amount: bigint; fee: bigint } | null;

const FEE_TOLERANCE = BigInt(DEFAULT_RULES.feeToleranceMinor);

export interface PayoutRemittance {
  /** The payout's batch, or `<batch>-<B>` when it pays out rows in several buyer currencies (see the ids above). */
  remittanceId: string;
  batch: string;
  /** Report line of the payout row. */
  line: number;
  currency: string;
  amount: bigint;
  settledCurrency: string;
  settledAmount: bigint;
  occurredAt: Date;
}

export interface SkippedPayout {
  batch: string;
  line: number;
  currency: string | null;
  reason: string;
}


interface Group {
  settled: bigint;
  /** Buyer-side net (B != N only); null once a row without a buyer amount joins a converted group. */
  cleared: bigint | null;
}

/** Collects a report's rows (ReportReader's `row` handler) and derives its payouts' remittances. */
export class PayoutRemittances {
  readonly #payouts: ReportRow[] = [];
  #unnamed = 0;
  /** batch -> net currency -> kind and row id -> row (a duplicated row counts once). */
  readonly #rows = new Map<string, Map<string, Map<string, ReportRow>>>();

  row(r: ReportRow): void {
    if (r.batch === null || r.netCurrency === null || r.net === null) return;
    if (r.kind === "payout") {
      this.#payouts.push(r);
      return;
    }
    const byCurrency = this.#rows.get(r.batch) ?? new Map<string, Map<string, ReportRow>>();
    this.#rows.set(r.batch, byCurrency);
    const rows = byCurrency.get(r.netCurrency) ?? new Map<string, ReportRow>();
    byCurrency.set(r.netCurrency, rows);
    // The same record twice (kind and id) is paid out once; a row without an id always counts.
    const key = r.rowId === "" ? `#${this.#unnamed++}` : `${r.kind}\u0000${r.rowId}`;
    if (!rows.has(key)) rows.set(key, r);
  }

  /** The buyer-side amount a converted row clears: the ledger's booking when the row agrees with it (see the header). */
  static #cleared(r: ReportRow, booked: BookedSide | undefined): bigint | null {
    if (r.amount === null) return null;
    const sign = r.net !== null && r.net < 0n ? -1n : 1n;
    const own = sign * r.amount - (r.fee ?? 0n);
    const b = booked?.(r) ?? null;
    if (b === null || r.fee === null || b.currency !== r.currency || b.amount !== r.amount) return own;
    const off = r.fee - b.fee;
    if ((off < 0n ? -off : off) > r.feeSlack + FEE_TOLERANCE) return own;
    return sign * b.amount - b.fee;
  }

  finish(booked?: BookedSide): { remittances: PayoutRemittance[]; skipped: SkippedPayout[] } {
    const remittances: PayoutRemittance[] = [];
    const skipped: SkippedPayout[] = [];
    /** Ids given so far (they start with their batch), with the body each was given to: the same body is the same remittance. */
    const taken = new Map<string, string>();
    for (const p of this.#payouts) {
      const batch = p.batch ?? "";
      const N = p.netCurrency ?? "";
      const paid = -(p.net ?? 0n);
      const skip = (reason: string) => skipped.push({ batch, line: p.line, currency: N, reason });
      if (paid <= 0n) {
        skip("the payout moves nothing to the bank");
        continue;
      }
      const groups = new Map<string, Group>();
      for (const r of this.#rows.get(batch)?.get(N)?.values() ?? []) {
        const B = r.currency ?? N;
        const g = groups.get(B) ?? { settled: 0n, cleared: 0n };
        groups.set(B, g);
        g.settled += r.net ?? 0n;
        if (B !== N) {
          const c = PayoutRemittances.#cleared(r, booked);
          g.cleared = g.cleared === null || c === null ? null : g.cleared + c;
        }
      }
      const total = [...groups.values()].reduce((s, g) => s + g.settled, 0n);
      if (total !== paid) {
        skip(`the payout is ${paid} ${N} but the rows it pays out net ${total}: resolve the payout_batch exception, then post the remittance through POST /v1/remittances`);
        continue;
      }
      // Every group must stand on its own: cash cannot be split where a currency's rows net
      // nothing (a fee charged in the payout's currency) or where a converted row's buyer side is unknown.
      const sorted = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
      const bad = sorted.find(([B, g]) => g.settled <= 0n || g.cleared === null || (B !== N && g.cleared <= 0n));
      if (bad !== undefined) {
        const [B, g] = bad;
        skip(
          g.settled <= 0n
            ? `the ${B} rows of the payout net ${g.settled} ${N}: its cash cannot be split by buyer currency; post the remittance through POST /v1/remittances`
            : `the ${B} rows converted to ${N} include a row without a buyer amount: their ${B} side is unknown`,
        );
        continue;
      }
      const several = sorted.length > 1;
      for (const [B, g] of sorted) {
        const amount = B === N ? g.settled : (g.cleared ?? 0n);
        const body = `${B}\u0000${amount}\u0000${N}\u0000${g.settled}\u0000${p.occurredAt}`;
        const free = (id: string) => taken.get(id) === undefined || taken.get(id) === body;
        const remittanceId = [several ? `${batch}-${B}` : batch, `${batch}-${B}`, `${batch}-${N}-${B}`].find(free) ?? `${batch}-${N}-${B}-${p.line}`;
        taken.set(remittanceId, body);
        if (!REMITTANCE_ID.test(remittanceId)) {
          skipped.push({ batch, line: p.line, currency: B, reason: `the batch ${JSON.stringify(batch.slice(0, 40))} is not a usable remittance id (1-128 of A-Z a-z 0-9 . _ : -)` });
          continue;
        }
        remittances.push({
          remittanceId,
          batch,
          line: p.line,
          currency: B,
          amount,
          settledCurrency: N,
          settledAmount: g.settled,
          occurredAt: new Date(p.occurredAt),
        });
      }
    }
    return { remittances, skipped };
  }
}
