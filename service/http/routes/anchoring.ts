/**
 * Anchoring: inclusion proofs of settlements (and any journal transaction or queued document)
 * against SettlementAnchor, in the JSON that `npm run verify` checks without our database, and the
 * anchored batches. Without a configured chain every route answers 503 ENT_ANCHOR_UNAVAILABLE.
 */
import { TAGS } from "../plugins/docs.js";
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { AnchorErrors, withoutBatchTotals, type AnchorBatch, type AnchorService } from "../../anchoring/index.js";
import { bearer, Int8Id, problems, SettlementRef } from "../schemas/common.js";
import { principalOf, readableGateway } from "../auth/reach.js";
import { withOwnBalancesOnly } from "../../ledger/json.js";
import { transactionView } from "../schemas/views.js";

const TAG = TAGS.anchoring;
const Hex32 = Type.String({ pattern: "^0x[0-9a-f]{64}$" });
const Decimal = Type.String({ pattern: "^-?(0|[1-9][0-9]*)$" });
const StateSchema = Type.Union([
  Type.Literal("unanchored"),
  Type.Literal("queued"),
  Type.Literal("submitted"),
  Type.Literal("observed"),
  Type.Literal("safe"),
  Type.Literal("final"),
]);
const StatusSchema = Type.Union([
  Type.Literal("built"),
  Type.Literal("submitted"),
  Type.Literal("observed"),
  Type.Literal("safe"),
  Type.Literal("final"),
  Type.Literal("reverted"),
]);

export const AnchorProofView = Type.Object(
  {
    format: Type.Literal("entrepot-anchor-proof"),
    version: Type.Literal(1),
    chainId: Decimal,
    anchor: Type.String({ description: "SettlementAnchor address" }),
    batchId: Decimal,
    root: Hex32,
    leaf: Type.Object({
      type: Type.Union([Type.Literal("journal"), Type.Literal("document")]),
      format: Type.String({ description: "Leaf-format constant, the leaf's first value" }),
      encoding: Type.Array(Type.String(), { description: "ABI types (StandardMerkleTree leafEncoding)" }),
      values: Type.Array(Type.Unknown(), { description: "Values in encoding order; integers as decimal strings" }),
      fields: Type.Record(Type.String(), Type.Unknown(), { description: "The same values by name" }),
      hash: Hex32,
      position: Type.Integer(),
    }),
    proof: Type.Array(Hex32, { description: "Sibling hashes, leaf to root (OpenZeppelin MerkleProof)" }),
    batch: Type.Object({
      format: Type.String({ description: "`entrepot.anchor.batch.v2` (the per-currency totals digest commits to a random salt), or `entrepot.anchor.batch.v1` for a batch anchored before it (unsalted)" }),
      previousRoot: Hex32,
      firstSequence: Decimal,
      lastSequence: Decimal,
      count: Decimal,
      currencyTotals: Type.Union([Type.Array(Type.Object({ currency: Type.String(), total: Decimal })), Type.Null()], {
        description: "The batch's totals per currency (every gateway's transactions in it); null in a gateway key's proof, which verifies with their digest",
      }),
      totalsSalt: Type.Union([Hex32, Type.Null()], {
        description: "v2: the batch's random salt, committed in `currencyTotalsDigest` with the totals; null in a gateway key's proof (withheld with the totals, so the digest gives no guess of them away) and in a v1 batch (unsalted)",
      }),
      currencyTotalsDigest: Hex32,
      totalsDigest: Hex32,
    }),
    anchoring: Type.Object({
      state: StateSchema,
      transactionHash: Type.Union([Hex32, Type.Null()]),
      blockNumber: Type.Union([Decimal, Type.Null()]),
      blockHash: Type.Union([Hex32, Type.Null()]),
    }),
    journalTransaction: Type.Optional(
      Type.Object({
        id: Type.String(),
        sequence: Decimal,
        kind: Type.String(),
        status: Type.String(),
        idempotencyKey: Type.String(),
        postings: Type.Array(
          Type.Object({
            id: Type.String(),
            account: Type.String(),
            currency: Type.String(),
            direction: Type.String(),
            phase: Type.String(),
            amount: Decimal,
            balanceAfter: Type.Union([Decimal, Type.Null()], { description: "Null in a gateway key's proof for an account not the gateway's own; not anchored (neither the leaf nor the hash covers it)" }),
          }),
        ),
        metadata: Type.Record(Type.String(), Type.String()),
        description: Type.Union([Type.String(), Type.Null()]),
        effectiveAt: Type.String(),
        bookedAt: Type.String(),
        referencesId: Type.Union([Type.String(), Type.Null()]),
        hash: Type.String(),
        previousHash: Type.String(),
      }),
    ),
    document: Type.Optional(Type.Object({ kind: Type.String(), id: Type.String(), digest: Hex32 })),
    generatedAt: Type.String(),
  },
  {
    $id: "AnchorProof",
    description:
      "Inclusion proof of one journal transaction (or document) in an anchored batch. Verify it with `npm run verify -- proof.json --anchor <SettlementAnchor address> --rpc <url>`: no access to our database is needed, only the SettlementAnchor address the operator publishes, taken from that published source (the proof names its contract itself, and a proof is never VERIFIED against an address it alone gives).",
  },
);

export const AnchorBatchView = Type.Object(
  {
    chainId: Decimal,
    anchor: Type.String(),
    batchId: Decimal,
    root: Hex32,
    count: Type.Integer({ description: "Leaves: journal transactions + documents" }),
    journalCount: Type.Integer(),
    documentCount: Type.Integer(),
    firstSequence: Decimal,
    lastSequence: Decimal,
    format: Type.String({ description: "Batch format: `entrepot.anchor.batch.v2` (salted totals digest) or `entrepot.anchor.batch.v1` (anchored before it)" }),
    currencyTotals: Type.Array(Type.Object({ currency: Type.String(), total: Decimal })),
    totalsSalt: Type.Union([Hex32, Type.Null()], { description: "The v2 salt of `currencyTotalsDigest`; null for v1" }),
    currencyTotalsDigest: Hex32,
    totalsDigest: Hex32,
    previousRoot: Hex32,
    status: StatusSchema,
    state: StateSchema,
    transactionHash: Type.Union([Hex32, Type.Null()]),
    blockNumber: Type.Union([Decimal, Type.Null()]),
    blockHash: Type.Union([Hex32, Type.Null()]),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: "AnchorBatch" },
);

export function batchView(b: AnchorBatch): Static<typeof AnchorBatchView> {
  return {
    chainId: b.chainId.toString(),
    anchor: b.anchor,
    batchId: b.batchId.toString(),
    root: b.root,
    count: b.count,
    journalCount: b.journalCount,
    documentCount: b.documentCount,
    firstSequence: b.firstSequence.toString(),
    lastSequence: b.lastSequence.toString(),
    format: b.format,
    currencyTotals: b.currencyTotals.map((t) => ({ currency: t.currency, total: t.total.toString() })),
    totalsSalt: b.totalsSalt,
    currencyTotalsDigest: b.currencyTotalsDigest,
    totalsDigest: b.totalsDigest,
    previousRoot: b.previousRoot,
    status: b.status,
    state: b.state,
    transactionHash: b.txHash,
    blockNumber: b.blockNumber === null ? null : b.blockNumber.toString(),
    blockHash: b.blockHash,
    createdAt: b.createdAt.toISOString(),
    updatedAt: b.updatedAt.toISOString(),
  };
}

const BatchIdParam = Int8Id("^[1-9][0-9]{0,18}$", "Batch id");

export const AnchorLeafView = Type.Object(
  {
    position: Type.Integer({ description: "Index among the batch's leaves (tree input order)" }),
    type: Type.Union([Type.Literal("journal"), Type.Literal("document")]),
    subject: Type.String({ description: "The journal transaction's id, or `<kind>:<id>` of a document" }),
    hash: Type.String({ description: "keccak256(keccak256(abi.encode(encoding, values))), as stored when the batch was built" }),
    values: Type.Array(Type.Unknown(), { description: "The leaf's values in the encoding its format (the first value) prescribes; integers as decimal strings" }),
    journalTransaction: Type.Union([Type.Ref("Transaction"), Type.Null()], {
      description: "A journal leaf's transaction as the ledger holds it now (recompute the leaf from it); null for a document leaf, or when the ledger has no transaction by that id",
    }),
  },
  { $id: "AnchorLeaf" },
);

export async function anchoringRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;
  const read = { auth: { scopes: ["finance:read" as const] } };
  app.addSchema(AnchorProofView);
  app.addSchema(AnchorBatchView);
  app.addSchema(AnchorLeafView);
  const anchoring = (): AnchorService => {
    if (services.anchoring === undefined) throw AnchorErrors.unavailable("anchoring is not configured on this server (no chain)");
    return services.anchoring;
  };
  const proofResponses = { 200: Type.Ref("AnchorProof"), ...problems(400, 401, 403, 404, 409, 429, 503) };

  app.get("/v1/settlements/:id/proof", {
    // A gateway reads the proofs of its own settlements (another gateway's answers 404).
    config: { auth: { scopes: ["finance:read", "gateway:write"] } },
    schema: {
      tags: [TAG],
      summary: "Inclusion proof of a settlement",
      description:
        "The settlement's journal transaction in its anchored batch: leaf (bound to chain, contract and batch), Merkle proof, root, the batch's totals preimage (chained to the previous batch), transaction hash, block and confirmation state. `:id` as for GET /v1/settlements/:id; a gateway key gets the proofs of its own gateway's settlements only, without the batch's per-currency totals and the salt of their digest (`batch.currencyTotals` and `batch.totalsSalt` null: the totals sum other gateways' amounts; the proof verifies with their digest). 409 ENT_ANCHOR_NOT_ANCHORED (with `details.state`) until the batch is submitted.",
      security: bearer,
      params: Type.Object({ id: SettlementRef }),
      response: proofResponses,
    },
  }, async (request) => {
    const service = anchoring();
    const gateway = readableGateway(principalOf(request.principal));
    const record = await services.settlement.getSettlement((request.params as { id: string }).id, { gateway });
    const proof = await service.proofOfTransaction(record.journalTransactionId);
    // The batch's totals sum other gateways' amounts (one other capture in a batch showed exactly),
    // and so do the running balances of the accounts gateways share. Withheld with their salt: the
    // digest alone must not let the totals be guessed (a v1 batch, anchored unsalted, still can be).
    if (gateway === null) return proof;
    return {
      ...withoutBatchTotals(proof),
      ...(proof.journalTransaction === undefined ? {} : { journalTransaction: withOwnBalancesOnly(proof.journalTransaction, gateway) }),
    };
  });

  app.get("/v1/transactions/:id/proof", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Inclusion proof of any journal transaction",
      description: "As the settlement proof, for any journal transaction (payouts, adjustments). 409 ENT_ANCHOR_NOT_ANCHORED until its batch is submitted.",
      security: bearer,
      params: Type.Object({ id: Int8Id("^[1-9][0-9]{0,18}$", "Journal transaction id") }),
      response: proofResponses,
    },
  }, async (request) => anchoring().proofOfTransaction((request.params as { id: string }).id));

  app.get("/v1/anchoring/documents/:kind/:id/proof", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Inclusion proof of an anchored document digest",
      description: "E.g. a reconciliation report (`kind` reconciliation). 409 ENT_ANCHOR_NOT_ANCHORED while it is queued.",
      security: bearer,
      params: Type.Object({ kind: Type.String({ pattern: "^[a-z][a-z0-9._-]{0,63}$" }), id: Type.String({ pattern: "^[A-Za-z0-9._:-]{1,200}$" }) }),
      response: proofResponses,
    },
  }, async (request) => {
    const { kind, id } = request.params as { kind: string; id: string };
    return anchoring().proofOfDocument(kind, id);
  });

  app.get("/v1/anchoring/batches", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "Anchored batches, newest first",
      description: "Page with `before` = the `nextBefore` of the previous page. Filter by `status`.",
      security: bearer,
      querystring: Type.Object(
        {
          limit: Type.Optional(Type.String({ pattern: "^(?:[1-9][0-9]{0,2}|1000)$", description: "1-1000, default 50" })),
          before: Type.Optional(BatchIdParam),
          status: Type.Optional(StatusSchema),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({ items: Type.Array(Type.Ref("AnchorBatch")), nextBefore: Type.Union([Decimal, Type.Null()]) }),
        ...problems(400, 401, 403, 429, 503),
      },
    },
  }, async (request) => {
    const q = request.query as { limit?: string; before?: string; status?: AnchorBatch["status"] };
    const page = await anchoring().listBatches({
      limit: q.limit === undefined ? 50 : Number(q.limit),
      ...(q.before === undefined ? {} : { before: BigInt(q.before) }),
      ...(q.status === undefined ? {} : { status: q.status }),
    });
    return { items: page.items.map(batchView), nextBefore: page.nextBefore === null ? null : page.nextBefore.toString() };
  });

  app.get("/v1/anchoring/batches/:id", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "One anchored batch",
      security: bearer,
      params: Type.Object({ id: BatchIdParam }),
      response: { 200: Type.Ref("AnchorBatch"), ...problems(400, 401, 403, 404, 429, 503) },
    },
  }, async (request) => {
    const id = (request.params as { id: string }).id;
    const b = await anchoring().getBatch(BigInt(id));
    if (b === null) throw AnchorErrors.notFound(`no batch ${id}`, { fields: [{ field: "params.id", message: "unknown batch" }] });
    return batchView(b);
  });

  app.get("/v1/anchoring/batches/:id/leaves", {
    config: read,
    schema: {
      tags: [TAG],
      summary: "A batch's leaves, in tree order",
      description:
        "Every leaf of the batch as its tree takes it (values and hash, journal transactions then documents), with each journal leaf's transaction as the ledger holds it now: what `npm run verify -- --history` recomputes each batch's root and leaves from. Page with `after` = the `nextAfter` of the previous page (a leaf position); `limit` 1-1000, default 500. 404 ENT_ANCHOR_NOT_FOUND for an unknown batch. Served for a batch in any status (a built batch is not on chain yet).",
      security: bearer,
      params: Type.Object({ id: BatchIdParam }),
      querystring: Type.Object(
        {
          after: Type.Optional(Type.String({ pattern: "^(0|[1-9][0-9]{0,8})$", description: "A leaf position: the page starts after it" })),
          limit: Type.Optional(Type.String({ pattern: "^(?:[1-9][0-9]{0,2}|1000)$", description: "1-1000, default 500" })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({
          batchId: Decimal,
          count: Type.Integer({ description: "The batch's leaves (journal transactions + documents): the `count` of BatchAnchored" }),
          items: Type.Array(Type.Ref("AnchorLeaf")),
          nextAfter: Type.Union([Type.Integer(), Type.Null()]),
        }),
        ...problems(400, 401, 403, 404, 429, 503),
      },
    },
  }, async (request) => {
    const id = (request.params as { id: string }).id;
    const q = request.query as { after?: string; limit?: string };
    const page = await anchoring().leavesOf(BigInt(id), {
      ...(q.after === undefined ? {} : { after: Number(q.after) }),
      ...(q.limit === undefined ? {} : { limit: Number(q.limit) }),
    });
    return {
      batchId: page.batch.batchId.toString(),
      count: page.batch.count,
      items: page.items.map((l) => ({ ...l, journalTransaction: l.journalTransaction === null ? null : transactionView(l.journalTransaction) })),
      nextAfter: page.nextAfter,
    };
  });
}
