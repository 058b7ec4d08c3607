/**
 * `npm start` as a user runs it, for the tests that drive the whole stack (test/http/start.test.ts,
 * test/console/console.test.ts): the bundle it runs (dist/start.mjs, scripts/start.ts as `npm run
 * build` bundles it) in its own process on a fresh data folder, its output kept, and the URLs and
 * keys it prints read back.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface Stack {
  child: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | null>;
}

/** What `npm start` runs once it has built: scripts/start.ts bundled by `npm run build`. */
export const START_BUNDLE = path.join(ROOT, "dist", "start.mjs");

export function startStack(env: Record<string, string>): Stack {
  if (!existsSync(START_BUNDLE)) throw new Error(`${START_BUNDLE} is missing: run \`npm run build\` first (npm test and npm start do)`);
  const child = spawn(path.join(ROOT, "node_modules/.bin/node"), [START_BUNDLE], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", DATABASE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

/** Resolves once the stack printed its banner; rejects when it exits first. */
export function ready(s: Stack): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (s.out().includes("Ctrl-C to stop.")) {
        clearInterval(timer);
        resolve();
      }
      if (s.child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`start exited early (${s.child.exitCode}): ${s.err()}`));
      }
    }, 200);
  });
}

export const urlOf = (s: Stack) => /listening on (http:\/\/\S+)/.exec(s.out())?.[1] ?? "";
export const chainOf = (s: Stack) => /local chain (http:\/\/\S+)/.exec(s.out())?.[1] ?? "";
/** The SettlementAnchor address `npm start` prints: what a reader pins (the operator's published address). */
export const anchorOf = (s: Stack) => /Contracts: +SettlementAnchor (0x[0-9a-fA-F]{40})/.exec(s.out())?.[1] ?? "";
export const vaultOf = (s: Stack) => /SettlementVault +(0x[0-9a-fA-F]{40})/.exec(s.out())?.[1] ?? "";
/** The bearer key printed for a key name ("bootstrap admin", "demo finance", ...). */
export const keyOf = (s: Stack, name: string) => new RegExp(`${name}\\s+scopes=\\S+(?: gateway=\\S+)?\\n\\s+Authorization: Bearer (\\S+)`).exec(s.out())?.[1] ?? "";
export const financeKeyOf = (s: Stack) => /demo finance\s+scopes=finance:write\n\s+Authorization: Bearer (\S+)/.exec(s.out())?.[1] ?? "";
/** The demo gateway's key and signing secret. */
export const gatewayKeyOf = (s: Stack) => /demo gateway\s+scopes=gateway:write gateway=adyen\n\s+Authorization: Bearer (\S+)\n\s+signing secret \(Entrepot-Signature\): (\S+)/.exec(s.out())?.slice(1, 3) ?? [];

/** Stops a stack the way Ctrl-C does (it stops its own chain on the way out) and removes its folder. */
export async function stopStack(stack: Stack | undefined, dir: string | undefined): Promise<void> {
  if (stack !== undefined && stack.child.exitCode === null) stack.child.kill("SIGINT");
  await stack?.exited;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}
