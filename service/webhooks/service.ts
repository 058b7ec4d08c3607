/**
 * Webhook endpoints (subscriptions) and their deliveries, as the API sees them. Operators (admin)
 * manage every endpoint; a gateway key manages its gateway's endpoints (the owner is the gateway,
 * not the key), which receive only that gateway's settlement events. A signing secret is returned once, at creation and at each
 * rotation; it is stored sealed under SECRETS_KEY.
 */
import { randomBytes } from "node:crypto";
import type { SqlRunner } from "../db/sql.js";
import type { SecretBox } from "../http/auth/secret-box.js";
import { SettlementErrors } from "../settlement/errors.js";
import { checkEndpointUrl } from "./address.js";
import { secretAad, WebhookDispatcher, type DispatcherOptions } from "./dispatcher.js";
import { WebhookErrors } from "./errors.js";
import { createPoster, type Poster } from "./post.js";
import { newWebhookSecret } from "./signature.js";
import { WebhookStore, type EndpointRow, type NewEvent } from "./store.js";
import {
  GATEWAY_EVENT_TYPES,
  WEBHOOK_EVENT_TYPES,
  type DeliveryStatus,
  type EndpointFilter,
  type EndpointOwner,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEventBody,
} from "./types.js";
import { eventIdText } from "./types.js";

export interface WebhookConfig {
  allowPrivate: boolean;
  timeoutMs: number;
  maxInFlight: number;
  maxPerEndpoint: number;
  /** In flight at most for one owner's endpoints together (default a quarter of `maxInFlight`). */
  maxPerOwner?: number;
  retryDelaysMs?: readonly number[];
  /** Days an event is kept once none of its deliveries is open (default 30). */
  retentionDays?: number;
}

/**
 * Active endpoints per owner (a gateway, or the operators). Kept at 20, not lowered, when an owner's
 * in-flight deliveries got a cap of their own (WEBHOOK_MAX_IN_FLIGHT_PER_OWNER): an owner's
 * endpoints share its slots, so their number no longer changes what other owners get.
 */
export const MAX_ACTIVE_ENDPOINTS_PER_OWNER = 20;
const DEFAULT_OVERLAP_MS = 86_400_000;
export const MAX_SECRET_OVERLAP_MS = 30 * 86_400_000;

/**
 * The sellers and markets a filter may name (the settlement module's): an endpoint filtered on one
 * that does not exist would be saved and then silently receive nothing. Gateways have no such list
 * (any name an event or a key carries is one), so `filter.gateway` is checked only against a
 * gateway key's own.
 */
export interface FilterCatalogue {
  listSellers(): Promise<ReadonlyArray<{ id: string; gateways?: readonly string[] }>>;
  listMarkets(): Promise<ReadonlyArray<{ code: string }>>;
}

export interface CreateEndpointInput {
  url: string;
  eventTypes: string[];
  filter?: Partial<EndpointFilter>;
  description?: string;
}

function publicView(e: EndpointRow): WebhookEndpoint {
  const { secret: _s, previousSecret: _p, ...view } = e;
  return view;
}

/** How far before our clock a `previousValidUntil` may be and still mean "now" (the signature window). */
const PAST_TOLERANCE_MS = 5 * 60_000;

export class WebhookService {
  readonly store: WebhookStore;
  readonly dispatcher: WebhookDispatcher;
  readonly #box: SecretBox;
  readonly #config: WebhookConfig;
  readonly #poster: Poster;
  readonly #catalogue: FilterCatalogue;

  constructor(opts: { sql: SqlRunner; box: SecretBox; config: WebhookConfig; catalogue: FilterCatalogue; dispatcher?: Partial<DispatcherOptions> }) {
    this.store = new WebhookStore(opts.sql);
    this.#box = opts.box;
    this.#catalogue = opts.catalogue;
    this.#config = opts.config;
    this.#poster = createPoster({ timeoutMs: opts.config.timeoutMs, allowPrivate: opts.config.allowPrivate, maxSockets: opts.config.maxPerEndpoint });
    this.dispatcher = new WebhookDispatcher({
      store: this.store,
      box: opts.box,
      poster: this.#poster,
      maxInFlight: opts.config.maxInFlight,
      maxPerEndpoint: opts.config.maxPerEndpoint,
      ...(opts.config.maxPerOwner === undefined ? {} : { maxPerOwner: opts.config.maxPerOwner }),
      leaseMs: opts.config.timeoutMs + 5_000,
      ...(opts.config.retryDelaysMs === undefined ? {} : { retryDelaysMs: opts.config.retryDelaysMs }),
      ...(opts.config.retentionDays === undefined ? {} : { retentionDays: opts.config.retentionDays }),
      ...opts.dispatcher,
    });
  }

  async createEndpoint(owner: EndpointOwner, input: CreateEndpointInput): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const url = checkEndpointUrl(input.url, this.#config.allowPrivate);
    const eventTypes = [...new Set(input.eventTypes)].sort();
    const known: readonly string[] = WEBHOOK_EVENT_TYPES;
    eventTypes.forEach((t, i) => {
      if (t !== "*" && !known.includes(t)) throw validation(`eventTypes/${i}`, `unknown event type ${JSON.stringify(t)}; one of ${WEBHOOK_EVENT_TYPES.join(", ")} or *`);
    });
    const filter: EndpointFilter = { gateway: input.filter?.gateway ?? null, sellerId: input.filter?.sellerId ?? null, market: input.filter?.market ?? null };
    if (owner.gateway !== null) {
      const allowed: readonly string[] = GATEWAY_EVENT_TYPES;
      const bad = eventTypes.find((t) => !allowed.includes(t));
      if (bad !== undefined) {
        throw WebhookErrors.eventTypeForbidden(`a gateway key subscribes to its own settlement events only (${GATEWAY_EVENT_TYPES.join(", ")}), not ${bad}`, {
          fields: [{ field: "eventTypes", message: `must be among ${GATEWAY_EVENT_TYPES.join(", ")}` }],
        });
      }
      if (filter.gateway !== null && filter.gateway !== owner.gateway) {
        throw WebhookErrors.eventTypeForbidden(`API key ${owner.keyId} subscribes to gateway ${owner.gateway}'s events only`, { fields: [{ field: "filter.gateway", message: `must be ${owner.gateway} or absent` }] });
      }
      filter.gateway = owner.gateway;
    }
    await this.#checkFilter(filter, owner.gateway);
    const id = `we_${randomBytes(12).toString("hex")}`;
    const secret = newWebhookSecret();
    const row = await this.store.insertEndpoint({
      id,
      url,
      description: input.description ?? null,
      eventTypes,
      filter,
      ownerGateway: owner.gateway,
      secret: this.#box.seal(secret, secretAad(id)),
      createdBy: owner.keyId,
    }, MAX_ACTIVE_ENDPOINTS_PER_OWNER);
    if (row === null) throw endpointLimit();
    return { endpoint: publicView(row), secret };
  }

  async listEndpoints(owner: EndpointOwner): Promise<WebhookEndpoint[]> {
    return (await this.store.endpoints(owner.gateway === null ? undefined : owner.gateway)).map(publicView);
  }

  async getEndpoint(owner: EndpointOwner, id: string): Promise<WebhookEndpoint> {
    return publicView(await this.#own(owner, id));
  }

  async setStatus(owner: EndpointOwner, id: string, status: "active" | "disabled"): Promise<WebhookEndpoint> {
    const e = await this.#own(owner, id);
    if (status === "disabled") return publicView((await this.store.disable(id)) ?? e);
    // The endpoint's owner, not the caller's: an operator enabling a gateway's endpoint counts it against that gateway.
    const row = await this.store.enable(id, e.ownerGateway, MAX_ACTIVE_ENDPOINTS_PER_OWNER);
    if (row === null) throw endpointLimit();
    return publicView(row);
  }

  /**
   * A new secret (returned once); the current one keeps signing beside it until `previousValidUntil`.
   * Refused while the secret a previous rotation replaced still signs, as for the API keys: a third
   * live secret would leave the receiver unsure which one it holds, and dropping the oldest would
   * break the validity that rotation promised.
   */
  async rotateSecret(owner: EndpointOwner, id: string, previousValidUntil?: Date, now = new Date()): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const e = await this.#own(owner, id);
    const asked = previousValidUntil ?? new Date(now.getTime() + DEFAULT_OVERLAP_MS);
    // "Now" as the caller wrote it has passed by the time it arrives: an instant up to the signature
    // window (5 minutes) before ours is taken as now, a rotation without overlap.
    if (asked.getTime() < now.getTime() - PAST_TOLERANCE_MS || asked.getTime() > now.getTime() + MAX_SECRET_OVERLAP_MS) {
      throw validation("previousValidUntil", `must be between now (up to ${PAST_TOLERANCE_MS / 60_000} minutes earlier: no overlap) and ${MAX_SECRET_OVERLAP_MS / 86_400_000} days from now`);
    }
    const until = asked.getTime() < now.getTime() ? now : asked;
    if (e.previousSecretValidUntil !== null && e.previousSecretValidUntil.getTime() > now.getTime()) throw rotationInProgress(e);
    const secret = newWebhookSecret();
    const current = this.#box.seal(this.#box.open(e.secret, secretAad(id)), secretAad(id));
    const row = await this.store.rotateSecret(id, this.#box.seal(secret, secretAad(id)), current, until, e.secret);
    if (row === null) {
      // Another rotation (or the database's clock) got there first.
      const latest = await this.store.endpoint(id);
      if (latest !== null && latest.previousSecretValidUntil !== null && latest.previousSecretValidUntil.getTime() > Date.now()) throw rotationInProgress(latest);
      throw WebhookErrors.rotationInProgress(`endpoint ${id}'s secret changed while rotating; read the endpoint and try again`);
    }
    return { endpoint: publicView(row), secret };
  }

  /** Queues a `webhook.test` event for this endpoint alone; answers its event id. Refused for a disabled endpoint. */
  async sendTest(owner: EndpointOwner, id: string): Promise<string> {
    const e = await this.#own(owner, id);
    const disabled = () => WebhookErrors.endpointDisabled(`webhook endpoint ${id} is disabled and receives nothing; enable it first (POST /v1/webhooks/endpoints/${id}/enable)`);
    if (e.status !== "active") throw disabled();
    // Written only while the endpoint is active (checked by the insert itself: a disable racing this call wins).
    const eventId = await this.store.emit({ type: "webhook.test", subject: `webhook_endpoint:${id}`, endpointId: id, data: { endpointId: id, message: "a test event from Entrepot" } });
    if (eventId === null) throw disabled();
    return eventIdText(eventId);
  }

  /**
   * One page of an endpoint's deliveries, newest first, and the cursor of the next (the last event
   * id of this page), null when nothing is behind it: one row more than the page is read, so a full
   * last page is never followed by an empty one.
   */
  async listDeliveries(owner: EndpointOwner, id: string, opts: { status?: DeliveryStatus; before?: bigint; limit?: number }): Promise<{ items: WebhookDelivery[]; nextCursor: bigint | null }> {
    await this.#own(owner, id);
    const limit = opts.limit ?? 100;
    const rows = await this.store.deliveries(id, { ...opts, limit: limit + 1 });
    const items = rows.slice(0, limit);
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.eventId : null };
  }

  async getDelivery(owner: EndpointOwner, id: string, eventId: bigint): Promise<{ delivery: WebhookDelivery; event: WebhookEventBody; attempts: WebhookAttempt[] }> {
    await this.#own(owner, id);
    const d = await this.store.delivery(id, eventId);
    if (d === null) throw WebhookErrors.deliveryNotFound(`no delivery of ${eventIdText(eventId)} to endpoint ${id}`);
    return {
      delivery: d.delivery,
      event: { id: eventIdText(eventId), type: d.delivery.type, createdAt: d.eventCreatedAt.toISOString(), subject: d.delivery.subject, data: d.data },
      attempts: d.attempts,
    };
  }

  /**
   * One more attempt now (a dead delivery included: if that attempt fails, it is dead again).
   * Refused while an attempt of it is in flight: its outcome comes first.
   */
  async redeliver(owner: EndpointOwner, id: string, eventId: bigint): Promise<WebhookDelivery> {
    await this.#own(owner, id);
    const r = await this.store.redeliver(id, eventId);
    if (r.status === "missing") throw WebhookErrors.deliveryNotFound(`no delivery of ${eventIdText(eventId)} to endpoint ${id}`);
    if (r.status === "in_flight") {
      const until = r.claimedUntil === null ? "" : ` (at most until ${r.claimedUntil.toISOString()})`;
      throw WebhookErrors.deliveryInFlight(`an attempt to deliver ${eventIdText(eventId)} to endpoint ${id} is in flight${until}; redeliver once its outcome is recorded`, {
        ...(r.claimedUntil === null ? {} : { details: { claimedUntil: r.claimedUntil.toISOString() } }),
      });
    }
    return (await this.store.delivery(id, eventId))?.delivery as WebhookDelivery;
  }

  /** An event announced from code (the state changes' events are written by database triggers). */
  emit(event: NewEvent): Promise<bigint | null> {
    return this.store.emit(event);
  }

  /** Re-seals secrets stored under a previous SECRETS_KEY (at boot, like the API keys' signing secrets). */
  async sealStoredSecrets(): Promise<{ sealed: number }> {
    let sealed = 0;
    for (const e of await this.store.sealedElsewhere(this.#box.keyId)) {
      const aad = secretAad(e.id);
      const current = this.#box.seal(this.#box.open(e.secret, aad), aad);
      const previous = e.previousSecret === null ? null : this.#box.seal(this.#box.open(e.previousSecret, aad), aad);
      if (await this.store.reseal(e.id, current, previous, e.secret)) sealed++;
    }
    return { sealed };
  }

  close(): void {
    this.#poster.close();
  }

  /**
   * A filter naming a seller or market that does not exist is refused with the settlement module's
   * codes, naming the field. To a gateway key (`gateway`) a seller that does not accept its gateway
   * is refused exactly as one that does not exist, as its captures for it are: the filter would
   * receive nothing, and another answer would tell the gateway which seller ids exist.
   */
  async #checkFilter(filter: EndpointFilter, gateway: string | null): Promise<void> {
    const { sellerId, market } = filter;
    const seller = sellerId === null ? undefined : (await this.#catalogue.listSellers()).find((s) => s.id === sellerId);
    if (sellerId !== null && (seller === undefined || (gateway !== null && !(seller.gateways ?? []).includes(gateway)))) {
      throw SettlementErrors.unknownSeller(`unknown seller ${sellerId}: an endpoint filtered on it would receive nothing`, {
        fields: [{ field: "filter.sellerId", message: "no such seller" }],
      });
    }
    if (market !== null) {
      const markets = (await this.#catalogue.listMarkets()).map((m) => m.code);
      if (!markets.includes(market)) {
        throw SettlementErrors.unknownMarket(`unknown market ${market}: an endpoint filtered on it would receive nothing`, {
          fields: [{ field: "filter.market", message: markets.length === 0 ? "no market is configured" : `must be one of ${markets.sort().join(", ")}` }],
        });
      }
    }
  }

  /** The endpoint if this owner manages it; otherwise 404, exactly as a missing one. */
  async #own(owner: EndpointOwner, id: string): Promise<EndpointRow> {
    const e = await this.store.endpoint(id);
    if (e === null || (owner.gateway !== null && e.ownerGateway !== owner.gateway)) throw WebhookErrors.endpointNotFound(`no webhook endpoint ${id}`);
    return e;
  }
}

function rotationInProgress(e: EndpointRow) {
  const until = (e.previousSecretValidUntil as Date).toISOString();
  return WebhookErrors.rotationInProgress(`endpoint ${e.id}'s previous secret signs until ${until}; rotate again after that`, {
    details: { previousSecretValidUntil: until },
  });
}

function endpointLimit() {
  return WebhookErrors.endpointLimit(`at most ${MAX_ACTIVE_ENDPOINTS_PER_OWNER} active endpoints per owner; disable one first`, {
    details: { limit: MAX_ACTIVE_ENDPOINTS_PER_OWNER },
  });
}

function validation(field: string, message: string) {
  return WebhookErrors.invalid(`${field}: ${message}`, { fields: [{ field, message }] });
}
