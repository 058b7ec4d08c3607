/** For tests of the outbox triggers: an endpoint that wants every event, and the outbox read back. */
import type { SqlRunner } from "../../service/db/sql.js";

/** Subscribes a (never called) endpoint to every type, so the triggers write their events. */
export async function subscribeAll(sql: SqlRunner): Promise<void> {
  await sql.q(
    `INSERT INTO webhook_endpoints (id, url, event_types, secret_ciphertext, secret_key_id, status)
     VALUES ('we_' || substr(md5(random()::text), 1, 24), 'https://hooks.example.com/all', ARRAY['*']::varchar[], 'x', 'x', 'active')`,
  );
}

export interface OutboxEvent {
  id: bigint;
  type: string;
  subject: string;
  seller_id: string | null;
  gateway: string | null;
  data: Record<string, unknown>;
}

export function outbox(sql: SqlRunner, type?: string): Promise<OutboxEvent[]> {
  return sql.q<OutboxEvent[]>(`SELECT id, type, subject, seller_id, gateway, data FROM webhook_events WHERE $1::text IS NULL OR type = $1::text ORDER BY id`, type ?? null);
}
