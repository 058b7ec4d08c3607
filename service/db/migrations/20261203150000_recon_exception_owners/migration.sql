-- Reconciliation: an exception's identity across runs, and who owns it in the finance team's queue.
-- Written to match `ReconExceptionOwner` in schema.prisma (Prisma's migration SQL style).

-- CreateTable
CREATE TABLE "recon_exception_owners" (
    "exception_id" CHAR(64) NOT NULL,
    "owner" VARCHAR(120) NOT NULL,
    "assigned_by" VARCHAR(120),
    "assigned_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "recon_exception_owners_pkey" PRIMARY KEY ("exception_id")
);

-- The same discrepancy in any run of a gateway: category, currency, references and amounts.
CREATE FUNCTION "recon_exception_id"(gateway TEXT, category TEXT, currency TEXT, gateway_reference TEXT, gateway_event_id TEXT,
                                     settlement_id TEXT, report_amount NUMERIC, ledger_amount NUMERIC, difference NUMERIC)
RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(concat_ws(chr(31), gateway, category, coalesce(currency, ''), coalesce(gateway_reference, ''),
                                            coalesce(gateway_event_id, ''), coalesce(settlement_id, ''), coalesce(report_amount::text, ''),
                                            coalesce(ledger_amount::text, ''), coalesce(difference::text, '')), 'UTF8')), 'hex')
$$;
