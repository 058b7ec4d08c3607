/**
 * The query helpers routes share: a domain refusal naming a period's bound (`from`, `to`: a report's
 * 366 days, the ledger's row limits) reaches the client naming the query parameter, as periodOf's
 * and the schema's own date errors do.
 */
import { describe, expect, it } from "vitest";
import { Errors, isAppError } from "../../service/errors.js";
import { namingQuery, periodOf } from "../../service/http/query.js";
import { LedgerErrors } from "../../service/ledger/errors.js";

const refused = async (read: Promise<unknown>) => {
  try {
    await read;
  } catch (e) {
    return e;
  }
  throw new Error("not refused");
};

describe("namingQuery", () => {
  it("names a refusal's from and to as query.from and query.to, its code, status, message and details kept", async () => {
    const rows = Errors.validation("the period holds more than 10000 account and group rows: ask for a shorter one", {
      fields: [{ field: "to", message: "at most 10000 account and group rows per period" }, { field: "by", message: "other" }],
      details: { limit: 10_000 },
    });
    const e = await refused(namingQuery(Promise.reject(rows)));
    expect(isAppError(e)).toBe(true);
    expect(e).toMatchObject({ code: rows.code, status: 400, title: rows.title, message: rows.message, details: { limit: 10_000 }, cause: rows });
    expect((e as typeof rows).fields).toEqual([{ field: "query.to", message: "at most 10000 account and group rows per period" }, { field: "by", message: "other" }]);
    const from = await refused(namingQuery(Promise.reject(Errors.validation("from must not be after to", { fields: [{ field: "from", message: "must not be after to" }] }))));
    expect((from as typeof rows).fields).toEqual([{ field: "query.from", message: "must not be after to" }]);
  });

  it("leaves any other refusal, and a value, as they are", async () => {
    const other = LedgerErrors.insufficientFunds("no", { fields: [{ field: "postings.0.amount", message: "too much" }] });
    expect(await refused(namingQuery(Promise.reject(other)))).toBe(other);
    const fault = new Error("driver");
    expect(await refused(namingQuery(Promise.reject(fault)))).toBe(fault);
    expect(await namingQuery(Promise.resolve(7))).toBe(7);
  });

  it("names the same field as periodOf", () => {
    expect(() => periodOf("2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z")).toThrow(expect.objectContaining({ fields: [{ field: "query.to", message: "must be after from" }] }));
  });
});
