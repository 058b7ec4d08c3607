/** The console's shared pieces: links, amounts, times, loading and error states, pagination. */
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";
import { formatAmount, formatLocal, formatMoney, localZoneLabel, rateAsOf, utcTitle, withLocalInstants } from "./format";
import { href, navigate, type Location } from "./router";

export function Link(props: { href: string; children: ComponentChildren; class?: string; "aria-current"?: "page" | undefined }): JSX.Element {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(props.href);
  };
  return (
    <a href={props.href} onClick={onClick} class={props.class} aria-current={props["aria-current"]}>
      {props.children}
    </a>
  );
}

/** An amount in minor units, shown in major units; the raw minor units on hover. */
export function Money(props: { minor: string | bigint | null | undefined; currency: string; code?: boolean }): JSX.Element {
  if (props.minor === null || props.minor === undefined) return <span class="muted">–</span>;
  const raw = typeof props.minor === "bigint" ? props.minor.toString() : props.minor;
  const negative = raw.startsWith("-");
  return (
    <span class={`money${negative ? " negative" : ""}`} title={`${raw} minor units of ${props.currency}`}>
      {props.code === false ? formatAmount(raw, props.currency) : formatMoney(raw, props.currency)}
    </span>
  );
}

/** An instant in the reader's zone; UTC on hover. */
export function Time(props: { iso: string | null | undefined }): JSX.Element {
  if (props.iso === null || props.iso === undefined) return <span class="muted">–</span>;
  return (
    <time dateTime={props.iso} title={utcTitle(props.iso)}>
      {formatLocal(props.iso)}
    </time>
  );
}

export function Loading(): JSX.Element {
  return (
    <p class="muted" role="status" aria-live="polite">
      Loading…
    </p>
  );
}

/** What a form found it cannot read before sending anything, by input id: one alert listing each problem. */
export function FormProblems(props: { id: string; problems: Readonly<Record<string, string>>; children: string }): JSX.Element | null {
  if (Object.keys(props.problems).length === 0) return null;
  return (
    <div class="error" role="alert" id={props.id}>
      {props.children}
      <ul>
        {Object.entries(props.problems).map(([id, message]) => (
          <li key={id}>{message}</li>
        ))}
      </ul>
    </div>
  );
}

/**
 * A problem document: its message in words, each field it names with that field's messages, and
 * its stable code last and smaller (a reader reads the words; the code is for a search or a ticket).
 * `labels` names a form's fields in words (the label the reader filled in), keyed by the field path
 * the service answers with ("body.before", "query.at"); the path stays beside it. An instant in a
 * message is shown in the reader's zone too: the fields were entered in it. `id` makes the box a
 * place focus can be moved to.
 */
export function ErrorBox(props: { error: unknown; labels?: Readonly<Record<string, string>>; id?: string }): JSX.Element {
  const e = props.error;
  const code = e instanceof ApiError ? e.code : null;
  // One line per field, its messages together (a value can fail a pattern and a format at once).
  const fields = new Map<string, string[]>();
  for (const f of e instanceof ApiError ? e.fields : []) fields.set(f.field, [...(fields.get(f.field) ?? []), f.message]);
  // A validation problem's detail is its fields again in one sentence ("1 invalid field: query.market
  // must match ..."): the list below says it once.
  const message =
    code === "ENT_REQUEST_VALIDATION" && fields.size > 0 ? `${fields.size === 1 ? "A value was" : `${fields.size} values were`} not accepted:` : e instanceof Error ? e.message : String(e);
  return (
    <div class="error" role="alert" id={props.id} tabIndex={props.id === undefined ? undefined : -1}>
      {withLocalInstants(message)}
      {fields.size > 0 && (
        <ul>
          {[...fields].map(([field, messages]) => (
            <li key={field}>
              {props.labels?.[field] === undefined ? (
                <code>{field}</code>
              ) : (
                <>
                  {props.labels[field]} (<code>{field}</code>)
                </>
              )}
              : {messages.map((m) => withLocalInstants(m)).join("; ")}
            </li>
          ))}
        </ul>
      )}
      {code !== null && (
        <small class="code">
          {" "}
          <code>{code}</code>
        </small>
      )}
    </div>
  );
}

/**
 * Moves focus once the next render is on screen: an action that replaces the control it was
 * started from (a form's Review button becomes its confirmation) would otherwise leave focus on the
 * page's body. `focusLater(id)` focuses the element with that id after the render it causes.
 */
export function useFocusLater(): (id: string) => void {
  const pending = useRef<string | null>(null);
  const [, setTick] = useState(0);
  useEffect(() => {
    const id = pending.current;
    if (id === null) return;
    const el = document.getElementById(id);
    if (el === null) return; // not rendered yet (still loading): tried again on the next render
    pending.current = null;
    el.focus();
  });
  return useCallback((id: string) => {
    pending.current = id;
    setTick((t) => t + 1);
  }, []);
}

/**
 * A confirmation's two buttons: the action (its label while it runs) and the way back to the form,
 * both disabled while it runs. Every confirmation step (a close, a cancellation, a run, a
 * resolution, disabling an endpoint) ends with this pair.
 */
export function ConfirmActions(props: { busy: boolean; label: string; busyLabel: string; onConfirm: () => void; back?: string; onBack: () => void; id?: string }): JSX.Element {
  return (
    <p class="actions">
      <button type="button" id={props.id} disabled={props.busy} onClick={props.onConfirm}>
        {props.busy ? props.busyLabel : props.label}
      </button>{" "}
      <button type="button" class="secondary" disabled={props.busy} onClick={props.onBack}>
        {props.back ?? "Back"}
      </button>
    </p>
  );
}

/**
 * An import form's upload: the file chosen, its progress, the service's answer or its error.
 * `submit` sends the file with `send`; on an answer it calls `onDone` and moves focus to the answer
 * (`ids.result`), on an error to the error (`ids.error`).
 */
export function useUpload<T>(send: (file: File, onProgress: (sent: number) => void) => Promise<T>, ids: { result: string; error: string }, onDone: () => void) {
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<T | null>(null);
  const [busy, setBusy] = useState(false);
  const focusLater = useFocusLater();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (file === null) return;
    setError(null);
    setResult(null);
    setProgress(0);
    setBusy(true);
    try {
      setResult(await send(file, setProgress));
      onDone();
      focusLater(ids.result);
    } catch (err) {
      setError(err);
      setProgress(null);
      focusLater(ids.error);
    } finally {
      setBusy(false);
    }
  };
  return { file, setFile, progress, error, result, busy, submit };
}

/**
 * Focuses the view's main heading as soon as it is on screen (a view may load before it renders its
 * title), so a keyboard or screen reader user starts on the page's heading rather than the body
 * (after a sign-in, whose form is gone). Gives up after `timeoutMs`, or when focus was put
 * elsewhere meanwhile.
 */
export function focusHeadingWhenShown(timeoutMs = 10_000): void {
  const start = document.activeElement;
  const end = Date.now() + timeoutMs;
  const attempt = () => {
    const moved = document.activeElement !== start && document.activeElement !== document.body && document.activeElement !== null;
    if (moved || Date.now() > end) return;
    const h = document.getElementById(PAGE_HEADING_ID);
    if (h === null) {
      window.setTimeout(attempt, 50);
      return;
    }
    h.focus();
  };
  window.setTimeout(attempt, 0);
}

export type Loaded<T> = { state: "loading" } | { state: "error"; error: unknown } | { state: "ok"; value: T };

/** Loads `fn` whenever `deps` change; the latest call wins (a slow old answer never overwrites a new one). */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): [Loaded<T>, () => void] {
  const [state, setState] = useState<Loaded<T>>({ state: "loading" });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState({ state: "loading" });
    fn().then(
      (value) => mine === seq.current && setState({ state: "ok", value }),
      (error: unknown) => mine === seq.current && setState({ state: "error", error }),
    );
  }, [...deps, tick]);
  return [state, useCallback(() => setTick((t) => t + 1), [])];
}

/**
 * A filter form's values that follow the URL: edited freely, and read again from the URL whenever it
 * changes (Back, Forward, a link), so the form never shows a filter the list is not filtered by.
 */
export function useUrlForm<T>(fromUrl: () => T, urlKey: string): [T, (next: T) => void] {
  const [form, setForm] = useState<T>(fromUrl);
  useEffect(() => setForm(fromUrl()), [urlKey]);
  return [form, setForm];
}

/**
 * A datetime-local input labelled with the reader's zone; its value is local time (format.ts
 * `isoToLocalInput` and `localInputToIso` convert), so the instant shown is the instant queried.
 * `invalid` marks it (aria-invalid) and names the message that says why (`describedBy`); `seconds`
 * lets it take seconds and milliseconds.
 */
export function LocalTimeInput(props: { id: string; label: string; value: string; onInput: (value: string) => void; disabled?: boolean; invalid?: boolean; describedBy?: string; seconds?: boolean }): JSX.Element {
  const at = props.value === "" ? new Date() : new Date(props.value);
  return (
    <>
      <label for={props.id}>
        {props.label} <span class="zone">({localZoneLabel(Number.isNaN(at.getTime()) ? new Date() : at)})</span>
      </label>
      <input
        id={props.id}
        type="datetime-local"
        // A URL's instant may carry seconds; the default step (60 s) would refuse the form. `seconds`:
        // the field shows seconds and milliseconds (a period's last instant is 23:59:59.999).
        step={props.seconds === true ? "0.001" : /T[0-9]{2}:[0-9]{2}:/.test(props.value) ? "any" : undefined}
        value={props.value}
        disabled={props.disabled}
        aria-invalid={props.invalid === true ? true : undefined}
        aria-describedby={props.invalid === true ? props.describedBy : undefined}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
    </>
  );
}

/**
 * When a published FX rate is from (format.ts `rateAsOf`): a daily figure as its UTC day, any other
 * instant in the reader's zone with its UTC time beside; the whole instant on hover.
 */
export function RateAsOf(props: { iso: string }): JSX.Element {
  const r = rateAsOf(props.iso);
  return (
    <time dateTime={props.iso} title={`${utcTitle(props.iso)}${r.day ? ": a daily figure, dated by its UTC day" : ""}`}>
      {r.text}
    </time>
  );
}

/** A link that moves focus past a long list to `target` (an element with tabIndex -1), for keyboard readers. */
export function SkipLink(props: { target: string; children: ComponentChildren }): JSX.Element {
  return (
    <a
      class="skip-past"
      href={`#${props.target}`}
      onClick={(e) => {
        const el = document.getElementById(props.target);
        if (el === null) return;
        e.preventDefault();
        el.focus();
        el.scrollIntoView({ block: "start" });
      }}
    >
      {props.children}
    </a>
  );
}

/** The value of the last load that succeeded (kept while the next one loads), or undefined before any. */
export function useLastValue<T>(load: Loaded<T>): T | undefined {
  const last = useRef<T | undefined>(undefined);
  if (load.state === "ok") last.current = load.value;
  return last.current;
}

/** Renders a load's value, or its loading or error state. */
export function Show<T>(props: { load: Loaded<T>; children: (value: T) => ComponentChildren }): JSX.Element {
  if (props.load.state === "loading") return <Loading />;
  if (props.load.state === "error") return <ErrorBox error={props.load.error} />;
  return <>{props.children(props.load.value)}</>;
}

/**
 * Cursor pagination whose place is in the URL: `param` holds the cursors of the pages walked past
 * (comma-separated, each the API's opaque cursor), so a page of a list is a link like any filter,
 * and Back returns to the page before. Other query parameters are kept. A page may carry more than
 * its items and the next cursor (a count the list answers with): the load holds it as fetched.
 */
export function useUrlPages<P extends { next: string | null }>(location: Location, param: string, fetchPage: (cursor: string | null) => Promise<P>, deps: unknown[]) {
  const trailText = location.query.get(param) ?? "";
  const trail = trailText === "" ? [] : trailText.split(",");
  const cursor = trail.at(-1) ?? null;
  const [load, reload] = useLoad(() => fetchPage(cursor), [...deps, cursor]);
  const next = load.state === "ok" ? load.value.next : null;
  const go = (to: string[]) => {
    const query: Record<string, string> = {};
    for (const [k, v] of location.query) query[k] = v;
    query[param] = to.join(",");
    navigate(href(location.path, query));
  };
  return {
    load,
    reload,
    page: trail.length + 1,
    hasPrevious: trail.length > 0,
    hasNext: next !== null,
    previous: () => go(trail.slice(0, -1)),
    next: () => {
      if (next !== null) go([...trail, next]);
    },
  };
}

/**
 * A view's filters as one key, without its lists' page parameters: what a filter form and a list's
 * first page follow (turning a page keeps what the form holds; a new filter starts on page 1).
 */
export function filterKey(query: URLSearchParams, ...pageParams: string[]): string {
  const filters = new URLSearchParams(query);
  for (const p of pageParams) filters.delete(p);
  return filters.toString();
}

/** A list's page buttons; `previous` and `next` name them where the list is not newest first. */
export function Pager(props: { pages: { page: number; hasPrevious: boolean; hasNext: boolean; previous: () => void; next: () => void }; label: string; previous?: string; next?: string }): JSX.Element {
  const p = props.pages;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <button type="button" onClick={p.previous} disabled={!p.hasPrevious}>
        {props.previous ?? "← Newer"}
      </button>
      <span>Page {p.page}</span>
      <button type="button" onClick={p.next} disabled={!p.hasNext}>
        {props.next ?? "Older →"}
      </button>
    </nav>
  );
}

/** A list table's column heading: a label, or [label, "num"] for a right-aligned (numeric) column. */
export type Column = string | readonly [string, "num"];

/**
 * A list as a table: a caption (for screen readers only unless `showCaption`), one scoped heading
 * per column, and the rows the caller renders (each a `<tr>` with its key). `scrollLabel` makes the
 * box that scrolls it sideways on a narrow screen a named region a keyboard can focus and scroll.
 */
export function ListTable(props: { caption: ComponentChildren; showCaption?: boolean; columns: readonly Column[]; scrollLabel?: string; children: ComponentChildren }): JSX.Element {
  const named = props.scrollLabel !== undefined;
  return (
    <div class="scroll" tabIndex={named ? 0 : undefined} role={named ? "region" : undefined} aria-label={props.scrollLabel}>
      <table class="list">
        <caption class={props.showCaption === true ? undefined : "sr-only"}>{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) =>
              typeof c === "string" ? (
                <th key={c} scope="col">
                  {c}
                </th>
              ) : (
                <th key={c[0]} scope="col" class="num">
                  {c[0]}
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

/** A two-column list of labelled values. */
export function Fields(props: { rows: [string, ComponentChildren][] }): JSX.Element {
  return (
    <dl class="fields">
      {props.rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The id of every view's main heading (its Title): where focus goes once a sign-in has shown the view (`focusHeadingWhenShown`). */
export const PAGE_HEADING_ID = "page-h";

export function Title(props: { children: string; sub?: ComponentChildren }): JSX.Element {
  useEffect(() => {
    document.title = `${props.children} · Entrepot console`;
  }, [props.children]);
  return (
    <header class="title">
      <h1 id={PAGE_HEADING_ID} tabIndex={-1}>
        {props.children}
      </h1>
      {props.sub !== undefined && <p class="muted">{props.sub}</p>}
    </header>
  );
}

/** A state as a coloured pill; its tone read from the value (a bad word first: "unmatched" is not "matched"), or given. */
export function Badge(props: { value: string; tone?: "good" | "bad" | "neutral" }): JSX.Element {
  const tone =
    props.tone ??
    (/fail|error|revert|open|unmatched|false|rejected|returned/.test(props.value) ? "bad" : /final|posted|paid|ok|resolved|matched|safe|true/.test(props.value) ? "good" : "neutral");
  return <span class={`badge ${tone}`}>{props.value}</span>;
}

/** A short hash: 0x1234…abcd, the whole on hover. */
export function Hash(props: { value: string | null | undefined }): JSX.Element {
  if (props.value === null || props.value === undefined) return <span class="muted">–</span>;
  const v = props.value;
  return (
    <code title={v} class="hash">
      {v.length > 18 ? `${v.slice(0, 10)}…${v.slice(-6)}` : v}
    </code>
  );
}

/**
 * A file chosen by dropping it here or with the file chooser (the label is the drop zone, and
 * activates the hidden input): `prompt` until one is chosen, then its name and size.
 */
export function FileDrop(props: { id: string; accept: string; prompt: string; file: File | null; onFile: (file: File | null) => void }): JSX.Element {
  const [over, setOver] = useState(false);
  return (
    <label
      class={`drop${over ? " over" : ""}`}
      for={props.id}
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        const f = e.dataTransfer?.files[0];
        if (f !== undefined) props.onFile(f);
      }}
    >
      {props.file === null ? props.prompt : `${props.file.name} (${props.file.size.toLocaleString("en")} bytes)`}
      <input id={props.id} type="file" accept={props.accept} class="sr-only" onChange={(e) => props.onFile((e.target as HTMLInputElement).files?.[0] ?? null)} />
    </label>
  );
}

/** An upload's progress (0 to 1) while it runs; nothing otherwise. */
export function UploadProgress(props: { progress: number | null }): JSX.Element | null {
  if (props.progress === null) return null;
  return (
    <p>
      <progress max={1} value={props.progress} aria-label="Upload progress" /> {Math.round(props.progress * 100)}%
    </p>
  );
}
