/**
 * A fresh PGlite folder is created (initdb) in a short-lived child process, not in the service.
 *
 * PGlite runs initdb as a second WebAssembly instance whose memory (about 240 MiB) the main
 * instance keeps reachable after initdb ends: a service started on a fresh folder idled at
 * 672-714 MiB RSS, one started on the same folder afterwards at 295 MiB. Done in a child, the
 * memory goes with the child: 318-323 MiB idle after a fresh start (measured with
 * `process.memoryUsage()` 2 s after opening, migrations included). It costs the first start the
 * child's own load of PGlite, about 1-2 s, once per folder.
 *
 * The child is plain node running PGlite from the same install (no loader, no flags of ours).
 * It is an optimisation only: if it cannot run or fails, the folder is emptied again and PGlite
 * creates it in process as before, reporting its own errors.
 */
import { execFile } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const CHILD = `const [lib, dir] = process.argv.slice(1);
const { PGlite } = require(lib);
const db = new PGlite(dir);
db.waitReady.then(() => db.close()).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`;

/** How long the child may take (initdb is 4-6 s on this 2-core machine). */
const CHILD_TIMEOUT_MS = 120_000;

/**
 * Creates the cluster in `dataDir` in a child process when the folder is empty (the caller holds
 * the folder's lock). Returns whether it did; false leaves the folder as it was (empty or not).
 */
export async function initdbInChild(dataDir: string, { execPath = process.execPath }: { execPath?: string } = {}): Promise<boolean> {
  if ((await readdir(dataDir)).length > 0) return false;
  const lib = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  const ok = await new Promise<boolean>((resolve) => {
    execFile(execPath, ["-e", CHILD, lib, path.resolve(dataDir)], { timeout: CHILD_TIMEOUT_MS, env: childEnv() }, (e) => resolve(e === null));
  });
  if (ok) return true;
  for (const entry of await readdir(dataDir)) await rm(path.join(dataDir, entry), { recursive: true, force: true });
  return false;
}

/** The service's environment without NODE_OPTIONS (a loader or inspector flag meant for the service). */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env["NODE_OPTIONS"];
  return env;
}
