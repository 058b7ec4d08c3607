/**
 * One process per embedded database folder. PGlite is a single-process database: a second process
 * opening the folder of a running one corrupts it, and a second `npm start` (which clears the
 * folder to go with its fresh chain) would delete it under the first. The lock is a file beside
 * the folder (`<folder>.lock`, so clearing the folder keeps it) holding the owner's pid, created
 * exclusively; a lock whose pid is no longer alive (a killed process) is stale and taken over.
 * Re-entrant within a process (npm start locks before clearing, then opens the database).
 */
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { readFileSync, unlinkSync } from "node:fs";
import path from "node:path";
import { DbErrors } from "./errors.js";

export interface DirLock {
  /** The lock file. */
  file: string;
  release(): Promise<void>;
}

const held = new Map<string, number>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return e instanceof Error && "code" in e && e.code === "EPERM";
  }
}

async function owner(file: string): Promise<number | null> {
  try {
    const pid = Number.parseInt((await readFile(file, "utf8")).trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Takes the lock of `dir` (an embedded database folder) or throws ENT_DB_DATA_DIR_IN_USE naming the holder. */
export async function lockDataDir(dir: string): Promise<DirLock> {
  const file = `${path.resolve(dir)}.lock`;
  const mine = held.get(file);
  if (mine === undefined) await take(file);
  held.set(file, (mine ?? 0) + 1);
  let released = false;
  return {
    file,
    release: async () => {
      if (released) return;
      released = true;
      const n = (held.get(file) ?? 1) - 1;
      if (n > 0) {
        held.set(file, n);
        return;
      }
      held.delete(file);
      removeOnExit.delete(file);
      if ((await owner(file)) === process.pid) await unlink(file).catch(() => undefined);
    },
  };
}

async function take(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const h = await open(file, "wx");
      await h.writeFile(`${process.pid}\n`);
      await h.close();
      onExitRemove(file);
      return;
    } catch (e) {
      if (!(e instanceof Error && "code" in e && e.code === "EEXIST")) throw e;
    }
    const pid = await owner(file);
    if (pid !== null && pid !== process.pid && alive(pid)) {
      throw DbErrors.dataDirInUse(
        `the embedded database ${file.slice(0, -".lock".length)} is in use by process ${pid} (lock ${file}): stop that process, or use another DATA_DIR (or DATABASE_URL)`,
        { details: { lockFile: file, pid } },
      );
    }
    // Stale (its process is gone, or the file is unreadable): remove it and try once more. Two
    // processes taking over the same stale lock in the same instant could both pass; a live
    // holder is always refused.
    await unlink(file).catch(() => undefined);
  }
  throw DbErrors.dataDirInUse(`could not take the lock ${file}: another process keeps taking it`, { details: { lockFile: file } });
}

const removeOnExit = new Set<string>();
function onExitRemove(file: string): void {
  if (removeOnExit.size === 0) {
    process.once("exit", () => {
      // A graceful exit leaves no lock behind; a killed process leaves a stale one, taken over by pid.
      for (const f of removeOnExit) {
        try {
          if (Number.parseInt(readFileSync(f, "utf8"), 10) === process.pid) unlinkSync(f);
        } catch {
          // already gone
        }
      }
    });
  }
  removeOnExit.add(file);
}
