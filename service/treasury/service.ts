/**
 * TreasuryService: the vault's own events booked in the ledger once they are final, so that
 * `treasury:vault:USDC` follows the vault's token balance and the sellers' claimable accounts sum
 * to `vault.totalClaimable()`.
 * - `Funded` -> debit `treasury:vault:USDC`, credit `treasury:bank` (USD) through `fx:USDC-USD`.
 * - `Claimed` -> debit `seller:<id>:claimable`, credit `treasury:vault:USDC`. The seller behind the
 *   claiming address comes from the payouts (`ClaimantDirectory`); a claim that no seller of ours
 *   is owed is recorded for reconciliation, not booked.
 * - `ExcessSwept` -> debit `treasury:swept:USDC`, credit `treasury:vault:USDC`.
 * - `TokenRescued` is not booked: the vault refuses to rescue its own token, so it moves a token the
 *   ledger does not hold.
 * Then the token's transfers out of the vault (the index keeps those from and to the vault): one
 * in a transaction with no vault event that moves the token out (a payout batch, a claim, a sweep)
 * left the vault behind the ledger's back (an issuer's seizure or burn): it is recorded once and
 * logged once at warn, never booked (nothing says where the money went).
 *
 * Only final events are booked: an observed one may still be reorged away. Every booking is
 * idempotent by its event's key, so the worker can run any number of times, in any number of
 * processes, and a crash anywhere just books the rest on the next tick. A booking the ledger
 * refuses (a claim whose deferral is not final and booked yet) is logged and tried again next tick.
 */
import type { ethers } from "ethers";
import { sameAddress } from "../chain/address.js";
import { attachSystem } from "../chain/contracts.js";
import type { DeploymentRecord } from "../chain/deployment-record.js";
import type { EventFilter, IndexedEvent } from "../chain/indexer/types.js";
import type { SqlRunner } from "../db/sql.js";
import { errorSummary } from "../errors.js";
import type { Ledger } from "../ledger/types.js";
import { claimRequest, fundingRequest, sweepRequest } from "./bookings.js";
import { VaultBookingRepository } from "./repository.js";
import { TreasuryAccounts } from "./accounts.js";
import { STABLECOIN_CURRENCY, TokenDecimals } from "./stablecoin.js";

/** The seller owed deferred payouts at an address (PayoutService satisfies it). */
export interface ClaimantDirectory {
  sellerOfClaimant(claim: { chainId: bigint; vault: string; address: string }): Promise<string | null>;
}

export interface TreasuryChain {
  chainId: bigint;
  provider: ethers.Provider;
  record: DeploymentRecord;
  /** The event index (ChainIndexer satisfies it). */
  index: { events(filter: EventFilter): Promise<IndexedEvent[]> };
}

export interface TreasuryLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
  error(o: object, m?: string): void;
}

export interface TreasuryServiceOptions {
  sql: SqlRunner;
  ledger: Ledger;
  chain: TreasuryChain;
  claimants: ClaimantDirectory;
  /** The token's decimals, shared with the rest of the service (read from the token when absent). */
  tokenDecimals?: TokenDecimals;
  log?: TreasuryLog;
}

/** The decimals of the deployment's payout token, read through `provider` at first use. */
export function tokenDecimalsOf(chain: { record: DeploymentRecord; provider: ethers.Provider }): TokenDecimals {
  const { token } = attachSystem(chain.record, chain.provider);
  return new TokenDecimals(() => token.decimals());
}

/** The vault events whose transaction moves the vault's token out of it (the payouts book a batch's). */
const OUTFLOWS = new Set(["PayoutBatchExecuted", "Claimed", "ExcessSwept"]);

export class TreasuryService {
  readonly repo: VaultBookingRepository;
  readonly #ledger: Ledger;
  readonly #chain: TreasuryChain;
  readonly #claimants: ClaimantDirectory;
  readonly #log: TreasuryLog | undefined;
  readonly #tokenDecimals: TokenDecimals;
  /** The last block whose final transfers out of the vault were checked (final events never change). */
  #transfersCheckedThrough = -1n;

  constructor(opts: TreasuryServiceOptions) {
    this.repo = new VaultBookingRepository(opts.sql);
    this.#ledger = opts.ledger;
    this.#chain = opts.chain;
    this.#claimants = opts.claimants;
    this.#log = opts.log;
    this.#tokenDecimals = opts.tokenDecimals ?? tokenDecimalsOf(opts.chain);
  }

  /** One worker step: book every final vault event not booked yet, then report unbooked outflows. */
  async tick(): Promise<void> {
    await this.bookVaultEvents();
    await this.reportUnbookedOutflows();
  }

  async bookVaultEvents(): Promise<void> {
    const chain = this.#chain;
    const vault = chain.record.contracts.SettlementVault.address;
    for (const name of ["Funded", "Claimed", "ExcessSwept"] as const) {
      const events = (await chain.index.events({ contract: "SettlementVault", name })).filter((e) => e.state === "final" && sameAddress(e.address, vault));
      for (const ev of events) {
        if (await this.repo.isBooked(chain.chainId, ev.txHash, ev.logIndex)) continue;
        try {
          await (name === "Funded" ? this.#bookFunded(ev) : name === "Claimed" ? this.#bookClaimed(ev) : this.#bookSwept(ev));
        } catch (e) {
          this.#log?.warn({ tx: ev.txHash, logIndex: ev.logIndex, event: name, err: errorSummary(e) }, "vault event not booked yet; retried next tick");
        }
      }
    }
  }

  /**
   * Final transfers of the vault's token out of the vault in a transaction with no vault event that
   * moves it out: recorded (`transfer_out`, not booked) and logged at warn, each once. Reads only the
   * blocks after the last one checked, so a tick costs what is new.
   */
  async reportUnbookedOutflows(): Promise<void> {
    const chain = this.#chain;
    const vault = chain.record.contracts.SettlementVault.address;
    const fromBlock = this.#transfersCheckedThrough + 1n;
    const transfers = (await chain.index.events({ contract: "Stablecoin", name: "Transfer", args: { from: vault }, fromBlock })).filter((e) => e.state === "final");
    if (transfers.length === 0) return;
    const accounted = new Set(
      (await chain.index.events({ contract: "SettlementVault", fromBlock })).filter((e) => OUTFLOWS.has(e.name) && sameAddress(e.address, vault)).map((e) => e.txHash),
    );
    for (const t of transfers) {
      const amount = BigInt(t.args["value"] ?? "0");
      const to = t.args["to"] ?? "";
      if (accounted.has(t.txHash) || amount === 0n || sameAddress(to, vault)) continue;
      if (await this.repo.isRecorded(chain.chainId, t.txHash, t.logIndex)) continue;
      await this.repo.record({ chainId: chain.chainId, txHash: t.txHash, logIndex: t.logIndex, vault, kind: "transfer_out", account: vault, toAddress: to, amount, sellerId: null, ledgerTxId: null, blockNumber: t.blockNumber });
      this.#log?.warn(
        { tx: t.txHash, logIndex: t.logIndex, to, amount: amount.toString(), account: TreasuryAccounts.vault() },
        "the vault's token left the vault with no vault event for it; not booked: the ledger's vault asset now exceeds the vault's balance by this amount",
      );
    }
    this.#transfersCheckedThrough = transfers.reduce((m, t) => (t.blockNumber > m ? t.blockNumber : m), this.#transfersCheckedThrough);
  }

  async #bookFunded(ev: IndexedEvent): Promise<void> {
    const chainId = this.#chain.chainId;
    const amount = BigInt(ev.args["amount"] ?? "0");
    const from = ev.args["from"] ?? "";
    const r = await this.#ledger.post(
      fundingRequest({ chainId, txHash: ev.txHash, logIndex: ev.logIndex, from, amount, tokenCurrency: STABLECOIN_CURRENCY, tokenDecimals: await this.#tokenDecimals.read() }),
    );
    await this.repo.record({ chainId, txHash: ev.txHash, logIndex: ev.logIndex, vault: ev.address, kind: "funded", account: from, toAddress: null, amount, sellerId: null, ledgerTxId: r.transaction.id, blockNumber: ev.blockNumber });
    this.#log?.info({ tx: ev.txHash, amount: amount.toString(), from }, "vault funding booked");
  }

  async #bookSwept(ev: IndexedEvent): Promise<void> {
    const chainId = this.#chain.chainId;
    const amount = BigInt(ev.args["amount"] ?? "0");
    const to = ev.args["to"] ?? "";
    const r = await this.#ledger.post(sweepRequest({ chainId, txHash: ev.txHash, logIndex: ev.logIndex, to, amount, tokenCurrency: STABLECOIN_CURRENCY }));
    await this.repo.record({ chainId, txHash: ev.txHash, logIndex: ev.logIndex, vault: ev.address, kind: "swept", account: ev.address, toAddress: to, amount, sellerId: null, ledgerTxId: r.transaction.id, blockNumber: ev.blockNumber });
    this.#log?.info({ tx: ev.txHash, amount: amount.toString(), to }, "vault surplus sweep booked");
  }

  async #bookClaimed(ev: IndexedEvent): Promise<void> {
    const chainId = this.#chain.chainId;
    const amount = BigInt(ev.args["amount"] ?? "0");
    const seller = ev.args["seller"] ?? "";
    const to = ev.args["to"] ?? "";
    const sellerId = await this.#claimants.sellerOfClaimant({ chainId, vault: ev.address, address: seller });
    const base = { chainId, txHash: ev.txHash, logIndex: ev.logIndex, vault: ev.address, kind: "claimed" as const, account: seller, toAddress: to, amount, blockNumber: ev.blockNumber };
    if (sellerId === null) {
      // Not a debt this service booked (a payout made elsewhere): recorded for reconciliation, not booked.
      await this.repo.record({ ...base, sellerId: null, ledgerTxId: null });
      this.#log?.error({ tx: ev.txHash, seller, amount: amount.toString() }, "Claimed by an address with no deferred payout of ours; recorded, not booked");
      return;
    }
    // Refused (insufficient claimable) while the deferral it pays is not final yet: retried next tick.
    const r = await this.#ledger.post(claimRequest({ chainId, txHash: ev.txHash, logIndex: ev.logIndex, sellerId, amount, tokenCurrency: STABLECOIN_CURRENCY, to }));
    await this.repo.record({ ...base, sellerId, ledgerTxId: r.transaction.id });
    this.#log?.info({ tx: ev.txHash, sellerId, amount: amount.toString() }, "claim of deferred payouts booked");
  }
}
