/**
 * The profit and loss of a period by seller program, market or both, as `GET
 * /v1/reports/profit-and-loss` answers it: per group, each P&L account's debits, credits and net
 * (income positive) and the group's revenue, expenses and net result, the unallocated group (what
 * the journal attributes to nobody) named as such; the totals of all groups; whether the groups add
 * up to the trial balance, or the accounts where they do not, with both figures; and the P&L
 * accounts moved in another currency, apart. Each account links to its postings. The period and
 * the grouping are the URL's, and the same report downloads as CSV.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, get, url } from "../api";
import { closingAt, isUtcMonthStart, localInputToIso, localZoneLabel } from "../format";
import type { ViewProps } from "../main";
import { currentUtcMonth, periodEdits, PeriodFields, periodForm, periodZone, readPeriod, type PeriodForm } from "../period";
import { groupingOf, groupName, PNL_GROUPINGS, pnlDifferences, type PnlGroup, type PnlLine, type PnlTotals, type ProfitAndLoss } from "../pnl";
import { href, navigate } from "../router";
import { Badge, ErrorBox, Fields, FormProblems, Link, ListTable, Money, Show, SkipLink, Time, Title, useLoad, useUrlForm } from "../ui";

interface PnlForm extends PeriodForm {
  /** The grouping, as the API's `by` takes it. */
  by: string;
}

/** The form fields the service's problems name, in the words of the form's labels (a period too long is named `query.to` too). */
const PL_LABELS = { "query.from": "Effective from", "query.to": "Effective before", "query.by": "Group by" } as const;

/** The input each field the service names is entered in: marked invalid, and pointed at the problem. */
const INPUT_OF: Readonly<Record<string, string>> = { "query.from": "pl-from", "query.to": "pl-to", "query.by": "pl-by" };

export function ProfitAndLossView(props: ViewProps): JSX.Element {
  const q = props.location.query;
  const key = q.toString();
  const from = q.get("from") ?? "";
  const to = q.get("to") ?? "";
  const by = q.get("by") ?? "";
  // The period is the URL's; without one, the current UTC month (the ledger's period, as on the books page).
  const missing = q.get("to") === null;
  useEffect(() => {
    if (!missing) return;
    navigate(href("/profit-and-loss", { ...currentUtcMonth(), by: q.get("by") ?? undefined }), { replace: true });
  }, [missing]);

  const [load] = useLoad(async () => (missing ? null : await get<ProfitAndLoss>("/v1/reports/profit-and-loss", { from, to, by })), [key]);
  const [form, setForm] = useUrlForm<PnlForm>(() => ({ ...periodForm(from, to), by: groupingOf(q.get("by")) }), key);
  // Fields that cannot be read, by input id: said at the form, and nothing is queried.
  const [problems, setProblems] = useState<Record<string, string>>({});
  useEffect(() => setProblems({}), [key]);

  // The inputs the service's problem names (a grouping it does not know, a period too long or backwards).
  const refused = new Set(load.state === "error" && load.error instanceof ApiError ? load.error.fields.map((f) => INPUT_OF[f.field]).filter((id) => id !== undefined) : []);
  const { offset } = periodZone(form);
  const edits = periodEdits("pl", form, setForm, setProblems);
  const invalid = (id: string) => problems[id] !== undefined || refused.has(id);
  // A problem the page found is said in its own box; one the service answered, in the error's.
  const describedBy = (id: string) => (problems[id] !== undefined ? "pl-invalid" : refused.has(id) ? "pl-error" : undefined);
  const known = PNL_GROUPINGS.some(([value]) => value === form.by);

  const sub = "The platform's income and expenses of a period by seller program and market, reconciled to the trial balance.";
  if (missing) return <Title sub={sub}>Profit and loss</Title>;
  return (
    <>
      <Title sub={sub}>Profit and loss</Title>
      <section class="card" aria-labelledby="pl-h">
        <h2 id="pl-h">Period and grouping</h2>
        <form
          class="filters"
          role="search"
          aria-label="Profit and loss period and grouping"
          onSubmit={(e) => {
            e.preventDefault();
            const { form: f, found } = readPeriod("pl", form, e.currentTarget, ["from", "to"]);
            setForm(f);
            setProblems(found);
            if (Object.keys(found).length > 0) return;
            navigate(href("/profit-and-loss", { from: localInputToIso(f.from) ?? undefined, to: localInputToIso(f.to) ?? undefined, by: f.by }));
          }}
        >
          <PeriodFields prefix="pl" form={form} setForm={setForm} edits={edits} invalid={invalid} describedBy={describedBy} />
          <div>
            <label for="pl-by">Group by</label>
            <select id="pl-by" value={form.by} aria-invalid={invalid("pl-by") ? true : undefined} aria-describedby={describedBy("pl-by")} onChange={(e) => setForm({ ...form, by: (e.target as HTMLSelectElement).value })}>
              {!known && <option value={form.by}>{form.by} (not a grouping)</option>}
              {PNL_GROUPINGS.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </div>
          <div class="buttons">
            <button type="submit">Show</button>
          </div>
        </form>
        {offset !== "UTC+00:00" && (
          <p class="muted" id="pl-month-note">
            The ledger's periods are UTC months: a month in your zone ({offset}) leaves out the last hours of the UTC month or takes in the first of the next (the monthly storage charges are booked at a UTC month's last instant). Choose
            “UTC” for the ledger's month.
          </p>
        )}
        <FormProblems id="pl-invalid" problems={problems}>
          Nothing was shown: the period cannot be read.
        </FormProblems>
        {load.state === "error" ? (
          <ErrorBox error={load.error} labels={PL_LABELS} id="pl-error" />
        ) : (
          <Show load={load}>{(r) => (r === null ? null : <Summary r={r} csv={url("/v1/reports/profit-and-loss", { from, to, by, format: "csv" })} />)}</Show>
        )}
      </section>
      {load.state === "ok" && load.value !== null && <Report r={load.value} />}
    </>
  );
}

/** The report's period and grouping, whether it reconciles with the trial balance, its CSV, and the net result of each group. */
function Summary(props: { r: ProfitAndLoss; csv: string }): JSX.Element {
  const { r } = props;
  const unallocated = r.groups.filter((g) => g.unallocated).length;
  const money = (minor: string) => <Money minor={minor} currency={r.currency} code={false} />;
  return (
    <>
      <p data-testid="pl-period">
        Effective from <Time iso={r.from} /> to before <Time iso={r.to} /> <span class="zone">({localZoneLabel(new Date(r.to))})</span>, in {r.currency}, by {r.by.join(" and ")}:{" "}
        {r.groups.length === 0 ? "no P&L account moved in the period." : `${r.groups.length} ${r.groups.length === 1 ? "group" : "groups"}, ${unallocated} of them unallocated.`}
        {!isUtcMonthStart(r.from) || !isUtcMonthStart(r.to) ? " This period is not a UTC month, the ledger's period." : ""}
      </p>
      <Reconciliation r={r} />
      <p>
        {/* A plain link: the session's cookie goes with it, as with the tax returns. */}
        <a href={props.csv} download>
          Download this report as CSV
        </a>{" "}
        <span class="muted">(the same figures, in minor and major units, with the trial balance's)</span>
      </p>
      {r.groups.length > 0 && (
        <>
          <ListTable caption={`Net result by ${r.by.join(" and ")}, in ${r.currency}`} showCaption columns={["Group", ["Revenue", "num"], ["Expenses", "num"], ["Net result", "num"]]}>
            {r.groups.map((g) => (
              <tr key={groupName(g, r.by)} data-testid="pl-summary-row">
                <td>
                  {groupName(g, r.by)}
                  {g.unallocated && (
                    <>
                      {" "}
                      <Badge value="unallocated" tone="neutral" />
                    </>
                  )}
                </td>
                <td class="num">{money(g.revenue)}</td>
                <td class="num">{money(g.expenses)}</td>
                <td class="num">{money(g.netResult)}</td>
              </tr>
            ))}
            <tr class="total" data-testid="pl-summary-total">
              <th scope="row">All groups</th>
              <td class="num">{money(r.totals.revenue)}</td>
              <td class="num">{money(r.totals.expenses)}</td>
              <td class="num">{money(r.totals.netResult)}</td>
            </tr>
          </ListTable>
          <p>
            <SkipLink target="pl-total-h">Skip the groups to the totals of all groups</SkipLink>
          </p>
        </>
      )}
    </>
  );
}

/** Reconciled, with the net result both sides agree on; or the accounts where the groups and the trial balance differ, both figures. */
function Reconciliation(props: { r: ProfitAndLoss }): JSX.Element {
  const { r } = props;
  const tb = <Link href={href("/books", { from: r.from, to: r.to })}>the trial balance of the period</Link>;
  if (r.reconciliation.reconciles) {
    return (
      <p data-testid="pl-reconciliation">
        <Badge value="reconciled" tone="good" /> Every P&L account's debits and credits in the groups equal those in {tb}: net result <Money minor={r.reconciliation.netResult} currency={r.currency} /> in both.
      </p>
    );
  }
  const differences = pnlDifferences(r);
  const side = (s: { debits: string; credits: string } | null, k: "debits" | "credits", currency: string) => (s === null ? <span class="muted">none</span> : <Money minor={s[k]} currency={currency} code={false} />);
  return (
    <div data-testid="pl-reconciliation">
      <p>
        <Badge value="does not reconcile" tone="bad" /> The groups do not add up to {tb}: net result <Money minor={r.totals.netResult} currency={r.currency} /> here, <Money minor={r.reconciliation.netResult} currency={r.currency} /> in the
        trial balance. {differences.length === 1 ? "The account that differs:" : `The ${differences.length} accounts that differ:`}
      </p>
      <ListTable caption="Accounts where the report and the trial balance differ" showCaption columns={["Account", "Currency", ["Report debits", "num"], ["Report credits", "num"], ["Trial balance debits", "num"], ["Trial balance credits", "num"]]}>
        {differences.map((d) => (
          <tr key={`${d.currency}/${d.account}`} data-testid="pl-difference">
            <td>
              <Link href={href(`/accounts/${encodeURIComponent(d.account)}/${d.currency}`, { at: closingAt(r.to) })}>{d.account}</Link>
            </td>
            <td>{d.currency}</td>
            <td class="num">{side(d.report, "debits", d.currency)}</td>
            <td class="num">{side(d.report, "credits", d.currency)}</td>
            <td class="num">{side(d.trialBalance, "debits", d.currency)}</td>
            <td class="num">{side(d.trialBalance, "credits", d.currency)}</td>
          </tr>
        ))}
      </ListTable>
    </div>
  );
}

/** Each group's accounts and totals, the totals of all groups, and the accounts moved in another currency. */
function Report(props: { r: ProfitAndLoss }): JSX.Element {
  const { r } = props;
  return (
    <>
      {r.groups.map((g, i) => (
        <GroupCard key={groupName(g, r.by)} r={r} g={g} id={`pl-g${i}`} />
      ))}
      <section class="card" aria-labelledby="pl-total-h" data-testid="pl-total">
        <h2 id="pl-total-h" tabIndex={-1}>
          All groups
        </h2>
        <Totals t={r.totals} currency={r.currency} />
        {r.accounts.length === 0 ? <p class="muted">No P&L account moved in {r.currency} in the period.</p> : <Lines r={r} lines={r.accounts} totals={r.totals} caption={`All groups: each P&L account's movement in the period, in ${r.currency}`} />}
      </section>
      <section class="card" aria-labelledby="pl-other-h" data-testid="pl-other">
        <h2 id="pl-other-h">Other currencies</h2>
        {r.otherCurrencies.length === 0 ? (
          <p>Every P&L account moved in {r.currency} in the period: nothing is left out of the totals.</p>
        ) : (
          <>
            <p>
              P&L accounts that moved in a currency other than {r.currency} (a bank's charges in a bank account in another currency): in their own currency, outside the groups and the totals above, never converted.
            </p>
            <ListTable caption="P&L accounts in other currencies, each in its own" showCaption columns={["Account", "Currency", "Normal side", ["Debits", "num"], ["Credits", "num"], ["Net", "num"]]}>
              {r.otherCurrencies.map((a) => (
                <tr key={`${a.currency}/${a.account}`} data-testid="pl-other-line">
                  <td>
                    <Link href={href(`/accounts/${encodeURIComponent(a.account)}/${a.currency}`, { at: closingAt(r.to) })}>{a.account}</Link>
                  </td>
                  <td>{a.currency}</td>
                  <td>{a.normalBalance}</td>
                  <td class="num">
                    <Money minor={a.debits} currency={a.currency} code={false} />
                  </td>
                  <td class="num">
                    <Money minor={a.credits} currency={a.currency} code={false} />
                  </td>
                  <td class="num">
                    <Money minor={a.net} currency={a.currency} code={false} />
                  </td>
                </tr>
              ))}
            </ListTable>
          </>
        )}
      </section>
    </>
  );
}

/** Why a group is unallocated: what the journal's transactions in it do not name, and what they typically are. */
function unallocatedWhy(g: PnlGroup): string {
  // A dimension not grouped by is absent (undefined); null is one grouped by that the transactions do not name.
  const [noProgram, noMarket, byProgram] = [g.program === null, g.market === null, g.program !== undefined];
  const what = noProgram && noMarket ? "neither a program (nor a seller) nor a market" : noProgram ? "no program and no seller" : "no market";
  const examples = [
    ...(noProgram || !byProgram ? ["revaluations", "remittances' realised FX", "adjustments of a gateway's totals"] : []),
    ...(noMarket && !noProgram ? ["seller charges such as storage", "payouts' realised FX"] : []),
  ];
  return `Unallocated: the transactions here name ${what} (${examples.join(", ")}). They are listed account by account, never spread by a key.`;
}

function GroupCard(props: { r: ProfitAndLoss; g: PnlGroup; id: string }): JSX.Element {
  const { r, g, id } = props;
  const name = groupName(g, r.by);
  return (
    <section class="card" aria-labelledby={`${id}-h`} data-testid="pl-group">
      <h2 id={`${id}-h`}>
        {name}
        {g.unallocated ? " (unallocated)" : ""}
      </h2>
      {g.unallocated && <p data-testid="pl-unallocated">{unallocatedWhy(g)}</p>}
      <Totals t={g} currency={r.currency} />
      <Lines r={r} lines={g.lines} totals={g} caption={`${name}: each P&L account's movement in the period, in ${r.currency}`} />
    </section>
  );
}

function Totals(props: { t: PnlTotals; currency: string }): JSX.Element {
  const { t, currency } = props;
  return (
    <div data-testid="pl-totals">
      <Fields
        rows={[
          ["Revenue", <Money minor={t.revenue} currency={currency} />],
          ["Expenses", <Money minor={t.expenses} currency={currency} />],
          ["Net result", <Money minor={t.netResult} currency={currency} />],
          ["Of revenue, exchange differences (IAS 21.52(a))", <Money minor={t.exchangeDifferences} currency={currency} />],
        ]}
      />
    </div>
  );
}

/** A group's (or all groups') accounts: debits, credits and net, income positive; each account links to its postings and its balance at the period's end. */
function Lines(props: { r: ProfitAndLoss; lines: readonly PnlLine[]; totals: PnlTotals; caption: string }): JSX.Element {
  const { r, lines, totals } = props;
  const money = (minor: string) => <Money minor={minor} currency={r.currency} code={false} />;
  return (
    <ListTable caption={props.caption} columns={["Account", "Normal side", ["Debits", "num"], ["Credits", "num"], ["Net (income positive)", "num"]]}>
      {lines.map((l) => (
        <tr key={l.account} data-testid="pl-line">
          <td>
            <Link href={href(`/accounts/${encodeURIComponent(l.account)}/${r.currency}`, { at: closingAt(r.to) })}>{l.account}</Link>
          </td>
          <td>{l.normalBalance}</td>
          <td class="num">{money(l.debits)}</td>
          <td class="num">{money(l.credits)}</td>
          <td class="num">{money(l.net)}</td>
        </tr>
      ))}
      <tr class="total">
        <th scope="row" colSpan={2}>
          Total
        </th>
        <td class="num">{money(totals.debits)}</td>
        <td class="num">{money(totals.credits)}</td>
        <td class="num">{money(totals.netResult)}</td>
      </tr>
    </ListTable>
  );
}
