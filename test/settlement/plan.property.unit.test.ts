import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { convertMinor } from "../../service/money/index.js";
import { FEE_SCHEDULES, MARKETS, TAX_RULES } from "../../service/settlement/data.js";
import { planCapture, planFollowUp, taxPartsTaken } from "../../service/settlement/plan.js";
import { selectSchedule, selectTaxRule } from "../../service/settlement/schedules.js";
import { LINE_KEYS, type PostingPlan, type Seller, type SettlementEvent } from "../../service/settlement/types.js";
import { capture, followUp, movement, netByCurrency, rate, stateOf } from "./fixtures.js";
import { thrownCode } from "../support/app-errors.js";

const SELLERS: Seller[] = [
  { id: "S-POP-1", name: "p", program: "pop", payoutCurrency: "CNY", homeCountry: "CN" },
  { id: "S-FULL-1", name: "f", program: "full_hosting", payoutCurrency: "CNY", homeCountry: "CN" },
  { id: "S-SEMI-1", name: "s", program: "semi_hosting", payoutCurrency: "USD", homeCountry: "CN" },
  { id: "S-OVS-1", name: "o", program: "overseas_hosting", payoutCurrency: "CNY", homeCountry: "CN" },
];

type Op = { kind: "refund" | "chargeback"; permille: number; supplierFault: boolean } | { kind: "reversal" } | { kind: "release" } | { kind: "rest"; supplierFault: boolean };

const rateArb = fc.integer({ min: 1, max: 9_999_999 }).map((n) => (n / 1_000_000).toString());
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom("refund" as const, "chargeback" as const), permille: fc.integer({ min: 1, max: 1200 }), supplierFault: fc.boolean() }),
  fc.constant({ kind: "reversal" as const }),
  fc.constant({ kind: "release" as const }),
  fc.record({ kind: fc.constant("rest" as const), supplierFault: fc.boolean() }),
);

function balanced(p: PostingPlan): boolean {
  return Object.values(netByCurrency(p.postings)).every((n) => n === 0n) && p.postings.every((x) => x.amount > 0n);
}

describe("any sequence of capture and partial refunds/chargebacks/reversals", () => {
  it("balances every transaction and never takes back more than was captured", () => {
    // Guards against a vacuous property: the runs must really plan follow-ups and reach full refunds.
    let planned = 0;
    let fullyRefunded = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...SELLERS),
        fc.constantFrom(...MARKETS),
        fc.bigInt({ min: 1n, max: 10_000_000_000n }),
        fc.integer({ min: 0, max: 100 }),
        rateArb,
        rateArb.map((r) => (Number(r) * 10).toString()),
        fc.array(fc.tuple(opArb, rateArb), { maxLength: 12 }),
        // A seller-priced capture: listed in USD or in the payout currency, near or far from the gross.
        fc.option(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 300 })), { nil: undefined }),
        (seller, market, gross, feePct, buyerRate, payoutRate, ops, listing) => {
          const listed = listing !== undefined && seller.program !== "full_hosting";
          // Full hosting: a supply price within the gross's worth at the drawn mid rates (plan.ts
          // checkSupplyPrice); a gross worth less than one unit of the payout currency buys nothing.
          const grossUsd = market.currency === "USD" ? gross : convertMinor(gross, market.currency, "USD", buyerRate, "half-even");
          const supplyLimit = seller.payoutCurrency === "USD" ? grossUsd : convertMinor(grossUsd, "USD", seller.payoutCurrency, payoutRate, "floor");
          const supply = gross / 3n + 1n < supplyLimit ? gross / 3n + 1n : supplyLimit;
          const cap = capture({
            sellerId: seller.id,
            market: market.code,
            currency: market.currency,
            amount: gross,
            gatewayFee: (gross * BigInt(feePct)) / 1000n,
            supplyPrice: seller.program === "full_hosting" ? (supply > 0n ? supply : 1n) : undefined,
            // A tenth of the gross for shipping (untaxed by the US state rule drawn below).
            shipping: gross / 10n,
            ...(listed ? { listingPrice: (gross * BigInt(listing[1])) / 100n + 1n, listingCurrency: listing[0] ? "USD" : seller.payoutCurrency } : {}),
          });
          const schedule = selectSchedule(FEE_SCHEDULES, seller.program, cap.market, cap.category, cap.occurredAt);
          const taxRule = selectTaxRule(TAX_RULES, cap.market, cap.occurredAt);
          if (schedule === null || taxRule === null) throw new Error("data");
          const buyerToUsd = market.currency === "USD" ? null : rate(market.currency, "USD", buyerRate);
          const usdToPayout = seller.payoutCurrency === "USD" ? null : rate("USD", seller.payoutCurrency, payoutRate);
          // Where the market levies state taxes (US sales tax, Brazil's ICMS "por dentro"), one on top.
          const stateTaxRule = TAX_RULES.find((r) => r.level === "state" && r.market === cap.market && r.rateBps > 0) ?? null;
          const capInput = { event: cap, seller, schedule, taxRule, stateTaxRule, rates: { buyerToUsd, usdToPayout } };
          if (seller.program === "full_hosting" && supply <= 0n) {
            expect(thrownCode(() => planCapture(capInput))).toBe("ENT_SETTLEMENT_SUPPLY_PRICE_OUT_OF_RANGE");
            return;
          }
          const capPlan = planCapture(capInput);
          expect(balanced(capPlan)).toBe(true);
          // As principal, the supply is costed at the rate the payable is booked at: no FX result at first recognition.
          if (seller.program === "full_hosting") expect([capPlan.breakdown.lines.costOfSales, capPlan.breakdown.lines.fxGainLoss]).toEqual([capPlan.breakdown.lines.sellerUsd, 0n]);
          // The bases booked: each rule's rate on its base gives its tax (to the half unit of its
          // rounding, scaled by 1 + rate for a tax inside its price), and the gross is made of them.
          const bases = capPlan.breakdown.taxBases!;
          const { tax, stateTax } = capPlan.breakdown.lines;
          const within = (rule: typeof taxRule, f: typeof bases.national, t: bigint) => {
            if (rule.collectedBy !== "marketplace" || t === 0n) return;
            const r = BigInt(rule.rateBps);
            const off = f.taxableBase * r - f.deduction * 10_000n - t * 10_000n;
            const err = off < 0n ? -off : off;
            expect(2n * err <= (rule.computation === "included" ? 10_000n : 10_000n + r), `${rule.id} ${f.taxableBase} ${t}`).toBe(true);
          };
          within(taxRule, bases.national, tax);
          expect(bases.national.taxableBase + tax + bases.national.nonTaxable + bases.national.otherTaxes).toBe(gross);
          expect(bases.national.otherTaxes).toBe(stateTax);
          if (stateTaxRule !== null) {
            within(stateTaxRule, bases.state!, stateTax);
            expect(bases.state!.taxableBase + (stateTaxRule.computation === "included" ? 0n : stateTax) + bases.state!.nonTaxable).toBe(gross);
          } else expect(bases.state).toBeUndefined();
          const basesTaken = { national: { taxableBase: 0n, nonTaxable: 0n, otherTaxes: 0n, deduction: 0n }, state: { taxableBase: 0n, nonTaxable: 0n, otherTaxes: 0n, deduction: 0n } };

          const done: Array<{ event: SettlementEvent; plan: PostingPlan }> = [];
          const held = `seller:${seller.id}:held`;
          const reserve = `seller:${seller.id}:reserve`;
          const P = seller.payoutCurrency;
          // Credit-normal balances of the accounts that must never go negative.
          let heldBal = -movement(capPlan.postings, held, P);
          let reserveBal = -movement(capPlan.postings, reserve, P);
          let n = 0;
          for (const [op, r] of ops) {
            n++;
            const state = stateOf(cap, capPlan, done);
            const rates = { buyerToUsd: market.currency === "USD" ? null : rate(market.currency, "USD", r), usdToPayout };
            let event: SettlementEvent;
            let chargebackId: string | undefined;
            if (op.kind === "reversal") {
              const open = Object.entries(state.chargebacks).find(([, c]) => c.amount > c.reversed);
              if (open === undefined) continue;
              chargebackId = open[0];
              event = followUp("chargeback_reversal", `e${n}`, { amount: open[1].amount - open[1].reversed, originalEventId: open[0] }, cap);
            } else if (op.kind === "release") {
              event = followUp("release", `e${n}`, {}, cap);
            } else if (op.kind === "rest") {
              if (state.refunded === gross) continue;
              event = followUp("refund", `e${n}`, { amount: gross - state.refunded, ...(op.supplierFault ? { returnReason: "supplier_defect" as const } : {}) }, cap);
            } else {
              const amount = (gross * BigInt(op.permille)) / 1000n;
              if (amount === 0n) continue;
              const fault = op.kind === "refund" && op.supplierFault ? { returnReason: "supplier_defect" as const } : {};
              event = followUp(op.kind, `e${n}`, { amount, ...fault }, cap);
            }
            let plan: PostingPlan;
            try {
              plan = planFollowUp({ event, capture: state, rates, ...(chargebackId ? { chargebackId } : {}) });
            } catch (e) {
              if (!isAppError(e)) throw e;
              if (e.code === "ENT_SETTLEMENT_REFUND_EXCEEDS_CAPTURE") expect(state.refunded + event.amount > gross).toBe(true);
              else expect(e.code).toBe("ENT_SETTLEMENT_NOTHING_TO_RELEASE");
              continue;
            }
            expect(balanced(plan)).toBe(true);
            // A USD order converts nothing: the lines add up to the gross, with no FX result to balance them
            // (but for what a supplier repays as principal: the cost side's rounding, no part of the gross).
            const supplierRepays = seller.program === "full_hosting" && event.returnReason === "supplier_defect";
            if (market.currency === "USD" && !supplierRepays) expect(plan.breakdown.fxDifference, `${event.type} of ${event.amount}`).toBe(0n);
            // With the bucket corrections booked with it (all or none).
            const all = [...plan.postings, ...(plan.linked ?? []).flatMap((l) => l.postings)];
            heldBal -= movement(all, held, P);
            reserveBal -= movement(all, reserve, P);
            expect(heldBal >= 0n && reserveBal >= 0n).toBe(true);
            done.push({ event, plan });
            planned++;
            const after = stateOf(cap, capPlan, done);
            expect(after.refunded >= 0n && after.refunded <= gross).toBe(true);
            // The bases go back in the share the taxes do: the capture's whole at a full refund, none at none.
            const moved = plan.breakdown.taxBases;
            if (event.type === "release") expect(moved).toBeUndefined();
            if (moved !== undefined) {
              // The follow-up's share of each rule's figures adds up to its gross as the capture's do
              // (the taxes taken back together, not each rounded on its own), the tax payables are
              // debited those very taxes, and every part moves the way the gross does: a refund or
              // chargeback gives back no negative share of anything, a reversal takes none.
              const l = plan.breakdown.lines;
              expect(moved.national.taxableBase + l.tax + moved.national.nonTaxable + moved.national.otherTaxes, "national parts").toBe(l.gross);
              expect(moved.national.otherTaxes).toBe(l.stateTax);
              expect(movement(plan.postings, `tax:${cap.market}:${taxRule.scheme}:payable`, cap.currency)).toBe(l.tax);
              if (stateTaxRule !== null) {
                expect(moved.state!.taxableBase + (stateTaxRule.computation === "included" ? 0n : l.stateTax) + moved.state!.nonTaxable, "state parts").toBe(l.gross);
                expect(movement(plan.postings, `tax:${stateTaxRule.region!}:${stateTaxRule.scheme}:payable`, cap.currency)).toBe(l.stateTax);
              }
              const figures = (f: typeof moved.national | undefined) => (f === undefined ? [] : [f.taxableBase, f.nonTaxable, f.otherTaxes, f.deduction]);
              const parts = [l.tax, l.stateTax, ...figures(moved.national), ...figures(moved.state)];
              expect(parts.every((v) => (l.gross > 0n ? v >= 0n : v <= 0n)), `${event.type}: ${parts.join(" ")}`).toBe(true);
            }
            for (const level of ["national", "state"] as const) {
              const booked = bases[level];
              if (booked === undefined) continue;
              for (const k of ["taxableBase", "nonTaxable", "otherTaxes", "deduction"] as const) {
                basesTaken[level][k] += moved?.[level]?.[k] ?? 0n;
                const taken = basesTaken[level][k];
                expect(taken >= 0n && taken <= booked[k], `${level}.${k}`).toBe(true);
                if (after.refunded === gross) expect(taken, `${level}.${k}`).toBe(booked[k]);
                if (after.refunded === 0n) expect(taken, `${level}.${k}`).toBe(0n);
              }
            }
            // Full hosting: the supplier's lines move with what was returned for its fault only.
            const supplierLine = (k: string) => seller.program === "full_hosting" && ["sellerUsd", "sellerMain", "sellerReserve"].includes(k);
            for (const k of LINE_KEYS) {
              const line = capPlan.breakdown.lines[k];
              const taken = after.reversedLines[k];
              if (supplierLine(k)) {
                if (line >= 0n) expect(taken >= 0n && taken <= line, k).toBe(true);
                else expect(taken <= 0n && taken >= line, k).toBe(true);
                if (after.supplierRefunded === gross) expect(taken, k).toBe(line);
                if (after.supplierRefunded === 0n) expect(taken, k).toBe(0n);
                continue;
              }
              // Taken back so far lies between 0 and the whole line, on the line's side.
              if (line >= 0n) expect(taken >= 0n && taken <= line, k).toBe(true);
              else expect(taken <= 0n && taken >= line, k).toBe(true);
              if (after.refunded === gross) expect(taken, k).toBe(line);
              if (after.refunded === gross && k === "gross") fullyRefunded++;
              if (after.refunded === 0n) expect(taken, k).toBe(0n);
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
    expect(planned).toBeGreaterThan(900);
    expect(fullyRefunded).toBeGreaterThan(100);
  });
});

describe("the taxes and untaxed shipping a follow-up takes back of a gross", () => {
  it("add up with the rest to what is taken back, each within one unit of its share, growing with it, exact at the whole gross", () => {
    const partsArb = fc
      .tuple(fc.bigInt({ min: 1n, max: 10_000_000_000n }), fc.nat({ max: 1000 }), fc.nat({ max: 1000 }), fc.nat({ max: 1000 }), fc.nat({ max: 1000 }))
      .map(([total, s, t, sh, taken]) => {
        const stateTax = (total * BigInt(s)) / 4000n;
        const tax = ((total - stateTax) * BigInt(t)) / 3000n;
        const shipping = ((total - stateTax - tax) * BigInt(sh)) / 1000n;
        return { total, whole: { stateTax, tax, shipping }, taken: (total * BigInt(taken)) / 1000n };
      });
    fc.assert(
      fc.property(partsArb, fc.bigInt({ min: 0n, max: 1000n }), ({ total, whole, taken }, more) => {
        const parts = taxPartsTaken(whole, taken, total);
        const rest = taken - parts.stateTax - parts.tax - parts.shipping;
        const wholes = [whole.stateTax, whole.tax, whole.shipping, total - whole.stateTax - whole.tax - whole.shipping];
        for (const [i, got] of [parts.stateTax, parts.tax, parts.shipping, rest].entries()) {
          // |got x total - whole x taken| < total: the floor or the ceiling of the exact share.
          const off = got * total - wholes[i]! * taken;
          expect((off < 0n ? -off : off) < total, `part ${i}: ${got} of ${wholes[i]}`).toBe(true);
        }
        // Taking back more never takes back less of any part (so no refund gives back a negative tax).
        const further = taken + more > total ? total : taken + more;
        const next = taxPartsTaken(whole, further, total);
        const nextRest = further - next.stateTax - next.tax - next.shipping;
        expect(next.stateTax >= parts.stateTax && next.tax >= parts.tax && next.shipping >= parts.shipping && nextRest >= rest).toBe(true);
        expect(taxPartsTaken(whole, total, total)).toEqual(whole);
        expect(taxPartsTaken(whole, 0n, total)).toEqual({ stateTax: 0n, tax: 0n, shipping: 0n });
      }),
      { numRuns: 2000 },
    );
  });
});

describe("a seller's buckets by effective instant, whatever order the follow-ups and the release are booked in", () => {
  // POP proceeds held until a release; semi hosting's reserve held 30 days (data.ts), then released.
  const cases = [
    { seller: SELLERS[0]!, release: "release" as const, bucket: "held", line: "sellerMain" as const, releaseFrom: 1, followUpsTo: 20 },
    { seller: SELLERS[2]!, release: "reserve_release" as const, bucket: "reserve", line: "sellerReserve" as const, releaseFrom: 30, followUpsTo: 50 },
  ];
  it("holds in the bucket, at every instant before the release, what the follow-ups effective by then left of it, and nothing from the release on", () => {
    let corrected = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...cases),
        fc.bigInt({ min: 100n, max: 10_000_000n }),
        fc.integer({ min: 0, max: 20 }),
        fc.array(fc.tuple(fc.constantFrom("refund" as const, "chargeback" as const), fc.integer({ min: 1, max: 700 }), fc.integer({ min: 0, max: 50 })), { maxLength: 6 }),
        fc.nat({ max: 6 }),
        (c, gross, releaseDay, followUps, releaseAt) => {
          const DAY = 86_400_000;
          const cap = capture({ sellerId: c.seller.id, market: "US", currency: "USD", amount: gross, gatewayFee: 0n, shipToRegion: "US-NY" });
          const day = (d: number) => new Date(cap.occurredAt.getTime() + d * DAY);
          const schedule = selectSchedule(FEE_SCHEDULES, c.seller.program, "US", cap.category, cap.occurredAt)!;
          const taxes = { taxRule: selectTaxRule(TAX_RULES, "US", cap.occurredAt)!, stateTaxRule: TAX_RULES.find((r) => r.region === "US-NY") ?? null };
          const P = c.seller.payoutCurrency;
          const rates = { buyerToUsd: null, usdToPayout: P === "USD" ? null : rate("USD", P, "7.2") };
          const capPlan = planCapture({ event: cap, seller: c.seller, schedule, ...taxes, rates });
          const account = `seller:${c.seller.id}:${c.bucket}`;
          const whole = capPlan.breakdown.lines[c.line];
          // Booking order: the follow-ups as drawn, the release among them at `releaseAt`.
          const events: SettlementEvent[] = followUps.map(([type, permille, d], i) =>
            followUp(type, `f${i}`, { amount: (gross * BigInt(permille)) / 1000n || 1n, gatewayFee: 0n, occurredAt: day(1 + Math.min(d, c.followUpsTo - 1)) }, cap),
          );
          events.splice(Math.min(releaseAt, events.length), 0, followUp(c.release, "rel", { occurredAt: day(c.releaseFrom + releaseDay) }, cap));
          const done: Array<{ event: SettlementEvent; plan: PostingPlan }> = [];
          // Every transaction booked: its effective instant and its postings.
          const booked: Array<{ at: Date; postings: PostingPlan["postings"] }> = [{ at: cap.occurredAt, postings: capPlan.postings }];
          for (const event of events) {
            let plan: PostingPlan;
            try {
              plan = planFollowUp({ event, capture: stateOf(cap, capPlan, done), rates });
            } catch (e) {
              if (!isAppError(e)) throw e;
              expect(["ENT_SETTLEMENT_REFUND_EXCEEDS_CAPTURE", "ENT_SETTLEMENT_NOTHING_TO_RELEASE"]).toContain(e.code);
              continue;
            }
            done.push({ event, plan });
            booked.push({ at: event.occurredAt, postings: plan.postings });
            for (const l of plan.linked ?? []) {
              expect(Object.values(netByCurrency(l.postings)).every((n) => n === 0n)).toBe(true);
              booked.push({ at: l.effectiveAt, postings: l.postings });
              corrected++;
            }
          }
          const release = done.find((d) => d.event.type === c.release)?.event.occurredAt ?? null;
          const moves = done.filter((d) => d.event.type === "refund" || d.event.type === "chargeback");
          for (const t of new Set(booked.map((b) => b.at.getTime()))) {
            const inBucket = -booked.filter((b) => b.at.getTime() <= t).reduce((sum, b) => sum + movement(b.postings, account, P), 0n);
            const left = whole - moves.filter((m) => m.event.occurredAt.getTime() <= t).reduce((sum, m) => sum + m.plan.breakdown.lines[c.line], 0n);
            expect(inBucket, `${c.bucket} at ${new Date(t).toISOString()}`).toBe(release !== null && release.getTime() <= t ? 0n : left);
          }
        },
      ),
      { numRuns: 500 },
    );
    // Guards against a vacuous property: the runs must book corrections both ways.
    expect(corrected).toBeGreaterThan(100);
  });
});
