/**
 * Instants in queries and bodies are bounded by their UTC instant, not by the year as written: an
 * offset may carry `9999-12-31T23:59:59.999-23:59` into year 10000 (PostgreSQL: "time zone
 * displacement out of range", a 500; the journal export answered 200 and dropped the connection) and
 * `1970-01-01T00:00:00+23:59` back into 1969 (answered 200, or a 500 when the answer was serialised).
 * Every one is a 400 ENT_REQUEST_VALIDATION naming the parameter, on PGlite and PostgreSQL.
 */
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { isInstant } from "../../service/http/schemas/common.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();
const PAST_9999 = "9999-12-31T23:59:59.999-23:59";
const BEFORE_1970 = "1970-01-01T00:00:00%2B23:59";
const BALANCE = "/v1/accounts/gateway:adyen:receivable/BRL/balance";
const STATEMENTS = "/v1/sellers/S-POP-SZ-01/statements";
const TAX_RETURNS = "/v1/tax/returns?market=ES&scheme=EU_IOSS";

/** [url, the parameter the 400 names] */
const OUT_OF_RANGE: Array<[string, string]> = [
  [`/v1/transactions?to=${PAST_9999}`, "query.to"],
  [`/v1/transactions?from=${PAST_9999}`, "query.from"],
  [`/v1/transactions?from=${BEFORE_1970}`, "query.from"],
  [`/v1/ledger/trial-balance?to=${PAST_9999}`, "query.to"],
  [`/v1/ledger/trial-balance?from=${BEFORE_1970}&to=2025-01-01T00:00:00Z`, "query.from"],
  [`${BALANCE}?at=${PAST_9999}`, "query.at"],
  [`${BALANCE}?bookedAt=${PAST_9999}`, "query.bookedAt"],
  [`${BALANCE}?at=${BEFORE_1970}`, "query.at"],
  [`${STATEMENTS}?from=2024-01-01T00:00:00Z&to=${PAST_9999}`, "query.to"],
  [`${STATEMENTS}?from=${BEFORE_1970}&to=2025-01-01T00:00:00Z`, "query.from"],
  [`${TAX_RETURNS}&from=2024-12-01T00:00:00Z&to=${PAST_9999}`, "query.to"],
  [`/v1/journal/export?from=2024-12-01T00:00:00Z&to=${PAST_9999}`, "query.to"],
  [`/v1/journal/export?from=${BEFORE_1970}&to=2025-01-01T00:00:00Z`, "query.from"],
];

/** The last instants inside the range, written with and without an offset: answered, never a 500. */
const AT_THE_BOUNDS = [
  `/v1/transactions?from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z`,
  `/v1/transactions?from=1970-01-01T23:59:00%2B23:59&to=9999-12-31T00:00:59.999-23:59`,
  `/v1/ledger/trial-balance?from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z`,
  `${BALANCE}?at=9999-12-31T23:59:59.999Z`,
  `${BALANCE}?bookedAt=9999-12-31T00:00:59.999-23:59`,
  `${STATEMENTS}?from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z`,
  `${TAX_RETURNS}&from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z`,
  `/v1/journal/export?from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z`,
];

function fieldsOf(r: LightMyRequestResponse): Array<{ field: string; message: string }> {
  return json<{ errors?: Array<{ field: string; message: string }> }>(r).errors ?? [];
}

describe("isInstant (the date-time format of request schemas)", () => {
  it("takes an RFC 3339 instant whose UTC instant is in 1970-9999, to the millisecond", () => {
    for (const s of ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "2024-12-02T09:00:00.123000000Z", "2024-12-02t09:00:00+05:30", "2024-02-29T00:00:00-01:00", "1970-01-01T23:59:00+23:59"]) {
      expect(isInstant(s), s).toBe(true);
    }
  });

  it("refuses an offset that moves it out of 1970-9999, digits past the millisecond, and what new Date() reads otherwise", () => {
    for (const s of ["9999-12-31T23:59:59.999-23:59", "1970-01-01T00:00:00+00:01", "1969-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "2024-12-02T09:00:00.123456789Z", "2024-12-02T09:00:00.0001Z", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-12-02T24:00:00Z", "2016-12-31T23:59:60Z", "2024-12-02T09:00:00+01", "2024-12-02T09:00:00+24:00", "2024-12-02T09:00:00", "2024-12-02"]) {
      expect(isInstant(s), s).toBe(false);
    }
  });
});

describe.each(kinds)("instants on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "inst-1", settlementId: "ORD-INST-1" }));
    expect(r.statusCode, r.body).toBe(201);
  });
  afterAll(async () => h?.close());

  it.each(OUT_OF_RANGE)("GET %s: 400 ENT_REQUEST_VALIDATION naming %s", async (url, field) => {
    const r = await h.get(url);
    expect([r.statusCode, problemCode(r)], r.body).toEqual([400, "ENT_REQUEST_VALIDATION"]);
    expect(fieldsOf(r).map((f) => f.field), r.body).toEqual([field]);
  });

  it.each(AT_THE_BOUNDS)("GET %s: answered", async (url) => {
    const r = await h.get(url);
    expect(r.statusCode, r.body).toBe(200);
  });

  it("words an offset past the range, and a year outside it, once", async () => {
    const offset = await h.get(`/v1/transactions?to=${PAST_9999}`);
    expect(fieldsOf(offset)).toEqual([{ field: "query.to", message: "must be an RFC 3339 instant in the years 1970 to 9999 once converted to UTC, with no non-zero digits past the millisecond" }]);
    const year = await h.get("/v1/transactions?to=1969-12-31T23:59:59Z");
    expect(fieldsOf(year)).toEqual([{ field: "query.to", message: "must be an instant in the years 1970 to 9999" }]);
  });

  it("refuses a leap second or an offset new Date() cannot read (Invalid Date): 400, not a 500", async () => {
    for (const [url, field] of [["/v1/transactions?to=2016-12-31T23:59:60Z", "query.to"], ["/v1/transactions?to=2024-12-02T09:00:00%2B01", "query.to"], [`${BALANCE}?at=2024-02-30T00:00:00Z`, "query.at"]] as const) {
      const r = await h.get(url);
      expect([r.statusCode, problemCode(r), fieldsOf(r).map((f) => f.field)], `${url} ${r.body}`).toEqual([400, "ENT_REQUEST_VALIDATION", [field]]);
    }
  });

  it("the journal export checks its period before it answers: a 400 problem, never a 200 with a cut body", async () => {
    const r = await h.get(`/v1/journal/export?from=2024-12-01T00:00:00Z&to=${PAST_9999}`);
    expect([r.statusCode, String(r.headers["content-type"])]).toEqual([400, "application/problem+json"]);
  });

  it("the journal export reads its first page before it answers: a query that fails is a problem document, not a 200 with a header line", async () => {
    // eslint-disable-next-line require-yield -- a query that fails before its first row
    const failing = vi.spyOn(h.services.ledger, "exportJournal").mockImplementation(async function* () {
      throw new Error("relation does not exist");
    });
    try {
      const r = await h.get("/v1/journal/export?from=2024-12-01T00:00:00Z&to=2025-01-01T00:00:00Z");
      expect([r.statusCode, problemCode(r)], r.body).toEqual([500, "ENT_INTERNAL"]);
      expect(failing).toHaveBeenCalledOnce();
    } finally {
      failing.mockRestore();
    }
    const r = await h.get("/v1/journal/export?from=2024-12-01T00:00:00Z&to=2025-01-01T00:00:00Z");
    expect([r.statusCode, r.body.split("\n").filter((l) => l !== "").length > 1], r.body).toEqual([200, true]);
  });

  describe("in a body", () => {
    it("an occurredAt whose UTC instant is past 9999 or before 1970: 400 naming occurredAt, nothing booked", async () => {
      for (const occurredAt of ["9999-12-31T23:59:59.999-23:59", "1970-01-01T00:00:00+23:59"]) {
        const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: `inst-range-${occurredAt.slice(0, 4)}`, settlementId: "ORD-INST-R", occurredAt }));
        expect([r.statusCode, problemCode(r), fieldsOf(r).map((f) => f.field)], r.body).toEqual([400, "ENT_REQUEST_VALIDATION", ["occurredAt"]]);
      }
    });

    it("an occurredAt with non-zero digits past the millisecond: 400 naming it; trailing zeros are the same instant", async () => {
      const subMs = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "inst-ns", settlementId: "ORD-INST-NS", occurredAt: "2024-12-02T09:00:00.123456789Z" }));
      expect([subMs.statusCode, problemCode(subMs), fieldsOf(subMs).map((f) => f.field)], subMs.body).toEqual([400, "ENT_REQUEST_VALIDATION", ["occurredAt"]]);
      const zeros = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "inst-ns", settlementId: "ORD-INST-NS", occurredAt: "2024-12-02T09:00:00.123000Z" }));
      expect(zeros.statusCode, zeros.body).toBe(201);
      expect(json<{ settlement: { event: { occurredAt: string } } }>(zeros).settlement.event.occurredAt).toBe("2024-12-02T09:00:00.123Z");
      // A different instant under the same id is a conflict, never a silent `exists`.
      const other = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "inst-ns", settlementId: "ORD-INST-NS", occurredAt: "2024-12-02T09:00:00.124Z" }));
      expect([other.statusCode, problemCode(other)], other.body).toEqual([409, "ENT_SETTLEMENT_IDEMPOTENCY_CONFLICT"]);
    });

    it("a batch item with such an occurredAt fails alone, naming events.<i>.occurredAt", async () => {
      const r = await h.signedPost("/v1/settlements/events/batch", { events: [capture({ gatewayEventId: "inst-b1", settlementId: "ORD-INST-B1", occurredAt: "2024-12-02T09:00:00.000001Z" })] });
      expect(r.statusCode, r.body).toBe(200);
      const item = json<{ results: Array<{ status: string; error?: { code: string; errors?: Array<{ field: string }> } }> }>(r).results[0];
      expect([item?.status, item?.error?.code, item?.error?.errors?.map((e) => e.field)]).toEqual(["error", "ENT_REQUEST_VALIDATION", ["events.0.occurredAt"]]);
    });

    it("an FX rate's validFrom past 9999 in UTC: 400 naming it", async () => {
      const r = await h.post("/v1/fx/rates", { rates: [{ base: "USD", quote: "BRL", rate: "5.1", source: "bank", asOf: "2024-12-02T00:00:00Z", validFrom: PAST_9999 }] }, h.keys.admin);
      expect([r.statusCode, problemCode(r), fieldsOf(r).map((f) => f.field)], r.body).toEqual([400, "ENT_REQUEST_VALIDATION", ["rates.0.validFrom"]]);
    });
  });
});
