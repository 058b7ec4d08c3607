/**
 * A trial balance as two tables: per currency, the period's debits and credits and whether they
 * balance; per account, its opening, debits, credits and closing. Shown for a period on the books
 * page and for a closed period in its close's report.
 */
import type { JSX } from "preact";
import { closingAt } from "../format";
import { href } from "../router";
import { Badge, Link, ListTable, Money } from "../ui";

export interface TrialBalanceAccount {
  account: string;
  currency: string;
  normalBalance: string;
  opening: string;
  debits: string;
  credits: string;
  closing: string;
}

export interface TrialBalanceCurrency {
  currency: string;
  debits: string;
  credits: string;
  balanced: boolean;
}

/** The trial balance's accounts and its per-currency check (a period's, or a close report's); each account links to its balance at the period's `end`. */
export function TrialBalanceTables(props: { accounts: readonly TrialBalanceAccount[]; currencies: readonly TrialBalanceCurrency[]; currency?: string; caption: string; end: string }): JSX.Element {
  const only = props.currency ?? "";
  const currencies = props.currencies.filter((c) => only === "" || c.currency === only);
  const accounts = props.accounts.filter((a) => only === "" || a.currency === only);
  const at = closingAt(props.end);
  return (
    <>
      <ListTable caption={`${props.caption}: per currency, the period's debits and credits`} showCaption columns={["Currency", ["Debits", "num"], ["Credits", "num"], "Balances"]}>
        {currencies.map((c) => (
          <tr key={c.currency}>
            <td>{c.currency}</td>
            <td class="num">
              <Money minor={c.debits} currency={c.currency} code={false} />
            </td>
            <td class="num">
              <Money minor={c.credits} currency={c.currency} code={false} />
            </td>
            <td>{c.balanced ? <Badge value="balanced" tone="good" /> : <Badge value="does not balance" tone="bad" />}</td>
          </tr>
        ))}
      </ListTable>
      {accounts.length === 0 ? (
        <p class="muted">No account has a posted amount before the period's end.</p>
      ) : (
        <ListTable caption={`${props.caption}: per account, in its normal direction`} showCaption columns={["Account", "Currency", "Normal side", ["Opening", "num"], ["Debits", "num"], ["Credits", "num"], ["Closing", "num"]]}>
          {accounts.map((a) => (
            <tr key={`${a.account}/${a.currency}`}>
              <td>
                <Link href={href(`/accounts/${encodeURIComponent(a.account)}/${a.currency}`, { at })}>{a.account}</Link>
              </td>
              <td>{a.currency}</td>
              <td>{a.normalBalance}</td>
              <td class="num">
                <Money minor={a.opening} currency={a.currency} code={false} />
              </td>
              <td class="num">
                <Money minor={a.debits} currency={a.currency} code={false} />
              </td>
              <td class="num">
                <Money minor={a.credits} currency={a.currency} code={false} />
              </td>
              <td class="num">
                <Money minor={a.closing} currency={a.currency} code={false} />
              </td>
            </tr>
          ))}
        </ListTable>
      )}
    </>
  );
}
