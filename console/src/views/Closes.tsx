/**
 * The period closes: the list, each close with its report's sha256 (anchored on chain); closing
 * every period before an instant (finance:write, after a confirmation: a close is never undone),
 * and when the service refuses it because FX positions are not revalued at the period's last
 * instant, what each currency's revaluation there would book or why it skips, a revaluation at
 * that instant, or a close anyway with a note; when it refuses it because the positions stand at
 * closing rates older than it allows (CLOSE_MAX_RATE_AGE_DAYS), each currency's rate, its instant and
 * its age, and the same two ways on; and one close's report page, its digest computed again in the
 * browser.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { ApiError, canWrite, get, send, type Session } from "../api";
import { closingAt, formatLocal, instantInWords, isUtcMonthStart, isoToLocalInput, localInputToIso, localZoneLabel, monthBounds, nearestUtcMonthStart, rateAsOf, skipReason, utcMonthStart, utcTitle } from "../format";
import type { ViewProps } from "../main";
import { href } from "../router";
import { Badge, ConfirmActions, ErrorBox, Fields, Hash, Link, ListTable, LocalTimeInput, Money, RateAsOf, Show, Time, Title, useFocusLater, useLastValue, useLoad, useUrlForm } from "../ui";
import type { Revaluation } from "./Revaluations";
import { TrialBalanceTables, type TrialBalanceAccount, type TrialBalanceCurrency } from "./TrialBalanceTables";

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
  /** What a close accepted with "fxNotRevalued": "accept" left unrevalued; null otherwise. */
  fxNotRevalued: UnrevaluedPosition[] | null;
  /** The closing rates older than the limit a close accepted with "fxRateStale": "accept" stands on; null otherwise. */
  fxRateStale: StaleClosingRate[] | null;
}

/** service/http/schemas/views.ts StaleClosingRateView: a position standing at a rate older than a close allows. */
interface StaleClosingRate {
  currency: string;
  position: string;
  midRate: string;
  source: string;
  asOf: string;
  ageSeconds: number;
  maxAgeSeconds: number;
  reason: string;
}

/** The 409 ENT_LEDGER_PERIOD_FX_RATE_STALE's details (service/closing.ts). */
interface StaleRefusal {
  before: string;
  revalueAt: string;
  maxAgeDays: number;
  rates: StaleClosingRate[];
}

function staleRefusalOf(e: unknown): StaleRefusal | null {
  if (!(e instanceof ApiError) || e.code !== "ENT_LEDGER_PERIOD_FX_RATE_STALE") return null;
  const d = e.details as Partial<StaleRefusal> | undefined;
  return d !== undefined && typeof d.revalueAt === "string" && Array.isArray(d.rates) ? { before: d.before ?? "", revalueAt: d.revalueAt, maxAgeDays: d.maxAgeDays ?? 0, rates: d.rates } : null;
}

/** An age in seconds as days, two decimals, rounded down (never younger than it is). */
const ageInDays = (seconds: number) => `${(Math.floor(seconds / 864) / 100).toFixed(2)} days`;

/** service/http/schemas/views.ts UnrevaluedPositionView: one FX position not restated at a period's last instant. */
interface UnrevaluedPosition {
  currency: string;
  status: "would_book" | "skipped";
  position: string | null;
  change: string | null;
  midRate: string | null;
  code: string | null;
  reason: string;
}

/** The 409 ENT_LEDGER_PERIOD_FX_NOT_REVALUED's details (service/closing.ts). */
interface FxRefusal {
  before: string;
  revalueAt: string;
  positions: UnrevaluedPosition[];
}

function fxRefusalOf(e: unknown): FxRefusal | null {
  if (!(e instanceof ApiError) || e.code !== "ENT_LEDGER_PERIOD_FX_NOT_REVALUED") return null;
  const d = e.details as Partial<FxRefusal> | undefined;
  return d !== undefined && typeof d.revalueAt === "string" && Array.isArray(d.positions) ? { before: d.before ?? "", revalueAt: d.revalueAt, positions: d.positions } : null;
}

/** GET /v1/ledger/periods/:id/report (service/closing.ts PeriodCloseReport) and its digest. */
interface CloseReport {
  report: {
    format: string;
    close: { id: string; closedBefore: string; previousClosedBefore: string | null; journalSequence: string; journalHash: string };
    trialBalance: { accounts: TrialBalanceAccount[]; currencies: TrialBalanceCurrency[] };
    fxNotRevalued?: UnrevaluedPosition[];
    fxRateStale?: StaleClosingRate[];
  };
  digest: string;
}

/** Per currency, what the revaluation at a period's last instant would book, or why it would skip the position. */
function UnrevaluedTable(props: { positions: UnrevaluedPosition[]; at: string; caption: string }): JSX.Element {
  return (
    <ListTable caption={props.caption} columns={["Currency", "Position", `The revaluation at ${formatLocal(props.at)}`]}>
      {props.positions.map((p) => {
        const why = p.status === "skipped" ? skipReason({ code: p.code ?? "", reason: p.reason }) : null;
        return (
          <tr key={p.currency}>
            <td>{p.currency}</td>
            <td class="num">{p.position === null ? <span class="muted">–</span> : <Money minor={p.position} currency={p.currency} />}</td>
            <td>
              {why === null ? (
                <>
                  would book <Money minor={p.change} currency="USD" /> to <code>fx:{p.currency}-USD:revaluation</code> at the mid rate {p.midRate}: the position moved since the last revaluation, or the rate did
                </>
              ) : (
                <>
                  would skip it: {why.words}.
                  {why.code !== null && (
                    <small class="code">
                      {" "}
                      <code>{why.code}</code>
                    </small>
                  )}
                </>
              )}
            </td>
          </tr>
        );
      })}
    </ListTable>
  );
}

/**
 * A close refused because FX positions are not revalued at the period's last instant: each currency,
 * what to do (publish the closing rates, revalue at that instant, close again), a revaluation there
 * in one click, and the close anyway, only with a note saying why (kept with the close and its report).
 */
function FxRefusalBox(props: { refusal: FxRefusal; busy: boolean; onRevalue: () => void; onAccept: (note: string) => void }): JSX.Element {
  const { refusal } = props;
  // The reader writes why: the close's own note says what the period is, not why it may skip IAS 21.
  const [why, setWhy] = useState("");
  const [confirming, setConfirming] = useState(false);
  const focusLater = useFocusLater();
  const at = refusal.revalueAt;
  return (
    <div class="error" role="alert" id="close-error" tabIndex={-1} data-testid="fx-not-revalued">
      <p>
        Not closed: the FX positions are not revalued at the period's last instant, {instantInWords(at)}. IAS 21 restates them at the closing rate before a period is reported; per currency:
      </p>
      <UnrevaluedTable positions={refusal.positions} at={at} caption="FX positions not revalued at the period's end" />
      <p>
        To close: publish the rates in force at that instant (the closing rates) where a position is skipped, revalue the open positions at it, then close again.{" "}
        <button type="button" class="secondary" disabled={props.busy} onClick={props.onRevalue}>
          Revalue at {formatLocal(at)}
        </button>
      </p>
      <form
        aria-label="Close without revaluing"
        onSubmit={(e) => {
          e.preventDefault();
          if (why.trim() === "") return;
          setConfirming(true);
          focusLater("close-accept-confirm");
        }}
      >
        <p>Or close anyway, leaving these positions as they stand: the close keeps your note saying why, and its anchored report what was left.</p>
        <label for="close-accept-note">Why close without revaluing (note, required)</label>{" "}
        <input id="close-accept-note" value={why} maxLength={500} required disabled={confirming} onInput={(e) => setWhy((e.target as HTMLInputElement).value)} />{" "}
        <button type="submit" id="close-accept-review" disabled={props.busy || confirming || why.trim() === ""}>
          Review closing without revaluing
        </button>
      </form>
      {confirming && (
        <AcceptConfirm
          id="close-accept-confirm"
          label="Confirm closing without revaluing"
          before={refusal.before}
          accepted={`the FX positions in ${refusal.positions.map((p) => p.currency).join(", ")} left as they stand, not revalued at the period's last instant (${formatLocal(at)})`}
          note={why.trim()}
          action="Close without revaluing"
          busy={props.busy}
          onConfirm={() => props.onAccept(why.trim())}
          onBack={() => {
            setConfirming(false);
            focusLater("close-accept-review");
          }}
        />
      )}
      <small class="code">
        <code>ENT_LEDGER_PERIOD_FX_NOT_REVALUED</code>
      </small>
    </div>
  );
}

/**
 * The confirmation of its own a close accepting a refusal takes: what is accepted and the note, as
 * they will be kept with the close and in its report, before anything is sent.
 */
function AcceptConfirm(props: { id: string; label: string; before: string; accepted: string; note: string; action: string; busy: boolean; onConfirm: () => void; onBack: () => void }): JSX.Element {
  return (
    <div class="card resolve" role="region" aria-label={props.label} id={props.id} tabIndex={-1} data-testid="accept-confirm">
      <p>
        <strong>
          Close every period before {props.before === "" ? "the instant reviewed" : `${formatLocal(props.before)} (${localZoneLabel(new Date(props.before))})`}
        </strong>{" "}
        accepting {props.accepted}?
      </p>
      <p>
        With the note: <q data-testid="accept-note">{props.note}</q> (kept with the close and shown in its list entry and on its report page).
      </p>
      <p>A close cannot be undone: periods are never reopened, and a later close can only be later still.</p>
      <p class="actions">
        <button type="button" disabled={props.busy} onClick={props.onConfirm}>
          {props.busy ? "Closing…" : props.action}
        </button>{" "}
        <button type="button" class="secondary" disabled={props.busy} onClick={props.onBack}>
          Back
        </button>
      </p>
    </div>
  );
}

/** Per currency, the closing rate a position stands at, its own instant and its age at the period's last instant, against the limit. */
function StaleRatesTable(props: { rates: StaleClosingRate[]; at: string; caption: string }): JSX.Element {
  return (
    <ListTable caption={props.caption} columns={["Currency", "Position", "Mid rate (USD per unit)", "As of", `Age at ${formatLocal(props.at)}`, "Limit"]}>
      {props.rates.map((r) => (
        <tr key={r.currency}>
          <td>{r.currency}</td>
          <td class="num">
            <Money minor={r.position} currency={r.currency} />
          </td>
          <td class="num">
            {r.midRate} <small class="muted">{r.source}</small>
          </td>
          <td>
            <RateAsOf iso={r.asOf} />
          </td>
          <td class="num">{ageInDays(r.ageSeconds)}</td>
          <td class="num">{ageInDays(r.maxAgeSeconds)}</td>
        </tr>
      ))}
    </ListTable>
  );
}

/**
 * A close refused because the positions stand at closing rates older than it allows: each currency's
 * rate, its instant and age; what to do (publish the period end's rates, revalue at that instant
 * again, close again), the revaluation in one click, and the close on these rates, only with a note.
 */
function StaleRefusalBox(props: { refusal: StaleRefusal; busy: boolean; onRevalue: () => void; onAccept: (note: string) => void }): JSX.Element {
  const { refusal } = props;
  // The reader writes why: the close's own note says what the period is, not why stale rates will do.
  const [why, setWhy] = useState("");
  const [confirming, setConfirming] = useState(false);
  const focusLater = useFocusLater();
  const at = refusal.revalueAt;
  return (
    <div class="error" role="alert" id="close-error" tabIndex={-1} data-testid="fx-rate-stale">
      <p>
        Not closed: the FX positions stand at closing rates older than {refusal.maxAgeDays} days at the period's last instant, {instantInWords(at)}. IAS 21 translates them at the spot rate at the period's end; per currency:
      </p>
      <StaleRatesTable rates={refusal.rates} at={at} caption="Closing rates older than the close allows" />
      <p>
        To close: publish the period end's rates (a later valid-from than these, or another source), revalue the open positions at that instant again (it books the change), then close again.{" "}
        <button type="button" class="secondary" disabled={props.busy} onClick={props.onRevalue}>
          Revalue at {formatLocal(at)}
        </button>
      </p>
      <form
        aria-label="Close on these rates"
        onSubmit={(e) => {
          e.preventDefault();
          if (why.trim() === "") return;
          setConfirming(true);
          focusLater("close-stale-confirm");
        }}
      >
        <p>Or close on these rates anyway: the close keeps your note saying why, and its anchored report these rates.</p>
        <label for="close-stale-note">Why close on these rates (note, required)</label>{" "}
        <input id="close-stale-note" value={why} maxLength={500} required disabled={confirming} onInput={(e) => setWhy((e.target as HTMLInputElement).value)} />{" "}
        <button type="submit" id="close-stale-review" disabled={props.busy || confirming || why.trim() === ""}>
          Review closing on these rates
        </button>
      </form>
      {confirming && (
        <AcceptConfirm
          id="close-stale-confirm"
          label="Confirm closing on these rates"
          before={refusal.before}
          accepted={`the FX positions in ${refusal.rates.map((r) => `${r.currency} (rate as of ${rateAsOf(r.asOf).text}, ${ageInDays(r.ageSeconds)} old)`).join(", ")} standing at closing rates older than ${refusal.maxAgeDays} days at the period's last instant (${formatLocal(at)})`}
          note={why.trim()}
          action="Close on these rates"
          busy={props.busy}
          onConfirm={() => props.onAccept(why.trim())}
          onBack={() => {
            setConfirming(false);
            focusLater("close-stale-review");
          }}
        />
      )}
      <small class="code">
        <code>ENT_LEDGER_PERIOD_FX_RATE_STALE</code>
      </small>
    </div>
  );
}

/**
 * What a revaluation at a period's last instant did, by the API's status: 201 booked the change;
 * 200 `exists` (the one there is recorded, no position moved since) and 200 `nothing` booked nothing,
 * so the positions already stand at the rates in force then: only fresher rates change that.
 */
export function revaluedInWords(at: string, r: { status: string; revaluation: { transactionId: string | null; skipped: unknown[] } } | null): string {
  const skipped = r?.revaluation.skipped.length ?? 0;
  const skips = skipped === 0 ? "" : ` ${skipped} position(s) skipped: no rate in force then, publish their rates first.`;
  if (r?.status === "exists" || r?.status === "nothing") {
    const before = r.status === "exists" && r.revaluation.transactionId !== null ? ` (the revaluation there is recorded already, journal transaction ${r.revaluation.transactionId})` : "";
    return `Nothing new to book at ${instantInWords(at)}${before}: the positions already stand at the rates in force then.${skips} If those rates are too old, publish the period end's rates first, then revalue again.`;
  }
  const id = r?.revaluation.transactionId ?? null;
  return `Revalued at ${instantInWords(at)}${id === null ? "" : `: booked as journal transaction ${id}`}.${skips} Review the close again.`;
}

/** The form fields the service's problems name, in the words of the form's labels. */
const CLOSE_LABELS = { before: "Close every period before", note: "Note" } as const;

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
 * ledger's periods and its monthly charges are UTC months), and that the last revaluation is not at
 * the period's last instant (the service refuses the close while one there would book or skip
 * anything; once closed, no revaluation can be dated inside the period).
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
  const last = closingAt(iso);
  if (props.lastRevaluation === null) {
    notes.push(
      <p key="reval">
        No FX revaluation is booked yet. A close is refused while open FX positions are not revalued at the period's last instant ({instantInWords(last)}): revalue them there (below) first. Once the period is closed, no revaluation can be
        dated inside it.
      </p>,
    );
  } else if (props.lastRevaluation !== undefined && Date.parse(props.lastRevaluation) < Date.parse(last)) {
    notes.push(
      <p key="reval">
        The last FX revaluation is at {instantInWords(props.lastRevaluation)}, before the period's last instant ({instantInWords(last)}). The close is refused while a revaluation there would book anything or skip a position: revalue the open
        positions (below) at that instant first.
      </p>,
    );
  } else if (props.lastRevaluation !== undefined && Date.parse(props.lastRevaluation) > Date.parse(last)) {
    notes.push(
      <p key="reval">
        The last FX revaluation is at {instantInWords(props.lastRevaluation)}, after this period's last instant ({instantInWords(last)}): none can be booked there any more, so if the positions at that instant are not as restated, the close is
        refused and can only be made with a note accepting them as they stand.
      </p>,
    );
  }
  return notes.length === 0 ? null : (
    <div class="notice" data-testid="close-notes">
      {notes}
    </div>
  );
}

function CloseForm(props: { closedBefore: string | null; suggested: string; lastRevaluation: string | null | undefined; onClosed: () => void; onRevalued: () => void }): JSX.Element {
  const [before, setBefore] = useUrlForm(() => isoToLocalInput(props.suggested), props.suggested);
  const [note, setNote] = useState("");
  const [step, setStep] = useState<"edit" | "confirm">("edit");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<(PeriodClose & { reportDigest: string; anchored: boolean }) | null>(null);
  const [revalued, setRevalued] = useState<string | null>(null);
  const focusLater = useFocusLater();
  const iso = localInputToIso(before);
  const refusal = fxRefusalOf(error);
  const staleRefusal = staleRefusalOf(error);
  // What the last attempt accepted: a close accepting stale rates after accepting positions left
  // unrevalued keeps both (the service checks the positions first, then the rates' age).
  const [accepted, setAccepted] = useState<{ unrevalued: boolean }>({ unrevalued: false });
  /** Closes at `iso`; `accept`: the note, and which exceptions it accepts (positions left unrevalued, stale closing rates). */
  const close = async (accept?: { note: string; unrevalued?: boolean; stale?: boolean }) => {
    if (iso === null) return;
    setBusy(true);
    setError(null);
    setRevalued(null);
    const closeNote = accept?.note ?? note.trim();
    const unrevalued = accept?.unrevalued === true || (accept?.stale === true && accepted.unrevalued);
    setAccepted({ unrevalued });
    try {
      const r = await send<PeriodClose & { reportDigest: string; anchored: boolean }>("POST", "/v1/ledger/periods/close", {
        before: iso,
        ...(closeNote === "" ? {} : { note: closeNote }),
        ...(unrevalued ? { fxNotRevalued: "accept" } : {}),
        ...(accept?.stale === true ? { fxRateStale: "accept" } : {}),
      });
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
  const revalue = async (at: string) => {
    setBusy(true);
    try {
      const r = await send<{ status: string; revaluation: { transactionId: string | null; skipped: unknown[] } }>("POST", "/v1/fx/revaluations", undefined, { at });
      setError(null);
      setRevalued(revaluedInWords(at, r));
      props.onRevalued();
      focusLater("close-revalued");
    } catch (e) {
      setError(e);
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
          <ConfirmActions
            busy={busy}
            label="Close the periods"
            busyLabel="Closing…"
            onConfirm={() => void close()}
            onBack={() => {
              setStep("edit");
              focusLater("close-review");
            }}
          />
        </div>
      )}
      {refusal !== null ? (
        <FxRefusalBox refusal={refusal} busy={busy} onRevalue={() => void revalue(refusal.revalueAt)} onAccept={(why) => void close({ note: why, unrevalued: true })} />
      ) : staleRefusal !== null ? (
        <StaleRefusalBox refusal={staleRefusal} busy={busy} onRevalue={() => void revalue(staleRefusal.revalueAt)} onAccept={(why) => void close({ note: why, stale: true })} />
      ) : (
        error !== null && <ErrorBox error={error} labels={CLOSE_LABELS} id="close-error" />
      )}
      {revalued !== null && (
        <p role="status" data-testid="close-revalued" id="close-revalued" tabIndex={-1}>
          {revalued}
        </p>
      )}
      {done !== null && (
        <p role="status" data-testid="closed" id="closed" tabIndex={-1}>
          Closed: every period before <Time iso={done.closedBefore} /> (close <Link href={href(`/books/closes/${done.id}`)}>{done.id}</Link>). Report digest (sha256): <code class="hash">{done.reportDigest}</code>
          {done.anchored ? ", queued for anchoring." : "; this server has no chain, so it is not anchored."}
          {done.fxNotRevalued !== null && ` FX positions left unrevalued at the period's end, as the note accepts: ${done.fxNotRevalued.map((p) => p.currency).join(", ")} (kept with the close and in its report).`}
          {done.fxRateStale !== null && ` FX positions at closing rates older than the limit, as the note accepts: ${done.fxRateStale.map((r) => `${r.currency} (${ageInDays(r.ageSeconds)})`).join(", ")} (kept with the close and in its report).`}
        </p>
      )}
    </section>
  );
}

export function Closes(props: { session: Session; periodEnd: string; revalued: number; onRevalued?: () => void }): JSX.Element {
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
                      <td>
                        {c.note ?? "–"}
                        {c.fxNotRevalued !== null && <span class="muted"> (FX left unrevalued: {c.fxNotRevalued.map((p) => p.currency).join(", ")})</span>}
                        {c.fxRateStale !== null && <span class="muted"> (closed on stale FX rates: {c.fxRateStale.map((r) => r.currency).join(", ")})</span>}
                      </td>
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
          onRevalued={() => props.onRevalued?.()}
        />
      )}
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
    const [r, periods] = await Promise.all([get<CloseReport>(`/v1/ledger/periods/${encodeURIComponent(id)}/report`), get<{ closes: PeriodClose[] }>("/v1/ledger/periods")]);
    // The note is the close's, not the report's (whose digest is anchored): it comes from the closes' list.
    const close = periods.closes.find((c) => c.id === id);
    // The digest is of the report as JSON.stringify writes it, keys in the order the service sent them.
    return { ...r, close, recomputed: await sha256(JSON.stringify(r.report)) };
  }, [id]);
  return (
    <Show load={load}>
      {({ report, digest, recomputed, close }) => {
        const c = report.close;
        return (
          <>
            <Title sub={<Link href={href("/books", { from: c.previousClosedBefore ?? undefined, to: c.closedBefore })}>The same period in the trial balance</Link>}>{`Period close ${c.id}`}</Title>
            <Fields
              rows={[
                ["Period", <>{c.previousClosedBefore === null ? "everything" : <Time iso={c.previousClosedBefore} />} – before <Time iso={c.closedBefore} /></>],
                ["Closed before (UTC)", <span title={utcTitle(c.closedBefore)}>{c.closedBefore}</span>],
                ["Journal head", <>sequence {c.journalSequence} <Hash value={c.journalHash} /></>],
                ["Closed", close === undefined ? <span class="muted">–</span> : <><Time iso={close.closedAt} /> {close.closedBy !== null && <span class="muted">by key {close.closedBy}</span>}</>],
                ["Note", <span data-testid="close-note">{close === undefined ? "unavailable" : (close.note ?? <span class="muted">none</span>)}</span>],
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
            {report.fxNotRevalued !== undefined && (
              <section aria-labelledby="fx-left-h" data-testid="fx-left">
                <h2 id="fx-left-h">FX positions left unrevalued</h2>
                <p>This close was accepted, with its note (above; kept with the close, not in the report), although the FX positions were not revalued at the period's last instant ({instantInWords(closingAt(c.closedBefore))}):</p>
                <UnrevaluedTable positions={report.fxNotRevalued} at={closingAt(c.closedBefore)} caption="FX positions left unrevalued at the period's end" />
              </section>
            )}
            {report.fxRateStale !== undefined && (
              <section aria-labelledby="fx-stale-h" data-testid="fx-stale">
                <h2 id="fx-stale-h">Closed on stale FX rates</h2>
                <p>This close was accepted, with its note (above; kept with the close, not in the report), although the FX positions stood at closing rates older than the limit at the period's last instant ({instantInWords(closingAt(c.closedBefore))}):</p>
                <StaleRatesTable rates={report.fxRateStale} at={closingAt(c.closedBefore)} caption="Closing rates older than the close allows" />
              </section>
            )}
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
