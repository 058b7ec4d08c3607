-- Hand-written: invariants of the FX tables that the Prisma schema language cannot express.
-- Rates are positive, windows are non-empty, a pair has two different currencies, markups are
-- basis points below 100 %. Published rates and quotes are evidence: never updated or deleted.
ALTER TABLE "fx_rates" ADD CONSTRAINT "fx_rates_rate_positive" CHECK ("rate" > 0);
ALTER TABLE "fx_rates" ADD CONSTRAINT "fx_rates_window_check" CHECK ("valid_until" > "valid_from");
ALTER TABLE "fx_rates" ADD CONSTRAINT "fx_rates_pair_check" CHECK ("base" <> "quote");
ALTER TABLE "fx_quotes" ADD CONSTRAINT "fx_quotes_rates_positive" CHECK ("mid_rate" > 0 AND "all_in_rate" > 0);
ALTER TABLE "fx_quotes" ADD CONSTRAINT "fx_quotes_markup_check" CHECK ("markup_bps" >= 0 AND "markup_bps" < 10000);
ALTER TABLE "fx_quotes" ADD CONSTRAINT "fx_quotes_expiry_check" CHECK ("expires_at" > "created_at");

CREATE FUNCTION "fx_evidence_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER "fx_rates_append_only" BEFORE UPDATE OR DELETE ON "fx_rates"
    FOR EACH ROW EXECUTE FUNCTION "fx_evidence_guard"();
CREATE TRIGGER "fx_quotes_append_only" BEFORE UPDATE OR DELETE ON "fx_quotes"
    FOR EACH ROW EXECUTE FUNCTION "fx_evidence_guard"();
