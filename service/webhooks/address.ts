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
// IPv6 ranges refused whatever they hold. ::/96 covers the unspecified and loopback addresses and
// the deprecated IPv4-compatible form (::a.b.c.d, which some stacks still route as IPv4); NAT64
// (64:ff9b::/96, 64:ff9b:1::/48) and Teredo (2001::/32) reach IPv4 hosts through a relay whose
// side of the network we cannot judge. fec0::/10, site-local (deprecated by RFC 3879), is still
// routed inside some networks as their own.
for (const [net, bits] of [
  ["::", 96], ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8], ["2001:db8::", 32], ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["2001::", 32],
] as const) internal.addSubnet(net, bits, "ipv6");

/** The IPv4 address an IPv6 address carries as IPv4-mapped (::ffff:0:0/96) or 6to4 (2002::/16), if any. */
function embeddedIPv4(address: string): string | null {
  const b = ipv6Bytes(address);
  if (b === null) return null;
  const quad = (i: number) => `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`;
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return quad(12);
  if (b[0] === 0x20 && b[1] === 0x02) return quad(2);
  return null;
}

/** The 16 bytes of a valid IPv6 address (hex groups, one `::`, an optional dotted IPv4 tail). */
function ipv6Bytes(address: string): Uint8Array | null {
  let text = address.toLowerCase();
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail !== null) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest, extra] = text.split("::");
  if (extra !== undefined || head === undefined) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const fill = 8 - left.length - right.length;
  if (rest === undefined ? fill !== 0 : fill < 1) return null;
  const all = [...left, ...new Array<number>(fill).fill(0), ...right];
  if (all.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

/** Is this IP address one we refuse to call (unless private addresses are allowed)? */
export function isInternalAddress(address: string): boolean {
  const v = isIP(address);
  if (v === 4) return internal.check(address, "ipv4");
  if (v === 6) {
    const inner = embeddedIPv4(address);
    if (inner !== null && internal.check(inner, "ipv4")) return true;
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
  // "localhost." is "localhost": the root's trailing dot names the same host.
  const host = u.hostname.replace(/^\[|\]$/g, "").replace(/\.+$/, "");
  if (!allowPrivate) {
    if (isIP(host) !== 0 && isInternalAddress(host)) throw refuse(`${host} is a private or internal address`);
    if (host === "" || host === "localhost" || host.endsWith(".localhost") || host.endsWith(".internal") || host.endsWith(".local")) throw refuse(`${u.hostname} names an internal host`);
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
