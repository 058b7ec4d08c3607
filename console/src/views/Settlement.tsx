/** One settlement: the event, its economics (fees, taxes), the FX evidence and the journal postings. */
import type { JSX } from "preact";
import { get } from "../api";
import { text } from "../format";
import type { ViewProps } from "../main";
import { href } from "../router";
import type { FxLeg, Settlement, Transaction } from "../types";
import { ProofPanel } from "./Proof";
import { Badge, Fields, Hash, Link, Money, RateAsOf, Show, Time, Title, useLoad } from "../ui";

/**
 * The currency of each breakdown line (service/settlement/plan.ts): the buyer's gross and taxes in
 * the buyer's currency, the seller's proceeds in the payout currency, every fee and the platform's
 * lines in the settlement currency (USD).
 */
function lineCurrency(line: string, b: Record<string, unknown>): string {
  const buyer = text(b["buyerCurrency"], "USD");
  const payout = text(b["payoutCurrency"], "USD");
  const settlement = text(b["settlementCurrency"], "USD");
  if (line === "gross" || line === "tax" || line === "stateTax") return buyer;
  if (line === "sellerMain" || line === "sellerReserve" || line === "supplierPayout") return payout;
  return settlement;
}

const LINE_LABELS: Record<string, string> = {
  gross: "Gross paid by the buyer",
  tax: "Tax (national)",
  stateTax: "Tax (state)",
  netUsd: "Net of tax, in USD",
  commission: "Commission",
  paymentFeeRecovery: "Payment fee recovered",
  logistics: "Logistics",
  warehousing: "Warehousing",
  fulfilment: "Fulfilment",
  fxMarkup: "FX markup",
  fxGainLoss: "FX gain / loss (exchange difference)",
  checkoutFx: "Checkout FX difference (listing price)",
  margin: "Platform margin",
  sales: "Sales",
  costOfSales: "Cost of sales",
  sellerUsd: "Seller proceeds, USD",
  sellerMain: "Seller proceeds",
  sellerReserve: "Seller reserve",
};

/**
 * A line's label; the seller's proceeds name the balance the settlement moved them in (the API's
 * sellerBucket, reserveBucket): a POP order's are held until the buyer confirms, a released
 * reserve's are available.
 */
function lineLabel(line: string, b: Record<string, unknown>): string {
  const label = LINE_LABELS[line] ?? line;
  if (line === "sellerMain") return `${label} (${text(b["sellerBucket"], "available")})`;
  if (line === "sellerReserve" && b["reserveBucket"] === "available") return `${label} (available)`;
  return label;
}

export function FxEvidence(props: { legs: FxLeg[] }): JSX.Element {
  if (props.legs.length === 0) return <p class="muted">No conversion: the event was booked in its own currency.</p>;
  const path = [props.legs[0]?.from, ...props.legs.map((l) => l.to)].join(" → ");
  return (
    <>
      <p>
        Path: <strong>{path}</strong>
      </p>
      <div class="scroll">
        <table>
          <caption class="sr-only">FX legs</caption>
          <thead>
            <tr>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Rate</th>
              <th scope="col">Mid / markup</th>
              <th scope="col">Source</th>
              <th scope="col">Rate as of</th>
              <th scope="col">Quote</th>
              <th scope="col" class="num">Converted</th>
            </tr>
          </thead>
          <tbody>
            {props.legs.map((l, i) => (
              <tr key={i}>
                <td>{l.from}</td>
                <td>{l.to}</td>
                <td>
                  <code>{l.rate}</code>
                </td>
                <td>{l.midRate === undefined ? <span class="muted">–</span> : <>{l.midRate} less {l.markupBps ?? 0} bps</>}</td>
                <td>{l.source}</td>
                <td>
                  <RateAsOf iso={l.asOf} />
                </td>
                <td>{l.quoteId ?? <span class="muted">none</span>}</td>
                <td class="num">
                  {l.fromAmount !== undefined && l.toAmount !== undefined ? (
                    <>
                      <Money minor={l.fromAmount} currency={l.from} /> → <Money minor={l.toAmount} currency={l.to} />
                    </>
                  ) : (
                    <span class="muted">–</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function Postings(props: { tx: Transaction }): JSX.Element {
  return (
    <div class="scroll">
      <table>
        <caption class="sr-only">Postings of journal transaction {props.tx.id}</caption>
        <thead>
          <tr>
            <th scope="col">Account</th>
            <th scope="col">Phase</th>
            <th scope="col" class="num">Debit</th>
            <th scope="col" class="num">Credit</th>
            <th scope="col" class="num">Balance after</th>
          </tr>
        </thead>
        <tbody>
          {props.tx.postings.map((p) => (
            <tr key={p.id}>
              <td>
                <Link href={href(`/accounts/${encodeURIComponent(p.account)}/${p.currency}`)}>{p.account}</Link>
              </td>
              <td>{p.phase}</td>
              <td class="num">{p.direction === "debit" ? <Money minor={p.amount} currency={p.currency} /> : ""}</td>
              <td class="num">{p.direction === "credit" ? <Money minor={p.amount} currency={p.currency} /> : ""}</td>
              <td class="num">
                <Money minor={p.balanceAfter} currency={p.currency} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Breakdown(props: { s: Settlement }): JSX.Element {
  const b = props.s.breakdown;
  const lines = (b["lines"] ?? {}) as Record<string, string>;
  const shown = Object.entries(lines).filter(([, v]) => v !== "0");
  const bands = (b["feeBands"] ?? []) as { line: string; weightGrams: number; upToGrams: number; bandFee: string; extraSteps: number; extraFee: string; fee: string }[];
  return (
    <>
      <div class="scroll">
        <table>
          <caption class="sr-only">Economic lines</caption>
          <thead>
            <tr>
              <th scope="col">Line</th>
              <th scope="col" class="num">Amount</th>
            </tr>
          </thead>
          <tbody>
            {shown.map(([k, v]) => (
              <tr key={k}>
                <th scope="row">{lineLabel(k, b)}</th>
                <td class="num">
                  <Money minor={v} currency={lineCurrency(k, b)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Fields
        rows={[
          ["Program", props.s.program],
          ["Fee schedule", text(b["scheduleId"], "–")],
          ["Tax rule", `${text(b["taxRuleId"], "–")} (${text(b["taxScheme"], "–")}, ${Number(b["taxRateBps"] ?? 0) / 100}%)`],
          ["Ships from", text(b["shipFrom"], "–")],
          ["Gateway fee borne by", String((b["gatewayFee"] as { borneBy?: string } | undefined)?.borneBy ?? "–")],
        ]}
      />
      {bands.length > 0 && (
        <div class="scroll">
          <table>
            <caption>Fees by weight band</caption>
            <thead>
              <tr>
                <th scope="col">Fee</th>
                <th scope="col" class="num">Weight</th>
                <th scope="col" class="num">Band up to</th>
                <th scope="col" class="num">Band fee</th>
                <th scope="col" class="num">Further steps</th>
                <th scope="col" class="num">Total</th>
              </tr>
            </thead>
            <tbody>
              {bands.map((f) => (
                <tr key={f.line}>
                  <td>{f.line}</td>
                  <td class="num">{f.weightGrams} g</td>
                  <td class="num">{f.upToGrams} g</td>
                  <td class="num">
                    <Money minor={f.bandFee} currency="USD" />
                  </td>
                  <td class="num">
                    {f.extraSteps} × <Money minor={f.extraSteps === 0 ? "0" : (BigInt(f.extraFee) / BigInt(f.extraSteps)).toString()} currency="USD" code={false} />
                  </td>
                  <td class="num">
                    <Money minor={f.fee} currency="USD" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function SettlementView(props: ViewProps): JSX.Element {
  const id = props.params["id"] as string;
  const [load] = useLoad(async () => {
    const s = await get<Settlement>(`/v1/settlements/${encodeURIComponent(id)}`);
    const tx = s.journalTransactionId === null ? null : await get<Transaction>(`/v1/transactions/${s.journalTransactionId}`);
    return { s, tx };
  }, [id]);
  return (
    <Show load={load}>
      {({ s, tx }) => (
        <>
          <Title sub={<>{s.eventKey}</>}>{`Settlement ${s.id}: ${s.event.type} of order ${s.event.settlementId}`}</Title>
          <p class="actions">
            <Link href={href("/settlements", { order: s.event.settlementId })}>Every event of this order</Link> ·{" "}
            <Link href={href(`/settlements/${s.id}/proof`)}>The proof alone</Link>
          </p>
          <section aria-labelledby="event-h">
            <h2 id="event-h">Event</h2>
            <Fields
              rows={[
                ["Status", <Badge value={s.status} />],
                ["Gateway", `${s.event.gateway} · ${s.event.gatewayEventId}`],
                ["Seller", <Link href={href("/settlements", { seller: s.event.sellerId })}>{s.event.sellerId}</Link>],
                ["Market", `${s.event.market} · ${s.event.category}`],
                ["Amount", <Money minor={s.event.amount} currency={s.event.currency} />],
                ["Gateway fee", <Money minor={s.event.gatewayFee} currency={s.event.currency} />],
                ["Occurred", <Time iso={s.event.occurredAt} />],
                ...(typeof s.event["shipToRegion"] === "string" ? [["Ships to", s.event["shipToRegion"]] as [string, string]] : []),
                ...(typeof s.event["originalEventId"] === "string" ? [["Follows", s.event["originalEventId"]] as [string, string]] : []),
              ]}
            />
          </section>
          <section aria-labelledby="proof-h">
            <h2 id="proof-h">Inclusion proof</h2>
            <ProofPanel path={`/v1/settlements/${encodeURIComponent(s.id)}/proof`} fileName={`settlement-${s.id}-proof.json`} level={3} />
          </section>
          <section aria-labelledby="breakdown-h">
            <h2 id="breakdown-h">Fees and taxes</h2>
            <Breakdown s={s} />
          </section>
          <section aria-labelledby="fx-h">
            <h2 id="fx-h">FX evidence</h2>
            <FxEvidence legs={s.fx} />
          </section>
          <section aria-labelledby="journal-h">
            <h2 id="journal-h">Journal transaction {tx?.id ?? ""}</h2>
            {tx === null ? (
              <p class="muted">Not booked yet.</p>
            ) : (
              <>
                <Fields
                  rows={[
                    ["Sequence", tx.sequence],
                    ["Effective", <Time iso={tx.effectiveAt} />],
                    ["Booked", <Time iso={tx.bookedAt} />],
                    ["Hash", <Hash value={tx.hash} />],
                  ]}
                />
                <Postings tx={tx} />
              </>
            )}
          </section>
        </>
      )}
    </Show>
  );
}
