/**
 * A period form, shared by the views that take a period (the books' trial balance, the tax returns):
 * a month (in the reader's zone or UTC's) or the two instants, read from and written to the URL as
 * RFC 3339 instants. Its state, the edits that keep the month and the instants in step, the check
 * made when it is sent, and its fields; each view keeps its own ids (a prefix), problems and note.
 */
import type { JSX } from "preact";
import { isoToLocalInput, localInputToIso, localZoneLabel, monthBounds, monthOf, parseMonth, utcOffset } from "./format";
import { LocalTimeInput } from "./ui";

/**
 * The period form: a month (in the reader's zone or UTC's) or the two instants. The month field is
 * the browser's own (a month, then a year, each typed in its part): it is read once it is left or
 * the form is sent, never rebuilt while typed (a year's first digit is year 0002 until the rest comes).
 */
export interface PeriodForm {
  from: string;
  to: string;
  month: string;
  zone: "local" | "utc";
  /** The month was typed since the instants were last set from it. */
  monthDirty: boolean;
}

export function periodForm(fromIso: string, toIso: string): PeriodForm {
  const m = fromIso !== "" && toIso !== "" ? monthOf(fromIso, toIso) : null;
  return { from: isoToLocalInput(fromIso), to: isoToLocalInput(toIso), month: m?.month ?? "", zone: m?.zone ?? "local", monthDirty: false };
}

/** The form with its instants set from its month, or null when the month is not a complete one. */
export function fromMonth<F extends PeriodForm>(f: F): F | null {
  const b = monthBounds(f.month, f.zone);
  return b === null ? null : { ...f, ...b, monthDirty: false };
}

/** The current UTC month as two instants: a view's period before one is chosen (the ledger's periods are UTC months, not the reader's zone's). */
export function currentUtcMonth(now: Date = new Date()): { from: string; to: string } {
  return { from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString(), to: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString() };
}

export const NOT_A_MONTH = "is not a month the ledger can take: choose a month and a year of four digits";
export const NOT_AN_INSTANT = "is not a date and time the ledger can take: a day, a month, a year of four digits and a time";

type Problems = Record<string, string>;
type SetProblems = (f: (p: Problems) => Problems) => void;

/** The zone a month in the reader's zone is read in (its offset at the month's start: summer time), and that offset. */
export function periodZone(f: PeriodForm): { zoneAt: Date; offset: string } {
  const start = monthBounds(f.month, "local");
  const zoneAt = start === null ? new Date() : new Date(start.from);
  return { zoneAt, offset: utcOffset(zoneAt) };
}

/**
 * The edits of a period form whose fields are `<prefix>-month`, `<prefix>-from`, `<prefix>-to`: an
 * instant typed sets the month it makes (or none), a month left sets the instants, or says it cannot
 * be read; each clears the problems it answers.
 */
export function periodEdits<F extends PeriodForm>(prefix: string, form: F, setForm: (f: F) => void, setProblems: SetProblems) {
  return {
    setInstant(k: "from" | "to", v: string): void {
      const next = { ...form, [k]: v };
      const m = monthOf(localInputToIso(next.from) ?? "", localInputToIso(next.to) ?? "");
      setForm({ ...next, month: m?.month ?? "", zone: m?.zone ?? form.zone, monthDirty: false });
      setProblems(({ [`${prefix}-${k}`]: _, ...rest }) => rest);
    },
    applyMonth(f: F, bad: boolean): void {
      const next = fromMonth(f);
      if (next === null || bad) {
        setForm(f);
        if (f.month !== "" || bad) setProblems((p) => ({ ...p, [`${prefix}-month`]: `Month: “${f.month === "" ? "incomplete" : f.month}” ${NOT_A_MONTH}.` }));
        return;
      }
      setForm(next);
      setProblems(({ [`${prefix}-month`]: _, [`${prefix}-from`]: _f, [`${prefix}-to`]: _t, ...rest }) => rest);
    },
  };
}

/**
 * The period as sent: a month typed and not yet left sets the instants; what cannot be read is a
 * problem, by input id (an input the browser cannot read, a part left empty, has the value "": its
 * validity says so); `required` instants must be given.
 */
export function readPeriod<F extends PeriodForm>(prefix: string, form: F, inputs: HTMLFormElement, required: ReadonlyArray<"from" | "to">): { form: F; found: Problems } {
  let f = form;
  const found: Problems = {};
  const input = (id: string) => inputs.querySelector<HTMLInputElement>(`#${id}`);
  const month = `${prefix}-month`;
  if (f.monthDirty || input(month)?.validity.badInput === true) {
    const next = fromMonth(f);
    if (next === null || input(month)?.validity.badInput === true) found[month] = `Month: “${f.month === "" ? "incomplete" : f.month}” ${NOT_A_MONTH}.`;
    else f = next;
  }
  for (const [k, label, what] of [
    ["from", "Effective from", "start"],
    ["to", "Effective before", "end"],
  ] as const) {
    const id = `${prefix}-${k}`;
    const value = f[k];
    if ((value === "" && input(id)?.validity.badInput === true) || (value !== "" && localInputToIso(value) === null)) found[id] = `${label}: “${value === "" ? "incomplete" : value}” ${NOT_AN_INSTANT}.`;
    else if (value === "" && required.includes(k)) found[id] = `${label}: enter the period's ${what}.`;
  }
  return { form: f, found };
}

/** The period's fields (month, the zone it is read in, the two instants), as `periodEdits` edits them. */
export function PeriodFields<F extends PeriodForm>(props: {
  prefix: string;
  form: F;
  setForm: (f: F) => void;
  edits: ReturnType<typeof periodEdits<F>>;
  invalid: (id: string) => boolean;
  describedBy: (id: string) => string | undefined;
}): JSX.Element {
  const { prefix, form, setForm, edits, invalid, describedBy } = props;
  const { zoneAt, offset } = periodZone(form);
  const id = (k: string) => `${prefix}-${k}`;
  return (
    <>
      <div>
        <label for={id("month")}>
          Month <span class="zone">({form.zone === "utc" ? "UTC" : localZoneLabel(zoneAt)})</span>
        </label>
        <input
          id={id("month")}
          type="month"
          value={form.month}
          aria-invalid={invalid(id("month")) ? true : undefined}
          aria-describedby={describedBy(id("month"))}
          // Kept as typed; the period is set from it when the field is left (or the form sent).
          onInput={(e) => setForm({ ...form, month: (e.target as HTMLInputElement).value, monthDirty: true })}
          onBlur={(e) => {
            const bad = (e.target as HTMLInputElement).validity.badInput;
            if (form.monthDirty || bad) edits.applyMonth(form, bad);
          }}
        />
      </div>
      <div>
        <label for={id("month-zone")}>Month in</label>
        <select
          id={id("month-zone")}
          value={form.zone}
          aria-describedby={offset === "UTC+00:00" ? undefined : id("month-note")}
          onChange={(e) => {
            const f = { ...form, zone: (e.target as HTMLSelectElement).value === "utc" ? ("utc" as const) : ("local" as const) };
            if (parseMonth(f.month) === null) setForm(f);
            else edits.applyMonth(f, false);
          }}
        >
          <option value="local">your zone</option>
          <option value="utc">UTC, the ledger's periods</option>
        </select>
      </div>
      <div>
        <LocalTimeInput id={id("from")} label="Effective from" value={form.from} onInput={(v) => edits.setInstant("from", v)} invalid={invalid(id("from"))} describedBy={describedBy(id("from"))} />
      </div>
      <div>
        <LocalTimeInput id={id("to")} label="Effective before" value={form.to} onInput={(v) => edits.setInstant("to", v)} invalid={invalid(id("to"))} describedBy={describedBy(id("to"))} />
      </div>
    </>
  );
}
