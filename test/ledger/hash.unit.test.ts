/**
 * A frozen hash vector: the canonical encoding of a journal transaction must never change silently
 * (changing it breaks every stored hash chain).
 */
import { describe, expect, it } from "vitest";
import { GENESIS_HASH, transactionHash } from "../../service/ledger/index.js";

describe("canonical transaction hash", () => {
  it("is frozen (changing the encoding breaks every stored chain)", () => {
    const h = transactionHash(
      {
        id: 1n,
        kind: "standard",
        idempotencyKey: "k",
        requestHash: "r",
        metadata: { b: "2", a: "1" },
        description: null,
        effectiveAt: new Date("2026-01-01T00:00:00Z"),
        bookedAt: new Date("2026-01-01T00:00:01Z"),
        referencesId: null,
        pendingExpiresAt: null,
        postings: [
          { accountId: 1n, currency: "USD", direction: "debit", phase: "posted", amount: 5n },
          { accountId: 2n, currency: "USD", direction: "credit", phase: "posted", amount: 5n },
        ],
      },
      GENESIS_HASH,
    );
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(h).toBe(FROZEN);
  });
});

// Independently computed: sha256 of the compact JSON array documented in service/ledger/hash.ts.
const FROZEN = "a692476a9ca3734c428e690d7141603ea436130d97eedd86cdc32ba40baa5934";
