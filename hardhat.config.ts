import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";

const require = createRequire(import.meta.url);

export default defineConfig({
  plugins: [hardhatEthers],
  solidity: {
    // solc is the WebAssembly build shipped in the npm package: Hardhat must never download a compiler.
    version: "0.8.30",
    path: require.resolve("solc/soljson.js"),
    settings: {
      // Tuned for call cost, not deployment size: the vault's payout loop and the anchor run forever,
      // deployment happens once (both stay far below the 24 KiB code-size limit).
      optimizer: { enabled: true, runs: 1_000_000 },
      evmVersion: "prague",
    },
  },
  paths: {
    tests: { solidity: "test/contracts" },
  },
  networks: {
    // The chain `npm start` runs (`hardhat node --network devnode`): a block every second even when
    // idle, so confirmation depths are reached without traffic, and still one block per transaction.
    devnode: {
      type: "edr-simulated",
      chainType: "l1",
      mining: { auto: true, interval: 1000 },
    },
    localhost: {
      type: "http",
      chainType: "l1",
      url: process.env.RPC_URL ?? "http://127.0.0.1:8545",
    },
  },
});
