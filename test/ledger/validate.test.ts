/** The ledger's edge checks and cursors (service/ledger/validate.ts), without a database. */
import { describe, expect, it } from "vitest";
import { isAppError, type ErrorDefinition } from "../../service/errors.js";
import { LedgerErrors } from "../../service/ledger/errors.js";
import type { TransactionInput } from "../../service/ledger/types.js";
import {
  checkJournalPage,
  checkKey,
  clampLimit,
  decodeCursor,
  encodeCursor,
  parseId,
  validateInput,
  validateSpec,
} from "../../service/ledger/validate.js";

function refusal(f: () => unknown): { code: string; field: string | undefined; details: Record<string, unknown> | undefined } {
  try {
    f();
  } catch (e) {
    if (isAppError(e)) return { code: e.code, field: e.fields?.[0]?.field, details: e.details };
    throw e;
  }
  throw new Error("expected a refusal");
}

const refusedAs = (def: ErrorDefinition, field?: string) => (field === undefined ? { code: def.code } : { code: def.code, field });

const transfer = (over: Partial<TransactionInput> = {}): TransactionInput => ({
  idempotencyKey: "k",
  postings: [
    { account: "a", currency: "USD", direction: "debit", amount: 10n },
    { account: "b", currency: "USD", direction: "credit", amount: 10n },
  ],
  ...over,
});

describe("validateInput", () => {
  it("accepts a balanced transfer", () => {
    expect(() => validateInput(transfer(), "")).not.toThrow();
  });

  it.each<[string, Partial<TransactionInput>, string]>([
    ["one posting", { postings: [{ account: "a", currency: "USD", direction: "debit", amount: 1n }] }, "postings"],
    ["a zero amount", { postings: [{ account: "a", currency: "USD", direction: "debit", amount: 0n }, { account: "b", currency: "USD", direction: "credit", amount: 0n }] }, "postings.0.amount"],
    ["a number amount", { postings: [{ account: "a", currency: "USD", direction: "debit", amount: 1 as unknown as bigint }, { account: "b", currency: "USD", direction: "credit", amount: 1n }] }, "postings.0.amount"],
    ["a 37-digit amount", { postings: [{ account: "a", currency: "USD", direction: "debit", amount: 10n ** 36n }, { account: "b", currency: "USD", direction: "credit", amount: 10n ** 36n }] }, "postings.0.amount"],
    ["a bad direction", { postings: [{ account: "a", currency: "USD", direction: "debit", amount: 1n }, { account: "b", currency: "USD", direction: "up" as "debit", amount: 1n }] }, "postings.1.direction"],
    ["a lower-case currency", { postings: [{ account: "a", currency: "usd", direction: "debit", amount: 1n }, { account: "b", currency: "USD", direction: "credit", amount: 1n }] }, "postings.0.currency"],
    ["an empty account", { postings: [{ account: "", currency: "USD", direction: "debit", amount: 1n }, { account: "b", currency: "USD", direction: "credit", amount: 1n }] }, "postings.0.account"],
    ["a timeout on a posted transfer", { pendingTimeoutSeconds: 5 }, "pendingTimeoutSeconds"],
    ["a fractional timeout", { pending: true, pendingTimeoutSeconds: 1.5 }, "pendingTimeoutSeconds"],
    ["an empty key", { idempotencyKey: "" }, "idempotencyKey"],
    // The anchored leaf carries it as unsigned epoch ms: a 1900 remittance once stopped anchoring.
    ["an effective instant before 1970", { effectiveAt: new Date("1900-01-01T00:00:00Z") }, "effectiveAt"],
    ["an effective instant after 9999", { effectiveAt: new Date(Date.UTC(10_000, 0, 1)) }, "effectiveAt"],
    ["an invalid effective instant", { effectiveAt: new Date(Number.NaN) }, "effectiveAt"],
  ])("refuses %s, naming the field", (_, over, field) => {
    expect(refusal(() => validateInput(transfer(over), ""))).toMatchObject(refusedAs(LedgerErrors.invalid, field));
  });

  it("takes effective instants from 1970 through 9999", () => {
    for (const at of [new Date(0), new Date("9999-12-31T23:59:59.999Z")]) expect(() => validateInput(transfer({ effectiveAt: at }), "")).not.toThrow();
  });

  it("refuses more than 1000 postings", () => {
    const postings = Array.from({ length: 1001 }, (_, i) => ({ account: `a${i}`, currency: "USD", direction: "debit" as const, amount: 1n }));
    expect(refusal(() => validateInput(transfer({ postings }), ""))).toMatchObject(refusedAs(LedgerErrors.invalid, "postings"));
  });

  it("prefixes the field with the item's index in a batch", () => {
    expect(refusal(() => validateInput(transfer({ idempotencyKey: "" }), "3.")).field).toBe("3.idempotencyKey");
  });

  it("requires every currency to balance on its own, reporting the first in code order", () => {
    const r = refusal(() =>
      validateInput(
        transfer({
          postings: [
            { account: "a", currency: "USD", direction: "debit", amount: 10n },
            { account: "b", currency: "USD", direction: "credit", amount: 9n },
            { account: "a", currency: "EUR", direction: "debit", amount: 5n },
            { account: "b", currency: "EUR", direction: "credit", amount: 7n },
          ],
        }),
        "",
      ),
    );
    expect(r).toMatchObject(refusedAs(LedgerErrors.unbalanced));
    expect(r.details).toEqual({ currency: "EUR", debits: "5", credits: "7", imbalance: "-2" });
  });

  it("checks the account specs it carries", () => {
    const accounts = [{ code: "a", currency: "USD", ownerType: "seller" as const, ownerId: "", normalBalance: "credit" as const, allowNegative: false }];
    expect(refusal(() => validateInput(transfer({ accounts }), "")).field).toBe("accounts.0.ownerId");
  });
});

describe("validateSpec", () => {
  const spec = { code: "seller:S1:available", currency: "USD", ownerType: "seller" as const, ownerId: "S1", normalBalance: "credit" as const, allowNegative: false };
  it.each<[string, object, string]>([
    ["an empty code", { code: "" }, "accounts.2.code"],
    ["a 201-character code", { code: "x".repeat(201) }, "accounts.2.code"],
    ["a bad currency", { currency: "US" }, "accounts.2.currency"],
    ["a bad normal balance", { normalBalance: "both" }, "accounts.2.normalBalance"],
  ])("refuses %s", (_, over, field) => {
    expect(refusal(() => validateSpec({ ...spec, ...over }, "2"))).toMatchObject(refusedAs(LedgerErrors.invalid, field));
  });
});

describe("keys, ids and limits", () => {
  it("takes keys of 1-255 characters", () => {
    expect(() => checkKey("x".repeat(255), "idempotencyKey")).not.toThrow();
    expect(refusal(() => checkKey("x".repeat(256), "idempotencyKey"))).toMatchObject(refusedAs(LedgerErrors.invalid, "idempotencyKey"));
    expect(refusal(() => checkKey(undefined, "idempotencyKey")).code).toBe(LedgerErrors.invalid.code);
  });

  it("parses positive int8 ids and answers anything else as not found", () => {
    expect(parseId("9223372036854775807", "pendingId")).toBe(9223372036854775807n);
    for (const bad of ["0", "01", "-1", "1.0", "abc", "12345678901234567890"]) {
      expect(refusal(() => parseId(bad, "pendingId"))).toMatchObject(refusedAs(LedgerErrors.transactionNotFound, "pendingId"));
    }
  });

  it("pages 50 by default and 1-1000 when asked", () => {
    expect(clampLimit(undefined)).toBe(50);
    expect(clampLimit(1000)).toBe(1000);
    for (const bad of [0, 1001, 1.5]) expect(refusal(() => clampLimit(bad))).toMatchObject(refusedAs(LedgerErrors.invalid, "limit"));
  });

  it("reads the journal from sequence 0 up, 1-10,000 at a time", () => {
    expect(() => checkJournalPage(0n, 10_000)).not.toThrow();
    expect(refusal(() => checkJournalPage(-1n, 10)).field).toBe("afterSequence");
    expect(refusal(() => checkJournalPage(1 as unknown as bigint, 10)).field).toBe("afterSequence");
    for (const bad of [0, 10_001, 2.5]) expect(refusal(() => checkJournalPage(0n, bad)).field).toBe("limit");
  });
});

describe("cursors", () => {
  it("round-trip an id and refuse anything this API did not hand out", () => {
    expect(decodeCursor(encodeCursor(123n))).toBe(123n);
    for (const bad of ["garbage", Buffer.from("v1:0").toString("base64url"), Buffer.from("v2:5").toString("base64url"), ""]) {
      expect(refusal(() => decodeCursor(bad))).toMatchObject(refusedAs(LedgerErrors.invalidCursor, "cursor"));
    }
  });
});
