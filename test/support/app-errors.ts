/**
 * AppError assertions: the error a call throws or a promise rejects with (or just its code), and
 * everything an error could show in a log (to prove a secret is never in it). Anything that is not
 * an AppError is rethrown; no error at all fails the test.
 */
import { inspect } from "node:util";
import { isAppError, type AppError } from "../../service/errors.js";

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

/** The code of the AppError `fn` throws. */
export function thrownCode(fn: () => unknown): string {
  return caught(fn).code;
}

/** The code of the AppError `p` rejects with. */
export async function rejectionCode(p: Promise<unknown>): Promise<string> {
  return (await rejected(p)).code;
}

/** Everything an error could show in a log: message, details, fields, cause, inspect and JSON. */
export function everything(e: AppError): string {
  return [e.message, JSON.stringify(e.details ?? {}), JSON.stringify(e.fields ?? []), String(e.cause), inspect(e, { depth: 10 }), JSON.stringify(e)].join("\n");
}
