-- A bank statement is imported once (service/cash): the same statement in another file (the bank
-- sent it again with other line breaks, a new MsgId) is the same import, not a second one whose
-- entries all become exceptions. Its identity is the account with the statement's id (not its
-- electronic sequence number, which banks restart, yearly for instance); `content_sha256` (of the statement as read, not the file's bytes)
-- tells a repeat (`exists`) from a different statement under the same identity (a conflict).
-- Written to match schema.prisma.

-- AlterTable
ALTER TABLE "cash_statements" ADD COLUMN "content_sha256" CHAR(64);

-- CreateIndex (partial): statements imported twice before this migration stay as they are
-- (nothing recorded is edited); the key holds from the last of them on, so a migration over such a
-- database does not fail. On a database without them the predicate covers every row.
DO $$
DECLARE
  last_repeat BIGINT;
BEGIN
  SELECT coalesce(max(s.id), 0) INTO last_repeat
    FROM "cash_statements" s
   WHERE EXISTS (
     SELECT 1 FROM "cash_statements" p
      WHERE p.id < s.id AND p.account = s.account AND p.currency = s.currency
        AND p.statement_id = s.statement_id);
  EXECUTE format('CREATE UNIQUE INDEX "cash_statements_statement_key" ON "cash_statements"("account", "currency", "statement_id") WHERE "id" > %s', last_repeat);
END
$$;
