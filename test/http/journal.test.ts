import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDatabaseKinds } from "../support/db.js";
import { capture, json, openHarness, problemCode, publishDayRates, type Harness, csvRows } from "./harness.js";

interface Tx {
  id: string;
  sequence: string;
  metadata: Record<string, string>;
  postings: Array<{ account: string; currency: string; direction: string; amount: string; balanceAfter: string }>;
}

const kinds = await testDatabaseKinds();

describe.each(kinds)("journal routes on %s", (kind) => {
  let h: Harness;
  const txIds: string[] = [];
  beforeAll(async () => {
    h = await openHarness({ kind });
    await publishDayRates(h);
    const events = [
      capture({ gatewayEventId: "j-1", settlementId: "ORD-J-1", occurredAt: "2024-12-02T08:00:00Z" }),
      capture({ gatewayEventId: "j-2", settlementId: "ORD-J-2", sellerId: "S-POP-HK-02", occurredAt: "2024-12-02T09:00:00Z" }),
      capture({ gatewayEventId: "j-3", settlementId: "ORD-J-3", occurredAt: "2024-12-02T10:00:00Z" }),
    ];
    for (const e of events) {
      const r = await h.signedPost("/v1/settlements/events", e);
      if (r.statusCode !== 201) throw new Error(r.body);
      txIds.push(json<{ transaction: { id: string } }>(r).transaction.id);
    }
  });
  afterAll(async () => h.close());

  it("lists transactions newest first with cursor pagination", async () => {
    const p1 = json<{ items: Tx[]; nextCursor: string | null }>(await h.get("/v1/transactions?limit=2"));
    expect(p1.items.map((t) => t.id)).toEqual([txIds[2], txIds[1]]);
    expect(p1.nextCursor).not.toBeNull();
    const p2 = json<{ items: Tx[]; nextCursor: string | null }>(await h.get(`/v1/transactions?limit=2&cursor=${p1.nextCursor}`));
    expect(p2.items.map((t) => t.id)).toEqual([txIds[0]]);
    expect(p2.nextCursor).toBeNull();
  });

  it("filters by seller, metadata, account and booking time", async () => {
    const bySeller = json<{ items: Tx[] }>(await h.get("/v1/transactions?sellerId=S-POP-HK-02"));
    expect(bySeller.items.map((t) => t.id)).toEqual([txIds[1]]);
    const first = json<Tx>(await h.get(`/v1/transactions/${txIds[0]}`));
    const [metaKey, metaValue] = Object.entries(first.metadata).find(([k]) => k === "settlementId") ?? [];
    expect(metaValue).toBe("ORD-J-1");
    const byMeta = json<{ items: Tx[] }>(await h.get(`/v1/transactions?meta.${metaKey}=ORD-J-1`));
    expect(byMeta.items.map((t) => t.id)).toEqual([txIds[0]]);
    const account = first.postings.find((p) => p.account.startsWith("seller:S-POP-SZ-01"))?.account ?? "";
    const byAccount = json<{ items: Tx[] }>(await h.get(`/v1/transactions?account=${encodeURIComponent(account)}`));
    expect(byAccount.items.map((t) => t.id)).toEqual([txIds[2], txIds[0]]);
    const future = json<{ items: Tx[] }>(await h.get(`/v1/transactions?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`));
    expect(future.items).toEqual([]);
    const badRange = await h.get("/v1/transactions?from=2024-12-03T00:00:00Z&to=2024-12-02T00:00:00Z");
    expect(problemCode(badRange)).toBe("ENT_REQUEST_VALIDATION");
    const badCursor = await h.get("/v1/transactions?cursor=garbage");
    expect(badCursor.statusCode).toBe(400);
    expect(problemCode(badCursor)).toBe("ENT_LEDGER_INVALID_CURSOR");
  });

  it("gets one transaction, 404 ENT_LEDGER_TRANSACTION_NOT_FOUND for an unknown id", async () => {
    expect(json<Tx>(await h.get(`/v1/transactions/${txIds[1]}`)).id).toBe(txIds[1]);
    const r = await h.get("/v1/transactions/999999");
    expect(r.statusCode).toBe(404);
    expect(problemCode(r)).toBe("ENT_LEDGER_TRANSACTION_NOT_FOUND");
  });

  it("gives an account's balance now and at an earlier instant, and its history", async () => {
    const tx = json<Tx>(await h.get(`/v1/transactions/${txIds[0]}`));
    const p = tx.postings.find((x) => x.account.startsWith("seller:S-POP-SZ-01")) ?? tx.postings[0];
    if (p === undefined) throw new Error("no posting");
    const path = `/v1/accounts/${encodeURIComponent(p.account)}/${p.currency}`;
    const now = json<{ posted: string; asOf: string }>(await h.get(`${path}/balance`));
    const third = json<Tx>(await h.get(`/v1/transactions/${txIds[2]}`)).postings.find((x) => x.account === p.account && x.currency === p.currency);
    expect(now.posted).toBe(third?.balanceAfter);
    const before = json<{ posted: string; lastTransactionId: string | null }>(await h.get(`${path}/balance?at=2000-01-01T00:00:00Z`));
    expect(before).toMatchObject({ posted: "0", lastTransactionId: null });
    const history = json<{ items: Array<{ transactionId: string; amount: string }>; nextCursor: string | null }>(await h.get(`${path}/history?limit=1`));
    expect(history.items.map((i) => i.transactionId)).toEqual([txIds[2]]);
    expect(history.nextCursor).not.toBeNull();
    const missing = await h.get("/v1/accounts/seller:nobody/USD/balance");
    expect(missing.statusCode).toBe(404);
    expect(problemCode(missing)).toBe("ENT_LEDGER_ACCOUNT_NOT_FOUND");
  });

  interface AccountItem {
    code: string;
    currency: string;
    ownerType: string;
    ownerId: string;
    balance: { posted: string; available: string };
  }
  type AccountPage = { items: AccountItem[]; nextCursor: string | null };

  it("lists accounts with their balances, filtered by owner, code prefix and currency, in pages", async () => {
    const seller = json<AccountPage>(await h.get("/v1/accounts?ownerType=seller&ownerId=S-POP-SZ-01"));
    expect(seller.items.length).toBeGreaterThan(0);
    for (const a of seller.items) {
      expect(a).toMatchObject({ ownerType: "seller", ownerId: "S-POP-SZ-01" });
      expect(a.code.startsWith("seller:S-POP-SZ-01:")).toBe(true);
      // The listed balance is the account's balance route's.
      const one = json<{ posted: string }>(await h.get(`/v1/accounts/${encodeURIComponent(a.code)}/${a.currency}/balance`));
      expect(a.balance.posted).toBe(one.posted);
    }
    const held = seller.items.find((a) => a.code === "seller:S-POP-SZ-01:held");
    expect(held?.balance.posted).not.toBe("0");

    const hk = json<AccountPage>(await h.get(`/v1/accounts?prefix=${encodeURIComponent("seller:S-POP-HK-02:")}`));
    expect(hk.items.length).toBeGreaterThan(0);
    expect(hk.items.every((a) => a.ownerId === "S-POP-HK-02")).toBe(true);
    const brl = json<AccountPage>(await h.get("/v1/accounts?currency=BRL"));
    expect(brl.items.length).toBeGreaterThan(0);
    expect(brl.items.every((a) => a.currency === "BRL")).toBe(true);

    // Pages of one cover the whole list once, in creation order.
    const all = json<AccountPage>(await h.get("/v1/accounts?limit=1000")).items.map((a) => `${a.code}/${a.currency}`);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: AccountPage = json<AccountPage>(await h.get(`/v1/accounts?limit=3${cursor === null ? "" : `&cursor=${cursor}`}`));
      paged.push(...page.items.map((a) => `${a.code}/${a.currency}`));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(paged).toEqual(all);
    expect(new Set(all).size).toBe(all.length);

    for (const bad of ["ownerType=nobody", "currency=usd", "limit=0", "cursor=garbage", "colour=red"]) {
      expect((await h.get(`/v1/accounts?${bad}`)).statusCode, bad).toBe(400);
    }
  });

  it("reads token accounts (USDC) like currency accounts, and shows each posting's phase", async () => {
    const spec = (code: string, ownerType: "treasury" | "fx_clearing") => ({ code, currency: "USDC", ownerType, ownerId: code, normalBalance: "debit" as const, allowNegative: true });
    await h.services.ledger.post({
      idempotencyKey: "journal-test:usdc-funding",
      postings: [
        { account: "treasury:vault:USDC", currency: "USDC", direction: "debit", amount: 2_500_000n },
        { account: "fx:USDC-USD", currency: "USDC", direction: "credit", amount: 2_500_000n },
      ],
      accounts: [spec("treasury:vault:USDC", "treasury"), spec("fx:USDC-USD", "fx_clearing")],
    });
    const reserve = await h.services.ledger.post({
      idempotencyKey: "journal-test:usdc-reserve",
      pending: true,
      postings: [
        { account: "fx:USDC-USD", currency: "USDC", direction: "debit", amount: 1_000_000n },
        { account: "treasury:vault:USDC", currency: "USDC", direction: "credit", amount: 1_000_000n },
      ],
    });
    await h.services.ledger.commitPending(reserve.transaction.id, "journal-test:usdc-commit");

    const balance = json<{ posted: string; currency: string }>(await h.get("/v1/accounts/treasury:vault:USDC/USDC/balance"));
    expect(balance).toMatchObject({ currency: "USDC", posted: "1500000" });
    const history = json<{ items: Array<{ phase: string; amount: string; direction: string }> }>(await h.get("/v1/accounts/treasury:vault:USDC/USDC/history"));
    expect(history.items.map((i) => `${i.phase} ${i.direction} ${i.amount}`)).toEqual(["commit credit 1000000", "pending credit 1000000", "posted debit 2500000"]);
    // Summing posted and commit legs gives the posted balance; pending legs only reserve.
    const posted = history.items.filter((i) => i.phase === "posted" || i.phase === "commit").reduce((t, i) => t + (i.direction === "debit" ? 1n : -1n) * BigInt(i.amount), 0n);
    expect(posted.toString()).toBe(balance.posted);
    const tx = json<{ postings: Array<{ phase: string }> }>(await h.get(`/v1/transactions/${reserve.transaction.id}`));
    expect(tx.postings.map((p) => p.phase)).toEqual(["pending", "pending"]);
    expect(json<{ postings: Array<{ phase: string }> }>(await h.get(`/v1/transactions/${txIds[0]}`)).postings.every((p) => p.phase === "posted")).toBe(true);
    expect(json<AccountPage>(await h.get("/v1/accounts?currency=USDC")).items.map((a) => a.code).sort()).toEqual(["fx:USDC-USD", "treasury:vault:USDC"]);
  });

  it("lists sellers with their program and payout currency", async () => {
    const all = json<{ items: Array<{ id: string; program: string; payoutCurrency: string }> }>(await h.get("/v1/sellers"));
    expect(all.items.map((s) => s.id)).toEqual([...all.items.map((s) => s.id)].sort());
    expect(all.items.find((s) => s.id === "S-POP-SZ-01")).toMatchObject({ program: "pop", payoutCurrency: "CNY" });
    const full = json<{ items: Array<{ program: string }> }>(await h.get("/v1/sellers?program=full_hosting"));
    expect(full.items.length).toBeGreaterThan(0);
    expect(full.items.every((s) => s.program === "full_hosting")).toBe(true);
    expect((await h.get("/v1/sellers?program=agency")).statusCode).toBe(400);
  });

  it("verifies the journal's hash chain", async () => {
    const r = json<{ ok: boolean; checked: string; headSequence: string }>(await h.get("/v1/journal/verify"));
    expect(r.ok).toBe(true);
    expect(r.checked).toBe(r.headSequence);
    expect(BigInt(r.checked)).toBeGreaterThanOrEqual(3n);
  });

  it("reads balances by effective instant (a late event counts where it belongs) or by booking instant, a trial balance and a journal export", async () => {
    const held = `/v1/accounts/${encodeURIComponent("seller:S-POP-SZ-01:held")}/CNY/balance`;
    const beforeLate = new Date();
    const atEight = json<{ posted: string }>(await h.get(`${held}?at=2024-12-02T08:30:00Z`)).posted;
    // Booked now, effective at 07:00 on the 2nd: a gateway's late event.
    const late = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "j-late", settlementId: "ORD-J-LATE", occurredAt: "2024-12-02T07:00:00Z" }));
    expect(late.statusCode).toBe(201);
    const lateTx = json<{ transaction: { id: string; postings: Tx["postings"] } }>(late).transaction;
    const lateHeld = BigInt(lateTx.postings.find((p) => p.account === "seller:S-POP-SZ-01:held")!.amount);

    // By effective instant the late event is in the 08:30 balance; by booking instant it was not there yet.
    expect(BigInt(json<{ posted: string }>(await h.get(`${held}?at=2024-12-02T08:30:00Z`)).posted)).toBe(BigInt(atEight) + lateHeld);
    const nowPosted = BigInt(json<{ posted: string }>(await h.get(held)).posted);
    expect(BigInt(json<{ posted: string }>(await h.get(`${held}?bookedAt=${encodeURIComponent(beforeLate.toISOString())}`)).posted)).toBe(nowPosted - lateHeld);
    expect(problemCode(await h.get(`${held}?at=2024-12-02T08:30:00Z&bookedAt=2024-12-02T08:30:00Z`))).toBe("ENT_REQUEST_VALIDATION");

    // The trial balance of the 2nd: every currency balances; closing = opening + the period's movement.
    type Trial = { accounts: Array<{ account: string; currency: string; normalBalance: string; opening: string; debits: string; credits: string; closing: string }>; currencies: Array<{ currency: string; debits: string; credits: string; balanced: boolean }> };
    const day = json<Trial>(await h.get("/v1/ledger/trial-balance?from=2024-12-02T00:00:00Z&to=2024-12-03T00:00:00Z"));
    expect(day.currencies.length).toBeGreaterThan(1);
    for (const c of day.currencies) expect(c, c.currency).toMatchObject({ balanced: true, debits: c.credits });
    for (const a of day.accounts) {
      const move = a.normalBalance === "debit" ? BigInt(a.debits) - BigInt(a.credits) : BigInt(a.credits) - BigInt(a.debits);
      expect(BigInt(a.closing), a.account).toBe(BigInt(a.opening) + move);
    }
    const heldRow = day.accounts.find((a) => a.account === "seller:S-POP-SZ-01:held" && a.currency === "CNY")!;
    expect(heldRow.opening).toBe("0");
    expect(heldRow.closing).toBe(json<{ posted: string }>(await h.get(`${held}?at=2024-12-03T00:00:00Z`)).posted);
    // The morning only: the late event (07:00) is in, the 09:00 and 10:00 captures are not.
    const morning = json<Trial>(await h.get("/v1/ledger/trial-balance?to=2024-12-02T08:30:00Z"));
    expect(morning.accounts.find((a) => a.account === "seller:S-POP-SZ-01:held")!.closing).toBe((BigInt(atEight) + lateHeld).toString());
    expect(problemCode(await h.get("/v1/ledger/trial-balance?from=2024-12-03T00:00:00Z&to=2024-12-02T00:00:00Z"))).toBe("ENT_REQUEST_VALIDATION");
    expect((await h.get("/v1/ledger/trial-balance")).statusCode).toBe(400);

    // The journal of the 2nd as CSV: one line per posting, in sequence order, balanced per currency.
    const csv = await h.get("/v1/journal/export?from=2024-12-02T00:00:00Z&to=2024-12-03T00:00:00Z");
    expect(csv.statusCode).toBe(200);
    expect(csv.headers["content-type"]).toMatch(/^text\/csv/);
    // Descriptions hold commas, quoted: read back with the project's RFC 4180 reader.
    const [header, ...rows] = csvRows(csv.body);
    const col = (name: string) => header!.indexOf(name);
    expect(header!.slice(0, 3)).toEqual(["sequence", "effective_at", "booked_at"]);
    const sequences = [...new Set(rows.map((r) => r[col("sequence")]!))];
    expect(sequences).toEqual([...txIds, lateTx.id]);
    const net = new Map<string, bigint>();
    for (const r of rows) {
      const signed = (r[col("direction")] === "debit" ? 1n : -1n) * BigInt(r[col("amount_minor")]!);
      net.set(r[col("currency")]!, (net.get(r[col("currency")]!) ?? 0n) + signed);
    }
    expect([...net.values()].every((v) => v === 0n)).toBe(true);
    const brl = rows.find((r) => r[col("currency")] === "BRL")!;
    expect(brl[col("amount")]).toBe(`${BigInt(brl[col("amount_minor")]!) / 100n}.${(BigInt(brl[col("amount_minor")]!) % 100n).toString().padStart(2, "0")}`);
    expect(rows.find((r) => r[col("sequence")] === lateTx.id)![col("settlement_id")]).toBe("ORD-J-LATE");
    expect((await h.get("/v1/journal/export?from=2024-12-02T00:00:00Z")).statusCode).toBe(400);
  });

  it("answers the trial balance as CSV (format=csv or Accept: text/csv): a row per account and currency, then per currency, the JSON's figures in minor and major units", async () => {
    type Trial = { accounts: Array<{ account: string; currency: string; normalBalance: string; opening: string; debits: string; credits: string; closing: string }>; currencies: Array<{ currency: string; debits: string; credits: string; balanced: boolean }> };
    const period = "from=2024-12-02T00:00:00Z&to=2024-12-03T00:00:00Z";
    const day = json<Trial>(await h.get(`/v1/ledger/trial-balance?${period}`));
    const r = await h.get(`/v1/ledger/trial-balance?${period}&format=csv`);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/csv/);
    expect(r.headers["content-disposition"]).toBe('attachment; filename="trial-balance-2024-12-02-2024-12-03.csv"');
    const [header, ...rows] = csvRows(r.body);
    expect(header).toEqual(["row", "account", "currency", "normal_balance", "opening", "opening_major", "debits", "debits_major", "credits", "credits_major", "closing", "closing_major", "balanced"]);
    const col = (name: string) => header!.indexOf(name);
    const major = (minor: string, exponent: number) => {
      const v = BigInt(minor);
      const abs = (v < 0n ? -v : v).toString().padStart(exponent + 1, "0");
      return `${v < 0n ? "-" : ""}${abs.slice(0, abs.length - exponent)}.${abs.slice(abs.length - exponent)}`;
    };
    const exponent = (currency: string) => ({ BRL: 2, CNY: 2, USD: 2, EUR: 2, HKD: 2 })[currency] ?? null;
    // Every account of the JSON, in its order, with the same figures; then every currency.
    const accounts = rows.filter((x) => x[col("row")] === "account");
    expect(accounts.map((x) => [x[col("account")], x[col("currency")], x[col("normal_balance")], x[col("opening")], x[col("debits")], x[col("credits")], x[col("closing")]])).toEqual(
      day.accounts.map((a) => [a.account, a.currency, a.normalBalance, a.opening, a.debits, a.credits, a.closing]),
    );
    const currencies = rows.slice(accounts.length);
    expect(currencies.map((x) => [x[col("row")], x[col("currency")], x[col("debits")], x[col("credits")], x[col("balanced")], x[col("opening")], x[col("closing")]])).toEqual(
      day.currencies.map((c) => ["currency", c.currency, c.debits, c.credits, String(c.balanced), "", ""]),
    );
    expect(currencies.every((x) => x[col("balanced")] === "true")).toBe(true);
    for (const x of accounts) {
      const e = exponent(x[col("currency")]!);
      if (e === null) continue;
      for (const f of ["opening", "debits", "credits", "closing"]) expect(x[col(`${f}_major`)], `${x[col("account")]} ${f}`).toBe(major(x[col(f)]!, e));
    }
    expect(accounts.some((x) => x[col("currency")] === "BRL" && x[col("debits_major")] !== "")).toBe(true);

    // Accept: text/csv answers the same; format=json wins over it; no `from`: the beginning of the books, named by `to` alone.
    const auth = { authorization: `Bearer ${h.keys.finance.key}` };
    const accepted = await h.app.inject({ method: "GET", url: `/v1/ledger/trial-balance?${period}`, headers: { ...auth, accept: "text/csv" } });
    expect(accepted.body).toBe(r.body);
    const asJson = await h.app.inject({ method: "GET", url: `/v1/ledger/trial-balance?${period}&format=json`, headers: { ...auth, accept: "text/csv" } });
    expect(json<Trial>(asJson)).toEqual(day);
    const toOnly = await h.get("/v1/ledger/trial-balance?to=2024-12-03T00:00:00Z&format=csv");
    expect(toOnly.headers["content-disposition"]).toBe('attachment; filename="trial-balance-2024-12-03.csv"');
    expect(csvRows(toOnly.body).filter((x) => x[0] === "account").map((x) => x[col("closing")])).toEqual(day.accounts.map((a) => a.closing));
    expect(problemCode(await h.get(`/v1/ledger/trial-balance?${period}&format=xlsx`))).toBe("ENT_REQUEST_VALIDATION");
  });

  it("closes a period over HTTP: finance:write only, a late settlement books into the open period, the closed day's trial balance stays as reported", async () => {
    const writer = await h.services.apiKeys.create({ name: "test finance writer", scopes: ["finance:write"] });
    const day2 = "/v1/ledger/trial-balance?from=2024-12-02T00:00:00Z&to=2024-12-03T00:00:00Z";
    // The day's FX positions restated at its last instant first, as a close requires (IAS 21).
    const revalued = await h.post("/v1/fx/revaluations?at=2024-12-02T23:59:59.999Z", {}, writer);
    expect(revalued.statusCode, revalued.body).toBe(201);
    const reported = json<unknown>(await h.get(day2));
    const close = { before: "2024-12-03T00:00:00Z", note: "2 December reported" };
    expect((await h.post("/v1/ledger/periods/close", close, h.keys.finance)).statusCode).toBe(403);
    const closed = await h.post("/v1/ledger/periods/close", close, writer);
    expect(closed.statusCode, closed.body).toBe(201);
    expect(json(closed)).toMatchObject({ closedBefore: "2024-12-03T00:00:00.000Z", previousClosedBefore: null, closedBy: writer.id, note: "2 December reported" });
    // The same close again (a retry after a lost answer) is that close; another note or an earlier instant is refused.
    const again = await h.post("/v1/ledger/periods/close", close, writer);
    expect([again.statusCode, json<{ id: string; reportDigest: string }>(again).id, json<{ reportDigest: string }>(again).reportDigest]).toEqual([200, json<{ id: string }>(closed).id, json<{ reportDigest: string }>(closed).reportDigest]);
    expect(problemCode(await h.post("/v1/ledger/periods/close", { ...close, note: "another note" }, writer))).toBe("ENT_LEDGER_PERIOD_CLOSED");
    expect(problemCode(await h.post("/v1/ledger/periods/close", { before: "2024-12-02T00:00:00Z" }, writer))).toBe("ENT_LEDGER_PERIOD_CLOSED");
    expect((await h.post("/v1/ledger/periods/close", { before: "2999-01-01T00:00:00Z" }, writer)).statusCode).toBe(400);
    expect(json(await h.get("/v1/ledger/periods"))).toMatchObject({ closedBefore: "2024-12-03T00:00:00.000Z", closes: [{ note: "2 December reported" }] });
    // Its report: the closed period's trial balance with the journal head, digested (anchored when a chain is configured; none here).
    const { id, reportDigest, anchored } = json<{ id: string; reportDigest: string; anchored: boolean }>(closed);
    expect(anchored).toBe(false);
    const report = () => h.get(`/v1/ledger/periods/${id}/report`);
    expect(json<{ digest: string }>(await report()).digest).toBe(reportDigest);
    expect(problemCode(await h.get(`/v1/ledger/periods/${id}/proof`))).toBe("ENT_ANCHOR_UNAVAILABLE");
    expect((await h.get("/v1/ledger/periods/999/report")).statusCode).toBe(404);

    // A gateway's event from the closed day: booked on the 3rd, its own instant kept; the settlement record keeps the event as sent.
    const late = await h.signedPost("/v1/settlements/events", capture({ gatewayEventId: "j-after-close", settlementId: "ORD-J-AFTER-CLOSE", occurredAt: "2024-12-02T11:00:00Z" }));
    expect(late.statusCode, late.body).toBe(201);
    const r = json<{ settlement: { event: { occurredAt: string } }; transaction: { effectiveAt: string; metadata: Record<string, string> } }>(late);
    expect(r.transaction.effectiveAt).toBe("2024-12-03T00:00:00.000Z");
    expect(r.transaction.metadata["originalEffectiveAt"]).toBe("2024-12-02T11:00:00.000Z");
    expect(r.settlement.event.occurredAt).toBe("2024-12-02T11:00:00.000Z");
    expect(json<unknown>(await h.get(day2))).toEqual(reported);
    // The close's report is recomputed from the journal: the late event changed nothing in it.
    expect(json<{ digest: string }>(await report()).digest).toBe(reportDigest);
    const day3 = json<{ accounts: Array<{ account: string; credits: string }> }>(await h.get("/v1/ledger/trial-balance?from=2024-12-03T00:00:00Z&to=2024-12-04T00:00:00Z"));
    expect(day3.accounts.find((a) => a.account === "seller:S-POP-SZ-01:held")?.credits).not.toBe("0");
    // The 3rd's export says which lines are a prior-period item, and from when.
    const [header, ...rows] = csvRows((await h.get("/v1/journal/export?from=2024-12-03T00:00:00Z&to=2024-12-04T00:00:00Z")).body);
    const col = (name: string) => header!.indexOf(name);
    const lateRows = rows.filter((row) => row[col("settlement_id")] === "ORD-J-AFTER-CLOSE");
    expect(lateRows.length).toBeGreaterThan(0);
    for (const row of lateRows) expect([row[col("effective_at")], row[col("original_effective_at")]]).toEqual(["2024-12-03T00:00:00.000Z", "2024-12-02T11:00:00.000Z"]);
    expect(rows.filter((row) => row[col("settlement_id")] !== "ORD-J-AFTER-CLOSE").every((row) => row[col("original_effective_at")] === "")).toBe(true);
    // The 3rd's tax return says the same of its line: which closed period it corrects, in JSON and CSV.
    const taxReturn = "/v1/tax/returns?market=BR&scheme=BR_REMESSA_CONFORME&from=2024-12-03T00:00:00Z&to=2024-12-04T00:00:00Z";
    const taxLines = json<{ lines: Array<{ settlementId: string | null; effectiveAt: string; originalEffectiveAt: string | null }> }>(await h.get(taxReturn)).lines;
    const lateTax = taxLines.filter((l) => l.settlementId === "ORD-J-AFTER-CLOSE");
    expect(lateTax.map((l) => [l.effectiveAt, l.originalEffectiveAt])).toEqual([["2024-12-03T00:00:00.000Z", "2024-12-02T11:00:00.000Z"]]);
    expect(taxLines.filter((l) => l.settlementId !== "ORD-J-AFTER-CLOSE").every((l) => l.originalEffectiveAt === null)).toBe(true);
    const [taxHeader, ...taxRows] = csvRows((await h.get(`${taxReturn}&format=csv`)).body);
    const taxCol = (name: string) => taxHeader!.indexOf(name);
    const lateTaxRow = taxRows.find((row) => row[taxCol("settlement_id")] === "ORD-J-AFTER-CLOSE");
    expect([lateTaxRow?.[taxCol("effective_at")], lateTaxRow?.[taxCol("original_effective_at")]]).toEqual(["2024-12-03T00:00:00.000Z", "2024-12-02T11:00:00.000Z"]);
    // The account's history says when each posting is effective, and the re-dated one the instant it was for.
    type HistoryItem = { transactionId: string; bookedAt: string; effectiveAt: string; originalEffectiveAt: string | null };
    const history = json<{ items: HistoryItem[] }>(await h.get(`/v1/accounts/${encodeURIComponent("seller:S-POP-SZ-01:held")}/CNY/history`)).items;
    const lateId = json<{ transaction: { id: string } }>(late).transaction.id;
    expect(history[0]).toMatchObject({ transactionId: lateId, effectiveAt: "2024-12-03T00:00:00.000Z", originalEffectiveAt: "2024-12-02T11:00:00.000Z" });
    expect(history[0]!.bookedAt.startsWith("2024")).toBe(false);
    const own = history.filter((i) => i.transactionId === txIds[0] || i.transactionId === txIds[2]);
    expect(own.map((i) => [i.effectiveAt, i.originalEffectiveAt])).toEqual([["2024-12-02T10:00:00.000Z", null], ["2024-12-02T08:00:00.000Z", null]]);
  });
});
