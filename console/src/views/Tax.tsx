/**
 * Tax returns: the return of one tax scheme of a market, or of a state's tax (its region), for a
 * period by effective instant, as `GET /v1/tax/returns` answers it: the tax payable's opening, what
 * the period collected and gave back, and its closing; the return per rate, as it is filed; and every
 * posting with its order, its gross and the base its tax was computed on as booked. The returns
 * offered are those the tax rules make; the return and the period are the URL's, and the same return
 * downloads as CSV.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, get, url } from "../api";
import { closingAt, formatBps, isUtcMonthStart, localInputToIso, localZoneLabel } from "../format";
import type { ViewProps } from "../main";
import { currentUtcMonth, periodEdits, PeriodFields, periodForm, periodZone, readPeriod, type PeriodForm } from "../period";
import { href, navigate } from "../router";
import { ErrorBox, FormProblems, Fields, Link, ListTable, Money, Show, Time, Title, useLoad, useUrlForm } from "../ui";

/** GET /v1/tax-rules (service/http/schemas/views.ts TaxRuleView): what the choice of a return needs. */
interface TaxRule {
  id: string;
  market: string;
  scheme: string;
  collectedBy: "marketplace" | "seller" | "none";
  level?: "state";
  region?: string;
}

/** A group of lines' base figures; null where a line of the group has none recorded. */
interface BaseTotal {
  taxableBase: string | null;
  nonTaxable: string | null;
  otherTaxes: string | null;
  deduction: string | null;
}

interface Bases {
  collected: BaseTotal;
  refunded: BaseTotal;
  net: BaseTotal;
}

/** GET /v1/tax/returns (service/http/schemas/views.ts TaxReturnView). */
interface TaxReturn {
  market: string;
  region?: string;
  scheme: string;
  account: string;
  currency: string;
  from: string;
  to: string;
  opening: string;
  collected: string;
  refunded: string;
  closing: string;
  bases: Bases;
  linesWithoutBase: number;
  byRate: { rateBps: number | null; ruleIds: string[]; lines: number; collected: string; refunded: string; bases: Bases }[];
  lines: {
    transactionId: string;
    effectiveAt: string;
    originalEffectiveAt: string | null;
    what: string;
    settlementId: string | null;
    gatewayEventId: string | null;
    gross: string | null;
    tax: string;
    taxableBase: string | null;
    nonTaxable: string | null;
    otherTaxes: string | null;
    deduction: string | null;
    baseMissing: string | null;
    ruleId: string | null;
    rateBps: number | null;
    collectedBy: "marketplace" | "seller" | "none" | null;
    sellerId: string | null;
    shipFrom: string | null;
    shipTo: string | null;
  }[];
}

/** A return: a market's scheme, or a state's (its region, "" for a national tax). */
interface Choice {
  market: string;
  region: string;
  scheme: string;
}

/** The choice as the value of the form's select; codes hold no "/" (the API's patterns). */
const keyOf = (c: Choice) => `${c.market}/${c.region}/${c.scheme}`;
const choiceOf = (key: string): Choice => {
  const [market = "", region = "", scheme = ""] = key.split("/");
  return { market, region, scheme };
};
/** "ES · EU_IOSS", "US-CA · US_SALES_TAX": a state's return is named by its region, as its account is. */
const labelOf = (c: Choice) => `${c.region === "" ? c.market : c.region} · ${c.scheme}`;

/**
 * The returns the tax rules make: one per market and scheme, a state tax's per region, in label
 * order. A scheme whose tax the seller declares itself is offered too: the platform files nothing
 * for it, and its return is the record of the sales it facilitated. One nobody collects at the sale
 * (customs at the border, a de minimis exemption) is not offered (its return is in the API).
 */
function returnsOf(rules: readonly TaxRule[]): Choice[] {
  const seen = new Map<string, Choice>();
  for (const r of rules) {
    if (r.collectedBy === "none") continue;
    const c = { market: r.market, region: r.level === "state" ? (r.region ?? "") : "", scheme: r.scheme };
    seen.set(keyOf(c), c);
  }
  return [...seen.values()].sort((a, b) => labelOf(a).localeCompare(labelOf(b)));
}

interface TaxForm extends PeriodForm {
  /** The return chosen, as `keyOf` writes it; "" before one is. */
  choice: string;
}

/** The form fields the service's problems name, in the words of the form's labels. */
const TAX_LABELS = {
  market: "Return (its market)",
  region: "Return (its state)",
  "query.market": "Return (its market)",
  "query.region": "Return (its state)",
  "query.scheme": "Return (its scheme)",
  "query.from": "Effective from",
  "query.to": "Effective before",
} as const;

/** The input each field the service names is entered in: marked invalid, and pointed at the problem. */
const INPUT_OF: Readonly<Record<string, string>> = { market: "tx-return", region: "tx-return", "query.market": "tx-return", "query.region": "tx-return", "query.scheme": "tx-return", "query.from": "tx-from", "query.to": "tx-to" };

export function TaxReturns(props: ViewProps): JSX.Element {
  const q = props.location.query;
  const key = q.toString();
  const urlChoice: Choice = { market: q.get("market")?.trim().toUpperCase() ?? "", region: q.get("region")?.trim().toUpperCase() ?? "", scheme: q.get("scheme")?.trim().toUpperCase() ?? "" };
  const chosen = urlChoice.market !== "" && urlChoice.scheme !== "";
  const from = q.get("from") ?? "";
  const to = q.get("to") ?? "";
  const query = { market: urlChoice.market, region: urlChoice.region, scheme: urlChoice.scheme, from, to };
  // The period is the URL's; without one, the current UTC month (the choice is kept).
  const missing = q.get("to") === null;
  useEffect(() => {
    if (!missing) return;
    navigate(href("/tax", { market: q.get("market") ?? undefined, region: q.get("region") ?? undefined, scheme: q.get("scheme") ?? undefined, ...currentUtcMonth() }), { replace: true });
  }, [missing]);

  const [rules] = useLoad(() => get<{ items: TaxRule[] }>("/v1/tax-rules"), []);
  const [load] = useLoad(async () => (missing || !chosen ? null : await get<TaxReturn>("/v1/tax/returns", query)), [key]);
  const [form, setForm] = useUrlForm<TaxForm>(() => ({ ...periodForm(from, to), choice: chosen ? keyOf(urlChoice) : "" }), key);
  // Fields that cannot be read, by input id: said at the form, and nothing is queried.
  const [problems, setProblems] = useState<Record<string, string>>({});
  useEffect(() => setProblems({}), [key]);

  // The choices the rules make, and the URL's own when it is none of them (a shared link, a rule not
  // published here): the select shows what the page queried, and the service says what is wrong.
  const offered = rules.state === "ok" ? returnsOf(rules.value.items) : [];
  const unknown = chosen && !offered.some((c) => keyOf(c) === keyOf(urlChoice));
  // The inputs the service's problem names (an unknown market, a period that ends before it starts).
  const refused = new Set(load.state === "error" && load.error instanceof ApiError ? load.error.fields.map((f) => INPUT_OF[f.field]).filter((id) => id !== undefined) : []);

  const { offset } = periodZone(form);
  const edits = periodEdits("tx", form, setForm, setProblems);
  const invalid = (id: string) => problems[id] !== undefined || refused.has(id);
  // A problem the page found is said in its own box; one the service answered, in the error's.
  const describedBy = (id: string) => (problems[id] !== undefined ? "tx-invalid" : refused.has(id) ? "tx-error" : undefined);

  const sub = "The return of one tax scheme of a market, or of a state's tax, for a period: the tax payable's postings by effective instant.";
  if (missing) return <Title sub={sub}>Tax returns</Title>;
  return (
    <>
      <Title sub={sub}>Tax returns</Title>
      <section class="card" aria-labelledby="tx-h">
        <h2 id="tx-h">{chosen ? labelOf(urlChoice) : "Choose a return"}</h2>
        <form
          class="filters"
          role="search"
          aria-label="Tax return and period"
          onSubmit={(e) => {
            e.preventDefault();
            const { form: f, found } = readPeriod("tx", form, e.currentTarget, ["from", "to"]);
            if (f.choice === "") found["tx-return"] = "Return: choose the market and scheme whose return to show.";
            setForm(f);
            setProblems(found);
            if (Object.keys(found).length > 0) return;
            const c = choiceOf(f.choice);
            navigate(href("/tax", { market: c.market, region: c.region, scheme: c.scheme, from: localInputToIso(f.from) ?? undefined, to: localInputToIso(f.to) ?? undefined }));
          }}
        >
          <div>
            <label for="tx-return">Return</label>
            <select
              id="tx-return"
              value={form.choice}
              aria-invalid={invalid("tx-return") ? true : undefined}
              aria-describedby={describedBy("tx-return")}
              onChange={(e) => {
                setForm({ ...form, choice: (e.target as HTMLSelectElement).value });
                setProblems(({ "tx-return": _, ...rest }) => rest);
              }}
            >
              {form.choice === "" && <option value="">choose a return</option>}
              {unknown && <option value={keyOf(urlChoice)}>{rules.state === "ok" ? `${labelOf(urlChoice)} (no tax rule)` : labelOf(urlChoice)}</option>}
              {offered.map((c) => (
                <option key={keyOf(c)} value={keyOf(c)}>
                  {labelOf(c)}
                </option>
              ))}
            </select>
          </div>
          <PeriodFields prefix="tx" form={form} setForm={setForm} edits={edits} invalid={invalid} describedBy={describedBy} />
          <div class="buttons">
            <button type="submit">Show</button>
          </div>
        </form>
        {offset !== "UTC+00:00" && (
          <p class="muted" id="tx-month-note">
            The ledger's periods are UTC months: a month in your zone ({offset}) leaves out the last hours of the UTC month or takes in the first of the next. Choose “UTC” for the month the ledger books.
          </p>
        )}
        {rules.state === "error" && <ErrorBox error={rules.error} />}
        <FormProblems id="tx-invalid" problems={problems}>
          Nothing was shown: the return or its period cannot be read.
        </FormProblems>
        {load.state === "error" ? (
          <ErrorBox error={load.error} labels={TAX_LABELS} id="tx-error" />
        ) : (
          <Show load={load}>{(r) => (r === null ? <p class="muted">Choose the return to show.</p> : <ReturnSummary r={r} csv={url("/v1/tax/returns", { ...query, format: "csv" })} />)}</Show>
        )}
      </section>
      {load.state === "ok" && load.value !== null && load.value.lines.length > 0 && <ReturnTables r={load.value} />}
    </>
  );
}

const choiceOfReturn = (r: TaxReturn): Choice => ({ market: r.market, region: r.region ?? "", scheme: r.scheme });

/** The return's account, its period, its four figures and its CSV; or that nothing was booked to it. */
function ReturnSummary(props: { r: TaxReturn; csv: string }): JSX.Element {
  const { r } = props;
  // An account exists once something is posted to it: a return with no figure may have none to show.
  const booked = r.lines.length > 0 || r.opening !== "0" || r.closing !== "0";
  return (
    <>
      <p data-testid="tax-period">
        {labelOf(choiceOfReturn(r))}, in {r.currency}: the postings of{" "}
        {booked ? <Link href={href(`/accounts/${encodeURIComponent(r.account)}/${r.currency}`, { at: closingAt(r.to) })}>{r.account}</Link> : <code>{r.account}</code>} effective from <Time iso={r.from} /> to before <Time iso={r.to} />{" "}
        <span class="zone">({localZoneLabel(new Date(r.to))})</span>.{!isUtcMonthStart(r.from) || !isUtcMonthStart(r.to) ? " This period is not a UTC month, the ledger's period." : ""}
      </p>
      <div data-testid="tax-totals">
        <Fields
          rows={[
            ["Opening (payable before the period)", <Money minor={r.opening} currency={r.currency} />],
            ["Tax collected", <Money minor={r.collected} currency={r.currency} />],
            ["Tax given back", <Money minor={r.refunded} currency={r.currency} />],
            ["Closing (payable at its end)", <Money minor={r.closing} currency={r.currency} />],
          ]}
        />
      </div>
      {r.lines.length === 0 ? (
        <p data-testid="tax-empty">Nothing was booked to this return in the period: no tax was collected or given back.</p>
      ) : r.lines.every((l) => l.collectedBy !== "marketplace") ? (
        <p data-testid="tax-uncollected">
          The platform collects no tax under this scheme: these {r.lines.length} {r.lines.length === 1 ? "line is the sale" : "lines are the sales"} it facilitated, whose tax{" "}
          {r.lines.some((l) => l.collectedBy === "seller") ? "the seller declares itself" : "nobody collects at the sale"} (a record to keep, nothing to file), grouped by the rule's rate and listed below.
        </p>
      ) : (
        <p>
          {r.lines.length} {r.lines.length === 1 ? "posting" : "postings"}, grouped by rate and listed below.
          {r.linesWithoutBase > 0 &&
            ` ${r.linesWithoutBase} of them ${r.linesWithoutBase === 1 ? "has" : "have"} no base recorded (each says why), so a base total that would include ${r.linesWithoutBase === 1 ? "it" : "them"} is left blank rather than partial.`}
        </p>
      )}
      <p>
        {/* A plain link: the session's cookie goes with it, as with the seller statements. */}
        <a href={props.csv} download>
          Download this return as CSV
        </a>{" "}
        <span class="muted">(the same figures, in minor and major units)</span>
      </p>
    </>
  );
}

/** A rate in words: its percentage, or that no tax rule was recorded with the posting. */
function Rate(props: { bps: number | null; title?: string }): JSX.Element {
  return props.bps === null ? <span class="muted">no rule recorded</span> : <span title={props.title}>{formatBps(props.bps)}</span>;
}

/** The return per rate, as it is filed, with the whole return as its last row; then each posting with its order and base. */
function ReturnTables(props: { r: TaxReturn }): JSX.Element {
  const { r } = props;
  const label = labelOf(choiceOfReturn(r));
  const net = (collected: string, refunded: string) => (BigInt(collected) - BigInt(refunded)).toString();
  const money = (minor: string | null) => <Money minor={minor} currency={r.currency} code={false} />;
  return (
    <>
      <section class="card" aria-labelledby="tx-rates-h">
        <h2 id="tx-rates-h">By rate</h2>
        <ListTable
          caption={`${label} by rate, in ${r.currency}`}
          columns={["Rate", "Tax rules", ["Lines", "num"], ["Tax collected", "num"], ["Given back", "num"], ["Net tax", "num"], ["Taxable base, net", "num"]]}
        >
          {r.byRate.map((g) => (
            <tr key={g.rateBps ?? "none"} data-testid="tax-rate">
              <td>
                <Rate bps={g.rateBps} />
              </td>
              <td>
                {g.ruleIds.map((id, i) => (
                  <span key={id}>
                    {i > 0 && ", "}
                    <code>{id}</code>
                  </span>
                ))}
              </td>
              <td class="num">{g.lines}</td>
              <td class="num">{money(g.collected)}</td>
              <td class="num">{money(g.refunded)}</td>
              <td class="num">{money(net(g.collected, g.refunded))}</td>
              <td class="num">{money(g.bases.net.taxableBase)}</td>
            </tr>
          ))}
          <tr class="total">
            <th scope="row" colSpan={2}>
              The return
            </th>
            <td class="num">{r.lines.length}</td>
            <td class="num">{money(r.collected)}</td>
            <td class="num">{money(r.refunded)}</td>
            <td class="num">{money(net(r.collected, r.refunded))}</td>
            <td class="num">{money(r.bases.net.taxableBase)}</td>
          </tr>
        </ListTable>
      </section>
      <section class="card" aria-labelledby="tx-lines-h">
        <h2 id="tx-lines-h">Lines</h2>
        <p class="muted">
          Each posting of the tax payable in the period (or each sale, where the platform collects nothing) with its order; the gross and the base its tax was computed on, as booked with the event, signed as the tax (a refund gives back its
          share of each, negative); who is liable, the seller, and where the goods shipped from and to.
        </p>
        <ListTable
          caption={`${label}: the lines of the period, in ${r.currency}`}
          scrollLabel="Tax return lines"
          columns={["Effective", "What", "Order", ["Gross", "num"], ["Taxable base", "num"], ["Non-taxable", "num"], ["Other taxes", "num"], ["Deduction", "num"], ["Tax", "num"], ["Rate", "num"], "Liable", "Seller", "Shipped"]}
        >
          {r.lines.map((l, i) => (
            <tr key={`${l.transactionId}-${i}`} data-testid="tax-line">
              <td>
                <Time iso={l.effectiveAt} />
                {l.originalEffectiveAt !== null && (
                  <>
                    {" "}
                    <span class="muted">
                      (booked after its period closed; belongs to <Time iso={l.originalEffectiveAt} />)
                    </span>
                  </>
                )}
              </td>
              <td>{l.what}</td>
              <td>
                {l.settlementId === null ? <Link href={href(`/transactions/${l.transactionId}`)}>transaction {l.transactionId}</Link> : <Link href={href("/settlements", { order: l.settlementId })}>{l.settlementId}</Link>}
              </td>
              <td class="num">{money(l.gross)}</td>
              {l.baseMissing === null ? (
                <>
                  <td class="num">{money(l.taxableBase)}</td>
                  <td class="num">{money(l.nonTaxable)}</td>
                  <td class="num">{money(l.otherTaxes)}</td>
                  <td class="num">{money(l.deduction)}</td>
                </>
              ) : (
                <td colSpan={4} class="muted">
                  No base recorded: {l.baseMissing}.
                </td>
              )}
              <td class="num">{money(l.tax)}</td>
              <td class="num">
                <Rate bps={l.rateBps} title={l.ruleId ?? undefined} />
              </td>
              <td>{l.collectedBy ?? "–"}</td>
              <td>{l.sellerId === null ? "–" : <Link href={href("/settlements", { seller: l.sellerId })}>{l.sellerId}</Link>}</td>
              <td>{l.shipTo === null ? "–" : `${l.shipFrom ?? "?"} → ${l.shipTo}`}</td>
            </tr>
          ))}
        </ListTable>
      </section>
    </>
  );
}
