/**
 * A settlement service as its own process, for the crash test of the write path
 * (test/settlement/write-once.test.ts): it posts ORDERS orders (fixtures.ts: ordersForCrash), 32 at
 * a time, each order's events in order, and prints `{"answered": n}` after every answer, until the
 * test kills it with SIGKILL (no cleanup, like a power cut) in the middle of the stream.
 *
 * Env: DATABASE_URL (migrated, with the program data and rates), ORDERS.
 */
import { openDatabase } from "../../../service/db/index.js";
import { FxService, PrismaFxRepository } from "../../../service/fx/index.js";
import { createLedger } from "../../../service/ledger/index.js";
import { PrismaSettlementRepository, SettlementService } from "../../../service/settlement/index.js";
import { ordersForCrash } from "../fixtures.js";

const url = process.env["DATABASE_URL"];
if (url === undefined) throw new Error("DATABASE_URL is required");
const db = await openDatabase({ url, poolSize: 4, migrate: false });
const settlement = new SettlementService({
  ledger: createLedger(db),
  fx: new FxService(new PrismaFxRepository(db.prisma), { rateValiditySeconds: 86_400, defaultMarkupBps: 0 }),
  repository: new PrismaSettlementRepository(db.prisma, db.sql),
});
const orders = ordersForCrash(Number(process.env["ORDERS"] ?? "1000"));
let next = 0;
let answered = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    for (let i = next++; i < orders.length; i = next++) {
      for (const event of orders[i]!) {
        await settlement.postEvent(event);
        process.stdout.write(`${JSON.stringify({ answered: ++answered })}\n`);
      }
    }
  }),
);
process.stdout.write(`${JSON.stringify({ done: answered })}\n`);
await db.close();
