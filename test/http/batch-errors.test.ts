/**
 * Schema failures are answered in a bounded size. A batch of 1000 events with 110 unknown fields
 * each (882 KB) was answered with 78 MB of field errors; 1001 empty events (3 KB) with a 509 KB 400
 * listing every item. Now a batch item lists at most 10 of its field errors (its message counts them
 * all), a batch over BATCH_MAX_ITEMS is a 400 naming `events` and the limit alone, and any problem
 * lists at most 100 fields. On PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseKinds } from "../support/db.js";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

interface Item {
  index: number;
  status: string;
  error?: { code: string; message: string; errors?: Array<{ field: string; message: string }> };
}
interface Problem {
  code: string;
  detail: string;
  errors: Array<{ field: string; message: string }>;
}

function unknownKeys(n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, k) => [`unknownField${String(k).padStart(3, "0")}`, "x"]));
}

describe.each(kinds)("bounded validation answers on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
  });
  afterAll(async () => h?.close());

  it("a batch item with 110 unknown fields lists 10 and counts 110; the valid item beside it is booked", async () => {
    const bad = { ...capture({ gatewayEventId: "be-bad", settlementId: "ORD-BE-BAD" }), ...unknownKeys(110) };
    const r = await h.signedPost("/v1/settlements/events/batch", { events: [capture({ gatewayEventId: "be-ok", settlementId: "ORD-BE-OK" }), bad] });
    expect(r.statusCode, r.body.slice(0, 500)).toBe(200);
    const [ok, item] = json<{ results: Item[] }>(r).results;
    expect(ok?.status).toBe("created");
    expect([item?.index, item?.status, item?.error?.code]).toEqual([1, "error", "ENT_REQUEST_VALIDATION"]);
    expect(item?.error?.message).toMatch(/^110 invalid fields \(the first 10 listed\): events\.1\.unknownField000 is not an accepted field; /);
    expect(item?.error?.errors).toEqual(Array.from({ length: 10 }, (_, k) => ({ field: `events.1.unknownField${String(k).padStart(3, "0")}`, message: "is not an accepted field" })));
  });

  it("1000 items of 110 unknown fields each (882 KB): answered per item in about 1 MB, not 78 MB", async () => {
    const item = JSON.stringify(Object.fromEntries(Array.from({ length: 110 }, (_, k) => [`k${String(k).padStart(3, "0")}`, 0])));
    const body = `{"events":[${Array.from({ length: 1000 }, () => item).join(",")}]}`;
    expect(body.length).toBeGreaterThan(880_000);
    const r = await h.signedPost("/v1/settlements/events/batch", JSON.parse(body));
    expect(r.statusCode, r.body.slice(0, 300)).toBe(200);
    expect(r.body.length).toBeLessThan(1_500_000);
    const results = json<{ results: Item[] }>(r).results;
    expect(results).toHaveLength(1000);
    for (const item of results) {
      expect([item.status, item.error?.code, item.error?.errors?.length]).toEqual(["error", "ENT_REQUEST_VALIDATION", 10]);
      // 110 unknown fields and the event's required ones, all counted.
      expect(item.error?.message).toMatch(/^1[1-9][0-9] invalid fields \(the first 10 listed\)/);
    }
  });

  it("an item with a few invalid fields lists them all, as before", async () => {
    const r = await h.signedPost("/v1/settlements/events/batch", { events: [{ ...capture({ gatewayEventId: "be-few" }), amount: 5, extra: "x" }] });
    const item = json<{ results: Item[] }>(r).results[0];
    expect(item?.error?.message).toMatch(/^2 invalid fields: /);
    expect(item?.error?.errors?.map((e) => e.field).sort()).toEqual(["events.0.amount", "events.0.extra"]);
  });

  it("1001 empty items: one 400 naming `events` and the limit, not every item's errors", async () => {
    const r = await h.signedPost("/v1/settlements/events/batch", { events: Array.from({ length: h.config.http.batchMaxItems + 1 }, () => ({})) });
    expect([r.statusCode, problemCode(r)]).toEqual([400, "ENT_REQUEST_VALIDATION"]);
    expect(json<Problem>(r).errors).toEqual([{ field: "events", message: `must NOT have more than ${h.config.http.batchMaxItems} items` }]);
    expect(r.body.length).toBeLessThan(1_000);
  });

  it("a field beside `events` fails the request alone, whatever the items hold", async () => {
    const r = await h.signedPost("/v1/settlements/events/batch", { events: [{}, {}], note: "x" });
    expect([r.statusCode, json<Problem>(r).errors]).toEqual([400, [{ field: "note", message: "is not an accepted field" }]]);
  });

  it("any other body: a problem lists at most 100 fields and counts them all", async () => {
    const rates = Array.from({ length: 50 }, () => ({ base: "USD", quote: "BRL", rate: "5.1", source: "bank", asOf: "2024-12-02T00:00:00Z", ...unknownKeys(5) }));
    const r = await h.post("/v1/fx/rates", { rates }, h.keys.admin);
    expect([r.statusCode, problemCode(r)]).toEqual([400, "ENT_REQUEST_VALIDATION"]);
    const p = json<Problem>(r);
    expect(p.errors).toHaveLength(100);
    expect(p.detail).toMatch(/^250 invalid fields \(the first 100 listed\): rates\.0\.unknownField000 is not an accepted field; /);
  });
});
