/**
 * The bank rail's exceptions: the bank's camt.054 entries that were not applied to a payout (an
 * unknown EndToEndId, another amount or currency, a return after final) and the cash bookings the
 * worker could not make, as a queue on the payouts page. Open ones first by default; the status and
 * the page are the URL's. A finance:write key resolves one with a note (nothing is booked: the
 * note says what the operator did), or, for a debit of part of the instruction or the return of a
 * partly paid payout's part, books it by what the bank did (the resolution's action); a read-only
 * key sees the queue and no action.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { canWrite, get, send, type Session } from "../api";
import { withMajorAmounts } from "../format";
import { href, navigate, type Location } from "../router";
import { Badge, ErrorBox, Link, Money, Pager, Show, Time, useFocusLater, useUrlPages } from "../ui";

/** service/http/routes/bank.ts ExceptionView. */
export interface BankPayoutException {
  id: string;
  payoutId: string | null;
  endToEndId: string | null;
  messageId: string | null;
  outcome: "unmatched" | "mismatch" | "exception";
  code: string;
  detail: string;
  entry: { side: string; status: string; currency: string; amount: string; instructed: { currency: string; amount: string } | null; returnReason: string | null; bankReference: string | null; bookingDate: string | null } | null;
  receivedBy: string;
  receivedAt: string;
  status: "open" | "resolved";
  resolution: { note: string; resolvedBy: string; resolvedAt: string; journalTransactionId: string | null } | null;
}

/** The exception codes a resolution can settle by what the bank did, and the action that books it (service/http/routes/bank.ts). */
const BOOKING_ACTIONS: Readonly<Record<string, { action: string; label: string }>> = {
  instructed_mismatch: { action: "book_partial_debit", label: "Book the part the bank paid: its debit booked, the rest back in the seller's available balance, the payout partly paid" },
  returned_after_final: { action: "book_return", label: "Book the return of the part paid: the seller's part paid back in its available balance, the payout returned" },
};

const PAGE = 25;
/** The resolution's body field, in the form's words. */
const NOTE_LABELS = { note: "Note", "body.note": "Note" } as const;

/** Who sent the entry, in words: a key (the API), a file of the inbox folder, or the worker. */
function sender(by: string): string {
  if (by.startsWith("api-key:")) return `key ${by.slice("api-key:".length)}`;
  if (by.startsWith("inbox:")) return `inbox file ${by.slice("inbox:".length)}`;
  return by;
}

/**
 * The bank payout exceptions as a table: each with its payout (linked) or the EndToEndId that named
 * none, its outcome, what was wrong in words (the stable code after them), the entry's amount and
 * its state. `action` renders the last cell (a Resolve button) when given.
 */
export function BankExceptionTable(props: { items: readonly BankPayoutException[]; caption: string; action?: (x: BankPayoutException) => JSX.Element | null; highlighted?: string | null }): JSX.Element {
  return (
    <div class="scroll">
      <table class="list">
        <caption class="sr-only">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">Exception</th>
            <th scope="col">Payout</th>
            <th scope="col">Outcome</th>
            <th scope="col">What was wrong</th>
            <th scope="col" class="num">Entry</th>
            <th scope="col">Status</th>
            <th scope="col">Resolution</th>
            {props.action !== undefined && <th scope="col">Action</th>}
          </tr>
        </thead>
        <tbody>
          {props.items.map((x) => (
            <tr key={x.id} class={props.highlighted === x.id ? "resolving" : undefined}>
              <td>
                {x.id} <span class="muted">received</span> <Time iso={x.receivedAt} /> <span class="muted">from {sender(x.receivedBy)}</span>
              </td>
              <td>
                {x.payoutId === null ? <span class="muted">none</span> : <Link href={href(`/payouts/bank/${x.payoutId}`)}>{`Bank payout ${x.payoutId}`}</Link>}
                {x.endToEndId === null ? <span class="muted"> (no EndToEndId)</span> : <span class="muted"> ({x.endToEndId})</span>}
              </td>
              <td>
                <Badge value={x.outcome} tone="neutral" />
              </td>
              <td>
                {withMajorAmounts(x.detail)}{" "}
                <small class="code">
                  <code>{x.code}</code>
                </small>
              </td>
              <td class="num">
                {x.entry === null ? (
                  <span class="muted">no entry</span>
                ) : (
                  <>
                    <span class="muted">{x.entry.side}</span> <Money minor={x.entry.amount} currency={x.entry.currency} />
                    {x.entry.instructed !== null && (
                      <span class="muted">
                        {" "}
                        (instructed <Money minor={x.entry.instructed.amount} currency={x.entry.instructed.currency} />)
                      </span>
                    )}
                  </>
                )}
              </td>
              <td>
                <Badge value={x.status} />
              </td>
              <td>
                {x.resolution === null ? (
                  <span class="muted">–</span>
                ) : (
                  <>
                    {x.resolution.note} <span class="muted">by {sender(x.resolution.resolvedBy)},</span> <Time iso={x.resolution.resolvedAt} />
                  </>
                )}
              </td>
              {props.action !== undefined && <td>{props.action(x)}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The note form for one exception, shown below the list (a row of the table scrolls sideways on a phone). */
function ResolveForm(props: { x: BankPayoutException; onResolved: () => void; onDone: () => void; onCancel: () => void }): JSX.Element {
  const { x } = props;
  const [note, setNote] = useState("");
  const booking = BOOKING_ACTIONS[x.code];
  const [book, setBook] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<BankPayoutException | null>(null);
  const focusLater = useFocusLater();
  // Opened from a row's Resolve button: the reader goes on in the form.
  useEffect(() => focusLater("bankx-note"), []);

  if (done !== null) {
    return (
      <div class="card resolve" role="region" aria-label="Exception resolved" id="bankx-resolved" tabIndex={-1}>
        <p role="status">
          <strong>Resolved.</strong> Exception {done.id}: “{done.resolution?.note}”.{" "}
          {done.resolution !== null && done.resolution.journalTransactionId !== null ? (
            <>
              Booked: <Link href={href(`/transactions/${done.resolution.journalTransactionId}`)}>journal transaction {done.resolution.journalTransactionId}</Link>.
            </>
          ) : (
            "Nothing was booked."
          )}
        </p>
        <button type="button" onClick={props.onDone}>
          Back to the queue
        </button>
      </div>
    );
  }
  return (
    <form
      class="card resolve"
      aria-label={`Resolve bank payout exception ${x.id}`}
      id="bankx-resolution"
      onSubmit={(e) => {
        e.preventDefault();
        if (note.trim() === "") return;
        setBusy(true);
        setError(null);
        const body = book && booking !== undefined ? { note: note.trim(), action: booking.action } : { note: note.trim() };
        send<BankPayoutException>("POST", `/v1/payouts/bank/exceptions/${encodeURIComponent(x.id)}/resolution`, body)
          .then(
            (r) => {
              setDone(r);
              focusLater("bankx-resolved");
              props.onResolved();
            },
            (err: unknown) => {
              setError(err);
              focusLater("bankx-error");
            },
          )
          .finally(() => setBusy(false));
      }}
    >
      <h3>
        Resolve exception {x.id}: {withMajorAmounts(x.detail)}
      </h3>
      <p>Resolving with a note books nothing, and never undoes a debit the bank reported: the payout stays debited, so it cannot be cancelled. A part the bank paid is booked with the resolution's <code>book_partial_debit</code> action, the return of a partly paid payout's part with <code>book_return</code> (the API's POST …/resolution with <code>"action"</code>); the note says what the bank answered.</p>
      <label for="bankx-note">Note</label>
      <textarea id="bankx-note" rows={2} maxLength={2000} value={note} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} disabled={busy} />
      {booking !== undefined && (
        <fieldset>
          <legend>What the resolution does</legend>
          <label>
            <input type="radio" name="bankx-action" checked={!book} onChange={() => setBook(false)} disabled={busy} /> Resolve with the note only: nothing booked
          </label>
          <label>
            <input type="radio" name="bankx-action" checked={book} onChange={() => setBook(true)} disabled={busy} /> {booking.label} (<code>{booking.action}</code>)
          </label>
        </fieldset>
      )}
      <p class="actions">
        <button type="submit" disabled={busy || note.trim() === ""}>
          {busy ? "Resolving…" : book ? "Book it and resolve" : "Resolve with the note"}
        </button>{" "}
        <button type="button" class="secondary" disabled={busy} onClick={props.onCancel}>
          Cancel
        </button>
      </p>
      {error !== null && <ErrorBox error={error} labels={NOTE_LABELS} id="bankx-error" />}
    </form>
  );
}

/**
 * The queue on the payouts page: `status` (open by default) and `exceptions` (the pages walked past)
 * are the URL's; `refresh` changes when the page's import may have added to it (loaded again).
 */
export function BankExceptionQueue(props: { session: Session; location: Location; refresh?: number }): JSX.Element {
  const q = props.location.query;
  const status = q.get("status") === "resolved" ? "resolved" : "open";
  const pages = useUrlPages(
    props.location,
    "exceptions",
    async (cursor) => {
      const page = await get<{ items: BankPayoutException[]; open: number; nextCursor: string | null }>("/v1/payouts/bank/exceptions", { status, limit: PAGE, cursor });
      return { items: page.items, open: page.open, next: page.nextCursor };
    },
    [status, props.refresh],
  );
  const [resolving, setResolving] = useState<BankPayoutException | null>(null);
  const focusLater = useFocusLater();
  const write = canWrite(props.session);
  return (
    <section class="card" aria-labelledby="bankx-h">
      <h2 id="bankx-h" tabIndex={-1}>
        Bank payout exceptions
      </h2>
      <p class="muted">The bank's notifications (camt.054) that were not applied to a payout, and the cash bookings that could not be made: nothing of them is booked until someone looks.</p>
      <div class="filters">
        <div>
          <label for="bankx-status">Status</label>
          <select
            id="bankx-status"
            value={status}
            // A new filter starts on its first page.
            onChange={(e) => navigate(href("/payouts", { status: (e.target as HTMLSelectElement).value }))}
          >
            <option value="open">open</option>
            <option value="resolved">resolved</option>
          </select>
        </div>
      </div>
      <Show load={pages.load}>
        {({ items, open }) => (
          <>
            <p data-testid="bankx-open">
              {open} open in all.
            </p>
            {items.length === 0 ? (
              <p>{status === "open" ? "No open exception." : "No resolved exception."}</p>
            ) : (
              <BankExceptionTable
                items={items}
                caption={`Bank payout exceptions, ${status}, newest first`}
                highlighted={resolving?.id ?? null}
                action={
                  write
                    ? (x) =>
                        x.status === "open" ? (
                          <button
                            type="button"
                            id={`bankx-resolve-${x.id}`}
                            aria-expanded={resolving?.id === x.id}
                            aria-controls={resolving?.id === x.id ? "bankx-resolution" : undefined}
                            onClick={() => setResolving(resolving?.id === x.id ? null : x)}
                          >
                            Resolve
                          </button>
                        ) : null
                    : undefined
                }
              />
            )}
          </>
        )}
      </Show>
      <Pager pages={pages} label="Bank payout exceptions" />
      {resolving !== null && (
        <ResolveForm
          key={resolving.id}
          x={resolving}
          onResolved={pages.reload}
          onCancel={() => {
            const id = resolving.id;
            setResolving(null);
            focusLater(`bankx-resolve-${id}`);
          }}
          onDone={() => {
            setResolving(null);
            focusLater("bankx-h");
          }}
        />
      )}
    </section>
  );
}
