/**
 * The payout routes over HTTP (inject), on the real app with a PayoutService wired to an in-process
 * chain and PGlite: destinations (admin sets, finance reads, every refusal with its code and
 * field), an on-demand run, payouts and batches read back, and 503 when no chain is configured.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { buildApp } from "../../service/app.js";
import { loadConfig } from "../../service/config.js";
import type { IssuedKey } from "../../service/http/auth/keys.js";
import { fundVaultLocal } from "../../service/payouts/index.js";
import { createServices } from "../../service/services.js";
import { openPayoutHarness, USDC, type PayoutHarness } from "../payouts/harness.js";

describe("payout routes", { timeout: 60_000 }, () => {
  let h: PayoutHarness;
  let app: FastifyInstance;
  let bare: FastifyInstance;
  let keys: { admin: IssuedKey; finance: IssuedKey };

  const call = (method: "GET" | "PUT" | "POST", url: string, key: IssuedKey | null, body?: unknown): Promise<LightMyRequestResponse> =>
    app.inject({
      method,
      url,
      headers: { ...(key ? { authorization: `Bearer ${key.key}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
  const problem = (r: LightMyRequestResponse) => JSON.parse(r.body) as { code: string; errors?: Array<{ field: string }> };

  beforeAll(async () => {
    h = await openPayoutHarness("pglite");
    await fundVaultLocal({ record: h.sys.result.record, admin: h.sys.deployer, amount: 1_000n * USDC });
    const config = loadConfig({ LOG_LEVEL: "silent" });
    const base = createServices(h.db, config);
    const services = { ...base, ledger: h.ledger, fx: h.fx, settlement: h.settlement, payouts: h.payouts };
    app = await buildApp({ services, config, logger: false });
    bare = await buildApp({ services: base, config, logger: false });
    keys = {
      admin: await base.apiKeys.create({ name: "admin", scopes: ["admin"] }),
      finance: await base.apiKeys.create({ name: "finance", scopes: ["finance:read"] }),
    };
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await bare?.close();
    await h?.close();
  });

  describe("PUT/GET /v1/sellers/:id/payout-destination", () => {
    const address = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"; // any well-formed address

    it("lets an admin set an address and finance read it back, checksummed", async () => {
      const fresh = h.sys.others[14]!.address;
      const put = await call("PUT", "/v1/sellers/S-POP-HK-02/payout-destination", keys.admin, { address: fresh.toLowerCase() });
      expect(put.statusCode).toBe(200);
      expect(JSON.parse(put.body)).toMatchObject({ sellerId: "S-POP-HK-02", chainId: h.sys.chainId.toString(), address: fresh, setBy: `api-key:${keys.admin.id}` });
      const get = await call("GET", "/v1/sellers/S-POP-HK-02/payout-destination", keys.finance);
      expect(get.statusCode).toBe(200);
      expect(JSON.parse(get.body)).toMatchObject({ address: fresh });
      const changes = await h.db.sql.q<Array<{ address: string; previous_address: string | null }>>(
        `SELECT address, previous_address FROM payout_destination_changes WHERE seller_id = 'S-POP-HK-02' ORDER BY id`,
      );
      expect(changes.map((c) => c.address)).toEqual([h.sys.others[1]!.address, fresh]);
      expect(changes[1]!.previous_address).toBe(h.sys.others[1]!.address);
    });

    it("refuses finance (403), a malformed or zero address, the vault, its token or the anchor (400 naming the field), an unknown seller (404), another seller's address (409)", async () => {
      expect((await call("PUT", "/v1/sellers/S-POP-HK-02/payout-destination", keys.finance, { address })).statusCode).toBe(403);
      const { token, contracts } = h.sys.result.record;
      for (const bad of ["0x1234", "not an address", "0x0000000000000000000000000000000000000000", h.vault, h.vault.toLowerCase(), token.address, token.address.toLowerCase(), contracts.SettlementAnchor.address]) {
        const r = await call("PUT", "/v1/sellers/S-POP-HK-02/payout-destination", keys.admin, { address: bad });
        expect(r.statusCode, bad).toBe(400);
        expect(problem(r)).toMatchObject({ code: "ENT_PAYOUT_INVALID_REQUEST", errors: [{ field: "address" }] });
      }
      const unknown = await call("PUT", "/v1/sellers/S-NOPE/payout-destination", keys.admin, { address: h.sys.others[13]!.address });
      expect(unknown.statusCode).toBe(404);
      expect(problem(unknown).code).toBe("ENT_PAYOUT_SELLER_NOT_FOUND");
      const taken = await call("PUT", "/v1/sellers/S-POP-HK-02/payout-destination", keys.admin, { address: h.sys.others[3]!.address }); // S-SEMI-HZ-01's
      expect(taken.statusCode).toBe(409);
      expect(problem(taken).code).toBe("ENT_PAYOUT_DESTINATION_TAKEN");
      const extra = await call("PUT", "/v1/sellers/S-POP-HK-02/payout-destination", keys.admin, { address, memo: "x" });
      expect(extra.statusCode).toBe(400);
    });

    it("refuses a seller established in mainland China (422 ENT_PAYOUT_VAULT_NOT_PERMITTED naming homeCountry): the bank rail pays it; a Hong Kong one is accepted", async () => {
      const onboard = async (id: string, homeCountry: string) => {
        const r = await call("POST", "/v1/sellers", keys.admin, { id, name: `Seller ${id}`, program: "pop", payoutCurrency: "CNY", homeCountry });
        expect(r.statusCode, r.body).toBe(201);
      };
      await onboard("S-CN-VAULT-01", "CN");
      const refused = await call("PUT", "/v1/sellers/S-CN-VAULT-01/payout-destination", keys.admin, { address: "0x90f79bf6eb2c4f870365e447a1a9a5b8c0f4f4c9" });
      expect(refused.statusCode).toBe(422);
      expect(refused.headers["content-type"]).toContain("application/problem+json");
      expect(problem(refused)).toMatchObject({ code: "ENT_PAYOUT_VAULT_NOT_PERMITTED", errors: [{ field: "homeCountry" }] });
      expect((await call("GET", "/v1/sellers/S-CN-VAULT-01/payout-destination", keys.finance)).statusCode).toBe(404);
      // The demo's mainland sellers too, whatever their payout currency.
      expect(problem(await call("PUT", "/v1/sellers/S-POP-SZ-01/payout-destination", keys.admin, { address: h.sys.others[12]!.address })).code).toBe("ENT_PAYOUT_VAULT_NOT_PERMITTED");

      await onboard("S-HK-VAULT-01", "HK");
      const hk = await call("PUT", "/v1/sellers/S-HK-VAULT-01/payout-destination", keys.admin, { address: "0x90f79bf6eb2c4f870365e447a1a9a5b8c0f4f4c9" });
      expect(hk.statusCode).toBe(200);
      expect(JSON.parse(hk.body)).toMatchObject({ sellerId: "S-HK-VAULT-01", address: "0x90f79Bf6Eb2C4F870365E447a1A9A5B8c0f4F4c9" });
    });

    it("answers 404 ENT_PAYOUT_DESTINATION_NOT_FOUND on another chain", async () => {
      const r = await call("GET", "/v1/sellers/S-POP-HK-02/payout-destination?chainId=1", keys.finance);
      expect(r.statusCode).toBe(404);
      expect(problem(r).code).toBe("ENT_PAYOUT_DESTINATION_NOT_FOUND");
    });
  });

  describe("POST /v1/payouts/runs and the reads", () => {
    it("plans and submits a batch; the payout is readable by id, by seller and by batch", async () => {
      await h.credit("S-SEMI-HZ-01", "USD", 2_500n);
      expect((await call("POST", "/v1/payouts/runs", keys.finance)).statusCode).toBe(403);
      const run = await call("POST", "/v1/payouts/runs", keys.admin);
      expect(run.statusCode).toBe(201);
      const body = JSON.parse(run.body) as { batches: Array<{ id: string; status: string; firstPayoutId: string; total: string }>; skipped: Array<{ sellerId: string; reason: string }> };
      expect(body.batches).toHaveLength(1);
      expect(body.batches[0]).toMatchObject({ status: "sent", total: "25000000" });
      expect(body.skipped).toContainEqual({ sellerId: "S-TEST-USD-02", reason: "no_account" });
      // A mainland-China seller is the bank rail's: named, never planned.
      expect(body.skipped.find((x) => x.sellerId === "S-POP-SZ-01")).toMatchObject({ reason: "vault_not_permitted" });

      await h.untilBatch(BigInt(body.batches[0]!.id), "final");
      const id = body.batches[0]!.firstPayoutId;
      const one = await call("GET", `/v1/payouts/${id}`, keys.finance);
      expect(one.statusCode).toBe(200);
      expect(JSON.parse(one.body)).toMatchObject({ id, sellerId: "S-SEMI-HZ-01", amount: "2500", usdAmount: "2500", tokenAmount: "25000000", status: "final", outcome: "paid", fx: null });
      const list = await call("GET", "/v1/payouts?sellerId=S-SEMI-HZ-01&status=final", keys.finance);
      expect(JSON.parse(list.body)).toMatchObject({ items: [{ id }], nextCursor: null });
      const none = await call("GET", "/v1/payouts?sellerId=S-POP-SZ-01", keys.finance);
      expect(JSON.parse(none.body)).toEqual({ items: [], nextCursor: null });
      const batch = await call("GET", `/v1/payouts/batches/${body.batches[0]!.id}`, keys.finance);
      expect(JSON.parse(batch.body)).toMatchObject({ batch: { status: "final", paidTotal: "25000000" }, payouts: [{ id }] });

      // What it pays: the one credit of 2,500 since the start, summing to the amount.
      const settles = JSON.parse((await call("GET", `/v1/payouts/${id}/settles`, keys.finance)).body) as { total: string; matches: boolean; lines: Array<{ phase: string; available: string }> };
      expect(settles).toMatchObject({ total: "2500", matches: true, lines: [{ phase: "posted", available: "2500" }] });

      const cancel = await call("POST", `/v1/payouts/batches/${body.batches[0]!.id}/cancel`, keys.admin);
      expect(cancel.statusCode).toBe(409);
      expect(problem(cancel).code).toBe("ENT_PAYOUT_INVALID_STATE");

      // A second payout pays only what came after the first one's reserve: its commit is listed
      // (it moves no spendable balance), then the new credit.
      await h.credit("S-SEMI-HZ-01", "USD", 1_200n);
      const second = JSON.parse((await call("POST", "/v1/payouts/runs", keys.admin)).body) as { batches: Array<{ id: string; firstPayoutId: string }> };
      await h.untilBatch(BigInt(second.batches[0]!.id), "final");
      const next = JSON.parse((await call("GET", `/v1/payouts/${second.batches[0]!.firstPayoutId}/settles`, keys.finance)).body) as {
        total: string;
        matches: boolean;
        lines: Array<{ what: string; phase: string; available: string }>;
      };
      expect(next).toMatchObject({ total: "1200", matches: true });
      expect(next.lines.map((l) => [l.what, l.phase, l.available])).toEqual([
        ["payout", "commit", "0"],
        ["test-credit", "posted", "1200"],
      ]);
    });

    it("answers 404 for unknown ids and 400 for a bad filter", async () => {
      const missing = await call("GET", "/v1/payouts/999999", keys.finance);
      expect(missing.statusCode).toBe(404);
      expect(problem(missing).code).toBe("ENT_PAYOUT_NOT_FOUND");
      expect(problem(await call("GET", "/v1/payouts/batches/999999", keys.finance)).code).toBe("ENT_PAYOUT_BATCH_NOT_FOUND");
      expect(problem(await call("GET", "/v1/payouts/999999/settles", keys.finance)).code).toBe("ENT_PAYOUT_NOT_FOUND");
      expect((await call("GET", "/v1/payouts?status=lost", keys.finance)).statusCode).toBe(400);
      expect((await call("GET", "/v1/payouts/abc", keys.finance)).statusCode).toBe(400);
    });
  });

  it("answers 503 ENT_PAYOUT_UNAVAILABLE when no chain is configured", async () => {
    const r = await bare.inject({ method: "GET", url: "/v1/payouts", headers: { authorization: `Bearer ${keys.finance.key}` } });
    expect(r.statusCode).toBe(503);
    expect(problem(r).code).toBe("ENT_PAYOUT_UNAVAILABLE");
  });
});
