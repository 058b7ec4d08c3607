/**
 * Shared helpers of the end-to-end chain tests: exact custom-error and event assertions.
 * A revert is asserted by decoding its data with the contract's own interface, so a test fails
 * on any other error, on a panic, or on a revert with the right name but the wrong arguments.
 */
import { expect } from "vitest";
import { revertData as serviceRevertData } from "../../service/chain/revert.js";
import type { ContractTransactionReceipt, ErrorDescription, Interface, LogDescription, Result } from "ethers";

/** Digs the revert data out of whatever ethers / the Hardhat provider wrapped it in. */
export function revertData(e: unknown): string | undefined {
  return serviceRevertData(e) ?? undefined;
}

function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object" && "toArray" in v && typeof (v as Result).toArray === "function") {
    return (v as Result).toArray(true).map(plain);
  }
  return typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v) ? v.toLowerCase() : v;
}

/**
 * Awaits `action`, expects it to revert with custom error `name` (and exactly `args` when given);
 * returns the decoded error for checks on arguments not known in advance (a block timestamp).
 */
export async function expectRevert(
  action: Promise<unknown> | (() => Promise<unknown>),
  iface: Interface,
  name: string,
  args?: readonly unknown[],
): Promise<ErrorDescription> {
  let error: unknown;
  try {
    await (typeof action === "function" ? action() : action);
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`expected a revert with ${name}, but the call succeeded`);
  const data = revertData(error);
  if (data === undefined) throw new Error(`expected a revert with ${name}, got an error without revert data: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
  const parsed = iface.parseError(data);
  if (parsed === null) throw new Error(`expected ${name}, got revert data not in the ABI: ${data}`);
  expect(parsed.name).toBe(name);
  if (args !== undefined) expect(plain(parsed.args)).toEqual(plain([...args]));
  return parsed;
}

/** The logs of `receipt` emitted by the contract at `address` that `iface` can decode, in order. */
export function eventsOf(receipt: ContractTransactionReceipt | null, iface: Interface, address: string): LogDescription[] {
  if (receipt === null) throw new Error("no receipt");
  const out: LogDescription[] = [];
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== address.toLowerCase()) continue;
    const parsed = iface.parseLog(log);
    if (parsed !== null) out.push(parsed);
  }
  return out;
}

/** Expects exactly the named events with exactly these arguments (all events of that name). */
export function expectEvents(
  receipt: ContractTransactionReceipt | null,
  iface: Interface,
  address: string,
  name: string,
  argsList: readonly (readonly unknown[])[],
): void {
  const got = eventsOf(receipt, iface, address)
    .filter((l) => l.name === name)
    .map((l) => plain(l.args));
  expect(got).toEqual(argsList.map((a) => plain([...a])));
}
