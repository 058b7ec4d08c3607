/**
 * The journal: every transaction, newest first, a page at a time (the service answers each page by
 * index). The filters and the page are the URL's (`pages`: the cursors walked past), so Back, a
 * reload or a shared link return to the same page.
 */
import type { JSX } from "preact";
import { get } from "../api";
import { isoToLocalInput, localInputToIso, text } from "../format";
import type { ViewProps } from "../main";
import { href, navigate } from "../router";
import type { Page, Transaction } from "../types";
import { filterKey, Link, ListTable, LocalTimeInput, Money, Pager, Show, Time, Title, useUrlForm, useUrlPages } from "../ui";

export function Journal(props: ViewProps): JSX.Element {
  const q = props.location.query;
  // The filters alone: turning a page keeps what the form holds, a new filter starts on its first page.
  const filters = filterKey(q, "pages");
  const [form, setForm] = useUrlForm(() => ({ account: q.get("account") ?? "", seller: q.get("seller") ?? "", from: isoToLocalInput(q.get("from")), to: isoToLocalInput(q.get("to")) }), filters);
  const set = (k: keyof typeof form) => (value: string) => setForm({ ...form, [k]: value });
  const pages = useUrlPages(
    props.location,
    "pages",
    async (cursor) => {
      const page = await get<Page<Transaction>>("/v1/transactions", { limit: 50, cursor, account: q.get("account"), sellerId: q.get("seller"), from: q.get("from"), to: q.get("to") });
      return { items: page.items, next: page.nextCursor };
    },
    [filters],
  );
  return (
    <>
      <Title sub="Every journal transaction, newest first; each balances per currency.">Journal</Title>
      <form
        class="filters"
        role="search"
        aria-label="Journal"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(href("/journal", { account: form.account.trim(), seller: form.seller.trim(), from: localInputToIso(form.from) ?? undefined, to: localInputToIso(form.to) ?? undefined }));
        }}
      >
        <div>
          <label for="j-account">Account</label>
          <input id="j-account" value={form.account} onInput={(e) => set("account")((e.target as HTMLInputElement).value)} placeholder="platform:revenue:commission" />
        </div>
        <div>
          <label for="j-seller">Seller</label>
          <input id="j-seller" value={form.seller} onInput={(e) => set("seller")((e.target as HTMLInputElement).value)} placeholder="S-POP-SZ-01" />
        </div>
        <div>
          <LocalTimeInput id="j-from" label="Booked from" value={form.from} onInput={set("from")} />
        </div>
        <div>
          <LocalTimeInput id="j-to" label="before" value={form.to} onInput={set("to")} />
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
