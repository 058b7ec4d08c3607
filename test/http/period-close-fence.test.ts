/**
 * A period close while gateways keep posting converted events into the period (events that
 * occurred before midnight arriving after it: the normal case just after month end), on both
 * engines. The close's first checks are optimistic and can be overtaken by each such event; the
 * last runs under the journal head lock, so it cannot be: the close is answered at the first ask,
 * what it checked is what closed (its fxNotRevalued is the plan at the period's last instant read
 * afterwards), and every event is booked once, in the period before the close or at its end (B,
 * `originalEffectiveAt` kept) after it. Gateways posting in a loop overtake the optimistic checks
 * as the timing falls (on PostgreSQL, every one of the three in the runs before the fence: 409
 * ENT_LEDGER_PERIOD_CHANGED); an event landing during every check overtakes them all on both
 * engines. The fenced check refuses and accepts as the optimistic one does, and a position opened
 * between resolving the closing rates and taking the lock gets its rate. Two service instances on
 * one PostgreSQL: the fence is the head row's lock, one instance closing while the other posts.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../service/app.js";
import { PeriodClosing, unrevaluedPositions, type CloseFx } from "../../service/closing.js";
import { openDatabase, type Database } from "../../service/db/index.js";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { toEvent } from "../../service/http/routes/settlements.js";
import { createServices, type Services } from "../../service/services.js";
import { ClosingRatesMissing } from "../../service/settlement/realisation.js";
import { rejected } from "../support/app-errors.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, json, openHarness, usdRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

interface Close {
  id: string;
  closedBefore: string;
  journalSequence: string;
  fxNotRevalued: unknown[] | null;
}

/** A capture sent over HTTP as its gateway signs it: 201 or the test fails. */
const overHttp = (h: Harness) => async (body: Record<string, unknown>) => {
  const r = await h.signedPost("/v1/settlements/events", body);
  if (r.statusCode !== 201) throw new Error(`event ${String(body["gatewayEventId"])}: ${r.statusCode} ${r.body}`);
};

/** A capture handed to the settlement service in process (what the route does after its checks): created or the test fails. */
const inProcess = (h: Harness) => async (body: Record<string, unknown>) => {
  const r = await h.services.settlement.postEvent(toEvent(body as Parameters<typeof toEvent>[0]));
  if (r.status !== "created") throw new Error(`event ${String(body["gatewayEventId"])}: ${r.status}`);
};

/** `gateways` loops, each posting BRL captures effective in the period's last hour one after another (through `send`) until stopped. */
function gatewaysPosting(send: (body: Record<string, unknown>) => Promise<void>, opts: { prefix: string; day: string; gateways: number }) {
  const posted: Array<{ id: string; occurredAt: string }> = [];
  let stopping = false;
  const loops = Array.from({ length: opts.gateways }, async (_, g) => {
    for (let i = 0; !stopping; i++) {
      const id = `${opts.prefix}-${g}-${i}`;
      // Each in the period's last hour, a millisecond apart: events that occurred before midnight.
      const occurredAt = new Date(Date.parse(`${opts.day}T23:00:00.000Z`) + g * 60_000 + i).toISOString();
      await send(capture({ gatewayEventId: id, settlementId: `ORD-${id}`, sellerId: "S-POP-HK-02", occurredAt, amount: String(99_990 + i), gatewayFee: "2900" }));
      posted.push({ id, occurredAt });
    }
  });
  const count = () => posted.length;
  const waitFor = async (n: number) => {
    while (count() < n) {
      await Promise.race([...loops, new Promise((resolve) => setTimeout(resolve, 5))]);
    }
  };
  return {
    posted,
    count,
    waitFor,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return posted;
    },
  };
}

/** Every event booked once: before the close at its own instant, after it at the close's instant with its own kept. */
async function expectBookedOnce(services: Services, posted: Array<{ id: string; occurredAt: string }>, close: Close) {
  let before = 0;
  let after = 0;
  for (const e of posted) {
    const txs = (await services.ledger.listTransactions({ metadata: { gatewayEventId: e.id }, limit: 50 })).items.filter((t) => t.idempotencyKey === `settlement:adyen:${e.id}`);
    expect(txs.length, e.id).toBe(1);
    const tx = txs[0]!;
    if (tx.sequence <= BigInt(close.journalSequence)) {
      before++;
      expect([tx.effectiveAt.toISOString(), tx.metadata["originalEffectiveAt"]], e.id).toEqual([e.occurredAt, undefined]);
    } else {
      after++;
      expect([tx.effectiveAt.toISOString(), tx.metadata["originalEffectiveAt"]], e.id).toEqual([close.closedBefore, e.occurredAt]);
    }
  }
  return { before, after };
}

async function publish(h: Harness, day: string, figuresOf: string) {
  const r = await h.post("/v1/fx/rates", { rates: usdRates(["BRL", "CNY", "EUR"], figuresOf, new Date(`${day}T00:00:00.000Z`)) }, h.keys.admin);
  expect(r.statusCode, r.body).toBe(201);
}

describe.each(kinds)("a period close while gateways keep posting converted events into the period on %s", (kind) => {
  let h: Harness;
  let writer: IssuedKey;
  const close = (body: Record<string, unknown>) => h.post("/v1/ledger/periods/close", body, writer);
  const revalue = (at: string) => h.post(`/v1/fx/revaluations?at=${encodeURIComponent(at)}`, {}, writer);

  beforeAll(async () => {
    h = await openHarness({ kind });
    writer = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
  }, 120_000);
  afterAll(async () => h?.close());

  it("closes at the first ask (201): the last check runs under the head lock, so the events still arriving cannot overtake it, and each is booked once, before the close or at its end", async () => {
    // December's last rates (the source's last figures, of the 23rd) in force on the 31st, the positions revalued at its last instant.
    await publish(h, "2024-12-31", "2024-12-23");
    const seed = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "dec-seed", settlementId: "ORD-DEC-SEED", sellerId: "S-POP-HK-02", occurredAt: "2024-12-31T12:00:00.000Z" }));
    expect(seed.statusCode, seed.body).toBe(201);
    expect((await revalue("2024-12-31T23:59:59.999Z")).statusCode).toBe(201);

    const gateways = gatewaysPosting(inProcess(h), { prefix: "dec", day: "2024-12-31", gateways: 2 });
    await gateways.waitFor(24);
    // An event can move the BRL position by its conversion's rounding: that is accepted with a note
    // and kept with the close (the refusals under the fence are the next test's).
    const r = await close({ before: "2025-01-01T00:00:00Z", note: "December: late captures restated in January", fxNotRevalued: "accept" });
    const closedAt = gateways.count();
    await gateways.waitFor(closedAt + 24);
    const posted = await gateways.stop();
    expect(r.statusCode, r.body).toBe(201);
    const c = json<Close>(r);
    expect(c.closedBefore).toBe("2025-01-01T00:00:00.000Z");

    const { before, after } = await expectBookedOnce(h.services, posted, c);
    expect(before + after).toBe(posted.length);
    expect(before).toBeGreaterThanOrEqual(24);
    expect(after).toBeGreaterThanOrEqual(24);
    // What was checked is what closed: the plan at the period's last instant, read now that nothing
    // more can enter it, leaves exactly what the close kept.
    const plan = await h.services.realisation.previewRevaluation(new Date("2024-12-31T23:59:59.999Z"));
    expect(c.fxNotRevalued ?? []).toEqual(unrevaluedPositions(plan));
  });

  it("refuses under the fence as without it, with the same details, and accepts with a note as without it", async () => {
    // The rates of the 1st and of the 2nd differ: an event of the 1st moves the position at the 2nd's rate.
    await publish(h, "2025-01-01", "2024-12-20");
    await publish(h, "2025-01-02", "2024-12-23");
    const at = "2025-01-02T23:59:59.999Z";
    let n = 0;
    const post = async () => {
      const id = `jan-race-${++n}`;
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: id, settlementId: `ORD-${id}`, sellerId: "S-POP-HK-02", occurredAt: "2025-01-01T10:00:00.000Z", amount: String(77_770 + n) }));
      expect(r.statusCode, r.body).toBe(201);
    };
    await post();
    // Each optimistic check finds the positions revalued at the period's last instant, and is
    // overtaken by an event booked into the period right after it: the third check is fenced, and
    // finds the last of those events unrevalued.
    const fenced: boolean[] = [];
    const racing: CloseFx = {
      async previewRevaluation(planAt, under) {
        fenced.push(under !== undefined);
        if (under !== undefined) return h.services.realisation.previewRevaluation(planAt, under);
        expect((await revalue(at)).statusCode).toBeLessThan(300);
        const plan = await h.services.realisation.previewRevaluation(planAt);
        expect(unrevaluedPositions(plan)).toEqual([]);
        await post();
        return plan;
      },
      closingRates: (ratesAt) => h.services.realisation.closingRates(ratesAt),
    };
    const closing = new PeriodClosing(h.services.ledger, null, racing);
    const before = new Date("2025-01-03T00:00:00Z");
    const refused = await rejected(closing.close({ before, note: "to the 2nd" }));
    expect(fenced).toEqual([false, false, true]);
    expect([refused.code, refused.status]).toEqual(["ENT_LEDGER_PERIOD_FX_NOT_REVALUED", 409]);
    // Nothing races a close now: the optimistic check's refusal is the fenced one's, details and all.
    const plain = await rejected(h.services.closing.close({ before, note: "to the 2nd" }));
    expect([plain.code, plain.message, plain.details]).toEqual([refused.code, refused.message, refused.details]);

    fenced.length = 0;
    const note = "to the 2nd: the late events restated in the next period";
    const accepted = await closing.close({ before, note, fxNotRevalued: "accept" });
    expect([accepted.status, fenced]).toEqual(["created", [false, false, true]]);
    expect(accepted.close.fxNotRevalued?.map((p) => [p.currency, p.status])).toEqual([["BRL", "would_book"]]);
    expect(accepted.close.fxNotRevalued).toEqual(unrevaluedPositions(await h.services.realisation.previewRevaluation(new Date(at))));
    // The retry of the latest close (a lost answer) is that close.
    const again = await h.services.closing.close({ before, note, fxNotRevalued: "accept" });
    expect([again.status, again.close.id]).toEqual(["exists", accepted.close.id]);
  });

  it("resolves the rate of a position opened between resolving the closing rates and taking the lock, and checks again under it", async () => {
    await publish(h, "2025-01-04", "2024-12-23");
    const at = "2025-01-04T23:59:59.999Z";
    let n = 0;
    const post = async (sellerId: string) => {
      const id = `jan-4-${++n}`;
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: id, settlementId: `ORD-${id}`, sellerId, occurredAt: "2025-01-04T10:00:00.000Z" }));
      expect(r.statusCode, r.body).toBe(201);
    };
    // Only a BRL position so far: every capture until now was for a seller paid in USD.
    await post("S-POP-HK-02");
    const rounds: string[] = [];
    let resolved = 0;
    const late: CloseFx = {
      async previewRevaluation(planAt, under) {
        if (under === undefined) {
          // Overtaken: the optimistic checks do not decide here.
          const plan = await h.services.realisation.previewRevaluation(planAt);
          await post("S-POP-HK-02");
          return plan;
        }
        try {
          const plan = await h.services.realisation.previewRevaluation(planAt, under);
          rounds.push(plan.lines.map((l) => l.currency).join(","));
          return plan;
        } catch (e) {
          rounds.push(e instanceof ClosingRatesMissing ? `missing ${e.currencies.join(",")}` : String(e));
          throw e;
        }
      },
      async closingRates(ratesAt) {
        resolved++;
        const rates = await h.services.realisation.closingRates(ratesAt);
        // A capture for a seller paid in CNY lands after the rates were resolved: a CNY position the rates do not hold.
        await post("S-POP-SZ-01");
        return rates;
      },
    };
    const closing = new PeriodClosing(h.services.ledger, null, late);
    const r = await closing.close({ before: new Date("2025-01-05T00:00:00Z"), note: "to the 4th, late events accepted", fxNotRevalued: "accept" });
    expect(r.status).toBe("created");
    expect([resolved, rounds]).toEqual([1, ["missing CNY", "BRL,CNY"]]);
    const plan = await h.services.realisation.previewRevaluation(new Date(at));
    expect(plan.lines.map((l) => l.currency)).toEqual(["BRL", "CNY"]);
    expect(r.close.fxNotRevalued).toEqual(unrevaluedPositions(plan));
  });

  it("closes (created) when an event lands in the period during every check: the optimistic ones are overtaken, the fenced one is not", async () => {
    await publish(h, "2025-01-05", "2024-12-23");
    let n = 0;
    // The gateway's next event arrives right after each check has read the journal head: every
    // check without the lock is overtaken (the old close answered 409 ENT_LEDGER_PERIOD_CHANGED).
    const ledger: ConstructorParameters<typeof PeriodClosing>[0] = {
      closePeriod: (input) => h.services.ledger.closePeriod(input),
      periodCloses: () => h.services.ledger.periodCloses(),
      trialBalance: (q) => h.services.ledger.trialBalance(q),
      async journalPosition(after) {
        const position = await h.services.ledger.journalPosition(after);
        const id = `jan-5-${++n}`;
        await inProcess(h)(capture({ gatewayEventId: id, settlementId: `ORD-${id}`, sellerId: "S-POP-HK-02", occurredAt: "2025-01-05T23:00:00.000Z", amount: String(50_000 + n) }));
        return position;
      },
    };
    const closing = new PeriodClosing(ledger, null, h.services.realisation);
    const r = await closing.close({ before: new Date("2025-01-06T00:00:00Z"), note: "to the 5th, late events accepted", fxNotRevalued: "accept" });
    expect([r.status, n]).toEqual(["created", 2]);
    const plan = await h.services.realisation.previewRevaluation(new Date("2025-01-05T23:59:59.999Z"));
    expect(r.close.fxNotRevalued ?? []).toEqual(unrevaluedPositions(plan));
    // Both events are in the closed period: booked before the close, at their own instant.
    for (let i = 1; i <= n; i++) {
      const tx = (await h.services.ledger.listTransactions({ metadata: { gatewayEventId: `jan-5-${i}` }, limit: 1 })).items[0];
      expect([tx?.effectiveAt.toISOString(), tx !== undefined && tx.sequence <= r.close.journalSequence]).toEqual(["2025-01-05T23:00:00.000Z", true]);
    }
  });

  it("documents the fenced close in /openapi.json", async () => {
    const doc = json<{ paths: Record<string, Record<string, { description: string }>> }>(await h.app.inject({ url: "/openapi.json" }));
    expect(doc.paths["/v1/ledger/periods/close"]?.["post"]?.description).toContain("under the journal head lock");
  });
});

describe.runIf(kinds.includes("postgres"))("two instances on one PostgreSQL: one closing while the other's gateways post into the period", () => {
  let h: Harness;
  let second: Database;
  let b: FastifyInstance;

  beforeAll(async () => {
    h = await openHarness({ kind: "postgres" });
    second = await openDatabase({ url: h.db.url! });
    b = await buildApp({ services: createServices(second, h.config), config: h.config, logger: false });
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await second?.close();
    await h?.close();
  });

  it("closes on B at the first ask while A books the events, each once, before the close or at its end", async () => {
    await publish(h, "2024-12-31", "2024-12-23");
    const at = "2024-12-31T23:59:59.999Z";
    const seed = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "two-seed", settlementId: "ORD-TWO-SEED", sellerId: "S-POP-HK-02", occurredAt: "2024-12-31T12:00:00.000Z" }));
    expect(seed.statusCode, seed.body).toBe(201);
    const controller = await h.services.apiKeys.create({ name: "controller", scopes: ["finance:read", "finance:write"] });
    expect((await h.post(`/v1/fx/revaluations?at=${encodeURIComponent(at)}`, {}, controller)).statusCode).toBe(201);

    const gateways = gatewaysPosting(overHttp(h), { prefix: "two", day: "2024-12-31", gateways: 2 });
    await gateways.waitFor(24);
    const payload = JSON.stringify({ before: "2025-01-01T00:00:00Z", note: "December, closed on instance B", fxNotRevalued: "accept" });
    const r = await b.inject({ method: "POST", url: "/v1/ledger/periods/close", payload, headers: { "content-type": "application/json", authorization: `Bearer ${controller.key}` } });
    const closedAt = gateways.count();
    await gateways.waitFor(closedAt + 24);
    const posted = await gateways.stop();
    expect(r.statusCode, r.body).toBe(201);
    const c = json<Close>(r);

    const { before, after } = await expectBookedOnce(h.services, posted, c);
    expect(before + after).toBe(posted.length);
    expect(before).toBeGreaterThanOrEqual(24);
    expect(after).toBeGreaterThanOrEqual(24);
    // A's own close check sees B's close: the period is closed on both.
    expect(json<{ closedBefore: string }>(await h.get("/v1/ledger/periods")).closedBefore).toBe("2025-01-01T00:00:00.000Z");
    expect(c.fxNotRevalued ?? []).toEqual(unrevaluedPositions(await h.services.realisation.previewRevaluation(new Date(at))));
  });
});
