/**
 * Local chains only: stablecoin for the vault, and deterministic payout addresses for the demo
 * sellers.
 *
 * Funding mints MockStablecoin to the token's owner (the deployer/admin, dev account #0), approves
 * the vault and calls `vault.fund(amount)`. It is NOT booked here: the vault's `Funded` event is
 * booked by the treasury (service/treasury) once final (`vault:<chainId>:<tx>:<log>:funded`: debit
 * `treasury:vault:USDC`, credit `treasury:bank` through `fx:USDC-USD`), so funding done by any
 * means (this function, a script, another treasury) is booked exactly once and only after it can
 * no longer be reorged away.
 *
 * Demo sellers are paid to Hardhat's public development accounts #5.. (in the order given: npm start
 * gives the vault's demo sellers, never a mainland-China one, whose destination the API refuses), so
 * that anyone running the demo holds their keys and can, e.g., claim a deferred payout.
 */
import { Wallet, type ethers } from "ethers";
import { attachSystem } from "../chain/contracts.js";
import { isLocalChain, type DeploymentRecord } from "../chain/deployment-record.js";
import { DEV_ACCOUNT_COUNT, devPrivateKey } from "../chain/keys.js";
import { historicalUsdRate, type FxService } from "../fx/index.js";
import { PayoutErrors } from "./errors.js";
import type { PayoutService } from "./service.js";

/** Dev accounts #0-#4 hold the roles; demo sellers start after them. */
export const FIRST_DEMO_SELLER_ACCOUNT = 5;

/** Address of the i-th demo seller: Hardhat dev account #(5 + i) (public keys: local chains only). */
export function demoPayoutAddress(index: number): string {
  const account = FIRST_DEMO_SELLER_ACCOUNT + index;
  if (!Number.isInteger(index) || index < 0 || account >= DEV_ACCOUNT_COUNT) {
    throw new RangeError(`demo seller index ${index}: only ${DEV_ACCOUNT_COUNT - FIRST_DEMO_SELLER_ACCOUNT} dev accounts are available`);
  }
  return new Wallet(devPrivateKey(account)).address;
}

/**
 * Gives each seller without a destination on `chainId` its demo address (seller i -> account
 * #(5 + i)); idempotent. Refused off local chains: those keys are public.
 */
export async function assignDemoDestinations(payouts: PayoutService, sellerIds: readonly string[], chainId: bigint): Promise<number> {
  if (!isLocalChain(chainId)) throw PayoutErrors.fundingRefused(`demo payout destinations are public dev accounts; refused on chain ${chainId}`);
  let set = 0;
  for (const [i, sellerId] of sellerIds.entries()) {
    if ((await payouts.repo.destinations.get(sellerId, chainId)) !== null) continue;
    const r = await payouts.setDestination(sellerId, demoPayoutAddress(i), { chainId, by: "demo" });
    if (r.changed) set++;
  }
  return set;
}

export interface FundVaultResult {
  mintHash: string;
  approveHash: string;
  fundHash: string;
  amount: bigint;
}

/**
 * Mints `amount` base units of the mock stablecoin to `admin` (its owner) and funds the vault with
 * them. With `topUp`, only what brings the vault's balance up to `amount` (null when it already
 * holds that much), so a restart of the local stack does not fund it again. Local chains with the
 * mock token only (ENT_PAYOUT_FUNDING_REFUSED otherwise).
 */
export async function fundVaultLocal(opts: { record: DeploymentRecord; admin: ethers.Signer; amount: bigint; topUp?: boolean }): Promise<FundVaultResult | null> {
  const chainId = BigInt(opts.record.chainId);
  if (!isLocalChain(chainId)) throw PayoutErrors.fundingRefused(`minting test stablecoin is for local chains only, not chain ${chainId}`);
  if (opts.amount <= 0n) throw PayoutErrors.invalid("amount must be positive", { fields: [{ field: "amount", message: "must be > 0" }] });
  const c = attachSystem(opts.record, opts.admin);
  if (c.mock === undefined) throw PayoutErrors.fundingRefused("the deployment's token is not the mock stablecoin; fund the vault from the treasury instead");
  const vault = await c.vault.getAddress();
  const amount = opts.topUp === true ? opts.amount - (await c.token.balanceOf(vault)) : opts.amount;
  if (amount <= 0n) return null;
  const admin = await opts.admin.getAddress();
  const mint = await c.mock.mint(admin, amount);
  await mint.wait();
  const approve = await c.token.approve(vault, amount);
  await approve.wait();
  const fund = await c.vault.fund(amount);
  const receipt = await fund.wait();
  if (receipt === null || receipt.status !== 1) throw PayoutErrors.fundingRefused(`vault.fund reverted (${fund.hash})`);
  return { mintHash: mint.hash, approveHash: approve.hash, fundHash: fund.hash, amount };
}

/**
 * The demo's rates are historical (2024-12), but a payout converts at the rate in force when it is
 * planned. For the local demo only: republishes the last historical USD rate of each currency as a
 * rate valid from `now` for a day, its source saying exactly that. Idempotent per (pair, validFrom).
 */
export async function publishDemoPayoutRates(fx: Pick<FxService, "publishRates">, opts: { currencies: readonly string[]; day: string; now?: Date }): Promise<void> {
  const now = opts.now ?? new Date();
  const validFrom = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  await fx.publishRates(
    opts.currencies
      .filter((c) => c !== "USD")
      .map((c) => {
        const h = historicalUsdRate(c, opts.day);
        return {
          base: "USD",
          quote: c,
          rate: h.rate,
          source: `demo: historical rate of ${h.asOf} republished for payouts`,
          asOf: validFrom,
          validFrom,
          validUntil: new Date(validFrom.getTime() + 86_400_000),
        };
      }),
  );
}
