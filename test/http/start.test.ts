/**
 * `npm start` as a user runs it (dist/start.mjs, the bundle of scripts/start.ts, in its own process, on a fresh data folder):
 * demo data loaded, reference URL and demo keys printed, the printed keys work, Ctrl-C exits 0.
 * Two `npm start`s at once: with their own PORT and DATA_DIR both come up, each on its own chain;
 * on the same DATA_DIR or PORT the second stops at once, naming the variable, and the first is unharmed.
 * A kept PostgreSQL database anchored on an earlier start's chain stops a start with a new chain, naming DATABASE_URL.
 */
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freshDatabase, testDatabaseKinds } from "../support/db.js";
import { chainOf, financeKeyOf, gatewayKeyOf, ready, ROOT as root, startStack as start, urlOf, type Stack } from "../support/npm-start.js";

const kinds = await testDatabaseKinds();

describe("npm start (scripts/start.ts)", () => {
  const dirs: string[] = [];
  const stacks: Stack[] = [];
  const tempDir = async () => {
    const d = await mkdtemp(path.join(tmpdir(), "entrepot-start-"));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    // SIGINT: a stack stops its own chain on the way out (SIGKILL would orphan it).
    for (const s of stacks) if (s.child.exitCode === null) s.child.kill("SIGINT");
    await Promise.all(stacks.map((s) => s.exited));
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("serves the demo data set with printed keys and exits 0 on SIGINT", { timeout: 180_000 }, async () => {
    const dir = await tempDir();
    const s = start({ DATA_DIR: dir });
    try {
      await ready(s);
      expect(s.out()).toMatch(/43 events, 43 booked/);
      const url = urlOf(s);
      expect(s.out()).toContain(`${url}/docs/`);
      const finance = financeKeyOf(s);
      const r = await fetch(`${url}/v1/transactions?limit=5`, { headers: { authorization: `Bearer ${finance}` } });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { items: unknown[] }).items).toHaveLength(5);
      // The README's example, word for word: the demo gateway key is bound to the demo gateway.
      const [gatewayKey, secret] = gatewayKeyOf(s);
      const body = /^body='(.+)'$/m.exec(await readFile(path.join(root, "README.md"), "utf8"))?.[1] ?? "";
      expect(body).toContain('"gateway":"adyen"');
      const ts = String(Math.floor(Date.now() / 1000));
      const sig = createHmac("sha256", secret ?? "").update(`${ts}.${body}`).digest("hex");
      const posted = await fetch(`${url}/v1/settlements/events`, {
        method: "POST",
        body,
        headers: { authorization: `Bearer ${gatewayKey}`, "content-type": "application/json", "entrepot-timestamp": ts, "entrepot-signature": `v1=${sig}` },
      });
      expect(posted.status, await posted.clone().text()).toBe(201);
      const booked = await fetch(`${url}/v1/transactions?meta.settlementId=ORD-README-1`, { headers: { authorization: `Bearer ${finance}` } });
      expect(((await booked.json()) as { items: unknown[] }).items).toHaveLength(1);
      // Then the README's remittance of that capture, signed the same way: booked with its realised FX.
      const remittance = /^remittance='(.+)'$/m.exec(await readFile(path.join(root, "README.md"), "utf8"))?.[1] ?? "";
      const rts = (Date.now() / 1000).toFixed(3);
      const rsig = createHmac("sha256", secret ?? "").update(`${rts}.${remittance}`).digest("hex");
      const remitted = await fetch(`${url}/v1/remittances`, {
        method: "POST",
        body: remittance,
        headers: { authorization: `Bearer ${gatewayKey}`, "content-type": "application/json", "entrepot-timestamp": rts, "entrepot-signature": `v1=${rsig}` },
      });
      expect(remitted.status, await remitted.clone().text()).toBe(201);
      expect(((await remitted.json()) as { remittance: { realised: string } }).remittance.realised).toMatch(/^-?\d+$/);
      await payBothWays(s, url, dir, finance);
      // The keys are printed to stdout once; nothing writes them to stderr.
      expect(s.err()).not.toContain(finance);
      expect(s.err()).not.toContain(secret);
    } finally {
      s.child.kill("SIGINT");
    }
    expect(await s.exited).toBe(0);
  });

  it.runIf(kinds.includes("postgres"))(
    "stops, naming DATABASE_URL, on a kept PostgreSQL database whose records belong to an earlier start's chain",
    { timeout: 120_000 },
    async () => {
      // A second `DATABASE_URL=… npm start` on the same database: its new chain is not the one the
      // records were anchored on, and its workers used to log ENT_CHAIN_RESET every second.
      const db = await freshDatabase("postgres");
      try {
        await db.sql.q(`INSERT INTO chain_sender_chains (chain_id, genesis_hash) VALUES (31337, $1)`, `0x${"ab".repeat(32)}`);
        const s = start({ DATA_DIR: await tempDir(), DATABASE_URL: db.url! });
        expect(await s.exited, s.err()).toBe(2);
        expect(s.err()).toMatch(/^invalid configuration: DATABASE_URL holds the records of an earlier npm start's local chain/);
        expect(s.err()).toContain("CHAIN_RPC_URL=http://127.0.0.1:8545");
      } finally {
        await db.close();
      }
    },
  );

  describe("twice at the same time", () => {
    it("brings both stacks up, each with its own chain, when each has its own PORT and DATA_DIR", { timeout: 240_000 }, async () => {
      const deployments = await tempDir(); // shared: both write local-31337.json
      const [a, b] = [start({ DATA_DIR: await tempDir(), DEPLOYMENTS_DIR: deployments }), start({ DATA_DIR: await tempDir(), DEPLOYMENTS_DIR: deployments })];
      stacks.push(a, b);
      await Promise.all([ready(a), ready(b)]);
      expect(chainOf(a)).not.toBe("");
      expect(chainOf(a)).not.toBe(chainOf(b));
      for (const s of [a, b]) {
        expect(s.out()).toMatch(/43 events, 43 booked/);
        const r = await fetch(`${urlOf(s)}/v1/transactions?limit=1`, { headers: { authorization: `Bearer ${financeKeyOf(s)}` } });
        expect(r.status).toBe(200);
      }
    });

    it("stops a second stack on a DATA_DIR in use before it starts a chain, naming DATA_DIR; the first keeps its data", { timeout: 120_000 }, async () => {
      const first = stacks[0]!;
      const second = start({ DATA_DIR: firstDataDir(first) });
      expect(await second.exited).toBe(2);
      expect(second.err()).toMatch(/^invalid configuration: DATA_DIR .* is in use by process \d+/);
      expect(second.out()).not.toContain("local chain");
      const r = await fetch(`${urlOf(first)}/v1/transactions?limit=5`, { headers: { authorization: `Bearer ${financeKeyOf(first)}` } });
      expect(((await r.json()) as { items: unknown[] }).items).toHaveLength(5);
    });

    it("stops a second stack on a PORT in use before it starts a chain, naming PORT", { timeout: 120_000 }, async () => {
      const first = stacks[0]!;
      const second = start({ DATA_DIR: await tempDir(), PORT: new URL(urlOf(first)).port });
      expect(await second.exited).toBe(2);
      expect(second.err()).toMatch(/^invalid configuration: PORT \d+ on 127\.0\.0\.1 is already in use/);
      expect(second.out()).not.toContain("local chain");
    });
  });
});

/**
 * The README's payouts, as an operator runs them: mainland (CNY) sellers by pain.001 in the outbox,
 * answered by `npm run bank:demo` and made final by the worker reading the inbox; USD sellers through
 * the vault, which never pays a seller on the bank rail.
 */
async function payBothWays(s: Stack, url: string, dir: string, finance: string): Promise<void> {
  const admin = /bootstrap admin\s+scopes=admin\n\s+Authorization: Bearer (\S+)/.exec(s.out())?.[1] ?? "";
  const call = async (method: string, route: string, key: string) => {
    const r = await fetch(`${url}${route}`, { method, headers: { authorization: `Bearer ${key}` } });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const run = await call("POST", "/v1/payouts/bank/runs", admin);
  expect(run.status, JSON.stringify(run.body)).toBe(201);
  const file = run.body["file"] as { id: string; count: number };
  expect(file.count).toBeGreaterThan(0);
  const pain = await readFile(path.join(dir, "bank", "outbox", `${file.id}.xml`), "utf8");
  expect(pain).toContain('<InstdAmt Ccy="CNY">');
  const bank = spawn(path.join(root, "node_modules/.bin/node"), ["--import", "tsx", "scripts/bank-demo.ts"], { cwd: root, env: { ...process.env, DATA_DIR: dir }, stdio: ["ignore", "pipe", "pipe"] });
  let bankOut = "";
  bank.stdout.on("data", (c: Buffer) => (bankOut += c.toString()));
  bank.stderr.on("data", (c: Buffer) => (bankOut += c.toString()));
  expect(await new Promise((resolve) => bank.on("exit", resolve)), bankOut).toBe(0);
  let statuses: string[] = [];
  for (let i = 0; i < 100 && !(statuses.length === file.count && statuses.every((x) => x === "final")); i++) {
    await new Promise((r) => setTimeout(r, 200));
    statuses = ((await call("GET", `/v1/payouts/bank?fileId=${file.id}`, finance)).body["items"] as Array<{ status: string }>).map((p) => p.status);
  }
  expect(statuses).toEqual(Array.from({ length: file.count }, () => "final"));
  // The vault's planner runs every 10 s under npm start: its payouts are USD sellers' only, Hong
  // Kong companies (a mainland-China seller is never paid in a stablecoin).
  let paid: Array<{ currency: string; sellerId: string }> = [];
  for (let i = 0; i < 100 && paid.length === 0; i++) {
    paid = (await call("GET", "/v1/payouts", finance)).body["items"] as Array<{ currency: string; sellerId: string }>;
    if (paid.length === 0) await new Promise((r) => setTimeout(r, 200));
  }
  expect(paid.length).toBeGreaterThan(0);
  expect(new Set(paid.map((p) => p.currency))).toEqual(new Set(["USD"]));
  for (const p of paid) expect(["S-POP-HK-02", "S-SEMI-HZ-01"]).toContain(p.sellerId);

  // The README's cash reconciliation: the demo's bank statement against the remittances, with the
  // printed finance key (finance:write); the receivables are cleared and the planted credit is found.
  const writer = finance;
  const statement = await readFile(path.join(dir, "bank", "statements", "camt053-2024-12-20.xml"), "utf8");
  const imported = await fetch(`${url}/v1/cash/statements`, { method: "POST", body: statement, headers: { authorization: `Bearer ${writer}`, "content-type": "application/xml" } });
  expect(imported.status).toBe(201);
  const [report] = ((await imported.json()) as { statements: Array<{ matched: number; unmatched: number; difference: string; entries: Array<{ exception: string | null; texts: string[] }> }> }).statements;
  expect(report!.matched).toBeGreaterThan(0);
  expect([report!.unmatched, report!.difference]).toEqual([1, "0"]);
  expect(report!.entries.find((e) => e.exception === "unmatched")!.texts).toContain("INCOMING TRANSFER UNIDENTIFIED ORDERING PARTY");
  const receivable = await call("GET", "/v1/accounts/gateway:adyen:receivable/EUR/balance", finance);
  expect(receivable.body["posted"]).toBe("0");
}

/** The DATA_DIR a stack was started with (its banner names the embedded database folder). */
function firstDataDir(s: Stack): string {
  const folder = /embedded PGlite in (\S+)\/pglite/.exec(s.out())?.[1];
  if (folder === undefined) throw new Error(`no data folder in: ${s.out()}`);
  return folder;
}
