/**
 * A follow-up and its order's release booked out of the order of their effective instants: the
 * seller's buckets, read by effective instant, say where the proceeds were at every instant, and
 * the corrections that make them so are booked with the event, all or none (ledger `linked`).
 *
 * Before: a refund effective before its order's release but booked after it was taken from
 * `available` (where the money was when it was booked), so between the two instants `held` showed
 * money the refund had taken back and `available` was short by it, below zero; a release booked
 * after a refund effective later moved only what was left, and `held` kept the refund's part
 * between the two. The totals from the later instant on were right in both cases.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SettlementEvent } from "../../service/settlement/index.js";
const BUCKET_CORRECTION_KIND = "bucket_correction";
import { capture, followUp } from "./fixtures.js";
import { marchRate, openSettlementHarness, type SettlementHarness } from "./harness.js";
import { testDatabaseKinds } from "../support/db.js";

const kinds = await testDatabaseKinds();
const POP = "S-POP-SZ-01"; // CNY, held until the buyer confirms
const SEMI = "S-SEMI-HZ-01"; // USD, 10% reserve for 30 days
const at = (iso: string) => new Date(`2025-03-${iso}Z`);

describe.each(kinds)("late follow-ups on %s", (kind) => {
  let h: SettlementHarness;

  beforeAll(async () => {
    h = await openSettlementHarness(kind);
    await h.fx.publishRates([marchRate("BRL", "USD", "0.18"), marchRate("USD", "CNY", "7.2")]);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  const bucket = async (seller: string, currency: string, name: string, instant: Date) =>
    (await h.ledger.balance(`seller:${seller}:${name}`, currency, instant, "effective")).posted;
  /** The seller's buckets at each instant, less what they held at `from`. */
  const buckets = async (seller: string, currency: string, names: string[], from: Date, instants: Date[]): Promise<Array<Record<string, bigint>>> => {
    const base = await Promise.all(names.map((n) => bucket(seller, currency, n, from)));
    const at = (t: Date) => Promise.all(names.map(async (n, i): Promise<[string, bigint]> => [n, (await bucket(seller, currency, n, t)) - base[i]!]));
    return Promise.all(instants.map(async (t) => Object.fromEntries(await at(t))));
  };
  const lines = async (settlementId: string) => (await h.settlement.listForOrder(settlementId)).map((r) => ({ type: r.event.type, bucket: r.breakdown.sellerBucket, released: r.breakdown.released, ...r.breakdown.lines }));
  const corrections = async (settlementId: string) =>
    (await h.ledger.listTransactions({ metadata: { kind: BUCKET_CORRECTION_KIND, settlementId }, limit: 10 })).items.map((t) => ({
      effectiveAt: t.effectiveAt.toISOString(),
      postings: t.postings.map((p) => `${p.direction} ${p.account} ${p.amount}`).sort(),
    }));
  const post = async (e: SettlementEvent) => (await h.settlement.postEvent(e)).status;

  it("takes a refund effective before the release but booked after it from held, and moves back what the release moved too much at the release's instant", async () => {
    const cap = capture({ gatewayEventId: "late-a", settlementId: "ORD-late-a", sellerId: POP, occurredAt: at("01T10:00:00") });
    const release = followUp("release", "late-a-rel", { occurredAt: at("05T10:00:00") }, cap);
    const refund = followUp("refund", "late-a-ref", { amount: 2_000n, gatewayFee: 0n, occurredAt: at("03T10:00:00") }, cap);
    expect([await post(cap), await post(release), await post(refund)]).toEqual(["created", "created", "created"]);

    const [c, r, f] = await lines("ORD-late-a");
    const M = c!.sellerMain;
    const X = f!.sellerMain;
    expect(r!.released).toBe(M);
    expect(X).toBeGreaterThan(0n);
    expect(f!.bucket).toBe("held");
    expect(await corrections("ORD-late-a")).toEqual([
      { effectiveAt: "2025-03-05T10:00:00.000Z", postings: [`credit seller:${POP}:held ${X}`, `debit seller:${POP}:available ${X}`].sort() },
    ]);
    expect(await buckets(POP, "CNY", ["held", "available"], at("01T00:00:00"), [at("02T00:00:00"), at("04T00:00:00"), at("06T00:00:00")])).toEqual([
      { held: M, available: 0n },
      { held: M - X, available: 0n }, // before: held M, available -X
      { held: 0n, available: M - X },
    ]);
    // A replay books nothing more; the journal's chain holds.
    expect(await post(refund)).toBe("exists");
    expect(await corrections("ORD-late-a")).toHaveLength(1);
    expect((await h.ledger.verifyChain()).ok).toBe(true);
  });

  it("releases everything held at the release's instant when a refund effective after it was booked first, and charges that refund to available at its own instant", async () => {
    const cap = capture({ gatewayEventId: "late-b", settlementId: "ORD-late-b", sellerId: POP, occurredAt: at("11T10:00:00") });
    const refund = followUp("refund", "late-b-ref", { amount: 3_000n, gatewayFee: 0n, occurredAt: at("18T10:00:00") }, cap);
    const release = followUp("release", "late-b-rel", { occurredAt: at("15T10:00:00") }, cap);
    expect([await post(cap), await post(refund), await post(release)]).toEqual(["created", "created", "created"]);

    const [c, f, r] = await lines("ORD-late-b");
    const M = c!.sellerMain;
    const X = f!.sellerMain;
    expect(r!.released).toBe(M); // before: M - X, the refund's part left in held from the 15th to the 18th
    expect(await corrections("ORD-late-b")).toEqual([
      { effectiveAt: "2025-03-18T10:00:00.000Z", postings: [`credit seller:${POP}:held ${X}`, `debit seller:${POP}:available ${X}`].sort() },
    ]);
    expect(await buckets(POP, "CNY", ["held", "available"], at("11T00:00:00"), [at("12T00:00:00"), at("16T00:00:00"), at("19T00:00:00")])).toEqual([
      { held: M, available: 0n },
      { held: 0n, available: M },
      { held: 0n, available: M - X },
    ]);
  });

  it("does the same for a reserve: a chargeback effective before the reserve's release, booked after it", async () => {
    const cap = capture({ gatewayEventId: "late-c", settlementId: "ORD-late-c", sellerId: SEMI, occurredAt: at("01T10:00:00") });
    const reserveRelease = followUp("reserve_release", "late-c-rr", { occurredAt: at("31T12:00:00") }, cap);
    const chargeback = followUp("chargeback", "late-c-cb", { amount: 4_000n, gatewayFee: 0n, occurredAt: at("20T10:00:00") }, cap);
    expect([await post(cap), await post(reserveRelease), await post(chargeback)]).toEqual(["created", "created", "created"]);

    const [c, rr, cb] = await lines("ORD-late-c");
    const R = c!.sellerReserve;
    const Y = cb!.sellerReserve;
    expect(rr!.released).toBe(R);
    expect(Y).toBeGreaterThan(0n);
    expect(await corrections("ORD-late-c")).toEqual([
      { effectiveAt: "2025-03-31T12:00:00.000Z", postings: [`credit seller:${SEMI}:reserve ${Y}`, `debit seller:${SEMI}:available ${Y}`].sort() },
    ]);
    const [, mid, after] = await buckets(SEMI, "USD", ["reserve"], at("01T00:00:00"), [at("02T00:00:00"), at("25T00:00:00"), at("31T13:00:00")]);
    expect(mid).toEqual({ reserve: R - Y }); // before: R until the reserve's release
    expect(after).toEqual({ reserve: 0n });
    expect(await h.netPerCurrency()).toEqual(expect.objectContaining({ USD: 0n, CNY: 0n, BRL: 0n }));
  });
});
