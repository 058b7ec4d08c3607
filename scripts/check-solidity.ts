/**
 * Compiler warnings are errors: recompiles every Solidity source (contracts and Solidity tests) from
 * scratch and fails on any solc warning, with one exception: OpenZeppelin's TransientSlot.sol
 * triggers solc's generic "Transient storage ... can break composability" warning although OZ uses
 * transient storage correctly (ReentrancyGuardTransient clears it before returning). That warning
 * is allowed only when solc locates it inside node_modules/@openzeppelin/contracts/utils/TransientSlot.sol.
 *
 * Usage: npx tsx scripts/check-solidity.ts   (exit 0 = clean, 1 = warnings or build failure)
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const ALLOWED_FILE = "node_modules/@openzeppelin/contracts/utils/TransientSlot.sol";
const ALLOWED_MESSAGE = /^Transient storage as defined by EIP-1153 can break the composability/;

export interface Diagnostic {
  severity: "Warning" | "Error";
  message: string;
  /** Source path as solc printed it, normalised to be relative to the project root; null if none. */
  location: string | null;
}

// eslint-disable-next-line no-control-regex -- ANSI colour codes are control characters by definition
const ANSI = /\u001b\[[0-9;]*m/g;

/** Splits solc's human-readable output into diagnostics ("Warning: ..." / "Error: ..." blocks). */
export function parseDiagnostics(output: string): Diagnostic[] {
  const lines = output.replace(ANSI, "").split(/\r?\n/);
  const found: Diagnostic[] = [];
  let current: Diagnostic | null = null;
  for (const line of lines) {
    const head = /^(Warning|Error)(?: \([0-9]+\))?: (.*)$/.exec(line.trim());
    if (head) {
      current = { severity: head[1] as "Warning" | "Error", message: head[2] ?? "", location: null };
      found.push(current);
      continue;
    }
    const at = /^-->\s+(.+?):\d+:\d+:?\s*$/.exec(line.trim());
    if (at && current && current.location === null) {
      current.location = path
        .relative(ROOT, path.resolve(ROOT, at[1] ?? ""))
        .split(path.sep)
        .join("/");
    }
  }
  return found;
}

export function isAllowed(d: Diagnostic): boolean {
  return d.severity === "Warning" && ALLOWED_MESSAGE.test(d.message) && d.location === ALLOWED_FILE;
}

function main(): number {
  const hardhat = path.join(ROOT, "node_modules", ".bin", "hardhat");
  const run = spawnSync(hardhat, ["build", "--force"], {
    cwd: ROOT,
    encoding: "utf8",
    // In its own folders (hardhat.config.ts): it can run while `npm run build` compiles.
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", NO_COLOR: "1", FORCE_COLOR: "0", ENTREPOT_SOLIDITY_LINT: "1" },
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${run.stdout ?? ""}\n${run.stderr ?? ""}`;
  if (run.error) {
    console.error(`check-solidity: could not run hardhat: ${run.error.message}`);
    return 1;
  }
  const diagnostics = parseDiagnostics(output);
  const rejected = diagnostics.filter((d) => !isAllowed(d));
  const allowed = diagnostics.length - rejected.length;
  // A warning-looking line that the parser did not attribute would be a silent pass: refuse it.
  const stray = output
    .replace(ANSI, "")
    .split(/\r?\n/)
    .filter((l) => /\bwarning\b/i.test(l) && !/^(Warning|Error)(?: \([0-9]+\))?: /.test(l.trim()));
  if (run.status !== 0) {
    console.error(output);
    console.error(`check-solidity: hardhat build failed with exit code ${String(run.status)}`);
    return 1;
  }
  if (rejected.length > 0 || stray.length > 0) {
    for (const d of rejected) console.error(`${d.severity} at ${d.location ?? "<no location>"}: ${d.message}`);
    for (const l of stray) console.error(`unattributed warning line: ${l}`);
    console.error(
      `check-solidity: ${rejected.length + stray.length} compiler warning(s) in our sources; warnings are errors`,
    );
    return 1;
  }
  console.log(`check-solidity: clean build (${allowed} allowed OpenZeppelin TransientSlot warning(s))`);
  return 0;
}

process.exitCode = main();
