/**
 * `npm test`: every check CI runs, in the order that keeps both cores busy.
 *
 *   1. at the same time (solc is WebAssembly on one core; each compiles everything once):
 *        - build (Prisma client, contracts, TypeChain types, console, bundle): everything below
 *          reads what it writes;
 *        - lint:sol: its warnings check rebuilds every contract from scratch in its own folders
 *          (`cache/lint`, hardhat.config.ts), so it never touches what the build writes;
 *   2. at the same time, two lanes that touch different files:
 *        - lint:ts, typecheck, test:unit (TypeScript only, one core);
 *        - test:contracts (the Solidity suite with the gas snapshot check, then coverage);
 *   3. test:integration (its own workers take both cores).
 *
 * A lane's output is printed whole when it ends, so two lanes never interleave. The first failing
 * step fails the run (the other lane is let finish, so its output is not lost). Usage: npm test.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

interface Step {
  script: string;
  ok: boolean;
  seconds: number;
  output: string;
}

/** Runs `npm run <script>`; with `capture`, its output is kept (stdout and stderr in order) instead of shown. */
function run(script: string, capture: boolean): Promise<Step> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn("npm", ["run", "--silent", script], { cwd: ROOT, stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit", env: process.env });
    const chunks: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => chunks.push(b));
    child.stderr?.on("data", (b: Buffer) => chunks.push(b));
    const done = (ok: boolean, extra = "") =>
      resolve({ script, ok, seconds: (performance.now() - started) / 1000, output: Buffer.concat(chunks).toString("utf8") + extra });
    child.on("error", (e) => done(false, `\n${e.message}\n`));
    child.on("close", (code) => done(code === 0));
  });
}

function report(step: Step, shown: boolean): void {
  if (!shown) process.stdout.write(`\n> npm run ${step.script}\n${step.output}`);
  console.log(`\n[npm test] ${step.script}: ${step.ok ? "ok" : "FAILED"} in ${step.seconds.toFixed(1)} s`);
}

/** Steps one after another; stops at the first failure. */
async function lane(scripts: readonly string[], capture: boolean): Promise<boolean> {
  for (const script of scripts) {
    const step = await run(script, capture);
    report(step, !capture);
    if (!step.ok) return false;
  }
  return true;
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const first = await Promise.all([lane(["build"], true), lane(["lint:sol"], true)]);
  if (first.includes(false)) return 1;
  const lanes = await Promise.all([lane(["lint:ts", "typecheck", "test:unit"], true), lane(["test:contracts"], true)]);
  if (lanes.includes(false)) return 1;
  if (!(await lane(["test:integration"], false))) return 1;
  console.log(`\n[npm test] all checks passed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return 0;
}

process.exitCode = await main();
