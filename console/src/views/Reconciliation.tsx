/**
 * Reconciliation: import a gateway report (drag and drop, with progress), run a reconciliation over
 * chosen imports, and work the exception queue. A resolution's adjusting entry is shown posting by
 * posting, balanced per currency, before it is booked; a read-only key sees the queue and no action.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { canWrite, get, send, upload, type Session } from "../api";
import type { ViewProps } from "../main";
import { reconItemReference, withMajorAmounts } from "../format";
import { href, navigate } from "../router";
import type { Transaction } from "../types";
import { Badge, ErrorBox, FileDrop, Link, ListTable, Money, Pager, Show, Time, Title, UploadProgress, useFocusLater, useLoad, useUrlPages } from "../ui";
import { ResolutionForm, type PostingInput } from "./Resolution";

interface ImportRecord {
  id: string;
  gateway: string;
  format: string;
  fileName: string | null;
  rowCount: number;
  errorCount: number;
  minOccurredAt: string | null;
  maxOccurredAt: string | null;
  createdAt: string;
}

interface RunRecord {
  id: string;
  gateway: string;
  periodFrom: string;
  periodTo: string;
  importIds: string[];
  itemCount: number;
  summary: Record<string, unknown>;
  finishedAt: string;
}

interface Item {
  seq: number;
  category: string;
  rule: string;
  gateway: string;
  market: string | null;
  sellerId: string | null;
  currency: string | null;
  settlementId: string | null;
  gatewayReference: string | null;
  gatewayEventId: string | null;
  lines: number[];
  reportAmount: string | null;
  ledgerAmount: string | null;
  difference: string | null;
  evidence: { reason?: string; proposedAdjustment?: { postings: PostingInput[]; description?: string } } & Record<string, unknown>;
}

interface ExceptionEntry {
  exceptionId: string;
  status: "open" | "resolved";
  runId: string;
  item: Item;
  firstSeenAt: string;
  ageDays: number;
  ageBucket: string;
  runs: number;
  owner: string | null;
}

const FORMATS: [string, string, string][] = [
  ["adyen_settlement_details", "Adyen Settlement details report", "adyen"],
  ["stripe_itemized_balance", "Stripe balance change from activity (itemized)", "stripe"],
];
const CATEGORIES = ["missing_in_ledger", "missing_at_gateway", "missing_on_chain", "amount_mismatch", "currency_mismatch", "fx_difference", "duplicate", "timing_difference", "gateway_cost"];

function ImportForm(props: { onImported: (r: ImportRecord) => void }): JSX.Element {
  const [format, setFormat] = useState(FORMATS[0]![0]);
  const [gateway, setGateway] = useState(FORMATS[0]![2]);
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<{ status: string; import: ImportRecord } | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (file === null) return;
    setError(null);
    setResult(null);
    setProgress(0);
    try {
      const r = await upload<{ status: string; import: ImportRecord }>(
        "/v1/reconciliation/imports",
        { format, gateway, fileName: file.name.replace(/[^A-Za-z0-9._ -]/g, "_").slice(0, 255) },
        file,
        "text/csv",
        setProgress,
      );
      setResult(r);
      props.onImported(r.import);
    } catch (err) {
      setError(err);
      setProgress(null);
    }
  };

  return (
    <form class="card" onSubmit={(e) => void submit(e)} aria-labelledby="import-h">
      <h2 id="import-h">Import a report</h2>
      <div class="row">
        <div>
          <label for="i-format">Format</label>
          <select
            id="i-format"
            value={format}
            onChange={(e) => {
              const f = (e.target as HTMLSelectElement).value;
              setFormat(f);
              setGateway(FORMATS.find(([k]) => k === f)?.[2] ?? gateway);
            }}
          >
            {FORMATS.map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="i-gateway">Gateway</label>
          <input id="i-gateway" value={gateway} onInput={(e) => setGateway((e.target as HTMLInputElement).value)} required />
        </div>
      </div>
      <FileDrop id="i-file" accept=".csv,text/csv" prompt="Drop the report file here, or choose it" file={file} onFile={setFile} />
      <UploadProgress progress={progress} />
      <button type="submit" disabled={file === null}>
        Import
      </button>
      {error !== null && <ErrorBox error={error} />}
      {result !== null && (
        <p role="status">
          Import <code>{result.import.id}</code> {result.status === "exists" ? "(this report was imported before, as these bytes or a re-saved copy)" : "created"}: {result.import.rowCount} rows, {result.import.errorCount} malformed.
        </p>
      )}
    </form>
  );
}

/** Imports and runs; `onRan` after a run, for the page to reload what the run changed (these lists and the queue). */
function Runs(props: { session: Session; refresh: number; onRan: () => void }): JSX.Element {
  const [imports] = useLoad(() => get<{ items: ImportRecord[] }>("/v1/reconciliation/imports", { limit: 20 }), [props.refresh]);
  const [runs] = useLoad(() => get<{ items: RunRecord[] }>("/v1/reconciliation/runs", { limit: 10 }), [props.refresh]);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // The button is disabled while the run goes, which takes focus from it: the queue that shows the
  // run's exceptions gets it after, or the problem.
  const focusLater = useFocusLater();
  const write = canWrite(props.session);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await send<RunRecord>("POST", "/v1/reconciliation/runs", { importIds: [...chosen] });
      setChosen(new Set());
      // The run's exceptions are open ones: show the open queue, and reload it even when the URL
      // already says status=open (the same URL alone would not).
      navigate(href("/reconciliation", { status: "open" }), { replace: true });
      props.onRan();
      focusLater("queue-h");
    } catch (e) {
      setError(e);
      focusLater("run-error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="runs-h">
      <h2 id="runs-h">Imports and runs</h2>
      <Show load={imports}>
        {({ items }) =>
          items.length === 0 ? (
            <p class="muted">No report imported yet.</p>
          ) : (
            <table class="list">
              <caption>Imports, newest first</caption>
              <thead>
                <tr>
                  {write && <th scope="col">Run</th>}
                  <th scope="col">Import</th>
                  <th scope="col">Gateway</th>
                  <th scope="col">File</th>
                  <th scope="col" class="num">Rows</th>
                  <th scope="col" class="num">Malformed</th>
                  <th scope="col">Imported</th>
                </tr>
              </thead>
              <tbody>
                {items.map((i) => (
                  <tr key={i.id}>
                    {write && (
                      <td>
                        <input
                          type="checkbox"
                          aria-label={`Reconcile import ${i.id}`}
                          checked={chosen.has(i.id)}
                          onChange={(e) => {
                            const next = new Set(chosen);
                            if ((e.target as HTMLInputElement).checked) next.add(i.id);
                            else next.delete(i.id);
                            setChosen(next);
                          }}
                        />
                      </td>
                    )}
                    <td>
                      <code>{i.id}</code>
                    </td>
                    <td>{i.gateway}</td>
                    <td>{i.fileName ?? "–"}</td>
                    <td class="num">{i.rowCount}</td>
                    <td class="num">{i.errorCount}</td>
                    <td>
                      <Time iso={i.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
      {write && (
        <button type="button" onClick={() => void run()} disabled={chosen.size === 0 || busy}>
          {busy ? "Reconciling…" : `Run reconciliation over ${chosen.size} import(s)`}
        </button>
      )}
      {error !== null && <ErrorBox error={error} id="run-error" />}
      <Show load={runs}>
        {({ items }) =>
          items.length === 0 ? null : (
            <ListTable caption="Runs, newest first" showCaption columns={["Run", "Gateway", "Period", ["Exceptions", "num"], "Finished"]}>
              {items.map((r) => (
                <tr key={r.id}>
                  <td>
                    <code>{r.id}</code>
                  </td>
                  <td>{r.gateway}</td>
                  <td>
                    <Time iso={r.periodFrom} /> – <Time iso={r.periodTo} />
                  </td>
                  <td class="num">{r.itemCount}</td>
                  <td>
                    <Time iso={r.finishedAt} />
                  </td>
                </tr>
              ))}
            </ListTable>
          )
        }
      </Show>
    </section>
  );
}

function Resolve(props: { entry: ExceptionEntry; onBooked: () => void; onDone: () => void; onCancel: () => void }): JSX.Element {
  const item = props.entry.item;
  const proposed = item.evidence.proposedAdjustment;
  const currency = item.currency ?? "USD";
  return (
    <ResolutionForm
      label={`Resolve exception ${item.seq}`}
      heading={`Resolve: ${item.category} (run ${props.entry.runId}, item ${item.seq})`}
      reason={withMajorAmounts(item.evidence.reason ?? "")}
      initialNote={proposed === undefined ? "" : `Booked the ${item.category.replaceAll("_", " ")} from the gateway report (line ${item.lines.join(", ")}).`}
      postings={
        proposed?.postings ?? [
          { account: `gateway:${item.gateway}:receivable`, currency, direction: "debit", amount: "" },
          { account: "platform:reconciliation:adjustments", currency, direction: "credit", amount: "" },
        ]
      }
      {...(proposed?.description === undefined ? {} : { description: proposed.description })}
      {...(proposed === undefined ? {} : { proposal: "proposed by the reconciliation from the report line" })}
      withEntry={proposed !== undefined}
      currency={currency}
      submit={async (body) => {
        const r = await send<{ status: string; transaction: Transaction | null }>("POST", `/v1/reconciliation/runs/${props.entry.runId}/exceptions/${item.seq}/resolution`, body);
        return r?.transaction ?? null;
      }}
      onBooked={props.onBooked}
      onDone={props.onDone}
      onCancel={props.onCancel}
    />
  );
}

function Queue(props: { session: Session; location: ViewProps["location"]; refresh: number }): JSX.Element {
  const q = props.location.query;
  const status = q.get("status") ?? "open";
  const category = q.get("category") ?? "";
  const age = q.get("age") ?? "";
  // The exception being resolved: its form is shown below the list (not in a row of the table,
  // which scrolls sideways on a phone), and stays with its confirmation while the list reloads.
  const [resolving, setResolving] = useState<ExceptionEntry | null>(null);
  const focusLater = useFocusLater();
  // The page is the URL's (`after`: the cursors walked past), like the filters: Back, a reload or a
  // shared link return to it.
  const pages = useUrlPages(
    props.location,
    "after",
    async (after) => {
      const page = await get<{ items: ExceptionEntry[]; nextAfter: string | null; openByAge: Record<string, number> }>("/v1/reconciliation/exceptions", { status, category, age, limit: 25, after });
      return { ...page, next: page.nextAfter };
    },
    [status, category, age, props.refresh],
  );
  // A new run or import changes the queue: start again from its first page.
  const refreshed = useRef(props.refresh);
  useEffect(() => {
    if (refreshed.current === props.refresh) return;
    refreshed.current = props.refresh;
    if (q.has("after")) navigate(href("/reconciliation", { status: q.get("status") ?? undefined, category, age }), { replace: true });
  }, [props.refresh]);
  const load = pages.load;
  const reload = pages.reload;
  const write = canWrite(props.session);
  // A new filter starts on its first page.
  const filter = (k: string) => (e: Event) => navigate(href("/reconciliation", { status, category, age, [k]: (e.target as HTMLSelectElement).value }));
  const resolvingId = resolving?.exceptionId ?? null;
  return (
    <section class="card" aria-labelledby="queue-h">
      <h2 id="queue-h" tabIndex={-1}>
        Exception queue
      </h2>
      <div class="filters">
        <div>
          <label for="q-status">Status</label>
          <select id="q-status" value={status} onChange={filter("status")}>
            <option value="open">open</option>
            <option value="resolved">resolved</option>
          </select>
        </div>
        <div>
          <label for="q-category">Category</label>
          <select id="q-category" value={category} onChange={filter("category")}>
            <option value="">every category</option>
            {CATEGORIES.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="q-age">Age (days)</label>
          <select id="q-age" value={age} onChange={filter("age")}>
            <option value="">any age</option>
            <option value="0-7">0-7</option>
            <option value="8-30">8-30</option>
            <option value="over-30">over 30</option>
          </select>
        </div>
      </div>
      <Show load={load}>
        {({ items, openByAge }) => (
          <>
            <p class="muted" data-testid="queue-open-by-age">
              Open by age: {Object.entries(openByAge).map(([k, v]) => `${k.replace("over-", "over ")} days: ${v}`).join(" · ")}
            </p>
            {items.length === 0 ? (
              <p>No exception matches.</p>
            ) : (
              <div class="scroll">
                <table class="list">
                  <caption class="sr-only">Exceptions, oldest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">Category</th>
                      <th scope="col">Gateway · reference</th>
                      <th scope="col">Order</th>
                      <th scope="col" class="num">Report</th>
                      <th scope="col" class="num">Ledger</th>
                      <th scope="col">Age</th>
                      <th scope="col">Status</th>
                      {write && <th scope="col">Action</th>}
                    </tr>
                  </thead>
                  <tbody>
                    {items.map((x) => (
                      <tr key={x.exceptionId} class={resolvingId === x.exceptionId ? "resolving" : undefined}>
                        <td title={withMajorAmounts(x.item.evidence.reason ?? "")}>{x.item.category}</td>
                        <td>
                          {x.item.gateway} · {reconItemReference(x.item)}
                        </td>
                        <td>{x.item.settlementId === null ? "–" : <Link href={href("/settlements", { order: x.item.settlementId })}>{x.item.settlementId}</Link>}</td>
                        <td class="num">{x.item.currency === null ? (x.item.reportAmount ?? "–") : <Money minor={x.item.reportAmount} currency={x.item.currency} />}</td>
                        <td class="num">{x.item.currency === null ? (x.item.ledgerAmount ?? "–") : <Money minor={x.item.ledgerAmount} currency={x.item.currency} />}</td>
                        <td title={`first seen ${x.firstSeenAt}`}>{x.ageDays} d</td>
                        <td>
                          <Badge value={x.status} />
                        </td>
                        {write && (
                          <td>
                            {x.status === "open" && (
                              <button
                                type="button"
                                id={`resolve-${x.exceptionId}`}
                                onClick={() => setResolving(resolvingId === x.exceptionId ? null : x)}
                                aria-expanded={resolvingId === x.exceptionId}
                                aria-controls={resolvingId === x.exceptionId ? "resolution" : undefined}
                              >
                                Resolve
                              </button>
                            )}
                          </td>
                        )}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </>
        )}
      </Show>
      <Pager pages={pages} label="Exception" previous="← Previous" next="Next →" />
      {resolving !== null && (
        <Resolve
          key={resolvingId}
          entry={resolving}
          onCancel={() => {
            setResolving(null);
            focusLater(`resolve-${resolvingId ?? ""}`);
          }}
          onBooked={reload}
          onDone={() => {
            setResolving(null);
            focusLater("queue-h");
          }}
        />
      )}
    </section>
  );
}

export function Reconciliation(props: ViewProps): JSX.Element {
  const [refresh, setRefresh] = useState(0);
  const write = canWrite(props.session);
  return (
    <>
      <Title sub="Gateway reports against the ledger and the chain.">Reconciliation</Title>
      {write && <ImportForm onImported={() => setRefresh((r) => r + 1)} />}
      <Runs session={props.session} refresh={refresh} onRan={() => setRefresh((r) => r + 1)} />
      <Queue session={props.session} location={props.location} refresh={refresh} />
    </>
  );
}
