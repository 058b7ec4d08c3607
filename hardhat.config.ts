import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";
import { fileURLToPath } from "node:url";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatTypechain from "@nomicfoundation/hardhat-typechain";

const require = createRequire(import.meta.url);

export default defineConfig({
  plugins: [hardhatEthers, hardhatTypechain],
  solidity: {
    // solc is the WebAssembly build shipped in the npm package: Hardhat must never download a compiler.
    version: "0.8.30",
    path: require.resolve("solc/soljson.js"),
    // Built only for its ABI: the generated type of a real (non-mock) payout token, see service/chain/contracts.ts.
    npmFilesToBuild: ["@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol"],
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
  // Typed ethers v6 factories and contract types, written by every `hardhat build` from the
  // artifacts it produced (gitignored, like the artifacts): the bindings in service/chain use them,
  // so an ABI change that breaks a call site fails `tsc`.
  typechain: { outDir: fileURLToPath(new URL("types/contracts", import.meta.url)) },
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
