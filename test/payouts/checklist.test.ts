/**
 * The vault's part of the period-close checklist (GET /v1/ledger/periods/checklist, kind
 * `vault_payouts_not_final`) on an in-process chain and a real database of each kind: a payout
 * planned before the period's end is listed, with its amount and the route that shows it, from its
 * reserve until its batch is final on chain; one planned after the period's end is not the period's.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fundVaultLocal } from "../../service/payouts/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { openPayoutHarness, USDC, type PayoutHarness } from "./harness.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("vault payouts in the period-close checklist on %s", { timeout: 60_000 }, (kind) => {
  let h: PayoutHarness;

  beforeAll(async () => {
    h = await openPayoutHarness(kind);
    await fundVaultLocal({ record: h.sys.result.record, admin: h.sys.deployer, amount: 1_000n * USDC });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it("lists a payout from its reserve until its batch is final", async () => {
    const ended = new Date();
    await h.credit("S-POP-HK-02", "USD", 12_345n);
    const { batches } = await h.payouts.plan({ by: "test" });
    expect(batches).toHaveLength(1);
    const id = batches[0]!.firstPayoutId.toString();
    const future = new Date(Date.now() + 86_400_000);
    expect(await h.payouts.notFinalBefore(future, 20)).toEqual({ count: 1, amounts: [{ currency: "USD", amount: 12_345n }], refs: [{ id, href: `/v1/payouts/${id}` }] });
    // Planned after a period that had ended: not that period's.
    expect(await h.payouts.notFinalBefore(ended, 20)).toEqual({ count: 0, amounts: [], refs: [] });
    await h.payouts.execute();
    expect((await h.payouts.notFinalBefore(future, 20)).count).toBe(1);
    await h.untilBatch(batches[0]!.id, "final");
    expect(await h.payouts.notFinalBefore(future, 20)).toEqual({ count: 0, amounts: [], refs: [] });
  });
});
