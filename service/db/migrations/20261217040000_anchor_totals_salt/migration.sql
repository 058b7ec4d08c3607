-- A batch's per-currency totals digest commits to 32 random bytes drawn when the batch is built
-- (batch format entrepot.anchor.batch.v2): a gateway's proof shows the digest without the totals
-- (they sum other gateways' amounts), and without a salt a few small numbers were recovered from it
-- by enumeration. The salt is as secret as the totals and shown only with them.
-- NULL = a batch built before this (entrepot.anchor.batch.v1, unsalted digest, already anchored).
-- Like every content column it never changes once written (anchor_guard compares the whole row).
ALTER TABLE "anchor_batches" ADD COLUMN "totals_salt" CHAR(66);
ALTER TABLE "anchor_batches" ADD CONSTRAINT "anchor_batches_totals_salt_check"
    CHECK ("totals_salt" IS NULL OR "totals_salt" ~ '^0x[0-9a-f]{64}$');
