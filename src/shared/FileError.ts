/**
 * A failed file-system operation (read, write, stat, rename, ...) naming the file involved.
 * @since 0.1.0
 */
import { Data } from "effect"
import { fieldOf } from "./Fields.js"

/**
 * A file-system operation failed. `message` reads `<operation> <file>: <reason>`.
 * @since 0.1.0
 * @category errors
 */
export class FileError extends Data.TaggedError("FileError")<{
  /** The file or directory the operation was applied to. */
  readonly file: string
  /** What was attempted, e.g. `read`, `write`, `rename`. */
  readonly operation: string
  /** Why it failed (usually the OS error text). */
  readonly reason: string
}> {
  override get message(): string {
    return `${this.operation} ${this.file}: ${this.reason}`
  }
}

/**
 * Builds a {@link FileError} from an unknown thrown value (usually a Node `SystemError`).
 * @since 0.1.0
 * @category constructors
 */
export const fileError = (file: string, operation: string, cause: unknown): FileError =>
  new FileError({ file, operation, reason: describeCause(cause) })

/** What Node and @effect/platform call a file-system refusal, in words. */
const REASONS: Readonly<Record<string, string>> = {
  PermissionDenied: "permission denied",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  NotFound: "no such file or directory",
  ENOENT: "no such file or directory",
  AlreadyExists: "already exists",
  EEXIST: "already exists",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  ENOSPC: "no space left on the device",
  EROFS: "read-only file system",
  Busy: "busy",
  TimedOut: "timed out",
  InvalidData: "invalid data",
  UnexpectedEof: "unexpected end of file",
  BadResource: "not usable"
}

/**
 * The words for a file-system refusal (`PermissionDenied`, `EACCES`), or undefined.
 * @since 0.1.0
 */
export const describeSystemReason = (reason: string): string | undefined => REASONS[reason]

const field = fieldOf

/**
 * A short human text for a thrown or failed value: for an OS error or @effect/platform's
 * SystemError, the refusal in words (`permission denied`) without the library's names and
 * paths (the caller names the file); otherwise the message.
 * @since 0.1.0
 */
export const describeCause = (cause: unknown): string => {
  const code = field(cause, "code")
  const reason = field(cause, "reason")
  if (field(cause, "_tag") === "SystemError" && typeof reason === "string") {
    return describeSystemReason(reason) ?? reason
  }
  if (cause instanceof Error) {
    const text = cause.message
    return typeof code === "string" && !text.startsWith(code) ? `${code}: ${text}` : text
  }
  return String(cause)
}
