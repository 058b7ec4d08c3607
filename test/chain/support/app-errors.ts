/**
 * AppError assertions for the key tests: the error a call throws or a promise rejects
 * with, and everything an error could show in a log (to prove a secret is never in it).
 */
import { inspect } from "node:util";
import { isAppError, type AppError } from "../../../service/errors.js";

export function caught(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    if (isAppError(e)) return e;
    throw e;
  }
  throw new Error("expected an error");
}

export async function rejected(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

/** Everything an error could show in a log: message, details, fields, cause, inspect and JSON. */
export function everything(e: AppError): string {
  return [e.message, JSON.stringify(e.details ?? {}), JSON.stringify(e.fields ?? []), String(e.cause), inspect(e, { depth: 10 }), JSON.stringify(e)].join("\n");
}
