/**
 * Types shared by the archive internals.
 * @internal
 */
import type { ArchiveLimits } from "../ArchiveLimits.js"

/** An entry as seen by a reader, after validation. */
export interface ScannedEntry {
  readonly path: string
  readonly type: "file" | "directory"
  readonly size: number
  readonly compressedSize: number
  /** Whether any execute bit was set in the archive. */
  readonly executable: boolean
}

/** Where an entry's bytes go. `close` is called once all bytes were written and checked. */
export interface Sink {
  readonly write: (chunk: Buffer) => Promise<void> | void
  readonly close: () => Promise<void> | void
}

/** What a reader does while it walks an archive. */
export interface ScanOptions {
  readonly limits: ArchiveLimits
  readonly signal: AbortSignal
  /** ZIP: inflate and CRC-check every entry even without a sink (tar always reads everything). */
  readonly verifyAll: boolean
  /** A sink for a file entry's bytes, or `undefined` to skip (or only verify) them. */
  readonly sinkFor?: ((entry: ScannedEntry) => Promise<Sink | undefined> | Sink | undefined) | undefined
  /** Called for each directory entry. */
  readonly onDirectory?: ((entry: ScannedEntry) => Promise<void> | void) | undefined
}

/** What a reader found. */
export interface ScanResult {
  readonly format: "zip" | "tar"
  readonly entries: ReadonlyArray<ScannedEntry>
}

/**
 * The bytes of an archive being read: a file on disk, or a buffer already in memory (an upload).
 * `readAt` returns exactly `length` bytes (or fails on a short file); `chunks` streams it all.
 */
export interface ByteSource {
  /** How to name the archive in errors. */
  readonly label: string
  readonly size: number
  readonly readAt: (position: number, length: number) => Promise<Buffer>
  readonly chunks: () => AsyncIterable<Buffer>
}

/** Where a writer that writes front to back puts its bytes: appended, in order, to the output. */
export interface Appender {
  readonly append: (chunk: Buffer) => Promise<void>
}
