/**
 * A tax return's base per posting, read from the journal metadata booked with the event: signed as
 * the tax posting it sits beside, and never guessed where nothing was recorded.
 */
import { describe, expect, it } from "vitest";
import { taxPostingBase } from "../../service/settlement/statement.js";

const booked = {
  eventType: "capture",
  "tax.ruleId": "tax-BR-remessa-60-2024",
  "tax.taxableBase": "59454",
  // Zero figures are not written (plan.ts taxBaseMetadata): read as 0.
  "tax.otherTaxes": "17000",
  "tax.deducted": "12126",
  "tax.state.ruleId": "tax-BR-SP-icms-2023-08",
  "tax.state.taxableBase": "100000",
};

describe("taxPostingBase", () => {
  it("reads a capture's national and state bases as booked, collected (positive)", () => {
    expect(taxPostingBase(booked, "standard", false)).toEqual({ base: { taxableBase: 59454n, nonTaxable: 0n, otherTaxes: 17000n, deduction: 12126n }, missing: null });
    expect(taxPostingBase(booked, "standard", true)).toEqual({ base: { taxableBase: 100000n, nonTaxable: 0n, otherTaxes: 0n, deduction: 0n }, missing: null });
  });

  it("gives back a refund's or chargeback's share (negative) and collects again a chargeback reversal's (its share is negative)", () => {
    const share = { ...booked, "tax.taxableBase": "29727", "tax.otherTaxes": "8500", "tax.deducted": "6063" };
    for (const eventType of ["refund", "chargeback"]) {
      expect(taxPostingBase({ ...share, eventType }, "standard", false).base).toEqual({ taxableBase: -29727n, nonTaxable: 0n, otherTaxes: -8500n, deduction: -6063n });
    }
    const reversal = { ...share, eventType: "chargeback_reversal", "tax.taxableBase": "-29727", "tax.otherTaxes": "-8500", "tax.deducted": "-6063" };
    expect(taxPostingBase(reversal, "standard", false).base).toEqual({ taxableBase: 29727n, nonTaxable: 0n, otherTaxes: 8500n, deduction: 6063n });
  });

  it("turns a ledger reversal of a capture (which carries the capture's metadata) into a give-back", () => {
    expect(taxPostingBase(booked, "reversal", false).base).toEqual({ taxableBase: -59454n, nonTaxable: 0n, otherTaxes: -17000n, deduction: -12126n });
  });

  it("says why there is no base rather than guess one", () => {
    const { "tax.taxableBase": _base, ...old } = booked;
    expect(taxPostingBase(old, "standard", false)).toEqual({ base: null, missing: "booked before tax bases were recorded: the transaction has no tax.taxableBase" });
    const { "tax.state.taxableBase": _state, ...oldState } = booked;
    expect(taxPostingBase(oldState, "standard", true)).toEqual({ base: null, missing: "booked before tax bases were recorded: the transaction has no tax.state.taxableBase" });
    expect(taxPostingBase({ kind: "tax_payment" }, "standard", false)).toEqual({ base: null, missing: "not a settlement event: no tax base recorded" });
    expect(taxPostingBase({ ...booked, eventType: "fee_adjustment" }, "standard", false)).toEqual({ base: null, missing: "a fee_adjustment moves no tax base" });
    expect(taxPostingBase({ ...booked, "tax.nonTaxable": "1.5" }, "standard", false).base).toBeNull();
  });
});
