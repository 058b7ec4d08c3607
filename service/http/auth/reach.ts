/**
 * Which gateway's data a key reaches (the routes call these; the scope check is the auth plugin's):
 *  - writes (events, quotes): a key bound to a gateway writes as that gateway only; an admin key
 *    without a binding writes as any gateway (operators correct and replay on gateways' behalf);
 *    a gateway:write key without a binding (issued before keys were bound) writes nothing.
 *  - reads of settlements, their proofs, FX quotes and webhook endpoints with their deliveries:
 *    finance:read and admin keys read every gateway's (and the operators' endpoints); a key whose
 *    only reading scope is gateway:write reads its own gateway's, and another gateway's record
 *    answers exactly as a missing one (404), so existence does not leak.
 */
import { HttpErrors } from "../errors.js";
import { hasScope, type Principal } from "./keys.js";

function unbound(p: Principal) {
  return HttpErrors.gatewayUnbound(`API key ${p.keyId} is a gateway key without a gateway (issued before keys were bound); an admin binds it with POST /v1/admin/api-keys/${p.keyId}/gateway`);
}

/** The gateway this key writes as, or null for an operator key that may write as any. */
export function writableGateway(p: Principal): string | null {
  if (p.gateway !== null) return p.gateway;
  if (p.scopes.includes("admin")) return null;
  throw unbound(p);
}

/** Refuses (403 ENT_AUTH_GATEWAY_MISMATCH, naming `field`) a write naming another gateway than the key's. */
export function assertWritesAs(p: Principal, gateway: string, field: string): void {
  const own = writableGateway(p);
  if (own !== null && own !== gateway) {
    throw HttpErrors.gatewayMismatch(`API key ${p.keyId} posts for gateway ${own}, not ${gateway}`, { fields: [{ field, message: `must be ${own}, the gateway of this API key` }] });
  }
}

/** The gateway whose records this key reads, or null for a key that reads every gateway's. */
export function readableGateway(p: Principal): string | null {
  if (hasScope(p.scopes, "finance:read")) return null;
  if (p.gateway !== null) return p.gateway;
  throw unbound(p);
}

/** Routes with `config.auth` always run with a principal; its absence is a wiring bug, not a client error. */
export function principalOf(p: Principal | null): Principal {
  if (p === null) throw new Error("authenticated route reached without a principal");
  return p;
}

/** Who acted, as the payout and cash tables record it (`created_by`, `resolved_by`...): `api-key:<id>`. */
export function actorOf(p: Principal | null): string {
  return p === null ? "anonymous" : `api-key:${p.keyId}`;
}
