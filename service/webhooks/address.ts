/**
 * Where we deliver: an endpoint URL is http(s) without credentials, and its host must not be a
 * private, loopback, link-local or otherwise internal address unless the operator allows it
 * (WEBHOOK_ALLOW_PRIVATE, which the local demo sets). The host is checked when the endpoint is
 * saved (a literal address) and again at every connection, on the address DNS returned, inside the
 * socket's own lookup, so a name that later resolves inward (DNS rebinding) is refused as well.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { WebhookErrors } from "./errors.js";

const internal = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24],
  ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) internal.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8], ["2001:db8::", 32], ["64:ff9b::", 96]] as const) internal.addSubnet(net, bits, "ipv6");

/** Is this IP address one we refuse to call (unless private addresses are allowed)? */
export function isInternalAddress(address: string): boolean {
  const v = isIP(address);
  if (v === 4) return internal.check(address, "ipv4");
  if (v === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1] !== undefined) return internal.check(mapped[1], "ipv4");
    return internal.check(address, "ipv6");
  }
  return true;
}

const refuse = (message: string) => WebhookErrors.urlRefused(message, { fields: [{ field: "url", message }] });

/** Validates an endpoint URL as saved; returns it normalised. */
export function checkEndpointUrl(raw: string, allowPrivate: boolean): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw refuse("must be an absolute http or https URL");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw refuse("must use https (or http)");
  if (u.protocol === "http:" && !allowPrivate) throw refuse("must use https (http is allowed only with WEBHOOK_ALLOW_PRIVATE)");
  if (u.username !== "" || u.password !== "") throw refuse("must not carry credentials");
  if (u.hash !== "") throw refuse("must not have a fragment");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!allowPrivate) {
    if (isIP(host) !== 0 && isInternalAddress(host)) throw refuse(`${host} is a private or internal address`);
    if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".internal") || host.endsWith(".local")) throw refuse(`${host} names an internal host`);
  }
  return u.toString();
}

/** A socket lookup that refuses internal addresses (for names; literal addresses are checked by `checkConnectHost`). */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, "", 4);
      const list = addresses;
      const ok = allowPrivate ? list : list.filter((a) => !isInternalAddress(a.address));
      if (ok.length === 0) {
        const e = Object.assign(new Error(`${hostname} resolves to a private or internal address (${list.map((a) => a.address).join(", ")})`), { code: "ENT_WEBHOOK_ADDRESS_REFUSED" });
        return callback(e, "", 4);
      }
      if (options.all === true) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
      const first = ok[0] as LookupAddress;
      return callback(null, first.address, first.family);
    });
  };
}

/** A literal IP host at connection time (the lookup is not consulted for those). */
export function checkConnectHost(hostname: string, allowPrivate: boolean): string | null {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (!allowPrivate && isIP(host) !== 0 && isInternalAddress(host)) return `${host} is a private or internal address`;
  return null;
}
