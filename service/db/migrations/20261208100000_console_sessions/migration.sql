-- Web console sessions: an API key exchanged for an HttpOnly cookie, kept in the database so every
-- instance sees a sign-in and a sign-out at once. Only hashes of the session and CSRF tokens are
-- stored. Written to match schema.prisma.

-- CreateTable
CREATE TABLE "console_sessions" (
    "id" CHAR(64) NOT NULL,
    "key_id" VARCHAR(12) NOT NULL,
    "csrf_hash" CHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(6) NOT NULL,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "console_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "console_sessions_key_id_idx" ON "console_sessions"("key_id");

-- AddForeignKey
ALTER TABLE "console_sessions" ADD CONSTRAINT "console_sessions_key_id_fkey" FOREIGN KEY ("key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE CASCADE;
