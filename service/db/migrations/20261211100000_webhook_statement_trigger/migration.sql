-- Hand-written: settlement.booked is queued by one statement trigger per journal insert instead of
-- one row trigger per settlement transaction.
--
-- The row trigger (20261203140000_webhooks) ran a PL/pgSQL call and a read of webhook_endpoints for
-- every settlement's journal row, whether or not any endpoint wanted the event: 250 of each in a
-- 250-event settlement flush. Its comment kept it a row trigger because a statement trigger's
-- transition table cost the 16-writer ledger bench about 20%; since 20261210100000 the closed-period
-- check is a statement trigger over the same inserted rows, and PostgreSQL captures one transition
-- table per table and event for all its triggers, so this one adds none.
--
-- Same events as before, in journal order: one per inserted transaction whose metadata names a
-- gateway event, when an active endpoint wants settlement.booked. Statement triggers of one table
-- fire in name order, so the closed-period check (which refuses the whole flush) still runs first.
DROP TRIGGER "ledger_transactions_webhooks" ON "ledger_transactions";
DROP FUNCTION "webhook_on_ledger_transactions"();
CREATE FUNCTION "webhook_on_ledger_transactions"() RETURNS trigger LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM "webhook_endpoints"
              WHERE "status" = 'active' AND ('settlement.booked' = ANY("event_types") OR '*' = ANY("event_types"))) THEN
    PERFORM "webhook_settlement_event"('settlement.booked', n."id", n."metadata", n."booked_at", n."effective_at", '{}'::jsonb)
       FROM "inserted" n
      WHERE n."metadata" ? 'gatewayEventId' AND n."metadata" ? 'eventType'
      ORDER BY n."id";
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER "ledger_transactions_webhooks" AFTER INSERT ON "ledger_transactions"
  REFERENCING NEW TABLE AS "inserted" FOR EACH STATEMENT EXECUTE FUNCTION "webhook_on_ledger_transactions"();
