/**
 * The failed-authentication lockout, shared by every instance through `WindowCounters`.
 *
 * Rule one: a request whose credentials are valid is never refused by it. Authentication runs
 * first (cheap: looked-up keys are cached, found or not) and only a FAILURE consults and feeds the
 * counters, so a valid key is never locked out because another client, behind the same address or
 * load balancer, failed; the counters cost the valid path nothing.
 *
 * A failure is counted in buckets, each with its limit per window (RATE_LIMIT_WINDOW_MS):
 *  - a presented key whose id exists ("key identity" K), from client address A:
 *      `k:<K>@<A>` (AUTH_FAILURE_LIMIT) and `k:<K>` across all addresses (AUTH_FAILURE_KEY_LIMIT,
 *      which bounds an attacker rotating X-Forwarded-For under TRUST_PROXY);
 *  - anything else (no key, a malformed key, an id that does not exist), from A:
 *      `a:<A>` (AUTH_FAILURE_ADDRESS_LIMIT, higher: it is where unauthenticated garbage lands).
 * A failure that takes a bucket past its limit, and every later failure in it, answers 429
 * ENT_HTTP_RATE_LIMITED with Retry-After (the window's end) instead of its 401. Once a bucket is
 * known to be over, this instance stops writing to it and refuses key-less requests from that
 * address before doing anything else.
 */
import { createHash } from "node:crypto";
import { MAX_BUCKET_LENGTH, type WindowCounters } from "../shared-state/window-counters.js";

export interface LockoutLimits {
  /** Per (key id, address). */
  perKeyAndAddress: number;
  /** Per key id, all addresses. */
  perKey: number;
  /** Per address, failures without a key id of ours. */
  perAddress: number;
  windowMs: number;
}

export interface Bucket {
  name: string;
  limit: number;
}

/** The buckets a failure counts in (pure). */
export function failureBuckets(knownKeyId: string | null, address: string, limits: LockoutLimits): Bucket[] {
  const addr = boundedAddress(address);
  if (knownKeyId === null) return [{ name: `af:a:${addr}`, limit: limits.perAddress }];
  return [
    { name: `af:k:${knownKeyId}@${addr}`, limit: limits.perKeyAndAddress },
    { name: `af:k:${knownKeyId}`, limit: limits.perKey },
  ];
}

/** Addresses are short (IPv6 at most 45 characters); anything else a proxy sends is hashed to fit. */
function boundedAddress(address: string): string {
  return address.length <= 64 && /^[0-9A-Za-z.:%_-]*$/.test(address) ? address : `h:${createHash("sha256").update(address).digest("hex").slice(0, 32)}`;
}

export interface LockoutVerdict {
  locked: boolean;
  /** When the blocking window ends (ms since the epoch); meaningful when locked. */
  retryAtMs: number;
}

export class AuthLockout {
  /** Buckets known to be over their limit, until their window ends (this instance's knowledge). */
  private readonly over = new Map<string, number>();

  constructor(
    private readonly counters: WindowCounters,
    private readonly limits: LockoutLimits,
    private readonly now: () => number = Date.now,
    private readonly maxRemembered = 100_000,
  ) {
    for (const b of failureBuckets("0".repeat(12), "0".repeat(64), limits)) if (b.name.length > MAX_BUCKET_LENGTH) throw new Error("lockout bucket names exceed the counter bucket length");
  }

  /** For requests without a key of ours: refused before anything else while their address is over. */
  keylessBlockedUntil(address: string): number | null {
    const [b] = failureBuckets(null, address, this.limits);
    return this.knownOver((b as Bucket).name);
  }

  /** Counts one failure; says whether it is past a limit (answer 429 instead of the failure). */
  async fail(knownKeyId: string | null, address: string): Promise<LockoutVerdict> {
    const buckets = failureBuckets(knownKeyId, address, this.limits);
    let retryAtMs = 0;
    const toCount: Bucket[] = [];
    for (const b of buckets) {
      const until = this.knownOver(b.name);
      if (until === null) toCount.push(b);
      else retryAtMs = Math.max(retryAtMs, until);
    }
    const counted = await Promise.all(toCount.map((b) => this.counters.add(b.name, this.limits.windowMs).then((c) => ({ b, c }))));
    for (const { b, c } of counted) {
      if (c.count > b.limit) {
        this.remember(b.name, c.resetAtMs);
        retryAtMs = Math.max(retryAtMs, c.resetAtMs);
      }
    }
    return { locked: retryAtMs > 0, retryAtMs };
  }

  private knownOver(name: string): number | null {
    const until = this.over.get(name);
    if (until === undefined) return null;
    if (until <= this.now()) {
      this.over.delete(name);
      return null;
    }
    return until;
  }

  private remember(name: string, until: number): void {
    if (this.over.size >= this.maxRemembered) {
      const now = this.now();
      for (const [k, u] of this.over) if (u <= now) this.over.delete(k);
      if (this.over.size >= this.maxRemembered) this.over.delete(this.over.keys().next().value as string);
    }
    this.over.set(name, until);
  }
}
