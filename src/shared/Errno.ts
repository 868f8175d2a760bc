/**
 * The `code` of a Node.js system error (`ENOENT`, `EEXIST`, `ERR_BUFFER_TOO_LARGE`, ...), read
 * without a type assertion: whatever was thrown, a string `code` or `undefined`.
 */
import { Predicate } from "effect"

/** The string `code` property of a thrown value, when it has one (Node's system errors do). */
export const errnoCode = (cause: unknown): string | undefined =>
  Predicate.hasProperty(cause, "code") && typeof cause.code === "string" ? cause.code : undefined

/** Whether a thrown value is a Node.js error with this `code`. */
export const hasErrnoCode = (cause: unknown, code: string): boolean => errnoCode(cause) === code
