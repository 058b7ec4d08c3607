/**
 * Report timestamps -> epoch milliseconds. Adyen writes "2024-12-02 09:00:00" plus a TimeZone
 * column holding the account's zone as an abbreviation ("CET", "BST", "PST"...) or an IANA name;
 * Stripe's `*_utc` columns are UTC. Abbreviations that name two different offsets in common use
 * (IST, CST, AST, BST-outside-Europe...) are NOT guessed: only the unambiguous ones below are
 * accepted, and an IANA name always works.
 */

const HOUR = 3_600_000;

/** Unambiguous zone abbreviations -> offset from UTC in minutes. */
const ABBREVIATIONS: Record<string, number> = {
  UTC: 0,
  GMT: 0,
  Z: 0,
  WET: 0,
  WEST: 60,
  BST: 60, // British Summer Time (Adyen's accounts in the UK)
  CET: 60,
  CEST: 120,
  MET: 60,
  MEST: 120,
  EET: 120,
  EEST: 180,
  MSK: 180,
  PST: -480,
  PDT: -420,
  MST: -420,
  MDT: -360,
  EST: -300,
  EDT: -240,
  AKST: -540,
  AKDT: -480,
  HST: -600,
  BRT: -180,
  ART: -180,
  HKT: 480,
  SGT: 480,
  JST: 540,
  KST: 540,
  AEST: 600,
  AEDT: 660,
  NZST: 720,
  NZDT: 780,
};

const OFFSET = /^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$/;

const ianaValid = new Map<string, boolean>();
const offsetCache = new Map<string, number>();
const days = new Map<string, number | null>();
// Rows come roughly in time order: the previous row's day and hour usually apply again.
let lastDay = "\u0000";
let lastDayMs = 0;
let lastHour = Number.NaN;
let lastZone = "";
let lastOffset = 0;

function two(s: string, at: number): number {
  const a = s.charCodeAt(at) - 48;
  const b = s.charCodeAt(at + 1) - 48;
  return a < 0 || a > 9 || b < 0 || b > 9 ? -1 : a * 10 + b;
}

/** "YYYY-MM-DD" -> epoch ms of its midnight (UTC), or null when not a real date. */
function dayMs(d: string): number | null {
  let v = days.get(d);
  if (v !== undefined) {
    if (v !== null) {
      lastDay = d;
      lastDayMs = v;
    }
    return v;
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  v = null;
  if (m !== null) {
    const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    const x = new Date(t);
    if (x.getUTCFullYear() === Number(m[1]) && x.getUTCMonth() === Number(m[2]) - 1 && x.getUTCDate() === Number(m[3])) v = t;
  }
  if (days.size > 100_000) days.clear();
  days.set(d, v);
  if (v !== null) {
    lastDay = d;
    lastDayMs = v;
  }
  return v;
}

/** Offset (minutes) of a zone at a UTC instant, or null when the zone is unknown. */
export function zoneOffsetMinutes(zone: string, utcMs: number): number | null {
  const fixed = ABBREVIATIONS[zone];
  if (fixed !== undefined) return fixed;
  const m = OFFSET.exec(zone);
  if (m !== null) {
    const minutes = Number(m[2]) * 60 + Number(m[3] ?? "0");
    if (minutes > 14 * 60) return null;
    return m[1] === "-" ? -minutes : minutes;
  }
  if (!zone.includes("/")) return null;
  return ianaOffset(zone, utcMs);
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const ianaCache = new Map<string, number>();

function ianaOffset(zone: string, utcMs: number): number | null {
  let valid = ianaValid.get(zone);
  if (valid === undefined) {
    try {
      formatters.set(zone, new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }));
      valid = true;
    } catch {
      valid = false;
    }
    ianaValid.set(zone, valid);
  }
  if (!valid) return null;
  // Offsets change at most on the hour in practice; one computation per zone and hour.
  const key = `${zone}|${Math.floor(utcMs / HOUR)}`;
  const hit = ianaCache.get(key);
  if (hit !== undefined) return hit;
  const parts = formatters.get(zone)!.formatToParts(new Date(utcMs));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? "0");
  const local = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  const offset = Math.round((local - Math.floor(utcMs / 1000) * 1000) / 60_000);
  if (ianaCache.size > 100_000) ianaCache.clear();
  ianaCache.set(key, offset);
  return offset;
}

/**
 * "YYYY-MM-DD HH:MM:SS" (optionally ".fff", or "T" instead of the space, or a date alone) read as
 * wall-clock time in `zone` -> epoch ms; "invalid" for a malformed or impossible date, "zone" for
 * an unknown zone. A string with its own "Z"/offset suffix is taken as such (zone ignored).
 */
export function parseReportTime(s: string, zone: string): number | "invalid" | "zone" {
  // Fast path for the common "YYYY-MM-DD HH:MM:SS": the day is validated once and cached, the
  // zone's offset once per zone and hour (millions of rows share a handful of days).
  if (s.length === 19 && s.charCodeAt(10) === 32 && s.charCodeAt(13) === 58 && s.charCodeAt(16) === 58) {
    const day = s.startsWith(lastDay) ? lastDayMs : dayMs(s.slice(0, 10));
    const h = two(s, 11);
    const mi = two(s, 14);
    const sec = two(s, 17);
    if (day !== null && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && sec >= 0 && sec <= 59) {
      const wall = day + h * HOUR + mi * 60_000 + sec * 1000;
      const hour = day + h * HOUR;
      if (hour === lastHour && zone === lastZone) return wall - lastOffset * 60_000;
      const key = `${zone}|${hour}`;
      const hit = offsetCache.get(key);
      if (hit !== undefined) {
        lastHour = hour;
        lastZone = zone;
        lastOffset = hit;
        return wall - hit * 60_000;
      }
      const first = zoneOffsetMinutes(zone, wall);
      if (first === null) return "zone";
      const offset = zoneOffsetMinutes(zone, wall - first * 60_000) ?? first;
      if (offsetCache.size > 100_000) offsetCache.clear();
      // Cached per wall-clock hour: offsets change on the hour.
      offsetCache.set(key, offset);
      lastHour = hour;
      lastZone = zone;
      lastOffset = offset;
      return wall - offset * 60_000;
    }
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(s);
  if (m === null) return "invalid";
  const [, y, mo, d, h = "0", mi = "0", sec = "0", frac = "", suffix] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(sec);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return "invalid";
  const ms = frac === "" ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  const wall = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC rolls 2024-02-31 over to March: refuse impossible dates.
  if (new Date(wall).getUTCDate() !== day) return "invalid";
  if (suffix !== undefined) {
    const off = zoneOffsetMinutes(suffix === "Z" ? "Z" : suffix, wall);
    return off === null ? "invalid" : wall - off * 60_000;
  }
  // The offset in force at the local wall time: evaluate at the wall time read as UTC, then
  // correct once (exact except inside the skipped/repeated hour of a DST change).
  const first = zoneOffsetMinutes(zone, wall);
  if (first === null) return "zone";
  const second2 = zoneOffsetMinutes(zone, wall - first * 60_000);
  return wall - (second2 ?? first) * 60_000;
}
