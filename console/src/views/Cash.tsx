/**
 * Cash: the platform's bank statements (camt.053) as imported, each checked (opening + booked
 * entries = closing, the opening equal to the previous statement's closing) and matched entry by
 * entry to remittances and bank payouts; and the queue of the entries nothing matched, resolved
 * with the same form as a gateway reconciliation's exceptions. Filters and list lengths are the
 * URL's; a read-only key sees the queue and no action.
 */
import { Fragment, type JSX } from "preact";
import { useState } from "preact/hooks";
import { canWrite, get, send, type Session } from "../api";
import { formatMoney, sumMinor } from "../format";
import type { ViewProps } from "../main";
import { href, navigate, type Location } from "../router";
import type { Transaction } from "../types";
import { Badge, Fields, Link, ListTable, Money, Show, Time, Title, useFocusLater, useLoad } from "../ui";
import { ResolutionForm, type PostingInput } from "./Resolution";

/** service/http/routes/cash.ts EntryView. */
interface CashEntry {
  index: number;
  side: "debit" | "credit";
  currency: string;
  amount: string;
  status: string;
  bookingDate: string | null;
  valueDate: string | null;
  bankReference: string | null;
  texts: string[];
  match: { kind: "remittance" | "bank_payout"; ref: string; transactionId: string | null } | null;
  exception: "unmatched" | null;
}

/** service/http/routes/cash.ts CashStatementView. */
interface CashStatement {
  id: string;
  messageId: string;
  statementId: string;
  account: string;
  currency: string;
  sequence: string | null;
  opening: string;
  closing: string;
  difference: string;
  gap: { previousStatementId: string; previousClosing: string } | null;
  entries: CashEntry[];
  matched: number;
  unmatched: number;
  inTransit: { ref: string; currency: string; amount: string; occurredAt: string; transactionId: string }[];
  ledgerBalance: string;
  importedAt: string;
  importedBy: string;
}

/** service/http/routes/cash.ts ResolutionView. */
interface CashResolution {
  note: string;
  adjustment: { postings: PostingInput[]; description?: string } | null;
  journalTransactionId: string | null;
  resolvedBy: string;
  resolvedAt: string;
}

/** service/http/routes/cash.ts ExceptionView. */
interface CashException {
  statementId: string;
  statement: string;
  account: string;
  entry: CashEntry;
  importedAt: string;
  ageDays: number;
  status: "open" | "resolved";
  resolution: CashResolution | null;
}

const BANK = "platform:cash:bank";
const AGES = [
  ["0-7", "0-7 days"],
  ["8-30", "8-30 days"],
  ["over-30", "over 30 days"],
] as const;
const STEP = 20;
const MAX_LIMIT = 1000;

/** A count from the URL: a whole number in 1..MAX_LIMIT, else `fallback`. */
function countOf(v: string | null, fallback: number): number {
  const n = v === null ? NaN : Number(v);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, MAX_LIMIT) : fallback;
}

/** The statement's booked entries, net, as the bank moved the account: credits in, debits out. */
function bookedNet(s: CashStatement): string {
  return sumMinor(s.entries.filter((e) => e.status === "BOOK").map((e) => (e.side === "credit" ? e.amount : `-${e.amount}`)));
}

function AddsUp(props: { s: CashStatement }): JSX.Element {
  return props.s.difference === "0" ? (
    <Badge value="adds up" tone="good" />
  ) : (
    <>
      <Badge value="does not add up" tone="bad" /> <Money minor={props.s.difference} currency={props.s.currency} />
    </>
  );
}

function Gap(props: { s: CashStatement }): JSX.Element {
  const g = props.s.gap;
  if (g === null) return <span>none</span>;
  return (
    <>
      <Badge value="gap" tone="bad" /> the previous statement {g.previousStatementId} closed at <Money minor={g.previousClosing} currency={props.s.currency} />: one is missing
    </>
  );
}

/** ISO 20022's "no reference given" (an EndToEndId of NOTPROVIDED): not a reference to show. */
const NOT_PROVIDED = "NOTPROVIDED";

/**
 * An entry's texts and references, each once: the parser lists the bank's own reference
 * (AcctSvcrRef) among the texts too, and ISO 20022's NOTPROVIDED placeholder is no reference.
 */
export function referenceParts(e: Pick<CashEntry, "texts" | "bankReference">): { texts: string[]; bankReference: string | null } {
  const bankReference = e.bankReference === null || e.bankReference.trim() === "" || e.bankReference.trim().toUpperCase() === NOT_PROVIDED ? null : e.bankReference.trim();
  const texts = [...new Set(e.texts.map((t) => t.trim()))].filter((t) => t !== "" && t.toUpperCase() !== NOT_PROVIDED && t !== bankReference);
  return { texts, bankReference };
}

function Reference(props: { e: CashEntry }): JSX.Element {
  const { texts, bankReference } = referenceParts(props.e);
  return (
    <>
      {texts.length === 0 ? <span class="muted">–</span> : texts.join(" · ")}
      {bankReference !== null && <span class="muted"> (bank ref. {bankReference})</span>}
    </>
  );
}

/**
 * Each statement's unmatched entries still open, or null when the page cannot count them all. The
 * statement's own `unmatched` is what its import found and never changes; a resolution closes the
 * entry in the queue, which is where the open ones are counted.
 */
async function openPerStatement(): Promise<Map<string, number> | null> {
  const q = await get<{ items: CashException[]; openByAge: Record<string, number> }>("/v1/cash/exceptions", { status: "open", limit: MAX_LIMIT });
  const total = Object.values(q.openByAge).reduce((a, n) => a + n, 0);
  if (q.items.length < total) return null;
  const open = new Map<string, number>();
  for (const x of q.items) open.set(x.statementId, (open.get(x.statementId) ?? 0) + 1);
  return open;
}

function Statements(props: { location: Location; shown: number; refresh: number }): JSX.Element {
  const [load] = useLoad(async () => {
    const [list, open] = await Promise.all([get<{ items: CashStatement[] }>("/v1/cash/statements", { limit: props.shown }), openPerStatement()]);
    return { items: list.items, open };
  }, [props.shown, props.refresh]);
  return (
    <section class="card" aria-labelledby="stmts-h">
      <h2 id="stmts-h">Bank statements</h2>
      <Show load={load}>
        {({ items, open }) =>
          items.length === 0 ? (
            <p class="muted">No statement imported yet: POST the bank's camt.053 to /v1/cash/statements.</p>
          ) : (
            <>
              <ListTable caption="Bank statements, newest first" columns={["Statement", "Account", ["Opening", "num"], ["Closing", "num"], "Adds up", "Gap", ["Matched", "num"], ["Unmatched", "num"], "Imported"]}>
                {items.map((s) => (
                  <tr key={s.id}>
                    <td>
                      <Link href={href(`/cash/statements/${s.id}`)}>{s.statementId}</Link>
                    </td>
                    <td>
                      {s.account} <span class="muted">{s.currency}</span>
                    </td>
                    <td class="num">
                      <Money minor={s.opening} currency={s.currency} code={false} />
                    </td>
                    <td class="num">
                      <Money minor={s.closing} currency={s.currency} code={false} />
                    </td>
                    <td>
                      <AddsUp s={s} />
                    </td>
                    <td>{s.gap === null ? "none" : <Badge value="gap" tone="bad" />}</td>
                    <td class="num">{s.matched}</td>
                    <td class="num" data-testid="unmatched">
                      {s.unmatched}
                      {open !== null && s.unmatched > 0 && <span class="muted">{` · ${open.get(s.id) ?? 0} open`}</span>}
                    </td>
                    <td>
                      <Time iso={s.importedAt} />
                    </td>
                  </tr>
                ))}
              </ListTable>
              {items.length >= props.shown && props.shown < MAX_LIMIT && (
                <p>
                  <Link href={cashHref(props.location, { statements: String(Math.min(props.shown + STEP, MAX_LIMIT)) })}>Show more statements</Link>
                </p>
              )}
            </>
          )
        }
      </Show>
    </section>
  );
}

/** This view's URL with some of its query changed. */
function cashHref(location: Location, change: Record<string, string | undefined>): string {
  const query: Record<string, string | undefined> = {};
  for (const [k, v] of location.query) query[k] = v;
  return href("/cash", { ...query, ...change });
}

/** The adjusting entry a bank line calls for: the cash moved by the entry, against a line to name. */
function proposedPostings(e: CashEntry): PostingInput[] {
  return e.side === "credit"
    ? [
        { account: BANK, currency: e.currency, direction: "debit", amount: e.amount },
        { account: "platform:reconciliation:unidentified_receipts", currency: e.currency, direction: "credit", amount: e.amount },
      ]
    : [
        { account: "platform:reconciliation:bank_charges", currency: e.currency, direction: "debit", amount: e.amount },
        { account: BANK, currency: e.currency, direction: "credit", amount: e.amount },
      ];
}

function ResolveEntry(props: { x: CashException; onBooked: () => void; onDone: () => void; onCancel: () => void }): JSX.Element {
  const { x } = props;
  const e = x.entry;
  return (
    <ResolutionForm
      label={`Resolve entry ${e.index} of statement ${x.statement}`}
      heading={`Resolve: a ${e.side} of ${formatMoney(e.amount, e.currency)} (statement ${x.statement}, entry ${e.index})`}
      reason={`Nothing booked matches it: a remittance names its id in the entry's texts, a bank payout its EndToEndId. An adjusting entry must ${e.side === "credit" ? "debit" : "credit"} ${BANK} by exactly ${formatMoney(e.amount, e.currency)}, and touch no seller's account.`}
      initialNote=""
      postings={proposedPostings(e)}
      proposal={`the entry's amount on ${BANK}; name the other account for what the bank did`}
      withEntry
      currency={e.currency}
      submit={async (body) => {
        const r = await send<{ status: string; resolution: CashResolution }>("POST", `/v1/cash/statements/${encodeURIComponent(x.statementId)}/entries/${e.index}/resolution`, body);
        const id = r?.resolution.journalTransactionId ?? null;
        return id === null ? null : get<Transaction>(`/v1/transactions/${encodeURIComponent(id)}`);
      }}
      onBooked={props.onBooked}
      onDone={props.onDone}
      onCancel={props.onCancel}
    />
  );
}

function Exceptions(props: { session: Session; location: Location; shown: number; onResolved: () => void }): JSX.Element {
  const q = props.location.query;
  const status = q.get("status") ?? "open";
  const age = q.get("age") ?? "";
  // The entry being resolved: its form is shown below the list (not in a row of the table, which
  // scrolls sideways on a phone), and stays with its confirmation while the list reloads.
  const [resolving, setResolving] = useState<CashException | null>(null);
  const focusLater = useFocusLater();
  const [load, reload] = useLoad(
    () => get<{ items: CashException[]; openByAge: Record<string, number> }>("/v1/cash/exceptions", { status: status === "any" ? undefined : status, age, limit: props.shown }),
    [status, age, props.shown],
  );
  const write = canWrite(props.session);
  const filter = (k: string) => (e: Event) => navigate(cashHref(props.location, { [k]: (e.target as HTMLSelectElement).value }));
  const keyOf = (x: CashException) => `${x.statementId}:${x.entry.index}`;
  const resolvingKey = resolving === null ? null : keyOf(resolving);
  return (
    <section class="card" aria-labelledby="cashq-h">
      <h2 id="cashq-h" tabIndex={-1}>
        Unmatched bank entries
      </h2>
      <div class="filters">
        <div>
          <label for="cq-status">Status</label>
          <select id="cq-status" value={status} onChange={filter("status")}>
            <option value="open">open</option>
            <option value="resolved">resolved</option>
            <option value="any">open or resolved</option>
          </select>
        </div>
        <div>
          <label for="cq-age">Age since import</label>
          <select id="cq-age" value={age} onChange={filter("age")}>
            <option value="">any age</option>
            {AGES.map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <Show load={load}>
        {({ items, openByAge }) => (
          <>
            <p data-testid="open-by-age">
              Open by age:{" "}
              {AGES.map(([k, label], i) => (
                <Fragment key={k}>
                  {i > 0 && " · "}
                  <Link href={cashHref(props.location, { status: "open", age: k })}>{`${label}: ${openByAge[k] ?? 0}`}</Link>
                </Fragment>
              ))}
            </p>
            {items.length === 0 ? (
              <p>No entry matches.</p>
            ) : (
              <div class="scroll">
                <table class="list">
                  <caption class="sr-only">Unmatched bank entries, oldest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Statement</th>
                      <th scope="col">Entry</th>
                      <th scope="col">Booked</th>
                      <th scope="col">Side</th>
                      <th scope="col" class="num">Amount</th>
                      <th scope="col">Reference</th>
                      <th scope="col">Age</th>
                      <th scope="col">Status</th>
                      <th scope="col">Resolution</th>
                      {write && <th scope="col">Action</th>}
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((x) => {
                      const key = keyOf(x);
                      return (
                        <tr key={key} class={resolvingKey === key ? "resolving" : undefined}>
                          <td>
                            <Link href={href(`/cash/statements/${x.statementId}`)}>{x.statement}</Link> <span class="muted">{x.account}</span>
                          </td>
                          <td>{x.entry.index}</td>
                          <td class="date">{x.entry.bookingDate ?? "–"}</td>
                          <td>{x.entry.side}</td>
                          <td class="num">
                            <Money minor={x.entry.amount} currency={x.entry.currency} />
                          </td>
                          <td>
                            <Reference e={x.entry} />
                          </td>
                          <td title={`imported ${x.importedAt}`}>{x.ageDays} d</td>
                          <td>
                            <Badge value={x.status} />
                          </td>
                          <td>
                            {x.resolution === null ? (
                              <span class="muted">–</span>
                            ) : (
                              <>
                                {x.resolution.note}
                                {x.resolution.journalTransactionId !== null && (
                                  <>
                                    {" "}
                                    (journal transaction <Link href={href(`/transactions/${x.resolution.journalTransactionId}`)}>{x.resolution.journalTransactionId}</Link>)
                                  </>
                                )}
                              </>
                            )}
                          </td>
                          {write && (
                            <td>
                              {x.status === "open" && (
                                <button
                                  type="button"
                                  id={`resolve-${key}`}
                                  onClick={() => setResolving(resolvingKey === key ? null : x)}
                                  aria-expanded={resolvingKey === key}
                                  aria-controls={resolvingKey === key ? "resolution" : undefined}
                                >
                                  Resolve
                                </button>
                              )}
                            </td>
                          )}
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
            {items.length >= props.shown && props.shown < MAX_LIMIT && (
              <p>
                <Link href={cashHref(props.location, { entries: String(Math.min(props.shown + 50, MAX_LIMIT)) })}>Show more entries</Link>
              </p>
            )}
          </>
        )}
      </Show>
      {resolving !== null && (
        <ResolveEntry
          key={resolvingKey}
          x={resolving}
          onCancel={() => {
            setResolving(null);
            focusLater(`resolve-${resolvingKey ?? ""}`);
          }}
          onBooked={() => {
            reload();
            props.onResolved();
          }}
          onDone={() => {
            setResolving(null);
            focusLater("cashq-h");
          }}
        />
      )}
    </section>
  );
}

export function Cash(props: ViewProps): JSX.Element {
  const q = props.location.query;
  // A resolution changes the statements' open counts as well as the queue.
  const [resolved, setResolved] = useState(0);
  return (
    <>
      <Title sub="The platform's bank statements (camt.053) against the ledger: each entry matched to a remittance or a bank payout, or queued.">Cash</Title>
      <Statements location={props.location} shown={countOf(q.get("statements"), STEP)} refresh={resolved} />
      <Exceptions session={props.session} location={props.location} shown={countOf(q.get("entries"), 50)} onResolved={() => setResolved((r) => r + 1)} />
    </>
  );
}

function MatchedTo(props: { e: CashEntry }): JSX.Element {
  const e = props.e;
  if (e.match !== null) {
    return (
      <>
        {e.match.kind === "remittance" ? "remittance" : "bank payout"} {e.match.ref}
        {e.match.transactionId !== null && (
          <>
            {" "}
            (journal transaction <Link href={href(`/transactions/${e.match.transactionId}`)}>{e.match.transactionId}</Link>)
          </>
        )}
      </>
    );
  }
  if (e.exception !== null) {
    return (
      <>
        <Badge value={e.exception} tone="bad" /> <Link href={href("/cash", { status: "any" })}>in the queue</Link>
      </>
    );
  }
  return <span class="muted">not booked by the bank ({e.status}): not counted</span>;
}

export function CashStatementView(props: ViewProps): JSX.Element {
  const id = props.params["id"] as string;
  const [load] = useLoad(() => get<CashStatement>(`/v1/cash/statements/${encodeURIComponent(id)}`), [id]);
  return (
    <Show load={load}>
      {(s) => (
        <>
          <Title sub={<Link href={href("/cash")}>Back to cash</Link>}>{`Bank statement ${s.statementId}`}</Title>
          <Fields
            rows={[
              ["Account", `${s.account} · ${s.currency}`],
              ["Message · sequence", `${s.messageId} · ${s.sequence ?? "–"}`],
              ["Opening (OPBD)", <Money minor={s.opening} currency={s.currency} />],
              ["Booked entries, net", <Money minor={bookedNet(s)} currency={s.currency} />],
              ["Closing (CLBD)", <Money minor={s.closing} currency={s.currency} />],
              ["Difference", <AddsUp s={s} />],
              ["Gap", <Gap s={s} />],
              ["Matched · unmatched", `${s.matched} · ${s.unmatched}`],
              [
                "Ledger (when imported)",
                <>
                  <Link href={href(`/accounts/${encodeURIComponent(BANK)}/${s.currency}`)}>{BANK}</Link> <Money minor={s.ledgerBalance} currency={s.currency} />
                </>,
              ],
              ["Imported", <><Time iso={s.importedAt} /> <span class="muted">by {s.importedBy}</span></>],
            ]}
          />
          <section aria-labelledby="entries-h">
            <h2 id="entries-h">Entries</h2>
            <ListTable caption={`Entries of statement ${s.statementId}`} columns={["Entry", "Booked", "Value", "Status", ["Debit", "num"], ["Credit", "num"], "Reference", "Matched to"]}>
              {s.entries.map((e) => (
                <tr key={e.index}>
                  <td>{e.index}</td>
                  <td class="date">{e.bookingDate ?? "–"}</td>
                  <td class="date">{e.valueDate ?? "–"}</td>
                  <td>{e.status}</td>
                  <td class="num">{e.side === "debit" ? <Money minor={e.amount} currency={e.currency} code={false} /> : ""}</td>
                  <td class="num">{e.side === "credit" ? <Money minor={e.amount} currency={e.currency} code={false} /> : ""}</td>
                  <td>
                    <Reference e={e} />
                  </td>
                  <td>
                    <MatchedTo e={e} />
                  </td>
                </tr>
              ))}
            </ListTable>
          </section>
          <section aria-labelledby="transit-h">
            <h2 id="transit-h">In transit when imported</h2>
            {s.inTransit.length === 0 ? (
              <p class="muted">Every remittance booked up to this statement's last day is on a statement.</p>
            ) : (
              <ListTable caption="Remittances booked and not yet on a statement" showCaption columns={["Remittance", ["Amount", "num"], "Occurred", "Journal transaction"]}>
                {s.inTransit.map((r) => (
                  <tr key={r.ref}>
                    <td>{r.ref}</td>
                    <td class="num">
                      <Money minor={r.amount} currency={r.currency} />
                    </td>
                    <td>
                      <Time iso={r.occurredAt} />
                    </td>
                    <td>
                      <Link href={href(`/transactions/${r.transactionId}`)}>{r.transactionId}</Link>
                    </td>
                  </tr>
                ))}
              </ListTable>
            )}
          </section>
        </>
      )}
    </Show>
  );
}
