/**
 * Writes the gzip tar format: headers encoded by node-tar (`tar`: `Header`, and `Pax` for names no
 * ustar field holds), everything else fixed so the same files give the same bytes. The reader is
 * `tar.ts`.
 * @internal
 */
import * as fs from "node:fs"
import { pipeline } from "node:stream/promises"
import * as zlib from "node:zlib"
// node-tar's header modules alone (not its main entry: all of node-tar in one module)
import { Header } from "tar/header"
import { Pax } from "tar/pax"
import { type PackFile, readPackFile, type WrittenEntry } from "./packFile.js"
import { ArchiveFailure } from "./paths.js"
import type { Appender } from "./types.js"

const BLOCK = 512
/** Tar bytes go to deflate in pieces of at least this size (but for big files' own chunks). */
const BATCH = 1024 * 1024
/** Deflate's output piece, each one write to the file. */
const OUTPUT_CHUNK = 256 * 1024
const ZEROS = Buffer.alloc(BLOCK * 2)
const EPOCH = new Date(0)

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK

/**
 * Header block(s) for one file, encoded by node-tar: ustar (with a prefix when the name needs
 * it), preceded by a pax `path` record when the name fits no ustar field. Every field that could
 * vary between machines is fixed: mtime 0, uid/gid 0, no owner names, mode 0644 or 0755.
 */
const headersFor = (path: string, size: number, executable: boolean): Buffer => {
  // fields set one by one: node-tar's constructor copies an options object through
  // Object.entries/fromEntries/assign, most of the cost of a header when files are small
  const header = new Header()
  header.path = path
  header.mode = executable ? 0o755 : 0o644
  header.uid = 0
  header.gid = 0
  header.size = size
  header.mtime = EPOCH
  header.type = "File"
  header.uname = ""
  header.gname = ""
  const block = Buffer.alloc(BLOCK)
  const needPax = header.encode(block)
  return needPax ? Buffer.concat([new Pax({ path }).encode(), block]) : block
}

/** A gzip header with no timestamp, no file name and OS "unknown", so output is byte-stable. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])

/**
 * Writes a deterministic gzip tar, front to back through `out`: entries in the given order,
 * headers from {@link headersFor}, a fixed gzip header (zlib's own would name the OS it runs on).
 */
export const writeTarGz = async (
  out: Appender,
  files: ReadonlyArray<PackFile>,
  signal: AbortSignal
): Promise<Array<WrittenEntry>> => {
  const written: Array<WrittenEntry> = []
  let crc = 0
  let total = 0
  const write = (chunk: Buffer): Promise<void> => out.append(chunk)
  /** The tar stream (CRC and length counted) in pieces of about {@link BATCH} bytes: small files go to deflate together. */
  async function* tarBytes(): AsyncGenerator<Buffer> {
    let batch: Array<Buffer> = []
    let batched = 0
    const add = (piece: Buffer): void => {
      batch.push(piece)
      batched += piece.length
    }
    const counted = (piece: Buffer): Buffer => {
      crc = zlib.crc32(piece, crc)
      total += piece.length
      return piece
    }
    const flush = (): Buffer => {
      const joined = Buffer.concat(batch, batched)
      batch = []
      batched = 0
      return counted(joined)
    }
    for (const file of files) {
      if (signal.aborted) throw new ArchiveFailure("interrupted")
      const { size } = file
      add(headersFor(file.path, size, file.executable))
      if (size <= 1024 * 1024) {
        add(readPackFile(file))
      } else {
        if (batched > 0) yield flush()
        let seen = 0
        for await (const chunk of fs.createReadStream(file.source, { highWaterMark: 1024 * 1024 })) {
          if (!Buffer.isBuffer(chunk)) throw new ArchiveFailure("unexpected string chunk", file.path)
          seen += chunk.length
          if (seen > size) throw new ArchiveFailure("file changed while packing", file.path)
          yield counted(chunk)
        }
        if (seen !== size) throw new ArchiveFailure("file changed while packing", file.path)
      }
      add(ZEROS.subarray(0, padding(size)))
      if (batched >= BATCH) yield flush()
      written.push({ path: file.path, size, compressedSize: size })
    }
    add(ZEROS.subarray(0, BLOCK * 2))
    yield flush()
  }
  await write(GZIP_HEADER)
  await pipeline(
    tarBytes(),
    zlib.createDeflateRaw({ level: 6, chunkSize: OUTPUT_CHUNK }),
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
