/**
 * The books: a period's trial balance (by effective instant), the period closes (Closes.tsx) and
 * the revaluations of the open FX positions (Revaluations.tsx). The period, the currency shown and
 * the revaluation page are the URL's; the forms that write are shown only to a key that may
 * (finance:write), and the service refuses the others anyway.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get, url } from "../api";
import { isUtcMonthStart, localInputToIso, localZoneLabel } from "../format";
import type { ViewProps } from "../main";
import { currentUtcMonth, periodEdits, PeriodFields, periodForm, periodZone, readPeriod } from "../period";
import { href, navigate, type Location } from "../router";
import { ErrorBox, FormProblems, Link, Show, SkipLink, Time, Title, useLastValue, useLoad, useUrlForm, type Loaded } from "../ui";
import { Closes } from "./Closes";
import { Revaluations } from "./Revaluations";
import { TrialBalanceTables, type TrialBalanceAccount, type TrialBalanceCurrency } from "./TrialBalanceTables";

/** GET /v1/ledger/trial-balance (service/http/schemas/views.ts TrialBalanceView). */
interface TrialBalance {
  basis: "effective";
  from: string | null;
  to: string;
  accounts: TrialBalanceAccount[];
  currencies: TrialBalanceCurrency[];
}

/** The form fields the service's problems name, in the words of the form's labels. */
const TB_LABELS = { "query.from": "Effective from", "query.to": "Effective before" } as const;

/** The trial balance of the URL's period; `refresh` changes when something was booked into it (a revaluation). */
function TrialBalanceCard(props: { location: Location; refresh: number }): JSX.Element {
  const q = props.location.query;
  const key = q.toString();
  const from = q.get("from") ?? "";
  const to = q.get("to") ?? "";
  const currency = q.get("currency")?.trim().toUpperCase() ?? "";
  const [form, setForm] = useUrlForm(() => periodForm(from, to), key);
  // Fields that cannot be read, by input id: said at the form, and nothing is queried.
  const [problems, setProblems] = useState<Record<string, string>>({});
  useEffect(() => setProblems({}), [key]);
  const [fresh] = useLoad(async () => ({ period: `${from} ${to}`, tb: to === "" ? null : await get<TrialBalance>("/v1/ledger/trial-balance", { from, to }) }), [from, to, props.refresh]);
  // Reloaded after a booking, the period's figures stay on screen until the new ones come (the
  // page keeps its length and the reader their place); another period's never stand in for it.
  const last = useLastValue(fresh);
  const shown = fresh.state === "loading" && last !== undefined && last.period === `${from} ${to}` ? { state: "ok" as const, value: last } : fresh;
  const load: Loaded<TrialBalance | null> = shown.state === "ok" ? { state: "ok", value: shown.value.tb } : shown;
  const query = { from, to, currency, revaluations: q.get("revaluations") ?? undefined };
  const { offset } = periodZone(form);
  const edits = periodEdits("tb", form, setForm, setProblems);
  const invalid = (id: string) => problems[id] !== undefined;
  const describedBy = (id: string) => (invalid(id) ? "tb-invalid" : undefined);
  return (
    <section class="card" aria-labelledby="tb-h">
      <h2 id="tb-h">Trial balance</h2>
      <form
        class="filters"
        role="search"
        aria-label="Trial balance period"
        onSubmit={(e) => {
          e.preventDefault();
          const { form: f, found } = readPeriod("tb", form, e.currentTarget, ["to"]);
          setForm(f);
          setProblems(found);
          if (Object.keys(found).length > 0) return;
          navigate(href("/books", { ...query, from: localInputToIso(f.from) ?? undefined, to: localInputToIso(f.to) ?? undefined }));
        }}
      >
        <PeriodFields prefix="tb" form={form} setForm={setForm} edits={edits} invalid={invalid} describedBy={describedBy} />
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
      <FormProblems id="tb-invalid" problems={problems}>
        Nothing was shown: the period cannot be read.
      </FormProblems>
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
                {tb.from !== null && (
                  <p>
                    <Link href={href("/profit-and-loss", { from: tb.from, to: tb.to })}>The profit and loss of this period</Link> <span class="muted">(its income and expense accounts by seller program and market)</span>
                  </p>
                )}
                <p>
                  {/* A plain link: the session's cookie goes with it, as with the P&L's CSV. */}
                  <a href={url("/v1/ledger/trial-balance", { from: tb.from, to: tb.to, format: "csv" })} download={`trial-balance-${tb.from === null ? "" : `${tb.from.slice(0, 10)}-`}${tb.to.slice(0, 10)}.csv`}>
                    Download this trial balance as CSV
                  </a>{" "}
                  <span class="muted">(a row per account and currency, then a row per currency with whether it balances, in minor and major units)</span>
                </p>
                {tb.from !== null && (
                  <p>
                    {/* Likewise with the session's cookie. */}
                    <a href={url("/v1/journal/export", { from: tb.from, to: tb.to })} download={`journal-${tb.from.slice(0, 10)}-${tb.to.slice(0, 10)}.csv`}>
                      Download this period's journal as CSV
                    </a>{" "}
                    <span class="muted">(one line per posting of the transactions effective in the period, in journal order)</span>
                  </p>
                )}
                <TrialBalanceTables accounts={tb.accounts} currencies={tb.currencies} currency={currency} caption="Trial balance" end={tb.to} />
              </>
            )
          }
        </Show>
      )}
    </section>
  );
}

export function Books(props: ViewProps): JSX.Element {
  const q = props.location.query;
  const [revalued, setRevalued] = useState(0);
  // The period is the URL's; without one, the current UTC month: the ledger's period (and the Tax
  // view's default), not the reader's zone's month, which the page would flag as no ledger period.
  const missing = q.get("to") === null;
  useEffect(() => {
    if (!missing) return;
    navigate(href("/books", { ...currentUtcMonth(), currency: q.get("currency") ?? undefined }), { replace: true });
  }, [missing]);
  if (missing) return <Title sub="The trial balance of a period, the period closes and the FX revaluations.">Books</Title>;
  return (
    <>
      <Title sub="The trial balance of a period, the period closes and the FX revaluations.">Books</Title>
      <TrialBalanceCard location={props.location} refresh={revalued} />
      <Closes session={props.session} periodEnd={q.get("to") ?? ""} revalued={revalued} onRevalued={() => setRevalued((r) => r + 1)} />
      <Revaluations session={props.session} location={props.location} onRevalued={() => setRevalued((r) => r + 1)} />
    </>
  );
}
