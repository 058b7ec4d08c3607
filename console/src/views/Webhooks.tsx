/**
 * Webhooks: the endpoints Entrepot pushes its events to, each endpoint's deliveries (the status and
 * the page are the URL's; `dead` is the dead-letter list) and one delivery with its event and every
 * attempt. The read routes take a finance key (a team chasing a missing notification), an
 * operator's (admin) or a gateway's (gateway:write); a finance session reads them and changes
 * nothing. A session writes only with admin and without gateway:write: a gateway key's writes must
 * be signed, which a session cannot do. The endpoint's secret is in the answer of its creation and
 * rotation only; the console does neither, so it never holds one.
 */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, canManageWebhooks, canReadWebhooks, get, send, type Session } from "../api";
import { instantInWords } from "../format";
import type { ViewProps } from "../main";
import { href, navigate } from "../router";
import type { Page } from "../types";
import { Badge, ConfirmActions, ErrorBox, Fields, Link, ListTable, Loading, Pager, Time, Title, useFocusLater, useLastValue, useLoad, useUrlPages, type Loaded } from "../ui";

/** service/http/routes/webhooks.ts EndpointView. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  filter: { gateway: string | null; sellerId: string | null; market: string | null };
  ownerGateway: string | null;
  status: "active" | "disabled";
  previousSecretValidUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

/** service/http/routes/webhooks.ts DeliveryView. */
export interface WebhookDelivery {
  eventId: string;
  type: string;
  subject: string;
  status: "pending" | "waiting" | "delivered" | "dead";
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

interface WebhookAttempt {
  attempt: number;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
}

interface DeliveryDetail {
  delivery: WebhookDelivery;
  event: { id: string; type: string; createdAt: string; subject: string; data: Record<string, unknown> };
  attempts: WebhookAttempt[];
}

const PAGE = 25;
const STATUSES = [
  ["", "all"],
  ["pending", "pending (due, or retrying after a failure)"],
  ["waiting", "waiting (behind an earlier event of its subject)"],
  ["delivered", "delivered"],
  ["dead", "dead (every attempt failed)"],
] as const;
type StatusFilter = (typeof STATUSES)[number][0];

const endpointPath = (id: string) => `/v1/webhooks/endpoints/${encodeURIComponent(id)}`;

/** What the routes allow this session, in words, when it may not read webhooks. */
function NoAccess(props: { session: Session }): JSX.Element {
  return (
    <>
      <Title>Webhooks</Title>
      <p class="notice" data-testid="webhooks-no-access">
        Webhook endpoints are read with a finance, admin or gateway key; this session's key has {props.session.scopes.join(", ") || "no scope"}, so the console does not show them.
      </p>
    </>
  );
}

function EventTypes(props: { types: readonly string[] }): JSX.Element {
  if (props.types.includes("*")) return <span>every event (<code>*</code>)</span>;
  return (
    <span>
      {props.types.map((t, i) => (
        <span key={t}>
          {i > 0 && ", "}
          <code>{t}</code>
        </span>
      ))}
    </span>
  );
}

function filterWords(f: WebhookEndpoint["filter"]): string {
  const parts = [f.gateway === null ? null : `gateway ${f.gateway}`, f.sellerId === null ? null : `seller ${f.sellerId}`, f.market === null ? null : `market ${f.market}`].filter((p) => p !== null);
  return parts.length === 0 ? "none (every matching event)" : parts.join(" · ");
}

/** Why a session that reads webhooks sees no action: only an operator's key changes them. */
function ReadOnly(): JSX.Element {
  return (
    <p class="notice" data-testid="webhooks-read-only">
      Read only: disabling, enabling, test events and redelivery take an operator's key (admin).
    </p>
  );
}

function EndpointState(props: { status: WebhookEndpoint["status"] }): JSX.Element {
  return <Badge value={props.status === "active" ? "enabled" : "disabled"} tone={props.status === "active" ? "good" : "bad"} />;
}

/** A delivery's state in words: a pending one that has failed is retrying, not merely pending. */
function DeliveryState(props: { d: WebhookDelivery }): JSX.Element {
  const d = props.d;
  if (d.status === "delivered") return <Badge value="delivered" tone="good" />;
  if (d.status === "dead") return <Badge value="dead" tone="bad" />;
  if (d.status === "pending" && d.attempts > 0) return <Badge value="retrying" tone="bad" />;
  return <Badge value={d.status} tone="neutral" />;
}

/**
 * An attempt's error unless it only repeats its status: the service records a non-2xx answer as
 * "answered 500" beside the status code itself.
 */
function errorBeyondStatus(error: string | null, statusCode: number | null): string | null {
  return error === null || (statusCode !== null && error === `answered ${statusCode}`) ? null : error;
}

/** The last attempt's answer: its HTTP status, or what went wrong before one came. */
function LastResult(props: { d: WebhookDelivery }): JSX.Element {
  const d = props.d;
  if (d.attempts === 0) return <span class="muted">not tried yet</span>;
  const error = errorBeyondStatus(d.lastError, d.lastStatusCode);
  return (
    <span>
      {d.lastStatusCode !== null && <span class={d.lastStatusCode >= 200 && d.lastStatusCode < 300 ? undefined : "bad-text"}>HTTP {d.lastStatusCode}</span>}
      {d.lastStatusCode !== null && error !== null && " · "}
      {error !== null && <span>{error}</span>}
    </span>
  );
}

/** Renders the last value loaded (kept while the next loads, so focus and outcomes stay put), or the load's state. */
function Kept<T>(props: { load: Loaded<T>; children: (value: T) => ComponentChildren }): JSX.Element {
  const last = useLastValue(props.load);
  if (props.load.state === "error") return <ErrorBox error={props.load.error} />;
  if (last === undefined) return <Loading />;
  return <>{props.children(last)}</>;
}

const DEAD_COUNTED = 100;

/**
 * How many of an endpoint's deliveries are dead (the dead-letter list's first page: the API counts
 * nothing), linked to that list.
 */
function DeadCount(props: { endpointId: string }): JSX.Element {
  const [load] = useLoad(() => get<{ items: WebhookDelivery[] }>(`${endpointPath(props.endpointId)}/deliveries`, { status: "dead", limit: DEAD_COUNTED }), [props.endpointId]);
  if (load.state === "loading") return <span class="muted">…</span>;
  if (load.state === "error") return <span class="muted">unknown</span>;
  const n = load.value.items.length;
  if (n === 0) return <span class="muted">none</span>;
  return <Link href={href(`/webhooks/${props.endpointId}`, { status: "dead" })}>{`${n === DEAD_COUNTED ? `${n}+` : n} dead`}</Link>;
}

/** GET /v1/webhooks/endpoints: every endpoint this session's key manages. */
export function Webhooks(props: ViewProps): JSX.Element {
  if (!canReadWebhooks(props.session)) return <NoAccess session={props.session} />;
  return <EndpointList write={canManageWebhooks(props.session)} />;
}

function EndpointList(props: { write: boolean }): JSX.Element {
  const [load] = useLoad(() => get<{ items: WebhookEndpoint[] }>("/v1/webhooks/endpoints"), []);
  return (
    <>
      <Title sub="The HTTPS endpoints Entrepot pushes its events to, signed with each endpoint's secret; their deliveries and attempts.">Webhooks</Title>
      {!props.write && <ReadOnly />}
      <section class="card" aria-labelledby="wh-endpoints-h">
        <h2 id="wh-endpoints-h">Endpoints</h2>
        <Kept load={load}>
          {({ items }) =>
            items.length === 0 ? (
              <p class="muted">No endpoint yet: one is subscribed with POST /v1/webhooks/endpoints (its secret is in that answer only).</p>
            ) : (
              <ListTable caption="Webhook endpoints, oldest first" scrollLabel="Webhook endpoints" columns={["Endpoint", "Event types", "Filter", "Status", "Dead deliveries", "Created"]}>
                {items.map((e) => (
                  <tr key={e.id}>
                    <td>
                      <Link href={href(`/webhooks/${e.id}`)}>
                        <span class="break">{e.url}</span>
                      </Link>
                      <br />
                      <span class="muted">
                        {e.id}
                        {e.description !== null && ` · ${e.description}`}
                        {e.ownerGateway !== null && ` · gateway ${e.ownerGateway}'s`}
                      </span>
                    </td>
                    <td>
                      <EventTypes types={e.eventTypes} />
                    </td>
                    <td>{filterWords(e.filter)}</td>
                    <td>
                      <EndpointState status={e.status} />
                    </td>
                    <td data-testid="wh-dead-count">
                      <DeadCount endpointId={e.id} />
                    </td>
                    <td>
                      <Time iso={e.createdAt} />
                    </td>
                  </tr>
                ))}
              </ListTable>
            )
          }
        </Kept>
      </section>
    </>
  );
}

type Outcome = { text: ComponentChildren; testid: string };

/** Disable (after a confirmation: what is raised meanwhile is never delivered), enable, send a test event. */
function EndpointActions(props: { endpoint: WebhookEndpoint; onChanged: (e: WebhookEndpoint) => void; onTestSent: () => void }): JSX.Element {
  const e = props.endpoint;
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [error, setError] = useState<unknown>(null);
  const focusLater = useFocusLater();

  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );
  // The latest action: a test event's follow-up stops once another action has started.
  const seq = useRef(0);
  const run = <T,>(path: string, done: (r: T) => Outcome) => {
    seq.current++;
    setBusy(true);
    setError(null);
    setOutcome(null);
    send<T>("POST", path)
      .then(
        (r) => {
          setOutcome(done(r as T));
          focusLater("wh-outcome");
        },
        (err: unknown) => {
          setError(err);
          focusLater("wh-error");
        },
      )
      .finally(() => {
        setBusy(false);
        setConfirming(false);
      });
  };
  const disable = () =>
    run<WebhookEndpoint>(`${endpointPath(e.id)}/disable`, (r) => {
      props.onChanged(r);
      return { testid: "wh-disabled", text: <>Disabled {instantInWords(r.updatedAt)}. Events raised from now on are never delivered to it; deliveries already queued wait until it is enabled.</> };
    });
  const enable = () =>
    run<WebhookEndpoint>(`${endpointPath(e.id)}/enable`, (r) => {
      props.onChanged(r);
      return { testid: "wh-enabled", text: <>Enabled {instantInWords(r.updatedAt)}. Deliveries resume, the queued ones first.</> };
    });
  const test = () =>
    run<{ eventId: string }>(`${endpointPath(e.id)}/test`, (r) => {
      void follow(r.eventId, seq.current);
      return { testid: "wh-test-sent", text: <>Test event {r.eventId} queued for this endpoint…</> };
    });
  // The service answers the event's id before its delivery exists (the worker fans events out a
  // moment later: until then the delivery is 404): follow it until its first attempt is recorded.
  const follow = async (eventId: string, mine: number) => {
    const link = <Link href={href(`/webhooks/${e.id}/deliveries/${eventId}`)}>{`delivery ${eventId}`}</Link>;
    const current = () => alive.current && seq.current === mine;
    let listed = false;
    for (let i = 0; i < 60 && current(); i++) {
      await sleep(500);
      let d: DeliveryDetail;
      try {
        d = await get<DeliveryDetail>(`${endpointPath(e.id)}/deliveries/${encodeURIComponent(eventId)}`);
      } catch (err) {
        if (err instanceof ApiError && err.code === "ENT_WEBHOOK_DELIVERY_NOT_FOUND") continue;
        if (current()) setError(err);
        return;
      }
      if (!current()) return;
      if (!listed) {
        listed = true;
        props.onTestSent();
      }
      const first = d.attempts[0];
      if (first !== undefined) {
        setOutcome({ testid: "wh-test-sent", text: <>Test event {eventId} sent: attempt 1 {attemptWords(first)}. {afterWords(d.delivery)} See its {link}.</> });
        props.onTestSent();
        return;
      }
      setOutcome({
        testid: "wh-test-sent",
        text:
          d.delivery.status === "waiting" ? (
            <>Test event {eventId} queued: its {link} waits behind an earlier delivery of the same subject (this endpoint's test events), which is being retried.</>
          ) : (
            <>Test event {eventId} queued: its {link} waits for its first attempt…</>
          ),
      });
    }
  };
  return (
    <section class="card" aria-labelledby="wh-actions-h">
      <h2 id="wh-actions-h">Actions</h2>
      {confirming ? (
        // Keyed: an unkeyed <p> here would take over the outcome's element (and its focus) below.
        <div key="confirm" class="notice" role="group" aria-labelledby="wh-confirm-text">
          <p id="wh-confirm-text">Disable {e.url}? Events raised while it is disabled are never delivered to it, not even after it is enabled again; deliveries already queued wait.</p>
          <ConfirmActions
            id="wh-confirm-disable"
            busy={busy}
            label="Disable the endpoint"
            busyLabel="Disabling…"
            onConfirm={disable}
            back="Cancel"
            onBack={() => {
              setConfirming(false);
              focusLater("wh-toggle");
            }}
          />
        </div>
      ) : (
        <p key="buttons" class="actions">
          {e.status === "active" ? (
            <button
              type="button"
              id="wh-toggle"
              disabled={busy}
              onClick={() => {
                setOutcome(null);
                setError(null);
                setConfirming(true);
                focusLater("wh-confirm-disable");
              }}
            >
              Disable…
            </button>
          ) : (
            <button type="button" id="wh-toggle" disabled={busy} onClick={enable}>
              {busy ? "Enabling…" : "Enable"}
            </button>
          )}{" "}
          <button type="button" id="wh-test" disabled={busy || e.status !== "active"} aria-describedby={e.status === "active" ? undefined : "wh-test-why"} onClick={test}>
            Send test event
          </button>
          {e.status !== "active" && (
            <span class="muted" id="wh-test-why">
              {" "}
              A disabled endpoint takes no test event: enable it first.
            </span>
          )}
        </p>
      )}
      {outcome !== null && (
        <p key="outcome" role="status" id="wh-outcome" data-testid={outcome.testid} tabIndex={-1}>
          {outcome.text}
        </p>
      )}
      {error !== null && <ErrorBox key="error" error={error} id="wh-error" />}
    </section>
  );
}

/** One endpoint: its fields, the actions an operator may take, and its deliveries by status. */
export function WebhookEndpointView(props: ViewProps): JSX.Element {
  if (!canReadWebhooks(props.session)) return <NoAccess session={props.session} />;
  return <EndpointPage {...props} />;
}

function EndpointPage(props: ViewProps): JSX.Element {
  const id = props.params["id"] as string;
  const [load, reload] = useLoad(() => get<WebhookEndpoint>(endpointPath(id)), [id]);
  // An action's answer, shown until a load at least as new arrives (no flash of the state before it).
  const [changed, setChanged] = useState<WebhookEndpoint | null>(null);
  const raw = props.location.query.get("status") ?? "";
  const status: StatusFilter = STATUSES.some(([v]) => v === raw) ? (raw as StatusFilter) : "";
  // The page is the URL's (`pages`: the eventIds walked past), beside the status.
  const deliveries = useUrlPages(
    props.location,
    "pages",
    async (cursor) => {
      const page = await get<Page<WebhookDelivery>>(`${endpointPath(id)}/deliveries`, { status, cursor, limit: PAGE });
      return { items: page.items, next: page.nextCursor };
    },
    [id, status],
  );
  const write = canManageWebhooks(props.session);
  const statusWords = STATUSES.find(([v]) => v === status)?.[1] ?? "all";
  return (
    <Kept load={load}>
      {(loaded) => {
        const e = changed !== null && changed.id === loaded.id && changed.updatedAt > loaded.updatedAt ? changed : loaded;
        return (
          <>
            <Title sub={<Link href={href("/webhooks")}>Back to webhooks</Link>}>{`Webhook endpoint ${e.id}`}</Title>
            <Fields
              rows={[
                ["URL", <span class="break">{e.url}</span>],
                ["Description", e.description ?? <span class="muted">–</span>],
                ["Event types", <EventTypes types={e.eventTypes} />],
                ["Filter", filterWords(e.filter)],
                ["Managed by", e.ownerGateway === null ? "operators (admin keys)" : `gateway ${e.ownerGateway}'s keys`],
                ["Status", <span data-testid="wh-status"><EndpointState status={e.status} /></span>],
                ["Signing secret", e.previousSecretValidUntil === null ? "one secret (shown once, when it was created or rotated)" : <>rotating: the replaced secret signs too until <Time iso={e.previousSecretValidUntil} /></>],
                ["Created", <Time iso={e.createdAt} />],
                ["Updated", <Time iso={e.updatedAt} />],
              ]}
            />
            {!write && <ReadOnly />}
            {write && (
              <EndpointActions
                endpoint={e}
                onChanged={(next) => {
                  setChanged(next);
                  reload();
                }}
                onTestSent={deliveries.reload}
              />
            )}
            <section class="card" aria-labelledby="wh-deliveries-h">
              <h2 id="wh-deliveries-h" tabIndex={-1}>
                Deliveries
              </h2>
              <div class="filters">
                <div>
                  <label for="wh-status-filter">Status</label>
                  <select
                    id="wh-status-filter"
                    value={status}
                    // A new filter starts on its first page.
                    onChange={(ev) => navigate(href(`/webhooks/${id}`, { status: (ev.target as HTMLSelectElement).value }))}
                  >
                    {STATUSES.map(([v, words]) => (
                      <option key={v} value={v}>
                        {words}
                      </option>
                    ))}
                  </select>
                </div>
              </div>
              <Kept load={deliveries.load}>
                {({ items }) =>
                  items.length === 0 ? (
                    <p data-testid="wh-no-deliveries">{status === "" ? "No delivery yet." : status === "dead" ? "No dead delivery: nothing waits to be redelivered." : `No ${status} delivery.`}</p>
                  ) : (
                    <ListTable caption={`Deliveries to ${e.id}, ${statusWords}, newest first`} scrollLabel="Deliveries" columns={["Event", "Type", "Status", ["Attempts", "num"], "Last answer", "Last attempt", "Next attempt"]}>
                      {items.map((d) => (
                        <tr key={d.eventId}>
                          <td>
                            <Link href={href(`/webhooks/${e.id}/deliveries/${d.eventId}`)}>{d.eventId}</Link>
                            <br />
                            <span class="muted">
                              raised <Time iso={d.createdAt} />
                            </span>
                          </td>
                          <td>
                            <code>{d.type}</code>
                            <br />
                            <span class="muted break">{d.subject}</span>
                          </td>
                          <td>
                            <DeliveryState d={d} />
                          </td>
                          <td class="num">{d.attempts}</td>
                          <td>
                            <LastResult d={d} />
                          </td>
                          <td>
                            <Time iso={d.lastAttemptAt} />
                          </td>
                          <td>{d.status === "delivered" ? <span class="muted">delivered <Time iso={d.deliveredAt} /></span> : <Time iso={d.nextAttemptAt} />}</td>
                        </tr>
                      ))}
                    </ListTable>
                  )
                }
              </Kept>
              <Pager pages={deliveries} label="Deliveries" />
            </section>
          </>
        );
      }}
    </Kept>
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An attempt's answer in words. */
function attemptWords(a: WebhookAttempt): string {
  const answer = a.statusCode === null ? "got no answer" : `answered HTTP ${a.statusCode}`;
  const error = errorBeyondStatus(a.error, a.statusCode);
  return `${answer} in ${a.durationMs} ms${error === null ? "" : ` (${error})`}`;
}

/** After a redelivery: where the delivery stands once the new attempt is recorded. */
function afterWords(d: WebhookDelivery): string {
  if (d.status === "delivered") return "Delivered.";
  if (d.status === "dead") return "Still dead: redeliver again once the receiver is fixed.";
  return d.nextAttemptAt === null ? `Now ${d.status}.` : `It is retried ${instantInWords(d.nextAttemptAt)}.`;
}

/** Redeliver now, then follow the attempt it makes until its outcome is recorded. */
function Redeliver(props: { endpointId: string; detail: DeliveryDetail; onChanged: () => void }): JSX.Element {
  const { endpointId } = props;
  const eventId = props.detail.delivery.eventId;
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [error, setError] = useState<unknown>(null);
  const focusLater = useFocusLater();
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
    },
    [],
  );
  const path = `${endpointPath(endpointId)}/deliveries/${encodeURIComponent(eventId)}`;

  const redeliver = async () => {
    const before = props.detail.attempts.length;
    setBusy(true);
    setError(null);
    setOutcome(null);
    try {
      await send<WebhookDelivery>("POST", `${path}/redeliver`);
      setOutcome({ testid: "wh-redelivering", text: `Redelivery started: attempt ${before + 1} is being sent now…` });
      focusLater("wh-outcome");
      props.onChanged();
      // The attempt is made by the delivery worker: follow it for up to half a minute.
      for (let i = 0; i < 60 && alive.current; i++) {
        await sleep(500);
        const now = await get<DeliveryDetail>(path);
        const tried = now.attempts.find((a) => a.attempt > before) ?? (now.attempts.length > before ? now.attempts.at(-1) : undefined);
        if (tried !== undefined) {
          if (!alive.current) return;
          setOutcome({ testid: "wh-redelivered", text: `Redelivered: attempt ${tried.attempt} ${attemptWords(tried)}. ${afterWords(now.delivery)}` });
          props.onChanged();
          return;
        }
      }
      if (alive.current) setOutcome({ testid: "wh-redelivering", text: `Redelivery started; attempt ${before + 1} has no recorded outcome yet: it is listed below once it has.` });
    } catch (err) {
      if (!alive.current) return;
      setError(err);
      focusLater("wh-error");
    } finally {
      if (alive.current) setBusy(false);
    }
  };

  return (
    <div>
      <p class="actions">
        <button type="button" id="wh-redeliver" disabled={busy} onClick={() => void redeliver()}>
          {busy ? "Redelivering…" : "Redeliver now"}
        </button>{" "}
        <span class="muted">
          {props.detail.delivery.status === "delivered" ? "It was delivered: a redelivery sends the same event again (receivers dedupe on its id)." : "One more attempt at once, out of its subject's order if it must."}
        </span>
      </p>
      {outcome !== null && (
        <p role="status" id="wh-outcome" data-testid={outcome.testid} tabIndex={-1}>
          {outcome.text}
        </p>
      )}
      {error !== null && <ErrorBox error={error} id="wh-error" />}
    </div>
  );
}

/** One delivery: its state, every attempt (status, latency, error) and the event it carries. */
export function WebhookDeliveryView(props: ViewProps): JSX.Element {
  if (!canReadWebhooks(props.session)) return <NoAccess session={props.session} />;
  return <DeliveryPage {...props} />;
}

function DeliveryPage(props: ViewProps): JSX.Element {
  const id = props.params["id"] as string;
  const eventId = props.params["eventId"] as string;
  const [load, reload] = useLoad(() => get<DeliveryDetail>(`${endpointPath(id)}/deliveries/${encodeURIComponent(eventId)}`), [id, eventId]);
  const write = canManageWebhooks(props.session);
  return (
    <Kept load={load}>
      {(x) => {
        const d = x.delivery;
        return (
          <>
            <Title sub={<Link href={href(`/webhooks/${id}`)}>{`Back to endpoint ${id}`}</Link>}>{`Delivery of ${d.eventId}`}</Title>
            <Fields
              rows={[
                ["Event type", <code>{d.type}</code>],
                ["Subject", <code class="break">{d.subject}</code>],
                ["Status", <span data-testid="wh-delivery-status"><DeliveryState d={d} /></span>],
                ["Attempts", String(d.attempts)],
                ["Last answer", <LastResult d={d} />],
                ["Next attempt", d.status === "delivered" || d.status === "dead" ? <span class="muted">none</span> : <Time iso={d.nextAttemptAt} />],
                ["Delivered", <Time iso={d.deliveredAt} />],
                ["Raised", <Time iso={d.createdAt} />],
              ]}
            />
            {write ? <Redeliver endpointId={id} detail={x} onChanged={reload} /> : <ReadOnly />}
            <section class="card" aria-labelledby="wh-attempts-h">
              <h2 id="wh-attempts-h">Attempts</h2>
              {x.attempts.length === 0 ? (
                <p class="muted">None yet.</p>
              ) : (
                <ListTable caption={`Attempts to deliver ${d.eventId}, oldest first`} scrollLabel="Attempts" columns={[["Attempt", "num"], "Started", "Answer", ["Latency", "num"], "Error"]}>
                  {x.attempts.map((a) => (
                    <tr key={a.attempt} data-testid={`wh-attempt-${a.attempt}`}>
                      <td class="num">{a.attempt}</td>
                      <td>
                        <Time iso={a.startedAt} />
                      </td>
                      <td>{a.statusCode === null ? <span class="muted">no answer</span> : <Badge value={`HTTP ${a.statusCode}`} tone={a.statusCode >= 200 && a.statusCode < 300 ? "good" : "bad"} />}</td>
                      <td class="num">{a.durationMs} ms</td>
                      <td>{errorBeyondStatus(a.error, a.statusCode) ?? <span class="muted">–</span>}</td>
                    </tr>
                  ))}
                </ListTable>
              )}
            </section>
            <section class="card" aria-labelledby="wh-event-h">
              <h2 id="wh-event-h">Event</h2>
              <Fields
                rows={[
                  ["Id", <code>{x.event.id}</code>],
                  ["Type", <code>{x.event.type}</code>],
                  ["Raised", <Time iso={x.event.createdAt} />],
                  ["Subject", <code class="break">{x.event.subject}</code>],
                ]}
              />
              <details>
                <summary>Its data as delivered</summary>
                <pre data-testid="wh-event-data">{JSON.stringify(x.event.data, null, 2)}</pre>
              </details>
            </section>
          </>
        );
      }}
    </Kept>
  );
}
