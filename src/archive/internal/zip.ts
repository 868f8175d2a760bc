/**
 * A ZIP reader and a deterministic ZIP writer over node:zlib (stored and deflate; ZIP64 read).
 * @internal
 */
import * as fs from "node:fs"
import { pipeline } from "node:stream/promises"
import * as zlib from "node:zlib"
import { formatBytesExact } from "../../shared/ByteSize.js"
import { errnoCode } from "../../shared/Errno.js"
import { type PackFile, readPackFile, type WrittenEntry } from "./packFile.js"
import { ArchiveFailure, NameRegistry, normalizeEntryPath } from "./paths.js"
import type { ByteSource, ScannedEntry, ScanOptions, ScanResult, Sink } from "./types.js"

const SIG_LOCAL = 0x04034b50
const SIG_CENTRAL = 0x02014b50
const SIG_EOCD = 0x06054b50
const SIG_EOCD64 = 0x06064b50
const SIG_EOCD64_LOCATOR = 0x07064b50
const EOCD_SIZE = 22
const MAX_COMMENT = 0xffff
const MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024
/** Entries at least this big must not exceed the compression ratio on their own. */
export const RATIO_ENTRY_THRESHOLD = 1024 * 1024
const READ_CHUNK = 256 * 1024
/** Entries (and files to pack) up to this size are handled in one buffer instead of a stream. */
const SMALL_ENTRY = 1024 * 1024

interface CentralEntry extends ScannedEntry {
  readonly rawName: Buffer
  readonly method: number
  readonly flags: number
  readonly crc: number
  readonly localOffset: number
  dataStart: number
}

const utf8 = new TextDecoder("utf-8", { fatal: true })

const u64 = (b: Buffer, at: number): number => {
  const v = b.readBigUInt64LE(at)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ArchiveFailure("corrupt: a ZIP64 size or offset is too large")
  return Number(v)
}

/**
 * Where the end record starts in `tail` (the end of the file): it must end the file, or be
 * followed by zero padding only; -1 when there is none. Data after it is refused.
 */
const findEndOfCentralDirectory = (tail: Buffer): number => {
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tail.length) return i
  }
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) !== SIG_EOCD) continue
    const end = i + EOCD_SIZE + tail.readUInt16LE(i + 20)
    if (end > tail.length) continue
    if (tail.subarray(end).every((b) => b === 0)) return i
    throw new ArchiveFailure("data after the end of the ZIP archive (only zero padding may follow its end record)")
  }
  return -1
}

const describeMode = (mode: number): string | undefined => {
  switch (mode & 0o170000) {
    case 0o120000:
      return "is a symbolic link; packages cannot contain links"
    case 0o020000:
      return "is a character device; packages cannot contain device files"
    case 0o060000:
      return "is a block device; packages cannot contain device files"
    case 0o010000:
      return "is a FIFO; packages cannot contain special files"
    case 0o140000:
      return "is a socket; packages cannot contain special files"
    default:
      return undefined
  }
}

/** Reads and validates the central directory and every local header; reads no file data. */
const readDirectory = async (
  source: ByteSource,
  fileSize: number,
  options: ScanOptions
): Promise<Array<CentralEntry>> => {
  const { limits } = options
  if (fileSize < EOCD_SIZE) throw new ArchiveFailure("truncated: too short to be a ZIP archive")
  const tailLength = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT)
  const tail = await source.readAt(fileSize - tailLength, tailLength)
  const at = findEndOfCentralDirectory(tail)
  if (at < 0) throw new ArchiveFailure("truncated or corrupt ZIP: end of central directory not found")
  const eocdPos = fileSize - tailLength + at
  const eocd = tail.subarray(at, at + EOCD_SIZE)
  let diskNumber = eocd.readUInt16LE(4)
  let cdDisk = eocd.readUInt16LE(6)
  let total = eocd.readUInt16LE(10)
  let cdSize = eocd.readUInt32LE(12)
  let cdOffset = eocd.readUInt32LE(16)
  let cdEnd = eocdPos
  if (total === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    if (eocdPos < 20) throw new ArchiveFailure("corrupt ZIP64: end-of-central-directory locator missing")
    const locator = await source.readAt(eocdPos - 20, 20)
    if (locator.readUInt32LE(0) !== SIG_EOCD64_LOCATOR) {
      throw new ArchiveFailure("corrupt ZIP64: end-of-central-directory locator missing")
    }
    const recordPos = u64(locator, 8)
    if (recordPos + 56 > eocdPos - 20) throw new ArchiveFailure("corrupt ZIP64: bad end-of-central-directory offset")
    const record = await source.readAt(recordPos, 56)
    if (record.readUInt32LE(0) !== SIG_EOCD64) {
      throw new ArchiveFailure("corrupt ZIP64: end-of-central-directory record missing")
    }
    diskNumber = record.readUInt32LE(16)
    cdDisk = record.readUInt32LE(20)
    total = u64(record, 32)
    cdSize = u64(record, 40)
    cdOffset = u64(record, 48)
    cdEnd = recordPos
  }
  if (diskNumber !== 0 || cdDisk !== 0) throw new ArchiveFailure("multi-disk (split) ZIP archives are not supported")
  if (total > limits.maxEntries) {
    throw new ArchiveFailure(`has ${total} entries, more than the limit of ${limits.maxEntries}`)
  }
  if (cdOffset + cdSize !== cdEnd) {
    throw new ArchiveFailure(
      "corrupt ZIP: the central directory does not end where the end record says (truncated, or data prepended)"
    )
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY) throw new ArchiveFailure("central directory is too large")
  const cd = await source.readAt(cdOffset, cdSize)
  const entries: Array<CentralEntry> = []
  const names = new NameRegistry()
  let pos = 0
  let unpacked = 0
  let records = 0
  while (pos < cd.length) {
    if (records++ >= total) throw new ArchiveFailure("corrupt ZIP: more central directory records than declared")
    if (pos + 46 > cd.length || cd.readUInt32LE(pos) !== SIG_CENTRAL) {
      throw new ArchiveFailure("corrupt ZIP: bad central directory record")
    }
    const madeBy = cd.readUInt16LE(pos + 4)
    const flags = cd.readUInt16LE(pos + 8)
    const method = cd.readUInt16LE(pos + 10)
    const crc = cd.readUInt32LE(pos + 16)
    let compressedSize = cd.readUInt32LE(pos + 20)
    let size = cd.readUInt32LE(pos + 24)
    const nameLength = cd.readUInt16LE(pos + 28)
    const extraLength = cd.readUInt16LE(pos + 30)
    const commentLength = cd.readUInt16LE(pos + 32)
    const externalAttributes = cd.readUInt32LE(pos + 38)
    let localOffset = cd.readUInt32LE(pos + 42)
    const recordEnd = pos + 46 + nameLength + extraLength + commentLength
    if (recordEnd > cd.length) throw new ArchiveFailure("corrupt ZIP: central directory record overruns")
    const rawName = Buffer.from(cd.subarray(pos + 46, pos + 46 + nameLength))
    let name: string
    try {
      name = utf8.decode(rawName)
    } catch {
      throw new ArchiveFailure(`entry name is not valid UTF-8 (${rawName.toString("latin1")})`)
    }
    // ZIP64 extended information
    const extra = cd.subarray(pos + 46 + nameLength, pos + 46 + nameLength + extraLength)
    for (let e = 0; e + 4 <= extra.length;) {
      const id = extra.readUInt16LE(e)
      const len = extra.readUInt16LE(e + 2)
      if (e + 4 + len > extra.length) break
      if (id === 0x0001) {
        let f = e + 4
        const next = (): number => {
          if (f + 8 > e + 4 + len) throw new ArchiveFailure("corrupt ZIP64 extra field", name)
          const v = u64(extra, f)
          f += 8
          return v
        }
        if (size === 0xffffffff) size = next()
        if (compressedSize === 0xffffffff) compressedSize = next()
        if (localOffset === 0xffffffff) localOffset = next()
      }
      e += 4 + len
    }
    pos = recordEnd
    if ((flags & 0x0001) !== 0 || (flags & 0x0040) !== 0 || method === 99) {
      throw new ArchiveFailure("is encrypted; encrypted ZIP entries are not supported", name)
    }
    const host = madeBy >> 8
    const unixMode = host === 3 || host === 19 ? externalAttributes >>> 16 : 0
    const special = describeMode(unixMode)
    if (special !== undefined) throw new ArchiveFailure(special, name)
    const isDirectory = name.endsWith("/") || (unixMode & 0o170000) === 0o040000 ||
      (host === 0 && (externalAttributes & 0x10) !== 0)
    const normalized = normalizeEntryPath(name, isDirectory)
    if (normalized === undefined) continue
    if (method !== 0 && method !== 8) {
      throw new ArchiveFailure(`uses compression method ${method}; only stored (0) and deflate (8) are supported`, name)
    }
    if (isDirectory && size !== 0) throw new ArchiveFailure("is a directory with data", name)
    if (method === 0 && compressedSize !== size) {
      throw new ArchiveFailure("corrupt: stored entry with different compressed and uncompressed sizes", name)
    }
    const type = isDirectory ? "directory" as const : "file" as const
    names.add(normalized, type)
    unpacked += size
    if (unpacked > limits.maxUnpackedBytes) {
      throw new ArchiveFailure(
        `would unpack to more than ${formatBytesExact(limits.maxUnpackedBytes)} (the unpacked-size limit)`
      )
    }
    if (size >= RATIO_ENTRY_THRESHOLD && size / Math.max(compressedSize, 1) > limits.maxCompressionRatio) {
      throw new ArchiveFailure(
        `compression ratio ${Math.round(size / Math.max(compressedSize, 1))}:1 is over the limit of ` +
          `${limits.maxCompressionRatio}:1 (a possible ZIP bomb)`,
        normalized
      )
    }
    entries.push({
      path: normalized,
      type,
      size,
      compressedSize,
      executable: (unixMode & 0o111) !== 0,
      rawName,
      method,
      flags,
      crc,
      localOffset,
      dataStart: 0
    })
  }
  if (records !== total) throw new ArchiveFailure("corrupt ZIP: fewer central directory records than declared")
  if (unpacked / Math.max(fileSize, 1) > limits.maxCompressionRatio) {
    throw new ArchiveFailure(
      `compression ratio ${Math.round(unpacked / Math.max(fileSize, 1))}:1 is over the limit of ` +
        `${limits.maxCompressionRatio}:1 (a possible ZIP bomb)`
    )
  }
  // Cross-check local headers, and refuse entries whose data overlap (overlap-based ZIP bombs).
  const byOffset = [...entries].sort((a, b) => a.localOffset - b.localOffset)
  for (let i = 0; i < byOffset.length; i++) {
    if (options.signal.aborted) throw new ArchiveFailure("interrupted")
    const entry = byOffset[i]
    if (entry.localOffset + 30 > cdOffset) {
      throw new ArchiveFailure("corrupt: local header outside the data area", entry.path)
    }
    const header = await source.readAt(entry.localOffset, 30)
    if (header.readUInt32LE(0) !== SIG_LOCAL) throw new ArchiveFailure("corrupt: local header not found", entry.path)
    const localFlags = header.readUInt16LE(6)
    const localMethod = header.readUInt16LE(8)
    const nameLength = header.readUInt16LE(26)
    const extraLength = header.readUInt16LE(28)
    if (localMethod !== entry.method) {
      throw new ArchiveFailure("corrupt: local header and central directory disagree on the method", entry.path)
    }
    if ((localFlags & 0x0001) !== 0) {
      throw new ArchiveFailure("is encrypted; encrypted ZIP entries are not supported", entry.path)
    }
    if ((localFlags & 0x0008) === 0) {
      const lc = header.readUInt32LE(14)
      const lcs = header.readUInt32LE(18)
      const lus = header.readUInt32LE(22)
      if (
        lc !== entry.crc || (lcs !== 0xffffffff && lcs !== entry.compressedSize) ||
        (lus !== 0xffffffff && lus !== entry.size)
      ) {
        throw new ArchiveFailure("corrupt: local header and central directory disagree on CRC or sizes", entry.path)
      }
    }
    const localName = await source.readAt(entry.localOffset + 30, nameLength)
    if (!localName.equals(entry.rawName)) {
      throw new ArchiveFailure("corrupt: local header and central directory disagree on the name", entry.path)
    }
    entry.dataStart = entry.localOffset + 30 + nameLength + extraLength
    const dataEnd = entry.dataStart + entry.compressedSize
    const limit = i + 1 < byOffset.length ? byOffset[i + 1].localOffset : cdOffset
    if (dataEnd > limit) {
      throw new ArchiveFailure(
        i + 1 < byOffset.length
          ? "corrupt: entry data overlaps another entry"
          : "truncated: entry data runs past the data area",
        entry.path
      )
    }
  }
  return entries
}

async function* readRange(
  source: ByteSource,
  start: number,
  length: number,
  signal: AbortSignal
): AsyncGenerator<Buffer> {
  let done = 0
  while (done < length) {
    if (signal.aborted) throw new ArchiveFailure("interrupted")
    const n = Math.min(READ_CHUNK, length - done)
    const chunk = await source.readAt(start + done, n)
    done += n
    yield chunk
  }
}

/** Inflates one entry, checking actual size against the declared size and the CRC-32. */
const readEntryData = async (
  source: ByteSource,
  entry: CentralEntry,
  sink: Sink | undefined,
  signal: AbortSignal
): Promise<void> => {
  let produced = 0
  let crc = 0
  const check = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) {
      produced += chunk.length
      if (produced > entry.size) {
        throw new ArchiveFailure(
          `inflates to more than its declared size of ${entry.size} bytes (corrupt or malicious header)`,
          entry.path
        )
      }
      crc = zlib.crc32(chunk, crc)
      if (sink !== undefined) await sink.write(chunk)
    }
  }
  if (entry.size <= SMALL_ENTRY && entry.compressedSize <= SMALL_ENTRY) {
    // small entry: one read, one bounded inflate (maxOutputLength caps what a lying header can produce)
    const raw = await source.readAt(entry.dataStart, entry.compressedSize)
    let data: Buffer
    if (entry.method === 8) {
      try {
        // an output buffer of the declared size (zlib's 16 KiB default is allocated per call,
        // and most entries are far smaller: half the time of an inflate of a small file)
        data = zlib.inflateRawSync(raw, { maxOutputLength: entry.size + 1, chunkSize: Math.max(64, entry.size + 1) })
      } catch (e) {
        const code = errnoCode(e) ?? ""
        if (code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) {
          throw new ArchiveFailure(
            `inflates to more than its declared size of ${entry.size} bytes (corrupt or malicious header)`,
            entry.path
          )
        }
        throw new ArchiveFailure(`corrupt compressed data (${code || String(e)})`, entry.path)
      }
    } else {
      data = raw
    }
    if (data.length > entry.size) {
      throw new ArchiveFailure(
        `inflates to more than its declared size of ${entry.size} bytes (corrupt or malicious header)`,
        entry.path
      )
    }
    if (data.length !== entry.size) {
      throw new ArchiveFailure(
        `corrupt: inflates to ${data.length} bytes but its header says ${entry.size}`,
        entry.path
      )
    }
    if ((zlib.crc32(data) >>> 0) !== entry.crc) throw new ArchiveFailure("corrupt: CRC-32 mismatch", entry.path)
    if (sink !== undefined) {
      await sink.write(data)
      await sink.close()
    }
    return
  }
  const data = readRange(source, entry.dataStart, entry.compressedSize, signal)
  // pipeline() can reject before the last stage settles; wait for it so no write is still running
  let checking: Promise<void> | undefined
  const last = (s: AsyncIterable<Buffer>) => (checking = check(s))
  try {
    if (entry.method === 8) await pipeline(data, zlib.createInflateRaw({ chunkSize: 64 * 1024 }), last)
    else await pipeline(data, last)
  } catch (e) {
    await checking?.catch(() => undefined)
    if (e instanceof ArchiveFailure) throw e
    const code = errnoCode(e) ?? ""
    throw new ArchiveFailure(`corrupt compressed data (${code || String(e)})`, entry.path)
  }
  if (produced !== entry.size) {
    throw new ArchiveFailure(`corrupt: inflates to ${produced} bytes but its header says ${entry.size}`, entry.path)
  }
  if ((crc >>> 0) !== entry.crc) throw new ArchiveFailure("corrupt: CRC-32 mismatch", entry.path)
  if (sink !== undefined) await sink.close()
}

/** Walks a ZIP archive: validates its structure, then feeds entries to the sinks in file order. */
export const scanZip = async (source: ByteSource, options: ScanOptions): Promise<ScanResult> => {
  const entries = await readDirectory(source, source.size, options)
  if (options.sinkFor !== undefined || options.onDirectory !== undefined || options.verifyAll) {
    const inOrder = [...entries].sort((a, b) => a.localOffset - b.localOffset)
    for (const entry of inOrder) {
      if (options.signal.aborted) throw new ArchiveFailure("interrupted")
      if (entry.type === "directory") {
        if (options.onDirectory !== undefined) await options.onDirectory(entry)
        continue
      }
      const sink = options.sinkFor === undefined ? undefined : await options.sinkFor(entry)
      if (sink !== undefined || options.verifyAll) await readEntryData(source, entry, sink, options.signal)
    }
  }
  return {
    format: "zip",
    entries: entries.map(({ compressedSize, executable, path, size, type }) => ({
      path,
      type,
      size,
      compressedSize,
      executable
    }))
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

/** Fixed DOS date of every entry: 1980-01-01 00:00:00. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1
const DOS_TIME = 0

/**
 * Writes a deterministic ZIP to an open file: entries in the given order, fixed timestamps,
 * fixed modes (0644 / 0755), deflate level 6 (small files that do not shrink are stored), no
 * extra fields, no data descriptors.
 */
export const writeZip = async (
  out: fs.promises.FileHandle,
  files: ReadonlyArray<PackFile>,
  signal: AbortSignal
): Promise<Array<WrittenEntry>> => {
  let offset = 0
  const central: Array<Buffer> = []
  const written: Array<WrittenEntry> = []
  for (const file of files) {
    if (signal.aborted) throw new ArchiveFailure("interrupted")
    const name = Buffer.from(file.path, "utf8")
    const flags = /^[\x20-\x7e]*$/.test(file.path) ? 0 : 0x0800
    const headerOffset = offset
    const dataStart = headerOffset + 30 + name.length
    let crc = 0
    let size = 0
    let compressedSize = 0
    let position = dataStart
    let method = 8
    if (file.size <= SMALL_ENTRY) {
      // small file: deflate in memory; store it when deflate does not make it smaller
      const data = readPackFile(file)
      crc = zlib.crc32(data)
      size = data.length
      const deflated = zlib.deflateRawSync(data, { level: 6 })
      const body = deflated.length < data.length ? deflated : data
      method = body === data ? 0 : 8
      compressedSize = body.length
      await out.write(body, 0, body.length, position)
      position += body.length
    } else {
      await pipeline(
        fs.createReadStream(file.source, { highWaterMark: 1024 * 1024 }),
        async function*(source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            crc = zlib.crc32(chunk, crc)
            size += chunk.length
            yield chunk
          }
        },
        zlib.createDeflateRaw({ level: 6 }),
        async (source: AsyncIterable<Buffer>) => {
          for await (const chunk of source) {
            await out.write(chunk, 0, chunk.length, position)
            position += chunk.length
            compressedSize += chunk.length
          }
        }
      )
      if (size !== file.size) throw new ArchiveFailure("file changed while packing", file.path)
    }
    if (position > 0xffffffff || size > 0xffffffff) {
      throw new ArchiveFailure("the archive would exceed 4 GiB, which needs ZIP64 (not written by fm)", file.path)
    }
    const local = Buffer.alloc(30)
    local.writeUInt32LE(SIG_LOCAL, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(flags, 6)
    local.writeUInt16LE(method, 8)
    local.writeUInt16LE(DOS_TIME, 10)
    local.writeUInt16LE(DOS_DATE, 12)
    local.writeUInt32LE(crc >>> 0, 14)
    local.writeUInt32LE(compressedSize, 18)
    local.writeUInt32LE(size, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28)
    await out.write(Buffer.concat([local, name]), 0, 30 + name.length, headerOffset)
    const record = Buffer.alloc(46)
    record.writeUInt32LE(SIG_CENTRAL, 0)
    record.writeUInt16LE((3 << 8) | 20, 4)
    record.writeUInt16LE(20, 6)
    record.writeUInt16LE(flags, 8)
    record.writeUInt16LE(method, 10)
    record.writeUInt16LE(DOS_TIME, 12)
    record.writeUInt16LE(DOS_DATE, 14)
    record.writeUInt32LE(crc >>> 0, 16)
    record.writeUInt32LE(compressedSize, 20)
    record.writeUInt32LE(size, 24)
    record.writeUInt16LE(name.length, 28)
    record.writeUInt32LE(((file.executable ? 0o100755 : 0o100644) << 16) >>> 0, 38)
    record.writeUInt32LE(headerOffset, 42)
    central.push(record, name)
    offset = position
    written.push({ path: file.path, size, compressedSize })
  }
  if (files.length > 0xffff) throw new ArchiveFailure("more than 65,535 entries needs ZIP64 (not written by fm)")
  const cd = Buffer.concat(central)
  const eocd = Buffer.alloc(EOCD_SIZE)
  eocd.writeUInt32LE(SIG_EOCD, 0)
  eocd.writeUInt16LE(files.length, 8)
  eocd.writeUInt16LE(files.length, 10)
  eocd.writeUInt32LE(cd.length, 12)
  eocd.writeUInt32LE(offset, 16)
  const tail = Buffer.concat([cd, eocd])
  await out.write(tail, 0, tail.length, offset)
  return written
}
