import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";
import { fileURLToPath } from "node:url";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatTypechain from "@nomicfoundation/hardhat-typechain";

const require = createRequire(import.meta.url);

// A `--coverage` build compiles instrumented contracts (probes change gas and bytecode). It gets
// its own artifacts and compile cache so it never replaces the artifacts the service and the vitest
// suites deploy, and neither build invalidates the other: `npm test` compiles each once.
// (HARDHAT_COVERAGE is how Hardhat takes the global option from the environment.)
const coverageBuild = process.argv.includes("--coverage") || process.env.HARDHAT_COVERAGE === "true";
// The warnings check (scripts/check-solidity.ts) recompiles everything from scratch; in its own
// folders, with its own generated types, it runs beside `npm run build` without touching what the
// build writes and the tests read.
const lintBuild = process.env.ENTREPOT_SOLIDITY_LINT === "1";
const separateBuild = coverageBuild ? "cache/coverage" : lintBuild ? "cache/lint" : null;

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
    ...(separateBuild === null ? {} : { artifacts: `${separateBuild}/artifacts`, cache: `${separateBuild}/cache` }),
  },
  test: {
    solidity: {
      profiles: {
        // `.gas-snapshot` records the fuzz tests' runs and gas at these settings. The invariant
        // campaigns run 128 sequences of 500 calls (EDR's default is 256 runs): 64,000 handler
        // calls, every invariant checked after each. The whole suite takes ~28 s (it took 104 s
        // with 256 runs and the anchor invariant's old three calls per id).
        default: { invariant: { runs: 128, depth: 500 } },
        // For `--coverage` only (`npm run test:contracts`): every test runs, but the invariant
        // campaigns are cut short, because under coverage probes they took about 3 of the 3.2
        // minutes. The default campaigns run in the same script's plain `--snapshot-check` pass.
        coverage: { invariant: { runs: 16, depth: 100 } },
      },
    },
  },
  // Typed ethers v6 factories and contract types, written by every `hardhat build` from the
  // artifacts it produced (gitignored, like the artifacts): the bindings in service/chain use them,
  // so an ABI change that breaks a call site fails `tsc`.
  typechain: { outDir: fileURLToPath(new URL(lintBuild ? "cache/lint/types" : "types/contracts", import.meta.url)) },
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
