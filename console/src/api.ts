/**
 * The console's one door to the service: the public /v1 API, with the session cookie the sign-in
 * set (the page never holds the API key after signing in) and the CSRF token on every write.
 * A problem document becomes an `ApiError` with its stable code and the fields it names.
 */

export interface Session {
  keyId: string;
  name: string;
  scopes: string[];
  gateway: string | null;
  csrfToken: string;
  idleTimeoutSeconds: number;
  expiresAt: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: { field: string; message: string }[] = [],
    /** The problem's `details`, where the service sends some (e.g. the positions a close left unrevalued). */
    readonly details: unknown = undefined,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined | null>;

let csrfToken: string | null = null;
/** Called when the service says the session is gone (expired, signed out elsewhere, key revoked). */
let onSignedOut: () => void = () => undefined;

export function onSessionEnd(fn: () => void): void {
  onSignedOut = fn;
}

export function url(path: string, query: Query = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s === "" ? path : `${path}?${s}`;
}

async function problem(res: Response): Promise<ApiError> {
  let body: { code?: string; detail?: string; title?: string; errors?: { field: string; message: string }[]; details?: unknown } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(res.status, body.code ?? `HTTP_${res.status}`, body.detail ?? body.title ?? res.statusText, body.errors ?? [], body.details);
}

/**
 * `fetch`, with a request that reached no answer (the service stopped, the network down: the
 * browser says only "Failed to fetch") turned into an ApiError that says so in words, and, for a
 * write, that it may or may not have been applied.
 */
async function reach(input: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(input, init);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    const method = (init.method ?? "GET").toUpperCase();
    // Signing in changes nothing the reader needs to check.
    const write = method !== "GET" && method !== "HEAD" && input !== "/v1/sessions";
    throw new ApiError(
      0,
      "UNREACHABLE",
      write
        ? "The service could not be reached: this change may or may not have been applied. Reload the page to see where it stands before trying again."
        : "The service could not be reached (it may be stopped or restarting, or the network is down): try again in a moment.",
    );
  }
}

const SESSION_GONE = new Set(["ENT_AUTH_SESSION_INVALID", "ENT_AUTH_SESSION_EXPIRED", "ENT_AUTH_MISSING_KEY", "ENT_AUTH_INVALID_KEY", "ENT_AUTH_REVOKED_KEY"]);

export async function request(method: string, path: string, opts: { query?: Query; body?: unknown; accept?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: opts.accept ?? "application/json" };
  if (opts.body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken !== null) headers["x-csrf-token"] = csrfToken;
  const res = await reach(url(path, opts.query), {
    method,
    headers,
    credentials: "same-origin",
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
  });
  if (!res.ok) {
    const e = await problem(res);
    if (res.status === 401 && SESSION_GONE.has(e.code) && !path.startsWith("/v1/sessions")) onSignedOut();
    throw e;
  }
  return res;
}

export async function get<T>(path: string, query: Query = {}): Promise<T> {
  return (await (await request("GET", path, { query })).json()) as T;
}

export async function send<T>(method: "POST" | "PUT" | "DELETE", path: string, body?: unknown, query: Query = {}): Promise<T | null> {
  const res = await request(method, path, { query, ...(body === undefined ? {} : { body }) });
  return res.status === 204 ? null : ((await res.json()) as T);
}

export async function signIn(key: string): Promise<Session> {
  const res = await reach("/v1/sessions", { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify({ key }), credentials: "same-origin" });
  if (!res.ok) throw await problem(res);
  const s = (await res.json()) as Session;
  csrfToken = s.csrfToken;
  return s;
}

/** The session the cookie holds, or null when there is none (or it ended). */
export async function currentSession(): Promise<Session | null> {
  const res = await reach("/v1/sessions/current", { headers: { accept: "application/json" }, credentials: "same-origin" });
  if (res.status === 401) return null;
  if (!res.ok) throw await problem(res);
  const s = (await res.json()) as Session;
  csrfToken = s.csrfToken;
  return s;
}

export async function signOut(): Promise<void> {
  try {
    await request("DELETE", "/v1/sessions/current");
  } finally {
    csrfToken = null;
  }
}

/**
 * A file upload with progress (fetch reports none): the report body streamed as text/csv.
 * `onProgress` receives the fraction sent, 0..1.
 */
export function upload<T>(path: string, query: Query, file: Blob, contentType: string, onProgress: (sent: number) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url(path, query));
    xhr.setRequestHeader("content-type", contentType);
    xhr.setRequestHeader("accept", "application/json");
    if (csrfToken !== null) xhr.setRequestHeader("x-csrf-token", csrfToken);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(xhr.responseText) as Record<string, unknown>;
      } catch {
        // not JSON
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body as T);
      } else {
        const code = typeof body["code"] === "string" ? body["code"] : `HTTP_${xhr.status}`;
        const detail = typeof body["detail"] === "string" ? body["detail"] : xhr.statusText;
        reject(new ApiError(xhr.status, code, detail, (body["errors"] as { field: string; message: string }[] | undefined) ?? []));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "NETWORK", "the upload failed: the service could not be reached"));
    xhr.send(file);
  });
}

/** Whether the session's key may do finance writes (imports, runs, resolutions). */
export function canWrite(s: Session | null): boolean {
  return s !== null && (s.scopes.includes("finance:write") || s.scopes.includes("admin"));
}

/**
 * Whether the session's key may read webhook endpoints and deliveries: the read routes take admin,
 * gateway:write or finance:read (which finance:write implies; service/http/routes/webhooks.ts).
 */
export function canReadWebhooks(s: Session | null): boolean {
  return s !== null && ["admin", "gateway:write", "finance:read", "finance:write"].some((scope) => s.scopes.includes(scope));
}

/**
 * Whether the session may disable, enable, test and redeliver. A key with gateway:write must sign
 * those writes (plugins/auth.ts mustSign), which a session cannot: only an admin key without it.
 */
export function canManageWebhooks(s: Session | null): boolean {
  return s !== null && s.scopes.includes("admin") && !s.scopes.includes("gateway:write");
}

/** Whether the session may run bank payouts now (POST /v1/payouts/bank/runs takes admin: an operator's key, not finance's). */
export function canRunBankPayouts(s: Session | null): boolean {
  return s !== null && s.scopes.includes("admin");
}
