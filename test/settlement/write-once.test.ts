/**
 * The settlement write path writes each record once, in the commit of its journal transaction
 * (ledger_attach): a record exists exactly when its transaction does, whatever fails where. Re-proves
 * the guarantees of the old pending-then-posted protocol on the new path: idempotent redelivery,
 * concurrent writers (each with its own ledger writer, as two processes), a database that keeps
 * failing, and a process killed with SIGKILL in the middle of a stream of events (PostgreSQL).
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAppError } from "../../service/errors.js";
import { PROJECT_ROOT } from "../../service/root.js";
import type { SettlementEvent, SettlementItemResult } from "../../service/settlement/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { capture, ordersForCrash } from "./fixtures.js";
import { marchRate, openSettlementHarness, type SettlementHarness } from "./harness.js";

const kinds = await testDatabaseKinds();
const WORKER = "test/settlement/support/post-worker.ts";

/** Every record has its journal transaction (same key) and every journal transaction its record. */
async function expectOneToOne(h: SettlementHarness): Promise<bigint> {
  const [orphans] = await h.sql.q<Array<{ records: bigint; transactions: bigint; total: bigint }>>(
    `SELECT (SELECT count(*) FROM settlements s WHERE NOT EXISTS (
               SELECT 1 FROM ledger_transactions t WHERE t.id::text = s.journal_transaction_id AND t.idempotency_key = s.event_key)) AS records,
            (SELECT count(*) FROM ledger_transactions t WHERE NOT EXISTS (
               SELECT 1 FROM settlements s WHERE s.journal_transaction_id = t.id::text)) AS transactions,
            (SELECT count(*) FROM settlements) AS total`,
  );
  expect({ records: orphans!.records, transactions: orphans!.transactions }).toEqual({ records: 0n, transactions: 0n });
  return orphans!.total;
}

const okOf = (r: SettlementItemResult) => (r.status === "error" ? `${r.error.code}: ${r.error.message}` : r.status);

describe.each(kinds)("settlement records written in the ledger's commit on %s", (kind) => {
  let h: SettlementHarness;

  beforeAll(async () => {
    h = await openSettlementHarness(kind);
    await h.fx.publishRates([marchRate("BRL", "USD", "0.18"), marchRate("USD", "CNY", "7.2")]);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  it("two writers posting the same new events in opposite orders record each once, never deadlocking", async () => {
    const events = Array.from({ length: 120 }, (_, i) => capture({ gatewayEventId: `both-${i}`, settlementId: `BOTH-${i}`, sellerId: "S-POP-SZ-01" }));
    const other = h.another();
    const [a, b] = await Promise.all([h.settlement.postEvents(events), other.postEvents([...events].reverse())]);
    const byKey = new Map<string, string>();
    for (const r of [...a, ...b.reverse()]) {
      expect(okOf(r)).toMatch(/^(created|exists)$/);
      if (r.status === "error") continue;
      // Both answers of one event name the same record and the same journal transaction.
      const seen = byKey.get(r.settlement.eventKey);
      expect(seen === undefined || seen === `${r.settlement.id}/${r.transaction.id}`).toBe(true);
      byKey.set(r.settlement.eventKey, `${r.settlement.id}/${r.transaction.id}`);
    }
    expect(byKey.size).toBe(120);
    expect([...a, ...b].filter((r) => r.status === "created")).toHaveLength(120);
    await expectOneToOne(h);
  });

  it("hands new captures to the ledger a chunk at a time, so the next chunk is planned while one is booked", async () => {
    const flushes: number[] = [];
    const s = h.another({ beforeWrite: (ops) => flushes.push(ops.length) }, { chunkSize: 4 });
    // Warm: program data, sellers and rates cached, so planning needs no I/O (as under load).
    expect((await s.postEvent(capture({ gatewayEventId: "chunk-warm", settlementId: "CHUNK-W", sellerId: "S-POP-SZ-01" }))).status).toBe("created");
    flushes.length = 0;
    const events = Array.from({ length: 10 }, (_, i) => capture({ gatewayEventId: `chunk-${i}`, settlementId: `CHUNK-${i}`, sellerId: "S-POP-SZ-01" }));
    const results = await s.postEvents(events);
    expect(results.map(okOf)).toEqual(events.map(() => "created"));
    // The first chunk was written before the rest were planned; the later ones may share a flush.
    expect(flushes[0]).toBe(4);
    expect(flushes.reduce((a, b) => a + b, 0)).toBe(10);
    await expectOneToOne(h);
  });

  it("a database that keeps failing books nothing and records nothing; the redelivery books both", async () => {
    const failing = h.another({
      transientAttempts: 2,
      transientBackoffMs: 1,
      beforeWrite() {
        throw Object.assign(new Error("Connection terminated unexpectedly"), { code: "57P01" });
      },
    });
    const event = capture({ gatewayEventId: "down-1", settlementId: "DOWN-1", sellerId: "S-POP-SZ-01" });
    const refused = await failing.postEvent(event).then(
      () => "ok",
      (e: unknown) => (isAppError(e) ? `${e.code} ${e.status}` : String(e)),
    );
    expect(refused).toBe("ENT_LEDGER_UNAVAILABLE 503");
    expect(await h.settlement.listForOrder("DOWN-1")).toEqual([]);
    expect((await h.settlement.postEvent(event)).status).toBe("created");
    expect((await h.settlement.postEvent(event)).status).toBe("exists");
    await expectOneToOne(h);
  });
});

// Another process on the same database: PostgreSQL only (a PGlite folder has one process).
if (kinds.includes("postgres")) {
  describe("settlement records across a crash (PostgreSQL)", () => {
    let h: SettlementHarness;

    beforeAll(async () => {
      h = await openSettlementHarness("postgres");
      await h.fx.publishRates([marchRate("BRL", "USD", "0.18"), marchRate("USD", "CNY", "7.2")]);
    }, 120_000);

    afterAll(async () => {
      await h?.close();
    });

    it("a process killed mid-stream leaves no half-written event; redelivering every event completes each once", async () => {
      const orders = ordersForCrash(600);
      const child = spawn(process.execPath, ["--import", "tsx", WORKER], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, DATABASE_URL: h.url!, ORDERS: String(orders.length) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let answered = 0;
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /"answered":(\d+)\}\n?$/.exec(out.trimEnd().split("\n").at(-1) ?? "");
        if (m !== null) answered = Number(m[1]);
        // Killed while 32 callers have events in flight: some planned, some in a flush being written.
        if (answered >= 250 && child.exitCode === null && !child.killed) child.kill("SIGKILL");
      });
      expect(await exited).toBe("SIGKILL");
      expect(out).not.toMatch(/"done"/);
      const before = await expectOneToOne(h);
      expect(before).toBeGreaterThanOrEqual(250n);

      // The gateway redelivers everything: recorded events are answered from their record, the rest booked.
      const all: SettlementEvent[] = orders.flat();
      const results = await h.settlement.postEvents(all);
      expect(results.map(okOf).filter((s) => s !== "created" && s !== "exists")).toEqual([]);
      expect(BigInt(results.filter((r) => r.status === "exists").length)).toBe(before);
      const after = await expectOneToOne(h);
      expect(after).toBe(BigInt(all.length));
      // Each refund is its capture's one follow-up (sequence 1): nothing was taken back twice.
      for (const order of orders.filter((o) => o.length === 2).slice(0, 50)) {
        const chain = await h.settlement.listForOrder(order[0]!.settlementId);
        expect(chain.map((r) => `${r.event.type}#${r.sequence}`)).toEqual(["capture#0", "refund#1"]);
      }
    }, 120_000);
  });
}
