/**
 * Where the key that encrypts signing secrets comes from, decided once at boot:
 *  1. SECRETS_KEY (32 bytes, hex or base64): production sets this (from its secret manager);
 *  2. SECRETS_KEY_FILE: a file holding it (a mounted secret); it must exist;
 *  3. on a LOCAL stack only: `<DATA_DIR>/secrets.key`, read, or created (0600) when missing. Local
 *     means the embedded database (PGlite lives in DATA_DIR too, so the key sits beside the data it
 *     protects: fine for a laptop, which is why it is not offered for PostgreSQL), or `npm start`,
 *     which asks for it explicitly (`createLocal`) because it runs the whole stack on this machine.
 * With DATABASE_URL and none of these, boot stops: a key generated on the fly would be lost at the
 * next restart and with it every gateway's signing secret.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { ConfigError, type Config } from "../../config.js";
import { parseSecretsKey, SECRETS_KEY_BYTES } from "./secret-box.js";

export const LOCAL_SECRETS_KEY_FILE = "secrets.key";

export interface ResolvedSecretsKey {
  key: Buffer;
  /** Where it came from, for the boot log (never the key). */
  source: "SECRETS_KEY" | "SECRETS_KEY_FILE" | "local key file (created)" | "local key file";
  file?: string;
}

export async function resolveSecretsKey(config: Pick<Config, "databaseUrl" | "dataDir" | "secrets">, opts: { createLocal?: boolean } = {}): Promise<ResolvedSecretsKey> {
  if (config.secrets.key !== undefined) return { key: config.secrets.key, source: "SECRETS_KEY" };
  if (config.secrets.keyFile !== undefined) {
    const file = config.secrets.keyFile;
    const text = await readFile(file, "utf8").catch((e: unknown) => {
      throw new ConfigError("SECRETS_KEY_FILE", `cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"}): ${file}`);
    });
    const key = parseSecretsKey(text);
    if (key === null) throw new ConfigError("SECRETS_KEY_FILE", `must hold 32 bytes as 64 hex characters or base64: ${file}`);
    return { key, source: "SECRETS_KEY_FILE", file };
  }
  if (config.databaseUrl !== undefined && opts.createLocal !== true) {
    throw new ConfigError(
      "SECRETS_KEY",
      "is required with DATABASE_URL: 32 bytes as 64 hex characters or base64 (e.g. `openssl rand -hex 32`), or SECRETS_KEY_FILE; it encrypts the API keys' signing secrets at rest",
    );
  }
  return localKeyFile(path.join(config.dataDir, LOCAL_SECRETS_KEY_FILE));
}

async function localKeyFile(file: string): Promise<ResolvedSecretsKey> {
  const existing = await readFile(file, "utf8").catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  });
  if (existing !== null) {
    const key = parseSecretsKey(existing);
    if (key === null) throw new ConfigError("SECRETS_KEY", `is unset and the local key file ${file} does not hold a 32-byte key`);
    return { key, source: "local key file", file };
  }
  await mkdir(path.dirname(file), { recursive: true });
  const key = randomBytes(SECRETS_KEY_BYTES);
  try {
    // `wx`: two stacks starting on one data folder at once must not each write their own key.
    await writeFile(file, `${key.toString("hex")}\n`, { flag: "wx", mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return localKeyFile(file);
    throw e;
  }
  await chmod(file, 0o600);
  return { key, source: "local key file (created)", file };
}
