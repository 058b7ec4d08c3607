/**
 * The project root: the nearest folder at or above this module holding the project's
 * package.json. Found, not assumed at a fixed depth, so the same code works from the sources
 * (`service/root.ts` under tsx) and from the bundle `npm run build` writes (`dist/start.mjs`),
 * whose modules all share one location.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "service"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no project root (package.json beside service/) above ${from}`);
  }
}

export const PROJECT_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
