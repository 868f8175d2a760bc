/**
 * A failed file-system operation (read, write, stat, rename, ...) naming the file involved.
 * @since 0.1.0
 */
import { Data } from "effect"

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

/**
 * A short human text for a thrown value: the OS error code and message when present.
 * @since 0.1.0
 */
export const describeCause = (cause: unknown): string => {
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code
    const text = cause.message
    return code !== undefined && !text.startsWith(code) ? `${code}: ${text}` : text
  }
  return String(cause)
}
