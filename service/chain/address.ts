/** EVM addresses compared as 20-byte values: the index stores them checksummed, callers may not. */
export function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
