/**
 * Typed ethers bindings of the deployed contracts, built from a deployment record's ABIs. The
 * method types mirror `contracts/interfaces/*.sol` by hand (no code generator runs offline here);
 * a drift shows up in the end-to-end tests, which call every method through these types.
 */
import {
  BaseContract,
  type BaseContractMethod,
  type BigNumberish,
  type BytesLike,
  type ContractRunner,
  type ContractTransactionResponse,
  type InterfaceAbi,
  keccak256,
  solidityPacked,
} from "ethers";
import type { DeploymentRecord } from "./deployment-record.js";

type View<A extends unknown[], R> = BaseContractMethod<A, R, R>;
type Send<A extends unknown[], R = void> = BaseContractMethod<A, R, ContractTransactionResponse>;

interface AccessControlled {
  hasRole: View<[role: BytesLike, account: string], boolean>;
  grantRole: Send<[role: BytesLike, account: string]>;
  revokeRole: Send<[role: BytesLike, account: string]>;
  renounceRole: Send<[role: BytesLike, account: string]>;
  defaultAdmin: View<[], string>;
  pendingDefaultAdmin: View<[], [newAdmin: string, schedule: bigint]>;
  beginDefaultAdminTransfer: Send<[newAdmin: string]>;
  acceptDefaultAdminTransfer: Send<[]>;
  DEFAULT_ADMIN_ROLE: View<[], string>;
  PAUSER_ROLE: View<[], string>;
}

export type SettlementAnchorContract = BaseContract &
  AccessControlled & {
    anchorBatch: Send<[batchId: BigNumberish, root: BytesLike, count: BigNumberish, totalsDigest: BytesLike]>;
    anchorCorrection: Send<[batchId: BigNumberish, root: BytesLike, count: BigNumberish, totalsDigest: BytesLike, corrects: BigNumberish]>;
    freezeAnchorer: Send<[account: string]>;
    rootOf: View<[batchId: BigNumberish], string>;
    verifySettlement: View<[batchId: BigNumberish, leaf: BytesLike, proof: BytesLike[]], boolean>;
    ANCHOR_ROLE: View<[], string>;
  };

export type SettlementVaultContract = BaseContract &
  AccessControlled & {
    fund: Send<[amount: BigNumberish]>;
    fundWithPermit: Send<[amount: BigNumberish, deadline: BigNumberish, v: BigNumberish, r: BytesLike, s: BytesLike]>;
    payout: Send<[batchId: BigNumberish, firstPayoutId: BigNumberish, payouts: BigNumberish[]]>;
    payoutWithSignature: Send<
      [batchId: BigNumberish, firstPayoutId: BigNumberish, payouts: BigNumberish[], deadline: BigNumberish, signature: BytesLike]
    >;
    cancelPayouts: Send<[firstPayoutId: BigNumberish, count: BigNumberish]>;
    claim: Send<[to: string], bigint>;
    sweepExcess: Send<[to: string, amount: BigNumberish]>;
    rescueToken: Send<[otherToken: string, to: string, amount: BigNumberish]>;
    pause: Send<[]>;
    unpause: Send<[]>;
    paused: View<[], boolean>;
    token: View<[], string>;
    totalClaimable: View<[], bigint>;
    claimableOf: View<[seller: string], bigint>;
    excess: View<[], bigint>;
    isPayoutProcessed: View<[payoutId: BigNumberish], boolean>;
    processedBitmap: View<[wordPos: BigNumberish], bigint>;
    hashPayoutBatch: View<[batchId: BigNumberish, firstPayoutId: BigNumberish, payouts: BigNumberish[], deadline: BigNumberish], string>;
    PAYER_ROLE: View<[], string>;
    SIGNER_ROLE: View<[], string>;
    PAYOUT_BATCH_TYPEHASH: View<[], string>;
  };

/** ERC-20 + EIP-2612 as the vault uses it; the mock-only methods exist on the mock alone. */
export type StablecoinContract = BaseContract & {
  name: View<[], string>;
  symbol: View<[], string>;
  decimals: View<[], bigint>;
  totalSupply: View<[], bigint>;
  balanceOf: View<[account: string], bigint>;
  allowance: View<[owner: string, spender: string], bigint>;
  transfer: Send<[to: string, value: BigNumberish], boolean>;
  transferFrom: Send<[from: string, to: string, value: BigNumberish], boolean>;
  approve: Send<[spender: string, value: BigNumberish], boolean>;
  permit: Send<[owner: string, spender: string, value: BigNumberish, deadline: BigNumberish, v: BigNumberish, r: BytesLike, s: BytesLike]>;
  nonces: View<[owner: string], bigint>;
  DOMAIN_SEPARATOR: View<[], string>;
};

export type MockStablecoinContract = StablecoinContract & {
  mint: Send<[to: string, amount: BigNumberish]>;
  blocklist: Send<[account: string]>;
  unblocklist: Send<[account: string]>;
  pause: Send<[]>;
  unpause: Send<[]>;
  paused: View<[], boolean>;
  isBlocklisted: View<[account: string], boolean>;
  owner: View<[], string>;
};

function bind<T>(address: string, abi: InterfaceAbi, runner: ContractRunner | null): T {
  // BaseContract adds one property per ABI function at run time; T names those the ABI declares.
  return new BaseContract(address, abi, runner) as unknown as T;
}

/** Minimal ERC-20 + permit ABI for a real (non-mock) token, whose artifact this project lacks. */
export const STABLECOIN_ABI = [
  "function name() view returns (string)",
  "function symbol() view returns (string)",
  "function decimals() view returns (uint8)",
  "function totalSupply() view returns (uint256)",
  "function balanceOf(address) view returns (uint256)",
  "function allowance(address,address) view returns (uint256)",
  "function transfer(address,uint256) returns (bool)",
  "function transferFrom(address,address,uint256) returns (bool)",
  "function approve(address,uint256) returns (bool)",
  "function permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
  "function nonces(address) view returns (uint256)",
  "function DOMAIN_SEPARATOR() view returns (bytes32)",
  "event Transfer(address indexed from, address indexed to, uint256 value)",
  "event Approval(address indexed owner, address indexed spender, uint256 value)",
] as const;

export interface SystemContracts {
  anchor: SettlementAnchorContract;
  vault: SettlementVaultContract;
  token: StablecoinContract;
  /** Present when the deployment created the token (dev chains). */
  mock: MockStablecoinContract | undefined;
}

/** Binds the contracts of a deployment record to `runner` (a provider for reads, a signer for writes). */
export function attachSystem(record: DeploymentRecord, runner: ContractRunner | null): SystemContracts {
  const { SettlementAnchor: a, SettlementVault: v, MockStablecoin: m } = record.contracts;
  const mock = record.token.mock && m !== undefined ? bind<MockStablecoinContract>(m.address, m.abi, runner) : undefined;
  return {
    anchor: bind<SettlementAnchorContract>(a.address, a.abi, runner),
    vault: bind<SettlementVaultContract>(v.address, v.abi, runner),
    token: mock ?? bind<StablecoinContract>(record.token.address, STABLECOIN_ABI, runner),
    mock,
  };
}

/** Packs a payout as the vault expects: seller in the high 160 bits, amount (< 2^96) in the low 96. */
export function packPayout(seller: string, amount: bigint): bigint {
  if (amount <= 0n || amount >= 1n << 96n) throw new RangeError(`payout amount ${amount} outside (0, 2^96)`);
  return (BigInt(seller) << 96n) | amount;
}

/**
 * `keccak256(abi.encodePacked(payouts))`: the `payoutsHash` of PayoutBatchExecuted, which ties
 * payout id `firstPayoutId + i` to `payouts[i]` for reconciliation (and is the EIP-712 array hash).
 */
export function payoutsHash(payouts: readonly bigint[]): string {
  return keccak256(
    solidityPacked(
      payouts.map(() => "uint256"),
      payouts,
    ),
  );
}

/** The EIP-712 domain and types of a signed payout batch (see ISettlementVault). */
export function payoutBatchTypedData(chainId: bigint, vault: string) {
  return {
    domain: { name: "Entrepot SettlementVault", version: "1", chainId, verifyingContract: vault },
    types: {
      PayoutBatch: [
        { name: "batchId", type: "uint64" },
        { name: "firstPayoutId", type: "uint64" },
        { name: "payouts", type: "uint256[]" },
        { name: "deadline", type: "uint256" },
      ],
    },
  } as const;
}
