/**
 * The finance console: a page over the public /v1 API. Sign-in exchanges an API key for a session
 * cookie; what the page offers follows the key's scopes (a read-only key sees no write action, and
 * the service refuses one anyway).
 */
import { render, type JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { canReadWebhooks, canWrite, currentSession, onSessionEnd, signOut, type Session } from "./api";
import { match, navigate, useLocation, type Location } from "./router";
import { ErrorBox, focusHeadingWhenShown, Link, Loading } from "./ui";
import { SignIn } from "./views/SignIn";
import { Overview } from "./views/Overview";
import { Settlements } from "./views/Settlements";
import { SettlementView } from "./views/Settlement";
import { PeriodProofView, ProofView } from "./views/Proof";
import { Accounts, AccountView, TransactionView } from "./views/Accounts";
import { Reconciliation } from "./views/Reconciliation";
import { BankPayoutView, Payouts } from "./views/Payouts";
import { Anchoring } from "./views/Anchoring";
import { Journal } from "./views/Journal";
import { Books } from "./views/Books";
import { PeriodCloseView } from "./views/Closes";
import { ProfitAndLossView } from "./views/ProfitAndLoss";
import { TaxReturns } from "./views/Tax";
import { Cash, CashStatementView } from "./views/Cash";
import { WebhookDeliveryView, WebhookEndpointView, Webhooks } from "./views/Webhooks";
import "./style.css";

export interface ViewProps {
  session: Session;
  location: Location;
  params: Record<string, string>;
}

const ROUTES: [string, (p: ViewProps) => JSX.Element][] = [
  ["/", Overview],
  ["/settlements", Settlements],
  ["/settlements/:id", SettlementView],
  ["/settlements/:id/proof", ProofView],
  ["/journal", Journal],
  ["/accounts", Accounts],
  ["/accounts/:account/:currency", AccountView],
  ["/transactions/:id", TransactionView],
  ["/books", Books],
  ["/books/closes/:id", PeriodCloseView],
  ["/books/closes/:id/proof", PeriodProofView],
  ["/profit-and-loss", ProfitAndLossView],
  ["/tax", TaxReturns],
  ["/reconciliation", Reconciliation],
  ["/cash", Cash],
  ["/cash/statements/:id", CashStatementView],
  ["/payouts", Payouts],
  ["/payouts/bank/:id", BankPayoutView],
  ["/anchoring", Anchoring],
  ["/webhooks", Webhooks],
  ["/webhooks/:id", WebhookEndpointView],
  ["/webhooks/:id/deliveries/:eventId", WebhookDeliveryView],
];

/** A view's entry in the navigation; `shown` leaves it out for a session whose key cannot read it. */
const NAV: [string, string, ((s: Session) => boolean)?][] = [
  ["/", "Overview"],
  ["/settlements", "Settlements"],
  ["/journal", "Journal"],
  ["/accounts", "Accounts"],
  ["/books", "Books"],
  ["/profit-and-loss", "Profit and loss"],
  ["/tax", "Tax"],
  ["/reconciliation", "Reconciliation"],
  ["/cash", "Cash"],
  ["/payouts", "Payouts"],
  ["/anchoring", "Anchoring"],
  ["/webhooks", "Webhooks", canReadWebhooks],
];

function App(): JSX.Element {
  const location = useLocation();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    currentSession().then(setSession, setError);
    onSessionEnd(() => {
      setSession(null);
      setEnded(true);
    });
  }, []);

  if (error !== null) return <ErrorBox error={error} />;
  if (session === undefined) return <Loading />;
  if (session === null || location.path === "/sign-in") {
    return (
      <SignIn
        ended={ended}
        onSignedIn={(s) => {
          setSession(s);
          setEnded(false);
          // Signed in from a view's URL (a bookmark, a link, an ended session): that view.
          if (location.path !== "/sign-in") navigate(`${location.path}${window.location.search}`, { replace: true });
          else navigate("/", { replace: true });
          // The form that held focus is gone: the view's heading takes it, not the page's body.
          focusHeadingWhenShown();
        }}
      />
    );
  }

  let view: JSX.Element | null = null;
  for (const [pattern, View] of ROUTES) {
    const params = match(pattern, location.path);
    if (params !== null) {
      view = <View session={session} location={location} params={params} />;
      break;
    }
  }
  const nav = NAV.filter(([, , shown]) => shown === undefined || shown(session));
  const section = nav.filter(([p]) => p !== "/" && location.path.startsWith(p)).at(-1)?.[0] ?? (location.path === "/" ? "/" : null);

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Entrepot</span>
        <nav aria-label="Console">
          <ul>
            {nav.map(([p, label]) => (
              <li key={p}>
                <Link href={`/console${p === "/" ? "/" : p}`} aria-current={section === p ? "page" : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span title={`key ${session.keyId}`}>{session.name}</span>
          <span class="scopes">{session.scopes.join(", ")}</span>
          {!canWrite(session) && <span class="badge neutral">read only</span>}
          <button
            type="button"
            onClick={() => {
              void signOut().finally(() => {
                setSession(null);
                navigate("/sign-in", { replace: true });
              });
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main">{view ?? <p>No such page. <Link href="/console/">Go to the overview</Link>.</p>}</main>
    </div>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
