/** Ledger accounts: the list with balances now, and one account's balance at a date and its history. */
import type { JSX } from "preact";
import { get } from "../api";
import { isoToLocalInput, localInputToIso, text } from "../format";
import type { ViewProps } from "../main";
import { href, navigate } from "../router";
import type { Account, Balance, Page, Transaction } from "../types";
import { Fields, filterKey, Hash, Link, ListTable, LocalTimeInput, Money, Pager, Show, Time, Title, useLoad, useUrlForm, useUrlPages } from "../ui";
import { Postings } from "./Settlement";

export function Accounts(props: ViewProps): JSX.Element {
  const q = props.location.query;
  // The filters alone; the page (`pages`: the cursors walked past) is the URL's too.
  const key = filterKey(q, "pages");
  const [form, setForm] = useUrlForm(() => ({ prefix: q.get("prefix") ?? "", currency: q.get("currency") ?? "" }), key);
  const pages = useUrlPages(
    props.location,
    "pages",
    async (cursor) => {
      // A currency is an upper-case ISO 4217 code to the API: "usd" in a URL means USD.
      const page = await get<Page<Account>>("/v1/accounts", { limit: 50, cursor, prefix: q.get("prefix"), currency: q.get("currency")?.trim().toUpperCase() });
      return { items: page.items, next: page.nextCursor };
    },
    [key],
  );
  return (
    <>
      <Title sub="Every ledger account with its balance now, in creation order.">Accounts</Title>
      <form
        class="filters"
        role="search"
        aria-label="Accounts"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(href("/accounts", { prefix: form.prefix.trim(), currency: form.currency.trim().toUpperCase() }));
        }}
      >
        <div>
          <label for="a-prefix">Account code starts with</label>
          <input id="a-prefix" value={form.prefix} onInput={(e) => setForm({ ...form, prefix: (e.target as HTMLInputElement).value })} placeholder="seller:S-POP-SZ-01" />
        </div>
        <div>
          <label for="a-currency">Currency</label>
          <input id="a-currency" value={form.currency} onInput={(e) => setForm({ ...form, currency: (e.target as HTMLInputElement).value })} placeholder="USD" size={6} />
        </div>
        <div class="buttons">
          <button type="submit">Filter</button>
        </div>
      </form>
      <Show load={pages.load}>
        {({ items }) => (
          <ListTable caption="Accounts" columns={["Account", "Currency", "Normal side", ["Posted", "num"], ["Available", "num"]]}>
            {items.map((a) => (
              <tr key={`${a.code}/${a.currency}`}>
                <td>
                  <Link href={href(`/accounts/${encodeURIComponent(a.code)}/${a.currency}`)}>{a.code}</Link>
                </td>
                <td>{a.currency}</td>
                <td>{a.normalBalance}</td>
                <td class="num">
                  <Money minor={a.balance.posted} currency={a.currency} code={false} />
                </td>
                <td class="num">
                  <Money minor={a.balance.available} currency={a.currency} code={false} />
                </td>
              </tr>
            ))}
          </ListTable>
        )}
      </Show>
      <Pager pages={pages} label="Accounts" />
    </>
  );
}

interface HistoryItem {
  id: string;
  transactionId: string;
  direction: "debit" | "credit";
  phase: string;
  amount: string;
  balanceAfter: string;
  bookedAt: string;
  /** The period it counts in; a transaction booked after its period closed is effective at the close instant… */
  effectiveAt: string;
  /** …and this is the instant it was for (null otherwise). */
  originalEffectiveAt: string | null;
}

export function AccountView(props: ViewProps): JSX.Element {
  const account = props.params["account"] as string;
  const currency = (props.params["currency"] as string).toUpperCase();
  const base = `/v1/accounts/${encodeURIComponent(account)}/${encodeURIComponent(currency)}`;
  const at = props.location.query.get("at");
  const [atInput, setAtInput] = useUrlForm(() => isoToLocalInput(at), at ?? "");
  // A period's closing balance is asked for at its last millisecond (its end is exclusive; a
  // trial balance links here that way): said as the period's end.
  const periodEnd = at !== null && /T[0-9]{2}:[0-9]{2}:59\.999Z$/.test(at) ? new Date(Date.parse(at) + 1).toISOString() : null;
  const [now] = useLoad(() => get<Balance>(`${base}/balance`), [base]);
  const [atBalance] = useLoad(() => (at === null ? Promise.resolve(null) : get<Balance>(`${base}/balance`, { at })), [base, at]);
  // The history's page is the URL's (`pages`), beside the balance's instant.
  const pages = useUrlPages(
    props.location,
    "pages",
    async (cursor) => {
      const page = await get<Page<HistoryItem>>(`${base}/history`, { limit: 50, cursor });
      return { items: page.items, next: page.nextCursor };
    },
    [base],
  );
  return (
    <>
      <Title sub={currency}>{account}</Title>
      <section aria-labelledby="bal-h">
        <h2 id="bal-h">Balance</h2>
        <Show load={now}>
          {(b) => (
            <Fields
              rows={[
                ["Posted now", <Money minor={b.posted} currency={currency} />],
                ["Available now", <Money minor={b.available} currency={currency} />],
                ["Pending debits / credits", <><Money minor={b.pendingDebits} currency={currency} code={false} /> / <Money minor={b.pendingCredits} currency={currency} code={false} /></>],
                ["As of", <Time iso={b.asOf} />],
              ]}
            />
          )}
        </Show>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(href(`/accounts/${encodeURIComponent(account)}/${currency}`, { at: localInputToIso(atInput) ?? undefined }));
          }}
        >
          <LocalTimeInput id="at" label="Balance at" value={atInput} onInput={setAtInput} />
          <button type="submit">Show</button>
        </form>
        {at !== null && (
          <Show load={atBalance}>
            {(b) =>
              b === null ? null : (
                <p data-testid="balance-at">
                  {periodEnd === null ? (
                    <>
                      Posted at <Time iso={at} />
                    </>
                  ) : (
                    <>
                      Posted before <Time iso={periodEnd} />, the closing balance of a period that ends then
                    </>
                  )}{" "}
                  (by effective date, late entries included): <Money minor={b.posted} currency={currency} />
                </p>
              )
            }
          </Show>
        )}
      </section>
      <section aria-labelledby="hist-h">
        <h2 id="hist-h">History, newest first</h2>
        <Show load={pages.load}>
          {({ items }) => (
            <ListTable caption={`Postings of ${account}`} columns={["Effective", "Booked", "Transaction", "Phase", ["Debit", "num"], ["Credit", "num"], ["Running balance", "num"]]}>
              {items.map((h) => (
                <tr key={h.id}>
                  <td>
                    <Time iso={h.effectiveAt} />
                    {h.originalEffectiveAt !== null && (
                      <span class="muted">
                        {" "}
                        (for <Time iso={h.originalEffectiveAt} />, in a period closed before it was booked)
                      </span>
                    )}
                  </td>
                  <td>
                    <Time iso={h.bookedAt} />
                  </td>
                  <td>
                    <Link href={href(`/transactions/${h.transactionId}`)}>{h.transactionId}</Link>
                  </td>
                  <td>{h.phase}</td>
                  <td class="num">{h.direction === "debit" ? <Money minor={h.amount} currency={currency} code={false} /> : ""}</td>
                  <td class="num">{h.direction === "credit" ? <Money minor={h.amount} currency={currency} code={false} /> : ""}</td>
                  <td class="num">
                    <Money minor={h.balanceAfter} currency={currency} code={false} />
                  </td>
                </tr>
              ))}
            </ListTable>
          )}
        </Show>
        <Pager pages={pages} label="History" />
      </section>
    </>
  );
}

export function TransactionView(props: ViewProps): JSX.Element {
  const id = props.params["id"] as string;
  const [load] = useLoad(() => get<Transaction>(`/v1/transactions/${encodeURIComponent(id)}`), [id]);
  return (
    <Show load={load}>
      {(tx) => {
        const settlement = tx.metadata["gatewayEventId"] !== undefined && tx.metadata["gateway"] !== undefined ? `settlement:${text(tx.metadata["gateway"])}:${text(tx.metadata["gatewayEventId"])}` : null;
        return (
          <>
            <Title sub={tx.idempotencyKey}>{`Journal transaction ${tx.id}`}</Title>
            <Fields
              rows={[
                ["Kind", `${tx.kind} · ${tx.status}`],
                ["Effective", <Time iso={tx.effectiveAt} />],
                // A transaction dated into a closed period is booked at the close instant; its own date is kept.
                ...(typeof tx.metadata["originalEffectiveAt"] === "string"
                  ? [["Originally effective", <><Time iso={tx.metadata["originalEffectiveAt"]} /> <span class="muted">(in a period closed before it was booked: effective at the close instant instead)</span></>] as [string, JSX.Element]]
                  : []),
                ["Booked", <Time iso={tx.bookedAt} />],
                ["Hash", <Hash value={tx.hash} />],
                ["Description", tx.description ?? "–"],
                ...(settlement === null ? [] : [["Settlement", <Link href={href(`/settlements/${encodeURIComponent(settlement)}`)}>{settlement}</Link>] as [string, JSX.Element]]),
              ]}
            />
            <Postings tx={tx} />
            <details>
              <summary>Metadata</summary>
              <pre>{JSON.stringify(tx.metadata, null, 2)}</pre>
            </details>
          </>
        );
      }}
    </Show>
  );
}


