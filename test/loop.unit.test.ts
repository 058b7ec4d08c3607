/**
 * service/loop.ts: a chain node outage (or a transient database failure) is logged once when it
 * starts and once when it ends, with its ENT_ code, the failures in between at debug; any other
 * failure is logged at error level every time, with its code, except a chain that is not the
 * database's (once per halt) and a tick cut short by the end of this instance's term (info).
 */
import { describe, expect, it } from "vitest";
import { ChainErrors } from "../service/chain/sender-errors.js";
import { failureCodes } from "../service/db/errors.js";
import { LedgerErrors } from "../service/ledger/errors.js";
import { LeaderErrors } from "../service/leader/errors.js";
import { ANCHOR_HALTED, CHAIN_HALTED, CHAIN_OUTAGE, isNodeUnreachable, startLoop } from "../service/loop.js";
import { AnchorErrors } from "../service/anchoring/errors.js";

type Line = { level: string; obj: Record<string, unknown>; msg: string };

function recorder() {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, log: { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") } };
}

function refused(): Error {
  return Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8545"), { code: "ECONNREFUSED", syscall: "connect", address: "127.0.0.1", port: 8545 });
}

async function until(probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("startLoop", () => {
  it("logs a chain node outage once when it starts (no stack) and once when it ends; repeats at debug only", async () => {
    const { lines, log } = recorder();
    const outcomes: Array<"refused" | "rpc" | "ok" | "bug"> = ["refused", "rpc", "refused", "refused", "ok", "ok", "bug", "bug", "ok"];
    let n = 0;
    const loop = startLoop("payouts", 1, async () => {
      const o = outcomes[Math.min(n++, outcomes.length - 1)];
      if (o === "refused") throw refused();
      if (o === "rpc") throw ChainErrors.rpcUnavailable("reading the chain id and genesis block: connect ECONNREFUSED 127.0.0.1:8545");
      if (o === "bug") throw new TypeError("x is undefined");
    }, log, { outage: CHAIN_OUTAGE });
    await until(() => n >= outcomes.length + 1);
    await loop.stop();
    const above = lines.filter((l) => l.level !== "debug");
    expect(above.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "payouts: the chain node does not answer; retrying"],
      ["info", "payouts: the chain node answers again"],
      ["error", "payouts tick failed"],
      ["error", "payouts tick failed"],
    ]);
    // The outage lines carry a one-line reason, never the error object (its stack).
    expect(above[0]!.obj).toEqual({ loop: "payouts", code: "ENT_CHAIN_NODE_UNREACHABLE", reason: "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:8545" });
    expect(above[1]!.obj).toMatchObject({ failures: 4 });
    expect(lines.filter((l) => l.level === "debug")).toHaveLength(3);
    // A real failure keeps its error (and stack) at error level.
    expect(above[2]!.obj["err"]).toBeInstanceOf(TypeError);
    expect(above[2]!.obj["code"]).toBe("ENT_INTERNAL");
  });

  it("a chain that is not the database's any more (ENT_CHAIN_RESET) is one error line per halt, not one per tick", async () => {
    const { lines, log } = recorder();
    const outcomes: Array<"reset" | "ok"> = ["reset", "reset", "reset", "reset", "ok"];
    let n = 0;
    const loop = startLoop("chain-sender", 1, async () => {
      if (outcomes[Math.min(n++, outcomes.length - 1)] === "reset") {
        throw ChainErrors.chainReset("block 12 of chain 31337 was 0xaa and is now 0xbb: the node was reset");
      }
    }, log, { outage: [CHAIN_OUTAGE, CHAIN_HALTED] });
    await until(() => n >= outcomes.length + 1);
    await loop.stop();
    const above = lines.filter((l) => l.level !== "debug");
    expect(above.map((l) => [l.level, l.msg])).toEqual([
      ["error", "chain-sender: the chain is not the one this database's transactions were sent on (ENT_CHAIN_RESET); retrying"],
      ["info", "chain-sender: the chain is the database's again"],
    ]);
    expect(above[0]!.obj).toEqual({ loop: "chain-sender", code: "ENT_CHAIN_RESET", reason: "ENT_CHAIN_RESET: block 12 of chain 31337 was 0xaa and is now 0xbb: the node was reset" });
    expect(lines.filter((l) => l.level === "debug")).toHaveLength(3);
  });

  it("a tick cut short because this instance's term ended (a graceful stop) is one info line without a stack", async () => {
    const { lines, log } = recorder();
    let leading = true;
    let n = 0;
    const loop = startLoop("anchoring", 1, async () => {
      n++;
      // What a graceful stop does: the term ends while the tick runs, and its fenced write refuses.
      leading = false;
      throw LeaderErrors.leaseLost("term 3 of the workers lease held by a has ended");
    }, log, { when: () => leading });
    await until(() => n >= 1 && lines.length >= 1);
    await loop.stop();
    expect(lines.map((l) => [l.level, l.msg, l.obj])).toEqual([
      ["info", "anchoring: tick cut short, this instance no longer leads the workers", { loop: "anchoring", code: "ENT_LEADER_LEASE_LOST" }],
    ]);
  });

  it("without an outage policy (the database workers), every failure that is no database outage is an error with its code", async () => {
    const { lines, log } = recorder();
    let n = 0;
    const loop = startLoop("webhooks", 1, async () => {
      n++;
      throw n % 2 === 0 ? new TypeError("x is undefined") : ChainErrors.txInvalid("bad key");
    }, log);
    await until(() => n >= 3);
    await loop.stop();
    expect(lines.every((l) => l.level === "error")).toBe(true);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]!.obj["code"]).toBe("ENT_CHAIN_TX_INVALID");
    expect(lines[1]!.obj["code"]).toBe("ENT_INTERNAL");
  });

  it("a lost database connection (ECONNREFUSED) in a database worker is a database outage: warn once with ENT_DB_UNAVAILABLE", async () => {
    const { lines, log } = recorder();
    let n = 0;
    const loop = startLoop("webhooks", 1, async () => {
      n++;
      throw refused();
    }, log);
    await until(() => n >= 3);
    await loop.stop();
    const above = lines.filter((l) => l.level !== "debug");
    expect(above.map((l) => [l.level, l.msg])).toEqual([["warn", "webhooks: the database fails transiently; retrying"]]);
    expect(above[0]!.obj).toMatchObject({ loop: "webhooks", code: "ENT_DB_UNAVAILABLE", sqlState: "ECONNREFUSED" });
  });

  it("a 503 caused by a transient database failure (the ledger's exhausted retries) is the same database outage, its SQLSTATE beside it", async () => {
    const { lines, log } = recorder();
    const deadlock = Object.assign(new Error("deadlock detected"), { code: "40P01" });
    let n = 0;
    const loop = startLoop("maintenance", 1, async () => {
      n++;
      throw LedgerErrors.unavailable("the ledger database failed transiently 6 times in a row; retry later", { cause: deadlock });
    }, log);
    await until(() => n >= 3);
    await loop.stop();
    const above = lines.filter((l) => l.level !== "debug");
    expect(above.map((l) => l.level)).toEqual(["warn"]);
    expect(above[0]!.obj).toMatchObject({ code: "ENT_DB_UNAVAILABLE", sqlState: "40P01" });
    expect(failureCodes(LedgerErrors.unavailable("x", { cause: deadlock }))).toEqual({ code: "ENT_LEDGER_UNAVAILABLE", transient: true, sqlState: "40P01" });
    expect(failureCodes(deadlock)).toEqual({ code: "ENT_DB_UNAVAILABLE", transient: true, sqlState: "40P01" });
    expect(failureCodes(Object.assign(new Error("no such file"), { code: "ENOENT" }))).toEqual({ code: "ENT_INTERNAL", transient: false });
  });

  it("runs its first tick at once, and the next at once after a tick that answers \"again\" (else after the pause)", async () => {
    const { log } = recorder();
    const started = Date.now();
    const at: number[] = [];
    const loop = startLoop("webhooks", 1_000, async () => {
      at.push(Date.now() - started);
      return at.length <= 2 ? "again" : undefined;
    }, log);
    await until(() => at.length >= 4);
    await loop.stop();
    // Ticks 1-3 without a pause (the first, then two after "again"); tick 4 after the 1 s pause.
    expect(at[2]!).toBeLessThan(800);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(990);
  });

  it("aborts the signal a running tick was given when the loop is stopped, so stop() waits for one unit of its work, not its backlog", async () => {
    const { log } = recorder();
    let units = 0;
    const loop = startLoop("maintenance", 1_000, async (stopping) => {
      // A backlog of 1,000 units of 5 ms, each checking the signal first.
      for (let i = 0; i < 1_000 && !stopping.aborted; i++) {
        await new Promise((r) => setTimeout(r, 5));
        units++;
      }
    }, log);
    await until(() => units >= 2);
    await loop.stop();
    expect(units).toBeLessThan(50);
  });

  it("anchoring halted on a disagreement with the chain is one error line when it starts, not one per tick", async () => {
    const { log, lines } = recorder();
    let n = 0;
    const loop = startLoop("anchoring", 5, () => {
      n++;
      if (n <= 4) return Promise.reject(AnchorErrors.chainMismatch("batch 12 was anchored on chain with root 0xf5d3, not the root this database built"));
      return Promise.resolve();
    }, log, { outage: [CHAIN_OUTAGE, CHAIN_HALTED, ANCHOR_HALTED] });
    await until(() => n >= 5);
    await loop.stop();
    expect(lines.filter((l) => l.level === "error")).toHaveLength(1);
    expect(lines.find((l) => l.level === "error")?.obj).toMatchObject({ loop: "anchoring", code: "ENT_ANCHOR_CHAIN_MISMATCH", haltCode: "ENT_ANCHOR_CHAIN_MISMATCH" });
    expect(lines.filter((l) => l.level === "debug")).toHaveLength(3);
    expect(lines.filter((l) => l.level === "info").map((l) => l.msg)).toEqual(["anchoring: the anchored batches agree with the chain again"]);
  });

  it("reports a halt once when it starts and clears it at the next success; a first success clears what an earlier term left; a failed report is retried", async () => {
    const { log } = recorder();
    const reports: Array<string | null> = [];
    let failReport = 1;
    // ok (clears an unknown state), two reverted, a mismatch (another halt), ok, ok.
    const outcomes = ["ok", "reverted", "reverted", "mismatch", "outage", "ok", "ok"];
    let n = 0;
    const loop = startLoop("anchoring", 1, () => {
      const o = outcomes[Math.min(n++, outcomes.length - 1)];
      if (o === "reverted") return Promise.reject(AnchorErrors.batchReverted("anchoring transaction 0xabc of batch 7 reverted", { details: { batchId: "7", txHash: "0xabc" } }));
      if (o === "mismatch") return Promise.reject(AnchorErrors.chainMismatch("batch 8 is anchored on chain with root 0xf5d3", { details: { batchId: "8" } }));
      if (o === "outage") return Promise.reject(refused());
      return Promise.resolve();
    }, log, {
      outage: [CHAIN_OUTAGE, CHAIN_HALTED, ANCHOR_HALTED],
      onHalt: (h) => {
        // The first report fails (a database hiccup): the next tick reports again.
        if (failReport-- > 0) return Promise.reject(new Error("connection terminated"));
        reports.push(h === null ? null : `${h.code} ${JSON.stringify(h.details)} ${h.reason}`);
        return Promise.resolve();
      },
    });
    await until(() => n >= outcomes.length + 2);
    await loop.stop();
    expect(reports).toEqual([
      // The first success's clear failed; the halt's report is the retry.
      'ENT_ANCHOR_BATCH_REVERTED {"batchId":"7","txHash":"0xabc"} ENT_ANCHOR_BATCH_REVERTED: anchoring transaction 0xabc of batch 7 reverted',
      'ENT_ANCHOR_CHAIN_MISMATCH {"batchId":"8"} ENT_ANCHOR_CHAIN_MISMATCH: batch 8 is anchored on chain with root 0xf5d3',
      // A node outage is no halt: nothing reported; the next success clears the halt once.
      null,
    ]);
  });

  it("recognises a node that does not answer through wrappers, and nothing else", () => {
    expect(isNodeUnreachable(refused())).toBe(true);
    expect(isNodeUnreachable(ChainErrors.rpcUnavailable("reading fees"))).toBe(true);
    expect(isNodeUnreachable(new Error("could not coalesce error", { cause: refused() }))).toBe(true);
    expect(isNodeUnreachable(Object.assign(new Error("timeout"), { code: "TIMEOUT" }))).toBe(true);
    expect(isNodeUnreachable(new TypeError("x is undefined"))).toBe(false);
    expect(isNodeUnreachable(ChainErrors.chainReset("genesis differs"))).toBe(false);
  });
});
