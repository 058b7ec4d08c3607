import { describe, expect, it } from "vitest";
import { mentions } from "../../service/cash/service.js";

describe("a remittance id in a bank entry's texts", () => {
  it("is found as a whole reference, never inside a longer one", () => {
    expect(mentions("ADYEN N.V. PAYOUT ADY-PO-1 MERCHANT", "ADY-PO-1")).toBe(true);
    expect(mentions("ADY-PO-1", "ADY-PO-1")).toBe(true);
    expect(mentions("/PO/ADY-PO-1/", "ADY-PO-1")).toBe(true);
    expect(mentions("PAYOUT ADY-PO-12", "ADY-PO-1")).toBe(false);
    expect(mentions("XADY-PO-1", "ADY-PO-1")).toBe(false);
    expect(mentions("ADY-PO-12 and later ADY-PO-1.", "ADY-PO-1")).toBe(true);
    expect(mentions("po_1Nx2 stripe", "po_1N")).toBe(false);
  });
});
