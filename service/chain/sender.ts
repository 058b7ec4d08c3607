/**
 * Durable outbox and nonce manager for the service's own sending keys (anchorer, payer).
 *
 * Crash safety by construction (the argument is spelled out in README.md, "Sender"):
 *  1. the intent, its nonce (allocated under a row lock on `chain_nonces`) and the SIGNED raw
 *     transaction are committed in one database transaction BEFORE anything is broadcast;
 *  2. a broadcast only ever sends bytes read back from that record, so a restart re-sends the very
 *     same transaction (same hash) instead of creating a second one;
 *  3. a replacement (stuck transaction) re-signs with the SAME nonce and is committed before it is
 *     broadcast, so of all the attempts of one record at most one can ever be mined.
 * Private keys never reach the database, a log line or an error.
 *
 * Several instances on one database: only the elected worker leader runs `tick()`, and its calls
 * carry the fence of its term (`fence` option): the transactions that create signed bytes (a new
 * nonce, a replacement) verify the term inside themselves, so a leader that lost its lease cannot
 * sign anything new once another instance has taken over (see service/leader).
 */
import {
  AbiCoder,
  dataSlice,
  getAddress,
  Interface,
  isHexString,
  Transaction,
  type ethers,
  type TransactionReceipt,
  type TransactionRequest,
} from "ethers";
import type { SqlRunner } from "../db/sql.js";
import type { DeploymentRecord } from "./deployment-record.js";
import { ChainErrors } from "./sender-errors.js";
import { revertData } from "./revert.js";
import { isUniqueViolation } from "../db/errors.js";
import { isAppError } from "../errors.js";

export type ChainTxStatus = "signed" | "sent" | "mined" | "reverted";

export interface ChainTx {
  id: bigint;
  key: string;
  purpose: string;
  chainId: bigint;
  from: string;
  to: string;
  data: string;
  nonce: bigint;
  status: ChainTxStatus;
  /** Hash of the current (latest) attempt; once mined, of the attempt that was mined. */
  hash: string;
  /** Every attempt (replacements share the nonce), oldest first. */
  hashes: string[];
  blockNumber: bigint | null;
  blockHash: string | null;
  revertReason: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** Extension: gas limit every attempt was signed with. */
  gasLimit: bigint;
  /** Extension: the last broadcast/RPC problem seen for this record, null after a successful broadcast. */
  lastError: string | null;
}

export interface TxSenderLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

export interface TxSenderOptions {
  sql: SqlRunner;
  provider: ethers.Provider;
  chainId: bigint;
  /** The keys this process may send from (anchorer, payer). */
  signers: ethers.Wallet[];
  /** Replace (same nonce, bumped fees) a transaction still unmined this long after its broadcast; default 30_000. */
  stuckAfterMs?: number;
  /** The clock that stamps attempts (signed, sent) and measures `stuckAfterMs`; default the real time. */
  now?: () => Date;
  /** Fee increase of a replacement, in percent; default 25, at least 10 (what nodes require). */
  feeBumpPercent?: number;
  log?: TxSenderLog;
  /** Extension: never bump maxFeePerGas (or gasPrice) above this many wei; default unlimited. */
  maxFeePerGasCap?: bigint;
  /** Extension: mined transactions younger than this many blocks are re-checked for reorgs; default 12. */
  reorgDepth?: number;
  /** Extension: ABIs used to name custom errors in revert reasons (all contracts of the record). */
  record?: DeploymentRecord;
  /**
   * Extension, for crash tests: `beforeBroadcast` runs after an attempt is committed and before it is
   * first broadcast; `afterBroadcast` after the node accepted it and before the record says so.
   */
  hooks?: { beforeBroadcast?(tx: ChainTx): void | Promise<void>; afterBroadcast?(tx: ChainTx): void | Promise<void> };
  /**
   * The fence of the caller's worker term, if any (service/leader `currentFence`): verified inside
   * the transaction that allocates a nonce or commits a replacement; its failure rolls it back.
   */
  fence?: () => SenderFence | undefined;
}

export interface SenderFence {
  /** Throws when the term is over; keeps it current until `tx` ends. */
  verify(tx: SqlRunner): Promise<void>;
}

export interface TxIntent {
  key: string;
  purpose: string;
  from: string;
  to: string;
  data: string;
  gasLimit?: bigint;
}

interface Attempt {
  hash: string;
  raw: string;
  /** EIP-1559 (2) or legacy (0); fees as decimal strings of wei. */
  type: 0 | 2;
  maxFeePerGas: string | null;
  maxPriorityFeePerGas: string | null;
  gasPrice: string | null;
  signedAt: string;
  /** When this attempt was last handed to the node as a new send; null = committed, never broadcast. */
  sentAt: string | null;
}

interface Row {
  id: bigint;
  chain_id: bigint;
  key: string;
  purpose: string;
  from_address: string;
  to_address: string;
  data: string;
  gas_limit: bigint;
  nonce: bigint;
  status: ChainTxStatus;
  hash: string;
  attempts: Attempt[];
  block_number: bigint | null;
  block_hash: string | null;
  revert_reason: string | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

type Patch = Partial<Pick<Row, "status" | "hash" | "attempts" | "block_number" | "block_hash" | "revert_reason" | "last_error">>;

type Fees = { type: 2; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { type: 0; gasPrice: bigint };

type BroadcastOutcome = "accepted" | "known" | "nonce-too-low" | "underpriced" | "failed";

const UNMINED: readonly ChainTxStatus[] = ["signed", "sent"];
const KEY_MAX = 255;
/** Blocks between two moves of the chain witness (one UPDATE per this many blocks). */
const WITNESS_STEP = 64n;
const PURPOSE_MAX = 64;

function toTx(r: Row): ChainTx {
  return {
    id: r.id,
    key: r.key,
    purpose: r.purpose,
    chainId: r.chain_id,
    from: r.from_address,
    to: r.to_address,
    data: r.data,
    nonce: r.nonce,
    status: r.status,
    hash: r.hash,
    hashes: r.attempts.map((a) => a.hash),
    blockNumber: r.block_number,
    blockHash: r.block_hash,
    revertReason: r.revert_reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    gasLimit: r.gas_limit,
    lastError: r.last_error,
  };
}

export class TxSender {
  readonly #sql: SqlRunner;
  readonly #provider: ethers.Provider;
  readonly #chainId: bigint;
  readonly #wallets = new Map<string, ethers.Wallet>();
  readonly #stuckAfterMs: number;
  readonly #now: () => Date;
  readonly #feeBumpPercent: bigint;
  readonly #maxFeeCap: bigint | null;
  readonly #reorgDepth: bigint;
  readonly #log: TxSenderLog | undefined;
  readonly #hooks: TxSenderOptions["hooks"];
  readonly #fence: () => SenderFence | undefined;
  readonly #interfaces: Interface[];
  #chainChecked: Promise<void> | null = null;
  #tickQueue: Promise<unknown> = Promise.resolve();

  constructor(opts: TxSenderOptions) {
    const stuck = opts.stuckAfterMs ?? 30_000;
    const bump = opts.feeBumpPercent ?? 25;
    const depth = opts.reorgDepth ?? 12;
    if (!Number.isFinite(stuck) || stuck < 0) throw ChainErrors.senderOption(`stuckAfterMs must be >= 0, got ${stuck}`);
    if (!Number.isInteger(bump) || bump < 10 || bump > 1000) {
      throw ChainErrors.senderOption(`feeBumpPercent must be an integer between 10 and 1000 (nodes refuse replacements below +10 %), got ${bump}`);
    }
    if (!Number.isInteger(depth) || depth < 0) throw ChainErrors.senderOption(`reorgDepth must be an integer >= 0, got ${depth}`);
    this.#sql = opts.sql;
    this.#provider = opts.provider;
    this.#chainId = opts.chainId;
    for (const w of opts.signers) this.#wallets.set(getAddress(w.address), w);
    this.#stuckAfterMs = stuck;
    this.#now = opts.now ?? (() => new Date());
    this.#feeBumpPercent = BigInt(bump);
    this.#maxFeeCap = opts.maxFeePerGasCap ?? null;
    this.#reorgDepth = BigInt(depth);
    this.#log = opts.log;
    this.#hooks = opts.hooks;
    this.#fence = opts.fence ?? (() => undefined);
    this.#interfaces = opts.record ? Object.values(opts.record.contracts).map((c) => new Interface(c.abi)) : [];
  }

  /**
   * Idempotent by `key` (unique per chain): the first call records the intent, allocates the nonce,
   * signs, commits, then broadcasts; a later call with the same key returns the stored record,
   * re-broadcasting it when it is not mined. The same key with another from/to/data is
   * ENT_CHAIN_TX_KEY_CONFLICT. A broadcast failure (RPC down) does not throw: the record stays
   * `signed` (see `lastError`) and `tick()` retries it.
   */
  async submit(intent: TxIntent): Promise<ChainTx> {
    const i = normalizeIntent(intent);
    const existing = await this.#load(i.key);
    if (existing) return this.#resume(existing, i);
    const wallet = this.#wallets.get(i.from);
    if (!wallet) throw ChainErrors.txUnknownSender(`no sending key for ${i.from}`, { fields: [{ field: "from", message: "not a key of this service" }] });
    await this.#checkChain();

    // Everything that needs the node happens before the database transaction, so the nonce row is
    // locked only for local work (signing takes well under a millisecond).
    let gasLimit: bigint;
    try {
      gasLimit = i.gasLimit ?? (await this.#estimateGas(i));
    } catch (e) {
      // A concurrent submit of the same key may have been mined meanwhile (and now makes the call revert).
      const row = await this.#load(i.key);
      if (row) return this.#resume(row, i);
      throw e;
    }
    const [fees, latest, pending] = await this.#rpc("reading fees and nonces", () =>
      Promise.all([this.#networkFees(), this.#provider.getTransactionCount(i.from, "latest"), this.#provider.getTransactionCount(i.from, "pending")]),
    );

    const fence = this.#fence();
    let result: { created: Row } | { existing: Row };
    try {
      result = await this.#sql.transaction(async (tx) => {
        await verifyFence(fence, tx);
        await tx.q(
          `INSERT INTO chain_nonces (chain_id, address, next_nonce) VALUES ($1, $2, $3) ON CONFLICT (chain_id, address) DO NOTHING`,
          this.#chainId,
          i.from,
          BigInt(pending),
        );
        const [lock] = await tx.q<Array<{ next_nonce: bigint }>>(
          `SELECT next_nonce FROM chain_nonces WHERE chain_id = $1 AND address = $2 FOR UPDATE`,
          this.#chainId,
          i.from,
        );
        // A concurrent submit of the same key from the same sender waited on the lock above and
        // now sees the committed record.
        const [dup] = await tx.q<Row[]>(`SELECT * FROM chain_transactions WHERE chain_id = $1 AND key = $2`, this.#chainId, i.key);
        if (dup) return { existing: dup };
        // Never below what the chain has already mined for this address (someone else used the
        // key); never the node's pending count, which may include transactions it later drops.
        const nonce = maxBig(lock!.next_nonce, BigInt(latest));
        const attempt = await signAttempt(wallet, { chainId: this.#chainId, nonce, to: i.to, data: i.data, gasLimit }, fees, this.#now());
        await tx.q(
          `UPDATE chain_nonces SET next_nonce = $3, updated_at = now() WHERE chain_id = $1 AND address = $2`,
          this.#chainId,
          i.from,
          nonce + 1n,
        );
        const [row] = await tx.q<Row[]>(
          `INSERT INTO chain_transactions (chain_id, key, purpose, from_address, to_address, data, gas_limit, nonce, status, hash, attempts)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'signed', $9, $10::jsonb) RETURNING *`,
          this.#chainId,
          i.key,
          i.purpose,
          i.from,
          i.to,
          i.data,
          gasLimit,
          nonce,
          attempt.hash,
          JSON.stringify([attempt]),
        );
        return { created: row! };
      });
    } catch (e) {
      // Same key submitted concurrently from another sender: the unique index decided.
      if (isUniqueViolation(e, "chain_transactions_chain_key_key")) {
        const row = await this.#load(i.key);
        if (row) return this.#resume(row, i);
      }
      throw e;
    }
    if ("existing" in result) return this.#resume(result.existing, i);

    const row = result.created;
    this.#log?.info({ key: row.key, purpose: row.purpose, from: row.from_address, nonce: row.nonce.toString(), hash: row.hash }, "chain tx signed");
    await this.#hooks?.beforeBroadcast?.(toTx(row));
    return toTx(await this.#broadcast(row, row.attempts[0]!));
  }

  async get(key: string): Promise<ChainTx | null> {
    const row = await this.#load(key);
    return row ? toTx(row) : null;
  }

  /**
   * One step over this chain's records: fetch receipts of unmined transactions and mark them
   * mined/reverted; broadcast what was committed but never sent; re-broadcast a transaction the node
   * does not know or whose receipt vanished (reorg); replace stuck ones. Returns the records whose
   * status, current hash or block changed. Concurrent calls are serialised.
   */
  async tick(): Promise<ChainTx[]> {
    const run = this.#tickQueue.then(() => this.#tick());
    this.#tickQueue = run.catch(() => undefined);
    return run;
  }

  async #tick(): Promise<ChainTx[]> {
    await this.#checkChain();
    await this.#checkWitness();
    const head = BigInt(await this.#rpc("reading the block number", () => this.#provider.getBlockNumber()));
    const rows = await this.#sql.q<Row[]>(
      `SELECT * FROM chain_transactions
        WHERE chain_id = $1 AND (status IN ('signed', 'sent') OR (status IN ('mined', 'reverted') AND block_number > $2))
        ORDER BY from_address, nonce`,
      this.#chainId,
      head - this.#reorgDepth,
    );
    const changed: ChainTx[] = [];
    for (const row of rows) {
      try {
        const after = UNMINED.includes(row.status) ? await this.#advance(row) : await this.#recheckMined(row);
        if (after.status !== row.status || after.hash !== row.hash || after.block_hash !== row.block_hash) changed.push(toTx(after));
      } catch (e) {
        // The caller's term is over: every further step would be refused the same way.
        if (fenceRefusals.has(e as object)) throw e;
        this.#log?.warn({ key: row.key, hash: row.hash, err: describe(e) }, "chain tx tick step failed");
      }
    }
    await this.#advanceWitness(head);
    return changed;
  }

  // ---- steps ------------------------------------------------------------------------------------

  async #resume(row: Row, i: NormalizedIntent): Promise<ChainTx> {
    for (const [field, mine, theirs] of [
      ["from", row.from_address, i.from],
      ["to", row.to_address, i.to],
      ["data", row.data, i.data],
    ] as const) {
      if (mine !== theirs) {
        throw ChainErrors.txKeyConflict(`key ${JSON.stringify(i.key)} is already recorded with another ${field}`, {
          fields: [{ field, message: "differs from the recorded transaction" }],
          details: { key: i.key, hash: row.hash },
        });
      }
    }
    if (!UNMINED.includes(row.status)) return toTx(row);
    await this.#checkChain();
    return toTx(await this.#broadcast(row, current(row)));
  }

  /** An unmined record: receipt? never sent? unknown to the node? stuck? */
  async #advance(row: Row): Promise<Row> {
    const found = await this.#findReceipt(row);
    if (found) return this.#recordReceipt(row, found);
    const attempt = current(row);
    if (attempt.sentAt === null) return this.#broadcast(row, attempt);
    const known = await this.#provider.getTransaction(attempt.hash);
    if (!known) {
      // The node dropped it (restart, mempool eviction) or never accepted it: same bytes again.
      row = await this.#broadcast(row, attempt);
      if (row.last_error === null) return row;
    }
    const now = this.#now();
    if (now.getTime() - Date.parse(current(row).sentAt ?? now.toISOString()) >= this.#stuckAfterMs) return this.#replace(row);
    return row;
  }

  /** A mined/reverted record inside the reorg window: is its receipt still on the canonical chain? */
  async #recheckMined(row: Row): Promise<Row> {
    const receipt = await this.#provider.getTransactionReceipt(row.hash);
    if (receipt && receipt.blockHash === row.block_hash) return row;
    const found = receipt ? { receipt, attempt: row.attempts.find((a) => a.hash === row.hash)! } : await this.#findReceipt(row);
    if (found) return this.#recordReceipt(row, found);
    // Reorged out: back to `sent`, and the very transaction that was mined goes out again.
    const mined = row.attempts.find((a) => a.hash === row.hash) ?? current(row);
    this.#log?.warn({ key: row.key, hash: row.hash, block: row.block_number?.toString() }, "chain tx receipt vanished (reorg); re-broadcasting");
    const now = this.#now().toISOString();
    const back = await this.#mutate(row.id, (r) =>
      r.status === row.status && r.block_hash === row.block_hash
        ? {
            status: "sent",
            block_number: null,
            block_hash: null,
            revert_reason: null,
            attempts: r.attempts.map((a) => (a.hash === mined.hash ? { ...a, sentAt: now } : a)),
          }
        : null,
    );
    if (back.status !== "sent") return back;
    return this.#broadcast(back, mined);
  }

  /** Same nonce, same call, fees bumped by feeBumpPercent (and at least the network's current fees). */
  async #replace(row: Row): Promise<Row> {
    const wallet = this.#wallets.get(row.from_address);
    if (!wallet) {
      this.#log?.warn({ key: row.key, from: row.from_address }, "chain tx stuck but this process has no key for its sender");
      return row;
    }
    const last = current(row);
    const network = await this.#networkFees();
    const fees = bumpFees(last, network, this.#feeBumpPercent, this.#maxFeeCap);
    if (!fees) {
      const note = `stuck at the fee cap (${this.#maxFeeCap} wei); not replaced`;
      this.#log?.warn({ key: row.key, hash: row.hash }, note);
      return this.#mutate(row.id, (r) => (r.last_error === note ? null : { last_error: note }));
    }
    const attempt = await signAttempt(
      wallet,
      { chainId: this.#chainId, nonce: row.nonce, to: row.to_address, data: row.data, gasLimit: row.gas_limit },
      fees,
      this.#now(),
    );
    const replaced = await this.#mutate(
      row.id,
      (r) =>
        // Someone else (a concurrent tick, a receipt) got there first: do nothing.
        UNMINED.includes(r.status) && r.hash === row.hash ? { hash: attempt.hash, attempts: [...r.attempts, attempt] } : null,
      this.#fence(),
    );
    if (replaced.hash !== attempt.hash) return replaced;
    this.#log?.info(
      { key: row.key, nonce: row.nonce.toString(), replaces: last.hash, hash: attempt.hash, attempt: replaced.attempts.length },
      "chain tx stuck; replaced with bumped fees",
    );
    await this.#hooks?.beforeBroadcast?.(toTx(replaced));
    return this.#broadcast(replaced, attempt);
  }

  /** Sends stored bytes; interprets the node's answer; never signs anything. */
  async #broadcast(row: Row, attempt: Attempt): Promise<Row> {
    let outcome: BroadcastOutcome;
    let error: unknown = null;
    try {
      await this.#provider.broadcastTransaction(attempt.raw);
      outcome = "accepted";
    } catch (e) {
      error = e;
      outcome = classifyBroadcastError(e);
    }
    const now = this.#now().toISOString();
    const markSent = (r: Row): Patch | null => {
      const attempts = r.attempts.map((a) => (a.hash === attempt.hash && a.sentAt === null ? { ...a, sentAt: now } : a));
      const status = r.status === "signed" ? "sent" : r.status;
      const changed = status !== r.status || r.last_error !== null || attempts.some((a, k) => a !== r.attempts[k]);
      return changed ? { status, attempts, last_error: null } : null;
    };
    switch (outcome) {
      case "accepted":
      case "known":
        if (outcome === "accepted") await this.#hooks?.afterBroadcast?.(toTx(row));
        this.#log?.info({ key: row.key, hash: attempt.hash, nonce: row.nonce.toString(), outcome }, "chain tx broadcast");
        return this.#mutate(row.id, markSent);
      case "nonce-too-low": {
        // The nonce is used: by one of our attempts (then a receipt exists, or will once the node
        // has it indexed) or by a transaction sent with this key elsewhere. Never re-sign.
        const found = await this.#findReceipt(row);
        if (found) return this.#recordReceipt(row, found);
        return this.#noteError(row, attempt, "the node refuses the nonce as too low (used on chain, or taken in its pool); waiting for a receipt of one of the attempts", error);
      }
      case "underpriced": {
        // Another transaction with this nonce is pending: an earlier attempt of ours or a foreign
        // one. Start the stuck clock so a further bump follows.
        const note = "another transaction with this nonce is pending (replacement underpriced)";
        this.#log?.warn({ key: row.key, hash: attempt.hash, err: describe(error) }, note);
        return this.#mutate(row.id, (r) => ({
          attempts: r.attempts.map((a) => (a.hash === attempt.hash && a.sentAt === null ? { ...a, sentAt: now } : a)),
          last_error: note,
        }));
      }
      case "failed":
        return this.#noteError(row, attempt, `broadcast failed: ${describe(error)}`, error);
    }
  }

  async #noteError(row: Row, attempt: Attempt, note: string, error: unknown): Promise<Row> {
    this.#log?.warn({ key: row.key, hash: attempt.hash, err: describe(error) }, "chain tx broadcast not accepted; tick retries");
    return this.#mutate(row.id, (r) => (r.last_error === note ? null : { last_error: note.slice(0, 2000) }));
  }

  async #findReceipt(row: Row): Promise<{ receipt: TransactionReceipt; attempt: Attempt } | null> {
    for (const attempt of [...row.attempts].reverse()) {
      const receipt = await this.#provider.getTransactionReceipt(attempt.hash);
      if (receipt && receipt.blockHash) return { receipt, attempt };
    }
    return null;
  }

  async #recordReceipt(row: Row, { receipt, attempt }: { receipt: TransactionReceipt; attempt: Attempt }): Promise<Row> {
    const status: ChainTxStatus = receipt.status === 1 ? "mined" : "reverted";
    const reason = status === "reverted" ? await this.#revertReason(row, receipt) : null;
    const saved = await this.#mutate(row.id, (r) =>
      r.status === status && r.block_hash === receipt.blockHash && r.hash === attempt.hash
        ? null
        : {
            status,
            hash: attempt.hash,
            block_number: BigInt(receipt.blockNumber),
            block_hash: receipt.blockHash,
            revert_reason: reason,
            last_error: null,
          },
    );
    const log = status === "mined" ? this.#log?.info.bind(this.#log) : this.#log?.warn.bind(this.#log);
    log?.({ key: row.key, hash: attempt.hash, block: receipt.blockNumber, status, reason }, `chain tx ${status}`);
    return saved;
  }

  /** Replays the call on the state before its block to recover the revert data (best effort). */
  async #revertReason(row: Row, receipt: TransactionReceipt): Promise<string> {
    try {
      await this.#provider.call({
        from: row.from_address,
        to: row.to_address,
        data: row.data,
        gasLimit: row.gas_limit,
        blockTag: Math.max(0, receipt.blockNumber - 1),
      });
      return "reverted (the call succeeds when replayed; reason unavailable)";
    } catch (e) {
      return decodeRevert(revertData(e), this.#interfaces) ?? `reverted: ${describe(e)}`.slice(0, 500);
    }
  }

  async #estimateGas(i: NormalizedIntent): Promise<bigint> {
    try {
      const estimate = await this.#provider.estimateGas({ from: i.from, to: i.to, data: i.data });
      // 20 % headroom: state may move between estimation and inclusion.
      return (estimate * 120n) / 100n + 10_000n;
    } catch (e) {
      const data = revertData(e);
      if (data !== null || /revert/i.test(errorText(e))) {
        const reason = decodeRevert(data, this.#interfaces) ?? describe(e);
        throw ChainErrors.txWouldRevert(`${i.purpose} (${i.key}) would revert: ${reason}`, { details: { key: i.key, reason } });
      }
      throw ChainErrors.rpcUnavailable(`estimating gas for ${i.key}: ${describe(e)}`, { cause: e });
    }
  }

  async #networkFees(): Promise<Fees> {
    const fee = await this.#provider.getFeeData();
    if (fee.maxFeePerGas !== null && fee.maxPriorityFeePerGas !== null) {
      return { type: 2, maxFeePerGas: fee.maxFeePerGas, maxPriorityFeePerGas: fee.maxPriorityFeePerGas };
    }
    if (fee.gasPrice !== null) return { type: 0, gasPrice: fee.gasPrice };
    throw ChainErrors.rpcUnavailable("the node reports no fee data");
  }

  /**
   * Once per instance: the provider is on the configured chain id and on the chain (genesis, witness
   * block) the database's records were made on. A reset local node reuses the chain id (and even
   * Hardhat's genesis hash); without this check the old records' signed transactions would be
   * "re-broadcast after a reorg" onto it, and new nonces would leave gaps.
   */
  async #checkChain(): Promise<void> {
    this.#chainChecked ??= (async () => {
      const [{ chainId }, genesis] = await this.#rpc("reading the chain id and genesis block", () =>
        Promise.all([this.#provider.getNetwork(), this.#provider.getBlock(0)]),
      );
      if (chainId !== this.#chainId) throw ChainErrors.wrongChain(`the provider is on chain ${chainId}, the sender is configured for ${this.#chainId}`);
      if (!genesis?.hash) throw ChainErrors.rpcUnavailable("the node returned no genesis block");
      const hash = genesis.hash.toLowerCase();
      await this.#sql.q(
        `INSERT INTO chain_sender_chains (chain_id, genesis_hash) VALUES ($1, $2) ON CONFLICT (chain_id) DO NOTHING`,
        this.#chainId,
        hash,
      );
      const known = await this.#chainRow();
      if (known.genesis_hash !== hash) {
        throw ChainErrors.chainReset(
          `the database holds transactions of chain ${this.#chainId} with genesis ${known.genesis_hash}, but the node's genesis is ${hash}: ` +
            "use a fresh database or the original chain",
        );
      }
      await this.#checkWitness();
    })().catch((e: unknown) => {
      this.#chainChecked = null;
      throw e;
    });
    return this.#chainChecked;
  }

  async #chainRow(): Promise<{ genesis_hash: string; witness_block_number: bigint | null; witness_block_hash: string | null }> {
    const [row] = await this.#sql.q<Array<{ genesis_hash: string; witness_block_number: bigint | null; witness_block_hash: string | null }>>(
      `SELECT genesis_hash, witness_block_number, witness_block_hash FROM chain_sender_chains WHERE chain_id = $1`,
      this.#chainId,
    );
    if (!row) throw new Error(`chain ${this.#chainId} is not registered`);
    return row;
  }

  /** The witness block is still on the node's chain (else: reset, or a reorg deeper than reorgDepth). */
  async #checkWitness(): Promise<void> {
    const known = await this.#chainRow();
    if (known.witness_block_number === null) return;
    const block = await this.#rpc("reading the witness block", () => this.#provider.getBlock(Number(known.witness_block_number)));
    if (block?.hash?.toLowerCase() !== known.witness_block_hash) {
      throw ChainErrors.chainReset(
        `block ${known.witness_block_number} of chain ${this.#chainId} was ${known.witness_block_hash} and is now ${block?.hash ?? "missing"}: ` +
          "the node was reset, or reorganised deeper than reorgDepth; nothing is sent until an operator resolves it",
      );
    }
  }

  /** Moves the witness forward (every WITNESS_STEP blocks) to a block reorgDepth below the head. */
  async #advanceWitness(head: bigint): Promise<void> {
    const target = head - this.#reorgDepth;
    if (target <= 0n) return;
    const known = await this.#chainRow();
    if (known.witness_block_number !== null && target - known.witness_block_number < WITNESS_STEP) return;
    const block = await this.#provider.getBlock(Number(target));
    if (!block?.hash) return;
    await this.#sql.q(
      `UPDATE chain_sender_chains SET witness_block_number = $2, witness_block_hash = $3, updated_at = now()
        WHERE chain_id = $1 AND (witness_block_number IS NULL OR witness_block_number < $2)`,
      this.#chainId,
      target,
      block.hash.toLowerCase(),
    );
  }

  async #rpc<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isAppError(e)) throw e;
      throw ChainErrors.rpcUnavailable(`${what}: ${describe(e)}`, { cause: e });
    }
  }

  // ---- storage ----------------------------------------------------------------------------------

  async #load(key: string): Promise<Row | null> {
    const [row] = await this.#sql.q<Row[]>(`SELECT * FROM chain_transactions WHERE chain_id = $1 AND key = $2`, this.#chainId, key);
    return row ?? null;
  }

  /** Read-modify-write of one record under its row lock; `fn` returns null to leave it as is. */
  async #mutate(id: bigint, fn: (r: Row) => Patch | null, fence?: SenderFence): Promise<Row> {
    return this.#sql.transaction(async (tx) => {
      await verifyFence(fence, tx);
      const [r] = await tx.q<Row[]>(`SELECT * FROM chain_transactions WHERE id = $1 FOR UPDATE`, id);
      if (!r) throw new Error(`chain transaction ${id} vanished`);
      const patch = fn(r);
      if (!patch) return r;
      const next: Row = { ...r, ...patch };
      const final = (s: ChainTxStatus) => s === "mined" || s === "reverted";
      if (final(r.status) && final(next.status) && (next.status !== r.status || next.block_hash !== r.block_hash)) {
        // Re-mined elsewhere by a reorg: the status guard only lets a final status go back to `sent`.
        await tx.q(
          `UPDATE chain_transactions SET status = 'sent', block_number = NULL, block_hash = NULL, revert_reason = NULL WHERE id = $1`,
          id,
        );
      }
      const [saved] = await tx.q<Row[]>(
        `UPDATE chain_transactions
            SET status = $2, hash = $3, attempts = $4::jsonb, block_number = $5, block_hash = $6, revert_reason = $7,
                last_error = $8, updated_at = now()
          WHERE id = $1 RETURNING *`,
        id,
        next.status,
        next.hash,
        JSON.stringify(next.attempts),
        next.block_number,
        next.block_hash,
        next.revert_reason,
        next.last_error,
      );
      return saved!;
    });
  }
}

// ---- pure helpers ---------------------------------------------------------------------------------

/** Errors thrown by a fence (whatever their type): a tick stops on them instead of logging each record. */
const fenceRefusals = new WeakSet<object>();

async function verifyFence(fence: SenderFence | undefined, tx: SqlRunner): Promise<void> {
  try {
    await fence?.verify(tx);
  } catch (e) {
    if (typeof e === "object" && e !== null) fenceRefusals.add(e);
    throw e;
  }
}

interface NormalizedIntent {
  key: string;
  purpose: string;
  from: string;
  to: string;
  data: string;
  gasLimit: bigint | undefined;
}

function normalizeIntent(intent: TxIntent): NormalizedIntent {
  const bad = (field: string, message: string) => ChainErrors.txInvalid(`${field}: ${message}`, { fields: [{ field, message }] });
  if (typeof intent.key !== "string" || intent.key.length === 0 || intent.key.length > KEY_MAX) throw bad("key", `must be 1..${KEY_MAX} characters`);
  if (typeof intent.purpose !== "string" || intent.purpose.length === 0 || intent.purpose.length > PURPOSE_MAX) {
    throw bad("purpose", `must be 1..${PURPOSE_MAX} characters`);
  }
  const address = (field: "from" | "to", v: string) => {
    try {
      return getAddress(v);
    } catch {
      throw bad(field, "must be an address");
    }
  };
  if (typeof intent.data !== "string" || !isHexString(intent.data) || intent.data.length % 2 !== 0) throw bad("data", "must be 0x-prefixed hex bytes");
  if (intent.gasLimit !== undefined && (typeof intent.gasLimit !== "bigint" || intent.gasLimit < 21_000n || intent.gasLimit > 100_000_000n)) {
    throw bad("gasLimit", "must be a bigint between 21000 and 100000000");
  }
  return {
    key: intent.key,
    purpose: intent.purpose,
    from: address("from", intent.from),
    to: address("to", intent.to),
    data: intent.data.toLowerCase(),
    gasLimit: intent.gasLimit,
  };
}

function current(row: Row): Attempt {
  return row.attempts.find((a) => a.hash === row.hash) ?? row.attempts[row.attempts.length - 1]!;
}

function maxBig(...xs: bigint[]): bigint {
  return xs.reduce((a, b) => (b > a ? b : a));
}

async function signAttempt(
  wallet: ethers.Wallet,
  f: { chainId: bigint; nonce: bigint; to: string; data: string; gasLimit: bigint },
  fees: Fees,
  signedAt: Date,
): Promise<Attempt> {
  const base: TransactionRequest = { chainId: f.chainId, nonce: Number(f.nonce), to: f.to, data: f.data, gasLimit: f.gasLimit, value: 0n };
  const req: TransactionRequest =
    fees.type === 2
      ? { ...base, type: 2, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas }
      : { ...base, type: 0, gasPrice: fees.gasPrice };
  const raw = await wallet.signTransaction(req);
  return {
    hash: Transaction.from(raw).hash!.toLowerCase(),
    raw,
    type: fees.type,
    maxFeePerGas: fees.type === 2 ? fees.maxFeePerGas.toString() : null,
    maxPriorityFeePerGas: fees.type === 2 ? fees.maxPriorityFeePerGas.toString() : null,
    gasPrice: fees.type === 0 ? fees.gasPrice.toString() : null,
    signedAt: signedAt.toISOString(),
    sentAt: null,
  };
}

/**
 * Fees of a replacement: every fee field at least `bump` % above the previous attempt (rounded up:
 * nodes compare with >=), and at least what the network asks now; maxFee >= maxPriority. Null when
 * the cap leaves no room for a valid bump.
 */
export function bumpFees(
  last: Pick<Attempt, "type" | "maxFeePerGas" | "maxPriorityFeePerGas" | "gasPrice">,
  network: Fees,
  bumpPercent: bigint,
  cap: bigint | null,
): Fees | null {
  const up = (x: bigint) => (x * (100n + bumpPercent) + 99n) / 100n;
  if (last.type === 2) {
    const oldMax = BigInt(last.maxFeePerGas!);
    const oldTip = BigInt(last.maxPriorityFeePerGas!);
    const netMax = network.type === 2 ? network.maxFeePerGas : network.gasPrice;
    const netTip = network.type === 2 ? network.maxPriorityFeePerGas : 0n;
    const tip = maxBig(up(oldTip), netTip);
    let maxFee = maxBig(up(oldMax), netMax, tip);
    if (cap !== null && maxFee > cap) {
      maxFee = cap;
      if (maxFee < up(oldMax) || maxFee < tip) return null;
    }
    return { type: 2, maxFeePerGas: maxFee, maxPriorityFeePerGas: tip };
  }
  const oldPrice = BigInt(last.gasPrice!);
  let price = maxBig(up(oldPrice), network.type === 0 ? network.gasPrice : network.maxFeePerGas);
  if (cap !== null && price > cap) {
    price = cap;
    if (price < up(oldPrice)) return null;
  }
  return { type: 0, gasPrice: price };
}

/** Every message/code along an error's chain (ethers wraps, Hardhat nests `error`/`cause`/`data`). */
function errorText(e: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  const walk = (x: unknown, depth: number) => {
    if (x === null || x === undefined || depth > 6 || seen.has(x)) return;
    if (typeof x === "string") {
      parts.push(x);
      return;
    }
    if (typeof x !== "object") return;
    seen.add(x);
    const o = x as Record<string, unknown>;
    for (const k of ["code", "message", "shortMessage", "reason"]) if (typeof o[k] === "string") parts.push(o[k]);
    for (const k of ["error", "cause", "info", "data"]) walk(o[k], depth + 1);
  };
  walk(e, 0);
  return parts.join(" | ");
}

export function classifyBroadcastError(e: unknown): BroadcastOutcome {
  const t = errorText(e);
  if (/already known|known transaction|already imported|alreadyknown|already exists|transaction already in/i.test(t)) return "known";
  if (/nonce too low|NONCE_EXPIRED|nonce has already been used|invalid nonce.*lower|OldNonce/i.test(t)) return "nonce-too-low";
  if (/underpriced|REPLACEMENT_UNDERPRICED|replacement fee too low/i.test(t)) return "underpriced";
  return "failed";
}


const ERROR_SELECTOR = "0x08c379a0";
const PANIC_SELECTOR = "0x4e487b71";

/** `Error(string)` -> the string; `Panic(uint256)` -> `Panic(0x11)`; a custom error -> `Name(arg, …)`. */
export function decodeRevert(data: string | null, interfaces: readonly Interface[]): string | null {
  if (data === null || data.length < 10) return null;
  const selector = dataSlice(data, 0, 4).toLowerCase();
  const coder = AbiCoder.defaultAbiCoder();
  try {
    if (selector === ERROR_SELECTOR) return String(coder.decode(["string"], dataSlice(data, 4))[0]);
    if (selector === PANIC_SELECTOR) return `Panic(0x${(coder.decode(["uint256"], dataSlice(data, 4))[0] as bigint).toString(16)})`;
  } catch {
    return `revert data ${data.slice(0, 138)}`;
  }
  for (const iface of interfaces) {
    try {
      const parsed = iface.parseError(data);
      if (parsed) return `${parsed.name}(${parsed.args.map((a: unknown) => (typeof a === "bigint" ? a.toString() : String(a))).join(", ")})`;
    } catch {
      // not this contract's error
    }
  }
  return `custom error ${selector}`;
}

function describe(e: unknown): string {
  const t = e instanceof Error ? e.message : errorText(e);
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}

