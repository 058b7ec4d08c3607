/**
 * A bank payout run from the Payouts view (POST /v1/payouts/bank/runs): an operator's action (admin),
 * shown to an admin session only, as the Webhooks view shows its admin actions; a finance session is
 * told it takes an admin key. A run reserves each due seller's whole available balance and writes one
 * pain.001 to the bank's outbox, which cannot be taken back: it asks for a confirmation first, then
 * shows the file, the payouts and the sellers skipped with why.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { send } from "../api";
import { href } from "../router";
import { Badge, ConfirmActions, ErrorBox, Link, ListTable, Money, useFocusLater } from "../ui";

/** service/http/routes/bank.ts: the run's answer (FileView, BankPayoutView, SkipView). */
interface RunResult {
  file: { id: string; count: number; ctrlSum: string; createdAt: string; writtenAt: string | null } | null;
  payouts: Array<{ id: string; sellerId: string; currency: string; amount: string; status: string }>;
  skipped: Array<{ sellerId: string; reason: string; detail?: string; sharedWith?: string[] }>;
}

function RunOutcome(props: { r: RunResult }): JSX.Element {
  const r = props.r;
  return (
    <div role="status" id="bank-run-result" tabIndex={-1} data-testid="bank-run-result">
      <p>
        {r.file === null ? (
          "Nobody was due: no file was written."
        ) : (
          <>
            File <code>{r.file.id}</code> written to the outbox: {r.file.count} {r.file.count === 1 ? "payout" : "payouts"}, control sum {r.file.ctrlSum}.
          </>
        )}
        {r.skipped.length > 0 && ` ${r.skipped.length} ${r.skipped.length === 1 ? "seller was" : "sellers were"} skipped (below).`}
      </p>
      {r.payouts.length > 0 && (
        <ListTable caption="The payouts of this run" columns={["Payout", "Seller", ["Amount", "num"], "State"]}>
          {r.payouts.map((p) => (
            <tr key={p.id}>
              <td>
                <Link href={href(`/payouts/bank/${p.id}`)}>{`Bank payout ${p.id}`}</Link>
              </td>
              <td>{p.sellerId}</td>
              <td class="num">
                <Money minor={p.amount} currency={p.currency} />
              </td>
              <td>
                <Badge value={p.status} />
              </td>
            </tr>
          ))}
        </ListTable>
      )}
      {r.skipped.length > 0 && (
        <ul aria-label="Sellers skipped by this run">
          {r.skipped.map((s) => (
            <li key={s.sellerId}>
              {s.sellerId}: <code>{s.reason}</code>
              {s.detail !== undefined && ` (${s.detail})`}
              {s.sharedWith !== undefined && s.sharedWith.length > 0 && `, the account also on file for ${s.sharedWith.join(", ")}`}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function RunBankPayouts(props: { onRun: () => void }): JSX.Element {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<RunResult | null>(null);
  const focusLater = useFocusLater();
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await send<RunResult>("POST", "/v1/payouts/bank/runs");
      setResult(r);
      setConfirming(false);
      props.onRun();
      focusLater("bank-run-result");
    } catch (e) {
      setError(e);
      setConfirming(false);
      focusLater("bank-run-error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <div data-testid="bank-run">
      <p>
        <button
          type="button"
          id="bank-run-review"
          disabled={confirming || busy}
          onClick={() => {
            setError(null);
            setResult(null);
            setConfirming(true);
            focusLater("bank-run-confirm");
          }}
        >
          Review a bank payout run
        </button>{" "}
        <span class="muted">(an operator's action: this session's key is admin)</span>
      </p>
      {confirming && (
        <div class="card resolve" role="region" aria-label="Confirm the bank payout run" id="bank-run-confirm" tabIndex={-1}>
          <p>
            <strong>Run bank payouts now?</strong> Each seller with a bank account on file, no bank payout in flight and an available balance of at least the minimum is paid that whole balance, reserved in the ledger and instructed in one
            pain.001 written to the bank's outbox.
          </p>
          <p>A file in the outbox goes to the bank: a payout it does not execute is cancelled one by one, on its own page.</p>
          <ConfirmActions
            busy={busy}
            label="Run the payouts"
            busyLabel="Running…"
            onConfirm={() => void run()}
            onBack={() => {
              setConfirming(false);
              focusLater("bank-run-review");
            }}
          />
        </div>
      )}
      {error !== null && <ErrorBox error={error} id="bank-run-error" />}
      {result !== null && <RunOutcome r={result} />}
    </div>
  );
}
