-- HTTP module: API keys (hashed bearer keys, per-key HMAC signing secrets, scopes, revocation).
-- Written to match `// ---- http ----` in schema.prisma (Prisma's migration SQL style).

-- CreateTable
CREATE TABLE "api_keys" (
    "id" VARCHAR(12) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "scopes" VARCHAR(32)[],
    "key_hash" CHAR(64) NOT NULL,
    "signing_secret" VARCHAR(100) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(6),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);
