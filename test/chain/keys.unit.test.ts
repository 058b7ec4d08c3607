/**
 * Sending keys without a chain: Hardhat's dev accounts derived from the well-known mnemonic and
 * refused off local chains, configured keys validated without ever echoing them. Loading the
 * signers against a provider is in keys.test.ts.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { hexlify, randomBytes, Wallet } from "ethers";
import { HARDHAT_DEV_ACCOUNTS } from "../../service/chain/deploy.js";
import { devPrivateKey, isDevAddress, walletFromConfig } from "../../service/chain/keys.js";
import { caught, everything } from "../support/app-errors.js";

describe("sending keys", () => {
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

});
