/**
 * RFC 9457 problem documents. `type` is a relative URI that resolves to this service's own
 * catalogue entry (`GET /problems/<code>`), so every code is dereferenceable without the internet.
 */
import { Type, type Static } from "typebox";
import { type AppError, type FieldIssue } from "../errors.js";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: "URI of the problem type: /problems/<code>" }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String({ description: "The request path that failed" }),
    code: Type.String({ description: "Stable machine code, ENT_<AREA>_<WHAT>" }),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: "Problem", description: "RFC 9457 problem details" },
);
export type Problem = Static<typeof ProblemSchema>;

export function problemType(code: string): string {
  return `/problems/${code}`;
}

export function problemOf(e: AppError, instance: string, requestId: string, statusOverride?: number): Problem {
  const p: Problem = {
    type: problemType(e.code),
    title: e.title,
    status: statusOverride ?? e.status,
    detail: e.message,
    instance,
    code: e.code,
    requestId,
  };
  if (e.fields !== undefined && e.fields.length > 0) p.errors = e.fields.map((f: FieldIssue) => ({ field: f.field, message: f.message }));
  if (e.details !== undefined && Object.keys(e.details).length > 0) p.details = jsonSafe(e.details) as Record<string, unknown>;
  return p;
}

/** Details may carry bigints or dates from domain errors; JSON has neither. */
function jsonSafe(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}
