/**
 * Reads the gzip tar format through node-tar (`tar`): its `Parser` reads entries (ustar, pax, GNU
 * long names). A thin layer keeps fm's own rules where node-tar is lenient: entry types and names,
 * sizes and limits, one end-of-archive marker followed by zero padding only. The writer is
 * `tarWriter.ts`.
 * @internal
 */
import { pipeline } from "node:stream/promises"
import * as zlib from "node:zlib"
// node-tar's parser module alone: its main entry is all of node-tar (pack, unpack, file system
// helpers) in one minified module that every tar read would load and compile
import { Parser } from "tar/parse"
import type { ReadEntry } from "tar/read-entry"
import type {} from "./zstdTypes.js"
import { formatBytesExact } from "../../shared/ByteSize.js"
import { ArchiveFailure, NameRegistry, normalizeEntryPath } from "./paths.js"
import type { ByteSource, ScannedEntry, ScanOptions, ScanResult, Sink } from "./types.js"

const BLOCK = 512
const MAX_META = 1024 * 1024
const MAX_TRAILING = 16 * 1024 * 1024
const ZEROS = Buffer.alloc(64 * 1024)

/** Why an entry type is refused, by node-tar's type name; `undefined` for files and directories. */
const refusedType = (type: string): string | undefined => {
  switch (type) {
    case "File":
    case "OldFile":
    case "ContiguousFile":
    case "Directory":
      return undefined
    case "Link":
      return "is a hard link; packages cannot contain links"
    case "SymbolicLink":
      return "is a symbolic link; packages cannot contain links"
    case "CharacterDevice":
      return "is a character device; packages cannot contain device files"
    case "BlockDevice":
      return "is a block device; packages cannot contain device files"
    case "FIFO":
      return "is a FIFO; packages cannot contain special files"
    default:
      return `unsupported tar entry type '${type}'`
  }
}

/** node-tar's warnings, each a refusal here (node-tar alone would skip the entry and go on). */
const warning = (code: string, message: string | Error): ArchiveFailure => {
  const text = typeof message === "string" ? message : message.message
  if (text === "checksum failure") return new ArchiveFailure("corrupt tar header (checksum mismatch)")
  if (/^Truncated input/.test(text)) return new ArchiveFailure("truncated tar data")
  return new ArchiveFailure(`corrupt tar (${code}: ${text})`)
}

/** The index just past the last non-zero byte of `b` (0 when `b` is all zeros). */
const endOfData = (b: Buffer): number => {
  let i = b.length
  while (i > 0 && b[i - 1] === 0) i--
  return i
}

/**
 * Feeds the decompressed tar stream to node-tar's parser and checks what it ignores: nothing but
 * zero padding (at most 16 MiB) may follow the end-of-archive marker. Runs of zeros are held back
 * and fed only when more data follows them, so the parser sees the marker in a write that ends on
 * a non-zero byte exactly when data follows the marker.
 */
class TarFeed {
  private heldZeros = 0
  private fed = 0
  ended = false
  failure: unknown = undefined

  /** `settle` is the work the parser's events queued (sink writes), `undefined` when none: the backpressure. */
  constructor(
    private readonly parser: Parser,
    private readonly maxTarBytes: number,
    private readonly settle: () => Promise<void> | undefined
  ) {
    parser.on("eof", () => {
      this.ended = true
    })
  }

  fail(e: unknown): void {
    if (this.failure === undefined) this.failure = e
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure
  }

  private checkBounds(): void {
    if (this.fed + this.heldZeros > this.maxTarBytes) {
      throw new ArchiveFailure(`tar stream larger than ${formatBytesExact(this.maxTarBytes)} (the unpacked-size limit)`)
    }
    if (this.ended && this.heldZeros > MAX_TRAILING) {
      throw new ArchiveFailure(
        `more than ${formatBytesExact(MAX_TRAILING)} of padding after the end of the tar archive`
      )
    }
  }

  /** The parser takes every byte at once (entries flow into their listeners); then the sinks catch up. */
  private async write(b: Buffer): Promise<void> {
    this.fed += b.length
    this.checkBounds()
    this.parser.write(b)
    this.check()
    const pending = this.settle()
    if (pending !== undefined) {
      await pending
      this.check()
    }
  }

  private async feedZeros(): Promise<void> {
    while (this.heldZeros > 0 && !this.ended) {
      const piece = Math.min(this.heldZeros, ZEROS.length)
      this.heldZeros -= piece
      await this.write(ZEROS.subarray(0, piece))
    }
    this.checkBounds()
  }

  async push(chunk: Buffer): Promise<void> {
    this.check()
    const end = endOfData(chunk)
    if (end === 0) {
      this.heldZeros += chunk.length
      return this.checkBounds()
    }
    if (this.ended) throw new ArchiveFailure("data after the end of the tar archive (only zero padding may follow it)")
    await this.feedZeros()
    if (this.ended) throw new ArchiveFailure("data after the end of the tar archive (only zero padding may follow it)")
    await this.write(chunk.subarray(0, end))
    // the write ended on a non-zero byte: if the parser saw the marker in it, data follows the marker
    if (this.ended) throw new ArchiveFailure("data after the end of the tar archive (only zero padding may follow it)")
    this.heldZeros = chunk.length - end
  }

  /** Feeds the held zeros (they may complete an entry or form the marker) and requires the marker. */
  async finish(): Promise<void> {
    this.check()
    await this.feedZeros()
    this.check()
    if (!this.ended) throw new ArchiveFailure("truncated: the tar archive ends without its end marker")
  }
}

/** Walks a gzip tar archive in one streaming pass. */
export const scanTar = async (source: ByteSource, options: ScanOptions): Promise<ScanResult> => {
  const { limits, signal } = options
  const ratioBound = limits.maxCompressionRatio * Math.max(source.size, 1)
  const entries: Array<ScannedEntry> = []
  const names = new NameRegistry()
  let unpacked = 0
  let headers = 0
  let afterZeroBlock = false
  const parser = new Parser({ maxMetaEntrySize: MAX_META, brotli: false, zstd: false })
  // bounds the work on headers that carry no file bytes (a flood of empty pax headers)
  /** The sink work still running, in archive order; `undefined` when none is. */
  let work: Promise<void> | undefined
  const feed = new TarFeed(parser, limits.maxUnpackedBytes + (limits.maxEntries * 4 + 16) * 4 * BLOCK, () => work)
  const countHeader = (): void => {
    if (afterZeroBlock) throw new ArchiveFailure("corrupt tar: data after a zero block")
    if (++headers > limits.maxEntries * 4 + 16) {
      throw new ArchiveFailure(`has more than ${limits.maxEntries} entries (the entry limit)`)
    }
  }
  const guard = (f: () => void): void => {
    try {
      f()
    } catch (e) {
      feed.fail(e)
    }
  }
  parser.on("warn", (code: string, message: string | Error) => feed.fail(warning(code, message)))
  parser.on("error", (e: unknown) => feed.fail(e))
  parser.on("nullBlock", () => {
    afterZeroBlock = true
  })
  parser.on("meta", () => guard(countHeader))
  parser.on("ignoredEntry", (entry: ReadEntry) =>
    feed.fail(
      entry.meta
        ? new ArchiveFailure(`${entry.type} larger than ${formatBytesExact(MAX_META)}`)
        : new ArchiveFailure(refusedType(entry.type) ?? "ignored tar entry", entry.path)
    ))

  /** Validates one entry as node-tar announces it (in archive order); `undefined` to skip it. */
  const validate = (entry: ReadEntry): ScannedEntry | undefined => {
    countHeader()
    const rawName = entry.path
    if (rawName.includes("\uFFFD")) throw new ArchiveFailure("entry name is not valid UTF-8", rawName)
    const size = entry.header.size
    if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
      throw new ArchiveFailure("corrupt tar header: bad size", rawName)
    }
    const refused = refusedType(entry.type)
    if (refused !== undefined) throw new ArchiveFailure(refused, rawName)
    const isDirectory = entry.type === "Directory"
    const path = normalizeEntryPath(rawName, isDirectory)
    if (path === undefined) return undefined
    if (entries.length >= limits.maxEntries) {
      throw new ArchiveFailure(`has more than ${limits.maxEntries} entries (the entry limit)`)
    }
    const scanned: ScannedEntry = {
      path,
      type: isDirectory ? "directory" : "file",
      size,
      compressedSize: size,
      executable: ((entry.mode ?? 0) & 0o111) !== 0
    }
    names.add(path, scanned.type)
    entries.push(scanned)
    if (isDirectory) return scanned
    unpacked += size
    if (unpacked > limits.maxUnpackedBytes) {
      throw new ArchiveFailure(
        `would unpack to more than ${formatBytesExact(limits.maxUnpackedBytes)} (the unpacked-size limit)`
      )
    }
    if (unpacked > ratioBound) {
      throw new ArchiveFailure(
        `compression ratio is over the limit of ${limits.maxCompressionRatio}:1 (a possible gzip bomb)`
      )
    }
    return scanned
  }

  /** Sink steps waiting behind the one running, in archive order (from `next` on). */
  let steps: Array<(() => unknown) | undefined> = []
  let next = 0

  /** Awaits `running`, then runs the waiting steps in order, awaiting those that return a promise; never rejects. */
  const drain = async (running: Promise<unknown>): Promise<void> => {
    try {
      await running
      while (next < steps.length && feed.failure === undefined) {
        const step = steps[next]
        steps[next++] = undefined
        const result = step?.()
        if (result instanceof Promise) await result
      }
    } catch (e) {
      feed.fail(e)
    }
    steps = []
    next = 0
    work = undefined
  }

  /**
   * Runs `f` in archive order; the first failure stops the rest. With nothing running `f` runs at
   * once (most entries of an `open` have no sink, and a synchronous step needs no promise); when
   * it returns a promise, later steps wait in a list that one loop works through (a promise chain
   * cost two promises and three closures a step).
   */
  const then = (f: () => unknown): void => {
    if (feed.failure !== undefined) return
    if (work !== undefined) {
      steps.push(f)
      return
    }
    try {
      const result = f()
      if (result instanceof Promise) work = drain(result)
    } catch (e) {
      feed.fail(e)
    }
  }

  /**
   * Lets node-tar drop an entry's bytes: `ignore` makes it skip them (no emit per piece), flowing
   * so that its end still comes. A short entry leaves no end marker: refused by `finish()`.
   */
  const skip = (entry: ReadEntry): void => {
    entry.ignore = true
    entry.resume()
  }

  /** Routes a validated file's bytes to its sink as node-tar emits them, in order, and checks the count. */
  const consume = (entry: ReadEntry, scanned: ScannedEntry): void => {
    let sink: Sink | undefined
    /** Whether `sink` is known to be none: its pieces need not be queued. */
    let noSink = options.sinkFor === undefined
    let seen = 0
    if (!noSink) {
      then(() => {
        const chosen = options.sinkFor?.(scanned)
        if (chosen instanceof Promise) {
          return chosen.then((s) => {
            sink = s
          })
        }
        sink = chosen
        noSink = sink === undefined
      })
    }
    if (noSink) return skip(entry)
    entry.on("data", (piece: Buffer) => {
      seen += piece.length
      if (!noSink) then(() => sink?.write(piece))
    })
    entry.on("end", () =>
      then(() => {
        if (seen !== scanned.size) throw new ArchiveFailure("truncated tar data", scanned.path)
        return sink?.close()
      }))
  }

  parser.on("entry", (entry: ReadEntry) => {
    let scanned: ScannedEntry | undefined
    try {
      if (feed.failure === undefined) scanned = validate(entry)
    } catch (e) {
      feed.fail(e)
    }
    if (feed.failure !== undefined || scanned === undefined) return skip(entry)
    if (scanned.type === "directory") {
      skip(entry)
      const directory = scanned
      if (options.onDirectory !== undefined) then(() => options.onDirectory?.(directory))
      return
    }
    consume(entry, scanned)
  })

  let first = true
  const parse = async (chunks: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of chunks) {
      if (signal.aborted) throw new ArchiveFailure("interrupted")
      // node-tar would gunzip a second time a stream that starts like gzip; a tar name cannot
      if (first && chunk.length > 0) {
        if (chunk[0] === 0x1f) throw new ArchiveFailure("name contains a control character")
        first = false
      }
      await feed.push(chunk)
    }
    await feed.finish()
    while (work !== undefined) await work
    if (feed.failure !== undefined) throw feed.failure
  }
  let parsing: Promise<void> | undefined
  try {
    await pipeline(
      source.chunks(),
      // large pieces: each is a round trip to zlib's thread and one write into node-tar's parser
      zlib.createGunzip({ chunkSize: 256 * 1024 }),
      (chunks: AsyncIterable<Buffer>) => (parsing = parse(chunks).catch((e) => {
        feed.fail(e)
        throw e
      }))
    )
  } catch (e) {
    // the first failure (pipeline() may report only the abort it caused)
    feed.fail(e)
    await parsing?.catch(() => undefined)
    while (work !== undefined) await work
    const failure = feed.failure
    if (isZlibError(failure)) throw new ArchiveFailure(`truncated or corrupt gzip data (${failure.message})`)
    throw failure
  }
  return { format: "tar", entries }
}

const isZlibError = (e: unknown): e is Error & { readonly code: string } =>
  e instanceof Error && "code" in e && (e.code === "Z_BUF_ERROR" || e.code === "Z_DATA_ERROR")
