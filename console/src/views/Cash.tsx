/**
 * Cash: the platform's bank statements (camt.053) as imported, each checked (opening + booked
 * entries = closing, the opening equal to the previous statement's closing) and matched entry by
 * entry to remittances and bank payouts; and the queue of the entries nothing matched, resolved
 * with the same form as a gateway reconciliation's exceptions. Filters and list lengths are the
 * URL's; a finance:write key imports a statement (the bank's camt.053, as application/xml); a
 * read-only key sees the lists and no action.
 */
import { Fragment, type JSX } from "preact";
import { useState } from "preact/hooks";
import { canWrite, get, send, upload, type Session } from "../api";
import { formatMoney, sumMinor } from "../format";
import type { ViewProps } from "../main";
import { href, navigate, type Location } from "../router";
import type { Transaction } from "../types";
import { Badge, ErrorBox, Fields, FileDrop, Link, ListTable, Money, Show, Time, Title, UploadProgress, useFocusLater, useLoad, useUpload } from "../ui";
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
  match: { kind: "remittance" | "bank_payout" | "bank_return"; ref: string; transactionId: string | null } | null;
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
  /** Entries nothing matched, as imported: never changes. */
  unmatched: number;
  /** Of those, how many are not resolved yet. */
  open: number;
  inTransit: { ref: string; currency: string; amount: string; occurredAt: string; transactionId: string }[];
  ledgerBalance: string;
  importedAt: string;
  importedBy: string;
}

/** service/http/routes/cash.ts ResolutionView. */
interface CashResolution {
  note: string;
  adjustment: { postings: PostingInput[]; description?: string; effectiveAt?: string } | null;
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
  /** The bank's booking date the age counts from (the import where the statement gives none). */
  agedFrom: string;
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
 * The bank's camt.053 sent as the document's own bytes (application/xml: its BOM or XML declaration
 * names its encoding, which a charset here would override). The service's problems are shown with
 * their code and the field they name (e.g. 422 ENT_CASH_STATEMENT_ACCOUNT, another account's).
 */
function ImportStatement(props: { onImported: () => void }): JSX.Element {
  const { file, setFile, progress, error, result, busy, submit } = useUpload<{ status: "created" | "exists"; statements: CashStatement[] }>((f, onProgress) => upload<{ status: "created" | "exists"; statements: CashStatement[] }>("/v1/cash/statements", {}, f, "application/xml", onProgress), { result: "stmt-import-result", error: "stmt-import-error" }, props.onImported);
  return (
    <form class="card" onSubmit={(e) => void submit(e)} aria-labelledby="stmt-import-h">
      <h2 id="stmt-import-h">Import a bank statement</h2>
      <FileDrop id="stmt-file" accept=".xml,application/xml,text/xml" prompt="Drop the bank's camt.053 statement (XML) here, or choose it" file={file} onFile={setFile} />
      <UploadProgress progress={progress} />
      <button type="submit" disabled={file === null || busy}>
        Import
      </button>
      {error !== null && <ErrorBox error={error} id="stmt-import-error" />}
      {result !== null && (
        <p role="status" id="stmt-import-result" tabIndex={-1} data-testid="statement-imported">
          {result.status === "exists" ? "Imported before (the same statements, nothing new): " : "Imported: "}
          {result.statements.map((s, i) => (
            <Fragment key={s.id}>
              {i > 0 && "; "}
              statement <Link href={href(`/cash/statements/${s.id}`)}>{s.statementId}</Link>, {s.matched} matched, {s.unmatched} unmatched
            </Fragment>
          ))}
          .
        </p>
      )}
    </form>
  );
}

function Statements(props: { location: Location; shown: number; refresh: number }): JSX.Element {
  const [load] = useLoad(() => get<{ items: CashStatement[] }>("/v1/cash/statements", { limit: props.shown }), [props.shown, props.refresh]);
  return (
    <section class="card" aria-labelledby="stmts-h">
      <h2 id="stmts-h">Bank statements</h2>
      <Show load={load}>
        {({ items }) =>
          items.length === 0 ? (
            <p class="muted">No statement imported yet: a finance:write key imports the bank's camt.053 above (or POSTs it to /v1/cash/statements).</p>
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
                      {s.unmatched > 0 && <span class="muted">{` · ${s.open} open`}</span>}
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
        // A suspense account (credit-normal: money held until its payer is known), not a cost.
        { account: "platform:suspense:unidentified_receipts", currency: e.currency, direction: "credit", amount: e.amount },
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

function Exceptions(props: { session: Session; location: Location; shown: number; refresh: number; onResolved: () => void }): JSX.Element {
  const q = props.location.query;
  const status = q.get("status") ?? "open";
  const age = q.get("age") ?? "";
  // The entry being resolved: its form is shown below the list (not in a row of the table, which
  // scrolls sideways on a phone), and stays with its confirmation while the list reloads.
  const [resolving, setResolving] = useState<CashException | null>(null);
  const focusLater = useFocusLater();
  const [load, reload] = useLoad(
    () => get<{ items: CashException[]; openByAge: Record<string, number> }>("/v1/cash/exceptions", { status: status === "any" ? undefined : status, age, limit: props.shown }),
    [status, age, props.shown, props.refresh],
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
          <label for="cq-age">Age since booked</label>
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
                          <td title={x.agedFrom === x.importedAt ? `since the import, ${x.importedAt} (the statement gives no booking date)` : `since booked on ${x.agedFrom.slice(0, 10)}; imported ${x.importedAt}`}>{x.ageDays} d</td>
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
  // An import changes both: new statements, and their unmatched entries in the queue.
  const [imported, setImported] = useState(0);
  return (
    <>
      <Title sub="The platform's bank statements (camt.053) against the ledger: each entry matched to a remittance or a bank payout, or queued.">Cash</Title>
      {canWrite(props.session) && <ImportStatement onImported={() => setImported((i) => i + 1)} />}
      <Statements location={props.location} shown={countOf(q.get("statements"), STEP)} refresh={resolved + imported} />
      <Exceptions session={props.session} location={props.location} shown={countOf(q.get("entries"), 50)} refresh={imported} onResolved={() => setResolved((r) => r + 1)} />
    </>
  );
}

const MATCH_KINDS = { remittance: "remittance", bank_payout: "bank payout", bank_return: "return of bank payout" } as const;

/**
 * What a statement entry matched, or where an unmatched one stands: open in the queue or resolved.
 * `resolution` is the entry's exception as the queue has it (undefined when the page could not list
 * it); the statement's own `exception` says only that its import found nothing to match.
 */
function MatchedTo(props: { e: CashEntry; resolution: CashException | undefined; allOpen: boolean; noneOpen: boolean }): JSX.Element {
  const e = props.e;
  if (e.match !== null) {
    return (
      <>
        {MATCH_KINDS[e.match.kind]} {e.match.ref}
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
    const x = props.resolution;
    const status = x?.status ?? (props.allOpen ? "open" : props.noneOpen ? "resolved" : null);
    if (status === "resolved") {
      const txId = x?.resolution?.journalTransactionId ?? null;
      return (
        <>
          <Badge value={e.exception} tone="bad" /> <Link href={href("/cash", { status: "resolved" })}>resolved</Link>
          {txId !== null && (
            <>
              {" "}
              (journal transaction <Link href={href(`/transactions/${txId}`)}>{txId}</Link>)
            </>
          )}
        </>
      );
    }
    return (
      <>
        <Badge value={e.exception} tone="bad" />{" "}
        {status === "open" ? <Link href={href("/cash", { status: "open" })}>open in the queue</Link> : <Link href={href("/cash", { status: "any" })}>in the queue</Link>}
      </>
    );
  }
  return <span class="muted">not booked by the bank ({e.status}): not counted</span>;
}

/** How many of a statement's unmatched entries are still open: so many of so many, or none. */
function stillOpen(s: Pick<CashStatement, "unmatched" | "open">): string {
  if (s.unmatched === 0) return "none";
  return s.open === 0 ? `none (${s.unmatched} resolved)` : `${s.open} of ${s.unmatched}`;
}

/**
 * The queue's entries of one statement, keyed by entry index, open or resolved; undefined for an
 * entry the page could not list (the queue holds more than one request answers).
 */
async function queueOf(statementId: string, unmatched: number): Promise<Map<number, CashException>> {
  const byIndex = new Map<number, CashException>();
  if (unmatched === 0) return byIndex;
  const q = await get<{ items: CashException[] }>("/v1/cash/exceptions", { limit: MAX_LIMIT });
  for (const x of q.items) if (x.statementId === statementId) byIndex.set(x.entry.index, x);
  return byIndex;
}

export function CashStatementView(props: ViewProps): JSX.Element {
  const id = props.params["id"] as string;
  const [load] = useLoad(async () => {
    const s = await get<CashStatement>(`/v1/cash/statements/${encodeURIComponent(id)}`);
    return { s, queue: await queueOf(s.id, s.unmatched) };
  }, [id]);
  return (
    <Show load={load}>
      {({ s, queue }) => (
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
                "Unmatched still open",
                s.open === 0 ? <span data-testid="still-open">{stillOpen(s)}</span> : <Link href={href("/cash", { status: "open" })}><span data-testid="still-open">{stillOpen(s)}</span></Link>,
              ],
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
                    <MatchedTo e={e} resolution={queue.get(e.index)} allOpen={s.open === s.unmatched} noneOpen={s.open === 0} />
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
