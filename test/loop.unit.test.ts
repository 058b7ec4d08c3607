/**
 * service/loop.ts: a chain node outage (or a transient database failure) is logged once when it
 * starts and once when it ends, with its ENT_ code, the failures in between at debug; any other
 * failure is logged at error level every time, with its code.
 */
import { describe, expect, it } from "vitest";
import { ChainErrors } from "../service/chain/sender-errors.js";
import { failureCodes } from "../service/db/errors.js";
import { LedgerErrors } from "../service/ledger/errors.js";
import { CHAIN_OUTAGE, isNodeUnreachable, startLoop } from "../service/loop.js";

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

  it("recognises a node that does not answer through wrappers, and nothing else", () => {
    expect(isNodeUnreachable(refused())).toBe(true);
    expect(isNodeUnreachable(ChainErrors.rpcUnavailable("reading fees"))).toBe(true);
    expect(isNodeUnreachable(new Error("could not coalesce error", { cause: refused() }))).toBe(true);
    expect(isNodeUnreachable(Object.assign(new Error("timeout"), { code: "TIMEOUT" }))).toBe(true);
    expect(isNodeUnreachable(new TypeError("x is undefined"))).toBe(false);
    expect(isNodeUnreachable(ChainErrors.chainReset("genesis differs"))).toBe(false);
  });
});
