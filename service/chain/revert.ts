/**
 * Revert data (0x + 4-byte selector + arguments) dug out of whatever ethers, a JSON-RPC provider or
 * Hardhat wrapped it in: the first hex string of at least a selector found along the error's
 * `data`/`error`/`cause`/`info`/`revert`/`payload` chain. Decode it with the contract's interface.
 */
import { isHexString } from "ethers";

const KEYS = ["data", "error", "cause", "info", "revert", "payload"] as const;

export function revertData(e: unknown): string | null {
  const seen = new Set<unknown>();
  const walk = (x: unknown, depth: number): string | null => {
    if (x === null || x === undefined || depth > 6 || seen.has(x)) return null;
    if (typeof x === "string") return isHexString(x) && x.length >= 10 && x.length % 2 === 0 ? x : null;
    if (typeof x !== "object") return null;
    seen.add(x);
    const o = x as Record<string, unknown>;
    for (const k of KEYS) {
      const found = walk(o[k], depth + 1);
      if (found) return found;
    }
    return null;
  };
  return walk(e, 0);
}
