/**
 * setupFile of the unit project (`*.unit.test.ts`): those files are pure, so a database, an
 * in-process chain or a child process used from one fails the test and says why, instead of
 * quietly making the fast project slow. Importing the drivers stays allowed (service modules import
 * them at the top); constructing or calling them throws.
 */
import { vi } from "vitest";

function refuse(what: string): never {
  throw new Error(`a *.unit.test.ts file must not use ${what}: name it *.test.ts (the integration project, test/README.md)`);
}

function refusingClass(what: string) {
  return class {
    constructor() {
      refuse(what);
    }
  };
}

vi.mock("@electric-sql/pglite", () => ({ PGlite: refusingClass("PGlite (a database)") }));
vi.mock("pg", () => {
  const pg = { Pool: refusingClass("PostgreSQL"), Client: refusingClass("PostgreSQL") };
  return { default: pg, ...pg };
});
vi.mock("hardhat", () => ({
  network: { create: () => refuse("an in-process chain (hardhat)"), connect: () => refuse("an in-process chain (hardhat)") },
}));
vi.mock("node:child_process", () => {
  const refused = () => refuse("a child process");
  return { spawn: refused, spawnSync: refused, fork: refused, exec: refused, execSync: refused, execFile: refused, execFileSync: refused };
});
