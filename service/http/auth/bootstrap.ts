/**
 * First start: with an empty key table, create an admin key (and in demo mode a gateway key bound
 * to the demo gateway and a finance key). The bearer keys and signing secrets exist in clear only
 * in the returned value; the caller prints them once to stdout. Later starts create nothing (the
 * table is not empty) and can show nothing: bearer keys are stored as hashes, signing secrets
 * encrypted under SECRETS_KEY.
 */
import type { ApiKeyService, IssuedKey, KeyInput } from "./keys.js";

/**
 * Two instances starting together on an empty database issue one set: the keys are inserted only
 * if the table is still empty, under a lock (the other instance prints nothing).
 */
export async function bootstrapKeys(
  apiKeys: ApiKeyService,
  opts: { demo: boolean; adminKey?: string | undefined; demoGateway?: string },
): Promise<IssuedKey[]> {
  if (!(await apiKeys.isEmpty())) return [];
  const admin: KeyInput = { name: "bootstrap admin", scopes: ["admin"], ...(opts.adminKey === undefined ? {} : { key: opts.adminKey }) };
  return apiKeys.createFirst([admin, ...(opts.demo ? demoKeys(opts.demoGateway ?? "adyen") : [])]);
}

/**
 * A gateway key for the demo gateway, a finance key that does a finance team's work (imports, runs,
 * resolutions, closes: finance:write, which reads too) and a read-only auditor's key (also
 * `npm start -- --new-keys`).
 */
function demoKeys(gateway: string): KeyInput[] {
  return [
    { name: "demo gateway", scopes: ["gateway:write"], gateway },
    { name: "demo finance", scopes: ["finance:write"] },
    { name: "demo auditor", scopes: ["finance:read"] },
  ];
}

export async function issueDemoKeys(apiKeys: ApiKeyService, gateway: string): Promise<IssuedKey[]> {
  const issued: IssuedKey[] = [];
  for (const k of demoKeys(gateway)) issued.push(await apiKeys.create(k));
  return issued;
}

/** The block printed to stdout once; the only place a bootstrap secret is ever written. */
export function formatIssuedKeys(keys: IssuedKey[]): string {
  const lines = ["", "API keys (shown ONCE: bearer keys are stored as hashes, signing secrets encrypted under SECRETS_KEY):"];
  for (const k of keys) {
    lines.push(`  ${k.name.padEnd(16)} scopes=${k.scopes.join(",")}${k.gateway === null ? "" : ` gateway=${k.gateway}`}`);
    lines.push(`    Authorization: Bearer ${k.key}`);
    lines.push(`    signing secret (Entrepot-Signature): ${k.signingSecret}`);
  }
  return `${lines.join("\n")}\n`;
}
