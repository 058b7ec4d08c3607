import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Signature,
  TypedDataEncoder,
  verifyTypedData,
  ZeroAddress,
  ZeroHash,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
} from "ethers";
import { packPayout, payoutBatchTypedData, payoutsHash, SettlementVault__factory } from "../../service/chain/contracts.js";
import { deployedSystem, revertAfterEach, type Signer, type System } from "./fixture.js";
import { eventsOf, expectEvents, expectRevert } from "./helpers.js";

const USDC = 1_000_000n; // 6 decimals

async function mined(tx: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return receipt;
}

describe("SettlementVault, deployed by deploySystem on an in-process chain", { timeout: 120_000 }, () => {
  let s: System;
  let treasury: Signer;
  let sellers: Signer[];
  let outsider: Signer;
  let vaultAddress: string;
  let nextPayoutId = 1n;
  let nextBatchId = 1n;

  const asPayer = () => s.c.vault.connect(s.payer);
  const as = (who: Signer) => s.c.vault.connect(who);
  const ids = (n: number) => {
    const first = nextPayoutId;
    nextPayoutId += BigInt(n);
    return { batchId: nextBatchId++, first };
  };
  const latestTimestamp = async () => BigInt((await s.connection.ethers.provider.getBlock("latest"))!.timestamp);

  async function signBatch(
    by: Signer,
    batchId: bigint,
    first: bigint,
    payouts: bigint[],
    deadline: bigint,
    chainId = s.chainId,
    vault = vaultAddress,
  ) {
    const { domain, types } = payoutBatchTypedData(chainId, vault);
    return by.signTypedData(domain, { PayoutBatch: [...types.PayoutBatch] }, { batchId, firstPayoutId: first, payouts, deadline });
  }

  async function permit(owner: Signer, value: bigint, deadline: bigint) {
    const token = s.c.mock;
    const sig = await owner.signTypedData(
      { name: await token.name(), version: "2", chainId: s.chainId, verifyingContract: await token.getAddress() },
      {
        Permit: [
          { name: "owner", type: "address" },
          { name: "spender", type: "address" },
          { name: "value", type: "uint256" },
          { name: "nonce", type: "uint256" },
          { name: "deadline", type: "uint256" },
        ],
      },
      { owner: owner.address, spender: vaultAddress, value, nonce: await token.nonces(owner.address), deadline },
    );
    return Signature.from(sig);
  }

  beforeAll(async () => {
    s = await deployedSystem();
    [treasury, outsider, ...sellers] = s.others as [Signer, Signer, ...Signer[]];
    vaultAddress = await s.c.vault.getAddress();
    await mined(s.c.mock.mint(treasury.address, 10_000_000n * USDC));
    // Tokens the payout tests pay from, put there directly (the funding paths are tested below).
    await mined(s.c.mock.mint(vaultAddress, 1_000_000n * USDC));
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });
  // Every test starts from this state: treasury and vault holding tokens, nothing owed, no id used.
  revertAfterEach(() => s.connection);

  describe("when the treasury funds the vault", () => {
    it("pulls an approved amount and emits Funded", async () => {
      const [held, excess] = [await s.c.mock.balanceOf(vaultAddress), await s.c.vault.excess()];
      await mined(s.c.mock.connect(treasury).approve(vaultAddress, 1_000_000n * USDC));
      const receipt = await mined(as(treasury).fund(1_000_000n * USDC));
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "Funded", [[treasury.address, 1_000_000n * USDC]]);
      expect(await s.c.mock.balanceOf(vaultAddress)).toBe(held + 1_000_000n * USDC);
      expect(await s.c.vault.excess()).toBe(excess + 1_000_000n * USDC);
    });

    it("funds with an EIP-2612 permit in the same transaction, consuming the permit nonce", async () => {
      const deadline = (await latestTimestamp()) + 3_600n;
      const nonce = await s.c.mock.nonces(treasury.address);
      const held = await s.c.mock.balanceOf(vaultAddress);
      const { v, r, s: sigS } = await permit(treasury, 500_000n * USDC, deadline);
      const receipt = await mined(as(treasury).fundWithPermit(500_000n * USDC, deadline, v, r, sigS));
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "Funded", [[treasury.address, 500_000n * USDC]]);
      expect(await s.c.mock.nonces(treasury.address)).toBe(nonce + 1n);
      expect(await s.c.mock.allowance(treasury.address, vaultAddress)).toBe(0n);
      expect(await s.c.mock.balanceOf(vaultAddress)).toBe(held + 500_000n * USDC);
    });

    it("still funds when the permit was front-run by someone else, since the allowance is then set", async () => {
      const deadline = (await latestTimestamp()) + 3_600n;
      const { v, r, s: sigS } = await permit(treasury, 1_000n * USDC, deadline);
      await mined(
        s.c.mock.connect(outsider).permit(treasury.address, vaultAddress, 1_000n * USDC, deadline, v, r, sigS),
      );
      const receipt = await mined(as(treasury).fundWithPermit(1_000n * USDC, deadline, v, r, sigS));
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "Funded", [[treasury.address, 1_000n * USDC]]);
    });

    it("refuses an expired permit (no allowance results), a zero amount and an unapproved pull", async () => {
      const deadline = (await latestTimestamp()) - 1n;
      const { v, r, s: sigS } = await permit(treasury, 1_000n * USDC, deadline);
      await expectRevert(
        as(treasury).fundWithPermit(1_000n * USDC, deadline, v, r, sigS),
        s.c.mock.interface,
        "ERC20InsufficientAllowance",
        [vaultAddress, 0n, 1_000n * USDC],
      );
      await expectRevert(as(treasury).fund(0n), s.c.vault.interface, "ZeroAmount", []);
      await expectRevert(as(outsider).fund(5n), s.c.mock.interface, "ERC20InsufficientAllowance", [vaultAddress, 0n, 5n]);
    });
  });

  describe("when a payout batch is pushed", () => {
    it("pays every seller, defers the blocklisted one to the pull fallback, and reports both totals", async () => {
      const [a, b, blocked, d] = sellers as [Signer, Signer, Signer, Signer];
      await mined(s.c.mock.blocklist(blocked.address));
      const amounts = [120n * USDC, 75n * USDC + 50n, 310n * USDC, 1n];
      const payees = [a, b, blocked, d];
      const payouts = payees.map((p, i) => packPayout(p.address, amounts[i]!));
      const { batchId, first } = ids(4);
      const before = await Promise.all(payees.map((p) => s.c.mock.balanceOf(p.address)));

      const receipt = await mined(asPayer().payout(batchId, first, payouts));

      // Paid payouts leave no vault event (gas); the token's Transfer from the vault is their record.
      expectEvents(receipt, s.c.mock.interface, await s.c.mock.getAddress(), "Transfer", [
        [vaultAddress, a.address, amounts[0]!],
        [vaultAddress, b.address, amounts[1]!],
        [vaultAddress, d.address, amounts[3]!],
      ]);
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "PayoutDeferred", [[batchId, first + 2n, blocked.address, amounts[2]!]]);
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "PayoutBatchExecuted", [
        [batchId, first, 4n, amounts[0]! + amounts[1]! + amounts[3]!, amounts[2]!, payoutsHash(payouts), s.payer.address],
      ]);
      // The batch summary comes after every per-payout event (indexers rely on that order).
      expect(eventsOf(receipt, s.c.vault.interface, vaultAddress).at(-1)?.name).toBe("PayoutBatchExecuted");
      for (const [i, p] of payees.entries()) {
        expect(await s.c.mock.balanceOf(p.address)).toBe(before[i]! + (p === blocked ? 0n : amounts[i]!));
        expect(await s.c.vault.isPayoutProcessed(first + BigInt(i))).toBe(true);
      }
      expect(await s.c.vault.isPayoutProcessed(first + 4n)).toBe(false);
      expect(await s.c.vault.claimableOf(blocked.address)).toBe(amounts[2]!);
      expect(await s.c.vault.totalClaimable()).toBe(amounts[2]!);
    });

    it("lets the deferred seller claim to another address, once", async () => {
      const blocked = sellers[2]!;
      const to = sellers[5]!;
      await mined(s.c.mock.blocklist(blocked.address));
      const { batchId, first } = ids(1);
      await mined(asPayer().payout(batchId, first, [packPayout(blocked.address, 310n * USDC)]));
      const owed = await s.c.vault.claimableOf(blocked.address);
      expect(owed).toBe(310n * USDC);
      // The blocklisted address itself cannot receive: that claim reverts and keeps the debt.
      await expectRevert(as(blocked).claim(blocked.address), s.c.mock.interface, "AccountBlocklisted", [blocked.address]);
      const before = await s.c.mock.balanceOf(to.address);
      const receipt = await mined(as(blocked).claim(to.address));
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "Claimed", [[blocked.address, to.address, owed]]);
      expect(await s.c.mock.balanceOf(to.address)).toBe(before + owed);
      expect(await s.c.vault.claimableOf(blocked.address)).toBe(0n);
      expect(await s.c.vault.totalClaimable()).toBe(0n);
      await expectRevert(as(blocked).claim(to.address), s.c.vault.interface, "NothingToClaim", [blocked.address]);
      await expectRevert(as(outsider).claim(ZeroAddress), s.c.vault.interface, "InvalidRecipient", [ZeroAddress]);
      await mined(s.c.mock.unblocklist(blocked.address));
    });

    it("defers every payout while the token itself is paused, and the debt stays covered", async () => {
      await mined(s.c.mock.pause());
      const payouts = [packPayout(sellers[0]!.address, 7n * USDC), packPayout(sellers[1]!.address, 8n * USDC)];
      const { batchId, first } = ids(2);
      const receipt = await mined(asPayer().payout(batchId, first, payouts));
      await mined(s.c.mock.unpause());
      expectEvents(receipt, s.c.mock.interface, await s.c.mock.getAddress(), "Transfer", []);
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "PayoutBatchExecuted", [
        [batchId, first, 2n, 0n, 15n * USDC, payoutsHash(payouts), s.payer.address],
      ]);
      expect(await s.c.vault.totalClaimable()).toBe(15n * USDC);
      expect(await s.c.vault.excess()).toBe((await s.c.mock.balanceOf(vaultAddress)) - 15n * USDC);
      await mined(as(sellers[0]!).claim(sellers[0]!.address));
      await mined(as(sellers[1]!).claim(sellers[1]!.address));
    });

    it("refuses a batch the vault cannot cover, an empty batch and a malformed payout", async () => {
      const balance = await s.c.mock.balanceOf(vaultAddress);
      const { batchId, first } = ids(1);
      // The transfer fails for lack of funds, the amount would become a claimable, and the solvency check stops it.
      await expectRevert(
        asPayer().payout(batchId, first, [packPayout(sellers[0]!.address, balance + 1n)]),
        s.c.vault.interface,
        "InsufficientVaultBalance",
        [balance, balance + 1n],
      );
      await expectRevert(asPayer().payout(batchId, first, []), s.c.vault.interface, "EmptyPayoutBatch", [batchId]);
      const toVault = (BigInt(vaultAddress) << 96n) | 5n;
      await expectRevert(asPayer().payout(batchId, first, [toVault]), s.c.vault.interface, "InvalidPayout", [first, vaultAddress, 5n]);
      const zeroAmount = BigInt(sellers[0]!.address) << 96n;
      await expectRevert(asPayer().payout(batchId, first, [zeroAmount]), s.c.vault.interface, "InvalidPayout", [
        first,
        sellers[0]!.address,
        0n,
      ]);
      expect(await s.c.vault.isPayoutProcessed(first)).toBe(false);
    });
  });

  describe("when payout ids are reused", () => {
    it("never pays an id twice: same range, overlapping range, across a bitmap word, or after cancellation", async () => {
      const pay = (first: bigint, n: number) =>
        Array.from({ length: n }, (_, i) => packPayout(sellers[i % sellers.length]!.address, BigInt(i + 1)));
      // A range straddling ids 255/256 touches two bitmap words.
      const first = 250n;
      await mined(asPayer().payout(900n, first, pay(first, 10)));
      await expectRevert(asPayer().payout(901n, first, pay(first, 10)), s.c.vault.interface, "PayoutAlreadyProcessed", [first]);
      await expectRevert(asPayer().payout(902n, 240n, pay(240n, 12)), s.c.vault.interface, "PayoutAlreadyProcessed", [250n]);
      await expectRevert(asPayer().payout(903n, 259n, pay(259n, 3)), s.c.vault.interface, "PayoutAlreadyProcessed", [259n]);
      expect(await s.c.vault.isPayoutProcessed(240n)).toBe(false);
      expect(await s.c.vault.processedBitmap(1n)).toBe((1n << 4n) - 1n); // ids 256..259

      const receipt = await mined(asPayer().cancelPayouts(300n, 5n));
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "PayoutsCancelled", [[300n, 5n, s.payer.address]]);
      await expectRevert(asPayer().payout(904n, 302n, pay(302n, 1)), s.c.vault.interface, "PayoutAlreadyProcessed", [302n]);
      await expectRevert(as(outsider).cancelPayouts(400n, 1n), s.c.vault.interface, "UnauthorizedCanceller", [outsider.address]);
      await expectRevert(asPayer().cancelPayouts(400n, 0n), s.c.vault.interface, "ZeroAmount", []);
    });

    it("refuses a range whose last id does not fit in uint64", async () => {
      const max = (1n << 64n) - 1n;
      const payouts = [packPayout(sellers[0]!.address, 1n), packPayout(sellers[1]!.address, 1n)];
      await expectRevert(asPayer().payout(905n, max, payouts), s.c.vault.interface, "PayoutIdOverflow", [max, 2n]);
    });
  });

  describe("when a batch is authorized by an EIP-712 signature", () => {
    const batch = () => {
      const { batchId, first } = ids(3);
      const payouts = [packPayout(sellers[0]!.address, 11n), packPayout(sellers[1]!.address, 22n), packPayout(sellers[3]!.address, 33n)];
      return { batchId, first, payouts };
    };

    it("signs the digest the contract computes", async () => {
      const { batchId, first, payouts } = batch();
      const deadline = 2n ** 40n;
      const { domain, types } = payoutBatchTypedData(s.chainId, vaultAddress);
      const digest = TypedDataEncoder.hash(
        domain,
        { PayoutBatch: [...types.PayoutBatch] },
        { batchId, firstPayoutId: first, payouts, deadline },
      );
      expect(await s.c.vault.hashPayoutBatch(batchId, first, payouts, deadline)).toBe(digest);
    });

    it("pays a valid batch relayed by anyone, attributed to the signer", async () => {
      const { batchId, first, payouts } = batch();
      const deadline = (await latestTimestamp()) + 600n;
      const signature = await signBatch(s.signer, batchId, first, payouts, deadline);
      const receipt = await mined(as(outsider).payoutWithSignature(batchId, first, payouts, deadline, signature));
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "PayoutBatchExecuted", [
        [batchId, first, 3n, 66n, 0n, payoutsHash(payouts), s.signer.address],
      ]);

      // Replayed verbatim: the ids are spent, whoever relays it.
      await expectRevert(
        as(s.payer).payoutWithSignature(batchId, first, payouts, deadline, signature),
        s.c.vault.interface,
        "PayoutAlreadyProcessed",
        [first],
      );
    });

    it("refuses an expired authorization", async () => {
      const { batchId, first, payouts } = batch();
      const deadline = (await latestTimestamp()) - 1n;
      const signature = await signBatch(s.signer, batchId, first, payouts, deadline);
      const e = await expectRevert(
        as(outsider).payoutWithSignature(batchId, first, payouts, deadline, signature),
        s.c.vault.interface,
        "AuthorizationExpired",
      );
      expect(e.args[0]).toBe(deadline);
      expect(e.args[1] as bigint).toBeGreaterThan(deadline);
    });

    it("refuses a signature made for another chain id, for another vault, by a non-signer, or over other payouts", async () => {
      const { batchId, first, payouts } = batch();
      const deadline = (await latestTimestamp()) + 600n;
      const { domain, types } = payoutBatchTypedData(s.chainId, vaultAddress);
      const value = { batchId, firstPayoutId: first, payouts, deadline };
      // What the vault recovers from a foreign signature is some unrelated address, never the signer.
      const recovered = (sig: string) => verifyTypedData(domain, { PayoutBatch: [...types.PayoutBatch] }, value, sig);

      const otherChain = await signBatch(s.signer, batchId, first, payouts, deadline, 1n);
      expect(recovered(otherChain)).not.toBe(s.signer.address);
      await expectRevert(
        as(outsider).payoutWithSignature(batchId, first, payouts, deadline, otherChain),
        s.c.vault.interface,
        "UnauthorizedSigner",
        [recovered(otherChain)],
      );

      const other = await new SettlementVault__factory(s.deployer).deploy(
        await s.c.mock.getAddress(),
        0,
        s.deployer.address,
      );
      await other.waitForDeployment();
      const otherVault = await signBatch(s.signer, batchId, first, payouts, deadline, s.chainId, await other.getAddress());
      await expectRevert(
        as(outsider).payoutWithSignature(batchId, first, payouts, deadline, otherVault),
        s.c.vault.interface,
        "UnauthorizedSigner",
        [recovered(otherVault)],
      );

      const byPayer = await signBatch(s.payer, batchId, first, payouts, deadline);
      await expectRevert(
        as(outsider).payoutWithSignature(batchId, first, payouts, deadline, byPayer),
        s.c.vault.interface,
        "UnauthorizedSigner",
        [s.payer.address],
      );

      const valid = await signBatch(s.signer, batchId, first, payouts, deadline);
      const inflated = [...payouts.slice(0, 2), packPayout(sellers[3]!.address, 33_000n)];
      const e = await expectRevert(
        as(outsider).payoutWithSignature(batchId, first, inflated, deadline, valid),
        s.c.vault.interface,
        "UnauthorizedSigner",
      );
      expect(e.args[0]).not.toBe(s.signer.address);
      await expectRevert(
        as(outsider).payoutWithSignature(batchId, first, payouts, deadline + 1n, valid),
        s.c.vault.interface,
        "UnauthorizedSigner",
      );

      await expectRevert(
        as(outsider).payoutWithSignature(batchId, first, payouts, deadline, valid.slice(0, 130)),
        s.c.vault.interface,
        "InvalidSignature",
        [],
      );
      // None of the refused attempts spent the ids: the genuine authorization still pays.
      expect(await s.c.vault.isPayoutProcessed(first)).toBe(false);
      await mined(as(outsider).payoutWithSignature(batchId, first, payouts, deadline, valid));
      expect(await s.c.vault.isPayoutProcessed(first + 2n)).toBe(true);
    });
  });

  describe("when the pauser pauses", () => {
    it("pauses without the admin key, and refuses payouts (pushed or signed) and claims until the admin unpauses", async () => {
      const receipt = await mined(as(s.pauser).pause());
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "Paused", [[s.pauser.address]]);

      const { batchId, first } = ids(1);
      const payouts = [packPayout(sellers[0]!.address, 5n)];
      await expectRevert(asPayer().payout(batchId, first, payouts), s.c.vault.interface, "EnforcedPause", []);
      const deadline = (await latestTimestamp()) + 600n;
      const signature = await signBatch(s.signer, batchId, first, payouts, deadline);
      await expectRevert(
        as(outsider).payoutWithSignature(batchId, first, payouts, deadline, signature),
        s.c.vault.interface,
        "EnforcedPause",
        [],
      );
      await expectRevert(as(sellers[0]!).claim(sellers[0]!.address), s.c.vault.interface, "EnforcedPause", []);

      await expectRevert(as(s.pauser).unpause(), s.c.vault.interface, "AccessControlUnauthorizedAccount", [s.pauser.address, ZeroHash]);
      await mined(s.c.vault.unpause());
      await mined(asPayer().payout(batchId, first, payouts));
      expect(await s.c.vault.isPayoutProcessed(first)).toBe(true);
    });
  });

  describe("when roles are enforced", () => {
    it("refuses payouts, pauses, sweeps and role grants from accounts without the role", async () => {
      const payerRole = await s.c.vault.PAYER_ROLE();
      const pauserRole = await s.c.vault.PAUSER_ROLE();
      const { batchId, first } = ids(1);
      const payouts = [packPayout(sellers[0]!.address, 5n)];
      for (const who of [s.deployer, s.signer, s.pauser, outsider]) {
        await expectRevert(as(who).payout(batchId, first, payouts), s.c.vault.interface, "AccessControlUnauthorizedAccount", [
          who.address,
          payerRole,
        ]);
      }
      for (const who of [s.deployer, s.payer, outsider]) {
        await expectRevert(as(who).pause(), s.c.vault.interface, "AccessControlUnauthorizedAccount", [who.address, pauserRole]);
      }
      for (const who of [s.payer, s.pauser, outsider]) {
        await expectRevert(as(who).sweepExcess(who.address, 1n), s.c.vault.interface, "AccessControlUnauthorizedAccount", [
          who.address,
          ZeroHash,
        ]);
        await expectRevert(as(who).grantRole(payerRole, who.address), s.c.vault.interface, "AccessControlUnauthorizedAccount", [
          who.address,
          ZeroHash,
        ]);
      }
      // The admin role itself only moves through the two-step, delayed transfer.
      await expectRevert(
        s.c.vault.grantRole(ZeroHash, outsider.address),
        s.c.vault.interface,
        "AccessControlEnforcedDefaultAdminRules",
        [],
      );
    });

    it("lets the admin sweep only the excess over what sellers are owed", async () => {
      const blocked = sellers[4]!;
      await mined(s.c.mock.blocklist(blocked.address));
      const { batchId, first } = ids(1);
      await mined(asPayer().payout(batchId, first, [packPayout(blocked.address, 40n * USDC)]));
      const excess = await s.c.vault.excess();
      expect(excess).toBe((await s.c.mock.balanceOf(vaultAddress)) - 40n * USDC);
      await expectRevert(s.c.vault.sweepExcess(s.deployer.address, excess + 1n), s.c.vault.interface, "ExcessExceeded", [
        excess + 1n,
        excess,
      ]);
      const receipt = await mined(s.c.vault.sweepExcess(treasury.address, excess));
      expectEvents(receipt, s.c.vault.interface, vaultAddress, "ExcessSwept", [[treasury.address, excess]]);
      expect(await s.c.mock.balanceOf(vaultAddress)).toBe(40n * USDC);
      expect(await s.c.vault.claimableOf(blocked.address)).toBe(40n * USDC);
    });
  });
});
