import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";
import { EventBody } from "../../service/http/routes/settlements.js";

interface ResultBody {
  status: string;
  settlement: { id: string; eventKey: string; status: string; fx: Array<{ from: string; to: string; rate: string; quoteId: string | null }>; journalTransactionId: string };
  transaction: { id: string; postings: Array<{ currency: string; direction: string; amount: string }>; metadata: Record<string, string> };
}

describe("settlement routes", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
    await publishDayRates(h);
  });
  afterAll(async () => h.close());

  describe("POST /v1/settlements/events", () => {
    it("books a capture: 201 created, a balanced journal transaction, amounts as strings", async () => {
      const r = await h.signedPost("/v1/settlements/events", capture());
      expect(r.statusCode, r.body).toBe(201);
      const body = json<ResultBody>(r);
      expect(body.status).toBe("created");
      expect(body.settlement.status).toBe("posted");
      expect(body.settlement.journalTransactionId).toBe(body.transaction.id);
      const net: Record<string, bigint> = {};
      for (const p of body.transaction.postings) {
        expect(typeof p.amount).toBe("string");
        net[p.currency] = (net[p.currency] ?? 0n) + (p.direction === "debit" ? BigInt(p.amount) : -BigInt(p.amount));
      }
      for (const v of Object.values(net)) expect(v).toBe(0n);
    });

    it("shows a gateway key the running balance of its own receivable only: shared accounts move with other gateways' bookings", async () => {
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-balances", settlementId: "ORD-BALANCES" }));
      expect(r.statusCode, r.body).toBe(201);
      const answered = json<{ transaction: { id: string; postings: Array<{ account: string; balanceAfter: string | null }> } }>(r).transaction;
      const shown = Object.fromEntries(answered.postings.map((p) => [p.account, p.balanceAfter]));
      expect(shown["gateway:adyen:receivable"]).toMatch(/^-?[0-9]+$/);
      const others = Object.keys(shown).filter((a) => a !== "gateway:adyen:receivable");
      expect(others.length).toBeGreaterThan(3); // seller, revenue, tax, FX
      expect(others.filter((a) => shown[a] !== null)).toEqual([]);
      // The same in a batch's answer, and a replay's.
      const batch = await h.signedPost("/v1/settlements/events/batch", { events: [capture({ gatewayEventId: "evt-balances", settlementId: "ORD-BALANCES" })] });
      const item = json<{ results: Array<{ status: string; transaction: { postings: Array<{ account: string; balanceAfter: string | null }> } }> }>(batch).results[0]!;
      expect(item.status).toBe("exists");
      expect(item.transaction.postings.filter((p) => p.account !== "gateway:adyen:receivable" && p.balanceAfter !== null)).toEqual([]);
      // Finance reads every balance.
      const read = await h.get(`/v1/transactions/${answered.id}`, h.keys.finance);
      expect(json<{ postings: Array<{ balanceAfter: string | null }> }>(read).postings.every((p) => typeof p.balanceAfter === "string")).toBe(true);
    });

    it("books a capture priced by the seller in its payout currency: the listing is kept, read back, and a replay matches it", async () => {
      // S-POP-SZ-01 is paid in CNY and listed the item at 199.00 CNY, tax included.
      const body = capture({ gatewayEventId: "evt-listing", settlementId: "ORD-LIST-1", listingPrice: "19900", listingCurrency: "CNY" });
      const r = await h.signedPost("/v1/settlements/events", body);
      expect(r.statusCode, r.body).toBe(201);
      const created = json<ResultBody & { settlement: { event: Record<string, string>; breakdown: { lines: Record<string, string> } } }>(r);
      expect(created.settlement.event).toMatchObject({ listingPrice: "19900", listingCurrency: "CNY" });
      expect(created.transaction.metadata).toMatchObject({ listingPrice: "19900", listingCurrency: "CNY" });
      // No markup on the seller (nothing of theirs is converted); the checkout FX is the platform's.
      expect(created.settlement.breakdown.lines.fxMarkup).toBe("0");
      const read = json<{ event: Record<string, string> }>(await h.get(`/v1/settlements/${created.settlement.id}`));
      expect(read.event).toMatchObject({ listingPrice: "19900", listingCurrency: "CNY" });
      const again = await h.signedPost("/v1/settlements/events", body, h.keys.gateway, { at: new Date(Date.now() - 5_000) });
      expect([again.statusCode, json<ResultBody>(again).status]).toEqual([200, "exists"]);
      const other = await h.signedPost("/v1/settlements/events", { ...body, listingPrice: "19901" });
      expect(problemCode(other)).toBe("ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT");
      const euro = await h.signedPost("/v1/settlements/events", { ...body, gatewayEventId: "evt-listing-eur", listingCurrency: "EUR" });
      expect([euro.statusCode, json<{ errors: Array<{ field: string }> }>(euro).errors[0]?.field]).toEqual([400, "listingCurrency"]);
    });

    it("books full hosting as principal: a customer return leaves the supplier paid, a defect return takes its share back", async () => {
      const cap = capture({ gatewayEventId: "evt-fh", settlementId: "ORD-FH-1", sellerId: "S-FULL-GZ-01", supplyPrice: "6000" });
      const booked = await h.signedPost("/v1/settlements/events", cap);
      expect(booked.statusCode, booked.body).toBe(201);
      const supplier = async () => json<{ posted: string }>(await h.get("/v1/accounts/seller:S-FULL-GZ-01:available/CNY/balance")).posted;
      const paid = await supplier();
      const refund = (id: string, over: Record<string, unknown>) =>
        h.signedPost("/v1/settlements/events", { ...cap, type: "refund", gatewayEventId: id, originalEventId: "evt-fh", amount: "4000", gatewayFee: "0", occurredAt: "2024-12-02T12:00:00.000Z", supplyPrice: undefined, shipToRegion: undefined, ...over });
      const byBuyer = await refund("evt-fh-r1", { returnReason: "buyer" });
      expect(byBuyer.statusCode, byBuyer.body).toBe(201);
      expect(json<{ settlement: { event: { returnReason: string } } }>(byBuyer).settlement.event.returnReason).toBe("buyer");
      expect(await supplier()).toBe(paid);
      expect(BigInt(json<{ posted: string }>(await h.get("/v1/accounts/platform:inventory:returned_goods/USD/balance")).posted)).toBeGreaterThan(0n);
      const byDefect = await refund("evt-fh-r2", { returnReason: "supplier_defect" });
      expect(byDefect.statusCode, byDefect.body).toBe(201);
      // 4000 of 14990: the supplier repays 6000 x 4000/14990 = 1601.07 -> 1601 fen.
      expect(BigInt(await supplier())).toBe(BigInt(paid) - 1601n);
      const onCapture = await h.signedPost("/v1/settlements/events", { ...cap, gatewayEventId: "evt-fh-2", returnReason: "buyer" });
      expect([onCapture.statusCode, json<{ errors: Array<{ field: string }> }>(onCapture).errors[0]?.field]).toEqual([400, "returnReason"]);
    });

    it("answers a replay with 200 exists and the original transaction", async () => {
      const first = json<ResultBody>(await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-replay" })));
      // A retry is signed again: a different timestamp, hence a different signature.
      const again = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-replay" }), h.keys.gateway, { at: new Date(Date.now() - 5_000) });
      expect(again.statusCode).toBe(200);
      expect(json<ResultBody>(again).status).toBe("exists");
      expect(json<ResultBody>(again).transaction.id).toBe(first.transaction.id);
    });

    it("refuses the same event id with another body: 409 ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT", async () => {
      await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-conflict" }));
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-conflict", amount: "99999" }));
      expect(r.statusCode).toBe(409);
      expect(problemCode(r)).toBe("ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT");
    });

    it("refuses an unknown currency: 400 naming the field", async () => {
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-xyz", currency: "XYZ" }));
      expect(r.statusCode).toBe(400);
      expect(problemCode(r)).toBe("ENT_SETTLEMENT_INVALID_EVENT");
      expect(json<{ errors: Array<{ field: string }> }>(r).errors[0]?.field).toBe("currency");
    });

    it("takes a fee adjustment without amount (README: \"0\" or absent), and names amount when a capture has none", async () => {
      await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-noamt-cap", settlementId: "ORD-NOAMT" }));
      const withoutAmount = (e: Record<string, unknown>) => Object.fromEntries(Object.entries(e).filter(([k]) => k !== "amount"));
      const adjustment = withoutAmount({ ...capture({ type: "fee_adjustment", gatewayEventId: "evt-noamt-fa", settlementId: "ORD-NOAMT", gatewayFee: "50" }), originalEventId: "evt-noamt-cap" });
      const r = await h.signedPost("/v1/settlements/events", adjustment);
      expect(r.statusCode, r.body).toBe(201);
      const refused = await h.signedPost("/v1/settlements/events", withoutAmount(capture({ gatewayEventId: "evt-noamt-cap2" })));
      expect([refused.statusCode, problemCode(refused)]).toEqual([400, "ENT_SETTLEMENT_INVALID_EVENT"]);
      expect(json<{ errors: Array<{ field: string }> }>(refused).errors[0]?.field).toBe("amount");
    });

    it("refuses a gatewayEventId under the system's release prefixes: 400 ENT_SETTLEMENT_RESERVED_EVENT_ID naming it, alone and in a batch", async () => {
      const fields = (r: { body: string }) => json<{ errors: Array<{ field: string }> }>(r as never).errors.map((e) => e.field);
      for (const id of ["auto-release.hj-1", "auto-reserve.hj-1"]) {
        const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: id, settlementId: "ORD-SQUAT", amount: "1", gatewayFee: "0" }));
        expect([r.statusCode, problemCode(r), fields(r)], r.body).toEqual([400, "ENT_SETTLEMENT_RESERVED_EVENT_ID", ["gatewayEventId"]]);
      }
      const batch = await h.signedPost("/v1/settlements/events/batch", { events: [capture({ gatewayEventId: "auto-release.hj-2", settlementId: "ORD-SQUAT" })] });
      const item = json<{ results: Array<{ status: string; error?: { code: string; errors?: Array<{ field: string }> } }> }>(batch).results[0];
      expect([item?.error?.code, item?.error?.errors?.map((f) => f.field)]).toEqual(["ENT_SETTLEMENT_RESERVED_EVENT_ID", ["events.0.gatewayEventId"]]);
      // Only the prefix is reserved: an id that merely contains it is the gateway's.
      const own = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "x.auto-release.hj-1", settlementId: "ORD-SQUAT-OWN" }));
      expect(own.statusCode, own.body).toBe(201);
    });

    it("refuses a full-hosting supply price above the order's gross: 422 ENT_SETTLEMENT_SUPPLY_PRICE_OUT_OF_RANGE naming supplyPrice", async () => {
      const cap = capture({ gatewayEventId: "evt-fh-huge", settlementId: "ORD-FH-HUGE", sellerId: "S-FULL-GZ-01", supplyPrice: "1000000000000000" });
      const r = await h.signedPost("/v1/settlements/events", cap);
      expect([r.statusCode, problemCode(r)], r.body).toEqual([422, "ENT_SETTLEMENT_SUPPLY_PRICE_OUT_OF_RANGE"]);
      const issue = json<{ errors: Array<{ field: string; message: string }> }>(r).errors[0];
      expect(issue?.field).toBe("supplyPrice");
      expect(issue?.message).toMatch(/^must be at most [1-9][0-9]* CNY minor units: the order's gross of 14990 BRL at the mid rate$/);
      // The limit it names is bookable, one more is not.
      const limit = /at most ([0-9]+)/.exec(issue?.message ?? "")![1]!;
      const over = await h.signedPost("/v1/settlements/events", { ...cap, supplyPrice: (BigInt(limit) + 1n).toString() });
      expect(problemCode(over)).toBe("ENT_SETTLEMENT_SUPPLY_PRICE_OUT_OF_RANGE");
      const at = await h.signedPost("/v1/settlements/events", { ...cap, supplyPrice: limit });
      expect(at.statusCode, at.body).toBe(201);
    });

    it("refuses a fee credit-back above the fees charged on the order: 422 ENT_SETTLEMENT_FEE_CREDIT_EXCEEDS_CHARGED naming gatewayFee", async () => {
      await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-fa-cap", settlementId: "ORD-FA" }));
      const adjust = (id: string, gatewayFee: string) => ({ ...capture({ type: "fee_adjustment", gatewayEventId: id, settlementId: "ORD-FA", amount: "0", gatewayFee }), originalEventId: "evt-fa-cap" });
      const huge = await h.signedPost("/v1/settlements/events", adjust("evt-fa-huge", "-1000000"));
      expect([huge.statusCode, problemCode(huge)], huge.body).toEqual([422, "ENT_SETTLEMENT_FEE_CREDIT_EXCEEDS_CHARGED"]);
      expect(json<{ errors: Array<{ field: string; message: string }> }>(huge).errors).toEqual([
        { field: "gatewayFee", message: "must be at least -434: at most the 434 BRL minor units of fees still charged on the order" },
      ]);
      expect((await h.signedPost("/v1/settlements/events", adjust("evt-fa-400", "-400"))).statusCode).toBe(201);
      expect(problemCode(await h.signedPost("/v1/settlements/events", adjust("evt-fa-35", "-35")))).toBe("ENT_SETTLEMENT_FEE_CREDIT_EXCEEDS_CHARGED");
      expect((await h.signedPost("/v1/settlements/events", adjust("evt-fa-34", "-34"))).statusCode).toBe(201);
    });

    it("refuses an unknown seller: 404 ENT_SETTLEMENT_UNKNOWN_SELLER", async () => {
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-seller", sellerId: "S-NOBODY" }));
      expect(r.statusCode).toBe(404);
      expect(problemCode(r)).toBe("ENT_SETTLEMENT_UNKNOWN_SELLER");
    });

    it("refuses an event before the seller's program has a fee schedule there, naming occurredAt and when the first came into force", async () => {
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-early", occurredAt: "2019-06-01T09:00:00.000Z" }));
      expect([r.statusCode, problemCode(r)], r.body).toEqual([422, "ENT_SETTLEMENT_UNKNOWN_PROGRAM"]);
      const p = json<{ detail: string; errors: Array<{ field: string; message: string }> }>(r);
      expect(p.errors.map((e) => e.field)).toEqual(["occurredAt"]);
      expect(p.detail).toMatch(/the first is in force from \d{4}-\d{2}-\d{2}T/);
    });

    it("refuses an event whose FX rate is stale (no rate valid at that instant): 422 ENT_SETTLEMENT_FX_UNAVAILABLE", async () => {
      // Rates are valid for 2024-12-02 only; an event three days later finds only a stale window.
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-stale", occurredAt: "2024-12-05T09:00:00.000Z" }));
      expect(r.statusCode).toBe(422);
      expect(problemCode(r)).toBe("ENT_SETTLEMENT_FX_UNAVAILABLE");
      expect(json<{ details: { fxCode: string } }>(r).details.fxCode).toBe("ENT_FX_RATE_STALE");
    });

    it("refuses a number where an amount string is expected: 400 ENT_REQUEST_VALIDATION naming amount", async () => {
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-num", amount: 14990 }));
      expect(r.statusCode).toBe(400);
      expect(problemCode(r)).toBe("ENT_REQUEST_VALIDATION");
      expect(json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field)).toContain("amount");
    });

    it("refuses unknown fields and lists every bad field", async () => {
      const body = capture({ gatewayEventId: "evt-fields", surprise: 1, market: "brazil" });
      delete body["sellerId"];
      const r = await h.signedPost("/v1/settlements/events", body);
      expect(problemCode(r)).toBe("ENT_REQUEST_VALIDATION");
      const fields = json<{ errors: Array<{ field: string }> }>(r).errors.map((e) => e.field);
      expect(fields).toEqual(expect.arrayContaining(["surprise", "market", "sellerId"]));
    });
  });

  describe("POST /v1/settlements/events/batch", () => {
    it("answers per item by index: created, error with its code, exists, and a follow-up booked after its capture", async () => {
      const events = [
        capture({ gatewayEventId: "b-1", settlementId: "ORD-B-1" }),
        capture({ gatewayEventId: "b-2", currency: "XYZ" }),
        capture({ gatewayEventId: "evt-replay" }),
        { ...capture({ gatewayEventId: "b-1-refund", settlementId: "ORD-B-1", type: "refund", amount: "5000", gatewayFee: "0" }), originalEventId: "b-1" },
        capture({ gatewayEventId: "evt-conflict", amount: "2000" }),
      ];
      const r = await h.signedPost("/v1/settlements/events/batch", { events });
      expect(r.statusCode, r.body).toBe(200);
      const results = json<{ results: Array<{ index: number; status: string; error?: { code: string } }> }>(r).results;
      expect(results.map((x) => [x.index, x.status, x.error?.code])).toEqual([
        [0, "created", undefined],
        [1, "error", "ENT_SETTLEMENT_INVALID_EVENT"],
        [2, "exists", undefined],
        [3, "created", undefined],
        [4, "error", "ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT"],
      ]);
    });

    it("answers booked items by their ids only with Prefer: return=minimal, errors in full, and says so", async () => {
      type Item = { index: number; status: string; settlementId?: string; transactionId?: string; settlement?: unknown; transaction?: unknown; error?: { code: string; message: string } };
      const events = [
        capture({ gatewayEventId: "min-1", settlementId: "ORD-MIN-1" }),
        capture({ gatewayEventId: "min-2", currency: "XYZ" }),
      ];
      const r = await h.signedPost("/v1/settlements/events/batch", { events }, undefined, { headers: { prefer: "respond-async, return=minimal" } });
      expect(r.statusCode, r.body).toBe(200);
      expect(r.headers["preference-applied"]).toBe("return=minimal");
      const [booked, refused] = json<{ results: Item[] }>(r).results;
      expect(Object.keys(booked!).sort()).toEqual(["index", "settlementId", "status", "transactionId"]);
      expect(booked).toMatchObject({ index: 0, status: "created" });
      expect(refused).toMatchObject({ index: 1, status: "error", error: { code: "ENT_SETTLEMENT_INVALID_EVENT" } });
      expect(refused!.error!.message.length).toBeGreaterThan(0);
      // The ids are the settlement's and its transaction's, as the full answer gives them.
      const stored = json<{ id: string; journalTransactionId: string }>(await h.get(`/v1/settlements/${booked!.settlementId}`));
      expect([stored.id, stored.journalTransactionId]).toEqual([booked!.settlementId, booked!.transactionId]);
      // A replay without the preference: the full answer, the same ids, no Preference-Applied.
      const again = await h.signedPost("/v1/settlements/events/batch", { events: events.slice(0, 1) }, undefined, { headers: { prefer: "return=representation" } });
      expect(again.headers["preference-applied"]).toBeUndefined();
      const full = json<{ results: Array<Item & { settlement: { id: string }; transaction: { id: string } }> }>(again).results[0]!;
      expect([full.status, full.settlement.id, full.transaction.id]).toEqual(["exists", booked!.settlementId, booked!.transactionId]);
    });

    it("answers an event that fails the schema as that item's error, naming its fields, and books the others", async () => {
      type Item = { index: number; status: string; settlement?: { eventKey: string }; error?: { code: string; status?: number; errors?: Array<{ field: string }> } };
      const events = [
        capture({ gatewayEventId: "sch-1", settlementId: "ORD-SCH-1" }),
        { ...capture({ gatewayEventId: "sch-2", settlementId: "ORD-SCH-2" }), amount: "-1", surprise: true },
        42,
        { ...capture({ gatewayEventId: "sch-4", settlementId: "ORD-SCH-4" }), type: "x".repeat(300) },
        capture({ gatewayEventId: "sch-5", settlementId: "ORD-SCH-5" }),
        // Past the schema, refused by the service: named by their index in this request, not among
        // the items that passed the schema (5 and 6 were once answered as events.2 and sellerId).
        capture({ gatewayEventId: "sch-6", settlementId: "ORD-SCH-6", amount: String(10n ** 15n + 1n) }),
        capture({ gatewayEventId: "sch-7", settlementId: "ORD-SCH-7", sellerId: "S-NOBODY" }),
      ];
      const r = await h.signedPost("/v1/settlements/events/batch", { events });
      expect(r.statusCode, r.body).toBe(200);
      const results = json<{ results: Item[] }>(r).results;
      // Each error carries the status its code answers alone, as GET /problems lists it.
      expect(results.map((x) => [x.index, x.status, x.error?.code, x.error?.status])).toEqual([
        [0, "created", undefined, undefined],
        [1, "error", "ENT_REQUEST_VALIDATION", 400],
        [2, "error", "ENT_REQUEST_VALIDATION", 400],
        [3, "error", "ENT_REQUEST_VALIDATION", 400],
        [4, "created", undefined, undefined],
        [5, "error", "ENT_SETTLEMENT_INVALID_EVENT", 400],
        [6, "error", "ENT_SETTLEMENT_UNKNOWN_SELLER", 404],
      ]);
      const catalogue = json<Array<{ code: string; status: number }>>(await h.app.inject({ url: "/problems" }));
      for (const x of results.filter((y) => y.error !== undefined)) expect(catalogue.find((c) => c.code === x.error!.code)?.status).toBe(x.error!.status);
      const fields = (i: number) => [...new Set(results[i]!.error!.errors!.map((f) => f.field))].sort();
      expect(fields(1)).toEqual(["events.1.amount", "events.1.surprise"]);
      expect(fields(2)).toEqual(["events.2"]);
      expect(fields(3)).toEqual(["events.3.type"]);
      expect(fields(5)).toEqual(["events.5.amount"]);
      expect(fields(6)).toEqual(["events.6.sellerId"]);
      // The refused events were not booked; the others were, as if sent alone.
      for (const id of ["sch-2", "sch-4"]) expect(json<{ items: unknown[] }>(await h.get(`/v1/settlements?gatewayEventId=${id}`)).items).toEqual([]);
      expect(json<{ items: unknown[] }>(await h.get("/v1/settlements?gatewayEventId=sch-5")).items).toHaveLength(1);
      // The metric counts the refused events as "invalid", never under the type they sent.
      const metrics = (await h.app.inject({ url: "/metrics" })).body;
      expect(metrics).toMatch(/type="invalid",result="ENT_REQUEST_VALIDATION"} 3/);
      expect(metrics).not.toContain("xxxxxxxxxx");
    });

    it("refuses a NUL character in any string field of one event as that event's error, and books the others", async () => {
      // Every string field of the event schema (enumerations included): the body parser leaves NUL
      // to this route's schema, so a field that accepted one would reach PostgreSQL, which stores none.
      const props = (EventBody as unknown as { properties: Record<string, { type?: string; anyOf?: unknown[] }> }).properties;
      const fields = Object.keys(props).filter((f) => props[f]!.type === "string" || props[f]!.anyOf !== undefined);
      expect(fields.length).toBeGreaterThan(15);
      const events = [
        capture({ gatewayEventId: "nul-ok", settlementId: "ORD-NUL-OK" }),
        ...fields.map((f, i) => {
          const e = capture({ gatewayEventId: `nul-${i}`, settlementId: `ORD-NUL-${i}` });
          return { ...e, [f]: `${typeof e[f] === "string" ? e[f] : "X"}\u0000` };
        }),
      ];
      const r = await h.signedPost("/v1/settlements/events/batch", { events });
      expect(r.statusCode, r.body).toBe(200);
      const results = json<{ results: Array<{ index: number; status: string; error?: { code: string; errors?: Array<{ field: string }> } }> }>(r).results;
      expect(results[0]!.status).toBe("created");
      fields.forEach((f, i) => {
        const item = results[i + 1]!;
        expect([f, item.status, item.error?.code], JSON.stringify(item)).toEqual([f, "error", "ENT_REQUEST_VALIDATION"]);
        expect(item.error!.errors!.map((x) => x.field)).toContain(`events.${i + 1}.${f}`);
      });
      // The one-event route still refuses the body as a whole, naming the field.
      const single = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "nul-single", sellerId: "S-POP\u0000" }));
      expect(problemCode(single)).toBe("ENT_REQUEST_VALIDATION");
      expect(json<{ errors: Array<{ field: string; message: string }> }>(single).errors).toEqual([{ field: "sellerId", message: "must not contain NUL (\\u0000) characters" }]);
    });

    it("refuses a body that is not {events: [...]} as a whole, naming the field", async () => {
      const extra = await h.signedPost("/v1/settlements/events/batch", { events: [capture({ gatewayEventId: "env-1" })], note: "x" });
      expect(problemCode(extra)).toBe("ENT_REQUEST_VALIDATION");
      expect(json<{ errors: Array<{ field: string }> }>(extra).errors.map((f) => f.field)).toEqual(["note"]);
      const none = await h.signedPost("/v1/settlements/events/batch", { event: capture({ gatewayEventId: "env-2" }) });
      expect(json<{ errors: Array<{ field: string }> }>(none).errors.map((f) => f.field).sort()).toEqual(["event", "events"]);
      const notArray = await h.signedPost("/v1/settlements/events/batch", { events: capture({ gatewayEventId: "env-3" }) });
      expect(json<{ errors: Array<{ field: string }> }>(notArray).errors.map((f) => f.field)).toEqual(["events"]);
      expect(json<{ items: unknown[] }>(await h.get("/v1/settlements?gatewayEventId=env-1")).items).toEqual([]);
    });

    it("refuses an empty batch and one above BATCH_MAX_ITEMS by schema", async () => {
      const empty = await h.signedPost("/v1/settlements/events/batch", { events: [] });
      expect(problemCode(empty)).toBe("ENT_REQUEST_VALIDATION");
      const tooMany = await h.signedPost("/v1/settlements/events/batch", { events: Array.from({ length: h.config.http.batchMaxItems + 1 }, (_, i) => capture({ gatewayEventId: `many-${i}` })) });
      expect(problemCode(tooMany)).toBe("ENT_REQUEST_VALIDATION");
      expect(json<{ errors: Array<{ field: string }> }>(tooMany).errors[0]?.field).toBe("events");
    });
  });

  describe("reading settlements", () => {
    it("gets a record by id and by event key, and lists an order's records", async () => {
      const created = json<ResultBody>(await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-read", settlementId: "ORD-READ" })));
      const byId = await h.get(`/v1/settlements/${created.settlement.id}`);
      expect(byId.statusCode).toBe(200);
      expect(json<{ eventKey: string }>(byId).eventKey).toBe(created.settlement.eventKey);
      const byKey = await h.get(`/v1/settlements/${encodeURIComponent(created.settlement.eventKey)}`);
      expect(json<{ id: string }>(byKey).id).toBe(created.settlement.id);
      const order = json<{ items: Array<{ id: string }> }>(await h.get("/v1/orders/ORD-READ/settlements"));
      expect(order.items.map((i) => i.id)).toEqual([created.settlement.id]);
    });

    it("reads a release the maintenance worker booked by its event key and lists it by its event id (auto-release~<capture id>)", async () => {
      const created = json<ResultBody>(await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-held", settlementId: "ORD-HELD" })));
      const released = await h.services.settlement.releaseDue(new Date("2030-01-01T00:00:00Z"));
      expect(released.filter((r) => r.status !== "created")).toEqual([]);
      const eventId = `auto-release~${created.settlement.id}`;
      const byKey = await h.get(`/v1/settlements/${encodeURIComponent(`settlement:adyen:${eventId}`)}`);
      expect(byKey.statusCode, byKey.body).toBe(200);
      expect(json<{ event: { type: string } }>(byKey).event.type).toBe("release");
      const listed = await h.get(`/v1/settlements?gatewayEventId=${encodeURIComponent(eventId)}`);
      expect(listed.statusCode, listed.body).toBe(200);
      expect(json<{ items: Array<{ id: string }> }>(listed).items.map((i) => i.id)).toEqual([json<{ id: string }>(byKey).id]);
    });

    it("answers 404 ENT_SETTLEMENT_NOT_FOUND for an unknown settlement", async () => {
      const r = await h.get("/v1/settlements/adyen:nope");
      expect(r.statusCode).toBe(404);
      expect(problemCode(r)).toBe("ENT_SETTLEMENT_NOT_FOUND");
    });
  });
});
