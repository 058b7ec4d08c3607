/**
 * Who the stablecoin vault may pay at all, by where the seller is established (its `homeCountry`).
 *
 * A seller established in mainland China (CN) never is: the People's Bank of China treats
 * virtual-currency business, stablecoins included, as illegal financial activity (Yinfa [2021]
 * No. 237, with nine other authorities), and a mainland company's export proceeds must reach it as a bank transfer it can
 * declare under the foreign exchange rules. Such a seller is paid by the bank rail (bank/): its own
 * currency into its company account. Hong Kong (HK), Macao (MO) and Taiwan (TW) are other
 * jurisdictions with codes of their own, and are not barred here.
 *
 * Every seller has a `homeCountry` (NOT NULL; an ISO 3166 alpha-2 code, checked at onboarding by
 * the route and by `validateSeller`). A value that is not one (none can be stored today) is an
 * establishment we do not know, and the vault refuses it too: it pays only a seller known to be
 * allowed a stablecoin.
 */
import type { Seller } from "../settlement/types.js";

/** Where a seller may never be paid in a stablecoin, with the name an operator reads. */
export const STABLECOIN_BARRED_COUNTRIES: ReadonlyMap<string, string> = new Map([["CN", "mainland China"]]);

/** Why the vault may not pay this seller (one sentence naming its `homeCountry`), or null when it may. */
export function vaultBar(seller: Pick<Seller, "homeCountry">): string | null {
  const country = typeof seller.homeCountry === "string" ? seller.homeCountry : "";
  if (!/^[A-Z]{2}$/.test(country)) {
    return `homeCountry ${JSON.stringify(country.slice(0, 8))} is not an ISO 3166 alpha-2 code: where the seller is established is unknown, so it is never paid in a stablecoin`;
  }
  const where = STABLECOIN_BARRED_COUNTRIES.get(country);
  if (where === undefined) return null;
  return `established in ${where} (homeCountry ${country}): paid in its own currency into its company account by the bank rail, never in a stablecoin`;
}

/** True when the vault may pay the seller a stablecoin (the demo's vault sellers are filtered by it). */
export function mayTakeStablecoin(seller: Pick<Seller, "homeCountry">): boolean {
  return vaultBar(seller) === null;
}
