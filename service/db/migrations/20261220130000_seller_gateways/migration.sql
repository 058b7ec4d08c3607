-- Settlement: the gateways each seller accepts settlement events from. Until now any gateway key
-- could post a capture naming any seller and credit its balance (debiting only that gateway's
-- receivable); a capture is now refused (403 ENT_SETTLEMENT_SELLER_GATEWAY_NOT_ALLOWED) unless the
-- seller accepts its gateway. Set with `POST /v1/sellers` (`gateways`) and
-- `PUT /v1/sellers/:id/gateways`, every set kept in an append-only trail.
-- Written to match `SettlementSellerGateways` and `SettlementSellerGatewayChange` in schema.prisma,
-- followed by the trail's guard and the backfill.

-- CreateTable
CREATE TABLE "settlement_seller_gateways" (
    "seller_id" VARCHAR(120) NOT NULL,
    "gateways" VARCHAR(120)[],
    "set_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "set_by" VARCHAR(200) NOT NULL,

    CONSTRAINT "settlement_seller_gateways_pkey" PRIMARY KEY ("seller_id")
);

-- CreateTable
CREATE TABLE "settlement_seller_gateway_changes" (
    "id" BIGSERIAL NOT NULL,
    "seller_id" VARCHAR(120) NOT NULL,
    "gateways" VARCHAR(120)[],
    "previous_gateways" VARCHAR(120)[],
    "set_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "set_by" VARCHAR(200) NOT NULL,

    CONSTRAINT "settlement_seller_gateway_changes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "settlement_seller_gateway_changes_seller_idx" ON "settlement_seller_gateway_changes"("seller_id", "id");

CREATE FUNCTION "settlement_seller_gateway_changes_guard"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'settlement_seller_gateway_changes is append-only (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER "settlement_seller_gateway_changes_guard" BEFORE UPDATE OR DELETE ON "settlement_seller_gateway_changes"
    FOR EACH ROW EXECUTE FUNCTION "settlement_seller_gateway_changes_guard"();

-- Existing sellers accept the gateways that already posted settlements for them, so nothing that
-- runs today is refused; a seller with no settlement yet accepts none until it is set.
INSERT INTO "settlement_seller_gateways" ("seller_id", "gateways", "set_by")
SELECT s."seller_id", array_agg(DISTINCT s."gateway" ORDER BY s."gateway"), 'migration'
  FROM "settlements" s
  JOIN "settlement_sellers" p ON p."id" = s."seller_id"
 GROUP BY s."seller_id";

INSERT INTO "settlement_seller_gateway_changes" ("seller_id", "gateways", "previous_gateways", "set_at", "set_by")
SELECT "seller_id", "gateways", NULL, "set_at", "set_by" FROM "settlement_seller_gateways" ORDER BY "seller_id";
