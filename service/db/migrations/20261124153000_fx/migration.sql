-- FX module: published rates and firm quotes.
-- Written to match `// ---- fx ----` in schema.prisma (Prisma's migration SQL style).

-- CreateTable
CREATE TABLE "fx_rates" (
    "id" BIGSERIAL NOT NULL,
    "base" VARCHAR(3) NOT NULL,
    "quote" VARCHAR(3) NOT NULL,
    "rate" DECIMAL(38,18) NOT NULL,
    "source" VARCHAR(200) NOT NULL,
    "as_of" TIMESTAMPTZ(6) NOT NULL,
    "valid_from" TIMESTAMPTZ(6) NOT NULL,
    "valid_until" TIMESTAMPTZ(6) NOT NULL,
    "published_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "fx_rates_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "fx_quotes" (
    "id" VARCHAR(64) NOT NULL,
    "base" VARCHAR(3) NOT NULL,
    "quote" VARCHAR(3) NOT NULL,
    "mid_rate" DECIMAL(38,18) NOT NULL,
    "markup_bps" INTEGER NOT NULL,
    "all_in_rate" DECIMAL(38,18) NOT NULL,
    "path" VARCHAR(64) NOT NULL,
    "legs" JSONB NOT NULL,
    "rate_ids" BIGINT[],
    "rates_at" TIMESTAMPTZ(6) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "fx_quotes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "fx_rates_pair_valid_from_idx" ON "fx_rates"("base", "quote", "valid_from");

-- CreateIndex
CREATE UNIQUE INDEX "fx_rates_pair_source_valid_from_key" ON "fx_rates"("base", "quote", "source", "valid_from");

-- CreateIndex
CREATE INDEX "fx_quotes_expires_at_idx" ON "fx_quotes"("expires_at");
