-- HTTP trust boundaries (issue 9): gateway-bound API keys, signing secrets encrypted at rest (two
-- during a rotation), FX quotes owned by the gateway that took them, and the state that several
-- service instances share through the database (signature replay claims, fixed-window counters of
-- rate limits and failed authentications). Written to match `// ---- http ----` and the FxQuote
-- model in schema.prisma (Prisma's migration SQL style), followed by hand-written CHECKs.
--
-- Existing keys: gateway:write keys get no gateway (NULL) and are refused on gateway routes until
-- an admin binds them (POST /v1/admin/api-keys/:id/gateway): no existing key keeps the "any
-- gateway" reach. Clear-text signing secrets stay until the service boots with SECRETS_KEY and
-- encrypts them (a migration cannot know the key).

-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN "gateway" VARCHAR(120),
ADD COLUMN "signing_secret_ciphertext" TEXT,
ADD COLUMN "signing_secret_key_id" VARCHAR(16),
ADD COLUMN "previous_signing_secret_ciphertext" TEXT,
ADD COLUMN "previous_signing_secret_key_id" VARCHAR(16),
ADD COLUMN "previous_signing_secret_expires_at" TIMESTAMPTZ(6),
ALTER COLUMN "signing_secret" DROP NOT NULL;

-- AlterTable
ALTER TABLE "fx_quotes" ADD COLUMN "gateway" VARCHAR(120);

-- CreateTable
CREATE TABLE "http_replay_claims" (
    "key_id" VARCHAR(12) NOT NULL,
    "signature" CHAR(64) NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "http_replay_claims_pkey" PRIMARY KEY ("key_id","signature")
);

-- CreateTable (UNLOGGED by hand: counters are worth no WAL or fsync; a crash resets the windows)
CREATE UNLOGGED TABLE "http_counters" (
    "bucket" VARCHAR(300) NOT NULL,
    "window_start" BIGINT NOT NULL,
    "count" INTEGER NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "http_counters_pkey" PRIMARY KEY ("bucket","window_start")
);

-- CreateIndex
CREATE INDEX "http_replay_claims_expires_at_idx" ON "http_replay_claims"("expires_at");

-- CreateIndex
CREATE INDEX "http_counters_expires_at_idx" ON "http_counters"("expires_at");

-- Guards (not expressible in Prisma): every key has a signing secret, in clear (legacy, until the
-- boot encrypts it) or encrypted with the fingerprint of the key that encrypted it; a previous
-- secret always comes with its key fingerprint and expiry; a gateway name looks like one.
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_signing_secret_present"
  CHECK ("signing_secret" IS NOT NULL OR ("signing_secret_ciphertext" IS NOT NULL AND "signing_secret_key_id" IS NOT NULL));
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_previous_secret_complete"
  CHECK (("previous_signing_secret_ciphertext" IS NULL) = ("previous_signing_secret_key_id" IS NULL)
     AND ("previous_signing_secret_ciphertext" IS NULL) = ("previous_signing_secret_expires_at" IS NULL));
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_gateway_format"
  CHECK ("gateway" IS NULL OR "gateway" ~ '^[A-Za-z0-9._:-]{1,120}$');
ALTER TABLE "http_counters" ADD CONSTRAINT "http_counters_count_positive" CHECK ("count" > 0);
