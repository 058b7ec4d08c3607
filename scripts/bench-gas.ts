/**
 * `npm run bench:gas`: gas of anchoring and of payouts, measured on the in-process Hardhat chain
 * (EDR, prague rules) against contracts deployed by `deploySystem`. Every figure is the
 * `gasUsed` of real transactions (21,000 base and calldata included), repeated and reported as
 * the median; the JSON line printed last is the machine-readable result.
 */
import { network } from "hardhat";
import { getAddress, hexlify, randomBytes, ZeroHash, type ContractTransactionResponse } from "ethers";
import {
  attachSystem,
  packPayout,
  payoutBatchTypedData,
  type MockStablecoinContract,
} from "../service/chain/contracts.js";
import { deploySystem } from "../service/chain/deploy.js";
import { settlementBatch } from "../test/chain/settlements.js";
import { figure, info, median, report, type Figure } from "./lib/figures.js";

const REPEAT = 5;
const PAYOUT_BATCH = 100;
/** 64 batches of 100 contiguous ids from a word boundary cover exactly 25 bitmap words of 256 ids. */
const PAYOUT_BATCHES = 64;
const USDC = 1_000_000n;

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (receipt === null || receipt.status !== 1) throw new Error("benchmark transaction failed");
  return Number(receipt.gasUsed);
}

const connection = await network.create();
try {
  const [deployer, anchorer, payer, signer, , treasury, relayer] = await connection.ethers.getSigners();
  if (
    deployer === undefined ||
    anchorer === undefined ||
    payer === undefined ||
    signer === undefined ||
    treasury === undefined ||
    relayer === undefined
  ) {
    throw new Error("the in-process network must expose at least 7 accounts");
  }
  const { record } = await deploySystem(deployer, { network: connection.networkName, deploymentsDir: null });
  const c = attachSystem(record, deployer);
  const mock = c.mock as MockStablecoinContract;
  const anchor = c.anchor.connect(anchorer);
  const vault = c.vault.connect(payer);
  const vaultAddress = await vault.getAddress();
  const chainId = (await connection.ethers.provider.getNetwork()).chainId;
  const figures: Figure[] = [];

  // --- anchoring: one transaction per batch, whatever the batch size -----------------------
  let batchId = 1n;
  const anchorGas = new Map<number, number>();
  for (const size of [1, 100, 5_000]) {
    // Leaves in the service's real encoding (service/anchoring/leaf.ts), digest of the real preimage.
    const { tree, totalsDigest: digest } = settlementBatch(size);
    const runs: number[] = [];
    // Each repetition anchors the same tree under a new id: same work, fresh storage slot.
    for (let r = 0; r < REPEAT; r++) runs.push(await gasOf(anchor.anchorBatch(batchId++, tree.root, size, digest)));
    anchorGas.set(size, median(runs));
    console.log(`anchor ${String(size).padStart(5)} settlements: ${runs.join(", ")} gas`);
  }
  for (const size of [1, 100]) figures.push(info(`anchor batch of ${size.toLocaleString("en-US")}: tx gas`, anchorGas.get(size)!, "gas"));
  figures.push(info("anchor batch of 5,000: tx gas (one transaction)", anchorGas.get(5_000)!, "gas"));
  figures.push(figure("anchor batch of 5,000: gas per settlement", anchorGas.get(5_000)! / 5_000, "gas", "<=", 10));

  // --- push payouts, 100 recipients per batch ------------------------------------------------
  await gasOf(mock.mint(treasury.address, 1_000_000_000n * USDC));
  await gasOf(mock.connect(treasury).approve(vaultAddress, 1_000_000_000n * USDC));
  await gasOf(c.vault.connect(treasury).fund(500_000_000n * USDC));

  // Payout ids run on contiguously across batches, as the ledger would issue them, so batches
  // share and cross 256-id bitmap words exactly as in production; starting on a word boundary
  // makes the mean over PAYOUT_BATCHES the exact amortized cost.
  let payoutId = 256n;
  const randomAddress = () => getAddress(hexlify(randomBytes(20)));
  let payoutBatchId = 1n;
  const amountFor = (i: number) => 100n * USDC + BigInt(i * 37);
  const payoutsTo = (addresses: string[]) => addresses.map((a, i) => packPayout(a, amountFor(i)));

  const newPerRecipient: number[] = [];
  const recipientSets: string[][] = [];
  for (let r = 0; r < PAYOUT_BATCHES; r++) {
    const fresh = Array.from({ length: PAYOUT_BATCH }, randomAddress);
    recipientSets.push(fresh);
    const gas = await gasOf(vault.payout(payoutBatchId++, payoutId, payoutsTo(fresh)));
    payoutId += BigInt(PAYOUT_BATCH);
    newPerRecipient.push(gas / PAYOUT_BATCH);
  }
  const existingPerRecipient: number[] = [];
  for (let r = 0; r < PAYOUT_BATCHES; r++) {
    const gas = await gasOf(vault.payout(payoutBatchId++, payoutId, payoutsTo(recipientSets[r]!)));
    payoutId += BigInt(PAYOUT_BATCH);
    existingPerRecipient.push(gas / PAYOUT_BATCH);
  }
  const range = (xs: number[]) => `min ${Math.min(...xs)}, max ${Math.max(...xs)}`;
  console.log(`payout, ${PAYOUT_BATCH} new recipients x ${PAYOUT_BATCHES} batches: ${range(newPerRecipient)} gas/recipient`);
  console.log(`payout, ${PAYOUT_BATCH} existing recipients x ${PAYOUT_BATCHES} batches: ${range(existingPerRecipient)} gas/recipient`);
  figures.push(figure("push payout, 100/batch: gas per NEW recipient", median(newPerRecipient), "gas", "<=", 27_000));
  figures.push(figure("push payout, 100/batch: gas per EXISTING recipient", median(existingPerRecipient), "gas", "<=", 10_500));
  // The median hides the batches that open a new 256-id bitmap word (+17,100 gas, zero to non-zero
  // slot): the mean over contiguous ids is the amortized cost, shown beside it for honesty.
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // The same targets apply: the long-run cost is what the treasury pays.
  figures.push(figure("push payout, 100/batch: NEW recipient, mean (amortized)", Math.round(mean(newPerRecipient)), "gas", "<=", 27_000));
  figures.push(figure("push payout, 100/batch: EXISTING recipient, mean (amortized)", Math.round(mean(existingPerRecipient)), "gas", "<=", 10_500));

  // --- naive baseline: one ERC-20 transfer transaction per settlement ------------------------
  const asTreasury = mock.connect(treasury);
  const transferNew: number[] = [];
  const transferExisting: number[] = [];
  for (let r = 0; r < REPEAT; r++) {
    const to = randomAddress();
    transferNew.push(await gasOf(asTreasury.transfer(to, amountFor(r))));
    transferExisting.push(await gasOf(asTreasury.transfer(to, amountFor(r))));
  }
  figures.push(info("baseline: one ERC-20 transfer tx to a NEW holder", median(transferNew), "gas"));
  figures.push(info("baseline: one ERC-20 transfer tx to an EXISTING holder", median(transferExisting), "gas"));

  // --- EIP-712 signed batch vs the same batch unsigned ----------------------------------------
  // Each pair pays the same 100 existing recipients; both batches start a fresh bitmap word so
  // neither is charged the other's storage (the ids differ, nothing else about the work does).
  const { domain, types } = payoutBatchTypedData(chainId, vaultAddress);
  const relayed = c.vault.connect(relayer);
  const overhead: number[] = [];
  for (let r = 0; r < REPEAT; r++) {
    const recipients = recipientSets[r]!;
    payoutId = ((payoutId >> 8n) + 1n) << 8n;
    const unsignedFirst = payoutId;
    const signedFirst = unsignedFirst + 256n;
    payoutId = signedFirst + 256n;
    const payouts = payoutsTo(recipients);
    const unsigned = await gasOf(vault.payout(payoutBatchId++, unsignedFirst, payouts));
    const signedBatchId = payoutBatchId++;
    const deadline = BigInt((await connection.ethers.provider.getBlock("latest"))!.timestamp) + 3_600n;
    const signature = await signer.signTypedData(
      domain,
      { PayoutBatch: [...types.PayoutBatch] },
      { batchId: signedBatchId, firstPayoutId: signedFirst, payouts, deadline },
    );
    const signed = await gasOf(relayed.payoutWithSignature(signedBatchId, signedFirst, payouts, deadline, signature));
    overhead.push(signed - unsigned);
  }
  console.log(`signed - unsigned, same 100-payout batch: ${overhead.join(", ")} gas`);
  figures.push(figure("signed payout batch overhead over unsigned (same batch)", median(overhead), "gas", "<=", 7_000));

  if ((await c.vault.totalClaimable()) !== 0n || (await anchor.rootOf(1n)) === ZeroHash)
    throw new Error("benchmark left an unexpected state");
  report(`Gas (in-process Hardhat EDR, solc 0.8.30, optimizer 1,000,000 runs; medians; payouts over ${PAYOUT_BATCHES} batches)`, figures);
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await connection.close();
}
