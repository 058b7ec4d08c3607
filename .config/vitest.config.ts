import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Two projects, split by file name (test/README.md): `*.unit.test.ts` is pure (no database, no
// chain, no child process, no port) and runs in well under a minute; every other `*.test.ts` is
// integration. `npm test` runs the unit project first, then the integration project.
const UNIT = "test/**/*.unit.test.ts";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("..", import.meta.url)),
    env: { HARDHAT_DISABLE_TELEMETRY: "true" },
    // One file per core (vitest's default leaves one core idle): the tests are CPU-bound (PGlite is
    // WebAssembly, the in-process chain is EDR). 2 here; more on a bigger CI runner.
    maxWorkers: Math.max(2, availableParallelism()),
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: [UNIT],
          // Pure code: threads start faster than processes, and nothing here needs a process of its own.
          pool: "threads",
          // Fails a unit file that opens a database, starts a chain or spawns a process.
          setupFiles: ["test/support/unit-guard.ts"],
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: [UNIT],
          // Migrates the database templates once, before any worker starts (test/support/templates.ts).
          globalSetup: ["test/support/global-setup.ts"],
          // Files run in worker processes (in-process chains are EDR's native code, PGlite is
          // WebAssembly): a crash stays in its worker. Not isolated: a worker runs its files one
          // after another with the modules it already loaded (the service, ethers, Hardhat, PGlite's
          // compiled WebAssembly, the template read once), which cut the project from 340 s to 246 s
          // on this 2-core machine. Every file still opens its own databases, chains and ports and
          // closes them; no test file mocks a module, stubs the environment or fakes timers.
          pool: "forks",
          isolate: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // expect.poll's default of 1 s is too short for a browser page or a worker on a loaded
          // 2-core machine: a poll that names no timeout waits up to 30 s (it returns as soon as it holds).
          expect: { poll: { timeout: 30_000 } },
        },
      },
    ],
  },
});
