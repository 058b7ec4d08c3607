/**
 * The fees of a replacement transaction (`bumpFees`, pure): every fee field raised by the bump,
 * rounded up, at least what the network asks, and never above the cap. TxSender's replacement of
 * stuck transactions on a chain is in sender.test.ts.
 */
import { describe, expect, it } from "vitest";
import { bumpFees } from "../../service/chain/sender.js";

describe("bumpFees", () => {
  const eip1559 = { type: 2 as const, maxFeePerGas: "1000", maxPriorityFeePerGas: "100", gasPrice: null };
  it("raises both EIP-1559 fees by the bump, rounding up", () => {
    expect(bumpFees(eip1559, { type: 2, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }, 25n, null)).toEqual({
      type: 2,
      maxFeePerGas: 1250n,
      maxPriorityFeePerGas: 125n,
    });
    expect(bumpFees({ ...eip1559, maxFeePerGas: "1001", maxPriorityFeePerGas: "101" }, { type: 2, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }, 10n, null)).toEqual({
      type: 2,
      maxFeePerGas: 1102n, // 1101.1 rounded up
      maxPriorityFeePerGas: 112n, // 111.1 rounded up
    });
  });
  it("follows the network when it asks for more, and keeps maxFee >= maxPriority", () => {
    expect(bumpFees(eip1559, { type: 2, maxFeePerGas: 5000n, maxPriorityFeePerGas: 3000n }, 25n, null)).toEqual({
      type: 2,
      maxFeePerGas: 5000n,
      maxPriorityFeePerGas: 3000n,
    });
    expect(bumpFees(eip1559, { type: 2, maxFeePerGas: 10n, maxPriorityFeePerGas: 4000n }, 25n, null)).toEqual({
      type: 2,
      maxFeePerGas: 4000n,
      maxPriorityFeePerGas: 4000n,
    });
  });
  it("bumps legacy gas prices and respects the cap", () => {
    expect(bumpFees({ type: 0, maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: "200" }, { type: 0, gasPrice: 1n }, 25n, null)).toEqual({ type: 0, gasPrice: 250n });
    expect(bumpFees(eip1559, { type: 2, maxFeePerGas: 2000n, maxPriorityFeePerGas: 1n }, 25n, 1300n)).toEqual({ type: 2, maxFeePerGas: 1300n, maxPriorityFeePerGas: 125n });
    expect(bumpFees(eip1559, { type: 2, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }, 25n, 1200n)).toBeNull();
    expect(bumpFees({ type: 0, maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: "200" }, { type: 0, gasPrice: 1n }, 25n, 240n)).toBeNull();
  });
});

