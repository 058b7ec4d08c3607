/**
 * The FX revaluations: each open fx:<currency>-USD position restated at the published mid rate in
 * force at an instant, listed newest first (the page is the URL's), and revaluing at an instant
 * (finance:write), which says when positions had to be skipped and why. A controller revalues at a
 * period's last instant (23:59:59.999 UTC on a month's last day, the instant before the period's
 * end): the form takes seconds and milliseconds, offers a chosen month's end and the Books period's,
 * and shows the exact instant it sends and the one revalued at.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { canWrite, get, send, type Session } from "../api";
import { closingAt, formatLocal, instantInWords, isoToLocalInput, localInputToIso, parseMonth, skipReason, utcMonthStart } from "../format";
import { href, type Location } from "../router";
import { ErrorBox, Link, ListTable, LocalTimeInput, Money, Pager, RateAsOf, Show, Time, useFocusLater, useUrlForm, useUrlPages } from "../ui";

/** service/http/routes/realisation.ts RevaluationView. */
export interface Revaluation {
  transactionId: string | null;
  at: string;
  lines: { currency: string; position: string; positionUsd: string; midRate: string; source: string; asOf: string; unrealised: string; change: string }[];
  skipped: { currency: string; code: string; reason: string }[];
  bookedAt: string | null;
}

/** The last instant of a UTC month ("YYYY-MM"), the ledger's period: the instant before the next month starts; null unless a whole month. */
export function utcMonthEnd(month: string): string | null {
  if (parseMonth(month) === null) return null;
  return closingAt(utcMonthStart(`${month}-01T00:00:00.000Z`, 1));
}

/** An instant exactly: in the reader's zone (to the minute) and the whole UTC instant, to the millisecond. */
function Exact(props: { iso: string }): JSX.Element {
  return (
    <>
      <Time iso={props.iso} /> (<code data-testid="instant">{props.iso}</code> UTC)
    </>
  );
}

/** The form fields the service's problems name, in the words of the form's labels. */
const REVALUE_LABELS = { at: "Revalue open positions at", "query.at": "Revalue open positions at" } as const;

function RevaluationLines(props: { r: Revaluation }): JSX.Element {
  const r = props.r;
  return (
    <>
      {r.lines.length > 0 && (
        <ListTable
          caption={`Revaluation at ${formatLocal(r.at)}`}
          columns={["Currency", ["Position", "num"], ["Position (USD)", "num"], ["Mid rate (USD)", "num"], "Source", ["Unrealised (USD)", "num"], ["Booked (USD)", "num"]]}
        >
          {r.lines.map((l) => (
            <tr key={l.currency}>
              <td>{l.currency}</td>
              <td class="num">
                <Money minor={l.position} currency={l.currency} />
              </td>
              <td class="num">
                <Money minor={l.positionUsd} currency="USD" code={false} />
              </td>
              <td class="num">{l.midRate}</td>
              <td>
                {l.source} <span class="muted">as of</span> <RateAsOf iso={l.asOf} />
              </td>
              <td class="num">
                <Money minor={l.unrealised} currency="USD" code={false} />
              </td>
              <td class="num">
                <Money minor={l.change} currency="USD" code={false} />
              </td>
            </tr>
          ))}
        </ListTable>
      )}
      {r.skipped.length > 0 && (
        <ul aria-label="Positions not revalued" data-testid="skipped">
          {r.skipped.map((s) => {
            const why = skipReason(s);
            return (
              <li key={s.currency}>
                {s.currency}: not revalued: {why.words}.
                {why.code !== null && (
                  <small class="code">
                    {" "}
                    <code>{why.code}</code>
                  </small>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </>
  );
}

/** What a revaluation did, in one sentence: booked or not, and whether positions were left out (then it is incomplete). */
function RevaluationOutcome(props: { r: Revaluation; exists: boolean }): JSX.Element {
  const r = props.r;
  const skipped = r.skipped.length;
  const total = skipped + r.lines.length;
  const which = skipped === total ? (total === 1 ? "the open position" : `all ${total} open positions`) : `${skipped} of ${total} open positions`;
  return (
    <p class={skipped > 0 ? "notice" : undefined}>
      Revaluation at <Exact iso={r.at} />
      {props.exists ? " (recorded before)" : ""}
      {skipped > 0 ? (
        <>
          {" "}
          is <strong>incomplete</strong>: {which} {skipped === 1 ? "was" : "were"} skipped because no usable rate was published for {skipped === 1 ? "it" : "them"} (below)
          {r.transactionId === null ? (
            ", and nothing was booked."
          ) : (
            <>
              ; the others are booked as journal transaction <Link href={href(`/transactions/${r.transactionId}`)}>{r.transactionId}</Link>.
            </>
          )}
        </>
      ) : r.transactionId === null ? (
        ": nothing changed, so nothing was booked."
      ) : (
        <>
          : booked as journal transaction <Link href={href(`/transactions/${r.transactionId}`)}>{r.transactionId}</Link>.
        </>
      )}
    </p>
  );
}

/**
 * `periodEnd`: the Books period's end (exclusive, the URL's `to`), offered as "the period's end",
 * the instant before it.
 */
function RevalueForm(props: { periodEnd: string | null; onRevalued: () => void }): JSX.Element {
  const [at, setAt] = useState("");
  const periodLast = props.periodEnd === null || Number.isNaN(Date.parse(props.periodEnd)) ? null : closingAt(props.periodEnd);
  // The month offered first: the one the Books period ends in (UTC), else none chosen yet.
  const [month, setMonth] = useUrlForm(() => (periodLast === null ? "" : periodLast.slice(0, 7)), props.periodEnd ?? "");
  const monthEnd = utcMonthEnd(month);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<{ status: string; revaluation: Revaluation } | null>(null);
  // The button is disabled while the request runs, which takes focus from it: the outcome gets it.
  const focusLater = useFocusLater();
  const iso = localInputToIso(at);
  return (
    <form
      class="revalue"
      aria-labelledby="revalue-h"
      onSubmit={(e) => {
        e.preventDefault();
        if (iso === null) return;
        setBusy(true);
        setError(null);
        setDone(null);
        send<{ status: string; revaluation: Revaluation }>("POST", "/v1/fx/revaluations", undefined, { at: iso })
          .then(
            (r) => {
              setDone(r);
              focusLater("revalued");
              props.onRevalued();
            },
            (err: unknown) => {
              setError(err);
              focusLater("revalue-error");
            },
          )
          .finally(() => setBusy(false));
      }}
    >
      <h3 id="revalue-h">Revalue the open positions</h3>
      <div class="filters">
        <div>
          <LocalTimeInput id="rv-at" label="Revalue open positions at" value={at} onInput={setAt} seconds />
        </div>
        <div class="buttons">
          <button type="submit" disabled={iso === null || busy}>
            {busy ? "Revaluing…" : "Revalue"}
          </button>
        </div>
      </div>
      <div class="filters">
        <div>
          <label for="rv-month">A month's end (UTC, the ledger's periods)</label>
          <input id="rv-month" type="month" value={month} onInput={(e) => setMonth((e.target as HTMLInputElement).value)} />
        </div>
        <div class="buttons">
          <button type="button" class="secondary" disabled={monthEnd === null} onClick={() => monthEnd !== null && setAt(isoToLocalInput(monthEnd))}>
            Use the end of the month
          </button>
          {periodLast !== null && (
            <>
              {" "}
              <button type="button" class="secondary" onClick={() => setAt(isoToLocalInput(periodLast))}>
                Use this period's end
              </button>
            </>
          )}
        </div>
      </div>
      <p class="muted" data-testid="revalue-sends">
        {iso === null ? (
          "Choose the instant: to the millisecond, e.g. a period's last instant (23:59:59.999 UTC on a month's last day)."
        ) : (
          <>
            Revalues at {instantInWords(iso)}
            {iso === monthEnd ? `: the last instant of ${month} (UTC)` : iso === periodLast ? ": the last instant of this period, before its end" : ""}.
          </>
        )}
      </p>
      {error !== null && <ErrorBox error={error} labels={REVALUE_LABELS} id="revalue-error" />}
      {done !== null && (
        <div role="status" data-testid="revalued" id="revalued" tabIndex={-1}>
          <RevaluationOutcome r={done.revaluation} exists={done.status === "exists"} />
          <RevaluationLines r={done.revaluation} />
        </div>
      )}
    </form>
  );
}

export function Revaluations(props: { session: Session; location: Location; onRevalued: () => void }): JSX.Element {
  const pages = useUrlPages(
    props.location,
    "revaluations",
    async (cursor) => {
      const page = await get<{ items: Revaluation[]; nextCursor: string | null }>("/v1/fx/revaluations", { limit: 10, cursor });
      return { items: page.items, next: page.nextCursor };
    },
    [],
  );
  return (
    <section class="card" aria-labelledby="reval-h">
      <h2 id="reval-h">FX revaluations</h2>
      <p class="muted">Each open fx:&lt;currency&gt;-USD position restated at the published mid rate in force at an instant; only the change since the previous revaluation is booked (platform:fx:unrealised_gain_loss).</p>
      {!canWrite(props.session) && (
        <p class="muted" data-testid="revalue-read-only">
          Revaluing the open positions takes a finance:write key; this session's key reads them only.
        </p>
      )}
      {canWrite(props.session) && (
        <RevalueForm
          periodEnd={props.location.query.get("to")}
          onRevalued={() => {
            pages.reload();
            props.onRevalued();
          }}
        />
      )}
      <Show load={pages.load}>
        {({ items }) =>
          items.length === 0 ? (
            <p class="muted">No revaluation booked.</p>
          ) : (
            <ol class="plain" aria-label="Revaluations, newest first">
              {items.map((r) => (
                <li key={r.transactionId ?? r.at}>
                  <h3>
                    At <Exact iso={r.at} />
                  </h3>
                  <p class="muted">
                    {r.transactionId === null ? "nothing booked" : <>Journal transaction <Link href={href(`/transactions/${r.transactionId}`)}>{r.transactionId}</Link></>}, booked <Time iso={r.bookedAt} />
                  </p>
                  <RevaluationLines r={r} />
                </li>
              ))}
            </ol>
          )
        }
      </Show>
      <Pager pages={pages} label="Revaluations" />
    </section>
  );
}
