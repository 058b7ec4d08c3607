/**
 * The bank's camt.054 imported from the Payouts view (POST /v1/payouts/bank/confirmations,
 * finance:write): the file sent as the document's own bytes (application/xml: its BOM or XML
 * declaration names its encoding), with the shared drop zone and upload progress, and the answer
 * entry by entry: what was applied to a payout (final, rejected, returned), what was applied before
 * or not booked by the bank yet, and what went to the exceptions queue with its code. The service's
 * problems (422 ENT_PAYOUT_BANK_NOTIFICATION_ACCOUNT naming `Ntfctn/Acct/Id`, another account's)
 * are shown with their code and the field they name.
 */
import type { JSX } from "preact";
import { upload } from "../api";
import { href } from "../router";
import { Badge, ErrorBox, FileDrop, Link, ListTable, Money, UploadProgress, useUpload } from "../ui";

/** service/http/routes/bank.ts EntryView. */
interface NotificationEntry {
  side: "debit" | "credit";
  status: string;
  currency: string;
  amount: string;
  instructed: { currency: string; amount: string } | null;
  reversal: boolean;
  returnReason: string | null;
  bankReference: string | null;
  bookingDate: string | null;
}

/** service/http/routes/bank.ts ResultView: one entry of the notification and what it came to. */
export interface NotificationResult {
  endToEndId: string | null;
  payoutId: string | null;
  outcome: string;
  code?: string;
  detail?: string;
  exceptionId?: string;
  entry: NotificationEntry;
}

/** The answer of POST /v1/payouts/bank/confirmations. */
export interface NotificationApplied {
  messageId: string;
  version: string;
  results: NotificationResult[];
}

/** What an outcome is to the reader: applied now, applied before (nothing new), not booked by the bank yet, or an exception. */
export type OutcomeKind = "applied" | "before" | "not_booked" | "exception";

export function outcomeKind(outcome: string): OutcomeKind {
  if (outcome === "final" || outcome === "rejected" || outcome === "returned") return "applied";
  if (outcome.startsWith("already_")) return "before";
  if (outcome === "not_booked") return "not_booked";
  return "exception";
}

/** What an entry came to, in words (the service's `outcome` and `code` beside them). */
function outcomeWords(r: NotificationResult): string {
  switch (r.outcome) {
    case "final":
      return "Applied: the bank's debit is booked, the payout is final.";
    case "rejected":
      return "Applied: returned in full before it was final, the payout is rejected and the money is the seller's again.";
    case "returned":
      return "Applied: returned after it was final, booked as a return of its own; the seller has the instructed amount back.";
    case "not_booked":
      return `Not applied: the bank has not booked it yet${r.detail === undefined ? "" : ` (${r.detail})`}; its booked entry will be.`;
    default:
      if (r.outcome.startsWith("already_")) return `Applied before (the payout is ${r.outcome.slice("already_".length).replace("_", " ")}): nothing new.`;
      return `To the exceptions queue${r.exceptionId === undefined ? "" : ` (exception ${r.exceptionId})`}: ${r.detail ?? r.code ?? r.outcome}`;
  }
}

/** The entry as the bank reported it: side, status, a reversal, a return reason. */
function entryWords(e: NotificationEntry): string {
  return [e.side, e.status, e.reversal ? "reversal" : null, e.returnReason === null ? null : `return reason ${e.returnReason}`, e.bankReference === null ? null : `bank ref. ${e.bankReference}`].filter((x) => x !== null).join(" · ");
}

function Summary(props: { r: NotificationApplied }): JSX.Element {
  const count = (k: OutcomeKind) => props.r.results.filter((x) => outcomeKind(x.outcome) === k).length;
  const parts = [
    `${count("applied")} applied`,
    `${count("exception")} to the exceptions queue`,
    ...(count("before") > 0 ? [`${count("before")} applied before (nothing new)`] : []),
    ...(count("not_booked") > 0 ? [`${count("not_booked")} not booked by the bank yet`] : []),
  ];
  return (
    <p>
      Notification <code>{props.r.messageId}</code> ({props.r.version}), {props.r.results.length} {props.r.results.length === 1 ? "entry" : "entries"}: {parts.join(", ")}.
      {count("exception") > 0 && (
        <>
          {" "}
          <Link href={href("/payouts", { status: "open" })}>Resolve them in the queue</Link>.
        </>
      )}
    </p>
  );
}

/** Each entry of the notification, in its order, with what it came to. */
function ResultTable(props: { r: NotificationApplied }): JSX.Element {
  return (
    <ListTable caption={`The entries of notification ${props.r.messageId} and what each came to`} columns={["#", "EndToEndId", "Payout", ["Amount", "num"], "Entry", "Outcome", "What was done"]}>
      {props.r.results.map((x, i) => {
        const kind = outcomeKind(x.outcome);
        return (
          <tr key={i} data-outcome={kind}>
            <td>{i + 1}</td>
            <td>{x.endToEndId === null ? <span class="muted">none</span> : <code>{x.endToEndId}</code>}</td>
            <td>{x.payoutId === null ? <span class="muted">–</span> : <Link href={href(`/payouts/bank/${x.payoutId}`)}>{`Bank payout ${x.payoutId}`}</Link>}</td>
            <td class="num">
              <Money minor={x.entry.amount} currency={x.entry.currency} />
            </td>
            <td>{entryWords(x.entry)}</td>
            <td>
              <Badge value={x.outcome} tone={kind === "applied" ? "good" : kind === "exception" ? "bad" : "neutral"} />
              {x.code !== undefined && (
                <small class="code">
                  {" "}
                  <code>{x.code}</code>
                </small>
              )}
            </td>
            <td>{outcomeWords(x)}</td>
          </tr>
        );
      })}
    </ListTable>
  );
}

/** The import form: a finance:write session's only (the Payouts view shows a read-only key why it has none). */
export function ImportNotification(props: { onImported: () => void }): JSX.Element {
  const { file, setFile, progress, error, result, busy, submit } = useUpload<NotificationApplied>((f, onProgress) => upload<NotificationApplied>("/v1/payouts/bank/confirmations", {}, f, "application/xml", onProgress), { result: "notification-result", error: "notification-error" }, props.onImported);
  return (
    <form class="card" onSubmit={(e) => void submit(e)} aria-labelledby="notification-h">
      <h2 id="notification-h">Import the bank's notification</h2>
      <p class="muted">The bank's camt.054 for a payout file: each entry is matched on its EndToEndId; what is not the instruction in full is booked by nobody and goes to the exceptions queue above.</p>
      <FileDrop id="notification-file" accept=".xml,application/xml,text/xml" prompt="Drop the bank's camt.054 notification (XML) here, or choose it" file={file} onFile={setFile} />
      <UploadProgress progress={progress} />
      <button type="submit" disabled={file === null || busy}>
        {busy ? "Importing…" : "Import"}
      </button>
      {error !== null && <ErrorBox error={error} id="notification-error" />}
      {result !== null && (
        <div role="status" id="notification-result" tabIndex={-1} data-testid="notification-applied">
          <Summary r={result} />
          {result.results.length > 0 && <ResultTable r={result} />}
        </div>
      )}
    </form>
  );
}
