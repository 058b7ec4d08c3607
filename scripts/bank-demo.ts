/**
 * `npm run bank:demo`: plays the platform's bank on a laptop. Every pain.001 in the outbox not yet
 * answered gets a camt.054.001.08 debit notification in the inbox, which the running service applies
 * within BANK_POLL_INTERVAL_SECONDS: each transfer booked, a foreign-currency one converted from the
 * platform's account currency at the demo day's published rate plus a 30 bps bank spread (or at
 * `--rate CNY=0.1380`), or returned with `--return <EndToEndId>[:<reason code>]` (default AC04,
 * closed account). Reads the same environment as the service (DATA_DIR, BANK_*). Answered files are
 * remembered in <outbox>/answered/.
 *
 *   npm run bank:demo
 *   npm run bank:demo -- --return ENT-BP-<tag>-2:AC04 --rate CNY=0.1380
 */
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../service/config.js";
import { historicalUsdRate } from "../service/fx/index.js";
import { answer, transfersOf } from "../service/payouts/bank/demo-bank.js";
import { DEMO_RANGE } from "../service/settlement/demo.js";
import { invertRate, rateFraction, rateFractionToString } from "../service/money/index.js";

function args(): { returns: Record<string, string>; rates: Record<string, string> } {
  const argv = process.argv.slice(2);
  const returns: Record<string, string> = {};
  const rates: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === "--return" && value !== undefined) {
      const [id, code] = value.split(":");
      returns[id!] = code ?? "AC04";
      i++;
    } else if (flag === "--rate" && value !== undefined && /^[A-Z]{3}=\d+(\.\d+)?$/.test(value)) {
      const [ccy, rate] = value.split("=");
      rates[ccy!] = rate!;
      i++;
    } else {
      throw new Error(`unknown argument ${JSON.stringify(flag)}: use --return <EndToEndId>[:<code>] and --rate <CCY>=<decimal>`);
    }
  }
  return { returns, rates };
}

async function main(): Promise<void> {
  const { bank } = loadConfig();
  const { returns, rates } = args();
  const answered = join(bank.outbox, "answered");
  const names = existsSync(bank.outbox) ? (await readdir(bank.outbox)).filter((n) => n.endsWith(".xml")).sort() : [];
  const todo = names.filter((n) => !existsSync(join(answered, n)));
  if (todo.length === 0) {
    console.log(`bank:demo: nothing to answer in ${bank.outbox} (run POST /v1/payouts/bank/runs first)`);
    return;
  }
  await mkdir(answered, { recursive: true });
  await mkdir(bank.inbox, { recursive: true });
  const U = bank.account.accountCurrency;
  for (const name of todo) {
    const xml = await readFile(join(bank.outbox, name), "utf8");
    const used: Record<string, string> = { ...rates };
    for (const t of transfersOf(xml)) {
      if (t.currency === U || used[t.currency] !== undefined) continue;
      // USD per unit of the currency at the demo day's published mid, plus the bank's 30 bps.
      const usdPer = invertRate(rateFraction(historicalUsdRate(t.currency, DEMO_RANGE.to).rate));
      used[t.currency] = rateFractionToString({ num: usdPer.num * 1_003n, den: usdPer.den * 1_000n }, 10, "half-even");
    }
    const messageId = `BANK-${name.replace(/\.xml$/, "")}`.slice(0, 35);
    const camt = answer(xml, { messageId, account: { ...bank.account, clearingSystem: null, clearingMember: null }, accountCurrency: U, rates: used, returns });
    const target = join(bank.inbox, `camt054-${name}`);
    await writeFile(`${target}.partial`, camt, "utf8");
    await rename(`${target}.partial`, target);
    await writeFile(join(answered, name), `${target}\n`, "utf8");
    const lines = transfersOf(xml).map((t) => `  ${t.endToEndId} ${t.currency} ${t.amount} ${returns[t.endToEndId] === undefined ? "booked" : `returned (${returns[t.endToEndId]})`}`);
    console.log(`bank:demo: ${name} answered with ${target}${Object.keys(used).length > 0 ? ` (rates ${JSON.stringify(used)})` : ""}\n${lines.join("\n")}`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bank:demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
