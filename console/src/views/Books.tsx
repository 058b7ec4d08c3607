/**
 * The books: a period's trial balance (by effective instant), the period closes with each close's
 * report and its sha256 (anchored on chain), closing every period before an instant (after a
 * confirmation: a close is never undone), and the revaluations of the open FX positions. The
 * period, the currency shown and the revaluation page are the URL's; the forms that write are shown
 * only to a key that may (finance:write), and the service refuses the others anyway.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { canWrite, get, send, type Session } from "../api";
import { formatLocal, isoToLocalInput, localInputToIso, localZoneLabel, utcTitle } from "../format";
import type { ViewProps } from "../main";
import { href, navigate, type Location } from "../router";
import { Badge, ErrorBox, Fields, Hash, Link, ListTable, LocalTimeInput, Money, Pager, Show, Time, Title, useLoad, useUrlForm, useUrlPages } from "../ui";

export interface TrialBalanceAccount {
  account: string;
  currency: string;
  normalBalance: string;
  opening: string;
  debits: string;
  credits: string;
  closing: string;
}

export interface TrialBalanceCurrency {
  currency: string;
  debits: string;
  credits: string;
  balanced: boolean;
}

/** GET /v1/ledger/trial-balance (service/http/schemas/views.ts TrialBalanceView). */
interface TrialBalance {
  basis: "effective";
  from: string | null;
  to: string;
  accounts: TrialBalanceAccount[];
  currencies: TrialBalanceCurrency[];
}

/** service/http/schemas/views.ts PeriodCloseView. */
interface PeriodClose {
  id: string;
  closedBefore: string;
  previousClosedBefore: string | null;
  journalSequence: string;
  journalHash: string;
  closedBy: string | null;
  note: string | null;
  closedAt: string;
}

/** GET /v1/ledger/periods/:id/report (service/closing.ts PeriodCloseReport) and its digest. */
interface CloseReport {
  report: {
    format: string;
    close: { id: string; closedBefore: string; previousClosedBefore: string | null; journalSequence: string; journalHash: string };
    trialBalance: { accounts: TrialBalanceAccount[]; currencies: TrialBalanceCurrency[] };
  };
  digest: string;
}

/** service/http/routes/realisation.ts RevaluationView. */
interface Revaluation {
  transactionId: string | null;
  at: string;
  lines: { currency: string; position: string; positionUsd: string; midRate: string; source: string; asOf: string; unrealised: string; change: string }[];
  skipped: { currency: string; reason: string }[];
  bookedAt: string | null;
}

/** The form fields the service's problems name, in the words of the form's labels. */
const CLOSE_LABELS = { before: "Close every period before", note: "Note" } as const;
const TB_LABELS = { "query.from": "Effective from", "query.to": "Effective before" } as const;
const REVALUE_LABELS = { at: "Revalue open positions at", "query.at": "Revalue open positions at" } as const;

/** The first instant of the local month `offset` months from the one `at` is in, as a datetime-local value. */
function localMonthStart(at: Date, offset: number): string {
  const d = new Date(at.getFullYear(), at.getMonth() + offset, 1);
  return `${String(d.getFullYear()).padStart(4, "0")}-${String(d.getMonth() + 1).padStart(2, "0")}-01T00:00`;
}

/** The trial balance's accounts and its per-currency check (a period's, or a close report's). */
export function TrialBalanceTables(props: { accounts: readonly TrialBalanceAccount[]; currencies: readonly TrialBalanceCurrency[]; currency?: string; caption: string }): JSX.Element {
  const only = props.currency ?? "";
  const currencies = props.currencies.filter((c) => only === "" || c.currency === only);
  const accounts = props.accounts.filter((a) => only === "" || a.currency === only);
  return (
    <>
      <ListTable caption={`${props.caption}: per currency, the period's debits and credits`} showCaption columns={["Currency", ["Debits", "num"], ["Credits", "num"], "Balances"]}>
        {currencies.map((c) => (
          <tr key={c.currency}>
            <td>{c.currency}</td>
            <td class="num">
              <Money minor={c.debits} currency={c.currency} code={false} />
            </td>
            <td class="num">
              <Money minor={c.credits} currency={c.currency} code={false} />
            </td>
            <td>{c.balanced ? <Badge value="balanced" tone="good" /> : <Badge value="does not balance" tone="bad" />}</td>
          </tr>
        ))}
      </ListTable>
      {accounts.length === 0 ? (
        <p class="muted">No account has a posted amount before the period's end.</p>
      ) : (
        <ListTable caption={`${props.caption}: per account, in its normal direction`} showCaption columns={["Account", "Currency", "Normal side", ["Opening", "num"], ["Debits", "num"], ["Credits", "num"], ["Closing", "num"]]}>
          {accounts.map((a) => (
            <tr key={`${a.account}/${a.currency}`}>
              <td>
                <Link href={href(`/accounts/${encodeURIComponent(a.account)}/${a.currency}`)}>{a.account}</Link>
              </td>
              <td>{a.currency}</td>
              <td>{a.normalBalance}</td>
              <td class="num">
                <Money minor={a.opening} currency={a.currency} code={false} />
              </td>
              <td class="num">
                <Money minor={a.debits} currency={a.currency} code={false} />
              </td>
              <td class="num">
                <Money minor={a.credits} currency={a.currency} code={false} />
              </td>
              <td class="num">
                <Money minor={a.closing} currency={a.currency} code={false} />
              </td>
            </tr>
          ))}
        </ListTable>
      )}
    </>
  );
}

function TrialBalanceCard(props: { location: Location }): JSX.Element {
  const q = props.location.query;
  const key = q.toString();
  const from = q.get("from") ?? "";
  const to = q.get("to") ?? "";
  const currency = q.get("currency")?.trim().toUpperCase() ?? "";
  const [form, setForm] = useUrlForm(() => ({ from: isoToLocalInput(from), to: isoToLocalInput(to) }), key);
  const [load] = useLoad(() => (to === "" ? Promise.resolve(null) : get<TrialBalance>("/v1/ledger/trial-balance", { from, to })), [from, to]);
  const query = { from, to, currency, revaluations: q.get("revaluations") ?? undefined };
  return (
    <section class="card" aria-labelledby="tb-h">
      <h2 id="tb-h">Trial balance</h2>
      <form
        class="filters"
        role="search"
        aria-label="Trial balance period"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(href("/books", { ...query, from: localInputToIso(form.from) ?? undefined, to: localInputToIso(form.to) ?? undefined }));
        }}
      >
        <div>
          <label for="tb-month">Month (local)</label>
          <input
            id="tb-month"
            type="month"
            value={/^[0-9]{4}-[0-9]{2}-01T00:00$/.test(form.from) ? form.from.slice(0, 7) : ""}
            onInput={(e) => {
              const v = (e.target as HTMLInputElement).value;
              const [y, m] = v.split("-").map(Number);
              if (y === undefined || m === undefined || Number.isNaN(y) || Number.isNaN(m)) return;
              const start = new Date(y, m - 1, 1);
              setForm({ from: localMonthStart(start, 0), to: localMonthStart(start, 1) });
            }}
          />
        </div>
        <div>
          <LocalTimeInput id="tb-from" label="Effective from" value={form.from} onInput={(v) => setForm({ ...form, from: v })} />
        </div>
        <div>
          <LocalTimeInput id="tb-to" label="Effective before" value={form.to} onInput={(v) => setForm({ ...form, to: v })} />
        </div>
        <div class="buttons">
          <button type="submit" disabled={form.to === ""}>
            Show
          </button>
        </div>
      </form>
      {load.state === "error" ? (
        <ErrorBox error={load.error} labels={TB_LABELS} />
      ) : (
      <Show load={load}>
        {(tb) =>
          tb === null ? (
            <p class="muted">Choose the period's end.</p>
          ) : (
            <>
              <p data-testid="tb-period">
                Effective {tb.from === null ? "since the first entry" : <>from <Time iso={tb.from} /></>} to before <Time iso={tb.to} /> <span class="zone">({localZoneLabel(new Date(tb.to))})</span>: {tb.accounts.length} accounts,{" "}
                {tb.currencies.every((c) => c.balanced) ? "every currency balances." : `${tb.currencies.filter((c) => !c.balanced).length} currency(ies) do not balance.`} Pending legs are left out.
              </p>
              <div class="filters">
                <div>
                  <label for="tb-currency">Currency</label>
                  <select id="tb-currency" value={currency} onChange={(e) => navigate(href("/books", { ...query, currency: (e.target as HTMLSelectElement).value }), { replace: true })}>
                    <option value="">every currency</option>
                    {tb.currencies.map((c) => (
                      <option key={c.currency} value={c.currency}>
                        {c.currency}
                      </option>
                    ))}
                  </select>
                </div>
              </div>
              <TrialBalanceTables accounts={tb.accounts} currencies={tb.currencies} currency={currency} caption="Trial balance" />
            </>
          )
        }
      </Show>
      )}
    </section>
  );
}

/** A close's report digest, as the service recomputes it from the journal. */
function CloseDigest(props: { id: string }): JSX.Element {
  const [load] = useLoad(() => get<CloseReport>(`/v1/ledger/periods/${encodeURIComponent(props.id)}/report`), [props.id]);
  if (load.state === "ok") return <Hash value={load.value.digest} />;
  if (load.state === "error") return <span class="muted">unavailable</span>;
  return <span class="muted">…</span>;
}

function CloseForm(props: { closedBefore: string | null; suggested: string; onClosed: () => void }): JSX.Element {
  const [before, setBefore] = useUrlForm(() => isoToLocalInput(props.suggested), props.suggested);
  const [note, setNote] = useState("");
  const [step, setStep] = useState<"edit" | "confirm">("edit");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<(PeriodClose & { reportDigest: string; anchored: boolean }) | null>(null);
  const iso = localInputToIso(before);
  const close = async () => {
    if (iso === null) return;
    setBusy(true);
    setError(null);
    try {
      const r = await send<PeriodClose & { reportDigest: string; anchored: boolean }>("POST", "/v1/ledger/periods/close", { before: iso, ...(note.trim() === "" ? {} : { note: note.trim() }) });
      setDone(r);
      setStep("edit");
      setNote("");
      props.onClosed();
    } catch (e) {
      setError(e);
      setStep("edit");
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="close-h">
      <h2 id="close-h">Close the books</h2>
      <p class="muted">
        From the close on, nothing is effective before its instant: an event that occurred in a closed period is booked at that instant, its own kept in its metadata, so the closed period's figures never change. The close's report is
        anchored on chain.
      </p>
      <form
        class="filters"
        aria-label="Close the books"
        onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          setDone(null);
          if (iso !== null) setStep("confirm");
        }}
      >
        <div>
          <LocalTimeInput id="close-before" label="Close every period before" value={before} onInput={setBefore} disabled={step === "confirm"} />
        </div>
        <div>
          <label for="close-note">Note</label>
          <input id="close-note" value={note} maxLength={500} disabled={step === "confirm"} onInput={(e) => setNote((e.target as HTMLInputElement).value)} placeholder="December 2024 close" />
        </div>
        <div class="buttons">
          <button type="submit" disabled={iso === null || step === "confirm"}>
            Review the close
          </button>
        </div>
      </form>
      {step === "confirm" && iso !== null && (
        <div class="card resolve" role="region" aria-label="Confirm the close">
          <p>
            <strong>
              Close every period before {formatLocal(iso)} ({localZoneLabel(new Date(iso))})
            </strong>
            , that is before <code>{new Date(iso).toISOString()}</code> UTC{props.closedBefore === null ? "" : <> (the books are closed before <Time iso={props.closedBefore} /> now)</>}?
          </p>
          <p>A close cannot be undone: periods are never reopened, and a later close can only be later still.</p>
          <p class="actions">
            <button type="button" disabled={busy} onClick={() => void close()}>
              {busy ? "Closing…" : "Close the periods"}
            </button>{" "}
            <button type="button" class="secondary" disabled={busy} onClick={() => setStep("edit")}>
              Back
            </button>
          </p>
        </div>
      )}
      {error !== null && <ErrorBox error={error} labels={CLOSE_LABELS} />}
      {done !== null && (
        <p role="status" data-testid="closed">
          Closed: every period before <Time iso={done.closedBefore} /> (close <Link href={href(`/books/closes/${done.id}`)}>{done.id}</Link>). Report digest (sha256): <code class="hash">{done.reportDigest}</code>
          {done.anchored ? ", queued for anchoring." : "; this server has no chain, so it is not anchored."}
        </p>
      )}
    </section>
  );
}

function Closes(props: { session: Session; suggested: string }): JSX.Element {
  const [load, reload] = useLoad(() => get<{ closedBefore: string | null; closes: PeriodClose[] }>("/v1/ledger/periods"), []);
  const write = canWrite(props.session);
  return (
    <>
      <section class="card" aria-labelledby="closes-h">
        <h2 id="closes-h">Period closes</h2>
        <Show load={load}>
          {({ closedBefore, closes }) =>
            closes.length === 0 ? (
              <p class="muted">No period is closed yet.</p>
            ) : (
              <>
                <p>
                  Every period before <Time iso={closedBefore} /> is closed.
                </p>
                <ListTable caption="Period closes, newest first" columns={["Close", "Period", "Journal head", "Report digest (sha256)", "Closed", "Note", "Proof"]}>
                  {closes.map((c) => (
                    <tr key={c.id}>
                      <td>
                        <Link href={href(`/books/closes/${c.id}`)}>{`Close ${c.id}`}</Link>
                      </td>
                      <td>
                        {c.previousClosedBefore === null ? "everything" : <Time iso={c.previousClosedBefore} />} – before <Time iso={c.closedBefore} />
                      </td>
                      <td>
                        {c.journalSequence} <Hash value={c.journalHash} />
                      </td>
                      <td>
                        <CloseDigest id={c.id} />
                      </td>
                      <td>
                        <Time iso={c.closedAt} /> {c.closedBy !== null && <span class="muted">by key {c.closedBy}</span>}
                      </td>
                      <td>{c.note ?? "–"}</td>
                      <td>
                        <Link href={href(`/books/closes/${c.id}/proof`)}>{`Verify close ${c.id}`}</Link>
                      </td>
                    </tr>
                  ))}
                </ListTable>
              </>
            )
          }
        </Show>
      </section>
      {write && <CloseForm closedBefore={load.state === "ok" ? load.value.closedBefore : null} suggested={props.suggested} onClosed={reload} />}
    </>
  );
}

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
                {l.source} <span class="muted">as of</span> <Time iso={l.asOf} />
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
        <ul aria-label="Positions not revalued">
          {r.skipped.map((s) => (
            <li key={s.currency}>
              {s.currency} not revalued: {s.reason}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function RevalueForm(props: { onRevalued: () => void }): JSX.Element {
  const [at, setAt] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<{ status: string; revaluation: Revaluation } | null>(null);
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
          .then((r) => {
            setDone(r);
            props.onRevalued();
          }, setError)
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
      {error !== null && <ErrorBox error={error} labels={REVALUE_LABELS} />}
      {done !== null && (
        <div role="status" data-testid="revalued">
          <p>
            Revaluation at <Time iso={done.revaluation.at} />
            {done.status === "exists" ? " (recorded before)" : ""}:{" "}
            {done.revaluation.transactionId === null ? (
              "nothing changed, so nothing was booked."
            ) : (
              <>
                booked as journal transaction <Link href={href(`/transactions/${done.revaluation.transactionId}`)}>{done.revaluation.transactionId}</Link>.
              </>
            )}
          </p>
          <RevaluationLines r={done.revaluation} />
        </div>
      )}
    </form>
  );
}

function Revaluations(props: { session: Session; location: Location }): JSX.Element {
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
      {canWrite(props.session) && <RevalueForm onRevalued={pages.reload} />}
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

export function Books(props: ViewProps): JSX.Element {
  const q = props.location.query;
  // The period is the URL's; without one, the current month in the reader's zone.
  const missing = q.get("to") === null;
  useEffect(() => {
    if (!missing) return;
    const now = new Date();
    navigate(href("/books", { from: localInputToIso(localMonthStart(now, 0)) ?? undefined, to: localInputToIso(localMonthStart(now, 1)) ?? undefined, currency: q.get("currency") ?? undefined }), { replace: true });
  }, [missing]);
  if (missing) return <Title sub="The trial balance of a period, the period closes and the FX revaluations.">Books</Title>;
  // A close is suggested at the end of the period shown, once that has passed.
  const to = q.get("to") ?? "";
  const suggested = Date.parse(to) <= Date.now() ? to : "";
  return (
    <>
      <Title sub="The trial balance of a period, the period closes and the FX revaluations.">Books</Title>
      <TrialBalanceCard location={props.location} />
      <Closes session={props.session} suggested={suggested} />
      <Revaluations session={props.session} location={props.location} />
    </>
  );
}

/** sha256 of `text` as 0x hex, computed in this browser (null where the page has no Web Crypto: not a secure context). */
async function sha256(text: string): Promise<string | null> {
  if (typeof crypto === "undefined" || crypto.subtle === undefined) return null;
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return `0x${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** One close: its report (the closed period's trial balance and the journal head it closed at) and the report's sha256. */
export function PeriodCloseView(props: ViewProps): JSX.Element {
  const id = props.params["id"] as string;
  const [load] = useLoad(async () => {
    const r = await get<CloseReport>(`/v1/ledger/periods/${encodeURIComponent(id)}/report`);
    // The digest is of the report as JSON.stringify writes it, keys in the order the service sent them.
    return { ...r, recomputed: await sha256(JSON.stringify(r.report)) };
  }, [id]);
  return (
    <Show load={load}>
      {({ report, digest, recomputed }) => {
        const c = report.close;
        return (
          <>
            <Title sub={<Link href={href("/books", { from: c.previousClosedBefore ?? undefined, to: c.closedBefore })}>The same period in the trial balance</Link>}>{`Period close ${c.id}`}</Title>
            <Fields
              rows={[
                ["Period", <>{c.previousClosedBefore === null ? "everything" : <Time iso={c.previousClosedBefore} />} – before <Time iso={c.closedBefore} /></>],
                ["Closed before (UTC)", <span title={utcTitle(c.closedBefore)}>{c.closedBefore}</span>],
                ["Journal head", <>sequence {c.journalSequence} <Hash value={c.journalHash} /></>],
                ["Report format", report.format],
              ]}
            />
            <section aria-labelledby="digest-h">
              <h2 id="digest-h">Report digest</h2>
              <p>
                sha256 of the report below, as the service writes it: <code data-testid="digest">{digest}</code>
              </p>
              <p data-testid="recomputed">
                {recomputed === null ? (
                  "This page cannot compute it again here (the browser offers Web Crypto to secure pages only)."
                ) : recomputed === digest ? (
                  <>
                    <Badge value="matches" tone="good" /> the same sha256 computed in this browser from the report received.
                  </>
                ) : (
                  <>
                    <Badge value="differs" tone="bad" /> computed in this browser from the report received: <code>{recomputed}</code>
                  </>
                )}
              </p>
              <p>
                <Link href={href(`/books/closes/${encodeURIComponent(c.id)}/proof`)}>Verify the digest on chain</Link> (the inclusion proof, checked in this browser against the chain).
              </p>
            </section>
            <section aria-labelledby="report-h">
              <h2 id="report-h">The closed period's trial balance</h2>
              <TrialBalanceTables accounts={report.trialBalance.accounts} currencies={report.trialBalance.currencies} caption="Closed period" />
            </section>
          </>
        );
      }}
    </Show>
  );
}
