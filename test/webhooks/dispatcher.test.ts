/**
 * The dispatcher's pipeline, on both engines against a real receiver: an endpoint's request slot
 * is freed when its request ends, not when its outcome is written (the next of the same subject
 * still waits for that write); a tick that fills an endpoint's slots keeps going for 5 s, not 1 s,
 * and asks for the next at once when it ends with a backlog at hand (no pause between ticks).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newSecretsKey, SecretBox } from "../../service/http/auth/secret-box.js";
import { WebhookDispatcher } from "../../service/webhooks/dispatcher.js";
import { WebhookService, type WebhookEventBody } from "../../service/webhooks/index.js";
import { createPoster, type Poster } from "../../service/webhooks/post.js";
import { WebhookStore, type Outcome } from "../../service/webhooks/store.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";
import { startReceiver, type Receiver } from "./receiver.js";

const kinds = await testDatabaseKinds();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A store whose outcome writes wait until `open()`: the database being slow to write them. */
class HeldStore extends WebhookStore {
  #open: () => void = () => {};
  readonly #opened = new Promise<void>((resolve) => (this.#open = resolve));
  written = 0;

  open(): void {
    this.#open();
  }

  override async record(outcomes: readonly Outcome[]): Promise<void> {
    await this.#opened;
    await super.record(outcomes);
    this.written += outcomes.length;
  }
}

describe.each(kinds)("the webhook dispatcher on %s", (kind) => {
  let db: TestDatabase;
  let rx: Receiver;
  let poster: Poster;
  let box: SecretBox;
  let endpointId: string;

  beforeEach(async () => {
    db = await freshDatabase(kind);
    rx = await startReceiver();
    box = new SecretBox(newSecretsKey());
    poster = createPoster({ timeoutMs: 5_000, allowPrivate: true });
    const service = new WebhookService({
      sql: db.sql,
      box,
      config: { allowPrivate: true, timeoutMs: 5_000, maxInFlight: 64, maxPerEndpoint: 1 },
      catalogue: { listSellers: () => Promise.resolve([]), listMarkets: () => Promise.resolve([]) },
    });
    endpointId = (await service.createEndpoint({ gateway: null, keyId: "test" }, { url: rx.url, eventTypes: ["settlement.booked"] })).endpoint.id;
    service.close();
  });
  afterEach(async () => {
    poster.close();
    await rx.close();
    await db.close();
  });

  const emit = (store: WebhookStore, subject: string) => store.emit({ type: "settlement.booked", subject, data: { subject } });
  const subjects = () => rx.received.map((r) => (JSON.parse(r.body) as WebhookEventBody).subject);

  it("frees an endpoint's slot when the request ends, while its outcome is still being written; the next of its subject waits for the write", async () => {
    const store = new HeldStore(db.sql);
    const dispatcher = new WebhookDispatcher({ store, box, poster, maxPerEndpoint: 1, leaseMs: 15_000 });
    for (const s of ["order:A", "order:B", "order:C", "order:A"]) await emit(store, s);

    const ticking = dispatcher.tick();
    for (let i = 0; i < 300 && rx.received.length < 3; i++) await sleep(10);
    // One request at a time, none of their outcomes written: B and C went as soon as A's request ended.
    expect(subjects()).toEqual(["order:A", "order:B", "order:C"]);
    expect(store.written).toBe(0);
    await sleep(200);
    // A's second event is sent only once its first is recorded delivered.
    expect(subjects()).toHaveLength(3);

    store.open();
    await ticking;
    for (let i = 0; i < 10 && rx.received.length < 4; i++) await dispatcher.tick();
    await dispatcher.drain();
    expect(subjects()).toEqual(["order:A", "order:B", "order:C", "order:A"]);
    const rows = await db.sql.q<Array<{ status: string; attempts: number }>>(`SELECT status, attempts FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY event_id`, endpointId);
    expect(rows).toEqual(Array.from({ length: 4 }, () => ({ status: "delivered", attempts: 1 })));
  });

  it("warns once per endpoint, naming WEBHOOK_ALLOW_PRIVATE, when this instance's address policy refuses its deliveries", async () => {
    const store = new WebhookStore(db.sql);
    for (let i = 0; i < 5; i++) await emit(store, `order:${i}`);
    const warnings: Array<{ obj: Record<string, unknown>; msg: string }> = [];
    // An instance started without WEBHOOK_ALLOW_PRIVATE, for an endpoint on a loopback receiver.
    const strict = createPoster({ timeoutMs: 5_000, allowPrivate: false });
    const dispatcher = new WebhookDispatcher({ store, box, poster: strict, maxPerEndpoint: 1, leaseMs: 15_000, log: { warn: (obj, msg) => void warnings.push({ obj: obj as Record<string, unknown>, msg }) } });
    try {
      await dispatcher.tick();
      await dispatcher.drain();
    } finally {
      strict.close();
    }
    const rows = await db.sql.q<Array<{ n: bigint | string }>>(`SELECT count(*) AS n FROM webhook_attempts WHERE error LIKE 'address refused:%'`);
    expect(Number(rows[0]!.n)).toBe(5);
    expect(rx.received).toHaveLength(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.obj).toMatchObject({ code: "ENT_WEBHOOK_ADDRESS_REFUSED", endpointId, reason: "address refused: 127.0.0.1 is a private or internal address" });
    expect(warnings[0]!.msg).toMatch(/set WEBHOOK_ALLOW_PRIVATE=true/);
  });

  it("logs outcomes it cannot write (the database away) once at warn, the rest at debug, and once at info when they are written again", async () => {
    /** Outcome writes fail (a lost connection) until `back`. */
    class FailingStore extends WebhookStore {
      back = false;
      override async record(outcomes: readonly Outcome[]): Promise<void> {
        if (!this.back) throw Object.assign(new Error("Connection terminated unexpectedly"), { code: "57P01" });
        await super.record(outcomes);
      }
    }
    const store = new FailingStore(db.sql);
    for (let i = 0; i < 6; i++) await emit(store, `order:${i}`);
    const lines: Array<{ level: string; msg: string }> = [];
    const at = (level: string) => (_obj: object, msg: string) => void lines.push({ level, msg });
    const dispatcher = new WebhookDispatcher({ store, box, poster, maxPerEndpoint: 6, leaseMs: 2_000, log: { warn: at("warn"), info: at("info"), debug: at("debug") } });
    await dispatcher.tick();
    await dispatcher.drain();
    expect(rx.received).toHaveLength(6);
    expect(lines.map((l) => l.level)).toEqual(["warn", "debug", "debug", "debug", "debug", "debug"]);
    store.back = true;
    await sleep(2_100); // the claims lapse (long enough that none lapses inside the first tick on a loaded machine)
    await dispatcher.tick();
    await dispatcher.drain();
    expect(lines.slice(6)).toEqual([{ level: "info", msg: "webhook outcomes are recorded again" }]);
  });

  it("numbers a request sent again after its outcome was lost as the next attempt, never the same number twice", async () => {
    class FailingStore extends WebhookStore {
      back = false;
      override async record(outcomes: readonly Outcome[]): Promise<void> {
        if (!this.back) throw Object.assign(new Error("Connection terminated unexpectedly"), { code: "57P01" });
        await super.record(outcomes);
      }
    }
    const store = new FailingStore(db.sql);
    await emit(store, "order:LOST");
    const dispatcher = new WebhookDispatcher({ store, box, poster, maxPerEndpoint: 1, leaseMs: 2_000 });
    await dispatcher.tick();
    await dispatcher.drain();
    store.back = true;
    await sleep(2_100); // the claim lapses: the request is sent again
    await dispatcher.tick();
    await dispatcher.drain();
    expect(rx.received.map((r) => r.headers["entrepot-delivery-attempt"])).toEqual(["1", "2"]);
    const [row] = await db.sql.q<Array<{ attempts: number; status: string }>>(`SELECT attempts, status FROM webhook_deliveries WHERE endpoint_id = $1`, endpointId);
    expect(row).toEqual({ attempts: 2, status: "delivered" });
    // The lost outcome has no row; the one recorded is attempt 2, as its request said.
    const attempts = await db.sql.q<Array<{ attempt: number }>>(`SELECT attempt FROM webhook_attempts WHERE endpoint_id = $1`, endpointId);
    expect(attempts).toEqual([{ attempt: 2 }]);
  });

  it("keeps an endpoint whose slots are all in use busy for longer than a second in one tick", async () => {
    const store = new WebhookStore(db.sql);
    for (let i = 0; i < 12; i++) await emit(store, `order:${i}`);
    // Each request takes 200 ms more (a remote receiver): a tick that stopped claiming after a second
    // would have sent 5 or 6 of the 12.
    const slow: Poster = { post: async (...a) => (await sleep(200), poster.post(...a)), close: () => {} };
    const dispatcher = new WebhookDispatcher({ store, box, poster: slow, maxPerEndpoint: 1, leaseMs: 15_000 });
    await dispatcher.tick();
    await dispatcher.drain();
    expect(rx.received).toHaveLength(12);
  });

  it("asks for the next tick at once when it ends on its budget with a backlog, not when the backlog is done", async () => {
    const store = new WebhookStore(db.sql);
    for (let i = 0; i < 8; i++) await emit(store, `order:${i}`);
    const slow: Poster = { post: async (...a) => (await sleep(150), poster.post(...a)), close: () => {} };
    // A budget of 400 ms: 3-4 of the 8 requests (one at a time, 150 ms each) are sent in it.
    const dispatcher = new WebhookDispatcher({ store, box, poster: slow, maxPerEndpoint: 1, leaseMs: 15_000, tickBudgetMs: 400, busyTickBudgetMs: 400 });
    expect(await dispatcher.tick()).toBe("again");
    await dispatcher.drain();
    expect(rx.received.length).toBeLessThan(8);
    // The loop runs ticks until one ends with nothing at hand: the last answers no "again".
    let ticks = 1;
    while ((await dispatcher.tick()) === "again") ticks++;
    await dispatcher.drain();
    expect(rx.received).toHaveLength(8);
    expect(ticks).toBeGreaterThanOrEqual(2);
  });
});
