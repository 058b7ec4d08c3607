import { openDatabase } from "../../service/db/index.js";
const db = await openDatabase({ url: "postgresql://postgres@127.0.0.1:5432/sp_prof", poolSize: 4 });
const rows = await db.prisma.$queryRawUnsafe<Array<{ j: string }>>(`SELECT (jsonb_agg(jsonb_build_object('event_key', event_key || 'x' || random()::text, 'capture_key', capture_key || 'y' || random()::text, 'sequence', 0, 'event_type', event_type, 'gateway', gateway, 'gateway_event_id', gateway_event_id, 'settlement_id', settlement_id, 'seller_id', seller_id, 'market', market, 'category', category, 'currency', currency, 'amount', amount::text, 'gateway_fee', gateway_fee::text, 'occurred_at', occurred_at, 'program', program, 'breakdown', breakdown, 'fx', fx, 'journal_request', journal_request, 'refunded_delta', '0', 'request_hash', request_hash)))::text AS j FROM (SELECT * FROM settlements LIMIT 1000) s`);
const json = rows[0]!.j;
console.log("json bytes", json.length);
for (let k = 0; k < 3; k++) {
  const s = performance.now();
  await db.prisma.$executeRawUnsafe(`INSERT INTO settlements (event_key, capture_key, sequence, event_type, gateway, gateway_event_id, settlement_id, seller_id, market, category, currency, amount, gateway_fee, occurred_at, program, breakdown, fx, journal_request, refunded_delta, status, request_hash)
   SELECT v.event_key || ${k}, v.capture_key || ${k}, v.sequence, v.event_type, v.gateway, v.gateway_event_id, v.settlement_id, v.seller_id, v.market, v.category, v.currency, v.amount, v.gateway_fee, v.occurred_at, v.program, v.breakdown, v.fx, v.journal_request, v.refunded_delta, 'pending', v.request_hash
   FROM jsonb_to_recordset($1::jsonb) AS v(event_key varchar, capture_key varchar, sequence int, event_type varchar, gateway varchar, gateway_event_id varchar, settlement_id varchar, seller_id varchar, market varchar, category varchar, currency varchar, amount numeric, gateway_fee numeric, occurred_at timestamptz, program varchar, breakdown jsonb, fx jsonb, journal_request jsonb, refunded_delta numeric, request_hash varchar)`, json);
  console.log("insert 1000", (performance.now() - s).toFixed(1));
}
const s2 = performance.now(); await db.prisma.$queryRawUnsafe(`SELECT count(*) FROM jsonb_to_recordset($1::jsonb) AS v(a text)`, json); console.log("parse only", (performance.now() - s2).toFixed(1));
await db.close();
