/**
 * The reconciliation routes over HTTP: CSV imports streamed in (re-import detected, wrong format
 * refused naming the columns, malformed records listed with line numbers), runs, reports as JSON
 * and CSV with filters, resolutions, scopes and error codes. On PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADYEN_COLUMNS, reportDigest, runHeader, type ReconItem, type RunRecord } from "../../service/reconciliation/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { adyenRow, capture, json, openHarness, problemCode, publishDayRates, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

const REPORT = [
  ADYEN_COLUMNS.join(","),
  adyenRow({ "Psp Reference": "PSP-1", "Modification Reference": "evt-http-1", "Merchant Reference": "ORD-BR-1", "Gross Credit (GC)": "149.90", "Net Credit (NC)": "145.56", "Commission (NC)": "4.34" }),
  adyenRow({ "Psp Reference": "PSP-2", "Modification Reference": "evt-http-2", "Merchant Reference": "ORD-BR-2", "Gross Credit (GC)": "150.00", "Net Credit (NC)": "145.66", "Commission (NC)": "4.34" }),
  adyenRow({ "Psp Reference": "PSP-9", "Modification Reference": "evt-http-ghost", "Merchant Reference": "ORD-BR-9", "Gross Credit (GC)": "10.00", "Net Credit (NC)": "9.71", "Commission (NC)": "0.29" }),
].join("\r\n");

/** The report with `tag` in Reserved10 of every row: the same rows, another report. */
const tagged = (tag: string) => REPORT.split("\r\n").map((l, i) => (i === 0 ? l : `${l}${tag}`)).join("\r\n");

describe.each(kinds)("reconciliation routes on %s", (kind) => {
  let h: Harness;
  const csv = (url: string, body: string, key = h.keys.admin, type = "text/csv") =>
    h.app.inject({ method: "POST", url, payload: body, headers: { "content-type": type, authorization: `Bearer ${key.key}` } });

  /** A new run over the report (each test that reads a run makes its own, so any test runs alone). */
  async function newRun(): Promise<RunRecord & { summary: Record<string, unknown> }> {
    // The report with Reserved10 (a column nothing reads) filled in: another report than the import
    // test's, whose first import must stay a 201 (a final line end more would be the same report).
    // Imported by whichever test comes first, "exists" for the others.
    const imported = await csv("/v1/reconciliation/imports?format=adyen_settlement_details", tagged("runs"));
    expect([200, 201], imported.body).toContain(imported.statusCode);
    const importId = json<{ import: { id: string } }>(imported).import.id;
    const r = await h.post("/v1/reconciliation/runs", { importIds: [importId], rules: { fxToleranceBps: 25 } }, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    return json(r);
  }

  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    for (const [id, order] of [["evt-http-1", "ORD-BR-1"], ["evt-http-2", "ORD-BR-2"]]) {
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: id, settlementId: order }));
      if (r.statusCode !== 201) throw new Error(r.body);
    }
  }, 120_000);
  afterAll(async () => h?.close());

  it("imports a report streamed as text/csv: 201, then 200 exists for the same bytes", async () => {
    const r = await csv("/v1/reconciliation/imports?format=adyen_settlement_details&fileName=batch_7.csv", REPORT);
    expect(r.statusCode, r.body).toBe(201);
    const body = json<{ status: string; import: { id: string; rowCount: number; errorCount: number; sha256: string; byteSize: string; importedBy: string } }>(r);
    expect(body.import).toMatchObject({ rowCount: 3, errorCount: 0, byteSize: String(Buffer.byteLength(REPORT)), importedBy: h.keys.admin.id });
    const again = await csv("/v1/reconciliation/imports?format=adyen_settlement_details", REPORT);
    expect(again.statusCode).toBe(200);
    expect(json<{ status: string; import: { id: string } }>(again)).toMatchObject({ status: "exists", import: { id: body.import.id } });
  });

  it("refuses a file of another format naming the missing columns, other media types, and callers without admin", async () => {
    const wrong = await csv("/v1/reconciliation/imports?format=stripe_itemized_balance", REPORT);
    expect(wrong.statusCode).toBe(400);
    expect(problemCode(wrong)).toBe("ENT_RECON_REPORT_FORMAT");
    expect(json<{ errors: Array<{ field: string }> }>(wrong).errors.map((f) => f.field)).toContain("header.balance_transaction_id");
    // curl's -d sends a form type: the answer names the types this route takes, not JSON.
    const form = await csv("/v1/reconciliation/imports?format=adyen_settlement_details", REPORT, h.keys.admin, "application/x-www-form-urlencoded");
    expect(problemCode(form)).toBe("ENT_HTTP_UNSUPPORTED_MEDIA_TYPE");
    expect(json<{ detail: string }>(form).detail).toBe("send the body as text/csv or application/csv or text/plain");
    expect(problemCode(await csv("/v1/reconciliation/imports", REPORT))).toBe("ENT_REQUEST_VALIDATION");
    expect((await csv("/v1/reconciliation/imports?format=adyen_settlement_details", REPORT, h.keys.finance)).statusCode).toBe(403);
  });

  it("lets a finance:write key import, run and resolve, but not issue keys; lists imports and runs newest first", async () => {
    const writer = await h.services.apiKeys.create({ name: "finance team", scopes: ["finance:write"] });
    const body = tagged("writer"); // a report of this test's own
    const imported = await csv("/v1/reconciliation/imports?format=adyen_settlement_details", body, writer);
    expect(imported.statusCode, imported.body).toBe(201);
    const importId = json<{ import: { id: string } }>(imported).import.id;
    const run = await h.post("/v1/reconciliation/runs", { importIds: [importId] }, writer);
    expect(run.statusCode, run.body).toBe(201);
    const runId = json<{ id: string }>(run).id;
    expect((await h.get(`/v1/reconciliation/runs/${runId}`, writer)).statusCode).toBe(200); // finance:write reads
    expect((await h.post("/v1/admin/api-keys", { name: "x", scopes: ["finance:read"] }, writer)).statusCode).toBe(403);
    expect((await h.post("/v1/reconciliation/runs", { importIds: [importId] }, h.keys.finance)).statusCode).toBe(403);

    const imports = json<{ items: Array<{ id: string }>; nextBefore: string | null }>(await h.get("/v1/reconciliation/imports?limit=1"));
    expect(imports.items.map((i) => i.id)).toEqual([importId]);
    expect(imports.nextBefore).toBe(importId);
    const older = json<{ items: Array<{ id: string }> }>(await h.get(`/v1/reconciliation/imports?before=${importId}&limit=200`));
    expect(older.items.map((i) => i.id)).not.toContain(importId);
    const runs = json<{ items: Array<{ id: string; gateway: string }> }>(await h.get("/v1/reconciliation/runs?gateway=adyen"));
    expect(runs.items[0]?.id).toBe(runId);
    expect(runs.items.every((r) => r.gateway === "adyen")).toBe(true);
    expect(json<{ items: unknown[] }>(await h.get("/v1/reconciliation/runs?gateway=nobody")).items).toEqual([]);
    expect((await h.get("/v1/reconciliation/imports?before=nonsense")).statusCode).toBe(400);
  });

  it("keeps one queue of exceptions across runs: age, runs, owner; resolved in one run, resolved everywhere", async () => {
    // A report of this test's own: one row the ledger does not know (an exception no other test touches).
    const own = [ADYEN_COLUMNS.join(","), adyenRow({ "Psp Reference": "PSP-Q", "Modification Reference": "evt-http-queue", "Merchant Reference": "ORD-BR-Q", "Gross Credit (GC)": "12.00", "Net Credit (NC)": "11.65", "Commission (NC)": "0.35" })].join("\r\n");
    const imported = await csv("/v1/reconciliation/imports?format=adyen_settlement_details", own);
    expect(imported.statusCode, imported.body).toBe(201);
    const importId = json<{ import: { id: string } }>(imported).import.id;
    const runIds: string[] = [];
    for (let k = 0; k < 2; k++) {
      const r = await h.post("/v1/reconciliation/runs", { importIds: [importId] }, h.keys.admin);
      expect(r.statusCode, r.body).toBe(201);
      runIds.push(json<{ id: string }>(r).id);
    }
    type Entry = { exceptionId: string; status: string; runId: string; item: { seq: number; category: string; gatewayReference: string }; runs: number; ageDays: number; ageBucket: string; owner: string | null };
    const queue = async (q: string) => json<{ items: Entry[]; openByAge: Record<string, number> }>(await h.get(`/v1/reconciliation/exceptions?${q}`));
    const mine = (items: Entry[]) => items.filter((e) => e.item.gatewayReference === "evt-http-queue");
    const open = await queue("status=open&limit=1000");
    expect(mine(open.items)).toHaveLength(1); // once, though two runs found it
    const e = mine(open.items)[0]!;
    expect(e).toMatchObject({ status: "open", runId: runIds[1], runs: 2, ageDays: 0, ageBucket: "0-7", owner: null, item: { category: "missing_in_ledger" } });
    expect(e.exceptionId).toMatch(/^[0-9a-f]{64}$/);
    expect(open.openByAge["0-7"]).toBeGreaterThanOrEqual(1);
    expect(mine((await queue("status=open&age=8-30")).items)).toEqual([]);

    // Assigned by the finance team; filtered by owner.
    const writer = await h.services.apiKeys.create({ name: "finance team (queue)", scopes: ["finance:write"] });
    const assign = (owner: string | null, key = writer) => h.app.inject({ method: "PUT", url: `/v1/reconciliation/exceptions/${e.exceptionId}/owner`, payload: { owner }, headers: { authorization: `Bearer ${key.key}` } });
    expect((await assign("ana@finance", h.keys.finance)).statusCode).toBe(403);
    expect((await assign("ana@finance")).statusCode).toBe(204);
    expect(mine((await queue("owner=ana%40finance")).items).map((x) => x.owner)).toEqual(["ana@finance"]);
    expect((await h.app.inject({ method: "PUT", url: `/v1/reconciliation/exceptions/${"0".repeat(64)}/owner`, payload: { owner: "x" }, headers: { authorization: `Bearer ${writer.key}` } })).statusCode).toBe(404);

    // Resolved in the first run: resolved in the queue, and the second run's item carries it.
    const resolved = await h.post(`/v1/reconciliation/runs/${runIds[0]}/exceptions/${e.item.seq}/resolution`, { note: "test row, not a sale" }, writer);
    expect(resolved.statusCode, resolved.body).toBe(201);
    expect(mine((await queue("status=open&limit=1000")).items)).toEqual([]);
    expect(mine((await queue("status=resolved&limit=1000")).items).map((x) => x.exceptionId)).toEqual([e.exceptionId]);
    const third = await h.post("/v1/reconciliation/runs", { importIds: [importId] }, writer);
    const carried = json<{ resolutions: Array<{ itemSeq: number; note: string }> }>(await h.get(`/v1/reconciliation/runs/${json<{ id: string }>(third).id}`));
    expect(carried.resolutions.map((r) => r.itemSeq)).toEqual([e.item.seq]);
    expect(carried.resolutions[0]?.note).toMatch(new RegExp(`^carried from run ${runIds[0]} item ${e.item.seq}: test row, not a sale$`));
  });

  it("lists malformed records with their line numbers on the import", async () => {
    const bad = `${REPORT}\r\n${adyenRow({ "Psp Reference": "PSP-X", "Gross Currency": "BRX", "Gross Credit (GC)": "1.00" })}\r\n${adyenRow({ "Gross Credit (GC)": "1.234" }).slice(0, -3)}\r\n`;
    const r = await csv("/v1/reconciliation/imports?format=adyen_settlement_details", bad);
    expect(r.statusCode).toBe(201);
    const id = json<{ import: { id: string } }>(r).import.id;
    const got = await h.get(`/v1/reconciliation/imports/${id}`);
    expect(got.statusCode).toBe(200);
    const body = json<{ import: { rowCount: number; errorCount: number }; errors: Array<{ line: number; column: string | null; code: string }> }>(got);
    expect(body.import).toMatchObject({ rowCount: 3, errorCount: 2 });
    expect(body.errors.map((e) => [e.line, e.column, e.code])).toEqual([
      [5, "Gross Currency", "currency"],
      [6, null, "column_count"],
    ]);
    expect(problemCode(await h.get("/v1/reconciliation/imports/imp_00000000000000000000"))).toBe("ENT_RECON_IMPORT_NOT_FOUND");
  });

  it("runs a reconciliation and serves the report as JSON, filtered, with a digest that recomputes", async () => {
    const run = await newRun();
    expect(run.summary).toMatchObject({ reportRows: 3, exceptions: { total: 2, byCategory: { amount_mismatch: 1, missing_in_ledger: 1 } }, chain: { enabled: false } });
    expect((run.rules as { fxToleranceBps: number }).fxToleranceBps).toBe(25);
    const all = json<{ run: { digest: string }; items: Array<Record<string, unknown>>; nextCursor: string | null }>(await h.get(`/v1/reconciliation/runs/${run.id}`));
    expect(all.items.map((i) => i["category"])).toEqual(["amount_mismatch", "missing_in_ledger"]);
    expect(all.items[0]).toMatchObject({ reportAmount: "15000", ledgerAmount: "14990", difference: "10", market: "BR", sellerId: "S-POP-SZ-01", currency: "BRL", lines: [3] });
    // The JSON is the report: recomputing the digest from it gives the stored digest.
    const items = all.items.map((i) => ({ ...i, reportAmount: i["reportAmount"] === null ? null : BigInt(i["reportAmount"] as string), ledgerAmount: i["ledgerAmount"] === null ? null : BigInt(i["ledgerAmount"] as string), difference: i["difference"] === null ? null : BigInt(i["difference"] as string) })) as unknown as ReconItem[];
    const stored = await h.services.reconciliation!.getRun(run.id);
    expect(reportDigest(items, runHeader(stored))).toBe(all.run.digest);

    const filtered = json<{ items: Array<{ category: string }> }>(await h.get(`/v1/reconciliation/runs/${run.id}?category=missing_in_ledger`));
    expect(filtered.items.map((i) => i.category)).toEqual(["missing_in_ledger"]);
    expect(json<{ items: unknown[] }>(await h.get(`/v1/reconciliation/runs/${run.id}?market=BR&seller=S-POP-SZ-01&currency=BRL&gateway=adyen`)).items).toHaveLength(1);
    expect(json<{ items: unknown[] }>(await h.get(`/v1/reconciliation/runs/${run.id}?currency=EUR`)).items).toHaveLength(0);
    const page = json<{ items: Array<{ seq: number }>; nextCursor: string }>(await h.get(`/v1/reconciliation/runs/${run.id}?limit=1`));
    expect(page.nextCursor).toBe("1");
    expect(json<{ items: Array<{ seq: number }> }>(await h.get(`/v1/reconciliation/runs/${run.id}?limit=1&cursor=1`)).items.map((i) => i.seq)).toEqual([2]);
    expect(problemCode(await h.get(`/v1/reconciliation/runs/${run.id}?category=lost`))).toBe("ENT_REQUEST_VALIDATION");
    expect(problemCode(await h.get("/v1/reconciliation/runs/run_00000000000000000000"))).toBe("ENT_RECON_RUN_NOT_FOUND");
  });

  it("serves the report as CSV (Accept or format=csv), filtered, and the summary as CSV", async () => {
    const run = await newRun();
    const r = await h.app.inject({ method: "GET", url: `/v1/reconciliation/runs/${run.id}`, headers: { authorization: `Bearer ${h.keys.finance.key}`, accept: "text/csv" } });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/csv/);
    expect(r.headers["x-entrepot-run-digest"]).toBe(run.digest);
    const lines = r.body.trimEnd().split("\r\n");
    expect(lines[0]).toBe("seq,category,rule,gateway,market,seller_id,currency,settlement_id,gateway_reference,gateway_event_id,journal_transaction_id,lines,report_amount,ledger_amount,difference,report_amount_major,ledger_amount_major,difference_major,evidence,report_currency");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^1,amount_mismatch,exact_reference,adyen,BR,S-POP-SZ-01,BRL,ORD-BR-2,evt-http-2,evt-http-2,\d+,3,15000,14990,10,150.00,149.90,0.10,"\{""field"":""amount""/);
    const only = await h.get(`/v1/reconciliation/runs/${run.id}?format=csv&category=missing_in_ledger`);
    expect(only.body.trimEnd().split("\r\n")).toHaveLength(2);
    const summary = await h.get(`/v1/reconciliation/runs/${run.id}?format=csv&part=summary`);
    expect(summary.body).toContain(`digest,${run.digest}\r\n`);
    expect(summary.body).toContain("summary.exceptions.byCategory.amount_mismatch,1\r\n");
  });

  it("resolves an exception with an adjusting entry through the ledger, once", async () => {
    const run = await newRun();
    const url = `/v1/reconciliation/runs/${run.id}/exceptions/1/resolution`;
    const body = {
      note: "Gateway settled 150.00 BRL; booked 149.90",
      adjustment: {
        postings: [
          { account: "gateway:adyen:receivable", currency: "BRL", direction: "debit", amount: "10" },
          { account: "platform:reconciliation:differences", currency: "BRL", direction: "credit", amount: "10" },
        ],
      },
    };
    expect((await h.post(url, body, h.keys.finance)).statusCode).toBe(403);
    const r = await h.post(url, body, h.keys.admin);
    expect(r.statusCode, r.body).toBe(201);
    const res = json<{ status: string; resolution: { journalTransactionId: string; resolvedBy: string }; transaction: { id: string; metadata: Record<string, string> } }>(r);
    expect(res.resolution.journalTransactionId).toBe(res.transaction.id);
    expect(res.transaction.metadata).toMatchObject({ runId: run.id, itemSeq: "1", category: "amount_mismatch" });
    expect((await h.post(url, body, h.keys.admin)).statusCode).toBe(200);
    expect(problemCode(await h.post(url, { note: "other" }, h.keys.admin))).toBe("ENT_RECON_RESOLUTION_CONFLICT");
    const unbalanced = await h.post(`/v1/reconciliation/runs/${run.id}/exceptions/2/resolution`, { note: "x", adjustment: { postings: [body.adjustment.postings[0], { ...body.adjustment.postings[1], amount: "9" }] } }, h.keys.admin);
    expect(unbalanced.statusCode).toBe(422);
    expect(problemCode(unbalanced)).toBe("ENT_RECON_ADJUSTMENT_REJECTED");
    expect(problemCode(await h.post(`/v1/reconciliation/runs/${run.id}/exceptions/99/resolution`, { note: "x" }, h.keys.admin))).toBe("ENT_RECON_ITEM_NOT_FOUND");
    expect(problemCode(await h.post(url, { note: "x", extra: 1 }, h.keys.admin))).toBe("ENT_REQUEST_VALIDATION");
    const report = json<{ resolutions: Array<{ itemSeq: number; note: string }> }>(await h.get(`/v1/reconciliation/runs/${run.id}`));
    expect(report.resolutions).toEqual([expect.objectContaining({ itemSeq: 1, note: body.note })]);
  });

  it("bounds an adjusting entry by its exception's amount unless it says it goes beyond; names an account it may open plainly", async () => {
    // A report of this test's own: one row the ledger does not know (12.00 BRL, missing in the ledger).
    const own = [ADYEN_COLUMNS.join(","), adyenRow({ "Psp Reference": "PSP-B", "Modification Reference": "evt-http-bound", "Merchant Reference": "ORD-BR-B", "Gross Credit (GC)": "12.00", "Net Credit (NC)": "11.65", "Commission (NC)": "0.35" })].join("\r\n");
    const imported = await csv("/v1/reconciliation/imports?format=adyen_settlement_details", own);
    expect(imported.statusCode, imported.body).toBe(201);
    const run = await h.post("/v1/reconciliation/runs", { importIds: [json<{ import: { id: string } }>(imported).import.id] }, h.keys.admin);
    expect(run.statusCode, run.body).toBe(201);
    const runId = json<{ id: string }>(run).id;
    type Entry = { runId: string; item: { seq: number; category: string; currency: string; reportAmount: string; gatewayReference: string } };
    const e = json<{ items: Entry[] }>(await h.get("/v1/reconciliation/exceptions?status=open&limit=1000")).items.find((x) => x.item.gatewayReference === "evt-http-bound" && x.runId === runId)!;
    expect(e.item).toMatchObject({ category: "missing_in_ledger", currency: "BRL", reportAmount: "1200" });
    const url = `/v1/reconciliation/runs/${runId}/exceptions/${e.item.seq}/resolution`;
    const entry = (currency: string, amount: string, suspense = "platform:suspense:unbooked_receipts") => [
      { account: "gateway:adyen:receivable", currency, direction: "credit", amount },
      { account: suspense, currency, direction: "debit", amount },
    ];
    const writer = await h.services.apiKeys.create({ name: "finance team (bound)", scopes: ["finance:write"] });
    // 900,000,000 BRL minor units against a 12.00 BRL row: refused, naming what it may move.
    const huge = await h.post(url, { note: "book it", adjustment: { postings: entry("BRL", "900000000") } }, writer);
    expect([huge.statusCode, problemCode(huge)], huge.body).toEqual([422, "ENT_RECON_ADJUSTMENT_EXCEEDS_EXCEPTION"]);
    expect(json<{ errors: Array<{ field: string }>; details: Record<string, string> }>(huge)).toMatchObject({ errors: [{ field: "adjustment.postings" }], details: { currency: "BRL", moved: "900000000", exceptionAmount: "1200" } });
    // Nor a currency the exception is not in.
    const other = await h.post(url, { note: "book it", adjustment: { postings: entry("EUR", "1") } }, writer);
    expect([other.statusCode, problemCode(other)], other.body).toEqual([422, "ENT_RECON_ADJUSTMENT_EXCEEDS_EXCEPTION"]);
    // The name of an account it opens is plain: no lookalike, no markup.
    const odd = await h.post(url, { note: "book it", adjustment: { postings: entry("BRL", "1200", "platform:suspense:<b>x</b>") } }, writer);
    expect([odd.statusCode, problemCode(odd)], odd.body).toEqual([400, "ENT_REQUEST_VALIDATION"]);
    expect(json<{ errors: Array<{ field: string }> }>(odd).errors.map((x) => x.field)).toEqual(["adjustment.postings.1.account"]);
    // Going beyond on purpose says so, and the journal transaction keeps it.
    const beyond = await h.post(url, { note: "Adyen paid 15.00 for this row: confirmed with Adyen support", adjustment: { postings: entry("BRL", "1500"), exceedsException: true } }, writer);
    expect(beyond.statusCode, beyond.body).toBe(201);
    const r = json<{ resolution: { adjustment: { exceedsException?: boolean } }; transaction: { metadata: Record<string, string> } }>(beyond);
    expect(r.resolution.adjustment.exceedsException).toBe(true);
    expect(r.transaction.metadata["exceedsException"]).toBe("true");
  });

  it("says plainly when no anchoring service is wired in", async () => {
    const run = await newRun();
    expect(problemCode(await h.post(`/v1/reconciliation/runs/${run.id}/anchor`, {}, h.keys.admin))).toBe("ENT_RECON_UNAVAILABLE");
    expect(problemCode(await h.get(`/v1/reconciliation/runs/${run.id}/proof`))).toBe("ENT_RECON_CHAIN_UNAVAILABLE");
    expect(json<{ version: string }>(await h.get("/v1/reconciliation/rules")).version).toMatch(/^2026-/);
  });
});

describe("report imports past the request body limit", () => {
  // A report is streamed, so it may exceed BODY_LIMIT_BYTES (1 MiB); IMPORT_LIMIT_BYTES bounds it.
  const big = (tag: string) => {
    const rows = REPORT.split("\r\n").slice(1);
    const lines = [ADYEN_COLUMNS.join(",")];
    for (let i = 0; lines.join("\r\n").length < 1_200_000; i++) lines.push(`${rows[i % rows.length] ?? ""}${tag}${i}`);
    return lines.join("\r\n");
  };
  const post = (h: Harness, body: string) =>
    h.app.inject({ method: "POST", url: "/v1/reconciliation/imports?format=adyen_settlement_details", payload: body, headers: { "content-type": "text/csv", authorization: `Bearer ${h.keys.admin.key}` } });

  it("imports a 1.2 MB report by default, and refuses it past IMPORT_LIMIT_BYTES with 413 ENT_RECON_IMPORT_TOO_LARGE", async () => {
    const open = await openHarness();
    const small = await openHarness({ env: { IMPORT_LIMIT_BYTES: "1048576" } });
    try {
      const body = big("x");
      expect(body.length).toBeGreaterThan(1_048_576);
      const accepted = await post(open, body);
      expect(accepted.statusCode, accepted.body.slice(0, 300)).toBe(201);
      const refused = await post(small, body);
      expect([refused.statusCode, problemCode(refused)]).toEqual([413, "ENT_RECON_IMPORT_TOO_LARGE"]);
    } finally {
      await open.close();
      await small.close();
    }
  }, 60_000);
});
