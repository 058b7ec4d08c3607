/**
 * SettlementService: gateway events in, one balanced journal transaction each out, through the
 * ledger (the one write path for money).
 *
 * Write protocol per event: the record is written by the ledger in the commit of its journal
 * transaction (TransactionInput.attachment -> the SQL function ledger_attach), so a record exists
 * exactly when its transaction does; a crash anywhere leaves the event booked (a redelivery is
 * answered from its record) or not at all (a redelivery books it).
 *  - New captures (sequence 0) need no history: planned in memory and booked in chunks.
 *  - Follow-ups, under an in-process lock per capture held until booked: read the capture's chain,
 *    plan at the next sequence, book. The unique constraint on (capture_key, sequence) makes a
 *    concurrent writer in another process fail (ENT_LEDGER_RECORD_CONFLICT, this item alone)
 *    instead of both taking back from the same capture; it plans again on the fresh chain.
 */
import { KeyedLock, forEachLimit } from "../concurrency.js";
import { GroupCommit } from "../group-commit.js";
import { transientAsAppError } from "../db/errors.js";
import { AppError, Errors, isAppError } from "../errors.js";
import { FxErrors } from "../fx/errors.js";
import { LedgerErrors } from "../ledger/index.js";
import type { AccountSpec, JournalTransaction, Ledger, TransactionInput } from "../ledger/types.js";
import { accountSpec, SETTLEMENT_CURRENCY } from "./accounts.js";
import { SettlementErrors } from "./errors.js";
import { captureStateOf, eventKey, planCapture, planFollowUp, type PlanRates } from "./plan.js";
import { requestHash } from "./codec.js";
import { autoReleaseAt, checkFulfilment, orderKey, type Fulfilment, type FulfilmentInput, type OverdueDelivery } from "./fulfilment.js";
import { publishProgramItem, sellerGatewaysOf, validateSeller } from "./program.js";
import { chargeSeller, type SellerCharge, type SellerChargeInput } from "./charges.js";
import { isTaxedEvent, sellerStatement, taxReturn, type SellerStatement, type TaxReturn } from "./statement.js";
import { attachmentOf, type NewSettlementRecord, type ProgramItem, type SettlementListFilter, type SettlementRepository, type SettlementVolume } from "./repository.js";
import { isPositiveInt8 } from "../db/int8.js";
import { firstScheduleFrom, selectOrderTaxes, selectSchedule, supplyOf, validateSchedule, validateTaxRule, valuationInstant, type TaxedGoods } from "./schedules.js";
import type {
  FeeBearer,
  FeeSchedule,
  Market,
  PostingPlan,
  ProgramKind,
  ReconciliationRecord,
  RateEvidence,
  Seller,
  SellerGateways,
  SettlementEvent,
  SettlementEventType,
  SettlementItemResult,
  SettlementRecord,
  SettlementResult,
  TaxBasis,
  TaxRule,
} from "./types.js";
import { DEFAULT_EVENT_LIMITS, followUpOf, maxAmountFor, validateEvent, type EventLimits, type EventOrigin } from "./validate.js";

/** What settlement needs from the fx module (FxService satisfies it structurally). */
export interface SettlementFx {
  /** The rate an unquoted conversion uses at `at`: mid less the configured markup (FxService.conversionRate). */
  conversionRate(from: string, to: string, at: Date): Promise<{ mid: { rate: string; source: string; asOf: string }; markupBps: number; rate: string }>;
  /** A quote usable for `use` (pair, expiry, the gateway's own or an operator's), else an fx error. */
  usableQuote(
    id: string,
    use: { from: string; to: string; at: Date; gateway: string },
  ): Promise<{
    id: string;
    base: string;
    quote: string;
    allInRate: string;
    ratesAt: Date;
    legs: ReadonlyArray<{ source: string; asOf: string }>;
  }>;
}

export interface SettlementServiceOptions {
  ledger: Ledger;
  fx: SettlementFx;
  repository: SettlementRepository;
  /** Attempts when another writer claimed the same capture sequence. Default 5. */
  maxSequenceRetries?: number;
  /** Follow-ups of a batch booked concurrently (distinct orders only; one order's in order). Default 8. */
  prepareConcurrency?: number;
  /** New captures planned and handed to the ledger at a time; the next chunk is planned while the ledger books this one. Default 250. */
  chunkSize?: number;
  /** Most concurrent postEvent calls processed as one group. Default 1,000. */
  maxGroupSize?: number;
  /**
   * Groups of concurrent postEvent calls processed at the same time (pipelining). Default 4: while
   * the ledger writes one group, the next ones look up and plan their events, and join its next
   * flush. With 32 HTTP clients on PostgreSQL, runs alternating 2 and 4: 982 / 1,041, 993 / 1,269,
   * 878 / 976 events/s, p99 90-98 ms / 76-82 ms; 8 was slower than 4 (790-826 events/s).
   */
  maxGroupsInFlight?: number;
  /** Bounds on amounts and dates of an event (validate.ts). Default DEFAULT_EVENT_LIMITS. */
  limits?: EventLimits;
}

type Outcome = { ok: SettlementResult } | { error: unknown };
type Fresh = { index: number; event: SettlementEvent; key: string; hash: string };
/** A capture planned, its record ready to book. */
type Planned = { index: number; event: SettlementEvent; record: NewSettlementRecord };
/** An event of a round already recorded. */
type Replay = { index: number; existing: SettlementRecord; event: SettlementEvent; hash: string };
/** A record another writer was first to (its event key, or its capture's next sequence). */
const CONFLICT = Symbol("conflict");

/** An event id already received with another body. */
function conflictOf(existing: SettlementRecord, event: SettlementEvent): AppError {
  return SettlementErrors.idempotencyConflict(`event ${event.gateway}/${event.gatewayEventId} was already received with a different body`, {
    fields: [{ field: "gatewayEventId", message: "already used for a different event" }],
    details: { settlementRecordId: existing.id },
  });
}

/** A record whose journal transaction cannot be read (never expected: both are written in one commit). */
function missingTransaction(existing: SettlementRecord): Error {
  return new Error(`settlement ${existing.eventKey} is recorded but its journal transaction is missing`);
}

const USD = SETTLEMENT_CURRENCY;
/** How old program data read by an instance may be. */
const CONFIG_TTL_MS = 1_000;
/** How old it is when it is re-read in the background (before the events need to wait for it). */
const CONFIG_REFRESH_MS = 750;
/** The journal request as the ledger gets it: with the specs of the accounts it may have to open. */
function withAccounts(input: TransactionInput): TransactionInput {
  const seen = new Map<string, AccountSpec>();
  for (const p of input.postings) seen.set(`${p.account}\u0000${p.currency}`, accountSpec(p.account, p.currency));
  return { ...input, accounts: [...seen.values()], ...(input.linked === undefined ? {} : { linked: input.linked.map(withAccounts) }) };
}

/** The record to store for a planned event, and the journal request it carries (the one place both are built). */
function recordOf(
  event: SettlementEvent,
  at: { eventKey: string; captureKey: string; sequence: number; requestHash: string },
  plan: PostingPlan,
): NewSettlementRecord {
  return {
    ...at,
    event,
    program: plan.breakdown.program,
    breakdown: plan.breakdown,
    refundedDelta: plan.refundedDelta,
    journalRequest: {
      idempotencyKey: plan.idempotencyKey,
      postings: plan.postings,
      metadata: plan.metadata,
      description: plan.description,
      effectiveAt: plan.effectiveAt,
      ...(plan.linked === undefined ? {} : { linked: plan.linked }),
    },
  };
}

/** A release's answer (releaseDue); a refused one says which attempt it was (1: its first refusal). */
export type ReleaseResult = SettlementItemResult & { attempt?: number };

/** A failure as an item's answer: an AppError (or a transient database fault) by its code and fields, anything else as ENT_INTERNAL. */
export function errorItem(raw: unknown): SettlementItemResult {
  const e = transientAsAppError(raw);
  if (isAppError(e))
    return { status: "error", error: { code: e.code, message: e.message, ...(e.fields ? { fields: e.fields } : {}) } };
  return { status: "error", error: { code: Errors.internal.code, message: e instanceof Error ? e.message : String(e) } };
}

/**
 * A capture's unknown seller. A gateway key is answered this, word for word, for a seller that does
 * not accept its gateway too (routes/settlements.ts, `asSeenByGateway`): both are the same read of
 * the seller, so neither the answer nor its timing tells a key which seller ids exist.
 */
export function unknownSellerOfCapture(sellerId: string): AppError {
  return SettlementErrors.unknownSeller(`unknown seller ${sellerId}`, { fields: [{ field: "sellerId", message: "no such seller" }] });
}

/** `errorItem` with every field named under the item's `prefix` ("events.3."), as the batch promises. */
export function itemError(raw: unknown, prefix: string): SettlementItemResult {
  const r = errorItem(raw);
  if (r.status !== "error" || r.error.fields === undefined) return r;
  const fields = r.error.fields.map((f) => (f.field.startsWith(prefix) ? f : { ...f, field: `${prefix}${f.field}` }));
  return { status: "error", error: { ...r.error, fields } };
}

export class SettlementService {
  private readonly ledger: Ledger;
  private readonly fx: SettlementFx;
  private readonly repo: SettlementRepository;
  private readonly maxRetries: number;
  private readonly prepareConcurrency: number;
  private readonly lock = new KeyedLock();
  /** Concurrent postEvent calls, grouped: each group goes through `process` like a postEvents batch. */
  private readonly batcher: GroupCommit<SettlementEvent, Outcome>;
  private readonly chunkSize: number;
  private readonly limits: EventLimits;
  private config: { markets: Map<string, Market>; schedules: FeeSchedule[]; taxRules: TaxRule[]; loadedAt: number } | null = null;
  private loading: Promise<void> | null = null;
  /** Bumped by each publish through this instance: a read that started before it is read again. */
  private configGeneration = 0;

  constructor(options: SettlementServiceOptions) {
    this.ledger = options.ledger;
    this.fx = options.fx;
    this.repo = options.repository;
    this.maxRetries = options.maxSequenceRetries ?? 5;
    this.prepareConcurrency = Math.max(1, options.prepareConcurrency ?? 8);
    this.chunkSize = Math.max(1, options.chunkSize ?? 250);
    this.batcher = new GroupCommit((events) => this.process(events), Math.max(1, options.maxGroupSize ?? 1_000), Math.max(1, options.maxGroupsInFlight ?? 4));
    this.limits = options.limits ?? DEFAULT_EVENT_LIMITS;
  }

  /** Re-read markets, fee schedules and tax rules (call after changing them). */
  async reloadConfig(): Promise<void> {
    for (;;) {
      const generation = this.configGeneration;
      // Its age counts from the start of the read: a version published while it runs may be missing.
      const startedAt = this.limits.now().getTime();
      const markets = await this.repo.listMarkets();
      const schedules = (await this.repo.listSchedules()).map(validateSchedule);
      const taxRules = (await this.repo.listTaxRules()).map((r) => validateTaxRule(r, markets));
      // Published here meanwhile: this read may have missed it, so read again (a publish is in force at once here).
      if (generation !== this.configGeneration) continue;
      this.config = { markets: new Map(markets.map((m) => [m.code, m])), schedules, taxRules, loadedAt: startedAt };
      return;
    }
  }

  /**
   * Program data, never older than a second: a version another instance published is in force
   * here within a second. Past CONFIG_REFRESH_MS it is re-read in the background while callers go
   * on with what they have, so under steady traffic no event waits for the read; only data past
   * CONFIG_TTL_MS (idle, or a read that failed or is slow) is waited for, and its read's fault thrown.
   */
  private async cfg() {
    const age = this.config === null ? Infinity : this.limits.now().getTime() - this.config.loadedAt;
    if (age > CONFIG_TTL_MS || age < 0) await this.reload();
    else if (age > CONFIG_REFRESH_MS && this.loading === null) this.reload().catch(() => undefined);
    return this.config as NonNullable<typeof this.config>;
  }

  /** After a publish here: the next event reads program data afresh, and a read already under way is read again. */
  private forgetConfig(): void {
    this.configGeneration++;
    this.config = null;
  }

  /** One read of program data at a time; callers meanwhile share it. */
  private reload(): Promise<void> {
    this.loading ??= this.reloadConfig().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  /**
   * Publishes one item of program data (program.ts): a seller, or a new version of a fee schedule
   * or a tax rule; immutable, never in the past. What this instance read is re-read at once.
   */
  async publishProgramItem(item: ProgramItem, createdBy: string | null): Promise<{ status: "created" | "exists"; item: ProgramItem }> {
    const r = await publishProgramItem(this.repo, item, createdBy, this.limits.now());
    if (r.status === "created") this.forgetConfig();
    return r;
  }


  /**
   * By record id or event key. With `gateway`, only that gateway's records exist: another
   * gateway's answers exactly as a missing one (same error, same message), so a gateway's key
   * learns nothing about other gateways' records, not even that they exist.
   */
  async getSettlement(id: string, scope: { gateway?: string | null } = {}): Promise<SettlementRecord> {
    const found = (await this.repo.findById(id)) ?? (await this.repo.findByEventKey(id));
    if (found === null || (scope.gateway !== undefined && scope.gateway !== null && found.event.gateway !== scope.gateway))
      throw SettlementErrors.notFound(`no settlement ${JSON.stringify(id.slice(0, 120))}`, {
        fields: [{ field: "id", message: "unknown settlement id or event key" }],
      });
    return found;
  }

  /** Posted settlement volumes per UTC day, market, currency and event type, occurredAt in [from, to) (at most 366 days). */
  async volumes(from: Date, to: Date): Promise<SettlementVolume[]> {
    if (from.getTime() >= to.getTime()) throw SettlementErrors.invalidFilter("from must be before to", { fields: [{ field: "to", message: "must be after from" }] });
    if (to.getTime() - from.getTime() > MAX_VOLUME_RANGE_MS) throw SettlementErrors.invalidFilter("from and to are at most 366 days apart", { fields: [{ field: "to", message: "at most 366 days after from" }] });
    return this.repo.volumes(from, to);
  }

  /**
   * When the latest posted record occurred (null: none): the end of the volumes a dashboard shows by
   * default. Not the newest record's: a late event is booked after records that occurred after it.
   */
  async latestOccurredAt(): Promise<Date | null> {
    return this.repo.latestOccurredAt();
  }

  /**
   * The settlement explorer: records newest first (by id), filtered, in cursor pages. With
   * `gateway` in the scope (a gateway key), that gateway's only: asking for another one finds nothing.
   */
  async list(filter: SettlementListFilter, page: { limit: number; cursor?: string }, scope: { gateway?: string | null } = {}): Promise<{ items: SettlementRecord[]; nextCursor: string | null }> {
    const own = scope.gateway ?? null;
    if (own !== null && filter.gateway !== undefined && filter.gateway !== own) return { items: [], nextCursor: null };
    if (filter.from !== undefined && filter.to !== undefined && filter.from.getTime() >= filter.to.getTime()) {
      throw SettlementErrors.invalidFilter("from must be before to", { fields: [{ field: "to", message: "must be after from" }] });
    }
    const beforeId = page.cursor === undefined ? null : decodeListCursor(page.cursor);
    const rows = await this.repo.list(own === null ? filter : { ...filter, gateway: own }, beforeId, page.limit + 1);
    const items = rows.slice(0, page.limit);
    return { items, nextCursor: rows.length > page.limit ? encodeListCursor(BigInt(items[items.length - 1]!.id)) : null };
  }

  /** Every record of one marketplace order, oldest first (with `gateway`: that gateway's only). */
  async listForOrder(settlementId: string, scope: { gateway?: string | null } = {}): Promise<SettlementRecord[]> {
    const all = await this.repo.listBySettlementId(settlementId);
    const gateway = scope.gateway ?? null;
    return gateway === null ? all : all.filter((r) => r.event.gateway === gateway);
  }

  /**
   * Records delivery evidence for an order of `input.gateway` (fulfilment.ts): 404 when the gateway
   * has no capture of it (another gateway's order answers the same), 400 for evidence that cannot be
   * true; the latest entry saying the same again is answered (`exists`), anything else appended.
   * Books nothing.
   */
  async recordFulfilment(input: FulfilmentInput, recordedBy: string): Promise<{ status: "created" | "exists"; fulfilment: Fulfilment }> {
    const captures = await this.orderCaptures(input.settlementId, input.gateway);
    const capturedAt = new Date(Math.min(...captures.map((c) => c.event.occurredAt.getTime())));
    checkFulfilment(input, capturedAt, this.limits.now());
    return this.repo.appendFulfilment(input, recordedBy);
  }

  /** An order's delivery evidence, oldest first per gateway; with `gateway` in the scope that gateway's only, and 404 as for a missing order when it has no capture of it. */
  async fulfilments(settlementId: string, scope: { gateway?: string | null } = {}): Promise<Fulfilment[]> {
    const gateway = scope.gateway ?? null;
    await this.orderCaptures(settlementId, gateway);
    return this.repo.listFulfilments(settlementId, gateway);
  }

  /** Orders past their delivery deadline at `asOf` not delivered (keyset by capture id), at most `limit`. */
  async overdueDeliveries(asOf: Date, page: { limit: number; afterId?: string }): Promise<OverdueDelivery[]> {
    const after = page.afterId === undefined ? 0n : BigInt(page.afterId);
    return this.repo.listOverdueDeliveries(asOf, after, page.limit);
  }

  /**
   * The maintenance worker's check of delivery deadlines passed by `now`: each capture once, an
   * order without a delivery by then announced as `order.fulfilment_overdue` (once per order).
   */
  async checkDeliveryDeadlines(now: Date, limit: number): Promise<{ checked: number; overdue: number }> {
    return this.repo.checkDeliveryDeadlines(now, limit);
  }

  /** The captures of an order (of `gateway` when named): 404 ENT_FULFILMENT_ORDER_NOT_FOUND naming settlementId when none. */
  private async orderCaptures(settlementId: string, gateway: string | null): Promise<SettlementRecord[]> {
    const captures = (await this.repo.listBySettlementId(settlementId)).filter((r) => r.event.type === "capture" && (gateway === null || r.event.gateway === gateway));
    if (captures.length === 0) {
      throw SettlementErrors.fulfilmentOrderNotFound(`no order ${JSON.stringify(settlementId.slice(0, 120))}${gateway === null ? "" : ` of gateway ${gateway}`}`, {
        fields: [{ field: "settlementId", message: "no capture of this order" }],
      });
    }
    return captures;
  }

  /**
   * One event. Concurrent calls are grouped (service/group-commit.ts): calls made while a group is
   * being processed go together as the next group, so N concurrent callers cost a handful of round
   * trips per group instead of several per event. Errors are thrown exactly as for a lone call (the
   * original error object, not a per-item summary).
   */
  async postEvent(event: SettlementEvent): Promise<SettlementResult> {
    const outcome = await this.batcher.submit(validateEvent(event, "", this.limits));
    if ("ok" in outcome) return outcome.ok;
    throw outcome.error;
  }

  /**
   * Many events, answered per item by index. Items whose original (capture or chargeback) is in
   * the same batch go in a later round, after their original is booked (see `process`).
   */
  async postEvents(events: readonly SettlementEvent[], positions?: readonly number[]): Promise<SettlementItemResult[]> {
    return this.postAll(events, positions, "gateway");
  }

  /** postEvents for events of `origin`: only the system's own (releaseDue) may carry its reserved ids. */
  private async postAll(events: readonly SettlementEvent[], positions: readonly number[] | undefined, origin: EventOrigin): Promise<SettlementItemResult[]> {
    const results: SettlementItemResult[] = new Array<SettlementItemResult>(events.length);
    const valid: SettlementEvent[] = [];
    const at: number[] = [];
    // Each item's error names its fields `events.<position>.<field>`: its index in the caller's
    // request (`positions`, when the caller posts only some of its items), else in `events`.
    const prefix = (index: number) => `events.${positions?.[index] ?? index}.`;
    events.forEach((event, index) => {
      try {
        valid.push(validateEvent(event, prefix(index).slice(0, -1), this.limits, origin));
        at.push(index);
      } catch (e) {
        results[index] = itemError(e, prefix(index));
      }
    });
    const outcomes = await this.process(valid);
    outcomes.forEach((o, i) => {
      const index = at[i] as number;
      results[index] = "ok" in o ? o.ok : itemError(o.error, prefix(index));
    });
    return results;
  }

  /**
   * The one processing path for validated events (postEvent groups and postEvents batches).
   * Per round: one lookup of the events already recorded (answered from their record); captures
   * (the bulk of the traffic) are planned in memory and booked in chunks, one `ledger.postBatch`
   * each, every record written by the ledger in its journal transaction's commit; follow-ups take
   * the per-capture path (`followUp`: lock, chain, sequence retry) because they depend on the
   * capture's history. Captures are planned a chunk at a time, each chunk handed to the ledger
   * before the next is planned (`captures`), so planning (CPU here) overlaps booking (work in
   * PostgreSQL) instead of taking turns.
   */
  private async process(events: readonly SettlementEvent[]): Promise<Outcome[]> {
    const outcomes = new Array<Outcome>(events.length);
    let todo = events.map((event, index) => ({ index, event, key: eventKey(event.gateway, event.gatewayEventId) }));
    while (todo.length > 0) {
      const pendingKeys = new Set(todo.map((t) => t.key));
      let ready = todo.filter(
        (t) =>
          t.event.originalEventId === undefined || !pendingKeys.has(eventKey(t.event.gateway, t.event.originalEventId)),
      );
      // A self-reference cannot be satisfied by waiting; let followUp() report it.
      if (ready.length === 0) ready = todo;
      // The same event twice in one round: the later copies wait a round and replay the first.
      const seen = new Set<string>();
      const round = ready.filter((t) => (seen.has(t.key) ? false : (seen.add(t.key), true)));
      const roundSet = new Set(round);
      todo = todo.filter((t) => !roundSet.has(t));

      let known: Map<string, SettlementRecord>;
      let sellers: Map<string, Seller>;
      try {
        // One round trip for the round's own events AND the originals its follow-ups name; beside
        // it (concurrently), one for the sellers its captures name, with the gateways each accepts,
        // read afresh every round (never cached: a set changed through any instance holds at once).
        const originals = round.flatMap((t) =>
          t.event.originalEventId === undefined ? [] : [eventKey(t.event.gateway, t.event.originalEventId)],
        );
        const named = round.flatMap((t) => (t.event.type === "capture" ? [t.event.sellerId] : []));
        [known, sellers] = await Promise.all([this.repo.findByEventKeys([...round.map((t) => t.key), ...originals]), this.repo.getSellers(named)]);
      } catch (e) {
        for (const t of round) outcomes[t.index] = { error: e };
        continue;
      }
      const fresh: Fresh[] = [];
      const slow: Array<{ index: number; event: SettlementEvent }> = [];
      const replays: Replay[] = [];
      for (const t of round) {
        const hash = requestHash(t.event);
        const existing = known.get(t.key);
        if (existing !== undefined) replays.push({ index: t.index, existing, event: t.event, hash });
        else if (t.event.type === "capture") fresh.push({ ...t, hash });
        else slow.push(t);
      }
      await Promise.all([this.answerReplays(replays, outcomes), this.followUps(slow, outcomes, known), this.captures(fresh, outcomes, sellers)]);
    }
    return outcomes;
  }

  /**
   * Captures: a capture is the first record of its own chain (sequence 0), so planning needs no
   * history and no lock. The unique constraints still refuse a concurrent duplicate written by
   * another process; that event then goes through followUp() and is answered from the winner's row.
   *
   * Planned `chunkSize` at a time, each chunk submitted to the ledger before the next is planned,
   * with a turn of the event loop between: the ledger's writer sends chunk k to PostgreSQL (its
   * flush is I/O) while chunk k+1 is planned here (CPU). Planning is CPU-bound (cached rates
   * resolve without I/O), so planning a whole batch at once kept the database idle until the last
   * plan was made, then this process idle while one large flush ran.
   */
  private async captures(fresh: readonly Fresh[], outcomes: Outcome[], sellers: ReadonlyMap<string, Seller>): Promise<void> {
    const booking: Array<Promise<void>> = [];
    for (let i = 0; i < fresh.length; i += this.chunkSize) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const planned = await this.planCaptures(fresh.slice(i, i + this.chunkSize), outcomes, sellers);
      if (planned.length > 0) booking.push(this.bookCaptures(planned, outcomes));
    }
    await Promise.all(booking);
  }

  /** Plans each capture of a chunk (a failure is that item's outcome), in index order; `sellers`: the round's, read with its lookup. */
  private async planCaptures(fresh: readonly Fresh[], outcomes: Outcome[], sellers: ReadonlyMap<string, Seller>): Promise<Planned[]> {
    const planned: Planned[] = [];
    await Promise.all(
      fresh.map(async (f) => {
        try {
          const { plan } = await this.plan(f.event, f.key, sellers);
          planned.push({ index: f.index, event: f.event, record: recordOf(f.event, { eventKey: f.key, captureKey: f.key, sequence: 0, requestHash: f.hash }, plan) });
        } catch (e) {
          outcomes[f.index] = { error: e };
        }
      }),
    );
    return planned.sort((x, y) => x.index - y.index);
  }

  /**
   * Books a planned chunk (one ledger batch); captures another writer was first to go through
   * followUp(). Never rejects (it runs while the next chunk is planned): an unexpected fault is the
   * outcome of every item of the chunk not yet answered.
   */
  private async bookCaptures(planned: readonly Planned[], outcomes: Outcome[]): Promise<void> {
    try {
      const answers = await this.book(planned.map((p) => p.record));
      const conflicted: Array<{ index: number; event: SettlementEvent }> = [];
      planned.forEach((p, i) => {
        const a = answers[i]!;
        if (a === CONFLICT) conflicted.push({ index: p.index, event: p.event });
        else outcomes[p.index] = a;
      });
      if (conflicted.length > 0) await this.followUps(conflicted, outcomes);
    } catch (e) {
      for (const p of planned) outcomes[p.index] ??= { error: e };
    }
  }

  /**
   * Follow-ups (and captures that lost a race to another writer): independent chains
   * concurrently, events naming the same original in index order (the per-capture lock and the
   * sequence constraint cover the rest).
   */
  private async followUps(
    slow: ReadonlyArray<{ index: number; event: SettlementEvent }>,
    outcomes: Outcome[],
    known?: ReadonlyMap<string, SettlementRecord>,
  ): Promise<void> {
    const groups = new Map<string, Array<{ index: number; event: SettlementEvent }>>();
    for (const item of [...slow].sort((a, b) => a.index - b.index)) {
      const g = eventKey(item.event.gateway, item.event.originalEventId ?? item.event.gatewayEventId);
      groups.set(g, [...(groups.get(g) ?? []), item]);
    }
    // Events of one order are booked in order (a refund reads its capture); orders in parallel.
    await forEachLimit([...groups.values()], this.prepareConcurrency, async (group) => {
      for (const { index, event } of group) {
        try {
          outcomes[index] = { ok: await this.followUp(event, known) };
        } catch (e) {
          outcomes[index] = { error: e };
        }
      }
    });
  }

  /**
   * Books planned records: one ledger batch, each record written by the ledger in its journal
   * transaction's commit (its attachment), with the transaction's id and booking instant, so a
   * record exists exactly when its transaction does and nothing needs reading back.
   * Answers per record: the outcome, or CONFLICT when another writer was first (the event, or the
   * capture's sequence): the caller reads afresh and answers from the stored record or plans again.
   */
  private async book(records: readonly NewSettlementRecord[]): Promise<Array<Outcome | typeof CONFLICT>> {
    let answers: Awaited<ReturnType<Ledger["postBatch"]>>;
    try {
      answers = await this.ledger.postBatch(records.map((r) => ({ ...withAccounts(r.journalRequest), attachment: attachmentOf(r) })));
    } catch (e) {
      // Outcome unknown (a lost connection): the record and its transaction were written together or
      // not at all, so a redelivery finds the record or books afresh.
      return records.map(() => ({ error: e }));
    }
    return records.map((r, i): Outcome | typeof CONFLICT => {
      const answer = answers[i];
      if (answer === undefined) return { error: new Error("ledger.postBatch returned fewer answers than requests") };
      // "exists": another writer booked this event first (its record came with it); like a refused
      // record, the caller reads the stored one and answers from it (or refuses another body).
      if (answer.status === "exists") return CONFLICT;
      if (answer.status === "created") {
        // Written by the ledger in the same commit, with the transaction's id and booking instant.
        const t = answer.transaction;
        const settlement: SettlementRecord = {
          id: t.id,
          eventKey: r.eventKey,
          captureKey: r.captureKey,
          sequence: r.sequence,
          event: r.event,
          program: r.program,
          breakdown: r.breakdown,
          fx: r.breakdown.fx,
          refundedDelta: r.refundedDelta,
          status: "posted",
          journalTransactionId: t.id,
          requestHash: r.requestHash,
          createdAt: t.bookedAt,
        };
        return { ok: { status: "created", settlement, transaction: t } };
      }
      const code = answer.error.code;
      if (code === LedgerErrors.recordConflict.code || code === LedgerErrors.idempotencyConflict.code) return CONFLICT;
      // Transient (the database kept failing): the same 503 the ledger gave, so the gateway
      // retries, never a 4xx that tells it to drop a valid settlement.
      if (code === LedgerErrors.unavailable.code) return { error: LedgerErrors.unavailable(`${r.eventKey}: ${answer.error.message}`, { details: { retryAfterSeconds: 1 } }) };
      if (code === Errors.internal.code) return { error: new Error(`ledger failed on ${r.eventKey}: ${answer.error.message}`) };
      return { error: SettlementErrors.ledgerRejected(`ledger refused ${r.eventKey}: ${answer.error.message}`, { details: { ledgerCode: code } }) };
    });
  }

  /**
   * Events of a round already recorded, answered from their records: the same body -> the record
   * and its transaction ("exists"), read for all of them at once; another body -> a conflict.
   */
  private async answerReplays(replays: readonly Replay[], outcomes: Outcome[]): Promise<void> {
    const same: Replay[] = [];
    for (const r of replays) {
      if (r.existing.requestHash === r.hash) same.push(r);
      else outcomes[r.index] = { error: conflictOf(r.existing, r.event) };
    }
    if (same.length === 0) return;
    let txs: Map<string, JournalTransaction>;
    try {
      txs = await this.ledger.getTransactions(same.map((r) => r.existing.journalTransactionId));
    } catch (e) {
      for (const r of same) outcomes[r.index] = { error: e };
      return;
    }
    for (const r of same) {
      const tx = txs.get(r.existing.journalTransactionId);
      outcomes[r.index] = tx === undefined ? { error: missingTransaction(r.existing) } : { ok: { status: "exists", settlement: r.existing, transaction: tx } };
    }
  }

  private async replay(existing: SettlementRecord, event: SettlementEvent, hash: string): Promise<SettlementResult> {
    if (existing.requestHash !== hash) throw conflictOf(existing, event);
    const tx = await this.ledger.getTransaction(existing.journalTransactionId);
    if (tx === null) throw missingTransaction(existing);
    return { status: "exists", settlement: existing, transaction: tx };
  }

  /**
   * A follow-up (or a capture another writer recorded first): under the capture's lock, read its
   * chain, plan at the next sequence and book. Another process booking the same sequence first makes
   * the ledger refuse this record (the unique constraint on capture and sequence): read afresh and
   * plan again, so two writers can never take back from the same capture twice.
   * `known`: records looked up for the whole round just before (absent key = not recorded then),
   * used on the first attempt only. An original, once recorded, keeps its type and capture key.
   */
  private async followUp(event: SettlementEvent, known?: ReadonlyMap<string, SettlementRecord>): Promise<SettlementResult> {
    const key = eventKey(event.gateway, event.gatewayEventId);
    const hash = requestHash(event);
    for (let attempt = 0; ; attempt++) {
      const existing =
        attempt === 0 && known !== undefined ? (known.get(key) ?? null) : await this.repo.findByEventKey(key);
      if (existing !== null) return this.replay(existing, event, hash);
      const captureKey =
        event.type === "capture" ? key : await this.captureKeyOf(event, attempt === 0 ? known : undefined);
      const answer = await this.lock.run(captureKey, async () => {
        const { plan, sequence } = await this.plan(event, captureKey);
        return (await this.book([recordOf(event, { eventKey: key, captureKey, sequence, requestHash: hash }, plan)]))[0]!;
      });
      if (answer !== CONFLICT) {
        if ("ok" in answer) return answer.ok;
        throw answer.error;
      }
      if (attempt + 1 >= this.maxRetries) {
        throw SettlementErrors.concurrentUpdate(`capture ${captureKey} kept changing under ${key}; retry`, {
          details: { captureKey },
        });
      }
    }
  }

  private async captureKeyOf(event: SettlementEvent, known?: ReadonlyMap<string, SettlementRecord>): Promise<string> {
    const origKey = eventKey(event.gateway, event.originalEventId ?? "");
    const orig = known?.get(origKey) ?? (await this.repo.findByEventKey(origKey));
    if (orig === null) {
      throw SettlementErrors.unknownCapture(
        `no ${event.type === "chargeback_reversal" ? "chargeback" : "capture"} ${event.gateway}/${event.originalEventId ?? ""}`,
        {
          fields: [{ field: "originalEventId", message: "must be the gateway event id of a recorded original" }],
        },
      );
    }
    const wanted = event.type === "chargeback_reversal" ? "chargeback" : "capture";
    if (orig.event.type !== wanted) {
      throw SettlementErrors.referenceMismatch(
        `${event.type} must reference a ${wanted}, ${origKey} is a ${orig.event.type}`,
        {
          fields: [{ field: "originalEventId", message: `must name a ${wanted}` }],
        },
      );
    }
    // By effective instant, a refund or a release before its sale would give back tax never
    // collected, or take a seller's balance below zero, in the periods between.
    if (event.occurredAt.getTime() < orig.event.occurredAt.getTime()) {
      throw SettlementErrors.beforeOriginal(`${event.type} occurred at ${event.occurredAt.toISOString()}, before its ${wanted} ${origKey} (${orig.event.occurredAt.toISOString()})`, {
        fields: [{ field: "occurredAt", message: `must not be before the ${wanted}'s occurredAt ${orig.event.occurredAt.toISOString()}` }],
      });
    }
    return orig.captureKey;
  }

  /**
   * `sellers`: the sellers the round read for its captures (absent key: unknown); without it (a
   * capture another writer recorded first, planned again on the slow path) the seller is read here.
   */
  private async plan(event: SettlementEvent, captureKey: string, sellers?: ReadonlyMap<string, Seller>): Promise<{ plan: PostingPlan; sequence: number }> {
    const config = await this.cfg();
    const market = config.markets.get(event.market);
    if (market === undefined)
      throw SettlementErrors.unknownMarket(`unknown market ${event.market}`, {
        fields: [{ field: "market", message: `must be one of ${[...config.markets.keys()].join(", ")}` }],
      });
    if (event.type === "capture") {
      if (event.currency !== market.currency) {
        throw SettlementErrors.currencyMismatch(
          `market ${market.code} settles in ${market.currency}, not ${event.currency}`,
          {
            fields: [{ field: "currency", message: `must be ${market.currency} for market ${market.code}` }],
          },
        );
      }
      const seller = sellers === undefined ? await this.repo.getSeller(event.sellerId) : (sellers.get(event.sellerId) ?? null);
      if (seller === null) throw unknownSellerOfCapture(event.sellerId);
      // The trust boundary between gateways: a gateway credits only the sellers onboarded with it.
      // Follow-ups are not checked again: they name their capture's gateway and seller (plan.ts
      // checkFollowUp), move no more than the capture booked, and must still reach the seller (a
      // refund, a chargeback) after its gateways changed.
      if (!(seller.gateways ?? []).includes(event.gateway)) {
        throw SettlementErrors.sellerGatewayNotAllowed(`seller ${seller.id} does not accept events from gateway ${event.gateway}`, {
          fields: [{ field: "sellerId", message: `seller ${seller.id} does not accept events from gateway ${event.gateway} (an admin sets its gateways: PUT /v1/sellers/${seller.id}/gateways)` }],
          details: { sellerId: seller.id, gateway: event.gateway },
        });
      }
      const schedule = selectSchedule(config.schedules, seller.program, event.market, event.category, event.occurredAt);
      if (schedule === null) {
        // A schedule that comes into force later: the event is too early for it, and says so at occurredAt.
        const from = firstScheduleFrom(config.schedules, seller.program, event.market, event.category)?.toISOString() ?? null;
        throw SettlementErrors.unknownProgram(
          `no ${seller.program} fee schedule for ${event.market}/${event.category} at ${event.occurredAt.toISOString()}${from === null ? "" : `: the first is in force from ${from}`}`,
          {
            fields:
              from === null
                ? [{ field: "sellerId", message: `program ${seller.program} has no schedule in force here` }]
                : [{ field: "occurredAt", message: `before ${from}, when program ${seller.program}'s first schedule for ${event.market}/${event.category} came into force` }],
          },
        );
      }
      // Where the goods ship from: the capture's word, else the seller's warehouse on file.
      const shipFrom = event.shipFrom ?? seller.warehouse;
      const goods = await this.taxedGoods(event, config.taxRules, shipFrom, seller);
      const taxes = selectOrderTaxes(config.taxRules, event.market, event.occurredAt, goods, event.shipToRegion);
      const rates = await this.rates(event, seller.payoutCurrency, schedule.paymentFeeBorneBy, true);
      return {
        plan: planCapture({ event, seller, schedule, taxRule: taxes.national, taxDeduction: taxes.deduction, taxDeductionRate: taxes.deductionRate, stateTaxRule: taxes.state, ...(shipFrom === undefined ? {} : { shipFrom }), rates }),
        sequence: 0,
      };
    }
    const chain = await this.repo.listChain(captureKey);
    if (chain[0]?.event.type !== "capture") {
      // The capture's pending row was withdrawn (the ledger refused it) after the original was looked up.
      throw SettlementErrors.unknownCapture(`no capture ${captureKey}`, {
        fields: [{ field: "originalEventId", message: "must be the gateway event id of a recorded original" }],
      });
    }
    const capture = captureStateOf(chain);
    const last = chain[chain.length - 1];
    const b = capture.breakdown;
    const moves = event.type === "refund" || event.type === "chargeback" || event.type === "chargeback_reversal";
    const rates = await this.rates(event, b.payoutCurrency, b.gatewayFee.borneBy, moves);
    const plan = planFollowUp({
      event,
      capture,
      rates,
      ...(event.type === "chargeback_reversal" ? { chargebackId: event.originalEventId ?? "" } : {}),
    });
    return { plan, sequence: (last?.sequence ?? 0) + 1 };
  }

  private async rates(
    event: SettlementEvent,
    payout: string,
    borneBy: FeeBearer,
    movesGross: boolean,
  ): Promise<PlanRates> {
    const B = event.currency;
    const feeToSeller = event.gatewayFee !== 0n && borneBy === "seller";
    const capture = event.type === "capture";
    // Any gateway fee in B is an expense in USD (plan.ts), whoever bears it.
    const needBuyer = B !== USD && (movesGross || event.gatewayFee !== 0n);
    const needPayout = payout !== USD && (capture || feeToSeller);
    if (event.fxQuoteId !== undefined && !needBuyer) {
      // A quote this event does not use would be stored as its evidence (any id, another gateway's too).
      throw SettlementErrors.invalidEvent(`fxQuoteId: this ${event.type} converts no ${B} to USD, so no quote applies`, {
        fields: [{ field: "fxQuoteId", message: B === USD ? "must be absent on a USD event: nothing is converted" : `must be absent: this ${event.type} converts no ${B}` }],
      });
    }
    const [buyerToUsd, usdToPayout] = await Promise.all([
      needBuyer ? this.buyerRate(event) : null,
      needPayout ? this.lookup(USD, payout, event.occurredAt) : null,
    ]);
    return { buyerToUsd, usdToPayout };
  }

  /**
   * The capture's goods for tax selection: its supply (from where it ships), the seller's program and
   * establishment, shipping, and the mid rates its market's value bands and deductions need, each at
   * the instant its rule values goods at.
   */
  private async taxedGoods(event: SettlementEvent, rules: readonly TaxRule[], shipFrom: string | undefined, seller: Seller): Promise<TaxedGoods> {
    const needed = new Map<string, { to: string; at: Date }>();
    for (const r of rules) {
      if (r.market !== event.market) continue;
      const band = r.maxValue?.currency;
      if (band !== undefined && band !== event.currency) {
        const at = valuationInstant(event.occurredAt, r.basis?.valuedAt);
        needed.set(`${band}@${at.toISOString()}`, { to: band, at });
      }
      const d = r.deduction?.currency;
      if (d !== undefined && d !== event.currency) needed.set(`${d}@${event.occurredAt.toISOString()}`, { to: d, at: event.occurredAt });
    }
    // A rate that cannot be had is refused only where a rule needs it (a band or a deduction of the
    // rule being checked), with the fx module's reason, as for the event's own conversions.
    const rates = new Map<string, string | AppError>();
    for (const [key, { to, at }] of needed) {
      rates.set(
        key,
        await this.fx.conversionRate(event.currency, to, at).then(
          (r) => r.mid.rate,
          (e: unknown) =>
            SettlementErrors.fxUnavailable(`no ${event.currency}->${to} rate at ${at.toISOString()} for the tax rule's band or deduction`, {
              fields: [{ field: "occurredAt", message: `no ${event.currency}->${to} rate published for ${at.toISOString()}` }],
              details: isAppError(e) ? { fxCode: e.code } : {},
              cause: e,
            }),
        ),
      );
    }
    const rateTo = (to: string, valuedAt?: TaxBasis["valuedAt"]): string | null => {
      if (to === event.currency) return "1";
      const r = rates.get(`${to}@${valuationInstant(event.occurredAt, valuedAt).toISOString()}`);
      if (r instanceof AppError) throw r;
      return r ?? null;
    };
    return {
      supply: supplyOf(event.market, shipFrom),
      ...(shipFrom === undefined ? {} : { shipFrom }),
      program: seller.program,
      sellerCountry: seller.homeCountry,
      gross: event.amount,
      shipping: event.shipping ?? 0n,
      currency: event.currency,
      rateTo,
    };
  }

  private async buyerRate(event: SettlementEvent): Promise<RateEvidence> {
    if (event.fxQuoteId === undefined) return this.lookup(event.currency, USD, event.occurredAt);
    let q: Awaited<ReturnType<SettlementFx["usableQuote"]>>;
    try {
      q = await this.fx.usableQuote(event.fxQuoteId, { from: event.currency, to: USD, at: event.occurredAt, gateway: event.gateway });
    } catch (e) {
      // The fx module's refusal, with its own code and status (404 an unknown or another gateway's
      // quote, 409 another pair, expired, not yet valid: as GET /v1/fx/quotes/:id and the README
      // say), answered as this event's field.
      const why = [
        [FxErrors.quoteNotFound, "unknown quote"],
        [FxErrors.quoteMismatch, `must be a ${event.currency}->USD quote`],
        [FxErrors.quoteExpired, "the quote expired before the event occurred"],
        [FxErrors.quoteNotYetValid, "the quote holds from after the event occurred"],
      ] as const;
      const found = isAppError(e) ? why.find(([def]) => def.code === e.code) : undefined;
      if (found === undefined) throw e;
      const [def, message] = found;
      const detail = def === FxErrors.quoteNotFound ? `no FX quote ${event.fxQuoteId} usable by gateway ${event.gateway}` : (e as Error).message;
      throw def(detail, { fields: [{ field: "fxQuoteId", message }], cause: e });
    }
    const sources = [...new Set(q.legs.map((l) => l.source))].join(" + ");
    return {
      from: q.base,
      to: q.quote,
      rate: q.allInRate,
      quoteId: q.id,
      source: sources === "" ? "quote" : sources,
      // As for an unquoted rate: the oldest publication the quote's rate is made of, not the instant
      // it was taken for (a quote at 10:00 of a rate published at 00:00 is as old as that rate).
      asOf: q.legs.map((l) => l.asOf).sort()[0] ?? q.ratesAt.toISOString(),
    };
  }

  private async lookup(from: string, to: string, at: Date): Promise<RateEvidence> {
    try {
      const r = await this.fx.conversionRate(from, to, at);
      return { from, to, rate: r.rate, quoteId: null, source: r.mid.source, asOf: r.mid.asOf, ...(r.markupBps === 0 ? {} : { midRate: r.mid.rate, markupBps: r.markupBps }) };
    } catch (e) {
      throw SettlementErrors.fxUnavailable(`no ${from}->${to} rate at ${at.toISOString()}`, {
        fields: [{ field: "occurredAt", message: `no ${from}->${to} rate published for this instant` }],
        details: isAppError(e) ? { fxCode: e.code } : {},
        cause: e,
      });
    }
  }

  /**
   * Auto-confirm: release held POP proceeds whose auto-confirm instant is at or before `asOf`, and
   * reserves whose holding period has passed, as ordinary (idempotent) release events with ids
   * derived from the capture, so running it twice releases nothing twice.
   *
   * Exactly once, across instances: a capture's chain says whether it is released (whatever id the
   * release was booked under: `auto-release.<capture's gatewayEventId>` before, `auto-release~<capture
   * record id>` now), and two writers of the same release claim the same (capture, sequence), so the
   * second re-reads a released chain. A refused release is recorded with its code and backs off
   * (repository recordReleaseFailures): it is no candidate until its next attempt, so refusals that
   * persist cannot fill every call's `limit` ahead of the due releases behind them. Each refused
   * item's answer carries its code and its `attempt` (1 on its first refusal), so the worker
   * reports a refusal once at error level, not at every retry. A release the gateway booked itself
   * between the read of the chain and the booking overtakes the worker's: that is no refusal, and
   * it is left out of the answer.
   */
  async releaseDue(asOf: Date, limit = 500): Promise<ReleaseResult[]> {
    const due: Array<{ event: SettlementEvent; captureKey: string; cap: SettlementRecord; evidence: Fulfilment | undefined }> = [];
    let afterId: string | undefined;
    while (due.length < limit) {
      const page = await this.repo.listReleaseCandidates({ before: asOf, limit, ...(afterId === undefined ? {} : { afterId }) });
      if (page.length === 0) break;
      afterId = page[page.length - 1]!.id;
      // Delivery-based captures release from their order's evidence: one read for the page.
      const onDelivery = page.filter((c) => c.breakdown.confirmOnDelivery !== undefined).map((c) => ({ gateway: c.event.gateway, settlementId: c.event.settlementId }));
      const latest = await this.repo.latestFulfilments(onDelivery);
      for (const cap of page) {
        const evidence = latest.get(orderKey(cap.event.gateway, cap.event.settlementId));
        for (const event of dueReleases(cap, await this.repo.listChain(cap.captureKey), asOf, evidence)) due.push({ event, captureKey: cap.captureKey, cap, evidence });
      }
    }
    if (due.length === 0) return [];
    const todo = due.slice(0, limit);
    const results = await this.postAll(
      todo.map(({ event }) => Object.fromEntries(Object.entries(event).filter(([, v]) => v !== undefined)) as unknown as SettlementEvent),
      undefined,
      "system",
    );
    const failed: Array<{ index: number; captureKey: string; eventType: string; code: string; message: string }> = [];
    const booked: string[] = [];
    const overtaken = new Set<number>();
    for (const [index, r] of results.entries()) {
      const { event, captureKey, cap, evidence } = todo[index]!;
      if (r.status !== "error") booked.push(captureKey);
      // The gateway's own release (or a refund of the rest) booked since the chain was read: the
      // release is no longer due, whatever refused it (nothing left to release, or the ledger's
      // balance check when it was planned first), which is no refusal. Else kept and retried.
      else if (!dueReleases(cap, await this.repo.listChain(captureKey), asOf, evidence).some((e) => e.type === event.type)) {
        overtaken.add(index);
        booked.push(captureKey);
      } else failed.push({ index, captureKey, eventType: event.type, code: r.error.code, message: r.error.message });
    }
    // A capture whose other release was refused keeps its record (and its count of attempts).
    const refusedKeys = new Set(failed.map((f) => f.captureKey));
    await this.repo.clearReleaseFailures(booked.filter((k) => !refusedKeys.has(k)));
    const answered = results.filter((_, index) => !overtaken.has(index));
    if (failed.length === 0) return answered;
    const attempts = await this.repo.recordReleaseFailures(failed, asOf);
    const refusedAt = new Map(failed.map((f) => [f.index, f.captureKey]));
    return results.flatMap((r, index): ReleaseResult[] => {
      if (overtaken.has(index)) return [];
      const key = refusedAt.get(index);
      return [key === undefined ? r : { ...r, attempt: attempts.get(key) ?? 1 }];
    });
  }

  /**
   * Load program data, validated before anything is written: markets upserted, sellers created when missing (one on file is never edited); fee
   * schedules and tax rules are versions, so only those not published yet are inserted, and the ids
   * published already with other content are answered (`kept`), left as they were.
   */
  async saveProgramData(data: {
    markets?: readonly Market[];
    schedules?: readonly FeeSchedule[];
    taxRules?: readonly TaxRule[];
    sellers?: readonly Seller[];
  }): Promise<{ kept: string[] }> {
    const markets = data.markets ?? [];
    const allMarkets = [...(await this.repo.listMarkets()), ...markets];
    data.schedules?.forEach(validateSchedule);
    data.taxRules?.forEach((r) => validateTaxRule(r, allMarkets));
    data.sellers?.forEach(validateSeller);
    const sellers = data.sellers?.map((s) => (s.gateways === undefined ? s : { ...s, gateways: sellerGatewaysOf(s.gateways) }));
    if (markets.length > 0) await this.repo.saveMarkets(markets);
    const kept = [...(data.taxRules ? await this.repo.saveTaxRules(data.taxRules) : []), ...(data.schedules ? await this.repo.saveSchedules(data.schedules) : [])];
    if (sellers) await this.repo.saveSellers(sellers);
    this.forgetConfig();
    return { kept };
  }

  /** Every fee schedule version, oldest effective first. */
  async listSchedules(): Promise<FeeSchedule[]> {
    return this.repo.listSchedules();
  }

  /** Every tax rule version, oldest effective first. */
  async listTaxRules(): Promise<TaxRule[]> {
    return this.repo.listTaxRules();
  }

  /** A seller's statement for [from, to) by effective instant (statement.ts); 404 for an unknown seller. */
  async sellerStatement(sellerId: string, period: { from: Date; to: Date }): Promise<SellerStatement> {
    const seller = await this.repo.getSeller(sellerId);
    if (seller === null) throw SettlementErrors.unknownSeller(`unknown seller ${sellerId}`, { fields: [{ field: "id", message: "no such seller" }] });
    return sellerStatement(this.ledger, seller, period);
  }

  /**
   * The return of one tax scheme of a market for [from, to) (statement.ts): 400 for an unknown
   * market, and for a scheme (or a state tax's region) no rule of the market has, so that a typo is
   * never read as a nil return; a scheme with rules but nothing booked answers an empty return (the
   * account does not exist yet). A rule the platform does not collect books no payable: its sales
   * are read from the journal and listed with a tax of 0.
   */
  async taxReturn(market: string, scheme: string, period: { from: Date; to: Date }, region?: string): Promise<TaxReturn> {
    const known = (await this.repo.listMarkets()).find((m) => m.code === market);
    if (known === undefined) throw SettlementErrors.unknownMarket(`unknown market ${market}`, { fields: [{ field: "market", message: "no such market" }] });
    if (region !== undefined && !region.startsWith(`${market}-`)) {
      throw SettlementErrors.unknownMarket(`region ${region} is not in market ${market}`, { fields: [{ field: "region", message: `must be a subdivision of ${market}, e.g. ${market}-XX` }] });
    }
    const rules = await this.repo.listTaxRules();
    checkTaxReturnScheme(rules, market, scheme, region);
    const input = { market, ...(region === undefined ? {} : { region }), scheme, currency: known.currency, ...period };
    // Rules are immutable versions (published once, 409 for other content under an id): a rule's
    // rate now is the rate it was booked at.
    const byId = new Map(rules.map((r) => [r.id, r]));
    // The sales under the rules of this return that the platform does not collect: they book no tax
    // posting, so they are read from the journal by the rule each was booked under.
    const uncollected = [];
    for (const r of rules) {
      if (r.market !== market || r.scheme !== scheme || r.collectedBy === "marketplace") continue;
      if (region === undefined ? r.level === "state" : r.level !== "state" || r.region !== region) continue;
      const match = { market, [region === undefined ? "tax.ruleId" : "tax.state.ruleId"]: r.id };
      for (const t of await this.ledger.transactionsEffective(match, period)) if (t.status === "posted" && isTaxedEvent(t.metadata)) uncollected.push(t);
    }
    return taxReturn(this.ledger, input, (ruleId) => byId.get(ruleId) ?? null, uncollected);
  }

  /** A charge to a seller that no order carries (charges.ts); 404 for an unknown seller. */
  async chargeSeller(sellerId: string, input: SellerChargeInput): Promise<{ status: "created" | "exists"; charge: SellerCharge }> {
    const seller = await this.repo.getSeller(sellerId);
    if (seller === null) throw SettlementErrors.unknownSeller(`unknown seller ${sellerId}`, { fields: [{ field: "id", message: "no such seller" }] });
    if (input.occurredAt.getTime() > this.limits.now().getTime()) {
      throw SettlementErrors.invalidEvent("occurredAt is in the future", { fields: [{ field: "occurredAt", message: "must not be in the future" }] });
    }
    // The events' bounds: a charge is booked like one, so it may be no larger and no older.
    const max = maxAmountFor(this.limits, "USD");
    if (input.amount > max) throw SettlementErrors.invalidEvent(`amount exceeds ${max}`, { fields: [{ field: "amount", message: `must be at most ${max} minor units of USD` }] });
    const days = Math.round(this.limits.maxAgeMs / 86_400_000);
    if (input.occurredAt.getTime() < this.limits.now().getTime() - this.limits.maxAgeMs) {
      throw SettlementErrors.invalidEvent(`occurredAt is older than ${days} days`, { fields: [{ field: "occurredAt", message: `must not be older than ${days} days` }] });
    }
    return chargeSeller({ ledger: this.ledger, rates: this.fx }, seller, input, maxAmountFor(this.limits, seller.payoutCurrency));
  }

  async listSellers(): Promise<Seller[]> {
    return this.repo.listSellers();
  }

  /** The program of each seller of `ids` as on file now (POST /v1/sellers refuses another program for an onboarded seller); ids not on file are absent. */
  async sellerPrograms(ids: readonly string[]): Promise<Map<string, ProgramKind>> {
    return new Map([...(await this.repo.getSellers(ids))].map(([id, seller]) => [id, seller.program]));
  }

  /** A seller's gateways and the trail of their sets (newest first, at most 100); 404 for an unknown seller. */
  async sellerGateways(sellerId: string): Promise<SellerGateways> {
    const found = await this.repo.getSellerGateways(sellerId, SELLER_GATEWAY_CHANGES_SHOWN);
    if (found === null) throw SettlementErrors.unknownSeller(`unknown seller ${sellerId}`, { fields: [{ field: "id", message: "no such seller" }] });
    return found;
  }

  /**
   * Replaces the gateways a seller accepts settlement events from, recorded with `setBy` in the
   * seller's trail (when it changed); in force for the next event on every instance (the write path
   * reads it with the seller each round). 404 for an unknown seller.
   */
  async setSellerGateways(sellerId: string, gateways: readonly string[], setBy: string): Promise<SellerGateways> {
    if (!(await this.repo.setSellerGateways(sellerId, sellerGatewaysOf(gateways), setBy))) {
      throw SettlementErrors.unknownSeller(`unknown seller ${sellerId}`, { fields: [{ field: "id", message: "no such seller" }] });
    }
    return this.sellerGateways(sellerId);
  }

  /** The markets events may name, as stored now (not the cached program data). */
  async listMarkets(): Promise<Market[]> {
    return this.repo.listMarkets();
  }

  /**
   * Every record of `gateway` whose event occurred in [from, to), in compact form, page by page
   * (keyset by id, `batchSize` per page, default 20,000): the ledger side of a reconciliation. By
   * default only the event types a gateway reports (releases are internal and excluded).
   */
  async *iterateForReconciliation(opts: {
    gateway: string;
    from: Date;
    to: Date;
    batchSize?: number;
    types?: readonly SettlementEventType[];
  }): AsyncGenerator<ReconciliationRecord[], void, undefined> {
    const limit = Math.max(1, Math.min(100_000, opts.batchSize ?? 20_000));
    const types = opts.types ?? RECONCILED_TYPES;
    const fetch = (afterId: string) => this.repo.reconciliationPage({ gateway: opts.gateway, from: opts.from, to: opts.to, types, afterId, limit });
    // One page read ahead: the next query runs while the caller processes this page.
    let next: Promise<ReconciliationRecord[]> | null = fetch("0");
    while (next !== null) {
      const page: ReconciliationRecord[] = await next;
      next = page.length === limit ? fetch(page[page.length - 1]!.id) : null;
      // A read-ahead the caller never consumes (it stopped early) must not reject unhandled.
      next?.catch(() => undefined);
      if (page.length > 0) yield page;
    }
  }
}

/** The changes of a seller's gateways answered with them, newest first. */
const SELLER_GATEWAY_CHANGES_SHOWN = 100;

/** The event types a gateway's own settlement report can show (releases are internal to us). */
const RECONCILED_TYPES: readonly SettlementEventType[] = ["capture", "refund", "chargeback", "chargeback_reversal", "fee_adjustment"];

/**
 * The release events a capture owes at `asOf`: held POP proceeds past auto-confirm (under a
 * delivery-based schedule, counted from `evidence`, the order's latest delivery evidence: none, no
 * release), a reserve past its date.
 */
function dueReleases(cap: SettlementRecord, chain: SettlementRecord[], asOf: Date, evidence: Fulfilment | undefined): SettlementEvent[] {
  const b = cap.breakdown;
  const state = captureStateOf(chain);
  const base = followUpOf(cap.event);
  const due = (iso: string | null) => iso !== null && Date.parse(iso) <= asOf.getTime();
  const events: SettlementEvent[] = [];
  const releaseAt = autoReleaseAt(b, evidence, cap.event.occurredAt);
  if (b.sellerBucket === "held" && !state.released && state.refunded < b.lines.gross && releaseAt !== null && releaseAt.getTime() <= asOf.getTime()) {
    events.push({
      ...base,
      type: "release",
      gatewayEventId: `auto-release~${cap.id}`,
      occurredAt: releaseAt,
    });
  }
  if (
    b.lines.sellerReserve > 0n &&
    !state.reserveReleased &&
    b.lines.sellerReserve > state.reversedLines.sellerReserve &&
    due(b.reserveReleaseAt)
  ) {
    events.push({
      ...base,
      type: "reserve_release",
      gatewayEventId: `auto-reserve~${cap.id}`,
      occurredAt: new Date(Date.parse(b.reserveReleaseAt ?? "")),
    });
  }
  return events;
}

function encodeListCursor(id: bigint): string {
  return Buffer.from(`s1:${id}`).toString("base64url");
}

function decodeListCursor(c: string): bigint {
  const m = /^s1:([1-9]\d{0,18})$/.exec(Buffer.from(c, "base64url").toString());
  // A forged cursor past the int8 range is as invalid as any other forged cursor (never a 500).
  if (m === null || !isPositiveInt8(m[1]!)) throw SettlementErrors.invalidCursor("cursor is not one this API returned", { fields: [{ field: "cursor", message: "invalid" }] });
  return BigInt(m[1]!);
}

/** The volumes report spans at most this (a leap year). */
const MAX_VOLUME_RANGE_MS = 366 * 86_400_000;

/**
 * A tax return names a scheme some rule of the market has (any version: rules are never deleted), and
 * a state tax's region that some rule of that scheme covers; a national scheme takes no region, a
 * state tax needs one (its account is the region's).
 */
function checkTaxReturnScheme(rules: readonly TaxRule[], market: string, scheme: string, region: string | undefined): void {
  const ofMarket = rules.filter((r) => r.market === market);
  const ofScheme = ofMarket.filter((r) => r.scheme === scheme);
  const list = (xs: string[]) => [...new Set(xs)].sort().join(", ");
  if (ofScheme.length === 0) {
    throw SettlementErrors.unknownTaxScheme(`no tax rule of market ${market} has the scheme ${scheme} (its schemes: ${list(ofMarket.map((r) => r.scheme)) || "none"})`, {
      fields: [{ field: "scheme", message: `not a scheme of ${market}` }],
    });
  }
  const regions = ofScheme.flatMap((r) => (r.level === "state" && r.region !== undefined ? [r.region] : []));
  const national = ofScheme.some((r) => r.level !== "state");
  if (region === undefined && !national) {
    throw SettlementErrors.unknownTaxScheme(`${scheme} is a state tax of ${market}: its return is per region (${list(regions)})`, { fields: [{ field: "region", message: "required for a state tax" }] });
  }
  if (region !== undefined && !regions.includes(region)) {
    throw SettlementErrors.unknownTaxScheme(`no ${scheme} rule covers ${region} (${regions.length === 0 ? `${scheme} is a national tax: no region` : `its regions: ${list(regions)}`})`, {
      fields: [{ field: "region", message: `not a region of ${scheme}` }],
    });
  }
}
