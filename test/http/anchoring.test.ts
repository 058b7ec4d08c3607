/**
 * The anchoring routes over the real app and services (test/http/harness.ts) plus a real
 * AnchorService, TxSender and in-process chain: a settlement posted over HTTP, anchored, and its
 * proof fetched over HTTP verifies on chain; the problem documents name their codes. Every test
 * gets its own database, chain and app, so each runs alone.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Wallet } from "ethers";
import { AnchorService, currencyTotalsDigest, currencyTotalsDigestV1, verifyProof, type AnchorProof } from "../../service/anchoring/index.js";
import { devPrivateKey } from "../../service/chain/keys.js";
import { TxSender } from "../../service/chain/sender.js";
import { testDatabaseKinds } from "../support/db.js";
import { deployedSystem, type System } from "../chain/fixture.js";
import { pinOf } from "../anchoring/support.js";
import { capture as settlementEvent } from "../settlement/fixtures.js";
import { capture, DAY, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("anchoring routes on %s", { timeout: 60_000 }, (kind) => {
  let h: Harness;
  let sys: System;
  let anchoring: AnchorService;

  beforeEach(async () => {
    [h, sys] = await Promise.all([openHarness({ kind }), deployedSystem()]);
    await publishDayRates(h);
    const provider = sys.connection.ethers.provider;
    const anchorer = new Wallet(devPrivateKey(1, sys.chainId), provider);
    anchoring = new AnchorService({
      sql: h.db.sql,
      ledger: h.services.ledger,
      provider,
      chainId: sys.chainId,
      anchor: sys.result.record.contracts.SettlementAnchor.address,
      sender: new TxSender({ sql: h.db.sql, provider, chainId: sys.chainId, signers: [anchorer], record: sys.result.record }),
      anchorer: anchorer.address,
      batchMaxCount: 2,
    });
    // Wired in after the app is built, as the server does once its chain is up.
    h.services.anchoring = anchoring;
  }, 120_000);
  afterEach(async () => {
    await h?.close();
    await sys?.close();
  });

  it("answers 503 ENT_ANCHOR_UNAVAILABLE when the server runs without a chain", async () => {
    delete h.services.anchoring;
    const r = await h.get("/v1/anchoring/batches");
    expect([r.statusCode, problemCode(r)]).toEqual([503, "ENT_ANCHOR_UNAVAILABLE"]);
  });

  /** Two settlements posted over HTTP and anchored as batch 1; returns the first one's id. */
  async function anchoredPair(): Promise<string> {
    const posted = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-proof-1", settlementId: "ORD-PROOF-1" }));
    expect(posted.statusCode, posted.body).toBe(201);
    const second = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-proof-2", settlementId: "ORD-PROOF-2", amount: "9990" }));
    expect(second.statusCode).toBe(201);
    expect((await anchoring.tick()).built).toEqual([1n]);
    return json<{ settlement: { id: string } }>(posted).settlement.id;
  }

  it("GET /v1/settlements/:id/proof: 409 until anchored, then a proof that verifies on chain", async () => {
    const posted = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-proof-1", settlementId: "ORD-PROOF-1" }));
    expect(posted.statusCode, posted.body).toBe(201);
    const settlementId = json<{ settlement: { id: string } }>(posted).settlement.id;

    const early = await h.get(`/v1/settlements/${settlementId}/proof`);
    expect([early.statusCode, problemCode(early)]).toEqual([409, "ENT_ANCHOR_NOT_ANCHORED"]);
    expect(json<{ details: { state: string } }>(early).details.state).toBe("unanchored");

    const second = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "evt-proof-2", settlementId: "ORD-PROOF-2", amount: "9990" }));
    expect(second.statusCode).toBe(201);
    expect((await anchoring.tick()).built).toEqual([1n]);

    const r = await h.get(`/v1/settlements/${settlementId}/proof`);
    expect(r.statusCode, r.body).toBe(200);
    const proof = json<AnchorProof>(r);
    expect(proof.leaf.fields).toMatchObject({ kind: "settlement", gatewayEventId: "evt-proof-1", grossCurrency: "BRL", grossAmount: "14990", gatewayFee: "434" });
    expect(proof.anchoring.state).toBe("submitted");
    const report = await verifyProof(proof, sys.connection.ethers.provider, pinOf(sys));
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    // By event key too, as GET /v1/settlements/:id accepts it.
    const byKey = await h.get(`/v1/settlements/settlement:adyen:evt-proof-1/proof`);
    expect(json<AnchorProof>(byKey).leaf.hash).toBe(proof.leaf.hash);
    // The same proof through the journal route.
    const viaJournal = await h.get(`/v1/transactions/${proof.journalTransaction!.id}/proof`);
    expect(json<AnchorProof>(viaJournal).root).toBe(proof.root);
  });

  it("lets a gateway key read the proofs of its own gateway's settlements only (another's is 404 like a missing one)", async () => {
    await anchoredPair();
    const own = await h.get("/v1/settlements/settlement:adyen:evt-proof-1/proof", h.keys.gateway);
    expect(own.statusCode, own.body).toBe(200);
    // The batch's totals sum every gateway's amounts in it: withheld from a gateway, whose proof
    // still verifies (their digest is part of the totals digest the chain holds).
    const ownProof = json<AnchorProof>(own);
    expect(ownProof.batch.currencyTotals).toBeNull();
    // ... and so is the salt of their digest, without which the digest gives no guess of them away.
    expect(ownProof.batch).toMatchObject({ format: "entrepot.anchor.batch.v2", totalsSalt: null });
    // So do the running balances of the accounts gateways share: the gateway's own receivable's only.
    const balances = (p: AnchorProof) => Object.fromEntries(p.journalTransaction!.postings.map((q) => [q.account, q.balanceAfter]));
    const shown = balances(ownProof);
    expect(shown["gateway:adyen:receivable"]).toMatch(/^-?[0-9]+$/);
    expect(Object.entries(shown).filter(([account, b]) => account !== "gateway:adyen:receivable" && b !== null)).toEqual([]);
    expect(Object.values(balances(json<AnchorProof>(await h.get("/v1/settlements/settlement:adyen:evt-proof-1/proof")))).every((b) => typeof b === "string")).toBe(true);
    const financeBatch = json<AnchorProof>(await h.get("/v1/settlements/settlement:adyen:evt-proof-1/proof")).batch;
    expect(financeBatch.currencyTotals?.length).toBeGreaterThan(0);
    expect(financeBatch.totalsSalt).toMatch(/^0x[0-9a-f]{64}$/);
    expect(financeBatch.currencyTotalsDigest).toBe(ownProof.batch.currencyTotalsDigest);
    const report = await verifyProof(ownProof, sys.connection.ethers.provider, pinOf(sys));
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.checks).toHaveLength(14);
    // Withheld is not forgeable: another digest breaks the chain's totals digest.
    const forged = { ...ownProof, batch: { ...ownProof.batch, currencyTotalsDigest: `0x${"1".repeat(64)}` } };
    expect((await verifyProof(forged, sys.connection.ethers.provider, pinOf(sys))).checks.find((c) => c.name === "batch-digest")?.ok).toBe(false);
    const other = await h.services.apiKeys.create({ name: "other gateway", scopes: ["gateway:write"], gateway: "stripe" });
    const theirs = await h.get("/v1/settlements/settlement:adyen:evt-proof-1/proof", other);
    const missing = await h.get("/v1/settlements/settlement:stripe:evt-proof-1/proof", other);
    expect([theirs.statusCode, problemCode(theirs)]).toEqual([404, "ENT_SETTLEMENT_NOT_FOUND"]);
    expect(json<{ errors: unknown }>(theirs).errors).toEqual(json<{ errors: unknown }>(missing).errors);
    expect(theirs.body).not.toContain('"proof"');
    // Journal-wide proofs stay finance's.
    expect(problemCode(await h.get(`/v1/transactions/1/proof`, other))).toBe("ENT_AUTH_INSUFFICIENT_SCOPE");
  });

  // 100,000 hashes (a second or several on a loaded machine): its own timeout.
  it("gives a gateway key no way to recover another gateway's amounts from the batch's totals digest", { timeout: 120_000 }, async () => {
    // The finding: a stripe capture of 2999 and an adyen capture of 1000 in one batch; adyen's key
    // enumerates stripe's USD debits against the digest in its proof.
    const US = { market: "US", currency: "USD", sellerId: "S-POP-HK-02", category: "electronics" };
    const theirs = await h.services.settlement.postEvents([
      settlementEvent({ ...US, gateway: "stripe", gatewayEventId: "evt-other-1", settlementId: "ORD-OTHER-1", amount: 2999n, gatewayFee: 87n, occurredAt: new Date(`${DAY}T09:00:00.000Z`) }),
    ]);
    expect(theirs[0]?.status === "error" ? theirs[0].error.code : "booked").toBe("booked");
    const mine = await h.signedPost("/v1/settlements/events", capture({ ...US, gatewayEventId: "evt-own-1", settlementId: "ORD-OWN-1", amount: "1000", gatewayFee: "29" }));
    expect(mine.statusCode, mine.body).toBe(201);
    expect((await anchoring.tick()).built).toEqual([1n]);

    const gatewayProof = json<AnchorProof>(await h.get("/v1/settlements/settlement:adyen:evt-own-1/proof", h.keys.gateway));
    expect(gatewayProof.batch).toMatchObject({ currencyTotals: null, totalsSalt: null, count: "2" });
    // What the gateway knows: its own transaction's debits per currency; the unknown is the other's USD.
    const own = new Map<string, bigint>();
    for (const p of gatewayProof.journalTransaction!.postings) if (p.direction === "debit") own.set(p.currency, (own.get(p.currency) ?? 0n) + BigInt(p.amount));
    type Totals = Array<{ currency: string; total: bigint }>;
    const enumerate = (digest: string, hash: (t: Totals) => string): bigint | null => {
      const currencies = [...own.keys()].sort();
      for (let x = 1n; x <= 100_000n; x++) {
        if (hash(currencies.map((currency) => ({ currency, total: own.get(currency)! + (currency === "USD" ? x : 0n) }))) === digest) return x;
      }
      return null;
    };

    // The truth, from finance's proof: the search space covers it (same currencies, USD within range).
    const finance = json<AnchorProof>(await h.get("/v1/settlements/settlement:adyen:evt-own-1/proof")).batch;
    const totals = finance.currencyTotals!.map((t) => ({ currency: t.currency, total: BigInt(t.total) }));
    expect(totals.map((t) => t.currency)).toEqual([...own.keys()].sort());
    const otherUsd = totals.find((t) => t.currency === "USD")!.total - own.get("USD")!;
    expect(otherUsd >= 2999n && otherUsd <= 100_000n).toBe(true);
    // The attack as reported, on the unsalted digest batches had before: found.
    expect(enumerate(currencyTotalsDigestV1(totals), currencyTotalsDigestV1)).toBe(otherUsd);
    // Against the digest in the gateway's proof: nothing ...
    expect(enumerate(gatewayProof.batch.currencyTotalsDigest, currencyTotalsDigestV1)).toBeNull();
    // ... because the salt is what it lacks: with finance's salt the same search finds it.
    expect(enumerate(gatewayProof.batch.currencyTotalsDigest, (t) => currencyTotalsDigest(t, finance.totalsSalt!))).toBe(otherUsd);
    // Withheld, the proof still verifies (its digest as given, bound by the chain's totals digest).
    expect((await verifyProof(gatewayProof, sys.connection.ethers.provider, pinOf(sys))).checks.filter((c) => !c.ok)).toEqual([]);
  });

  it("names unknown settlements, batches and bad ids; refuses missing or wrong scopes", async () => {
    const unknown = await h.get("/v1/settlements/nope/proof");
    expect([unknown.statusCode, problemCode(unknown)]).toEqual([404, "ENT_SETTLEMENT_NOT_FOUND"]);
    const noBatch = await h.get("/v1/anchoring/batches/99");
    expect([noBatch.statusCode, problemCode(noBatch)]).toEqual([404, "ENT_ANCHOR_NOT_FOUND"]);
    const bad = await h.get("/v1/anchoring/batches/0x1");
    expect([bad.statusCode, problemCode(bad)]).toEqual([400, "ENT_REQUEST_VALIDATION"]);
    const noTx = await h.get("/v1/transactions/424242/proof");
    expect([noTx.statusCode, problemCode(noTx)]).toEqual([404, "ENT_ANCHOR_NOT_FOUND"]);
    const doc = await h.get("/v1/anchoring/documents/reconciliation/run-9/proof");
    expect([doc.statusCode, problemCode(doc)]).toEqual([404, "ENT_ANCHOR_NOT_FOUND"]);
    expect((await h.get("/v1/anchoring/batches", null)).statusCode).toBe(401);
    expect((await h.get("/v1/anchoring/batches", h.keys.gateway)).statusCode).toBe(403);
  });

  it("lists batches newest first and shows one", async () => {
    await anchoredPair();
    const list = await h.get("/v1/anchoring/batches?limit=10");
    expect(list.statusCode, list.body).toBe(200);
    const page = json<{ items: Array<Record<string, unknown>>; nextBefore: string | null }>(list);
    expect(page.items.map((b) => b["batchId"])).toEqual(["1"]);
    expect(page.items[0]).toMatchObject({ count: 2, journalCount: 2, firstSequence: "1", lastSequence: "2", status: "submitted", state: "submitted", format: "entrepot.anchor.batch.v2" });
    // The salt of the totals digest, shown with the totals (finance only).
    expect(page.items[0]?.["totalsSalt"]).toMatch(/^0x[0-9a-f]{64}$/);
    expect(page.nextBefore).toBeNull();
    const one = await h.get("/v1/anchoring/batches/1");
    expect(json(one)).toEqual(page.items[0]);
    expect((await h.get("/v1/anchoring/batches?status=final")).statusCode).toBe(200);
    expect((await h.get("/v1/anchoring/batches?status=lost")).statusCode).toBe(400);
  });

  it("documents the routes and the proof schema in /openapi.json", async () => {
    const doc = json<{ paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } }>(await h.app.inject({ url: "/openapi.json" }));
    for (const p of ["/v1/settlements/{id}/proof", "/v1/transactions/{id}/proof", "/v1/anchoring/batches", "/v1/anchoring/batches/{id}", "/v1/anchoring/batches/{id}/leaves", "/v1/anchoring/documents/{kind}/{id}/proof"]) {
      expect(doc.paths[p], p).toBeDefined();
    }
    expect(doc.components.schemas["AnchorProof"]).toBeDefined();
    expect(doc.components.schemas["AnchorBatch"]).toBeDefined();
    expect(doc.components.schemas["AnchorLeaf"]).toBeDefined();
  });
});
