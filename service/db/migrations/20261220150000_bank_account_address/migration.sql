-- The holder's structured postal address of a seller's bank account (service/payouts/bank): since
-- November 2026 Swift CBPR+ no longer carries unstructured-only addresses in cross-border payments,
-- and the town and country at least must be in their own elements. The lengths are ISO 20022's
-- (PostalAddress24: StrtNm Max70Text, BldgNb and PstCd Max16Text, TwnNm and CtrySubDvsn Max35Text).
-- Rows set before stay without one (town and country NULL): bank runs skip them (`address_missing`)
-- until the account is set again with its address. A row has a town and a country, or no address.
ALTER TABLE "payout_bank_accounts"
    ADD COLUMN "address_street_name" VARCHAR(70),
    ADD COLUMN "address_building_number" VARCHAR(16),
    ADD COLUMN "address_post_code" VARCHAR(16),
    ADD COLUMN "address_town_name" VARCHAR(35),
    ADD COLUMN "address_country_sub_division" VARCHAR(35),
    ADD COLUMN "address_country" VARCHAR(2),
    ADD CONSTRAINT "payout_bank_accounts_address_check"
        CHECK (("address_town_name" IS NULL) = ("address_country" IS NULL)
           AND ("address_town_name" IS NOT NULL OR ("address_street_name" IS NULL AND "address_building_number" IS NULL
                AND "address_post_code" IS NULL AND "address_country_sub_division" IS NULL)));
