/**
 * Payouts on both rails (stablecoin from the vault, CNY by bank file) with their chain or bank state,
 * the queue of the bank's entries that were not applied (BankExceptions.tsx), the bank's camt.054
 * imported (BankNotifications.tsx), one bank payout with its account and holder's address as
 * instructed, the seller's account on file now (its address, or why bank runs skip the seller),
 * ledger transactions and exceptions, its cancellation when the bank never executed it, and seller
 * statements. A finance:write key imports and cancels; a read-only key is told why it cannot.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { ApiError, canRunBankPayouts, canWrite, get, send, url, type Session } from "../api";
import { parseMonth } from "../format";
import type { ViewProps } from "../main";
import { href, navigate, type Location } from "../router";
import type { Page, Settlement } from "../types";
import { Badge, ConfirmActions, ErrorBox, Fields, Hash, Link, ListTable, Money, Pager, Show, Time, Title, useFocusLater, useLoad, useUrlPages, type Loaded } from "../ui";
import { BankExceptionQueue, BankExceptionTable, type BankPayoutException } from "./BankExceptions";
import { ImportNotification } from "./BankNotifications";
import { RunBankPayouts } from "./BankRuns";

interface Payout {
  id: string;
  batchId: string;
  sellerId: string;
  currency: string;
  amount: string;
  tokenAmount: string;
  status: string;
  outcome: string | null;
  txHash: string | null;
  blockNumber: string | null;
  createdAt: string;
  finalAt: string | null;
}

interface BankPayout {
  id: string;
  sellerId: string;
  currency: string;
  amount: string;
  status: string;
  fileId?: string | null;
  createdAt: string;
  [k: string]: unknown;
}

/** The holder's structured address (Cdtr/PstlAdr); null: set before addresses were required. */
interface PostalAddress {
  streetName: string | null;
  buildingNumber: string | null;
  postCode: string | null;
  townName: string;
  countrySubDivision: string | null;
  country: string;
}

interface BankAccountFields {
  holderName: string;
  iban: string | null;
  accountNumber: string | null;
  bic: string | null;
  clearingSystem: string | null;
  clearingMember: string | null;
  country: string;
  address: PostalAddress | null;
}

/** GET /v1/sellers/:id/bank-account (service/http/routes/bank.ts BankAccountView). */
interface BankAccountOnFile extends BankAccountFields {
  setAt: string;
  sharedWith: string[];
  /** `sellerId`: the seller the returned payout was for (another one's when both had this account on file). */
  hold: { payoutId: string; sellerId: string; endToEndId: string; reason: string | null } | null;
}

/** GET /v1/payouts/bank/:id (service/http/routes/bank.ts BankPayoutDetailView). */
interface BankPayoutDetail {
  id: string;
  sellerId: string;
  currency: string;
  amount: string;
  endToEndId: string;
  status: string;
  fileId: string | null;
  account: BankAccountFields;
  settled: { currency: string; amount: string } | null;
  /** A return after final: what the bank credited back (net of its charges). */
  returned: { currency: string; amount: string } | null;
  /** partially_paid: what the bank paid of `amount` (the rest went back to the seller). */
  paid: { currency: string; amount: string } | null;
  ledger: { pendingTransactionId: string | null; commitTransactionId: string | null; cashTransactionId: string | null; voidTransactionId: string | null; returnTransactionId: string | null };
  reason: string | null;
  createdAt: string;
  updatedAt: string;
  finalAt: string | null;
  returnedAt: string | null;
  exceptions: BankPayoutException[];
}

interface Seller {
  id: string;
  name: string;
  program: string;
  payoutCurrency: string;
}

/**
 * The month a statement opens on: the month (UTC, as statements are cut) of the newest settlement,
 * or the current month when there is none. The newest settlement's month is the latest month with
 * activity to state: on a live ledger it is the current month, and on a ledger whose data stops
 * earlier (the demo's is of December 2024) the current month's statement would be empty.
 */
async function latestMonth(): Promise<string> {
  const newest = await get<Page<Settlement>>("/v1/settlements", { limit: 1 });
  const at = newest.items[0] === undefined ? new Date() : new Date(newest.items[0].event.occurredAt);
  return at.toISOString().slice(0, 7);
}

/** The statements' month the URL holds (`month`, YYYY-MM), or null. */
function monthOfUrl(location: Location): string | null {
  const v = location.query.get("month");
  return v !== null && parseMonth(v) !== null ? v : null;
}

function Statements(props: { location: Location }): JSX.Element {
  const [sellers] = useLoad(() => get<{ items: Seller[] }>("/v1/sellers"), []);
  const [latest] = useLoad(latestMonth, []);
  return <Show load={latest}>{(month) => <StatementList sellers={sellers} initialMonth={month} location={props.location} />}</Show>;
}

function StatementList(props: { sellers: Loaded<{ items: Seller[] }>; initialMonth: string; location: Location }): JSX.Element {
  const sellers = props.sellers;
  // The month is the URL's (a reload, Back and a shared link keep it); the field holds what is
  // typed until it is a whole month.
  const month = monthOfUrl(props.location) ?? props.initialMonth;
  const [typed, setTyped] = useState<string | null>(null);
  const [y, m] = parseMonth(month) as [number, number];
  const from = new Date(Date.UTC(y, m - 1, 1)).toISOString();
  const to = new Date(Date.UTC(y, m, 1)).toISOString();
  return (
    <section class="card" aria-labelledby="stmt-h">
      <h2 id="stmt-h">Seller statements</h2>
      <label for="s-month">Month (UTC)</label> <input
        id="s-month"
        type="month"
        value={typed ?? month}
        onInput={(e) => {
          const v = (e.target as HTMLInputElement).value;
          setTyped(v);
          if (parseMonth(v) === null) return;
          const query: Record<string, string | undefined> = {};
          for (const [k, q] of props.location.query) query[k] = q;
          navigate(href("/payouts", { ...query, month: v }), { replace: true });
        }}
        onBlur={() => setTyped(null)}
      />
      <Show load={sellers}>
        {({ items }) => (
          <ListTable caption="Sellers" columns={["Seller", "Program", "Paid in", `Statement of ${month}`]}>
            {items.map((s) => (
              <tr key={s.id}>
                <td>
                  {s.id} <span class="muted">{s.name}</span>
                </td>
                <td>{s.program}</td>
                <td>{s.payoutCurrency}</td>
                <td>
                  <a href={url(`/v1/sellers/${encodeURIComponent(s.id)}/statements`, { from, to, format: "pdf" })} download>
                    PDF
                  </a>{" "}
                  ·{" "}
                  <a href={url(`/v1/sellers/${encodeURIComponent(s.id)}/statements`, { from, to, format: "csv" })} download>
                    CSV
                  </a>
                </td>
              </tr>
            ))}
          </ListTable>
        )}
      </Show>
    </section>
  );
}

export function Payouts(props: ViewProps): JSX.Element {
  // Each list's page is the URL's (`vault`, `bank`: the cursors walked past), beside the exceptions'.
  const chain = useUrlPages(
    props.location,
    "vault",
    async (cursor) => {
      const page = await get<{ items: Payout[]; nextCursor: string | null }>("/v1/payouts", { limit: 25, cursor });
      return { items: page.items, next: page.nextCursor };
    },
    [],
  );
  const bank = useUrlPages(
    props.location,
    "bank",
    async (cursor) => {
      const page = await get<{ items: BankPayout[]; nextCursor: string | null }>("/v1/payouts/bank", { limit: 25, cursor });
      return { items: page.items, next: page.nextCursor };
    },
    [],
  );
  // An import applies entries to payouts and records exceptions: both lists are loaded again.
  const [imported, setImported] = useState(0);
  const write = canWrite(props.session);
  return (
    <>
      <Title sub="What each seller was paid, how, and where it stands.">Payouts</Title>
      {!write && <ReadOnly session={props.session} />}
      <BankExceptionQueue session={props.session} location={props.location} refresh={imported} />
      {write && (
        <ImportNotification
          onImported={() => {
            setImported((i) => i + 1);
            bank.reload();
          }}
        />
      )}
      <section class="card" aria-labelledby="chain-h">
        <h2 id="chain-h">Stablecoin payouts (vault)</h2>
        <Show load={chain.load}>
          {({ items }) =>
            items.length === 0 ? (
              <p class="muted">None yet.</p>
            ) : (
              <ListTable caption="Stablecoin payouts" columns={["Payout", "Seller", ["Amount", "num"], ["Token", "num"], "State", "Transaction", "Created"]}>
                {items.map((p) => (
                  <tr key={p.id}>
                    <td>
                      {p.id} <span class="muted">batch {p.batchId}</span>
                    </td>
                    <td>{p.sellerId}</td>
                    <td class="num">
                      <Money minor={p.amount} currency={p.currency} />
                    </td>
                    <td class="num">
                      <Money minor={p.tokenAmount} currency="USDC" />
                    </td>
                    <td>
                      <Badge value={p.status} /> {p.outcome !== null && <span class="muted">{p.outcome}</span>}
                    </td>
                    <td>
                      <Hash value={p.txHash} /> {p.blockNumber !== null && <span class="muted">block {p.blockNumber}</span>}
                    </td>
                    <td>
                      <Time iso={p.createdAt} />
                    </td>
                  </tr>
                ))}
              </ListTable>
            )
          }
        </Show>
        <Pager pages={chain} label="Stablecoin payouts" />
      </section>
      <section class="card" aria-labelledby="bank-h">
        <h2 id="bank-h">Bank payouts (pain.001)</h2>
        {canRunBankPayouts(props.session) ? (
          <RunBankPayouts onRun={bank.reload} />
        ) : (
          <p class="muted" data-testid="bank-run-admin">
            A bank payout run (one pain.001 to the bank's outbox) takes an operator's key (admin): an admin session runs it here.
          </p>
        )}
        <Show load={bank.load}>
          {({ items }) =>
            items.length === 0 ? (
              <p class="muted">None yet: a payout run (POST /v1/payouts/bank/runs, admin) writes the file.</p>
            ) : (
              <ListTable caption="Bank payouts" columns={["Payout", "Seller", ["Amount", "num"], "State", "File", "Created"]}>
                {items.map((p) => (
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
                    <td>{p.fileId ?? "–"}</td>
                    <td>
                      <Time iso={p.createdAt} />
                    </td>
                  </tr>
                ))}
              </ListTable>
            )
          }
        </Show>
        <Pager pages={bank} label="Bank payouts" />
      </section>
      <Statements location={props.location} />
    </>
  );
}

/** Why a session that reads payouts sees no import and no cancellation: those take a finance:write key. */
function ReadOnly(props: { session: Session }): JSX.Element {
  return (
    <p class="notice" data-testid="payouts-read-only">
      Read only: importing the bank's notifications, resolving its exceptions and cancelling a bank payout take a finance:write key; this session's key has {props.session.scopes.join(", ") || "no scope"}.
    </p>
  );
}

/** The form's field the service's problems name, in the words of its label. */
const CANCEL_LABELS = { "body.note": "Why it is cancelled" } as const;

/**
 * Cancelling an instructed payout the bank never executed (it refused it, or said so by phone, with
 * no camt.054 to send): a note saying why, then a confirmation of its own, as the close takes, before
 * anything is sent. The service refuses it once the bank's debit is booked or reported (409).
 */
function CancelPayout(props: { p: BankPayoutDetail; onCancelled: () => void }): JSX.Element {
  const p = props.p;
  const [note, setNote] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const focusLater = useFocusLater();
  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      await send("POST", `/v1/payouts/bank/${encodeURIComponent(p.id)}/cancellation`, { note: note.trim() });
      setConfirming(false);
      props.onCancelled();
    } catch (e) {
      setError(e);
      setConfirming(false);
      focusLater("cancel-error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="cancel-h">
      <h2 id="cancel-h">Cancel this payout</h2>
      <p class="muted">
        Only for a transfer the bank refused or never made: the reserve is voided (the money is the seller's available balance again), the payout becomes cancelled with your note as its reason, and the next run pays the seller again. A
        debit of the bank arriving after is an exception, never booked.
      </p>
      <form
        aria-label="Cancel this payout"
        onSubmit={(e) => {
          e.preventDefault();
          if (note.trim() === "") return;
          setError(null);
          setConfirming(true);
          focusLater("cancel-confirm");
        }}
      >
        <label for="cancel-note">Why it is cancelled (note, required)</label>{" "}
        <input id="cancel-note" value={note} maxLength={2000} required disabled={confirming} onInput={(e) => setNote((e.target as HTMLInputElement).value)} placeholder="The bank refused it (who said it, when)" />{" "}
        <button type="submit" id="cancel-review" disabled={confirming || busy || note.trim() === ""}>
          Review the cancellation
        </button>
      </form>
      {confirming && (
        <div class="card resolve" role="region" aria-label="Confirm the cancellation" id="cancel-confirm" tabIndex={-1} data-testid="cancel-confirm">
          <p>
            <strong>
              Cancel bank payout {p.id} of <Money minor={p.amount} currency={p.currency} /> to seller {p.sellerId}
            </strong>{" "}
            (EndToEndId <code>{p.endToEndId}</code>
            {p.fileId === null ? "" : `, file ${p.fileId}`})?
          </p>
          <p>
            With the note: <q data-testid="cancel-note-shown">{note.trim()}</q> (kept in the payout's reason, after who cancelled it).
          </p>
          <p>A cancellation cannot be undone: the seller is paid again by the next run, not by this payout.</p>
          <ConfirmActions
            busy={busy}
            label="Cancel the payout"
            busyLabel="Cancelling…"
            onConfirm={() => void cancel()}
            onBack={() => {
              setConfirming(false);
              focusLater("cancel-review");
            }}
          />
        </div>
      )}
      {error !== null && <ErrorBox error={error} labels={CANCEL_LABELS} id="cancel-error" />}
    </section>
  );
}

/** The account as one line: holder, IBAN or number, bank, country. */
const accountLine = (a: BankAccountFields): string => `${a.holderName} · ${a.iban ?? a.accountNumber ?? "–"} · ${a.bic ?? `${a.clearingSystem ?? ""} ${a.clearingMember ?? ""}`.trim()} · ${a.country}`;

/**
 * The holder's address as the pain.001 carries it (street and building, post code and town,
 * province, country), or, for an account set before addresses were required, that it has none and
 * what that means: bank runs skip the seller (`address_missing`).
 */
function AddressLine(props: { address: PostalAddress | null; missing: string }): JSX.Element {
  const a = props.address;
  if (a === null) {
    return (
      <span data-testid="address-missing">
        <Badge value="address_missing" tone="bad" /> <span class="muted">{props.missing}</span>
      </span>
    );
  }
  const street = [a.streetName, a.buildingNumber].filter((x) => x !== null).join(" ");
  const town = [a.postCode, a.townName].filter((x) => x !== null).join(" ");
  return <span data-testid="address">{[street, town, a.countrySubDivision, a.country].filter((x) => x !== null && x !== "").join(", ")}</span>;
}

/** The seller's account on file now, or null when the seller has none (paid through the vault). */
async function accountOnFile(sellerId: string): Promise<BankAccountOnFile | null> {
  try {
    return await get<BankAccountOnFile>(`/v1/sellers/${encodeURIComponent(sellerId)}/bank-account`);
  } catch (e) {
    if (e instanceof ApiError && e.code === "ENT_PAYOUT_BANK_ACCOUNT_NOT_FOUND") return null;
    throw e;
  }
}

/** The seller's account on file, its address, and why bank runs skip the seller, if they do. */
function AccountOnFile(props: { sellerId: string }): JSX.Element {
  const [load] = useLoad(() => accountOnFile(props.sellerId), [props.sellerId]);
  return (
    <section aria-labelledby="payout-account-h">
      <h2 id="payout-account-h">The seller's account on file</h2>
      <Show load={load}>
        {(a) =>
          a === null ? (
            <p class="muted">None: the seller is paid through the vault.</p>
          ) : (
            <Fields
              rows={[
                ["Account", accountLine(a)],
                ["Holder's address", <AddressLine address={a.address} missing="none on file (set before addresses were required): bank runs skip this seller until an admin sets the account again with its address" />],
                ...(a.sharedWith.length === 0
                  ? []
                  : ([
                      [
                        "Shared with",
                        <span data-testid="account-shared">
                          <Badge value="bank_account_shared" tone="bad" /> <span class="muted">{`also on file for ${a.sharedWith.join(", ")}: bank runs pay none of them until all but one have another account`}</span>
                        </span>,
                      ],
                    ] satisfies Array<[string, JSX.Element]>)),
                ...(a.hold === null
                  ? []
                  : ([
                      [
                        "Held",
                        <span>
                          <Badge value="account_returned" tone="bad" /> <span class="muted">{`the bank returned ${a.hold.sellerId === props.sellerId ? "" : `seller ${a.hold.sellerId}'s payout `}${a.hold.endToEndId}${a.hold.reason === null ? "" : ` (${a.hold.reason})`}: not paid again until the account is set again`}</span>
                        </span>,
                      ],
                    ] satisfies Array<[string, JSX.Element]>)),
                ["Set", <Time iso={a.setAt} />],
              ]}
            />
          )
        }
      </Show>
    </section>
  );
}

/** A journal transaction's id as a link, or a dash. */
function TxLink(props: { id: string | null }): JSX.Element {
  return props.id === null ? <span class="muted">–</span> : <Link href={href(`/transactions/${props.id}`)}>{props.id}</Link>;
}

/** One bank payout: its instruction, the account it is paid to, its ledger transactions, and the bank's entries for it that were not applied. */
export function BankPayoutView(props: ViewProps): JSX.Element {
  const id = props.params["id"] as string;
  const [load, reload] = useLoad(() => get<BankPayoutDetail>(`/v1/payouts/bank/${encodeURIComponent(id)}`), [id]);
  const [cancelled, setCancelled] = useState(false);
  const write = canWrite(props.session);
  // The cancellation's form is gone once the payout is loaded again: its outcome gets focus.
  const focusLater = useFocusLater();
  return (
    <Show load={load}>
      {(p) => {
        const a = p.account;
        const open = p.exceptions.filter((x) => x.status === "open").length;
        return (
          <>
            <Title sub={<Link href={href("/payouts")}>Back to payouts</Link>}>{`Bank payout ${p.id}`}</Title>
            <Fields
              rows={[
                ["Seller", p.sellerId],
                ["Amount", <Money minor={p.amount} currency={p.currency} />],
                ["State", <><Badge value={p.status} />{p.reason !== null && <span class="muted"> {p.reason}</span>}</>],
                ["EndToEndId", <code>{p.endToEndId}</code>],
                ["File (pain.001)", p.fileId ?? "–"],
                ["Paid to", accountLine(a)],
                ["Holder's address (as instructed)", <AddressLine address={a.address} missing="none: instructed before addresses were required" />],
                ["Debited by the bank", p.settled === null ? "–" : <Money minor={p.settled.amount} currency={p.settled.currency} />],
                ...(p.paid === null ? [] : ([["Paid by the bank (the rest back to the seller)", <Money minor={p.paid.amount} currency={p.paid.currency} />]] satisfies Array<[string, JSX.Element]>)),
                ["Reserved", <TxLink id={p.ledger.pendingTransactionId} />],
                ["Committed", <TxLink id={p.ledger.commitTransactionId} />],
                ["Cash booked", <TxLink id={p.ledger.cashTransactionId} />],
                ["Voided", <TxLink id={p.ledger.voidTransactionId} />],
                ["Created", <Time iso={p.createdAt} />],
                ["Final", <Time iso={p.finalAt} />],
                ...(p.returned === null
                  ? []
                  : ([
                      ["Credited back by the bank", <Money minor={p.returned.amount} currency={p.returned.currency} />],
                      ["Returned to the seller", <TxLink id={p.ledger.returnTransactionId} />],
                      ["Returned", <Time iso={p.returnedAt} />],
                    ] satisfies Array<[string, JSX.Element]>)),
              ]}
            />
            {cancelled && p.status === "cancelled" && (
              <p role="status" class="notice" id="payout-cancelled" tabIndex={-1} data-testid="payout-cancelled">
                Cancelled: the reserve is voided{p.ledger.voidTransactionId === null ? "" : ` (journal transaction ${p.ledger.voidTransactionId})`} and the next run pays seller {p.sellerId} again.
              </p>
            )}
            {p.status === "instructed" &&
              (write ? (
                <CancelPayout
                  p={p}
                  onCancelled={() => {
                    setCancelled(true);
                    reload();
                    focusLater("payout-cancelled");
                  }}
                />
              ) : (
                <p class="notice" data-testid="cancel-read-only">
                  Read only: cancelling a payout the bank never executed takes a finance:write key.
                </p>
              ))}
            <AccountOnFile sellerId={p.sellerId} />
            <section aria-labelledby="payout-bankx-h">
              <h2 id="payout-bankx-h">The bank's entries not applied</h2>
              {p.exceptions.length === 0 ? (
                <p class="muted">None: every entry the bank sent for this payout was applied.</p>
              ) : (
                <>
                  <p>
                    {open} of {p.exceptions.length} open.{" "}
                    {open > 0 && <Link href={href("/payouts", { status: "open" })}>Resolve them in the queue</Link>}
                  </p>
                  <BankExceptionTable items={p.exceptions} caption={`The bank's entries for bank payout ${p.id} that were not applied, oldest first`} />
                </>
              )}
            </section>
          </>
        );
      }}
    </Show>
  );
}
