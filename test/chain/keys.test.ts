/**
 * Sending keys: dev accounts only on local chains, configured keys validated without ever echoing
 * them, the provider's chain checked. Real in-process chains: 31337 (local) and 11155111 (a
 * "real" chain id, where dev keys must be refused).
 */
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hexlify, randomBytes, Wallet } from "ethers";
import { network } from "hardhat";
import { HARDHAT_DEV_ACCOUNTS } from "../../service/chain/deploy.js";
import { devPrivateKey, isDevAddress, loadSigners, walletFromConfig } from "../../service/chain/keys.js";
import { TxSender } from "../../service/chain/sender.js";
import { isAppError, type AppError } from "../../service/errors.js";
import { freshDatabase } from "../support/db.js";

type Connection = Awaited<ReturnType<typeof network.create>>;

function caught(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    if (isAppError(e)) return e;
    throw e;
  }
  throw new Error("expected an error");
}

async function rejected(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

/** Everything an error could show in a log: message, details, fields, cause, inspect and JSON. */
function everything(e: AppError): string {
  return [e.message, JSON.stringify(e.details ?? {}), JSON.stringify(e.fields ?? []), String(e.cause), inspect(e, { depth: 10 }), JSON.stringify(e)].join("\n");
}

describe("sending keys", { timeout: 120_000 }, () => {
  let local: Connection;
  let real: Connection;
  beforeAll(async () => {
    local = await network.create();
    real = await network.create({ override: { chainId: 11155111 } });
  });
  afterAll(async () => {
    await local?.close();
    await real?.close();
  });

  describe("devPrivateKey", () => {
    it("derives Hardhat's public dev accounts from the well-known mnemonic", () => {
      HARDHAT_DEV_ACCOUNTS.forEach((address, i) => expect(new Wallet(devPrivateKey(i)).address).toBe(address));
      expect(new Wallet(devPrivateKey(1, 31337n)).address).toBe(HARDHAT_DEV_ACCOUNTS[1]);
      expect(new Wallet(devPrivateKey(2, 1337n)).address).toBe(HARDHAT_DEV_ACCOUNTS[2]);
      expect(isDevAddress(HARDHAT_DEV_ACCOUNTS[4])).toBe(true);
      expect(isDevAddress(Wallet.createRandom().address)).toBe(false);
    });

    it("refuses them on any chain that is not local, and out-of-range indexes", () => {
      expect(caught(() => devPrivateKey(1, 1n)).code).toBe("ENT_CHAIN_DEV_KEY_REFUSED");
      expect(caught(() => devPrivateKey(1, 11155111n)).code).toBe("ENT_CHAIN_DEV_KEY_REFUSED");
      expect(caught(() => devPrivateKey(20)).code).toBe("ENT_CHAIN_DEV_KEY_REFUSED");
      expect(caught(() => devPrivateKey(-1)).code).toBe("ENT_CHAIN_DEV_KEY_REFUSED");
    });
  });

  describe("walletFromConfig", () => {
    it("accepts 64 hex digits with or without 0x", () => {
      const key = hexlify(randomBytes(32));
      const address = new Wallet(key).address;
      expect(walletFromConfig("PAYER_PRIVATE_KEY", key).address).toBe(address);
      expect(walletFromConfig("PAYER_PRIVATE_KEY", ` ${key.slice(2).toUpperCase()}\n`).address).toBe(address);
    });

    it.each([
      ["too short", "0x1234"],
      ["not hex", "zz".repeat(32)],
      ["zero (off the curve)", "00".repeat(32)],
      ["the curve order (off the curve)", "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"],
      ["a mnemonic", "test test test test test test test test test test test junk"],
    ])("names the variable and never echoes the value: %s", (_what, value) => {
      const e = caught(() => walletFromConfig("ANCHORER_PRIVATE_KEY", value));
      expect(e.code).toBe("ENT_CHAIN_KEY_INVALID");
      expect(e.message).toContain("ANCHORER_PRIVATE_KEY");
      expect(e.details).toEqual({ variable: "ANCHORER_PRIVATE_KEY" });
      expect(e.cause).toBeUndefined();
      const all = everything(e);
      expect(all).not.toContain(value);
      expect(all.toLowerCase()).not.toContain(value.slice(2, 40).toLowerCase());
    });

    it("does not show the key when a wallet is inspected or serialised", () => {
      const key = devPrivateKey(7);
      const wallet = walletFromConfig("PAYER_PRIVATE_KEY", key);
      expect(inspect(wallet, { depth: 5 })).not.toContain(key.slice(2));
      expect(JSON.stringify(wallet)).not.toContain(key.slice(2));
    });
  });

  describe("loadSigners", () => {
    it("uses dev accounts #1 (anchorer) and #2 (payer) on a local chain when nothing is configured", async () => {
      const { anchorer, payer } = await loadSigners({}, 31337n, local.ethers.provider);
      expect([anchorer.address, payer.address]).toEqual([HARDHAT_DEV_ACCOUNTS[1], HARDHAT_DEV_ACCOUNTS[2]]);
      expect(anchorer.provider).toBe(local.ethers.provider);
    });

    it("prefers configured keys, on local and real chains", async () => {
      const a = hexlify(randomBytes(32));
      const p = hexlify(randomBytes(32));
      const onLocal = await loadSigners({ anchorerKey: a, payerKey: undefined }, 31337n, local.ethers.provider);
      expect([onLocal.anchorer.address, onLocal.payer.address]).toEqual([new Wallet(a).address, HARDHAT_DEV_ACCOUNTS[2]]);
      const onReal = await loadSigners({ anchorerKey: a, payerKey: p }, 11155111n, real.ethers.provider);
      expect([onReal.anchorer.address, onReal.payer.address]).toEqual([new Wallet(a).address, new Wallet(p).address]);
    });

    it("requires keys on a real chain, naming the missing variable", async () => {
      const e = await rejected(loadSigners({ anchorerKey: hexlify(randomBytes(32)) }, 11155111n, real.ethers.provider));
      expect(e.code).toBe("ENT_CHAIN_KEY_MISSING");
      expect(e.message).toContain("PAYER_PRIVATE_KEY");
    });

    it("refuses a public dev key configured for a real chain, without echoing it", async () => {
      const key = devPrivateKey(2);
      const e = await rejected(loadSigners({ anchorerKey: hexlify(randomBytes(32)), payerKey: key }, 11155111n, real.ethers.provider));
      expect(e.code).toBe("ENT_CHAIN_DEV_KEY_REFUSED");
      expect(e.message).toContain("PAYER_PRIVATE_KEY");
      expect(everything(e)).not.toContain(key.slice(2));
    });

    it("refuses a provider on another chain than the configured one", async () => {
      const e = await rejected(loadSigners({}, 31337n, real.ethers.provider));
      expect(e.code).toBe("ENT_CHAIN_WRONG_CHAIN");
    });
  });

  it("TxSender refuses to sign for a chain its provider is not on", async () => {
    const db = await freshDatabase("pglite");
    try {
      const wallet = new Wallet(devPrivateKey(1));
      const sender = new TxSender({ sql: db.sql, provider: real.ethers.provider, chainId: 31337n, signers: [wallet] });
      const e = await rejected(sender.submit({ key: "k", purpose: "test", from: wallet.address, to: wallet.address, data: "0x" }));
      expect(e.code).toBe("ENT_CHAIN_WRONG_CHAIN");
      expect(await sender.get("k")).toBeNull();
      expect(caught(() => new TxSender({ sql: db.sql, provider: real.ethers.provider, chainId: 31337n, signers: [], feeBumpPercent: 5 })).code).toBe(
        "ENT_CHAIN_SENDER_OPTION",
      );
    } finally {
      await db.close();
    }
  });
});
