/** Payouts on both rails (stablecoin from the vault, CNY by bank file) with their chain or bank state, and seller statements. */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { get, url } from "../api";
import type { ViewProps } from "../main";
import type { Page, Settlement } from "../types";
import { Badge, Hash, ListTable, Money, Pager, Show, Time, Title, useLoad, usePages, type Loaded } from "../ui";

interface Payout {
  id: string;
  batchId: string;
  sellerId: string;
  currency: string;
  amount: string;
  tokenAmount: string;
  status: string;
  outcome: string | null;
  txHash: string | null;
  blockNumber: string | null;
  createdAt: string;
  finalAt: string | null;
}

interface BankPayout {
  id: string;
  sellerId: string;
  currency: string;
  amount: string;
  status: string;
  fileId?: string | null;
  createdAt: string;
  [k: string]: unknown;
}

interface Seller {
  id: string;
  name: string;
  program: string;
  payoutCurrency: string;
}

/**
 * The month a statement opens on: the month (UTC, as statements are cut) of the newest settlement,
 * or the current month when there is none. The newest settlement's month is the latest month with
 * activity to state: on a live ledger it is the current month, and on a ledger whose data stops
 * earlier (the demo's is of December 2024) the current month's statement would be empty.
 */
async function latestMonth(): Promise<string> {
  const newest = await get<Page<Settlement>>("/v1/settlements", { limit: 1 });
  const at = newest.items[0] === undefined ? new Date() : new Date(newest.items[0].event.occurredAt);
  return at.toISOString().slice(0, 7);
}

function Statements(): JSX.Element {
  const [sellers] = useLoad(() => get<{ items: Seller[] }>("/v1/sellers"), []);
  const [latest] = useLoad(latestMonth, []);
  return <Show load={latest}>{(month) => <StatementList sellers={sellers} initialMonth={month} />}</Show>;
}

function StatementList(props: { sellers: Loaded<{ items: Seller[] }>; initialMonth: string }): JSX.Element {
  const sellers = props.sellers;
  const [month, setMonth] = useState(props.initialMonth);
  const [y, m] = month.split("-").map(Number) as [number, number];
  const from = new Date(Date.UTC(y, m - 1, 1)).toISOString();
  const to = new Date(Date.UTC(y, m, 1)).toISOString();
  return (
    <section class="card" aria-labelledby="stmt-h">
      <h2 id="stmt-h">Seller statements</h2>
      <label for="s-month">Month (UTC)</label> <input id="s-month" type="month" value={month} onInput={(e) => setMonth((e.target as HTMLInputElement).value || month)} />
      <Show load={sellers}>
        {({ items }) => (
          <ListTable caption="Sellers" columns={["Seller", "Program", "Paid in", `Statement of ${month}`]}>
            {items.map((s) => (
              <tr key={s.id}>
                <td>
                  {s.id} <span class="muted">{s.name}</span>
                </td>
                <td>{s.program}</td>
                <td>{s.payoutCurrency}</td>
                <td>
                  <a href={url(`/v1/sellers/${encodeURIComponent(s.id)}/statements`, { from, to, format: "pdf" })} download>
                    PDF
                  </a>{" "}
                  ·{" "}
                  <a href={url(`/v1/sellers/${encodeURIComponent(s.id)}/statements`, { from, to, format: "csv" })} download>
                    CSV
                  </a>
                </td>
              </tr>
            ))}
          </ListTable>
        )}
      </Show>
    </section>
  );
}

export function Payouts(props: ViewProps): JSX.Element {
  void props;
  const chain = usePages(async (cursor) => {
    const page = await get<{ items: Payout[]; nextCursor: string | null }>("/v1/payouts", { limit: 25, cursor });
    return { items: page.items, next: page.nextCursor };
  }, []);
  const bank = usePages(async (cursor) => {
    const page = await get<{ items: BankPayout[]; nextCursor: string | null }>("/v1/payouts/bank", { limit: 25, cursor });
    return { items: page.items, next: page.nextCursor };
  }, []);
  return (
    <>
      <Title sub="What each seller was paid, how, and where it stands.">Payouts</Title>
      <section class="card" aria-labelledby="chain-h">
        <h2 id="chain-h">Stablecoin payouts (vault)</h2>
        <Show load={chain.load}>
          {({ items }) =>
            items.length === 0 ? (
              <p class="muted">None yet.</p>
            ) : (
              <ListTable caption="Stablecoin payouts" columns={["Payout", "Seller", ["Amount", "num"], ["Token", "num"], "State", "Transaction", "Created"]}>
                {items.map((p) => (
                  <tr key={p.id}>
                    <td>
                      {p.id} <span class="muted">batch {p.batchId}</span>
                    </td>
                    <td>{p.sellerId}</td>
                    <td class="num">
                      <Money minor={p.amount} currency={p.currency} />
                    </td>
                    <td class="num">
                      <Money minor={p.tokenAmount} currency="USDC" />
                    </td>
                    <td>
                      <Badge value={p.status} /> {p.outcome !== null && <span class="muted">{p.outcome}</span>}
                    </td>
                    <td>
                      <Hash value={p.txHash} /> {p.blockNumber !== null && <span class="muted">block {p.blockNumber}</span>}
                    </td>
                    <td>
                      <Time iso={p.createdAt} />
                    </td>
                  </tr>
                ))}
              </ListTable>
            )
          }
        </Show>
        <Pager pages={chain} label="Stablecoin payouts" />
      </section>
      <section class="card" aria-labelledby="bank-h">
        <h2 id="bank-h">Bank payouts (pain.001)</h2>
        <Show load={bank.load}>
          {({ items }) =>
            items.length === 0 ? (
              <p class="muted">None yet: a payout run (POST /v1/payouts/bank/runs, admin) writes the file.</p>
            ) : (
              <ListTable caption="Bank payouts" columns={["Payout", "Seller", ["Amount", "num"], "State", "File", "Created"]}>
                {items.map((p) => (
                  <tr key={p.id}>
                    <td>{p.id}</td>
                    <td>{p.sellerId}</td>
                    <td class="num">
                      <Money minor={p.amount} currency={p.currency} />
                    </td>
                    <td>
                      <Badge value={p.status} />
                    </td>
                    <td>{p.fileId ?? "–"}</td>
                    <td>
                      <Time iso={p.createdAt} />
                    </td>
                  </tr>
                ))}
              </ListTable>
            )
          }
        </Show>
        <Pager pages={bank} label="Bank payouts" />
      </section>
      <Statements />
    </>
  );
}
