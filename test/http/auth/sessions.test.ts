import { describe, expect, it } from "vitest";
import { csrfMatches, csrfTokenOf, parseCookies, sessionCookie, sha256Hex } from "../../../service/http/auth/sessions.js";

describe("console session helpers", () => {
  it("parses a Cookie header: first occurrence wins, quotes dropped, pairs without = ignored", () => {
    const c = parseCookies(' theme=dark ; entrepot_session=abc;entrepot_session=later; flag; q="v w"; =nameless');
    expect([...c]).toEqual([
      ["theme", "dark"],
      ["entrepot_session", "abc"],
      ["q", "v w"],
    ]);
    expect(parseCookies(undefined).size).toBe(0);
    expect(parseCookies("").size).toBe(0);
  });

  it("writes the session cookie HttpOnly, SameSite=Strict, Path=/, Secure over https; clearing sets Max-Age=0", () => {
    expect(sessionCookie("tok", false)).toBe("entrepot_session=tok; HttpOnly; SameSite=Strict; Path=/");
    expect(sessionCookie("tok", true)).toBe("entrepot_session=tok; HttpOnly; SameSite=Strict; Path=/; Secure");
    expect(sessionCookie(null, true)).toBe("entrepot_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure");
  });

  it("derives the CSRF token from the session token only, and matches it against its stored hash", () => {
    const a = csrfTokenOf("A".repeat(43));
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(csrfTokenOf("A".repeat(43))).toBe(a);
    expect(csrfTokenOf("B".repeat(43))).not.toBe(a);
    expect(csrfMatches(a, sha256Hex(a))).toBe(true);
    expect(csrfMatches(`${a}x`, sha256Hex(a))).toBe(false);
    expect(csrfMatches(undefined, sha256Hex(a))).toBe(false);
    expect(csrfMatches("x".repeat(1000), sha256Hex(a))).toBe(false);
  });
});
