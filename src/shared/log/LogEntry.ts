/**
 * One entry of a registry's publish log and its leaf bytes: the operation (publish, yank, unyank,
 * delete), the package name and version, the archive's SHA-256 and size, and the time. The leaf
 * is the UTF-8 text `fm-log-entry/v1\nOP\nNAME\nVERSION\nSHA256\nSIZE\nTIME\n`, which both the
 * server (appending) and the client (checking a proof) compute from the same fields.
 * @since 0.1.0
 */
import { Schema } from "effect"
import { leafHash } from "./Merkle.js"

/**
 * The operations the log records.
 * @since 0.1.0
 * @category models
 */
export const LogOperation = Schema.Literal("publish", "yank", "unyank", "delete")

/**
 * One of the operations the log records.
 * @since 0.1.0
 * @category models
 */
export type LogOperation = typeof LogOperation.Type

const Field = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256), Schema.pattern(/^[^\s\p{Cc}]+$/u))

/**
 * A log entry as the API sends it (`sha256` lowercase hex, `time` ISO-8601).
 * @since 0.1.0
 * @category models
 */
export class LogEntry extends Schema.Class<LogEntry>("LogEntry")({
  index: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  operation: LogOperation,
  name: Field,
  version: Field,
  sha256: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/)),
  size: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  time: Field
}) {}

/**
 * The fields of an entry that its leaf hash covers.
 * @since 0.1.0
 * @category models
 */
export type LogEntryFields = Omit<LogEntry, "index">

/**
 * The leaf bytes of an entry.
 * @since 0.1.0
 */
export const entryLeaf = (entry: LogEntryFields): Uint8Array =>
  new TextEncoder().encode(
    `fm-log-entry/v1\n${entry.operation}\n${entry.name}\n${entry.version}\n${entry.sha256}\n${entry.size}\n${entry.time}\n`
  )

/**
 * The leaf hash of an entry (RFC 6962 leaf hash of its leaf bytes).
 * @since 0.1.0
 */
export const entryLeafHash = (entry: LogEntryFields): Uint8Array => leafHash(entryLeaf(entry))
