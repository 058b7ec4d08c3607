import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import type { ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import {
  attachSystem,
  MockFeeOnTransferToken__factory,
  MockHookToken__factory,
  MockRecipient__factory,
  packPayout,
  payoutsHash,
  type MockHookToken,
  type MockRecipient,
  type SettlementVaultContract,
} from "../../service/chain/contracts.js";
import { deploySystem } from "../../service/chain/deploy.js";
import { revertAfterEach, type Connection, type Signer } from "./fixture.js";
import { expectEvents, expectRevert } from "./helpers.js";

/** MockRecipient's hook modes (contracts/mocks/MockHookToken.sol). */
const Mode = { Accept: 0, Reject: 1, BurnGas: 2, Reenter: 3 } as const;

async function mined(tx: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> {
  const receipt = await (await tx).wait();
  if (receipt === null) throw new Error("no receipt");
  return receipt;
}

describe("SettlementVault paying in a token with receiver hooks (recipients that reject, burn gas, re-enter)", { timeout: 120_000 }, () => {
  let chain: Connection;
  let payer: Signer;
  let seller: Signer;
  let vault: SettlementVaultContract;
  let vaultAddress: string;
  let hookToken: MockHookToken;
  let recipient: MockRecipient;
  let recipientAddress: string;
  let nextId = 1n;

  beforeAll(async () => {
    chain = await network.create();
    const signers = await chain.ethers.getSigners();
    const deployer = signers[0]!;
    payer = signers[2]!;
    seller = signers[7]!;
    hookToken = await new MockHookToken__factory(deployer).deploy();
    recipient = await new MockRecipient__factory(deployer).deploy();
    recipientAddress = await recipient.getAddress();
    // deploySystem against an existing token: what a deployment on a real chain does.
    const { record } = await deploySystem(deployer, {
      network: chain.networkName,
      deploymentsDir: null,
      token: await hookToken.getAddress(),
    });
    expect(record.token.mock).toBe(false);
    vault = attachSystem(record, payer).vault;
    vaultAddress = await vault.getAddress();
    await mined(hookToken.mint(vaultAddress, 1_000_000n));
  }, 60_000);
  afterAll(async () => {
    await chain?.close();
  });
  // Every test starts from the funded vault with nothing owed; payout ids keep counting up.
  revertAfterEach(() => chain);

  async function payBatch(mode: number) {
    await mined(recipient.setMode(mode));
    const first = nextId;
    nextId += 3n;
    const batchId = first;
    const payouts = [packPayout(seller.address, 100n), packPayout(recipientAddress, 200n), packPayout(seller.address, 300n)];
    const receipt = await mined(vault.payout(batchId, first, payouts, { gasLimit: 5_000_000 }));
    return { receipt, batchId, first, payouts };
  }

  it("defers the payout of a recipient contract that rejects, and pays the others", async () => {
    const { receipt, batchId, first } = await payBatch(Mode.Reject);
    expectEvents(receipt, hookToken.interface, await hookToken.getAddress(), "Transfer", [
      [vaultAddress, seller.address, 100n],
      [vaultAddress, seller.address, 300n],
    ]);
    expectEvents(receipt, vault.interface, vaultAddress, "PayoutDeferred", [[batchId, first + 1n, recipientAddress, 200n]]);
    expect(await vault.claimableOf(recipientAddress)).toBe(200n);
  });

  it("caps the gas a hook can burn: the batch completes and the burner's payout is deferred", async () => {
    const owed = await vault.claimableOf(recipientAddress);
    const { receipt, batchId, first, payouts } = await payBatch(Mode.BurnGas);
    expectEvents(receipt, vault.interface, vaultAddress, "PayoutDeferred", [[batchId, first + 1n, recipientAddress, 200n]]);
    expectEvents(receipt, vault.interface, vaultAddress, "PayoutBatchExecuted", [
      [batchId, first, 3n, 400n, 200n, payoutsHash(payouts), payer.address],
    ]);
    // 150,000 forwarded to the hook, not the whole 5,000,000 limit.
    expect(receipt.gasUsed).toBeLessThan(400_000n);
    expect(await vault.claimableOf(recipientAddress)).toBe(owed + 200n);
  });

  it("refuses re-entry from a hook (claim during a payout): the re-entrant payout is deferred, not double-paid", async () => {
    // Something already owed, so a successful re-entrant claim would have something to take.
    await payBatch(Mode.Reject);
    const owed = await vault.claimableOf(recipientAddress);
    await mined(recipient.setReenter(vaultAddress, vault.interface.encodeFunctionData("claim", [recipientAddress])));
    const { receipt, batchId, first } = await payBatch(Mode.Reenter);
    expectEvents(receipt, vault.interface, vaultAddress, "Claimed", []);
    expectEvents(receipt, vault.interface, vaultAddress, "PayoutDeferred", [[batchId, first + 1n, recipientAddress, 200n]]);
    expect(await vault.claimableOf(recipientAddress)).toBe(owed + 200n);
    expect(await vault.totalClaimable()).toBe(owed + 200n);
  });

  it("lets the recipient contract claim everything once it accepts, and not twice", async () => {
    await payBatch(Mode.Reject);
    await payBatch(Mode.BurnGas);
    const owed = await vault.claimableOf(recipientAddress);
    expect(owed).toBe(400n);
    await mined(recipient.setMode(Mode.Accept));
    const before = await hookToken.balanceOf(recipientAddress);
    const receipt = await mined(recipient.execute(vaultAddress, vault.interface.encodeFunctionData("claim", [recipientAddress])));
    expectEvents(receipt, vault.interface, vaultAddress, "Claimed", [[recipientAddress, recipientAddress, owed]]);
    expect(await hookToken.balanceOf(recipientAddress)).toBe(before + owed);
    expect(await vault.totalClaimable()).toBe(0n);
    await expectRevert(
      recipient.execute(vaultAddress, vault.interface.encodeFunctionData("claim", [recipientAddress])),
      vault.interface,
      "NothingToClaim",
      [recipientAddress],
    );
  });

  it("refuses funding in a fee-on-transfer token", async () => {
    const [deployer, , , , , treasury] = await chain.ethers.getSigners();
    const fee = await new MockFeeOnTransferToken__factory(deployer).deploy();
    const { record } = await deploySystem(deployer!, { network: chain.networkName, deploymentsDir: null, token: await fee.getAddress() });
    const feeVault = attachSystem(record, treasury!).vault;
    await mined(fee.mint(treasury!.address, 10_000n));
    await mined(fee.connect(treasury).approve(await feeVault.getAddress(), 10_000n));
    const e = await expectRevert(feeVault.fund(10_000n), feeVault.interface, "FeeOnTransferNotSupported");
    expect(e.args[0]).toBe(10_000n);
    expect(e.args[1] as bigint).toBeLessThan(10_000n);
  });
});
