/** Anchoring batches: each Merkle root the journal was committed to, with its chain state. */
import type { JSX } from "preact";
import { get } from "../api";
import type { ViewProps } from "../main";
import { Badge, Hash, Money, Pager, Show, Time, Title, usePages } from "../ui";

interface Batch {
  chainId: string;
  anchor: string;
  batchId: string;
  root: string;
  count: number;
  journalCount: number;
  documentCount: number;
  firstSequence: string | null;
  lastSequence: string | null;
  currencyTotals: { currency: string; total: string }[];
  state: string;
  transactionHash: string | null;
  blockNumber: string | null;
  createdAt: string;
}

export function Anchoring(props: ViewProps): JSX.Element {
  void props;
  const pages = usePages(async (cursor) => {
    const page = await get<{ items: Batch[]; nextBefore: string | null }>("/v1/anchoring/batches", { limit: 25, before: cursor });
    return { items: page.items, next: page.nextBefore };
  }, []);
  return (
    <>
      <Title sub="The journal's Merkle roots on chain: every settlement's proof leads to one of these.">Anchoring batches</Title>
      <Show load={pages.load}>
        {({ items }) =>
          items.length === 0 ? (
            <p class="muted">Nothing anchored yet.</p>
          ) : (
            <table class="list">
              <caption class="sr-only">Batches, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Batch</th>
                  <th scope="col">Journal sequences</th>
                  <th scope="col" class="num">Leaves</th>
                  <th scope="col">Totals</th>
                  <th scope="col">Root</th>
                  <th scope="col">State</th>
                  <th scope="col">Transaction</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {items.map((b) => (
                  <tr key={b.batchId}>
                    <td>{b.batchId}</td>
                    <td>{b.firstSequence === null ? "–" : `${b.firstSequence}–${b.lastSequence ?? ""}`}</td>
                    <td class="num">
                      {b.count}
                      {b.documentCount > 0 && <span class="muted"> ({b.documentCount} documents)</span>}
                    </td>
                    <td>
                      {b.currencyTotals.map((t, i) => (
                        <span key={t.currency}>
                          {i > 0 && ", "}
                          <Money minor={t.total} currency={t.currency} />
                        </span>
                      ))}
                    </td>
                    <td>
                      <Hash value={b.root} />
                    </td>
                    <td>
                      <Badge value={b.state} />
                    </td>
                    <td>
                      <Hash value={b.transactionHash} /> {b.blockNumber !== null && <span class="muted">block {b.blockNumber}</span>}
                    </td>
                    <td>
                      <Time iso={b.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
      <Pager pages={pages} label="Batches" />
    </>
  );
}
