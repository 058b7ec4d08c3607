/** The settlement explorer: search by order, gateway event id, seller, market and date; newest first. */
import type { JSX } from "preact";
import { get } from "../api";
import { isoToLocalInput, localInputToIso } from "../format";
import type { ViewProps } from "../main";
import { href, navigate } from "../router";
import type { Page, Settlement } from "../types";
import { Badge, filterKey, Link, ListTable, LocalTimeInput, Money, Pager, Show, Time, Title, useUrlForm, useUrlPages } from "../ui";

const FILTERS: [key: string, label: string, param: string, placeholder: string][] = [
  ["order", "Order", "settlementId", "ORD-README-1"],
  ["event", "Gateway event id", "gatewayEventId", "evt-readme-1"],
  ["seller", "Seller", "sellerId", "S-POP-SZ-01"],
  ["market", "Market", "market", "BR"],
];
/** Filters the API matches as upper-case codes (ISO 3166 markets): "br" is BR, not a validation error. */
const CODES = new Set(["market"]);
const normal = (k: string, v: string | null | undefined): string | undefined => {
  const t = v?.trim();
  return t === undefined || t === "" ? undefined : CODES.has(k) ? t.toUpperCase() : t;
};

export function Settlements(props: ViewProps): JSX.Element {
  const q = props.location.query;
  // The filters alone; the page (`pages`: the cursors walked past) is the URL's too.
  const key = filterKey(q, "pages");
  // The dates are held as the inputs show them (local time) and converted at the edges.
  const [form, setForm] = useUrlForm<Record<string, string>>(
    () => Object.fromEntries<string>([...FILTERS.map(([k]): [string, string] => [k, q.get(k) ?? ""]), ["from", isoToLocalInput(q.get("from"))], ["to", isoToLocalInput(q.get("to"))]]),
    key,
  );
  const pages = useUrlPages(
    props.location,
    "pages",
    async (cursor) => {
      const query: Record<string, string | undefined> = { limit: "25", cursor: cursor ?? undefined };
      for (const [k, , param] of FILTERS) query[param] = normal(k, q.get(k));
      query["from"] = q.get("from") ?? undefined;
      query["to"] = q.get("to") ?? undefined;
      const page = await get<Page<Settlement>>("/v1/settlements", query);
      return { items: page.items, next: page.nextCursor };
    },
    [key],
  );

  const search = (e: Event) => {
    e.preventDefault();
    const query: Record<string, string | undefined> = {};
    for (const [k] of FILTERS) query[k] = normal(k, form[k]);
    query["from"] = localInputToIso(form["from"] ?? "") ?? undefined;
    query["to"] = localInputToIso(form["to"] ?? "") ?? undefined;
    navigate(href("/settlements", query));
  };
  const set = (k: string) => (value: string) => setForm({ ...form, [k]: value });

  return (
    <>
      <Title sub="Every settlement event booked, newest first. Filters combine.">Settlements</Title>
      <form class="filters" onSubmit={search} role="search" aria-label="Settlements">
        {FILTERS.map(([k, label, , placeholder]) => (
          <div key={k}>
            <label for={`f-${k}`}>{label}</label>
            <input id={`f-${k}`} name={k} value={form[k]} onInput={(e) => set(k)((e.target as HTMLInputElement).value)} placeholder={placeholder} />
          </div>
        ))}
        <div>
          <LocalTimeInput id="f-from" label="Occurred from" value={form["from"] ?? ""} onInput={set("from")} />
        </div>
        <div>
          <LocalTimeInput id="f-to" label="before" value={form["to"] ?? ""} onInput={set("to")} />
        </div>
        <div class="buttons">
          <button type="submit">Search</button>
        </div>
      </form>
      <Show load={pages.load}>
        {({ items }) =>
          items.length === 0 ? (
            <p>No settlement matches.</p>
          ) : (
            <ListTable caption="Settlements" columns={["Id", "Occurred", "Type", "Order", "Gateway event", "Seller", "Market", ["Amount", "num"], "Status"]}>
              {items.map((s) => (
                <tr key={s.id}>
                  <td>
                    <Link href={href(`/settlements/${s.id}`)}>{s.id}</Link>
                  </td>
                  <td>
                    <Time iso={s.event.occurredAt} />
                  </td>
                  <td>{s.event.type}</td>
                  <td>{s.event.settlementId}</td>
                  <td>
                    {s.event.gateway} · {s.event.gatewayEventId}
                  </td>
                  <td>{s.event.sellerId}</td>
                  <td>{s.event.market}</td>
                  <td class="num">
                    <Money minor={s.event.amount} currency={s.event.currency} />
                  </td>
                  <td>
                    <Badge value={s.status} />
                  </td>
                </tr>
              ))}
            </ListTable>
          )
        }
      </Show>
      <Pager pages={pages} label="Settlements" />
    </>
  );
}
