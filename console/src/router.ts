/**
 * Every view has its own URL under /console (bookmarkable, shareable, the back button works). A
 * small history router: the routes are a table of patterns, the search string is the view's state.
 */
import { useEffect, useState } from "preact/hooks";

export const BASE = "/console";

export interface Location {
  /** The path below /console, e.g. "/settlements/6". */
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  const p = window.location.pathname;
  const path = p.startsWith(BASE) ? p.slice(BASE.length) || "/" : "/";
  return { path, query: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const href = to.startsWith(BASE) ? to : `${BASE}${to}`;
  if (opts.replace === true) window.history.replaceState(null, "", href);
  else window.history.pushState(null, "", href);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return loc;
}

/** Matches "/settlements/:id" against a path: the params, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const a = pattern.split("/").filter(Boolean);
  const b = path.split("/").filter(Boolean);
  if (a.length !== b.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const seg = a[i] as string;
    const got = b[i] as string;
    if (seg.startsWith(":")) params[seg.slice(1)] = decodeURIComponent(got);
    else if (seg !== got) return null;
  }
  return params;
}

/** A view's URL with its query (empty values left out). */
export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return `${BASE}${path}${s === "" ? "" : `?${s}`}`;
}
