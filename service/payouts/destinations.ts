/**
 * Sellers' payout addresses: one per seller and chain, checksummed, never the zero address or one
 * of the deployment's own contracts on that chain: the vault (it refuses a batch that pays itself,
 * so one such row would block every batch it is in), the payout token (a transfer to the token
 * contract is accepted and lost: nobody can move it out) or the anchor; and never another seller's
 * address on the same chain. Every change is kept in an audit trail (destination-repository.ts).
 * A seller the vault may not pay (established in mainland China, jurisdiction.ts) gets none: 422
 * ENT_PAYOUT_VAULT_NOT_PERMITTED naming `homeCountry`; the bank rail pays it.
 */
import { getAddress } from "ethers";
import { sameAddress } from "../chain/address.js";
import type { Seller } from "../settlement/types.js";
import type { DestinationRepository } from "./destination-repository.js";
import { PayoutErrors } from "./errors.js";
import { vaultBar } from "./jurisdiction.js";
import type { PayoutDestination, PayoutLog } from "./types.js";

export interface DestinationsOptions {
  repo: DestinationRepository;
  sellers: { listSellers(): Promise<Seller[]> };
  /** Chain of a destination when the caller names none (the payout chain's id); none: the caller must name one. */
  chainId: bigint | undefined;
  /** The deployment's contracts (the vault, its payout token, the anchor) and their chain: none can be a destination there. */
  contracts: { chainId: bigint; addresses: ReadonlyArray<{ name: string; address: string }> } | undefined;
  log: PayoutLog | undefined;
}

export class PayoutDestinations {
  readonly #o: DestinationsOptions;

  constructor(options: DestinationsOptions) {
    this.#o = options;
  }

  async set(sellerId: string, address: string, opts: { chainId?: bigint; by: string }): Promise<{ destination: PayoutDestination; changed: boolean }> {
    const chainId = this.#chain(opts.chainId);
    let checksummed: string;
    try {
      checksummed = getAddress(address);
    } catch {
      throw PayoutErrors.invalid("address is not an EVM address", { fields: [{ field: "address", message: "must be a 20-byte hex address (checksummed or lower case)" }] });
    }
    if (BigInt(checksummed) === 0n) throw PayoutErrors.invalid("the zero address cannot receive payouts", { fields: [{ field: "address", message: "must not be the zero address" }] });
    // The vault refuses a batch containing itself (InvalidPayout): one bad row would block everyone.
    // The token takes a transfer to itself and keeps it for good.
    const contracts = this.#o.contracts;
    const own = contracts === undefined || chainId !== contracts.chainId ? undefined : contracts.addresses.find((c) => sameAddress(checksummed, c.address));
    if (own !== undefined) {
      throw PayoutErrors.invalid(`${own.name} (${checksummed}) cannot be a payout destination`, { fields: [{ field: "address", message: `must not be ${own.name}` }] });
    }
    const seller = await this.#requireSeller(sellerId);
    // An address on file would read as "this seller is paid in USDC"; the planner skips such a seller
    // anyway (vault_not_permitted), but the API must not accept one in the first place.
    const bar = vaultBar(seller);
    if (bar !== null) {
      throw PayoutErrors.vaultNotPermitted(`seller ${sellerId} cannot have a payout destination: ${bar} (PUT /v1/sellers/${sellerId}/bank-account)`, {
        fields: [{ field: "homeCountry", message: bar }],
      });
    }
    const r = await this.#o.repo.set({ sellerId, chainId, address: checksummed, setBy: opts.by });
    if (r === null) {
      throw PayoutErrors.destinationTaken(`${checksummed} is another seller's payout destination on chain ${chainId}`, {
        fields: [{ field: "address", message: "already another seller's destination on this chain" }],
      });
    }
    if (r.changed) this.#o.log?.info({ sellerId, chainId: chainId.toString(), address: checksummed, by: opts.by }, "payout destination set");
    return r;
  }

  async get(sellerId: string, chainId?: bigint): Promise<PayoutDestination> {
    const chain = this.#chain(chainId);
    const d = await this.#o.repo.get(sellerId, chain);
    if (d === null) {
      await this.#requireSeller(sellerId);
      throw PayoutErrors.destinationNotFound(`seller ${sellerId} has no payout destination on chain ${chain}`);
    }
    return d;
  }

  #chain(given: bigint | undefined): bigint {
    const chainId = given ?? this.#o.chainId;
    if (chainId === undefined) throw PayoutErrors.invalid("chainId is required (no chain is configured)", { fields: [{ field: "chainId", message: "required" }] });
    if (chainId <= 0n) throw PayoutErrors.invalid("chainId must be positive", { fields: [{ field: "chainId", message: "must be positive" }] });
    return chainId;
  }

  async #requireSeller(sellerId: string): Promise<Seller> {
    const s = (await this.#o.sellers.listSellers()).find((x) => x.id === sellerId);
    if (s === undefined) throw PayoutErrors.sellerNotFound(`no seller ${JSON.stringify(sellerId.slice(0, 120))}`, { fields: [{ field: "sellerId", message: "unknown seller" }] });
    return s;
  }
}
