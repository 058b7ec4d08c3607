/** Every SQL statement of the webhooks module and the only mapping of its rows. */
import type { SqlRunner, Statement } from "../db/sql.js";
import type { Sealed } from "../http/auth/secret-box.js";
import type { OpenItems, OpenPeriod } from "../open-items.js";
import { eventIdText, type DeliveryStatus, type EndpointFilter, type WebhookAttempt, type WebhookDelivery, type WebhookEndpoint } from "./types.js";

type Row = Record<string, unknown>;

/** An instant as PostgreSQL writes a timestamptz into JSON (`2026-12-06T09:19:19.362+00:00`, milliseconds only when not zero). */
const PG_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?[+-]\d{2}:\d{2}$/;

/**
 * An event's data as delivered and read: the instants the triggers wrote (PostgreSQL's JSON form)
 * in the API's form, `…T09:19:19.362Z`, UTC with milliseconds, so a receiver compares them with
 * what the REST API answers as strings. No gateway-given text has that shape (identifiers hold no `+`).
 */
function eventData(data: unknown): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return PG_INSTANT.test(v) ? new Date(v).toISOString() : v;
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(data) as Record<string, unknown>;
}

export interface EndpointRow extends WebhookEndpoint {
  secret: Sealed;
  previousSecret: Sealed | null;
}

export interface NewEndpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  filter: EndpointFilter;
  ownerGateway: string | null;
  secret: Sealed;
  createdBy: string;
}

export interface NewEvent {
  type: string;
  subject: string;
  gateway?: string | null;
  sellerId?: string | null;
  market?: string | null;
  /** For one endpoint only (a test event): delivered whatever it subscribes to. */
  endpointId?: string | null;
  /** At most one event per key. */
  dedupeKey?: string | null;
  data: Record<string, unknown>;
}

/** A delivery claimed for one attempt, with what sending it needs. */
export interface Claimed {
  endpointId: string;
  /** Its endpoint's owner (`ownerKey`): whose share of the in-flight slots it takes. */
  owner: string;
  eventId: bigint;
  /** This attempt's number, taken by the claim (1 = first): never reused, also when its outcome is lost. */
  attempt: number;
  type: string;
  subject: string;
  data: Record<string, unknown>;
  createdAt: Date;
  url: string;
  secret: Sealed;
  previousSecret: Sealed | null;
  previousSecretValidUntil: Date | null;
}

export interface Outcome {
  endpointId: string;
  eventId: bigint;
  /** The delivery's subject: its line, locked while the outcome is written. */
  subject: string;
  /** This attempt's number (1 = first). */
  attempt: number;
  startedAtMs: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  result: "delivered" | "retry" | "dead";
  /** For "retry": when to try again, from now. */
  delayMs: number;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const date = (v: unknown): Date | null => (v === null || v === undefined ? null : (v as Date));
const sealed = (ciphertext: unknown, keyId: unknown): Sealed | null => (typeof ciphertext === "string" && typeof keyId === "string" ? { ciphertext, keyId } : null);

function endpointOf(r: Row): EndpointRow {
  return {
    id: String(r.id),
    url: String(r.url),
    description: str(r.description),
    eventTypes: (r.event_types as string[] | null) ?? [],
    filter: { gateway: str(r.gateway), sellerId: str(r.seller_id), market: str(r.market) },
    ownerGateway: str(r.owner_gateway),
    status: r.status as "active" | "disabled",
    previousSecretValidUntil: date(r.previous_secret_valid_until),
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    secret: sealed(r.secret_ciphertext, r.secret_key_id) as Sealed,
    previousSecret: sealed(r.previous_secret_ciphertext, r.previous_secret_key_id),
  };
}

function deliveryOf(r: Row): WebhookDelivery {
  const status = r.status as DeliveryStatus;
  return {
    endpointId: String(r.endpoint_id),
    eventId: r.event_id as bigint,
    type: String(r.type),
    subject: String(r.subject),
    status,
    attempts: Number(r.attempts),
    nextAttemptAt: status === "pending" ? (r.next_attempt_at as Date) : null,
    lastAttemptAt: date(r.last_attempt_at),
    lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
    lastError: str(r.last_error),
    deliveredAt: date(r.delivered_at),
    createdAt: r.created_at as Date,
  };
}

/** An active endpoint `e` that wants event `ev`: named by it, or subscribed to its type and matched by its filter. */
const ENDPOINT_WANTS_EVENT = `e.status = 'active' AND (
     ev.endpoint_id = e.id
  OR (ev.endpoint_id IS NULL
      AND (ev.type = ANY(e.event_types) OR '*' = ANY(e.event_types))
      AND (e.gateway IS NULL OR e.gateway = ev.gateway)
      AND (e.seller_id IS NULL OR e.seller_id = ev.seller_id)
      AND (e.market IS NULL OR e.market = ev.market)))`;

/**
 * Who an endpoint's deliveries count against when the in-flight slots are shared: its owning
 * gateway, or the operators (no owner gateway) as one owner of their own. `OWNER_KEY` is the same
 * in SQL, for an endpoint `e`.
 */
export function ownerKey(ownerGateway: string | null): string {
  return ownerGateway === null ? "operators" : `gateway:${ownerGateway}`;
}
const OWNER_KEY = `COALESCE('gateway:' || e.owner_gateway, 'operators')`;

/** The lock (transaction-scoped) under which an owner's active endpoints are counted and added to. */
function ownerLock(ownerGateway: string | null): Statement {
  return { text: `SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || $1::text, 0))`, values: [ownerKey(ownerGateway)] };
}

export class WebhookStore {
  constructor(private readonly sql: SqlRunner) {}

  /**
   * Inserts the endpoint, active, unless its owner already has `maxActive` active ones (then null,
   * nothing written). The count is read under the owner's lock (`ownerLock`): two creations at once
   * cannot both see room for one.
   */
  async insertEndpoint(e: NewEndpoint, maxActive: number): Promise<EndpointRow | null> {
    return this.sql.transaction(async (tx) => {
      const [count] = await tx.q(`SELECT count(*)::int AS n FROM webhook_endpoints WHERE status = 'active' AND owner_gateway IS NOT DISTINCT FROM $1::text`, e.ownerGateway);
      if (Number((count as Row).n) >= maxActive) return null;
      const [row] = await tx.q(
        `INSERT INTO webhook_endpoints (id, url, description, event_types, gateway, seller_id, market, owner_gateway, secret_ciphertext, secret_key_id, status, created_by)
         VALUES ($1, $2, $3, $4::varchar[], $5, $6, $7, $8, $9, $10, 'active', $11) RETURNING *`,
        e.id, e.url, e.description, e.eventTypes, e.filter.gateway, e.filter.sellerId, e.filter.market, e.ownerGateway, e.secret.ciphertext, e.secret.keyId, e.createdBy,
      );
      return endpointOf(row as Row);
    }, ownerLock(e.ownerGateway));
  }

  async endpoint(id: string): Promise<EndpointRow | null> {
    const [row] = await this.sql.q(`SELECT * FROM webhook_endpoints WHERE id = $1`, id);
    return row === undefined ? null : endpointOf(row);
  }

  /** `owner` undefined = every endpoint; null = operators' only; a gateway = that gateway's. */
  async endpoints(owner: string | null | undefined): Promise<EndpointRow[]> {
    const rows = owner === undefined
      ? await this.sql.q(`SELECT * FROM webhook_endpoints ORDER BY created_at, id`)
      : await this.sql.q(`SELECT * FROM webhook_endpoints WHERE owner_gateway IS NOT DISTINCT FROM $1 ORDER BY created_at, id`, owner);
    return rows.map(endpointOf);
  }

  async disable(id: string): Promise<EndpointRow | null> {
    const [row] = await this.sql.q(`UPDATE webhook_endpoints SET status = 'disabled', updated_at = now() WHERE id = $1 RETURNING *`, id);
    return row === undefined ? null : endpointOf(row);
  }

  /**
   * Enables the endpoint (of `owner`) unless that would make more than `maxActive` active endpoints
   * of its owner: then, or if there is no such endpoint, null. Under the owner's lock, as `insertEndpoint`.
   */
  async enable(id: string, owner: string | null, maxActive: number): Promise<EndpointRow | null> {
    return this.sql.transaction(async (tx) => {
      const [row] = await tx.q(
        `UPDATE webhook_endpoints SET status = 'active', updated_at = now()
          WHERE id = $1::text AND (status = 'active'
             OR (SELECT count(*) FROM webhook_endpoints WHERE status = 'active' AND owner_gateway IS NOT DISTINCT FROM $2::text) < $3::int)
         RETURNING *`,
        id, owner, maxActive,
      );
      return row === undefined ? null : endpointOf(row);
    }, ownerLock(owner));
  }

  /**
   * The new secret signs from now; the one it replaces (`was`, as read) keeps signing too until
   * `previousValidUntil`. Null, changing nothing, while a previously replaced secret still signs
   * (by the database's clock) or when the secret is no longer `was` (a concurrent rotation).
   */
  async rotateSecret(id: string, secret: Sealed, previous: Sealed, previousValidUntil: Date, was: Sealed): Promise<EndpointRow | null> {
    const [row] = await this.sql.q(
      `UPDATE webhook_endpoints SET secret_ciphertext = $2, secret_key_id = $3, previous_secret_ciphertext = $4, previous_secret_key_id = $5,
              previous_secret_valid_until = $6, updated_at = now()
        WHERE id = $1 AND secret_ciphertext = $7 AND (previous_secret_valid_until IS NULL OR previous_secret_valid_until <= now()) RETURNING *`,
      id, secret.ciphertext, secret.keyId, previous.ciphertext, previous.keyId, previousValidUntil, was.ciphertext,
    );
    return row === undefined ? null : endpointOf(row);
  }

  /** Rows sealed under another secrets key than `keyId` (re-sealed at boot). */
  async sealedElsewhere(keyId: string): Promise<EndpointRow[]> {
    const rows = await this.sql.q(`SELECT * FROM webhook_endpoints WHERE secret_key_id <> $1 OR previous_secret_key_id <> $1`, keyId);
    return rows.map(endpointOf);
  }

  async reseal(id: string, secret: Sealed, previous: Sealed | null, was: Sealed): Promise<boolean> {
    const rows = await this.sql.q(
      `UPDATE webhook_endpoints SET secret_ciphertext = $2, secret_key_id = $3, previous_secret_ciphertext = $4, previous_secret_key_id = $5
        WHERE id = $1 AND secret_ciphertext = $6 RETURNING id`,
      id, secret.ciphertext, secret.keyId, previous?.ciphertext ?? null, previous?.keyId ?? null, was.ciphertext,
    );
    return rows.length > 0;
  }

  /**
   * An event from code (not a trigger): written only if some active endpoint wants it, or, for one
   * that names its endpoint, if that endpoint is active (a disabled one gets nothing raised meanwhile).
   */
  async emit(e: NewEvent): Promise<bigint | null> {
    const [row] = await this.sql.q(
      `INSERT INTO webhook_events (type, subject, gateway, seller_id, market, endpoint_id, dedupe_key, data)
       SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::jsonb
        WHERE CASE WHEN $6::text IS NULL THEN webhook_wanted($1::text)
                   ELSE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $6::text AND status = 'active') END
       ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
      e.type, e.subject, e.gateway ?? null, e.sellerId ?? null, e.market ?? null, e.endpointId ?? null, e.dedupeKey ?? null, JSON.stringify(e.data),
    );
    return row === undefined ? null : (row.id as bigint);
  }

  /**
   * Fans out up to `limit` undispatched events to a delivery per matching active endpoint, and
   * marks them dispatched. SKIP LOCKED: two callers never take the same events. A delivery is
   * `pending` when it heads its (endpoint, subject) line, else `waiting` until the one before it
   * ends (`record` promotes it): one subject's events go out in event order.
   *
   * The events' lines are locked first, as `record` locks them: a delivery ending at the same
   * moment would otherwise look for the next one before this transaction's `waiting` row exists
   * (its statement's snapshot), and this one would see the ended delivery still pending, leaving
   * the new one waiting for ever. The insert runs once the locks are held, so it sees every
   * outcome committed before, and every later outcome sees its rows.
   */
  async fanOut(limit: number): Promise<{ events: number; deliveries: number }> {
    const lock: Statement = {
      text: `WITH ev AS (
               SELECT id, type, subject, gateway, seller_id, market, endpoint_id FROM webhook_events
                WHERE dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
             ), lines AS (
               SELECT DISTINCT hashtextextended(e.id || ' ' || ev.subject, 0) AS k FROM ev JOIN webhook_endpoints e ON ${ENDPOINT_WANTS_EVENT}
             )
             SELECT coalesce((SELECT array_agg(id ORDER BY id) FROM ev), '{}')::text AS ids,
                    (SELECT count(*) FROM (SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM lines ORDER BY k) o) x)::int AS locked`,
      values: [limit],
    };
    return this.sql.transaction(async (tx, [first]) => {
      const ids = String((first as Row).ids).replace(/[{}]/g, "").split(",").filter((x) => x !== "");
      if (ids.length === 0) return { events: 0, deliveries: 0 };
      const [row] = await tx.commitWith({
        text: `WITH ev AS (
                 SELECT id, type, subject, gateway, seller_id, market, endpoint_id FROM webhook_events WHERE id = ANY($1::bigint[])
               ), matched AS (
                 SELECT e.id AS endpoint_id, ev.id AS event_id, ev.subject,
                        row_number() OVER (PARTITION BY e.id, ev.subject ORDER BY ev.id) AS place
                   FROM ev JOIN webhook_endpoints e ON ${ENDPOINT_WANTS_EVENT}
               ), ins AS (
                 INSERT INTO webhook_deliveries (endpoint_id, event_id, subject, status, attempts, next_attempt_at)
                 SELECT m.endpoint_id, m.event_id, m.subject,
                        CASE WHEN m.place = 1 AND NOT EXISTS (
                               SELECT 1 FROM webhook_deliveries o
                                WHERE o.endpoint_id = m.endpoint_id AND o.subject = m.subject AND o.status IN ('pending', 'waiting'))
                             THEN 'pending' ELSE 'waiting' END,
                        0, now()
                   FROM matched m ORDER BY m.event_id
                 ON CONFLICT DO NOTHING RETURNING 1
               ), upd AS (
                 UPDATE webhook_events w SET dispatched_at = now() FROM ev WHERE w.id = ev.id RETURNING 1
               )
               SELECT (SELECT count(*) FROM upd)::int AS events, (SELECT count(*) FROM ins)::int AS deliveries`,
        values: [ids.map((x) => BigInt(x))],
      });
      return { events: Number((row as Row).events), deliveries: Number((row as Row).deliveries) };
    }, lock);
  }

  /**
   * Claims due deliveries for one attempt each (only `pending` ones: the head of each subject's
   * line), `limit` in all, shared fairly between owners (an owner: the gateway whose key manages the
   * endpoint, or the operators): an owner takes at most `perOwner` minus what it has in flight
   * (`inFlight.owners`, by `ownerKey`), one endpoint at most `perEndpoint` minus its own
   * (`inFlight.endpoints`, by endpoint id). The free slots go round the owners: the owner with the
   * fewest in flight first, oldest due first among equals; within an owner, round its endpoints the
   * same way. So one owner's backlog, however old or spread over endpoints, never sits ahead of
   * another owner's due delivery. A claim pushes `next_attempt_at` out by `leaseMs`, so a delivery
   * whose sender died is tried again after that, and marks it in flight until then
   * (`claimed_until`, cleared by `record`): redelivery waits for the attempt's outcome. The claim
   * numbers the attempt (`attempts` + 1): a request sent again after a claim lapsed (its outcome
   * lost with its instance or the database) is the next attempt, never the same number twice.
   */
  async claim(limit: number, caps: { perEndpoint: number; perOwner: number }, inFlight: { endpoints: Record<string, number>; owners: Record<string, number> }, leaseMs: number): Promise<Claimed[]> {
    if (limit <= 0) return [];
    const rows = await this.sql.q(
      `WITH cand AS (
         SELECT h.endpoint_id, h.event_id, h.next_attempt_at, o.owner, o.owner_busy, o.endpoint_busy + h.place AS endpoint_slot
           FROM webhook_endpoints e
          CROSS JOIN LATERAL (
            SELECT ${OWNER_KEY} AS owner, COALESCE(($4::jsonb ->> ${OWNER_KEY})::int, 0) AS owner_busy, COALESCE(($3::jsonb ->> e.id)::int, 0) AS endpoint_busy
          ) o
          CROSS JOIN LATERAL (
            SELECT d.endpoint_id, d.event_id, d.next_attempt_at, row_number() OVER (ORDER BY d.next_attempt_at) AS place FROM webhook_deliveries d
             WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= now()
             ORDER BY d.next_attempt_at
             LIMIT GREATEST(0, LEAST($2::int - o.endpoint_busy, $5::int - o.owner_busy))
          ) h
          WHERE e.status = 'active'
       ), ranked AS (
         SELECT endpoint_id, event_id, next_attempt_at,
                owner_busy + row_number() OVER (PARTITION BY owner ORDER BY endpoint_slot, next_attempt_at) AS owner_slot
           FROM cand
       ), picked AS (
         SELECT endpoint_id, event_id FROM ranked WHERE owner_slot <= $5::int ORDER BY owner_slot, next_attempt_at LIMIT $1
       )
       UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
              next_attempt_at = now() + $6::int * interval '1 millisecond', claimed_until = now() + $6::int * interval '1 millisecond'
         FROM picked, webhook_events ev, webhook_endpoints e
        WHERE d.endpoint_id = picked.endpoint_id AND d.event_id = picked.event_id AND ev.id = d.event_id AND e.id = d.endpoint_id
       RETURNING d.endpoint_id, d.event_id, d.attempts, ev.type, ev.subject, ev.data, ev.created_at, e.url, e.owner_gateway,
                 e.secret_ciphertext, e.secret_key_id, e.previous_secret_ciphertext, e.previous_secret_key_id, e.previous_secret_valid_until`,
      limit, caps.perEndpoint, JSON.stringify(inFlight.endpoints), JSON.stringify(inFlight.owners), caps.perOwner, leaseMs,
    );
    return rows
      .map((r) => ({
        endpointId: String(r.endpoint_id),
        owner: ownerKey(str(r.owner_gateway)),
        eventId: r.event_id as bigint,
        attempt: Number(r.attempts),
        type: String(r.type),
        subject: String(r.subject),
        data: eventData(r.data),
        createdAt: r.created_at as Date,
        url: String(r.url),
        secret: sealed(r.secret_ciphertext, r.secret_key_id) as Sealed,
        previousSecret: sealed(r.previous_secret_ciphertext, r.previous_secret_key_id),
        previousSecretValidUntil: date(r.previous_secret_valid_until),
      }))
      .sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  }

  /**
   * Records attempts and moves their deliveries on (an outcome of an attempt a later claim overtook
   * changes nothing but its own attempt row); a delivery
   * that ends (delivered or dead) hands its subject's line to the oldest waiting delivery, unless an
   * earlier delivery of that line is still pending (a redelivered one that jumped the line ended
   * first): that one hands it on when it ends.
   *
   * Two writes ending two deliveries of one line at once would each see the other's still pending
   * (READ COMMITTED: one snapshot per statement) and neither hand the line on; so the lines are
   * locked first (transaction-scoped advisory locks, in key order: no deadlock between writers) and
   * the statement that reads them runs after any other writer of the same line has committed.
   */
  async record(outcomes: readonly Outcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const lines: Statement = {
      text: `SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(l.e || ' ' || l.s, 0) AS k FROM unnest($1::text[], $2::text[]) AS l(e, s)) x ORDER BY k`,
      values: [outcomes.map((o) => o.endpointId), outcomes.map((o) => o.subject)],
    };
    const text = `WITH o AS (
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::float8[], $5::int[], $6::int[], $7::text[], $8::text[], $9::int[])
           AS o(endpoint_id, event_id, attempt, started_ms, duration_ms, status_code, error, result, delay_ms)
       ), upd AS (
         UPDATE webhook_deliveries d SET
           attempts = o.attempt,
           status = CASE o.result WHEN 'retry' THEN 'pending' ELSE o.result END,
           next_attempt_at = CASE WHEN o.result = 'retry' THEN now() + o.delay_ms * interval '1 millisecond' ELSE d.next_attempt_at END,
           claimed_until = NULL,
           last_attempt_at = to_timestamp(o.started_ms / 1000.0),
           last_status_code = o.status_code,
           last_error = o.error,
           delivered_at = CASE WHEN o.result = 'delivered' THEN now() ELSE d.delivered_at END
          FROM o
         WHERE d.endpoint_id = o.endpoint_id AND d.event_id = o.event_id AND d.status = 'pending' AND d.attempts = o.attempt
         RETURNING d.endpoint_id, d.event_id, d.subject, d.status
       ), ended AS (
         SELECT DISTINCT endpoint_id, subject FROM upd WHERE status IN ('delivered', 'dead')
       ), nxt AS (
         SELECT x.endpoint_id, x.subject, (SELECT min(n.event_id) FROM webhook_deliveries n
                                            WHERE n.endpoint_id = x.endpoint_id AND n.subject = x.subject AND n.status = 'waiting') AS event_id
           FROM ended x
       ), promoted AS (
         UPDATE webhook_deliveries w SET status = 'pending', next_attempt_at = now()
           FROM nxt
          WHERE w.endpoint_id = nxt.endpoint_id AND w.event_id = nxt.event_id AND w.status = 'waiting'
            -- Still pending before it (this statement's snapshot: less what this statement ended).
            AND NOT EXISTS (
              SELECT 1 FROM webhook_deliveries p
               WHERE p.endpoint_id = nxt.endpoint_id AND p.subject = nxt.subject AND p.status = 'pending' AND p.event_id < nxt.event_id
                 AND NOT EXISTS (SELECT 1 FROM upd u WHERE u.endpoint_id = p.endpoint_id AND u.event_id = p.event_id AND u.status IN ('delivered', 'dead')))
         RETURNING 1
       )
       INSERT INTO webhook_attempts (endpoint_id, event_id, attempt, started_at, duration_ms, status_code, error)
       SELECT o.endpoint_id, o.event_id, o.attempt, to_timestamp(o.started_ms / 1000.0), o.duration_ms, o.status_code, o.error FROM o
       ON CONFLICT DO NOTHING`;
    const values = [
      outcomes.map((o) => o.endpointId),
      outcomes.map((o) => o.eventId),
      outcomes.map((o) => o.attempt),
      outcomes.map((o) => o.startedAtMs),
      outcomes.map((o) => o.durationMs),
      outcomes.map((o) => o.statusCode),
      outcomes.map((o) => (o.error === null ? null : o.error.slice(0, 500))),
      outcomes.map((o) => o.result),
      outcomes.map((o) => Math.round(o.delayMs)),
    ];
    await this.sql.transaction((tx) => tx.commitWith({ text, values }), lines);
  }

  /**
   * Retention: deletes up to `limit` events older than `days` that have no open delivery, with
   * their deliveries and attempts. Returns how many events went. Ids follow creation, so the scan
   * stops at the first event inside the retention period (`young`): without that bound, once
   * nothing was old enough, the id-ordered scan read every event to find none (345 ms at 1.5 M
   * events, every ten minutes). An old event with a later id than a young one waits for a later run.
   */
  async prune(days: number, limit: number): Promise<number> {
    const [row] = await this.sql.q(
      `WITH young AS (
         SELECT id FROM webhook_events WHERE created_at >= now() - $1::int * interval '1 day' ORDER BY id LIMIT 1
       ), old AS (
         SELECT e.id FROM webhook_events e
          WHERE e.id < COALESCE((SELECT id FROM young), 9223372036854775807)
            AND e.dispatched_at IS NOT NULL AND e.created_at < now() - $1::int * interval '1 day'
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'waiting'))
          ORDER BY e.id LIMIT $2
       ), gone AS (
         DELETE FROM webhook_deliveries d USING old WHERE d.event_id = old.id RETURNING d.endpoint_id, d.event_id
       ), attempts AS (
         DELETE FROM webhook_attempts a USING gone WHERE a.endpoint_id = gone.endpoint_id AND a.event_id = gone.event_id RETURNING 1
       ), events AS (
         DELETE FROM webhook_events e USING old WHERE e.id = old.id RETURNING 1
       )
       SELECT (SELECT count(*) FROM events)::int AS n, (SELECT count(*) FROM attempts)::int AS attempts`,
      days, limit,
    );
    return Number((row as Row).n);
  }

  /** The deliveries given up (`dead`) of events raised in `period`, every endpoint: how many, the first `limit`, oldest first. */
  async deadIn(period: OpenPeriod, limit: number): Promise<OpenItems> {
    const where = `FROM webhook_deliveries WHERE status = 'dead' AND created_at < $1 AND ($2::timestamptz IS NULL OR created_at >= $2::timestamptz)`;
    const [n] = await this.sql.q<Array<{ n: number }>>(`SELECT count(*)::int AS n ${where}`, period.to, period.from);
    const first = await this.sql.q<Array<{ endpoint_id: string; event_id: bigint }>>(`SELECT endpoint_id, event_id ${where} ORDER BY created_at, event_id, endpoint_id LIMIT $3`, period.to, period.from, limit);
    return {
      count: n?.n ?? 0,
      amounts: [],
      refs: first.map((r) => ({ id: `${r.endpoint_id}/${eventIdText(r.event_id)}`, href: `/v1/webhooks/endpoints/${r.endpoint_id}/deliveries/${eventIdText(r.event_id)}/redeliver` })),
    };
  }

  /** An endpoint's deliveries newest first (by event id), of events before `before`, at most `limit`. */
  async deliveries(endpointId: string, opts: { status?: DeliveryStatus; before?: bigint; limit: number }): Promise<WebhookDelivery[]> {
    const rows = await this.sql.q(
      `SELECT d.*, ev.type FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
        WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2) AND ($3::bigint IS NULL OR d.event_id < $3)
        ORDER BY d.event_id DESC LIMIT $4`,
      endpointId, opts.status ?? null, opts.before ?? null, opts.limit,
    );
    return rows.map(deliveryOf);
  }

  async delivery(endpointId: string, eventId: bigint): Promise<{ delivery: WebhookDelivery; data: Record<string, unknown>; eventCreatedAt: Date; attempts: WebhookAttempt[] } | null> {
    const [row] = await this.sql.q(
      `SELECT d.*, ev.type, ev.data, ev.created_at AS event_created_at FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
        WHERE d.endpoint_id = $1 AND d.event_id = $2`,
      endpointId, eventId,
    );
    if (row === undefined) return null;
    const attempts = await this.sql.q(`SELECT * FROM webhook_attempts WHERE endpoint_id = $1 AND event_id = $2 ORDER BY attempt`, endpointId, eventId);
    return {
      delivery: deliveryOf(row),
      data: eventData(row.data),
      eventCreatedAt: row.event_created_at as Date,
      attempts: attempts.map((a) => ({
        attempt: Number(a.attempt),
        startedAt: a.started_at as Date,
        durationMs: Number(a.duration_ms),
        statusCode: a.status_code === null ? null : Number(a.status_code),
        error: str(a.error),
      })),
    };
  }

  /**
   * One more attempt now, whatever the delivery's state (a waiting one jumps its line: a manual
   * redelivery is out of order by nature), unless an attempt is in flight: then nothing changes
   * (the running attempt's outcome is recorded first; sending beside it would send one attempt
   * number twice). `claimedUntil` says until when the running attempt holds it at most.
   */
  async redeliver(endpointId: string, eventId: bigint): Promise<{ status: "queued" | "missing" } | { status: "in_flight"; claimedUntil: Date | null }> {
    const [row] = await this.sql.q(
      `WITH d AS (
         SELECT claimed_until FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2
       ), upd AS (
         UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()
          WHERE endpoint_id = $1 AND event_id = $2 AND (claimed_until IS NULL OR claimed_until <= now()) RETURNING 1
       )
       SELECT (SELECT count(*) FROM d)::int AS found, (SELECT count(*) FROM upd)::int AS queued, (SELECT claimed_until FROM d) AS claimed_until`,
      endpointId, eventId,
    );
    const r = row as Row;
    if (Number(r.queued) > 0) return { status: "queued" };
    if (Number(r.found) === 0) return { status: "missing" };
    // Claimed now, or between this statement's snapshot and its update (then d shows no claim).
    return { status: "in_flight", claimedUntil: date(r.claimed_until) };
  }
}
