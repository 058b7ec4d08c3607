-- Chain event index (service/chain/indexer): one cursor per deployment, the headers of the
-- unfinalized window, the decoded events, and a log of the reorganisations rolled back.
-- Written to match `// ---- chain: event index ----` in schema.prisma (Prisma's migration SQL style).

-- CreateTable
CREATE TABLE "chain_index_cursors" (
    "id" BIGSERIAL NOT NULL,
    "chain_id" BIGINT NOT NULL,
    "contracts_key" VARCHAR(200) NOT NULL,
    "deploy_block" BIGINT NOT NULL,
    "deploy_block_hash" VARCHAR(66) NOT NULL,
    "indexed_block" BIGINT NOT NULL,
    "indexed_hash" VARCHAR(66) NOT NULL,
    "safe_block" BIGINT NOT NULL,
    "final_block" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "chain_index_cursors_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "chain_index_blocks" (
    "cursor_id" BIGINT NOT NULL,
    "number" BIGINT NOT NULL,
    "hash" VARCHAR(66) NOT NULL,
    "parent_hash" VARCHAR(66) NOT NULL,

    CONSTRAINT "chain_index_blocks_pkey" PRIMARY KEY ("cursor_id","number")
);

-- CreateTable
CREATE TABLE "chain_index_events" (
    "cursor_id" BIGINT NOT NULL,
    "chain_id" BIGINT NOT NULL,
    "tx_hash" VARCHAR(66) NOT NULL,
    "log_index" INTEGER NOT NULL,
    "block_number" BIGINT NOT NULL,
    "block_hash" VARCHAR(66) NOT NULL,
    "address" VARCHAR(42) NOT NULL,
    "contract" VARCHAR(32) NOT NULL,
    "name" VARCHAR(64) NOT NULL,
    "args" JSONB NOT NULL,
    "state" VARCHAR(8) NOT NULL,
    "indexed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "chain_index_events_pkey" PRIMARY KEY ("cursor_id","tx_hash","log_index")
);

-- CreateTable
CREATE TABLE "chain_index_reorgs" (
    "id" BIGSERIAL NOT NULL,
    "cursor_id" BIGINT NOT NULL,
    "detected_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ancestor_block" BIGINT NOT NULL,
    "ancestor_hash" VARCHAR(66) NOT NULL,
    "old_head_block" BIGINT NOT NULL,
    "old_head_hash" VARCHAR(66) NOT NULL,
    "removed_events" INTEGER NOT NULL,
    "kind" VARCHAR(8) NOT NULL,

    CONSTRAINT "chain_index_reorgs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "chain_index_cursors_chain_contracts_key" ON "chain_index_cursors"("chain_id", "contracts_key");

-- CreateIndex
CREATE INDEX "chain_index_events_cursor_block_idx" ON "chain_index_events"("cursor_id", "block_number", "log_index");

-- CreateIndex
CREATE INDEX "chain_index_events_cursor_name_idx" ON "chain_index_events"("cursor_id", "name", "block_number");

-- CreateIndex
CREATE INDEX "chain_index_reorgs_cursor_idx" ON "chain_index_reorgs"("cursor_id", "detected_at");

-- Hand-written: values the indexer relies on (Prisma cannot express CHECKs).
ALTER TABLE "chain_index_events" ADD CONSTRAINT "chain_index_events_state_check"
    CHECK ("state" IN ('observed', 'safe', 'final'));
ALTER TABLE "chain_index_events" ADD CONSTRAINT "chain_index_events_contract_check"
    CHECK ("contract" IN ('SettlementAnchor', 'SettlementVault', 'Stablecoin'));
ALTER TABLE "chain_index_cursors" ADD CONSTRAINT "chain_index_cursors_heights_check"
    CHECK ("final_block" <= "safe_block" AND "safe_block" <= "indexed_block");
ALTER TABLE "chain_index_reorgs" ADD CONSTRAINT "chain_index_reorgs_kind_check"
    CHECK ("kind" IN ('reorg', 'reset'));
