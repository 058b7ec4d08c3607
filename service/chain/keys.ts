/**
 * The service's sending keys. On real chains they come from configuration (ANCHORER_PRIVATE_KEY,
 * PAYER_PRIVATE_KEY); on local chains (31337, 1337) Hardhat's public development accounts #1
 * (anchorer) and #2 (payer) are used when none is configured. A key never appears in a log line
 * or an error: errors name the configuration variable, never the value, and carry no `cause`
 * (ethers' own errors could echo their argument).
 */
import { getAddress, HDNodeWallet, Mnemonic, SigningKey, Wallet, type ethers } from "ethers";
import { isLocalChain } from "./deployment-record.js";
import { ChainErrors } from "./sender-errors.js";

/** Hardhat's well-known development mnemonic: every key derived from it is public. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";
/** How many dev accounts `hardhat node` funds (and how many a configured key is compared against). */
export const DEV_ACCOUNT_COUNT = 20;

export const ANCHORER_KEY_VARIABLE = "ANCHORER_PRIVATE_KEY";
export const PAYER_KEY_VARIABLE = "PAYER_PRIVATE_KEY";

let devRoot: HDNodeWallet | null = null;
const devKeys = new Map<number, string>();
let devAddresses: Set<string> | null = null;

/**
 * Private key of dev account `index` (m/44'/60'/0'/0/index of the public mnemonic). When `chainId`
 * is given it must be a local chain: these keys are public, anyone can use them on a real chain.
 */
export function devPrivateKey(index: number, chainId?: bigint): string {
  if (!Number.isInteger(index) || index < 0 || index >= DEV_ACCOUNT_COUNT) {
    throw ChainErrors.devKeyRefused(`dev account index must be 0..${DEV_ACCOUNT_COUNT - 1}, got ${index}`);
  }
  if (chainId !== undefined && !isLocalChain(chainId)) {
    throw ChainErrors.devKeyRefused(`development keys are public and only used on local chains (31337, 1337), not chain ${chainId}`);
  }
  let key = devKeys.get(index);
  if (key === undefined) {
    devRoot ??= HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), "m/44'/60'/0'/0");
    key = devRoot.deriveChild(index).privateKey;
    devKeys.set(index, key);
  }
  return key;
}

/** True when `address` is one of the public dev accounts (#0..#19). */
export function isDevAddress(address: string): boolean {
  devAddresses ??= new Set(Array.from({ length: DEV_ACCOUNT_COUNT }, (_, i) => new Wallet(devPrivateKey(i)).address));
  return devAddresses.has(getAddress(address));
}

/** Parses a configured key; the error names `variable`, never the value. */
export function walletFromConfig(variable: string, value: string, provider?: ethers.Provider): Wallet {
  const hex = value.trim().replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw ChainErrors.keyInvalid(`${variable} must be 32 bytes of hex (64 hex digits, optional 0x)`, { details: { variable } });
  let signingKey: SigningKey;
  try {
    signingKey = new SigningKey(`0x${hex.toLowerCase()}`);
    // Forces the curve check (0 < key < n) now rather than at first signature.
    void signingKey.publicKey;
  } catch {
    throw ChainErrors.keyInvalid(`${variable} is not a valid secp256k1 private key`, { details: { variable } });
  }
  return new Wallet(signingKey, provider ?? null);
}

export interface SendingKeys {
  anchorer: Wallet;
  payer: Wallet;
}

/**
 * The anchorer and payer wallets, connected to `provider`. Configured keys win; without one, a
 * local chain uses dev accounts #1/#2 and any other chain fails (ENT_CHAIN_KEY_MISSING). A
 * configured key that is a public dev key is refused off local chains (ENT_CHAIN_DEV_KEY_REFUSED).
 * The provider must be on `chainId` (ENT_CHAIN_WRONG_CHAIN).
 */
export async function loadSigners(
  keys: { anchorerKey?: string | undefined; payerKey?: string | undefined },
  chainId: bigint,
  provider: ethers.Provider,
): Promise<SendingKeys> {
  const local = isLocalChain(chainId);
  const one = (variable: string, value: string | undefined, devIndex: number): Wallet => {
    if (value === undefined || value.trim() === "") {
      if (!local) throw ChainErrors.keyMissing(`${variable} is required on chain ${chainId}`, { details: { variable } });
      return new Wallet(devPrivateKey(devIndex, chainId), provider);
    }
    const wallet = walletFromConfig(variable, value, provider);
    if (!local && isDevAddress(wallet.address)) {
      throw ChainErrors.devKeyRefused(`${variable} is a public Hardhat development key; refused on chain ${chainId}`, { details: { variable } });
    }
    return wallet;
  };
  const anchorer = one(ANCHORER_KEY_VARIABLE, keys.anchorerKey, 1);
  const payer = one(PAYER_KEY_VARIABLE, keys.payerKey, 2);
  let actual: bigint;
  try {
    actual = (await provider.getNetwork()).chainId;
  } catch (e) {
    throw ChainErrors.rpcUnavailable(`reading the chain id: ${e instanceof Error ? e.message.slice(0, 200) : "unknown error"}`);
  }
  if (actual !== chainId) throw ChainErrors.wrongChain(`the provider is on chain ${actual}, the keys are configured for ${chainId}`);
  return { anchorer, payer };
}
