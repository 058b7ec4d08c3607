/**
 * Canonical encodings hashed by the ledger. Changing anything here breaks every stored chain, so
 * the encodings are versioned by prefix and covered by tests.
 */
import { createHash } from "node:crypto";

export const GENESIS_HASH = "0".repeat(64);

export function sha256(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}

export function sortedEntries(m: Record<string, string> | undefined): Array<[string, string]> {
  return Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export interface HashedPosting {
  accountId: bigint;
  currency: string;
  direction: string;
  phase: string;
  amount: bigint;
}

export interface HashedTransaction {
  id: bigint;
  kind: string;
  idempotencyKey: string;
  requestHash: string;
  metadata: Record<string, string>;
  description: string | null;
  effectiveAt: Date;
  bookedAt: Date;
  referencesId: bigint | null;
  pendingExpiresAt: Date | null;
  postings: HashedPosting[];
}

/**
 * sha256 over "entrepot-journal-v1" + a JSON array of the immutable content + the previous hash.
 * Status is deliberately excluded: it is the one mutable column (pending -> posted/voided) and its
 * change is itself recorded as a chained commit/void transaction.
 */
export function transactionHash(t: HashedTransaction, previousHash: string): string {
  const body = JSON.stringify([
    "entrepot-journal-v1",
    t.id.toString(),
    t.kind,
    t.idempotencyKey,
    t.requestHash,
    sortedEntries(t.metadata),
    t.description,
    t.effectiveAt.toISOString(),
    t.bookedAt.toISOString(),
    t.referencesId === null ? null : t.referencesId.toString(),
    t.pendingExpiresAt === null ? null : t.pendingExpiresAt.toISOString(),
    t.postings.map((p) => [p.accountId.toString(), p.currency, p.direction, p.phase, p.amount.toString()]),
    previousHash,
  ]);
  return sha256(body);
}
