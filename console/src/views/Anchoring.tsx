/** Anchoring batches: each Merkle root the journal was committed to, with its chain state. */
import type { JSX } from "preact";
import { get } from "../api";
import type { ViewProps } from "../main";
import { Badge, Hash, ListTable, Money, Pager, Show, Time, Title, useUrlPages } from "../ui";

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

/**
 * The journal sequences a batch holds. A batch of documents only holds none: the service then
 * answers the next sequence as its first and the last one anchored before as its last ("95–94").
 */
function sequences(b: Batch): string {
  if (b.journalCount === 0 || b.firstSequence === null) return "none";
  const last = b.lastSequence ?? b.firstSequence;
  return last === b.firstSequence ? b.firstSequence : `${b.firstSequence}–${last}`;
}

export function Anchoring(props: ViewProps): JSX.Element {
  // The page is the URL's (`pages`: the cursors walked past): Back and a reload return to it.
  const pages = useUrlPages(
    props.location,
    "pages",
    async (cursor) => {
      const page = await get<{ items: Batch[]; nextBefore: string | null }>("/v1/anchoring/batches", { limit: 25, before: cursor });
      return { items: page.items, next: page.nextBefore };
    },
    [],
  );
  return (
    <>
      <Title sub="The journal's Merkle roots on chain: every settlement's proof leads to one of these.">Anchoring batches</Title>
      <Show load={pages.load}>
        {({ items }) =>
          items.length === 0 ? (
            <p class="muted">Nothing anchored yet.</p>
          ) : (
            <ListTable caption="Batches, newest first" columns={["Batch", "Journal sequences", ["Leaves", "num"], "Totals", "Root", "State", "Transaction", "Created"]}>
              {items.map((b) => (
                <tr key={b.batchId}>
                  <td>{b.batchId}</td>
                  <td data-testid="sequences">{sequences(b)}</td>
                  <td class="num">
                    {b.count}
                    {b.documentCount > 0 && <span class="muted">{` (${b.documentCount} document${b.documentCount === 1 ? "" : "s"})`}</span>}
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
            </ListTable>
          )
        }
      </Show>
      <Pager pages={pages} label="Batches" />
    </>
  );
}
