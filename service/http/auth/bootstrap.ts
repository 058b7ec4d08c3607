/**
 * First start: with an empty key table, create an admin key (and in demo mode a gateway key bound
 * to the demo gateway and a finance key). The bearer keys and signing secrets exist in clear only
 * in the returned value; the caller prints them once to stdout. Later starts create nothing (the
 * table is not empty) and can show nothing: bearer keys are stored as hashes, signing secrets
 * encrypted under SECRETS_KEY.
 */
import type { ApiKeyService, IssuedKey } from "./keys.js";

export async function bootstrapKeys(
  apiKeys: ApiKeyService,
  opts: { demo: boolean; adminKey?: string | undefined; demoGateway?: string },
): Promise<IssuedKey[]> {
  if (!(await apiKeys.isEmpty())) return [];
  const issued = [await apiKeys.create({ name: "bootstrap admin", scopes: ["admin"], ...(opts.adminKey === undefined ? {} : { key: opts.adminKey }) })];
  if (opts.demo) issued.push(...(await issueDemoKeys(apiKeys, opts.demoGateway ?? "adyen")));
  return issued;
}

/**
 * A gateway key for the demo gateway, a finance key that does a finance team's work (imports, runs,
 * resolutions, closes: finance:write, which reads too) and a read-only auditor's key (also
 * `npm start -- --new-keys`).
 */
export async function issueDemoKeys(apiKeys: ApiKeyService, gateway: string): Promise<IssuedKey[]> {
  return [
    await apiKeys.create({ name: "demo gateway", scopes: ["gateway:write"], gateway }),
    await apiKeys.create({ name: "demo finance", scopes: ["finance:write"] }),
    await apiKeys.create({ name: "demo auditor", scopes: ["finance:read"] }),
  ];
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
