-- Reconciliation: an exception's identity names the report row it stands for, and an import's
-- identity is its content. Written to match schema.prisma (ReconImport.contentSha256).
--
-- 1. Two report rows of the same amount are two exceptions. The identity of 20261203150000 was
-- gateway, category, currency, references and amounts: two Adyen DepositCorrection rows of 5.00 EUR
-- (no reference of their own, different batches and days) had the same identity, so the resolution
-- of the first was carried to the second and the second could never be booked. The identity now
-- also holds the row's batch and instant, read from the item's evidence (`report.batch`,
-- `report.occurredAt`, written by every run since the first), so old items get the same new
-- identity as new items of the same row: the same row seen again (the same report, a re-import)
-- still carries its resolution. Items without a single report row (events missing at the gateway
-- or on chain) keep their former identity: concat_ws skips the NULL parts.

ALTER FUNCTION "recon_exception_id"(TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, NUMERIC, NUMERIC, NUMERIC) RENAME TO "recon_exception_id_20261203";

CREATE FUNCTION "recon_exception_id"(gateway TEXT, category TEXT, currency TEXT, gateway_reference TEXT, gateway_event_id TEXT,
                                     settlement_id TEXT, report_amount NUMERIC, ledger_amount NUMERIC, difference NUMERIC,
                                     evidence JSONB)
RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to(concat_ws(chr(31), gateway, category, coalesce(currency, ''), coalesce(gateway_reference, ''),
                                            coalesce(gateway_event_id, ''), coalesce(settlement_id, ''), coalesce(report_amount::text, ''),
                                            coalesce(ledger_amount::text, ''), coalesce(difference::text, ''),
                                            'batch=' || (evidence #>> '{report,batch}'),
                                            'at=' || (evidence #>> '{report,occurredAt}')), 'UTF8')), 'hex')
$$;

-- Owners follow their exceptions to the new identities (an old identity that stood for several
-- rows gives its owner to each of them). The rows under the old identities stay: nothing reads them.
INSERT INTO "recon_exception_owners" ("exception_id", "owner", "assigned_by", "assigned_at")
SELECT DISTINCT ON (m.new_id) m.new_id, o."owner", o."assigned_by", o."assigned_at"
  FROM "recon_exception_owners" o
  JOIN (SELECT "recon_exception_id_20261203"(u.gateway, i.category, i.currency, i.gateway_reference, i.gateway_event_id,
                                              i.settlement_id, i.report_amount, i.ledger_amount, i.difference) AS old_id,
               "recon_exception_id"(u.gateway, i.category, i.currency, i.gateway_reference, i.gateway_event_id,
                                    i.settlement_id, i.report_amount, i.ledger_amount, i.difference, i.evidence) AS new_id
          FROM "recon_run_items" i JOIN "recon_runs" u ON u.id = i.run_id) m ON m.old_id = o."exception_id"
 WHERE m.new_id <> m.old_id
 ORDER BY m.new_id
ON CONFLICT ("exception_id") DO NOTHING;

DROP FUNCTION "recon_exception_id_20261203"(TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, NUMERIC, NUMERIC, NUMERIC);

-- 2. The same report re-saved with other line endings, without its byte order mark or with blank
-- lines at its end is the same import: `content_sha256` is the sha256 of the text so normalised
-- (service/reconciliation/content-hash.ts); the import answers `exists` like identical bytes.
-- Imports stored before this migration have none (their files are compressed; SQL cannot read
-- them): they are still found by their bytes' sha256.

-- AlterTable
ALTER TABLE "recon_imports" ADD COLUMN "content_sha256" CHAR(64);

-- CreateIndex
CREATE UNIQUE INDEX "recon_imports_content_sha256_key" ON "recon_imports"("content_sha256");
