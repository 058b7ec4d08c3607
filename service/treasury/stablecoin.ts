/**
 * The vault's stablecoin as the ledger sees it: a ledger currency of its own (`USDC`), counted in
 * the token's base units, worth one USD cent per 10^(decimals - 2) units.
 */

/** The ledger currency code of the vault's stablecoin (USD-pegged, 6 decimals). */
export const STABLECOIN_CURRENCY = "USDC";
/** USD has 2 decimals: one cent is 10^(decimals - 2) base units of the stablecoin. */
export const USD_EXPONENT = 2;

/** Stablecoin base units per USD cent. */
export function unitsPerCent(tokenDecimals: number): bigint {
  if (!Number.isInteger(tokenDecimals) || tokenDecimals < USD_EXPONENT || tokenDecimals > 36) {
    throw new RangeError(`stablecoin decimals ${tokenDecimals} outside ${USD_EXPONENT}..36`);
  }
  return 10n ** BigInt(tokenDecimals - USD_EXPONENT);
}

/**
 * The token's decimals, read once (`read` is the token's `decimals()` call) and checked: a token
 * with fewer than 2 decimals cannot carry cents. A failed read is not remembered, so the next call
 * asks the chain again.
 */
export function decimalsReader(read: () => Promise<bigint>): () => Promise<number> {
  let decimals: Promise<number> | null = null;
  return async () => {
    decimals ??= read().then((d) => {
      const n = Number(d);
      unitsPerCent(n); // refuses a token with fewer than 2 decimals
      return n;
    });
    try {
      return await decimals;
    } catch (e) {
      decimals = null;
      throw e;
    }
  };
}

/**
 * The token's decimals for every module that needs them, read from the chain once: the vault's
 * bookings convert with them, and exports print the ledger's USDC amounts in major units with
 * them (`known`, synchronous: null until a read has succeeded).
 */
export class TokenDecimals {
  readonly #read: () => Promise<number>;
  #known: number | null = null;

  constructor(read: () => Promise<bigint>) {
    this.#read = decimalsReader(read);
  }

  async read(): Promise<number> {
    const n = await this.#read();
    this.#known = n;
    return n;
  }

  get known(): number | null {
    return this.#known;
  }
}
