/**
 * The FX revaluations: each open fx:<currency>-USD position restated at the published mid rate in
 * force at an instant, listed newest first (the page is the URL's), and revaluing at an instant
 * (finance:write), which says when positions had to be skipped and why.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { canWrite, get, send, type Session } from "../api";
import { formatLocal, localInputToIso, skipReason } from "../format";
import { href, type Location } from "../router";
import { ErrorBox, Link, ListTable, LocalTimeInput, Money, Pager, RateAsOf, Show, Time, useFocusLater, useUrlPages } from "../ui";

/** service/http/routes/realisation.ts RevaluationView. */
export interface Revaluation {
  transactionId: string | null;
  at: string;
  lines: { currency: string; position: string; positionUsd: string; midRate: string; source: string; asOf: string; unrealised: string; change: string }[];
  skipped: { currency: string; code: string; reason: string }[];
  bookedAt: string | null;
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
      Revaluation at <Time iso={r.at} />
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

function RevalueForm(props: { onRevalued: () => void }): JSX.Element {
  const [at, setAt] = useState("");
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
          <LocalTimeInput id="rv-at" label="Revalue open positions at" value={at} onInput={setAt} />
        </div>
        <div class="buttons">
          <button type="submit" disabled={iso === null || busy}>
            {busy ? "Revaluing…" : "Revalue"}
          </button>
        </div>
      </div>
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
      {canWrite(props.session) && (
        <RevalueForm
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
                    At <Time iso={r.at} />
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
