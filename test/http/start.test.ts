/**
 * `npm start` as a user runs it (scripts/start.ts in its own process, on a fresh data folder):
 * demo data loaded, reference URL and demo keys printed, the printed keys work, Ctrl-C exits 0.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("npm start (scripts/start.ts)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("serves the demo data set with printed keys and exits 0 on SIGINT", { timeout: 180_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "entrepot-start-"));
    dirs.push(dir);
    const child = spawn(path.join(root, "node_modules/.bin/node"), ["--import", "tsx", "scripts/start.ts"], {
      cwd: root,
      env: { ...process.env, DATA_DIR: dir, PORT: "0", DATABASE_URL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          if (out.includes("Ctrl-C to stop.")) {
            clearInterval(timer);
            resolve();
          }
          if (child.exitCode !== null) {
            clearInterval(timer);
            reject(new Error(`start exited early (${child.exitCode}): ${err}`));
          }
        }, 200);
      });
      expect(out).toMatch(/43 events, 43 booked/);
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1] ?? "";
      expect(out).toContain(`${url}/docs/`);
      const finance = /demo finance\s+scopes=finance:read\n\s+Authorization: Bearer (\S+)/.exec(out)?.[1] ?? "";
      const r = await fetch(`${url}/v1/transactions?limit=5`, { headers: { authorization: `Bearer ${finance}` } });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { items: unknown[] }).items).toHaveLength(5);
      // The keys are printed to stdout once; nothing writes them to stderr.
      expect(err).not.toContain(finance);
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
  });
});
