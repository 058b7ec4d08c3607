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
import { formatLocal, instantInWords, isUtcMonthStart, isoToLocalInput, localInputToIso, localZoneLabel, monthBounds, monthOf, nearestUtcMonthStart, parseMonth, skipReason, utcMonthStart, utcOffset, utcTitle } from "../format";
import type { ViewProps } from "../main";
import { href, navigate, type Location } from "../router";
import { Badge, ErrorBox, Fields, Hash, Link, ListTable, LocalTimeInput, Money, Pager, RateAsOf, Show, SkipLink, Time, Title, useFocusLater, useLastValue, useLoad, useUrlForm, useUrlPages } from "../ui";

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

/** The balance `?at=` that is a period's closing: the end is exclusive, a balance at an instant inclusive (GET /v1/accounts/…/balance). */
function closingAt(end: string): string {
  return new Date(Date.parse(end) - 1).toISOString();
}

/** The trial balance's accounts and its per-currency check (a period's, or a close report's); each account links to its balance at the period's `end`. */
export function TrialBalanceTables(props: { accounts: readonly TrialBalanceAccount[]; currencies: readonly TrialBalanceCurrency[]; currency?: string; caption: string; end: string }): JSX.Element {
  const only = props.currency ?? "";
  const currencies = props.currencies.filter((c) => only === "" || c.currency === only);
  const accounts = props.accounts.filter((a) => only === "" || a.currency === only);
  const at = closingAt(props.end);
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
                <Link href={href(`/accounts/${encodeURIComponent(a.account)}/${a.currency}`, { at })}>{a.account}</Link>
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

/**
 * The period form: a month (in the reader's zone or UTC's) or the two instants. The month field is
 * the browser's own (a month, then a year, each typed in its part): it is read once it is left or
 * the form is sent, never rebuilt while typed (a year's first digit is year 0002 until the rest comes).
 */
interface PeriodForm {
  from: string;
  to: string;
  month: string;
  zone: "local" | "utc";
  /** The month was typed since the instants were last set from it. */
  monthDirty: boolean;
}

function periodForm(fromIso: string, toIso: string): PeriodForm {
  const m = fromIso !== "" && toIso !== "" ? monthOf(fromIso, toIso) : null;
  return { from: isoToLocalInput(fromIso), to: isoToLocalInput(toIso), month: m?.month ?? "", zone: m?.zone ?? "local", monthDirty: false };
}

/** The form with its instants set from its month, or null when the month is not a complete one. */
function fromMonth(f: PeriodForm): PeriodForm | null {
  const b = monthBounds(f.month, f.zone);
  return b === null ? null : { ...f, ...b, monthDirty: false };
}

const NOT_A_MONTH = "is not a month the ledger can take: choose a month and a year of four digits";
const NOT_AN_INSTANT = "is not a date and time the ledger can take: a day, a month, a year of four digits and a time";

function TrialBalanceCard(props: { location: Location }): JSX.Element {
  const q = props.location.query;
  const key = q.toString();
  const from = q.get("from") ?? "";
  const to = q.get("to") ?? "";
  const currency = q.get("currency")?.trim().toUpperCase() ?? "";
  const [form, setForm] = useUrlForm(() => periodForm(from, to), key);
  // Fields that cannot be read, by input id: said at the form, and nothing is queried.
  const [problems, setProblems] = useState<Record<string, string>>({});
  useEffect(() => setProblems({}), [key]);
  const [load] = useLoad(() => (to === "" ? Promise.resolve(null) : get<TrialBalance>("/v1/ledger/trial-balance", { from, to })), [from, to]);
  const query = { from, to, currency, revaluations: q.get("revaluations") ?? undefined };
  const monthStart = monthBounds(form.month, "local");
  const zoneAt = monthStart === null ? new Date() : new Date(monthStart.from);
  const offset = utcOffset(zoneAt);
  const setInstant = (k: "from" | "to", v: string) => {
    const next = { ...form, [k]: v };
    const m = monthOf(localInputToIso(next.from) ?? "", localInputToIso(next.to) ?? "");
    setForm({ ...next, month: m?.month ?? "", zone: m?.zone ?? form.zone, monthDirty: false });
    setProblems(({ [`tb-${k}`]: _, ...rest }) => rest);
  };
  const applyMonth = (f: PeriodForm, bad: boolean) => {
    const next = fromMonth(f);
    if (next === null || bad) {
      setForm(f);
      if (f.month !== "" || bad) setProblems((p) => ({ ...p, "tb-month": `Month: “${f.month === "" ? "incomplete" : f.month}” ${NOT_A_MONTH}.` }));
      return;
    }
    setForm(next);
    setProblems(({ "tb-month": _, "tb-from": _f, "tb-to": _t, ...rest }) => rest);
  };
  const invalid = (id: string) => problems[id] !== undefined;
  return (
    <section class="card" aria-labelledby="tb-h">
      <h2 id="tb-h">Trial balance</h2>
      <form
        class="filters"
        role="search"
        aria-label="Trial balance period"
        onSubmit={(e) => {
          e.preventDefault();
          let f = form;
          const found: Record<string, string> = {};
          const input = (id: string) => e.currentTarget.querySelector<HTMLInputElement>(`#${id}`);
          if (f.monthDirty || input("tb-month")?.validity.badInput === true) {
            const next = fromMonth(f);
            if (next === null || input("tb-month")?.validity.badInput === true) found["tb-month"] = `Month: “${f.month === "" ? "incomplete" : f.month}” ${NOT_A_MONTH}.`;
            else f = next;
          }
          for (const [id, label, value] of [
            ["tb-from", "Effective from", f.from],
            ["tb-to", "Effective before", f.to],
          ] as const) {
            // An input the browser cannot read (a part left empty) has the value "": its validity says so.
            if ((value === "" && input(id)?.validity.badInput === true) || (value !== "" && localInputToIso(value) === null)) found[id] = `${label}: “${value === "" ? "incomplete" : value}” ${NOT_AN_INSTANT}.`;
          }
          if (f.to === "" && found["tb-to"] === undefined) found["tb-to"] = "Effective before: enter the period's end.";
          setForm(f);
          setProblems(found);
          if (Object.keys(found).length > 0) return;
          navigate(href("/books", { ...query, from: localInputToIso(f.from) ?? undefined, to: localInputToIso(f.to) ?? undefined }));
        }}
      >
        <div>
          <label for="tb-month">
            Month <span class="zone">({form.zone === "utc" ? "UTC" : localZoneLabel(zoneAt)})</span>
          </label>
          <input
            id="tb-month"
            type="month"
            value={form.month}
            aria-invalid={invalid("tb-month") ? true : undefined}
            aria-describedby={invalid("tb-month") ? "tb-invalid" : undefined}
            // Kept as typed; the period is set from it when the field is left (or the form sent).
            onInput={(e) => setForm({ ...form, month: (e.target as HTMLInputElement).value, monthDirty: true })}
            onBlur={(e) => {
              const bad = (e.target as HTMLInputElement).validity.badInput;
              if (form.monthDirty || bad) applyMonth(form, bad);
            }}
          />
        </div>
        <div>
          <label for="tb-month-zone">Month in</label>
          <select
            id="tb-month-zone"
            value={form.zone}
            aria-describedby={offset === "UTC+00:00" ? undefined : "tb-month-note"}
            onChange={(e) => {
              const f = { ...form, zone: (e.target as HTMLSelectElement).value === "utc" ? ("utc" as const) : ("local" as const) };
              if (parseMonth(f.month) === null) setForm(f);
              else applyMonth(f, false);
            }}
          >
            <option value="local">your zone</option>
            <option value="utc">UTC, the ledger's periods</option>
          </select>
        </div>
        <div>
          <LocalTimeInput id="tb-from" label="Effective from" value={form.from} onInput={(v) => setInstant("from", v)} invalid={invalid("tb-from")} describedBy="tb-invalid" />
        </div>
        <div>
          <LocalTimeInput id="tb-to" label="Effective before" value={form.to} onInput={(v) => setInstant("to", v)} invalid={invalid("tb-to")} describedBy="tb-invalid" />
        </div>
        <div class="buttons">
          <button type="submit">Show</button>
        </div>
      </form>
      {offset !== "UTC+00:00" && (
        <p class="muted" id="tb-month-note">
          The ledger's periods are UTC months: the monthly storage charges are booked at a UTC month's last instant (23:59:59.999 UTC), which a month in your zone ({offset}) leaves out or takes in from the month before. Choose “UTC” for the
          ledger's month.
        </p>
      )}
      {Object.keys(problems).length > 0 && (
        <div class="error" role="alert" id="tb-invalid">
          Nothing was shown: the period cannot be read.
          <ul>
            {Object.entries(problems).map(([id, message]) => (
              <li key={id}>{message}</li>
            ))}
          </ul>
        </div>
      )}
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
                  {!isUtcMonthStart(tb.to) || (tb.from !== null && !isUtcMonthStart(tb.from)) ? " This period is not a UTC month, the ledger's period." : ""}
                </p>
                <div class="filters">
                  <div>
                    <label for="tb-currency">Currency</label>
                    <select id="tb-currency" value={currency} onChange={(e) => navigate(href("/books", { ...query, currency: (e.target as HTMLSelectElement).value }))}>
                      <option value="">every currency</option>
                      {tb.currencies.map((c) => (
                        <option key={c.currency} value={c.currency}>
                          {c.currency}
                        </option>
                      ))}
                    </select>
                  </div>
                </div>
                <p>
                  <SkipLink target="closes-h">Skip the accounts to the period closes</SkipLink>
                </p>
                <TrialBalanceTables accounts={tb.accounts} currencies={tb.currencies} currency={currency} caption="Trial balance" end={tb.to} />
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

/**
 * The close offered: the end of the period shown once it has passed, unless the books are closed
 * there already; then the next period after the latest close (the next UTC month after a close at a
 * UTC month's start, else the next month in the reader's zone). "" when that has not passed yet.
 */
function suggestedClose(periodEnd: string, closedBefore: string | null, now = Date.now()): string {
  let s = periodEnd;
  if (closedBefore !== null && (s === "" || Date.parse(s) <= Date.parse(closedBefore))) {
    if (isUtcMonthStart(closedBefore)) s = utcMonthStart(closedBefore, 1);
    else {
      const d = new Date(closedBefore);
      const month = `${String(d.getFullYear()).padStart(4, "0")}-${String(d.getMonth() + 1).padStart(2, "0")}`;
      s = localInputToIso(monthBounds(month, "local")?.to ?? "") ?? "";
    }
  }
  return s !== "" && Date.parse(s) <= now ? s : "";
}

/**
 * What a reader should know before closing at `iso`: that it is not a UTC month's start (the
 * ledger's periods and its monthly charges are UTC months), and that the last revaluation is before
 * it (once closed, no revaluation can be dated inside the period).
 */
function CloseNotes(props: { iso: string; lastRevaluation: string | null | undefined; onUse?: (iso: string) => void }): JSX.Element | null {
  const { iso } = props;
  const notes: JSX.Element[] = [];
  if (!isUtcMonthStart(iso)) {
    const nearest = nearestUtcMonthStart(iso);
    const lastInstant = closingAt(nearest);
    notes.push(
      <p key="utc">
        {formatLocal(iso)} here is <code>{new Date(iso).toISOString()}</code>, not the start of a UTC month, where the ledger's periods end.{" "}
        {Date.parse(iso) <= Date.parse(lastInstant)
          ? `The monthly storage charges, booked at the UTC month's last instant (${instantInWords(lastInstant)}), and everything else effective until then fall after this close, into the next period.`
          : `Everything effective from the UTC month's start (${instantInWords(nearest)}) until then falls inside the closed period.`}{" "}
        The nearest UTC month boundary is {instantInWords(nearest)}.
        {props.onUse !== undefined && (
          <>
            {" "}
            <button type="button" class="secondary" onClick={() => props.onUse?.(nearest)}>
              Close before {formatLocal(nearest)} instead
            </button>
          </>
        )}
      </p>,
    );
  }
  if (props.lastRevaluation === null) {
    notes.push(<p key="reval">No FX revaluation is booked yet. Once the period is closed, none can be dated inside it: revalue the open positions (below) first if the period should include one.</p>);
  } else if (props.lastRevaluation !== undefined && Date.parse(props.lastRevaluation) < Date.parse(iso)) {
    notes.push(
      <p key="reval">
        The last FX revaluation is at {instantInWords(props.lastRevaluation)}, before this close. Once the period is closed, a revaluation can no longer be dated inside it: revalue the open positions (below) at the period's end first if the
        period should include it.
      </p>,
    );
  }
  return notes.length === 0 ? null : (
    <div class="notice" data-testid="close-notes">
      {notes}
    </div>
  );
}

function CloseForm(props: { closedBefore: string | null; suggested: string; lastRevaluation: string | null | undefined; onClosed: () => void }): JSX.Element {
  const [before, setBefore] = useUrlForm(() => isoToLocalInput(props.suggested), props.suggested);
  const [note, setNote] = useState("");
  const [step, setStep] = useState<"edit" | "confirm">("edit");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<(PeriodClose & { reportDigest: string; anchored: boolean }) | null>(null);
  const focusLater = useFocusLater();
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
      focusLater("closed");
      props.onClosed();
    } catch (e) {
      setError(e);
      setStep("edit");
      focusLater("close-error");
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
          if (iso !== null) {
            setStep("confirm");
            focusLater("close-confirm");
          }
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
          <button type="submit" id="close-review" disabled={iso === null || step === "confirm"}>
            Review the close
          </button>
        </div>
      </form>
      {step === "edit" && iso !== null && <CloseNotes iso={iso} lastRevaluation={props.lastRevaluation} onUse={(at) => setBefore(isoToLocalInput(at))} />}
      {step === "confirm" && iso !== null && (
        <div class="card resolve" role="region" aria-label="Confirm the close" id="close-confirm" tabIndex={-1}>
          <p>
            <strong>
              Close every period before {formatLocal(iso)} ({localZoneLabel(new Date(iso))})
            </strong>
            , that is before <code>{new Date(iso).toISOString()}</code> UTC{props.closedBefore === null ? "" : <> (the books are closed before <Time iso={props.closedBefore} /> now)</>}?
          </p>
          <CloseNotes iso={iso} lastRevaluation={props.lastRevaluation} />
          <p>A close cannot be undone: periods are never reopened, and a later close can only be later still.</p>
          <p class="actions">
            <button type="button" disabled={busy} onClick={() => void close()}>
              {busy ? "Closing…" : "Close the periods"}
            </button>{" "}
            <button
              type="button"
              class="secondary"
              disabled={busy}
              onClick={() => {
                setStep("edit");
                focusLater("close-review");
              }}
            >
              Back
            </button>
          </p>
        </div>
      )}
      {error !== null && <ErrorBox error={error} labels={CLOSE_LABELS} id="close-error" />}
      {done !== null && (
        <p role="status" data-testid="closed" id="closed" tabIndex={-1}>
          Closed: every period before <Time iso={done.closedBefore} /> (close <Link href={href(`/books/closes/${done.id}`)}>{done.id}</Link>). Report digest (sha256): <code class="hash">{done.reportDigest}</code>
          {done.anchored ? ", queued for anchoring." : "; this server has no chain, so it is not anchored."}
        </p>
      )}
    </section>
  );
}

function Closes(props: { session: Session; periodEnd: string; revalued: number }): JSX.Element {
  const [load, reload] = useLoad(() => get<{ closedBefore: string | null; closes: PeriodClose[] }>("/v1/ledger/periods"), []);
  // The newest revaluation, for the close form's note: it must be inside the period before the close.
  const [latest] = useLoad(() => get<{ items: Revaluation[] }>("/v1/fx/revaluations", { limit: 1 }), [props.revalued]);
  const periods = useLastValue(load);
  const lastRevaluation = useLastValue(latest);
  const write = canWrite(props.session);
  return (
    <>
      <section class="card" aria-labelledby="closes-h">
        <h2 id="closes-h" tabIndex={-1}>
          Period closes
        </h2>
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
      {write && (
        <CloseForm
          closedBefore={periods?.closedBefore ?? null}
          // Nothing is offered until the closes are known: the period shown may be closed already.
          suggested={periods === undefined ? "" : suggestedClose(props.periodEnd, periods.closedBefore)}
          lastRevaluation={lastRevaluation === undefined ? undefined : (lastRevaluation.items[0]?.at ?? null)}
          onClosed={reload}
        />
      )}
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
            const why = skipReason(s.reason);
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
          <RevaluationOutcome r={done.revaluation} exists={done.status === "exists"} />
          <RevaluationLines r={done.revaluation} />
        </div>
      )}
    </form>
  );
}

function Revaluations(props: { session: Session; location: Location; onRevalued: () => void }): JSX.Element {
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

export function Books(props: ViewProps): JSX.Element {
  const q = props.location.query;
  const [revalued, setRevalued] = useState(0);
  // The period is the URL's; without one, the current month in the reader's zone.
  const missing = q.get("to") === null;
  useEffect(() => {
    if (!missing) return;
    const now = new Date();
    const month = `${String(now.getFullYear()).padStart(4, "0")}-${String(now.getMonth() + 1).padStart(2, "0")}`;
    const b = monthBounds(month, "local");
    navigate(href("/books", { from: localInputToIso(b?.from ?? "") ?? undefined, to: localInputToIso(b?.to ?? "") ?? undefined, currency: q.get("currency") ?? undefined }), { replace: true });
  }, [missing]);
  if (missing) return <Title sub="The trial balance of a period, the period closes and the FX revaluations.">Books</Title>;
  return (
    <>
      <Title sub="The trial balance of a period, the period closes and the FX revaluations.">Books</Title>
      <TrialBalanceCard location={props.location} />
      <Closes session={props.session} periodEnd={q.get("to") ?? ""} revalued={revalued} />
      <Revaluations session={props.session} location={props.location} onRevalued={() => setRevalued((r) => r + 1)} />
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
              <TrialBalanceTables accounts={report.trialBalance.accounts} currencies={report.trialBalance.currencies} caption="Closed period" end={c.closedBefore} />
            </section>
          </>
        );
      }}
    </Show>
  );
}
