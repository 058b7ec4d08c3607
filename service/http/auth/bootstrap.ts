/**
 * First start: with an empty key table, create an admin key (and in demo mode a gateway key and
 * a finance key). The keys exist in clear only in the returned value; the caller prints them once
 * to stdout. Later starts create nothing (the table is not empty) and can show nothing (only
 * hashes are stored).
 */
import type { ApiKeyService, IssuedKey } from "./keys.js";

export async function bootstrapKeys(apiKeys: ApiKeyService, opts: { demo: boolean; adminKey?: string | undefined }): Promise<IssuedKey[]> {
  if (!(await apiKeys.isEmpty())) return [];
  const issued = [await apiKeys.create({ name: "bootstrap admin", scopes: ["admin"], ...(opts.adminKey === undefined ? {} : { key: opts.adminKey }) })];
  if (opts.demo) {
    issued.push(await apiKeys.create({ name: "demo gateway", scopes: ["gateway:write"] }));
    issued.push(await apiKeys.create({ name: "demo finance", scopes: ["finance:read"] }));
  }
  return issued;
}

/** The block printed to stdout once; the only place a bootstrap secret is ever written. */
export function formatIssuedKeys(keys: IssuedKey[]): string {
  const lines = ["", "API keys (shown ONCE; only their hashes are stored):"];
  for (const k of keys) {
    lines.push(`  ${k.name.padEnd(16)} scopes=${k.scopes.join(",")}`);
    lines.push(`    Authorization: Bearer ${k.key}`);
    lines.push(`    signing secret (Entrepot-Signature): ${k.signingSecret}`);
  }
  return `${lines.join("\n")}\n`;
}
