/**
 * `npm run verify` as a user runs it, in a child process: the settings the command reads from the
 * environment (the pinned anchor, the API and its key, the confirmation depth) come from the test
 * alone, never from the shell that runs the suite.
 */
import { spawn } from "node:child_process";
import { PROJECT_ROOT } from "../../service/chain/artifacts.js";

export interface VerifyRun {
  code: number | null;
  out: string;
}

export function runVerify(args: string[], env: Record<string, string> = {}): Promise<VerifyRun> {
  return new Promise((resolve, reject) => {
    const { ENTREPOT_ANCHOR: _anchor, ENTREPOT_API_KEY: _key, ENTREPOT_API: _api, CHAIN_CONFIRMATIONS: _depth, ...inherited } = process.env;
    // process.execPath is the Node 24 running vitest; tsx as a loader, exactly like `npm run verify`.
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/verify.ts", ...args], {
      cwd: PROJECT_ROOT,
      env: { ...inherited, HARDHAT_DISABLE_TELEMETRY: "true", ...env },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, out }));
  });
}
