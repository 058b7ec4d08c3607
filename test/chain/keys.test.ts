/**
 * Sending keys on chains: dev accounts only on local chains, configured keys preferred, the
 * provider's chain checked. Real in-process chains: 31337 (local) and 11155111 (a "real" chain id,
 * where dev keys must be refused). The pure key checks (derivation, validation) are in
 * keys.unit.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hexlify, randomBytes, Wallet } from "ethers";
import { network } from "hardhat";
import { HARDHAT_DEV_ACCOUNTS } from "../../service/chain/deploy.js";
import { devPrivateKey, loadSigners } from "../../service/chain/keys.js";
import { TxSender } from "../../service/chain/sender.js";
import { freshDatabase } from "../support/db.js";
import { caught, everything, rejected } from "../support/app-errors.js";

type Connection = Awaited<ReturnType<typeof network.create>>;

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
