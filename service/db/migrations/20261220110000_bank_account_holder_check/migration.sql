-- The holder's name of a seller's bank account checked against the seller's registered name
-- (service/payouts/bank/holder-name.ts): match, close_match or no_match, the name it was compared
-- with, and whether the admin confirmed a close_match or no_match. Rows set before stay unchecked
-- (NULL) until they are set again. Nothing here refuses rows already on file: two sellers that
-- already share an account keep their rows (GET shows `sharedWith`); the rule "one account, one
-- seller" applies to writes (service/payouts/bank/store.ts, under an advisory lock per account number).
ALTER TABLE "payout_bank_accounts"
    ADD COLUMN "holder_name_check" VARCHAR(11),
    ADD COLUMN "holder_name_checked_against" VARCHAR(200),
    ADD COLUMN "holder_name_confirmed" BOOLEAN NOT NULL DEFAULT false,
    ADD CONSTRAINT "payout_bank_accounts_holder_name_check_check"
        CHECK ("holder_name_check" IS NULL OR "holder_name_check" IN ('match', 'close_match', 'no_match')),
    ADD CONSTRAINT "payout_bank_accounts_holder_name_checked_check"
        CHECK (("holder_name_check" IS NULL) = ("holder_name_checked_against" IS NULL));
