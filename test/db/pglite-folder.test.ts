/**
 * An embedded database in a fresh folder (what `npm start` opens the first time): the cluster is
 * created by a child process (service/db/pglite-initdb.ts) so that initdb's WebAssembly memory
 * never stays in the service, and the service then migrates and uses it like any folder. When the
 * child cannot run or fails, the folder is left empty and PGlite creates the cluster in process.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../service/db/index.js";
import { initdbInChild } from "../../service/db/pglite-initdb.js";

describe("a fresh PGlite folder", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "entrepot-pglite-folder-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("is created by a child process, then migrated, written and read back after a reopen", async () => {
    const dir = path.join(root, "fresh");
    await mkdir(dir);
    expect(await initdbInChild(dir)).toBe(true);
    expect(existsSync(path.join(dir, "PG_VERSION"))).toBe(true);
    const db = await openDatabase({ dataDir: dir });
    expect(db.migrations?.applied.length).toBeGreaterThan(0);
    await db.sql.q("CREATE TABLE probe (v text)");
    await db.sql.q("INSERT INTO probe VALUES ($1)", "kept");
    await db.close();
    // The folder is a cluster of its own now: the second open neither re-creates nor re-migrates it.
    expect(await initdbInChild(dir)).toBe(false);
    const again = await openDatabase({ dataDir: dir });
    try {
      expect(again.migrations?.applied).toEqual([]);
      expect(await again.sql.q("SELECT v FROM probe")).toEqual([{ v: "kept" }]);
    } finally {
      await again.close();
    }
  }, 120_000);

  it("leaves a folder that holds anything to PGlite, untouched", async () => {
    const dir = path.join(root, "occupied");
    await mkdir(dir);
    await writeFile(path.join(dir, "note.txt"), "not a cluster");
    expect(await initdbInChild(dir)).toBe(false);
    expect(await readdir(dir)).toEqual(["note.txt"]);
  });

  it("answers false and leaves the folder empty when the child cannot start or fails", async () => {
    const dir = path.join(root, "no-child");
    await mkdir(dir);
    expect(await initdbInChild(dir, { execPath: path.join(root, "no-such-node") })).toBe(false);
    expect(await readdir(dir)).toEqual([]);
    expect(await initdbInChild(dir, { execPath: "/bin/false" })).toBe(false);
    expect(await readdir(dir)).toEqual([]);
    // A child that dies half way leaves files behind: they are removed, so PGlite starts clean.
    // (Its arguments are `-e <script> <pglite> <folder>`: the folder is the fourth.)
    const halfway = path.join(root, "halfway-node");
    await writeFile(halfway, '#!/bin/sh\necho 10 > "$4/PG_VERSION"\nmkdir -p "$4/base/1"\nexit 1\n', { mode: 0o755 });
    expect(await initdbInChild(dir, { execPath: halfway })).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });
});
