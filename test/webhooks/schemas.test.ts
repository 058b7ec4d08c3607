/**
 * /openapi.json's `webhooks`, held to what Entrepot sends, on both engines: one entry per event type
 * the code can emit (the trigger functions as the migrated database holds them, the later
 * migrations' definitions having replaced the earlier ones, and the service's `emit` calls), none
 * other; and real deliveries (settlements booked over HTTP, a reconciliation run with an exception
 * resolved, a test event, a broken journal link) each valid for the schema of its type, whose
 * `data` admits no field the schema does not name. The triggers of the chain and the payout rails
 * are checked the same way where they are driven for real (test/anchoring/service.test.ts,
 * test/payouts/service.test.ts, bank.test.ts, bank-returns.test.ts,
 * test/reconciliation/reconciliation.test.ts), through `./contract.ts`.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADYEN_COLUMNS } from "../../service/reconciliation/index.js";
import { WEBHOOK_EVENT_TYPES, type WebhookEventBody } from "../../service/webhooks/index.js";
import { testDatabaseKinds } from "../support/db.js";
import { adyenRow, capture, json, openHarness, publishDayRates, type Harness } from "../http/harness.js";
import { expectValidBodies, publishedWebhooks, tapWebhooks, webhookValidators, type WebhookTap } from "./contract.js";

const kinds = await testDatabaseKinds();
const SERVICE = path.resolve(import.meta.dirname, "../../service");

const REPORT = [
  ADYEN_COLUMNS.join(","),
  // ORD-HOOK-1 as booked; ORD-HOOK-2 settled 1.00 more than booked: one amount_mismatch.
  adyenRow({ "Psp Reference": "PSP-H1", "Modification Reference": "evt-hook-1", "Merchant Reference": "ORD-HOOK-1", "Gross Credit (GC)": "149.90", "Net Credit (NC)": "145.56", "Commission (NC)": "4.34" }),
  adyenRow({ "Psp Reference": "PSP-H2", "Modification Reference": "evt-hook-2", "Merchant Reference": "ORD-HOOK-2", "Gross Credit (GC)": "150.90", "Net Credit (NC)": "146.56", "Commission (NC)": "4.34" }),
].join("\r\n");

/** The event types written in TypeScript: `emit({ type: "…" … })` anywhere in the service. */
async function emittedInCode(): Promise<Set<string>> {
  const found = new Set<string>();
  for (const f of await readdir(SERVICE, { recursive: true })) {
    if (!f.endsWith(".ts")) continue;
    const text = await readFile(path.join(SERVICE, f), "utf8");
    for (const m of text.matchAll(/\.emit\(\{\s*type:\s*"([^"]+)"/g)) found.add(m[1]!);
  }
  return found;
}

describe.each(kinds)("webhook schemas in /openapi.json on %s", { timeout: 90_000 }, (kind) => {
  let h: Harness;
  let tap: WebhookTap;
  let webhooks: Record<string, { post?: Record<string, unknown> }>;

  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    tap = await tapWebhooks(h.db.sql);
    const doc = json<{ webhooks?: typeof webhooks }>(await h.get("/openapi.json", null));
    webhooks = doc.webhooks ?? {};
  }, 60_000);
  afterAll(async () => {
    await tap?.close();
    await h?.close();
  });

  it("has one entry for every event type the code can emit, and no other", async () => {
    // The trigger functions as the migrations left them: a replaced function's old text is gone.
    const functions = await h.db.sql.q<Array<{ name: string; src: string }>>(
      `SELECT proname AS name, prosrc AS src FROM pg_proc WHERE prosrc LIKE '%webhook_events%' OR prosrc LIKE '%webhook_settlement_event%'`,
    );
    expect(functions.length).toBeGreaterThan(5);
    const fromTriggers = new Set(functions.flatMap((f) => [...f.src.matchAll(/'([a-z_]+\.[a-z_]+)'/g)].map((m) => m[1]!)));
    const fromCode = await emittedInCode();
    expect([...fromCode].sort()).toEqual(["journal.verification_failed", "webhook.test"]);
    const emitted = [...new Set([...fromTriggers, ...fromCode])].sort();
    expect(Object.keys(webhooks).sort()).toEqual(emitted);
    // What an endpoint may subscribe to is what can be sent.
    expect([...WEBHOOK_EVENT_TYPES].sort()).toEqual(emitted);
    for (const [type, item] of Object.entries(webhooks)) {
      const op = item.post as { parameters: Array<{ name: string; in: string }>; requestBody: { content: Record<string, { schema: { properties: { type: { const: string } } } }> }; responses: Record<string, unknown> };
      expect(op.parameters.filter((p) => p.in === "header").map((p) => p.name), type).toEqual(["Entrepot-Event-Id", "Entrepot-Event-Type", "Entrepot-Delivery-Attempt", "Entrepot-Signature"]);
      expect(op.requestBody.content["application/json"]?.schema.properties.type.const, type).toBe(type);
      expect(Object.keys(op.responses), type).toEqual(["2XX"]);
    }
  });

  it("describes every body delivered: settlements, a reconciliation and its resolution, a test event, a broken journal link", async () => {
    const booked: string[] = [];
    for (const [id, order, amount] of [["evt-hook-1", "ORD-HOOK-1", "14990"], ["evt-hook-2", "ORD-HOOK-2", "14990"]] as const) {
      const r = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: id, settlementId: order, amount }));
      expect(r.statusCode, r.body).toBe(201);
      booked.push(json<{ transaction: { id: string } }>(r).transaction.id);
    }
    const imported = await h.app.inject({ method: "POST", url: "/v1/reconciliation/imports?format=adyen_settlement_details", payload: REPORT, headers: { "content-type": "text/csv", authorization: `Bearer ${h.keys.admin.key}` } });
    expect(imported.statusCode, imported.body).toBe(201);
    const run = await h.post("/v1/reconciliation/runs", { importIds: [json<{ import: { id: string } }>(imported).import.id] }, h.keys.admin);
    expect(run.statusCode, run.body).toBe(201);
    const runId = json<{ id: string }>(run).id;
    const [item] = await h.services.reconciliation!.listItems(runId);
    expect(item).toBeDefined();
    const resolved = await h.post(`/v1/reconciliation/runs/${runId}/exceptions/${item!.seq}/resolution`, { note: "seen" }, h.keys.admin);
    expect(resolved.statusCode, resolved.body).toBe(201);
    expect((await h.post(`/v1/webhooks/endpoints/${tap.endpointId}/test`, {}, h.keys.admin)).statusCode).toBe(202);
    // Last: a posting changed behind the append-only trigger breaks the chain at its transaction.
    await h.db.sql.q(`ALTER TABLE "ledger_postings" DISABLE TRIGGER "ledger_postings_append_only"`);
    await h.db.sql.q(`UPDATE "ledger_postings" SET "amount" = "amount" + 1 WHERE "transaction_id" = $1::bigint`, booked[1]);
    await h.db.sql.q(`ALTER TABLE "ledger_postings" ENABLE TRIGGER "ledger_postings_append_only"`);
    expect(json<{ ok: boolean }>(await h.get("/v1/journal/verify")).ok).toBe(false);

    const bodies = await tap.deliverAll();
    const validators = webhookValidators(webhooks);
    const seen = expectValidBodies(bodies, validators);
    expect([...seen].sort()).toEqual([
      "journal.verification_failed",
      "reconciliation.exception_opened",
      "reconciliation.exception_resolved",
      "reconciliation.run_completed",
      "settlement.booked",
      "webhook.test",
    ]);

    // The schemas admit nothing they do not name, and require what they do: a field a trigger
    // added, or one it stopped writing, fails.
    for (const b of bodies) {
      const validate = validators.get(b.type)!;
      const more: WebhookEventBody = { ...b, data: { ...b.data, added: "x" } };
      expect(validate(more), `${b.type} with a field more`).toBe(false);
      const [first] = Object.keys(b.data);
      const less: WebhookEventBody = { ...b, data: Object.fromEntries(Object.entries(b.data).filter(([k]) => k !== first)) };
      expect(validate(less), `${b.type} without ${first}`).toBe(false);
      expect(validate({ ...b, type: b.type === "webhook.test" ? "settlement.booked" : "webhook.test" }), `${b.type} under another type`).toBe(false);
    }
  });
});

describe("the README's table of webhook events", () => {
  it("lists every event type, and names every field of its data (directly or as the type it refers to)", async () => {
    const readme = await readFile(path.join(SERVICE, "../README.md"), "utf8");
    const start = readme.indexOf("\n## Webhooks");
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
    const ticked = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const rows = section.split("\n").filter((l) => l.startsWith("| `"));
    const rowOf = new Map(rows.flatMap((r) => ticked(r.split("|")[1]!).map((t) => [t, r] as const)));
    expect([...rowOf.keys()].sort()).toEqual([...WEBHOOK_EVENT_TYPES].sort());
    // A row's "when" cell names fields in backticks, and may say "data as `<another type>`".
    const named = (type: string, seen = new Set<string>()): Set<string> => {
      seen.add(type);
      const tokens = ticked(rowOf.get(type)!.split("|")[2]!);
      const out = new Set(tokens);
      for (const t of tokens) if (rowOf.has(t) && !seen.has(t)) for (const f of named(t, seen)) out.add(f);
      return out;
    };
    const webhooks = publishedWebhooks() as Record<string, { post: { requestBody: { content: { "application/json": { schema: { properties: { data: { properties: Record<string, unknown> } } } } } } } }>;
    for (const type of WEBHOOK_EVENT_TYPES) {
      const fields = Object.keys(webhooks[type]!.post.requestBody.content["application/json"].schema.properties.data.properties);
      const names = named(type);
      expect(fields.filter((f) => !names.has(f)), type).toEqual([]);
    }
  });
});
