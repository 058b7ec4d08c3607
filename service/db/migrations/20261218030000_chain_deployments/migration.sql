-- Chain: the deployment this database anchors to, one row per chain (service/chain/binding.ts):
-- the anchor and vault contracts (lowercase addresses) and the block they were deployed in. The
-- first instance with a chain writes it; an instance whose deployment record names other contracts
-- on that chain is refused at boot (ENT_CHAIN_DEPLOYMENT_CONFLICT), and a redeploy of the same
-- contracts on a reset chain is refused while final batches would be lost (ENT_CHAIN_RESET).
-- A database from before this table gets its row at the next boot, from its anchor batches and index.
-- Written to match `ChainDeployment` in schema.prisma.

-- CreateTable
CREATE TABLE "chain_deployments" (
    "chain_id" BIGINT NOT NULL,
    "anchor_address" VARCHAR(42) NOT NULL,
    "vault_address" VARCHAR(42) NOT NULL,
    "deploy_block" BIGINT NOT NULL,
    "deploy_block_hash" VARCHAR(66) NOT NULL,
    "recorded_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "chain_deployments_pkey" PRIMARY KEY ("chain_id")
);
