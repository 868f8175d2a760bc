/**
 * A gzip tar reader (ustar, pax and GNU long names) and a deterministic gzip tar writer.
 * @internal
 */
import * as fs from "node:fs"
import { pipeline } from "node:stream/promises"
import * as zlib from "node:zlib"
import { ArchiveFailure, formatBytes, NameRegistry, normalizeEntryPath } from "./paths.js"
import type { ByteSource, ScanOptions, ScannedEntry, ScanResult } from "./types.js"
import type { PackFile, WrittenEntry } from "./zip.js"

const BLOCK = 512
const MAX_META = 1024 * 1024
const MAX_TRAILING = 16 * 1024 * 1024

/** Pulls exact byte counts out of an async chunk iterator. */
class ByteReader {
  private pending: Buffer = Buffer.alloc(0)
  constructor(private readonly iterator: AsyncIterator<Buffer>) {}

  private async fill(): Promise<boolean> {
    const next = await this.iterator.next()
    if (next.done === true) return false
    this.pending = this.pending.length === 0 ? next.value : Buffer.concat([this.pending, next.value])
    return true
  }

  /** Exactly `n` bytes; `undefined` at a clean end of input; throws when input ends mid-way. */
  async exact(n: number): Promise<Buffer | undefined> {
    while (this.pending.length < n) {
      if (!(await this.fill())) {
        if (this.pending.length === 0) return undefined
        throw new ArchiveFailure("truncated tar data")
      }
    }
    const out = this.pending.subarray(0, n)
    this.pending = this.pending.subarray(n)
    return out
  }

  /** `n` bytes in pieces. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n
    while (left > 0) {
      if (this.pending.length === 0 && !(await this.fill())) throw new ArchiveFailure("truncated tar data")
      const piece = this.pending.subarray(0, Math.min(left, this.pending.length))
      this.pending = this.pending.subarray(piece.length)
      left -= piece.length
      yield piece
    }
  }

  /**
   * Reads what is left after the end-of-archive marker: zero padding only (tar pads to its record
   * size), at most `max` bytes; anything else (such as entries hidden after the marker) is refused.
   */
  async drainPadding(max: number): Promise<void> {
    let chunk: Buffer | undefined = this.pending
    this.pending = Buffer.alloc(0)
    let total = 0
    while (chunk !== undefined) {
      total += chunk.length
      if (total > max) throw new ArchiveFailure(`more than ${formatBytes(max)} of padding after the end of the tar archive`)
      if (!isZero(chunk)) throw new ArchiveFailure("data after the end of the tar archive (only zero padding may follow it)")
      const next: IteratorResult<Buffer> = await this.iterator.next()
      chunk = next.done === true ? undefined : next.value
    }
  }
}

const isZero = (b: Buffer): boolean => {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false
  return true
}

const cString = (b: Buffer, at: number, length: number): Buffer => {
  const field = b.subarray(at, at + length)
  const nul = field.indexOf(0)
  return nul < 0 ? field : field.subarray(0, nul)
}

const parseNumber = (b: Buffer, at: number, length: number): number => {
  const field = b.subarray(at, at + length)
  if ((field[0] & 0x80) !== 0) {
    // GNU base-256
    let v = BigInt(field[0] & 0x7f)
    for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i])
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ArchiveFailure("corrupt tar header: number too large")
    return Number(v)
  }
  const text = field.toString("latin1").replace(/[\0 ]+$/g, "").replace(/^[ ]+/g, "")
  if (text === "") return 0
  if (!/^[0-7]+$/.test(text)) throw new ArchiveFailure("corrupt tar header: bad number field")
  return parseInt(text, 8)
}

const checksumOk = (header: Buffer): boolean => {
  const stored = parseNumber(header, 148, 8)
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : header[i]
    unsigned += byte
    signed += byte > 127 ? byte - 256 : byte
  }
  return stored === unsigned || stored === signed
}

const parsePax = (data: Buffer): Map<string, string> => {
  const out = new Map<string, string>()
  let pos = 0
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos)
    if (space < 0) break
    const length = parseInt(data.subarray(pos, space).toString("latin1"), 10)
    if (!Number.isFinite(length) || length <= 0 || pos + length > data.length) {
      throw new ArchiveFailure("corrupt pax extended header")
    }
    const record = data.subarray(space + 1, pos + length - 1).toString("utf8")
    const eq = record.indexOf("=")
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1))
    pos += length
  }
  return out
}

const utf8 = new TextDecoder("utf-8", { fatal: true })
const decodeName = (b: Buffer): string => {
  try {
    return utf8.decode(b)
  } catch {
    throw new ArchiveFailure(`entry name is not valid UTF-8 (${b.toString("latin1")})`)
  }
}

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK

const refusedType = (type: string): string | undefined => {
  switch (type) {
    case "1":
      return "is a hard link; packages cannot contain links"
    case "2":
      return "is a symbolic link; packages cannot contain links"
    case "3":
      return "is a character device; packages cannot contain device files"
    case "4":
      return "is a block device; packages cannot contain device files"
    case "6":
      return "is a FIFO; packages cannot contain special files"
    default:
      return undefined
  }
}

/** Walks a gzip tar archive in one streaming pass. */
export const scanTar = async (source: ByteSource, options: ScanOptions): Promise<ScanResult> => {
  const { limits, signal } = options
  const gzSize = source.size
  const ratioBound = limits.maxCompressionRatio * Math.max(gzSize, 1)
  const entries: Array<ScannedEntry> = []
  const names = new NameRegistry()
  let unpacked = 0
  const parse = async (source: AsyncIterable<Buffer>): Promise<void> => {
    const reader = new ByteReader(source[Symbol.asyncIterator]())
    let headers = 0
    let longName: string | undefined
    let pax = new Map<string, string>()
    const readMeta = async (size: number, what: string): Promise<Buffer> => {
      if (size > MAX_META) throw new ArchiveFailure(`${what} larger than ${formatBytes(MAX_META)}`)
      const data = await reader.exact(size + padding(size))
      if (data === undefined && size > 0) throw new ArchiveFailure("truncated tar data")
      return (data ?? Buffer.alloc(0)).subarray(0, size)
    }
    for (;;) {
      if (signal.aborted) throw new ArchiveFailure("interrupted")
      const header = await reader.exact(BLOCK)
      if (header === undefined) throw new ArchiveFailure("truncated: the tar archive ends without its end marker")
      if (isZero(header)) {
        const second = await reader.exact(BLOCK)
        if (second !== undefined && !isZero(second)) throw new ArchiveFailure("corrupt tar: data after a zero block")
        break
      }
      if (++headers > limits.maxEntries * 4 + 16) {
        throw new ArchiveFailure(`has more than ${limits.maxEntries} entries (the entry limit)`)
      }
      if (!checksumOk(header)) throw new ArchiveFailure("corrupt tar header (checksum mismatch)")
      const type = header[156] === 0 ? "0" : String.fromCharCode(header[156])
      const headerSize = parseNumber(header, 124, 12)
      if (type === "x") {
        pax = parsePax(await readMeta(headerSize, "pax header"))
        continue
      }
      if (type === "g") {
        await readMeta(headerSize, "pax global header")
        continue
      }
      if (type === "L") {
        longName = decodeName(cString(await readMeta(headerSize, "GNU long name"), 0, headerSize))
        continue
      }
      if (type === "K") {
        await readMeta(headerSize, "GNU long link name")
        continue
      }
      const ustar = header.subarray(257, 263).toString("latin1") === "ustar\0"
      const headerName = (): string => {
        const baseName = decodeName(cString(header, 0, 100))
        const prefix = ustar ? decodeName(cString(header, 345, 155)) : ""
        return prefix === "" ? baseName : `${prefix}/${baseName}`
      }
      const rawName = pax.get("path") ?? longName ?? headerName()
      const paxSize = pax.get("size")
      const size = paxSize === undefined ? headerSize : Number(paxSize)
      if (!Number.isSafeInteger(size) || size < 0) throw new ArchiveFailure("corrupt tar header: bad size", rawName)
      pax = new Map()
      longName = undefined
      const refused = refusedType(type)
      if (refused !== undefined) throw new ArchiveFailure(refused, rawName)
      if (type !== "0" && type !== "7" && type !== "5") {
        throw new ArchiveFailure(`unsupported tar entry type '${type}'`, rawName)
      }
      const isDirectory = type === "5"
      const path = normalizeEntryPath(rawName, isDirectory)
      if (path === undefined) {
        for await (const _ of reader.take(size + padding(size))) void _
        continue
      }
      if (entries.length >= limits.maxEntries) {
        throw new ArchiveFailure(`has more than ${limits.maxEntries} entries (the entry limit)`)
      }
      const entry: ScannedEntry = {
        path,
        type: isDirectory ? "directory" : "file",
        size,
        compressedSize: size,
        executable: (parseNumber(header, 100, 8) & 0o111) !== 0
      }
      names.add(path, entry.type)
      entries.push(entry)
      if (isDirectory) {
        if (size !== 0) throw new ArchiveFailure("is a directory with data", path)
        if (options.onDirectory !== undefined) await options.onDirectory(entry)
        continue
      }
      unpacked += size
      if (unpacked > limits.maxUnpackedBytes) {
        throw new ArchiveFailure(
          `would unpack to more than ${formatBytes(limits.maxUnpackedBytes)} (the unpacked-size limit)`
        )
      }
      if (unpacked > ratioBound) {
        throw new ArchiveFailure(
          `compression ratio is over the limit of ${limits.maxCompressionRatio}:1 (a possible gzip bomb)`
        )
      }
      const sink = options.sinkFor === undefined ? undefined : await options.sinkFor(entry)
      for await (const piece of reader.take(size)) {
        if (sink !== undefined) await sink.write(piece)
      }
      if (padding(size) > 0) await reader.exact(padding(size)).then((p) => {
        if (p === undefined) throw new ArchiveFailure("truncated tar data")
      })
      if (sink !== undefined) await sink.close()
    }
    await reader.drainPadding(MAX_TRAILING)
  }
  // pipeline() can reject before the last stage settles; wait for it so no write is still running
  let parsing: Promise<void> | undefined
  try {
    await pipeline(
      source.chunks(),
      zlib.createGunzip({ chunkSize: 64 * 1024 }),
      (source: AsyncIterable<Buffer>) => (parsing = parse(source))
    )
  } catch (e) {
    await parsing?.catch(() => undefined)
    if (e instanceof ArchiveFailure) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code === "Z_BUF_ERROR" || code === "Z_DATA_ERROR") {
      throw new ArchiveFailure(`truncated or corrupt gzip data (${(e as Error).message})`)
    }
    throw e
  }
  return { format: "tar", entries }
}

// ---------------------------------------------------------------------------------------------
// Writer

const octal = (value: number, length: number): string => value.toString(8).padStart(length - 1, "0") + "\0"

const header = (name: Buffer, prefix: Buffer, size: number, mode: number, type: string): Buffer => {
  const h = Buffer.alloc(BLOCK)
  name.copy(h, 0)
  h.write(octal(mode, 8), 100, "latin1")
  h.write(octal(0, 8), 108, "latin1")
  h.write(octal(0, 8), 116, "latin1")
  h.write(octal(size, 12), 124, "latin1")
  h.write(octal(0, 12), 136, "latin1")
  h.write("        ", 148, "latin1")
  h.write(type, 156, "latin1")
  h.write("ustar\u000000", 257, "latin1")
  prefix.copy(h, 345)
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += h[i]
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1")
  return h
}

const paxRecord = (key: string, value: string): Buffer => {
  const body = ` ${key}=${value}\n`
  const bodyLength = Buffer.byteLength(body)
  // the record length counts its own digits
  let length = bodyLength + 1
  while (bodyLength + String(length).length !== length) length = bodyLength + String(length).length
  return Buffer.from(`${length}${body}`, "utf8")
}

/** The longest tail of `path` that fits in `max` bytes (a fallback name for pax-aware readers). */
const tailWithin = (path: string, max: number): Buffer => {
  let tail = path
  while (Buffer.byteLength(tail) > max) tail = tail.slice(1)
  return Buffer.from(tail, "utf8")
}

/** Header block(s) for one file: ustar when the name fits (with prefix), else a pax `path` record. */
const headersFor = (path: string, size: number, mode: number): Buffer => {
  const full = Buffer.from(path, "utf8")
  if (full.length <= 100) return header(full, Buffer.alloc(0), size, mode, "0")
  for (let i = full.indexOf(0x2f); i >= 0; i = full.indexOf(0x2f, i + 1)) {
    if (i <= 155 && full.length - i - 1 <= 100 && full.length - i - 1 > 0) {
      return header(full.subarray(i + 1), full.subarray(0, i), size, mode, "0")
    }
  }
  const pax = paxRecord("path", path)
  const paxHeader = header(Buffer.from("././@PaxHeader"), Buffer.alloc(0), pax.length, 0o644, "x")
  const short = header(tailWithin(path, 100), Buffer.alloc(0), size, mode, "0")
  return Buffer.concat([paxHeader, pax, Buffer.alloc(padding(pax.length)), short])
}

/** A gzip header with no timestamp, no file name and OS "unknown", so output is byte-stable. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])

/**
 * Writes a deterministic gzip tar: entries in the given order, mtime 0, uid/gid 0, no owner
 * names, modes 0644/0755, a fixed gzip header.
 */
export const writeTarGz = async (
  out: fs.promises.FileHandle,
  files: ReadonlyArray<PackFile>,
  signal: AbortSignal
): Promise<Array<WrittenEntry>> => {
  const written: Array<WrittenEntry> = []
  let crc = 0
  let total = 0
  let position = 0
  const write = async (chunk: Buffer): Promise<void> => {
    await out.write(chunk, 0, chunk.length, position)
    position += chunk.length
  }
  async function* tarBytes(): AsyncGenerator<Buffer> {
    for (const file of files) {
      if (signal.aborted) throw new ArchiveFailure("interrupted")
      const { size } = await fs.promises.stat(file.source)
      if (size <= 1024 * 1024) {
        const data = await fs.promises.readFile(file.source)
        if (data.length !== size) throw new ArchiveFailure("file changed while packing", file.path)
        yield Buffer.concat([
          headersFor(file.path, size, file.executable ? 0o755 : 0o644),
          data,
          Buffer.alloc(padding(size))
        ])
        written.push({ path: file.path, size, compressedSize: size })
        continue
      }
      yield headersFor(file.path, size, file.executable ? 0o755 : 0o644)
      let seen = 0
      for await (const chunk of fs.createReadStream(file.source, { highWaterMark: 1024 * 1024 })) {
        const buffer = chunk as Buffer
        seen += buffer.length
        if (seen > size) throw new ArchiveFailure("file changed while packing", file.path)
        yield buffer
      }
      if (seen !== size) throw new ArchiveFailure("file changed while packing", file.path)
      if (padding(size) > 0) yield Buffer.alloc(padding(size))
      written.push({ path: file.path, size, compressedSize: size })
    }
    yield Buffer.alloc(BLOCK * 2)
  }
  await write(GZIP_HEADER)
  await pipeline(
    tarBytes(),
    async function*(source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        crc = zlib.crc32(chunk, crc)
        total += chunk.length
        yield chunk
      }
    },
    zlib.createDeflateRaw({ level: 6 }),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) await write(chunk)
    }
  )
  const trailer = Buffer.alloc(8)
  trailer.writeUInt32LE(crc >>> 0, 0)
  trailer.writeUInt32LE(total % 0x100000000, 4)
  await write(trailer)
  return written
}
