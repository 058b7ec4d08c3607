/** The webhook request slots' settings: an owner's share by default, and its bounds (config at boot). */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../service/config.js";

const slots = (env: Record<string, string>) => {
  const w = loadConfig({ LOG_LEVEL: "silent", ...env }).webhooks;
  return [w.maxInFlight, w.maxPerEndpoint, w.maxPerOwner];
};

describe("webhook request slots", () => {
  it("gives an owner a quarter of the slots by default, or one endpoint's allowance if that is more", () => {
    expect(slots({})).toEqual([64, 16, 16]);
    expect(slots({ WEBHOOK_MAX_IN_FLIGHT: "256" })).toEqual([256, 16, 64]);
    expect(slots({ WEBHOOK_MAX_IN_FLIGHT: "8" })).toEqual([8, 16, 16]);
    expect(slots({ WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT: "40" })).toEqual([64, 40, 40]);
    expect(slots({ WEBHOOK_MAX_IN_FLIGHT: "3", WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT: "1" })).toEqual([3, 1, 1]);
    expect(slots({ WEBHOOK_MAX_IN_FLIGHT_PER_OWNER: "8" })).toEqual([64, 16, 8]);
  });

  it("refuses an owner's share that is not a whole number of at least 1, naming the variable", () => {
    for (const bad of ["0", "-1", "2.5", "lots"]) {
      expect(() => slots({ WEBHOOK_MAX_IN_FLIGHT_PER_OWNER: bad }), bad).toThrow(ConfigError);
      expect(() => slots({ WEBHOOK_MAX_IN_FLIGHT_PER_OWNER: bad }), bad).toThrow(/WEBHOOK_MAX_IN_FLIGHT_PER_OWNER/);
    }
  });
});
