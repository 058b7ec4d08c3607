/** CSV as RFC 4180 writes it: a field is quoted when it holds a quote, a comma or a line break; lines end in CRLF. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/** One CSV line; null is an empty field. */
export function csvLine(values: ReadonlyArray<string | number | bigint | null>): string {
  return `${values.map((v) => csvField(v === null ? "" : String(v))).join(",")}\r\n`;
}
