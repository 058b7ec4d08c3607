/** The journal: every transaction, newest first, a page at a time (the service answers each page by index). */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { get } from "../api";
import { localInputToIso, text } from "../format";
import type { ViewProps } from "../main";
import { href, navigate } from "../router";
import type { Page, Transaction } from "../types";
import { Link, ListTable, Money, Pager, Show, Time, Title, usePages } from "../ui";

export function Journal(props: ViewProps): JSX.Element {
  const q = props.location.query;
  const [account, setAccount] = useState(q.get("account") ?? "");
  const [seller, setSeller] = useState(q.get("seller") ?? "");
  const [from, setFrom] = useState((q.get("from") ?? "").slice(0, 16));
  const [to, setTo] = useState((q.get("to") ?? "").slice(0, 16));
  const key = q.toString();
  const pages = usePages(async (cursor) => {
    const page = await get<Page<Transaction>>("/v1/transactions", { limit: 50, cursor, account: q.get("account"), sellerId: q.get("seller"), from: q.get("from"), to: q.get("to") });
    return { items: page.items, next: page.nextCursor };
  }, [key]);
  return (
    <>
      <Title sub="Every journal transaction, newest first; each balances per currency.">Journal</Title>
      <form
        class="filters"
        role="search"
        aria-label="Journal"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(href("/journal", { account: account.trim(), seller: seller.trim(), from: localInputToIso(from) ?? undefined, to: localInputToIso(to) ?? undefined }));
        }}
      >
        <div>
          <label for="j-account">Account</label>
          <input id="j-account" value={account} onInput={(e) => setAccount((e.target as HTMLInputElement).value)} placeholder="platform:revenue:commission" />
        </div>
        <div>
          <label for="j-seller">Seller</label>
          <input id="j-seller" value={seller} onInput={(e) => setSeller((e.target as HTMLInputElement).value)} placeholder="S-POP-SZ-01" />
        </div>
        <div>
          <label for="j-from">Booked from</label>
          <input id="j-from" type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
        </div>
        <div>
          <label for="j-to">before</label>
          <input id="j-to" type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        </div>
        <div class="buttons">
          <button type="submit">Filter</button>
        </div>
      </form>
      <Show load={pages.load}>
        {({ items }) => (
          <ListTable caption="Journal transactions" columns={["Transaction", "Effective", "Kind", "What", ["Postings", "num"], ["Debits", "num"]]}>
            {items.map((t) => {
              const byCurrency = new Map<string, bigint>();
              for (const p of t.postings) if (p.direction === "debit") byCurrency.set(p.currency, (byCurrency.get(p.currency) ?? 0n) + BigInt(p.amount));
              return (
                <tr key={t.id}>
                  <td>
                    <Link href={href(`/transactions/${t.id}`)}>{t.id}</Link>
                  </td>
                  <td>
                    <Time iso={t.effectiveAt} />
                  </td>
                  <td>{text(t.metadata["kind"], t.kind)}</td>
                  <td>
                    <code>{t.idempotencyKey}</code>
                  </td>
                  <td class="num">{t.postings.length}</td>
                  <td class="num">
                    {[...byCurrency].map(([c, v], i) => (
                      <span key={c}>
                        {i > 0 && ", "}
                        <Money minor={v} currency={c} />
                      </span>
                    ))}
                  </td>
                </tr>
              );
            })}
          </ListTable>
        )}
      </Show>
      <Pager pages={pages} label="Journal" />
    </>
  );
}
