/**
 * Storage billed per period by volume x days (service/settlement/storage.ts): warehouse stock
 * snapshots recorded per seller, warehouse and day, and storage runs that charge each seller for a
 * month through the seller-charge path, whether anything sold.
 */
import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import type { StorageRun, StoredSnapshot } from "../../settlement/storage-repository.js";
import { actorOf } from "../auth/reach.js";
import { TAGS } from "../plugins/docs.js";
import { Amount, bearer, DateTime, DAY_PATTERN, Identifier, Int8Id, LimitQuery, MONTH_PATTERN, problems } from "../schemas/common.js";

const Day = Type.String({ pattern: DAY_PATTERN, description: "A calendar day, YYYY-MM-DD (UTC)", examples: ["2024-12-01"] });
const Period = Type.String({ pattern: MONTH_PATTERN, description: "A calendar month, YYYY-MM (UTC)", examples: ["2024-12"] });
const Volume = Type.String({ pattern: "^(0|[1-9][0-9]{0,12})$", description: "Cubic centimetres, a non-negative integer as a string (1 m3 = 1000000)", examples: ["1500000"] });

const SnapshotBody = Type.Object(
  {
    warehouse: { ...Identifier, description: "The warehouse's id" },
    country: Type.String({ pattern: "^[A-Z]{2}$", description: "ISO 3166 alpha-2 country of the warehouse: the market whose fee schedule prices its storage (the same on every snapshot of that warehouse)" }),
    date: { ...Day, description: "The day the stock was counted (not in the future)" },
    volumeCm3: { ...Volume, description: "The seller's stock volume in the warehouse that day, cubic centimetres (0: emptied)" },
  },
  { additionalProperties: false },
);

const SnapshotView = Type.Object({
  id: Type.String(),
  sellerId: Type.String(),
  warehouse: Type.String(),
  country: Type.String(),
  date: Type.String({ description: "YYYY-MM-DD" }),
  volumeCm3: Amount,
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: DateTime,
});

function snapshotView(s: StoredSnapshot): Static<typeof SnapshotView> {
  return { id: s.id, sellerId: s.sellerId, warehouse: s.warehouse, country: s.country, date: s.date, volumeCm3: s.volumeCm3.toString(), createdBy: s.createdBy, createdAt: s.createdAt.toISOString() };
}

const RunItemView = Type.Object({
  sellerId: Type.String(),
  warehouse: Type.String(),
  status: Type.Union([Type.Literal("created"), Type.Literal("exists"), Type.Literal("nothing"), Type.Literal("error")], {
    description: "created: charged by this run; exists: already charged by an earlier run of the period (nothing charged twice); nothing: no billable volume-days; error: this seller's charge refused (the others are charged)",
  }),
  chargeId: Type.String({ description: "storage:<period>:<warehouse>, the deterministic charge id (with the seller)" }),
  amount: { ...Amount, description: "The storage computed, USD minor units" },
  volumeDaysCm3: { ...Amount, description: "Billed cubic-centimetre-days" },
  charged: Type.Union([Amount, Type.Null()], { description: "What the seller was charged, in `currency` minor units" }),
  currency: Type.Union([Type.String(), Type.Null()]),
  transactionId: Type.Union([Type.String(), Type.Null()], { description: "The charge's journal transaction: its metadata `evidence.storage.*` holds the computation (snapshots, days, rate, volume-days)" }),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
});

const RunView = Type.Object({
  id: Type.String(),
  period: Type.String(),
  sellerId: Type.Union([Type.String(), Type.Null()], { description: "The one seller the run was for; null: every seller with snapshots" }),
  items: Type.Array(RunItemView),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: DateTime,
});

function runView(r: StorageRun): Static<typeof RunView> {
  return { ...r, createdAt: r.createdAt.toISOString() };
}

export async function storageRoutes(app: FastifyInstance): Promise<void> {
  const { storage } = app.services;
  const write = { auth: { scopes: ["finance:write" as const] } };
  const read = { auth: { scopes: ["finance:read" as const] } };

  app.post("/v1/sellers/:id/stock-snapshots", {
    config: write,
    schema: {
      tags: [TAGS.settlements],
      summary: "Record a seller's stock volume in a warehouse on a day",
      description:
        "What storage is billed from: a snapshot holds from its day until the day before the seller's next snapshot in that warehouse. Once per (seller, warehouse, date): the same body again answers 200 `exists`, another volume or country 409 ENT_STORAGE_SNAPSHOT_CONFLICT.",
      security: bearer,
      params: Type.Object({ id: Identifier }),
      body: SnapshotBody,
      response: { 201: Type.Object({ status: Type.String(), snapshot: SnapshotView }), 200: Type.Object({ status: Type.String(), snapshot: SnapshotView }), ...problems(400, 401, 403, 404, 409, 415, 429) },
    },
  }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const b = request.body as Static<typeof SnapshotBody>;
    const r = await storage.recordSnapshot({ sellerId: id, warehouse: b.warehouse, country: b.country, date: b.date, volumeCm3: BigInt(b.volumeCm3) }, actorOf(request.principal));
    return reply.status(r.status === "created" ? 201 : 200).send({ status: r.status, snapshot: snapshotView(r.snapshot) });
  });

  app.get("/v1/sellers/:id/stock-snapshots", {
    config: read,
    schema: {
      tags: [TAGS.settlements],
      summary: "A seller's stock snapshots, by warehouse then day",
      security: bearer,
      params: Type.Object({ id: Identifier }),
      querystring: Type.Object({ warehouse: Type.Optional(Identifier), from: Type.Optional({ ...Day, description: "First day (inclusive)" }), to: Type.Optional({ ...Day, description: "Last day (exclusive)" }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(SnapshotView) }), ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const q = request.query as { warehouse?: string; from?: string; to?: string };
    const items = await storage.listSnapshots(id, { ...(q.warehouse === undefined ? {} : { warehouse: q.warehouse }), ...(q.from === undefined ? {} : { from: q.from }), ...(q.to === undefined ? {} : { before: q.to }) });
    return { items: items.map(snapshotView) };
  });

  app.post("/v1/storage/runs", {
    config: write,
    schema: {
      tags: [TAGS.settlements],
      summary: "Charge storage for a month: volume x days per seller and warehouse",
      description:
        "For a month that is over: for each seller with snapshots (or `sellerId`) and each of its warehouses, the volume in force each day x the storage rate of the fee schedule in force that day (the seller's program, the warehouse's country; USD minor units per m3 per day), summed exactly and rounded once half-even, charged to the seller's available balance through the seller-charge path (kind `storage`, `platform:revenue:storage`, at the USD->payout mid rate of the month's last instant). The charge id is `storage:<period>:<warehouse>`: a re-run of the month charges nothing twice (`exists`). One seller's failure is its item's `error`; the others are charged. Every run is recorded (201).",
      security: bearer,
      querystring: Type.Object({ period: Period, sellerId: Type.Optional(Identifier) }, { additionalProperties: false }),
      response: { 201: RunView, ...problems(400, 401, 403, 404, 422, 429) },
    },
  }, async (request, reply) => {
    const q = request.query as { period: string; sellerId?: string };
    const run = await storage.run(q.period, { ...(q.sellerId === undefined ? {} : { sellerId: q.sellerId }), createdBy: actorOf(request.principal) });
    return reply.status(201).send(runView(run));
  });

  app.get("/v1/storage/runs", {
    config: read,
    schema: {
      tags: [TAGS.settlements],
      summary: "Storage runs, newest first",
      security: bearer,
      querystring: Type.Object({ period: Type.Optional(Period), limit: Type.Optional(LimitQuery) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(RunView) }), ...problems(400, 401, 403, 429) },
    },
  }, async (request) => {
    const q = request.query as { period?: string; limit?: string };
    const items = await storage.listRuns({ ...(q.period === undefined ? {} : { period: q.period }), limit: q.limit === undefined ? 100 : Number(q.limit) });
    return { items: items.map(runView) };
  });

  app.get("/v1/storage/runs/:id", {
    config: read,
    schema: {
      tags: [TAGS.settlements],
      summary: "One storage run with what it charged per seller and warehouse",
      security: bearer,
      params: Type.Object({ id: Int8Id("^[1-9][0-9]{0,18}$", "Storage run id") }),
      response: { 200: RunView, ...problems(400, 401, 403, 404, 429) },
    },
  }, async (request) => runView(await storage.getRun((request.params as { id: string }).id)));
}
