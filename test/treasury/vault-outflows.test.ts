/**
 * The vault's money leaving it outside a payout, on an in-process chain and a real database of each
 * kind (the payout harness: real ledger, ChainIndexer, TreasuryService):
 * - an admin's `sweepExcess` is booked once final, vault asset -> `treasury:swept:USDC`, so the
 *   ledger's `treasury:vault:USDC` equals the vault's token balance on chain again; booked once
 *   however many ticks, and not before the sweep is final;
 * - the token leaving the vault with no vault event (an issuer's seizure: here the vault's own
 *   address, impersonated, calls `transfer`) is not booked, and is recorded and logged at warn once,
 *   also by a restarted worker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fundVaultLocal } from "../../service/payouts/index.js";
import { STABLECOIN_CURRENCY, TreasuryAccounts, TreasuryService } from "../../service/treasury/index.js";
import { mineEmpty } from "../chain/indexer/support.js";
import { expectBalanced, openPayoutHarness, USDC, type PayoutHarness } from "../payouts/harness.js";
import { testDatabaseKinds } from "../support/db.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("the vault's outflows outside payouts on %s", { timeout: 60_000 }, (kind) => {
  let h: PayoutHarness;
  /** Posted balance, 0 for an account the ledger has not opened yet. */
  const posted = (account: string) =>
    h.ledger.balance(account, STABLECOIN_CURRENCY).then(
      (b) => b.posted,
      (e: unknown) => {
        if ((e as { code?: string }).code === "ENT_LEDGER_ACCOUNT_NOT_FOUND") return 0n;
        throw e;
      },
    );
  const onChain = () => h.sys.c.token.balanceOf(h.vault);
  /** Every chain event so far final, and booked. */
  const settle = async () => {
    await mineEmpty(h.sys, 3);
    await h.step();
    await h.step();
  };

  beforeAll(async () => {
    h = await openPayoutHarness(kind);
    await fundVaultLocal({ record: h.sys.result.record, admin: h.sys.deployer, amount: 10_000n * USDC });
    await settle();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it("books a sweep of the surplus once it is final, so the vault asset equals the vault's balance on chain", async () => {
    expect(await posted(TreasuryAccounts.vault())).toBe(await onChain());
    const to = h.sys.others[12]!.address;
    await h.sys.c.vault.sweepExcess(to, 2_500n * USDC).then((t) => t.wait());
    await h.step();
    // Not final yet: a reorg could still take it away, so nothing is booked.
    expect((await h.ledger.listTransactions({ metadata: { kind: "vault_swept" } })).items).toHaveLength(0);

    await settle();
    await h.treasury.tick(); // once more: nothing booked twice
    expect(await posted(TreasuryAccounts.vault())).toBe(await onChain());
    expect(await posted(TreasuryAccounts.swept())).toBe(2_500n * USDC); // opened by this sweep
    const swept = (await h.ledger.listTransactions({ metadata: { kind: "vault_swept" } })).items;
    expect(swept).toHaveLength(1);
    expectBalanced(swept[0]!);
    expect(swept[0]!.postings.map((p) => `${p.direction} ${p.account} ${p.amount}`).sort()).toEqual([
      `credit ${TreasuryAccounts.vault()} ${2_500n * USDC}`,
      `debit ${TreasuryAccounts.swept()} ${2_500n * USDC}`,
    ]);
    expect(swept[0]!.metadata).toMatchObject({ kind: "vault_swept", to });
    // Nothing reported as an unbooked outflow: the sweep accounts for its transfer.
    expect(h.logs.filter((l) => l.level === "warn" && /no vault event/.test(l.msg))).toEqual([]);
  });

  it("records and logs once, without booking, the token leaving the vault with no vault event", async () => {
    const vault0 = await posted(TreasuryAccounts.vault());
    const seized = 7n * USDC;
    await h.rpc("hardhat_impersonateAccount", [h.vault]);
    await h.rpc("hardhat_setBalance", [h.vault, "0x56BC75E2D63100000"]);
    try {
      const asVault = await h.sys.connection.ethers.getSigner(h.vault);
      await h.sys.c.token.connect(asVault).transfer(h.sys.others[13]!.address, seized).then((t) => t.wait());
    } finally {
      await h.rpc("hardhat_stopImpersonatingAccount", [h.vault]);
    }
    await settle();
    await settle();
    // A restarted worker (no memory of what it checked) reports it no more.
    const restarted = new TreasuryService({
      sql: h.db.sql,
      ledger: h.ledger,
      chain: { chainId: h.sys.chainId, provider: h.provider, record: h.sys.result.record, index: h.indexer },
      claimants: h.payouts,
      log: { info: () => undefined, warn: (obj, msg) => void h.logs.push({ level: "warn", msg: msg ?? "", obj }), error: (obj, msg) => void h.logs.push({ level: "error", msg: msg ?? "", obj }) },
    });
    await restarted.tick();

    expect(await posted(TreasuryAccounts.vault())).toBe(vault0); // nothing says where it went: not booked
    expect(await onChain()).toBe(vault0 - seized);
    const warned = h.logs.filter((l) => l.level === "warn" && /no vault event/.test(l.msg));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.obj).toMatchObject({ to: h.sys.others[13]!.address, amount: seized.toString() });
    const rows = await h.db.sql.q<Array<{ kind: string; ledger_tx_id: bigint | null; amount: string }>>(
      `SELECT kind, ledger_tx_id, amount::text AS amount FROM payout_vault_bookings WHERE kind = 'transfer_out'`,
    );
    expect(rows).toEqual([{ kind: "transfer_out", ledger_tx_id: null, amount: seized.toString() }]);
  });
});
