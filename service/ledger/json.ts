/**
 * A journal transaction as JSON: bigints as decimal strings, instants as ISO 8601. The API's
 * Transaction view and the `journalTransaction` of an anchoring proof are this same shape, so a
 * proof carries the transaction exactly as the API answers it. Pure (types only): the console
 * bundles it with the proof verifier.
 */
import type { JournalTransaction, Posting } from "./types.js";

export interface JournalTransactionJson {
  id: string;
  sequence: string;
  kind: JournalTransaction["kind"];
  status: JournalTransaction["status"];
  idempotencyKey: string;
  postings: Array<{ id: string; account: string; currency: string; direction: Posting["direction"]; phase: NonNullable<Posting["phase"]>; amount: string; balanceAfter: string | null }>;
  metadata: Record<string, string>;
  description: string | null;
  effectiveAt: string;
  bookedAt: string;
  referencesId: string | null;
  hash: string;
  previousHash: string;
}

export function journalToJson(t: JournalTransaction): JournalTransactionJson {
  return {
    id: t.id,
    sequence: t.sequence.toString(),
    kind: t.kind,
    status: t.status,
    idempotencyKey: t.idempotencyKey,
    postings: t.postings.map((p) => ({
      id: p.id,
      account: p.account,
      currency: p.currency,
      direction: p.direction,
      phase: p.phase ?? "posted",
      amount: p.amount.toString(),
      balanceAfter: p.balanceAfter.toString(),
    })),
    metadata: t.metadata,
    description: t.description,
    effectiveAt: t.effectiveAt.toISOString(),
    bookedAt: t.bookedAt.toISOString(),
    referencesId: t.referencesId,
    hash: t.hash,
    previousHash: t.previousHash,
  };
}

/**
 * The transaction as a gateway key may read it: the running balance after each posting only on the
 * gateway's own accounts (`gateway:<gateway>:<name>`, e.g. its receivable), null on the others. A platform, seller or tax
 * account's balance moves with every gateway's bookings, so two answers a few seconds apart would
 * give away another gateway's amounts. Neither the transaction's hash nor its anchored leaf covers
 * the balances, so a proof read this way still verifies.
 */
export function withOwnBalancesOnly(t: JournalTransactionJson, gateway: string): JournalTransactionJson {
  const own = `gateway:${gateway}:`;
  const mine = (account: string) => account.startsWith(own) && !account.includes(":", own.length);
  return { ...t, postings: t.postings.map((p) => (mine(p.account) ? p : { ...p, balanceAfter: null })) };
}
