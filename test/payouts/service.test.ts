/**
 * Payouts end to end on an in-process chain and a real database of each kind: available balance ->
 * pending reserve -> vault.payout through the TxSender -> the vault's events in the index -> at
 * final, the ledger commit (once). USD and CNY (FX quote evidence, rounded down) sellers, a
 * deferred payout (blocklisted seller) booked as claimable and its later claim (booked by the
 * treasury), vault funding booked by the treasury from its Funded event, and the planner's skips.
 * One chain and database per kind; every test pays its own sellers and checks amounts relative to
 * what it found, so each runs alone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devPrivateKey } from "../../service/chain/keys.js";
import { historicalUsdRate } from "../../service/fx/index.js";
import { assignDemoDestinations, demoPayoutAddress, fundVaultLocal, mayTakeStablecoin, PayoutAccounts, PayoutService, publishDemoPayoutRates } from "../../service/payouts/index.js";
import { STABLECOIN_CURRENCY, TreasuryAccounts } from "../../service/treasury/index.js";
import { DEMO_SELLERS } from "../../service/settlement/demo.js";
import { testDatabaseKinds } from "../support/db.js";
import { mineEmpty } from "../chain/indexer/support.js";
import { expectBalanced, minedCalls, openPayoutHarness, payoutJournal, USDC, type PayoutHarness } from "./harness.js";
import { outbox } from "../webhooks/outbox.js";
import { expectValidBodies, tapWebhooks } from "../webhooks/contract.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("payouts on %s", { timeout: 60_000 }, (kind) => {
  let h: PayoutHarness;
  const balance = async (account: string, currency: string) => h.ledger.balance(account, currency);
  /** Posted balance, 0 for an account the ledger has not opened yet. */
  const posted = async (account: string, currency: string) =>
    balance(account, currency).then(
      (b) => b.posted,
      (e: unknown) => {
        if ((e as { code?: string }).code === "ENT_LEDGER_ACCOUNT_NOT_FOUND") return 0n;
        throw e;
      },
    );
  /** Every chain event so far final, and booked: a test's own events are then the only news. */
  const settle = async () => {
    await mineEmpty(h.sys, 3);
    await h.step();
    await h.step();
  };

  beforeAll(async () => {
    h = await openPayoutHarness(kind);
    await fundVaultLocal({ record: h.sys.result.record, admin: h.sys.deployer, amount: 10_000n * USDC });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it("books the vault funding from its Funded event, once, when final", async () => {
    await settle();
    const vault0 = await posted(TreasuryAccounts.vault(), STABLECOIN_CURRENCY);
    const bank0 = await posted(TreasuryAccounts.bank, "USD");
    const funded0 = (await h.ledger.listTransactions({ metadata: { kind: "vault_funded" } })).items.length;
    await fundVaultLocal({ record: h.sys.result.record, admin: h.sys.deployer, amount: 500n * USDC });
    await h.step();
    // Not final yet: nothing booked.
    expect(await posted(TreasuryAccounts.vault(), STABLECOIN_CURRENCY)).toBe(vault0);
    await mineEmpty(h.sys, 3);
    await h.step();
    await h.step();
    expect((await balance(TreasuryAccounts.vault(), STABLECOIN_CURRENCY)).posted).toBe(vault0 + 500n * USDC);
    expect((await balance(TreasuryAccounts.bank, "USD")).posted).toBe(bank0 - 50_000n); // $500.00 left the bank
    const funded = await h.ledger.listTransactions({ metadata: { kind: "vault_funded" } });
    expect(funded.items).toHaveLength(funded0 + 1);
    expectBalanced(funded.items[0]!);
    expect(funded.items[0]!.postings.find((x) => x.account === TreasuryAccounts.vault())?.amount).toBe(500n * USDC);
  });

  it("pays a USD seller: reserved at planning, paid on chain, committed once at final", async () => {
    const seller = h.sellers.find((s) => s.id === "S-POP-HK-02")!;
    const address = h.sys.others[h.sellers.indexOf(seller)]!.address;
    await settle();
    const startBlock = (await h.provider.getBlockNumber()) + 1;
    const vaultBooked = await posted(TreasuryAccounts.vault(), STABLECOIN_CURRENCY);
    const tokensBefore = await h.sys.c.token.balanceOf(address);
    await h.credit(seller.id, "USD", 12_345n);
    const vaultBefore = await h.sys.c.token.balanceOf(h.vault);

    const { batches, skipped } = await h.payouts.plan({ by: "test" });
    expect(batches).toHaveLength(1);
    const batch = batches[0]!;
    expect(batch).toMatchObject({ count: 1, total: 123_450_000n, status: "planned" });
    // A seller no test of this file credits has no ledger account at all.
    expect(skipped.find((s) => s.sellerId === "S-TEST-USD-02")).toMatchObject({ reason: "no_account" });
    // A mainland-China seller is never the vault's, with or without a balance or a destination.
    expect(skipped.find((s) => s.sellerId === "S-FULL-GZ-01")).toMatchObject({ reason: "vault_not_permitted" });
    const [p] = (await h.payouts.getBatch(batch.id)).payouts;
    expect(p).toMatchObject({ id: batch.firstPayoutId, sellerId: seller.id, address, currency: "USD", amount: 12_345n, usdAmount: 12_345n, tokenAmount: 123_450_000n, fx: null, status: "planned" });

    // The reserve: available is 0 at once, posted unchanged until final.
    const reserved = await balance(PayoutAccounts.available(seller.id), "USD");
    expect(reserved).toMatchObject({ posted: 12_345n, available: 0n, pendingDebits: 12_345n });
    const pending = await h.ledger.getTransaction(p!.pendingTxId!);
    expect(pending).toMatchObject({ kind: "pending", status: "pending" });
    expectBalanced(pending!);

    // A second plan finds nothing to pay: the reserve counts against available.
    expect((await h.payouts.plan()).batches).toEqual([]);

    await h.payouts.execute();
    expect((await h.payouts.getBatch(batch.id)).batch).toMatchObject({ status: "sent", txKey: `payout:${h.sys.chainId}:${h.vault}:${batch.id}` });
    const observed = await h.untilBatch(batch.id, "observed");
    expect(observed.paidTotal).toBe(123_450_000n);
    expect((await balance(PayoutAccounts.available(seller.id), "USD")).posted).toBe(12_345n); // nothing released before final

    const final = await h.untilBatch(batch.id, "final");
    expect(final).toMatchObject({ paidTotal: 123_450_000n, deferredTotal: 0n });
    const paid = await h.payouts.getPayout(p!.id);
    expect(paid).toMatchObject({ status: "final", outcome: "paid", txHash: final.txHash });
    expect(paid.logIndex).not.toBeNull(); // matched to its Transfer log

    expect(await balance(PayoutAccounts.available(seller.id), "USD")).toMatchObject({ posted: 0n, available: 0n, pendingDebits: 0n });
    expect(await h.sys.c.token.balanceOf(address)).toBe(tokensBefore + 123_450_000n);
    expect(await h.sys.c.token.balanceOf(h.vault)).toBe(vaultBefore - 123_450_000n);
    expect((await balance(TreasuryAccounts.vault(), STABLECOIN_CURRENCY)).posted).toBe(vaultBooked - 123_450_000n);
    expect(await h.sys.c.vault.isPayoutProcessed(p!.id)).toBe(true);

    // Exactly one pending and one commit, each balanced per currency; more steps change nothing.
    await h.step();
    await h.step();
    const journal = await payoutJournal(h.ledger, p!.id);
    expect(journal.map((t) => t.kind).sort()).toEqual(["commit", "pending"]);
    journal.forEach(expectBalanced);
    const calls = await minedCalls(h.provider, h.payer.address, h.vault, startBlock);
    expect(calls.map((c) => c.status)).toEqual([1]);
  });

  it("pays a CNY seller through an FX quote, rounded down, with the evidence recorded", async () => {
    // A Hong Kong company paid out in CNY (a mainland one is the bank rail's).
    const seller = h.sellers.find((s) => s.id === "S-TEST-CNY-01")!;
    const address = h.sys.others[h.sellers.indexOf(seller)]!.address;
    await h.credit(seller.id, "CNY", 100_000n); // CNY 1,000.00
    const { batches } = await h.payouts.plan();
    expect(batches).toHaveLength(1);
    const [p] = (await h.payouts.getBatch(batches[0]!.id)).payouts;
    // 1,000 CNY / 7.2345 CNY per USD = 138.2265... USD: 13,822 cents, down.
    expect(p).toMatchObject({ currency: "CNY", amount: 100_000n, usdAmount: 13_822n, tokenAmount: 138_220_000n });
    expect(p!.fx).toMatchObject({ rounding: "down" });
    expect(p!.fx!.quoteId).toMatch(/^fxq_/);
    const quote = await h.fx.getQuote(p!.fx!.quoteId);
    expect(quote).toMatchObject({ base: "CNY", quote: "USD", allInRate: p!.fx!.rate });
    expect(p!.fx!.evidence).toMatchObject({ quoteId: quote.id, path: "CNY->USD", rounding: "down" });

    const pending = await h.ledger.getTransaction(p!.pendingTxId!);
    expect(pending!.metadata).toMatchObject({ kind: "payout", payoutId: p!.id.toString(), fxQuoteId: quote.id, fxRate: quote.allInRate, sellerId: seller.id });
    const legs = pending!.postings.map((x) => `${x.direction} ${x.account} ${x.currency} ${x.amount}`);
    expect(legs).toEqual([
      `debit seller:${seller.id}:available CNY 100000`,
      "credit fx:CNY-USD CNY 100000",
      "debit fx:CNY-USD USD 13822",
      "credit fx:USDC-USD USD 13822",
      "debit fx:USDC-USD USDC 138220000",
      "credit treasury:vault:USDC USDC 138220000",
    ]);
    expectBalanced(pending!);

    await h.payouts.execute();
    await h.untilBatch(batches[0]!.id, "final");
    expect(await h.sys.c.token.balanceOf(address)).toBe(138_220_000n);
    expect(await balance(PayoutAccounts.available(seller.id), "CNY")).toMatchObject({ posted: 0n, available: 0n });
    (await payoutJournal(h.ledger, p!.id)).forEach(expectBalanced);
  });

  it("defers a blocklisted seller's payout to a claimable debt, and books the later claim", async () => {
    const seller = h.sellers.find((s) => s.id === "S-TEST-USD-01")!;
    const signer = h.sys.others[h.sellers.indexOf(seller)]!;
    // A real endpoint for every event: the triggers write them, and they are delivered.
    const tap = await tapWebhooks(h.db.sql);
    await h.sys.c.mock.blocklist(signer.address).then((t) => t.wait());
    await h.credit(seller.id, "USD", 5_000n);
    await h.credit("S-TEST-USD-02", "USD", 700n); // paid in the same batch
    const { batches } = await h.payouts.plan();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.count).toBe(2);
    await h.payouts.execute();
    const final = await h.untilBatch(batches[0]!.id, "final");
    expect(final).toMatchObject({ paidTotal: 7_000_000n, deferredTotal: 50_000_000n });
    const payouts = (await h.payouts.getBatch(final.id)).payouts;
    const deferred = payouts.find((p) => p.sellerId === seller.id)!;
    expect(deferred).toMatchObject({ status: "final", outcome: "deferred" });
    expect(deferred.claimableTxId).not.toBeNull();
    expect(payouts.find((p) => p.sellerId === "S-TEST-USD-02")).toMatchObject({ outcome: "paid", claimableTxId: null });

    expect(await h.sys.c.vault.claimableOf(signer.address)).toBe(50_000_000n);
    expect((await balance(TreasuryAccounts.claimable(seller.id), STABLECOIN_CURRENCY)).posted).toBe(50_000_000n);
    expect((await balance(PayoutAccounts.available(seller.id), "USD")).posted).toBe(0n);
    const journal = await payoutJournal(h.ledger, deferred.id);
    expect(journal.map((t) => t.kind).sort()).toEqual(["commit", "pending", "standard"]);
    journal.forEach(expectBalanced);
    // The vault still holds the deferred tokens: the ledger's vault asset follows the chain.
    const vaultTokens = await h.sys.c.token.balanceOf(h.vault);
    expect((await balance(TreasuryAccounts.vault(), STABLECOIN_CURRENCY)).posted).toBe(vaultTokens);

    // The seller claims to another address of theirs once unblocked.
    await h.sys.c.mock.unblocklist(signer.address).then((t) => t.wait());
    const to = h.sys.others[14]!.address;
    await h.sys.c.vault.connect(signer).claim(to).then((t) => t.wait());
    await h.step(); // observed: not booked yet
    expect((await balance(TreasuryAccounts.claimable(seller.id), STABLECOIN_CURRENCY)).posted).toBe(50_000_000n);
    await mineEmpty(h.sys, 3);
    await h.step();
    await h.step();
    expect((await balance(TreasuryAccounts.claimable(seller.id), STABLECOIN_CURRENCY)).posted).toBe(0n);
    expect((await balance(TreasuryAccounts.vault(), STABLECOIN_CURRENCY)).posted).toBe(await h.sys.c.token.balanceOf(h.vault));
    const claims = await h.ledger.listTransactions({ metadata: { kind: "payout_claimed" } });
    expect(claims.items).toHaveLength(1);
    expect(claims.items[0]!.metadata).toMatchObject({ sellerId: seller.id, to });
    expectBalanced(claims.items[0]!);

    // Announced to webhooks in the same transactions: sent, then final (paid) or deferred, then the claim.
    const announced = (await outbox(h.db.sql)).filter((e) => e.type.startsWith("payout."));
    const of = (id: bigint) => announced.filter((e) => e.subject === `payout:${id}`).map((e) => e.type);
    expect(of(deferred.id)).toEqual(["payout.sent", "payout.deferred"]);
    expect(of(payouts.find((p) => p.sellerId === "S-TEST-USD-02")!.id)).toEqual(["payout.sent", "payout.final"]);
    const claimed = announced.filter((e) => e.type === "payout.claimed");
    expect(claimed).toHaveLength(1);
    expect(claimed[0]).toMatchObject({ seller_id: seller.id, data: { sellerId: seller.id, tokenAmount: "50000000" } });
    expect(String(claimed[0]!.data.to).toLowerCase()).toBe(to.toLowerCase());
    // Delivered as /openapi.json's `webhooks` describes them.
    try {
      const seen = expectValidBodies(await tap.deliverAll());
      for (const t of ["payout.sent", "payout.final", "payout.deferred", "payout.claimed"]) expect(seen).toContain(t);
    } finally {
      await tap.close();
    }
  });

  it("never pays a mainland-China seller in a stablecoin: its destination is refused, one stored before is skipped with nothing reserved", async () => {
    const cn = "S-POP-SZ-01"; // Shenzhen Gadget Works, homeCountry CN, paid in CNY
    const address = h.sys.others[h.sellers.findIndex((s) => s.id === cn)]!.address;
    await expect(h.payouts.setDestination(cn, address, { by: "test" })).rejects.toMatchObject({
      code: "ENT_PAYOUT_VAULT_NOT_PERMITTED",
      status: 422,
      fields: [{ field: "homeCountry" }],
    });
    await expect(h.payouts.getDestination(cn)).rejects.toMatchObject({ code: "ENT_PAYOUT_DESTINATION_NOT_FOUND" });

    // A destination stored before the API refused one: written straight to the table, as it was.
    await h.payouts.repo.destinations.set({ sellerId: cn, chainId: h.sys.chainId, address, setBy: "before-the-fix" });
    await h.credit(cn, "CNY", 100_000n);
    const hk = "S-POP-HK-02";
    await h.credit(hk, "USD", 4_321n);
    const pendingBefore = (await h.ledger.listTransactions({ metadata: { kind: "payout", sellerId: cn } })).items.length;
    const r = await h.payouts.plan();
    const skipped = r.skipped.find((s) => s.sellerId === cn);
    expect(skipped).toMatchObject({ reason: "vault_not_permitted" });
    expect(skipped!.detail).toContain("homeCountry CN");
    expect(skipped!.detail).toContain(`destination ${address} stays on file, unused`);
    // Nothing of its balance is reserved, nothing planned for it; the Hong Kong seller is paid in the same run.
    expect(await balance(PayoutAccounts.available(cn), "CNY")).toMatchObject({ posted: 100_000n, available: 100_000n, pendingDebits: 0n });
    expect((await h.ledger.listTransactions({ metadata: { kind: "payout", sellerId: cn } })).items).toHaveLength(pendingBefore);
    expect(await h.payouts.listPayouts({ sellerId: cn })).toEqual([]);
    expect(r.batches).toHaveLength(1);
    const [p] = (await h.payouts.getBatch(r.batches[0]!.id)).payouts;
    expect(p).toMatchObject({ sellerId: hk, amount: 4_321n });
    await h.payouts.execute();
    await h.untilBatch(r.batches[0]!.id, "final");
    expect(await h.payouts.getPayout(p!.id)).toMatchObject({ status: "final", outcome: "paid" });
    // An operator hears of it once (the set of such sellers), not at every run.
    await h.payouts.plan();
    const warned = h.logs.filter((l) => l.level === "warn" && (l.obj as { reason?: string }).reason === "vault_not_permitted");
    expect(warned).toHaveLength(1);
    expect((warned[0]!.obj as { skipped: Array<{ sellerId: string }> }).skipped.map((x) => x.sellerId)).toContain(cn);
  });

  it("skips sellers below the minimum, without a destination, or beyond the vault's free balance", async () => {
    await h.credit("S-SEMI-HZ-01", "USD", 99n);
    await h.credit("S-TEST-CNY-01", "CNY", 10n ** 12n); // far more than the vault holds
    const r = await h.payouts.plan();
    expect(r.batches).toEqual([]);
    expect(r.skipped.find((s) => s.sellerId === "S-SEMI-HZ-01")).toMatchObject({ reason: "below_minimum" });
    expect(r.skipped.find((s) => s.sellerId === "S-TEST-CNY-01")).toMatchObject({ reason: "vault_capacity" });
    expect((await balance(PayoutAccounts.available("S-TEST-CNY-01"), "CNY")).available).toBe(10n ** 12n);
  });

  it("gives demo sellers Hardhat accounts #5.. on local chains only, idempotently", async () => {
    const chainless = new PayoutService({ sql: h.db.sql, ledger: h.ledger, fx: h.fx, sellers: h.settlement, chainId: 1337n });
    // The demo's vault sellers are those who may take a stablecoin; a mainland one is refused.
    const ids = DEMO_SELLERS.filter(mayTakeStablecoin).map((s) => s.id);
    expect(ids).toEqual(["S-POP-HK-02", "S-SEMI-HZ-01"]);
    await expect(assignDemoDestinations(chainless, ["S-POP-SZ-01"], 1337n)).rejects.toMatchObject({ code: "ENT_PAYOUT_VAULT_NOT_PERMITTED" });
    expect(await assignDemoDestinations(chainless, ids, 1337n)).toBe(ids.length);
    expect(await assignDemoDestinations(chainless, ids, 1337n)).toBe(0);
    for (const [i, id] of ids.entries()) {
      const d = await chainless.getDestination(id);
      expect(d).toMatchObject({ chainId: 1337n, address: demoPayoutAddress(i), setBy: "demo" });
      expect(d.address).toBe(h.sys.others[i]!.address); // account #(5 + i) of the dev mnemonic
    }
    await expect(assignDemoDestinations(chainless, ids, 1n)).rejects.toMatchObject({ code: "ENT_PAYOUT_FUNDING_REFUSED" });
    await expect(chainless.plan()).rejects.toMatchObject({ code: "ENT_PAYOUT_UNAVAILABLE" });

    // The demo's historical rates, republished as valid now so demo payouts can convert.
    await publishDemoPayoutRates(h.fx, { currencies: ["CNY", "USD"], day: "2024-12-20", now: new Date(Date.now() + 60_000) });
    const rate = await h.fx.latestRate("USD", "CNY", new Date(Date.now() + 61_000));
    expect(rate).toMatchObject({ rate: historicalUsdRate("CNY", "2024-12-20").rate });
    expect(rate.source).toMatch(/^demo: historical rate of 2024-12-\d\d republished for payouts$/);
  });

  it("tops the vault up only to the balance asked for, and mints test tokens on local chains only", async () => {
    const record = h.sys.result.record;
    const held = await h.sys.c.token.balanceOf(h.vault);
    expect(await fundVaultLocal({ record, admin: h.sys.deployer, amount: held, topUp: true })).toBeNull();
    const r = await fundVaultLocal({ record, admin: h.sys.deployer, amount: held + 5n * USDC, topUp: true });
    expect(r?.amount).toBe(5n * USDC);
    expect(await h.sys.c.token.balanceOf(h.vault)).toBe(held + 5n * USDC);
    await expect(fundVaultLocal({ record: { ...record, chainId: "1" }, admin: h.sys.deployer, amount: 1n })).rejects.toMatchObject({ code: "ENT_PAYOUT_FUNDING_REFUSED" });
  });

  it("never logs a sending key", async () => {
    // A payout of its own, so the sender has signed, broadcast and logged something.
    await h.credit("S-TEST-USD-02", "USD", 900n);
    const { batches } = await h.payouts.plan();
    expect(batches).toHaveLength(1);
    await h.payouts.execute();
    await h.untilBatch(batches[0]!.id, "final");
    expect(h.logs.some((l) => l.msg === "chain tx broadcast")).toBe(true);
    const text = JSON.stringify(h.logs, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)).toLowerCase();
    for (const i of [0, 1, 2]) expect(text).not.toContain(devPrivateKey(i).slice(2).toLowerCase());
  });
});
