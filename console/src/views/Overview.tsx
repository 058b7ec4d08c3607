/**
 * The overview: settlement volumes by market and currency per day (a chart of the captures, and
 * every event type's figures as a table for screen readers and for copying; by default the 30 UTC
 * days up to the latest settlement to have occurred), balances per currency (net, and gross: the
 * accounts against their normal balance per owner, FX clearing told apart), anchoring lag, payouts by
 * state, and what waits for a person: open gateway and bank statement exceptions by age and open
 * bank payout exceptions, each count linking to its queue.
 */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";
import type { JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { get } from "../api";
import { sumMinor } from "../format";
import type { ViewProps } from "../main";
import { href, navigate } from "../router";
import { Link, ListTable, Money, Show, Time, Title, useLoad, type Loaded } from "../ui";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

interface Volume {
  day: string;
  market: string;
  currency: string;
  eventType: string;
  count: number;
  amountMinor: string;
}

/** One normal side's accounts gross: `onNormalSide + againstNormalSide` is the net balance. */
interface BalanceSide {
  accounts: number;
  onNormalSide: string;
  againstNormalSide: string;
  accountsAgainst: number;
}

interface CurrencyBalances {
  currency: string;
  debitBalances: string;
  creditBalances: string;
  accounts: number;
  debitNormal: BalanceSide;
  creditNormal: BalanceSide;
  /** Accounts against their normal side per owner type (fx_clearing last), with the largest of them. */
  againstNormal: { ownerType: string; accounts: number; balance: string; largest: { account: string; normalBalance: string; balance: string }[] }[];
}

interface OverviewReport {
  /** When the latest posted settlement occurred (by time, not by booking order); null: none. */
  settlements: { latestOccurredAt: string | null };
  /** Posted balances of debit-normal and of credit-normal accounts per currency (they are equal when the books balance), net and gross. */
  balances: CurrencyBalances[];
  anchoring: { journalHead: string | null; anchoredThrough: string | null; lagTransactions: number; oldestUnanchoredAt: string | null };
  payouts: { rail: string; state: string; currency: string; count: number; amountMinor: string }[];
  exceptions: { ageBucket: string; count: number }[];
  /** Open unmatched bank statement entries by age ([] without the cash module). */
  cashExceptions: { ageBucket: string; count: number }[];
  /** Open bank payout exceptions (0 without a bank rail). */
  bankPayoutExceptions: number;
}

const PALETTE = ["#1f5fa8", "#c2501c", "#2e7d32", "#7b3fa0", "#a07a00", "#00838f", "#ad1457", "#455a64"];
const DAY = 86_400_000;

function VolumeChart(props: { volumes: Volume[]; days: string[] }): JSX.Element {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (canvas.current === null) return;
    const captures = props.volumes.filter((v) => v.eventType === "capture");
    const series = [...new Set(captures.map((v) => `${v.market} · ${v.currency}`))].sort();
    const chart = new Chart(canvas.current, {
      type: "bar",
      data: {
        labels: props.days,
        datasets: series.map((name, i) => ({
          label: name,
          backgroundColor: PALETTE[i % PALETTE.length] as string,
          data: props.days.map((d) => captures.filter((v) => v.day === d && `${v.market} · ${v.currency}` === name).reduce((a, v) => a + v.count, 0)),
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "captures" }, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } },
      },
    });
    return () => chart.destroy();
  }, [props.volumes, props.days]);
  return (
    <div class="chart">
      <canvas ref={canvas} role="img" aria-label="Captures per day, stacked by market and currency (the table below holds the same figures)" />
    </div>
  );
}

function VolumeTable(props: { volumes: Volume[] }): JSX.Element {
  const groups = new Map<string, Volume[]>();
  for (const v of props.volumes) {
    const k = `${v.market}|${v.currency}|${v.eventType}`;
    groups.set(k, [...(groups.get(k) ?? []), v]);
  }
  const rows = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
  return (
    <ListTable caption="Volumes in the period, by market, currency and event type" showCaption columns={["Market", "Currency", "Event", ["Events", "num"], ["Amount", "num"]]}>
      {rows.map(([k, vs]) => {
        const first = vs[0] as Volume;
        return (
          <tr key={k}>
            <td>{first.market}</td>
            <td>{first.currency}</td>
            <td>{first.eventType}</td>
            <td class="num">{vs.reduce((a, v) => a + v.count, 0)}</td>
            <td class="num">
              <Money minor={sumMinor(vs.map((v) => v.amountMinor))} currency={first.currency} code={false} />
            </td>
          </tr>
        );
      })}
    </ListTable>
  );
}

const OWNERS: Readonly<Record<string, string>> = {
  treasury: "Treasury (bank, vault)",
  seller: "Sellers",
  platform: "Platform",
  gateway: "Gateways",
  tax_authority: "Tax authorities",
  fx_clearing: "FX clearing",
  buyer: "Buyers",
};

/**
 * One currency's accounts against their normal balance: each side gross (netted, a bank account
 * gone negative hides in the sums), then the accounts per owner. FX clearing accounts swing both
 * ways by design and say so; any other owner's account against its side is a finding.
 */
function AgainstNormal(props: { b: CurrencyBalances }): JSX.Element {
  const { b } = props;
  const c = b.currency;
  const sides: [string, BalanceSide][] = [
    ["Debit-normal (assets, expenses)", b.debitNormal],
    ["Credit-normal (liabilities, revenue)", b.creditNormal],
  ];
  return (
    <div class="against" role="group" aria-labelledby={`against-${c}-h`} data-testid={`against-${c}`}>
      <h3 id={`against-${c}-h`}>{c}: against their normal balance</h3>
      <table>
        <caption class="sr-only">{c} balances gross: on their normal side and against it, per side</caption>
        <thead>
          <tr>
            <th scope="col">Side</th>
            <th scope="col" class="num">On normal side</th>
            <th scope="col" class="num">Against it</th>
            <th scope="col" class="num">Accounts against</th>
          </tr>
        </thead>
        <tbody>
          {sides.map(([label, side]) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td class="num">
                <Money minor={side.onNormalSide} currency={c} code={false} />
              </td>
              <td class="num">
                <Money minor={side.againstNormalSide} currency={c} code={false} />
              </td>
              <td class="num">
                {side.accountsAgainst} of {side.accounts}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <table>
        <caption class="sr-only">{c} accounts against their normal balance by owner, the largest first</caption>
        <thead>
          <tr>
            <th scope="col">Owner · account</th>
            <th scope="col">Normal side</th>
            <th scope="col" class="num">Balance</th>
          </tr>
        </thead>
        {b.againstNormal.map((g) => {
          const more = g.accounts - g.largest.length;
          return (
            <tbody key={g.ownerType} data-testid={`against-${c}-${g.ownerType}`}>
              <tr>
                <th scope="rowgroup" colSpan={2}>
                  {OWNERS[g.ownerType] ?? g.ownerType} ({g.accounts} account{g.accounts === 1 ? "" : "s"}){" "}
                  {g.ownerType === "fx_clearing" ? <span class="badge neutral">both ways by design</span> : <span class="badge bad">check</span>}
                </th>
                <td class="num">
                  <Money minor={g.balance} currency={c} code={false} />
                </td>
              </tr>
              {g.largest.map((a) => (
                <tr key={a.account}>
                  <td>
                    <Link href={href(`/accounts/${encodeURIComponent(a.account)}/${c}`)}>{a.account}</Link>
                  </td>
                  <td>{a.normalBalance}</td>
                  <td class="num">
                    <Money minor={a.balance} currency={c} code={false} />
                  </td>
                </tr>
              ))}
              {more > 0 && (
                <tr>
                  <td colSpan={3} class="muted">
                    and {more} more
                  </td>
                </tr>
              )}
            </tbody>
          );
        })}
      </table>
    </div>
  );
}

/** The age buckets of the queues' counts, in the order the service gives them. */
function bucketsOf(o: OverviewReport): string[] {
  return [...new Set([...o.exceptions, ...o.cashExceptions].map((e) => e.ageBucket))];
}

const ageWords = (bucket: string) => `${bucket.replace("over-", "over ")} days`;

/** What waits for a person, per queue: gateway report and bank statement exceptions by age, bank payout exceptions; each count links to its queue. */
function OpenExceptions(props: { o: OverviewReport }): JSX.Element {
  const { o } = props;
  const count = (list: OverviewReport["exceptions"], bucket: string) => list.find((e) => e.ageBucket === bucket)?.count;
  const bank = o.bankPayoutExceptions;
  return (
    <>
      <table>
        <caption class="sr-only">Open gateway reconciliation exceptions and unmatched bank statement entries, by age</caption>
        <thead>
          <tr>
            <th scope="col">Age</th>
            <th scope="col" class="num">
              Gateway reports
            </th>
            <th scope="col" class="num">
              Bank statements
            </th>
          </tr>
        </thead>
        <tbody>
          {bucketsOf(o).map((bucket) => {
            const gateway = count(o.exceptions, bucket);
            const cash = count(o.cashExceptions, bucket);
            return (
              <tr key={bucket}>
                <th scope="row">{ageWords(bucket)}</th>
                <td class="num" data-testid={`gateway-${bucket}`}>
                  {gateway === undefined ? "–" : <Link href={href("/reconciliation", { status: "open", age: bucket })}>{String(gateway)}</Link>}
                </td>
                <td class="num" data-testid={`cash-${bucket}`}>
                  {cash === undefined ? "–" : <Link href={href("/cash", { status: "open", age: bucket })}>{String(cash)}</Link>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p class="figure" data-testid="bank-payout-exceptions">
        <strong>{bank}</strong> open bank payout exception{bank === 1 ? "" : "s"} <span class="muted">(the bank's notifications not applied)</span>
      </p>
      <p>
        <Link href={href("/reconciliation", { status: "open" })}>Exception queue</Link> · <Link href={href("/cash", { status: "open" })}>Unmatched bank entries</Link> ·{" "}
        <Link href={href("/payouts", { status: "open" })}>Bank payout exceptions</Link>
      </p>
    </>
  );
}

function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(from.slice(0, 10)); t < Date.parse(to); t += DAY) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

/**
 * The 30 UTC days up to the end of the day the latest settlement occurred (the demo's data is of
 * December 2024), or up to today without one. By time: the newest record booked may be a late
 * event that occurred days before others.
 */
function defaultWindow(latestOccurredAt: string | null): { from: string; to: string } {
  const end = latestOccurredAt === null ? Date.now() : Date.parse(latestOccurredAt);
  const endDay = Math.floor(end / DAY) * DAY + DAY;
  return { from: new Date(endDay - 30 * DAY).toISOString(), to: new Date(endDay).toISOString() };
}

export function Overview(props: ViewProps): JSX.Element {
  const q = props.location.query;
  const [overview] = useLoad(() => get<OverviewReport>("/v1/reports/overview"), []);
  const asked = q.get("from") !== null && q.get("to") !== null ? { from: q.get("from") as string, to: q.get("to") as string } : null;
  const range: Loaded<{ from: string; to: string }> =
    asked !== null ? { state: "ok", value: asked } : overview.state === "ok" ? { state: "ok", value: defaultWindow(overview.value.settlements.latestOccurredAt) } : overview;
  const span = range.state === "ok" ? `${range.value.from}/${range.value.to}` : null;
  const [volumes] = useLoad(async () => (range.state === "ok" ? (await get<{ items: Volume[] }>("/v1/reports/volumes", range.value)).items : null), [span]);

  return (
    <>
      <Title
        sub={
          range.state === "ok" ? (
            // What the volumes count: posted settlement events of every type (captures, refunds, chargebacks, releases…), by when they occurred.
            <>
              Settlement events of every type that occurred from <Time iso={range.value.from} /> to before <Time iso={range.value.to} />
              {asked === null && ": the 30 UTC days up to the latest"}
            </>
          ) : undefined
        }
      >
        Overview
      </Title>
      <section class="card" aria-labelledby="vol-h">
        <h2 id="vol-h">Volumes by market and currency per day</h2>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            const f = new FormData(e.target as HTMLFormElement);
            const from = f.get("from");
            const to = f.get("to");
            if (typeof from === "string" && typeof to === "string" && from !== "" && to !== "") navigate(href("/", { from: new Date(`${from}T00:00:00Z`).toISOString(), to: new Date(Date.parse(`${to}T00:00:00Z`) + DAY).toISOString() }));
          }}
        >
          <label for="o-from">From (UTC days)</label>
          <input id="o-from" name="from" type="date" value={range.state === "ok" ? range.value.from.slice(0, 10) : ""} />
          <label for="o-to">to</label>
          <input id="o-to" name="to" type="date" value={range.state === "ok" ? new Date(Date.parse(range.value.to) - DAY).toISOString().slice(0, 10) : ""} />
          <button type="submit">Show</button>
        </form>
        <Show load={volumes}>
          {(vs) =>
            vs === null || range.state !== "ok" ? null : vs.length === 0 ? (
              <p>No settlement in this period.</p>
            ) : (
              <>
                <VolumeChart volumes={vs} days={daysBetween(range.value.from, range.value.to)} />
                <VolumeTable volumes={vs} />
              </>
            )
          }
        </Show>
      </section>
      <Show load={overview}>
        {(o) => (
          <div class="grid">
            <section class="card" aria-labelledby="bal-h">
              <h2 id="bal-h">Balances per currency</h2>
              <table>
                <caption class="sr-only">Posted balances per currency, debit-normal against credit-normal accounts</caption>
                <thead>
                  <tr>
                    <th scope="col">Currency</th>
                    <th scope="col" class="num">Debit-normal</th>
                    <th scope="col" class="num">Credit-normal</th>
                    <th scope="col" class="num">Accounts</th>
                  </tr>
                </thead>
                <tbody>
                  {o.balances.map((b) => (
                    <tr key={b.currency}>
                      <td>
                        <Link href={href("/accounts", { currency: b.currency })}>{b.currency}</Link> {b.debitBalances === b.creditBalances ? <span class="badge good">balanced</span> : <span class="badge bad">off</span>}
                      </td>
                      <td class="num">
                        <Money minor={b.debitBalances} currency={b.currency} code={false} />
                      </td>
                      <td class="num">
                        <Money minor={b.creditBalances} currency={b.currency} code={false} />
                      </td>
                      <td class="num">{b.accounts}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p class="muted">Assets and expenses against liabilities, equity and revenue: equal in every currency when the books balance.</p>
            </section>
            <section class="card" aria-labelledby="against-h">
              <h2 id="against-h">Against their normal balance</h2>
              <p class="muted">Each side's balances gross: an account against its normal side (an asset gone negative) is netted away in the sums above.</p>
              {o.balances
                .filter((b) => b.againstNormal.length > 0)
                .map((b) => (
                  <AgainstNormal key={b.currency} b={b} />
                ))}
              {o.balances.some((b) => b.againstNormal.length === 0) && (
                <p data-testid="against-none">
                  None in{" "}
                  {o.balances
                    .filter((b) => b.againstNormal.length === 0)
                    .map((b) => b.currency)
                    .join(", ")}
                  .
                </p>
              )}
            </section>
            <section class="card" aria-labelledby="anc-h">
              <h2 id="anc-h">Anchoring</h2>
              <p class="figure">
                <strong>{o.anchoring.lagTransactions}</strong> journal transaction{o.anchoring.lagTransactions === 1 ? "" : "s"} not yet anchored
              </p>
              <p>
                Journal head {o.anchoring.journalHead ?? "–"}, anchored through {o.anchoring.anchoredThrough ?? "nothing yet"}.
                {o.anchoring.oldestUnanchoredAt !== null && (
                  <>
                    {" "}
                    Oldest waiting since <Time iso={o.anchoring.oldestUnanchoredAt} />.
                  </>
                )}
              </p>
              <Link href={href("/anchoring")}>Batches</Link>
            </section>
            <section class="card" aria-labelledby="pay-h">
              <h2 id="pay-h">Payouts by state</h2>
              <table>
                <caption class="sr-only">Payouts by rail, state and currency</caption>
                <thead>
                  <tr>
                    <th scope="col">Rail</th>
                    <th scope="col">State</th>
                    <th scope="col" class="num">Count</th>
                    <th scope="col" class="num">Amount</th>
                  </tr>
                </thead>
                <tbody>
                  {o.payouts.map((p) => (
                    <tr key={`${p.rail}/${p.state}/${p.currency}`}>
                      <td>{p.rail}</td>
                      <td>{p.state}</td>
                      <td class="num">{p.count}</td>
                      <td class="num">
                        <Money minor={p.amountMinor} currency={p.currency} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Link href={href("/payouts")}>Payouts</Link>
            </section>
            <section class="card" aria-labelledby="exc-h">
              <h2 id="exc-h">Open exceptions</h2>
              <OpenExceptions o={o} />
            </section>
          </div>
        )}
      </Show>
    </>
  );
}
