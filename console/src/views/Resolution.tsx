/**
 * Resolving an exception: a note and, where money is wrong, an adjusting journal entry shown posting
 * by posting, balanced per currency, before it is booked. One form for every queue that resolves
 * this way (a gateway reconciliation's exceptions, a bank statement's unmatched entries): the
 * caller says what is resolved, what entry to propose, and where the resolution is sent.
 */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { formatMoney } from "../format";
import { href } from "../router";
import type { Transaction } from "../types";
import { ErrorBox, Link, Money, useFocusLater } from "../ui";
import { Postings } from "./Settlement";

export interface PostingInput {
  account: string;
  currency: string;
  direction: "debit" | "credit";
  amount: string;
}

/** The body both resolution routes take (service/http/routes/reconciliation.ts ResolutionBody). */
export interface ResolutionBody {
  note: string;
  adjustment?: { postings: PostingInput[]; description?: string };
}

/** A posting's amount: a positive whole number of minor units. */
const MINOR = /^[1-9][0-9]*$/;
/** An entry needs a debit and a credit: the form keeps at least two postings. */
const MIN_POSTINGS = 2;

/** The fields a resolution's problem names (its body's paths), in the form's words. */
function labelsOf(postings: readonly PostingInput[]): Record<string, string> {
  const labels: Record<string, string> = { note: "Note", adjustment: "Adjusting entry", "adjustment.postings": "Adjusting entry", "adjustment.description": "Description" };
  postings.forEach((_, i) => {
    labels[`adjustment.postings.${i}`] = `Posting ${i + 1}`;
    for (const [k, v] of [["account", "account"], ["currency", "currency"], ["direction", "side"], ["amount", "amount in minor units"]]) labels[`adjustment.postings.${i}.${k}`] = `Posting ${i + 1} ${v}`;
  });
  return labels;
}

/** Per currency, debits less credits of the draft entry: all zero means it balances. */
function imbalance(postings: PostingInput[]): [string, bigint][] {
  const sums = new Map<string, bigint>();
  for (const p of postings) {
    if (!MINOR.test(p.amount)) continue;
    const v = BigInt(p.amount) * (p.direction === "debit" ? 1n : -1n);
    sums.set(p.currency, (sums.get(p.currency) ?? 0n) + v);
  }
  return [...sums].filter(([, v]) => v !== 0n);
}

export function ResolutionForm(props: {
  /** The region's accessible name, e.g. "Resolve exception 4". */
  label: string;
  heading: ComponentChildren;
  reason?: string;
  initialNote: string;
  /** The entry to start from; `proposal` says who proposed it (shown beside the checkbox). */
  postings: PostingInput[];
  description?: string;
  proposal?: string;
  /** Whether the adjusting entry starts ticked (a proposal usually is). */
  withEntry: boolean;
  /** The currency of a posting added by hand. */
  currency: string;
  /** Sends the resolution; the booked adjusting entry, or null when none was booked. */
  submit: (body: ResolutionBody) => Promise<Transaction | null>;
  /** Booked: the caller's lists change now (the row, the counts), while this form shows what was booked. */
  onBooked: () => void;
  /** "Back to the queue", after the confirmation. */
  onDone: () => void;
  onCancel: () => void;
}): JSX.Element {
  const [note, setNote] = useState(props.initialNote);
  const [withEntry, setWithEntry] = useState(props.withEntry);
  const [postings, setPostings] = useState<PostingInput[]>(() => props.postings.map((p) => ({ ...p })));
  const [step, setStep] = useState<"edit" | "review">("edit");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [booked, setBooked] = useState<Transaction | null | undefined>(undefined);
  // An amount that is not a whole number of minor units is named as such, not counted as an imbalance.
  const notNumbers = postings.flatMap((p, i) => (p.amount !== "" && !MINOR.test(p.amount) ? [i] : []));
  const off = notNumbers.length > 0 ? [] : imbalance(postings);
  const complete = postings.every((p) => p.account.trim() !== "" && MINOR.test(p.amount));
  const update = (i: number, patch: Partial<PostingInput>) => setPostings(postings.map((p, k) => (k === i ? { ...p, ...patch } : p)));
  const focusLater = useFocusLater();
  // Opened from a row's Resolve button: the reader goes on in the form (it is shown below the list).
  useEffect(() => focusLater("resolution"), []);

  const book = async () => {
    setError(null);
    setBusy(true);
    try {
      setBooked(await props.submit({ note, ...(withEntry ? { adjustment: { postings, ...(props.description === undefined ? {} : { description: props.description }) } } : {}) }));
      focusLater("resolution-booked");
      props.onBooked();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  if (booked !== undefined) {
    return (
      <div class="card resolve" role="region" aria-label="Resolution booked" id="resolution-booked" tabIndex={-1}>
        <p role="status">
          <strong>Resolved.</strong> {booked === null ? "No adjusting entry." : <>Adjusting entry booked as journal transaction <Link href={href(`/transactions/${booked.id}`)}>{booked.id}</Link>:</>}
        </p>
        {booked !== null && <Postings tx={booked} />}
        <button type="button" onClick={props.onDone}>
          Back to the queue
        </button>
      </div>
    );
  }

  return (
    <div class="card resolve" role="region" aria-label={props.label} id="resolution" tabIndex={-1}>
      <h3>{props.heading}</h3>
      {props.reason !== undefined && <p>{props.reason}</p>}
      <label for="r-note">Note (required)</label>
      <textarea id="r-note" rows={2} value={note} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} disabled={step === "review"} />
      <label class="check">
        <input type="checkbox" checked={withEntry} onChange={(e) => setWithEntry((e.target as HTMLInputElement).checked)} disabled={step === "review"} /> Book an adjusting journal entry
        {props.proposal !== undefined && ` (${props.proposal})`}
      </label>
      {withEntry && (
        <div class="scroll">
          <table>
            <caption>{step === "review" ? "Postings to be booked" : "Adjusting entry"}</caption>
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col">Currency</th>
                <th scope="col">Side</th>
                <th scope="col" class="num">Amount (minor units)</th>
                <th scope="col" class="num">Shown</th>
                {step === "edit" && <th scope="col">Remove</th>}
              </tr>
            </thead>
            <tbody>
              {postings.map((p, i) =>
                step === "review" ? (
                  <tr key={i}>
                    <td>{p.account}</td>
                    <td>{p.currency}</td>
                    <td>{p.direction}</td>
                    <td class="num">{p.amount}</td>
                    <td class="num">
                      <Money minor={p.amount} currency={p.currency} />
                    </td>
                  </tr>
                ) : (
                  <tr key={i}>
                    <td>
                      <input aria-label={`Posting ${i + 1} account`} value={p.account} size={Math.max(24, p.account.length + 1)} onInput={(e) => update(i, { account: (e.target as HTMLInputElement).value })} />
                    </td>
                    <td>
                      <input aria-label={`Posting ${i + 1} currency`} value={p.currency} size={6} onInput={(e) => update(i, { currency: (e.target as HTMLInputElement).value.toUpperCase() })} />
                    </td>
                    <td>
                      <select aria-label={`Posting ${i + 1} side`} value={p.direction} onChange={(e) => update(i, { direction: (e.target as HTMLSelectElement).value as "debit" | "credit" })}>
                        <option value="debit">debit</option>
                        <option value="credit">credit</option>
                      </select>
                    </td>
                    <td class="num">
                      <input
                        aria-label={`Posting ${i + 1} amount in minor units`}
                        aria-invalid={notNumbers.includes(i) ? true : undefined}
                        value={p.amount}
                        inputMode="numeric"
                        size={12}
                        onInput={(e) => update(i, { amount: (e.target as HTMLInputElement).value.trim() })}
                      />
                    </td>
                    <td class="num">{MINOR.test(p.amount) ? <Money minor={p.amount} currency={p.currency} /> : <span class="muted">–</span>}</td>
                    <td>
                      <button type="button" class="secondary" aria-label={`Remove posting ${i + 1}`} disabled={postings.length <= MIN_POSTINGS} onClick={() => setPostings(postings.filter((_, k) => k !== i))}>
                        Remove
                      </button>
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
      {withEntry && step === "edit" && (
        <p>
          <button type="button" onClick={() => setPostings([...postings, { account: "", currency: props.currency, direction: "debit", amount: "" }])}>
            Add a posting
          </button>
        </p>
      )}
      {withEntry && notNumbers.length > 0 && (
        <p class="error" role="alert">
          {notNumbers
            .map((i) => {
              const p = postings[i] as PostingInput;
              return `Posting ${i + 1}: the amount “${p.amount}” is not a number of minor units; enter a positive whole number (500 for ${formatMoney("500", p.currency)}).`;
            })
            .join(" ")}
        </p>
      )}
      {withEntry && step === "edit" && notNumbers.length === 0 && !complete && <p class="muted">Every posting needs an account and an amount; remove a posting you do not need.</p>}
      {withEntry && off.length > 0 && (
        <p class="error" role="alert">
          Does not balance: {off.map(([c, v]) => `${formatMoney((v < 0n ? -v : v).toString(), c)} more ${v > 0n ? "debit" : "credit"} than ${v > 0n ? "credit" : "debit"}`).join("; ")}
        </p>
      )}
      {step === "edit" ? (
        <p class="actions">
          <button
            type="button"
            id="r-review"
            disabled={note.trim() === "" || (withEntry && (!complete || off.length > 0))}
            onClick={() => {
              setError(null);
              setStep("review");
              focusLater("r-book");
            }}
          >
            Review
          </button>{" "}
          {note.trim() === "" && (
            <span class="muted" data-testid="review-why">
              (note, required){" "}
            </span>
          )}
          <button type="button" class="secondary" onClick={props.onCancel}>
            Cancel
          </button>
        </p>
      ) : (
        <p class="actions">
          <button type="button" id="r-book" disabled={busy} onClick={() => void book()}>
            {withEntry ? "Book the entry and resolve" : "Resolve with the note"}
          </button>{" "}
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() => {
              setError(null);
              setStep("edit");
              focusLater("r-review");
            }}
          >
            Edit
          </button>
        </p>
      )}
      {error !== null && <ErrorBox error={error} labels={labelsOf(postings)} />}
    </div>
  );
}
