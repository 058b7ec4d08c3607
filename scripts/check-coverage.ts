/**
 * Fails when line coverage of the deployable contracts (contracts/, mocks excluded) drops below the
 * floor. Reads the lcov report written by `hardhat test solidity --coverage`. Hardhat 3.18's lcov
 * carries no branch records (BRF/BRH); if a later version adds them, they are held to the same floor.
 */
import { readFileSync } from "node:fs";

const FLOOR = 95;
const path = process.argv[2] ?? "coverage/lcov.info";

interface FileCoverage {
  file: string;
  lines: [hit: number, found: number];
  branches: [hit: number, found: number];
}

const files: FileCoverage[] = [];
let current: FileCoverage | undefined;
for (const line of readFileSync(path, "utf8").split("\n")) {
  const [key, value = ""] = line.split(":", 2);
  if (key === "SF") current = { file: value, lines: [0, 0], branches: [0, 0] };
  else if (!current) continue;
  else if (key === "LH") current.lines[0] = Number(value);
  else if (key === "LF") current.lines[1] = Number(value);
  else if (key === "BRH") current.branches[0] = Number(value);
  else if (key === "BRF") current.branches[1] = Number(value);
  else if (key === "end_of_record") {
    files.push(current);
    current = undefined;
  }
}

const counted = files.filter((f) => f.file.startsWith("contracts/") && !f.file.startsWith("contracts/mocks/"));
if (counted.length === 0) {
  console.error(`check-coverage: no contract records in ${path}`);
  process.exit(1);
}
const pct = ([hit, found]: [number, number]) => (found === 0 ? 100 : (100 * hit) / found);
let failed = false;
for (const f of counted) {
  const lines = pct(f.lines);
  const branches = f.branches[1] === 0 ? "n/a (not reported by Hardhat)" : `${pct(f.branches).toFixed(1)}%`;
  const ok = lines >= FLOOR && (f.branches[1] === 0 || pct(f.branches) >= FLOOR);
  if (!ok) failed = true;
  console.log(`${ok ? "ok  " : "FAIL"} ${f.file}: lines ${lines.toFixed(1)}% (${f.lines[0]}/${f.lines[1]}), branches ${branches}`);
}
if (failed) {
  console.error(`check-coverage: contract coverage below ${FLOOR}%`);
  process.exit(1);
}
console.log(`check-coverage: every contract at or above ${FLOOR}% of lines`);
