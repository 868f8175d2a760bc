/**
 * Byte-level ZIP and tar builders (able to write malicious and broken archives on purpose) and
 * fixture helpers for tests that need real `.fmpkg` files.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"

/** Bytes from a string (UTF-8) or bytes. */
export const bytes = (data: string | Uint8Array): Buffer =>
  typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data)

// ---------------------------------------------------------------------------------------------
// ZIP

/** One entry for {@link buildZip}. Every field that could lie can be overridden. */
export interface ZipEntrySpec {
  /** Name as stored (central directory and, unless `localName` is set, local header). */
  readonly name: string
  readonly data?: string | Uint8Array
  /** 0 stored, 8 deflate (default), anything else is written as-is with the raw data. */
  readonly method?: number
  /** Raw compressed bytes to store instead of compressing `data`. */
  readonly compressed?: Uint8Array
  /** Declared uncompressed size (default: real size). */
  readonly size?: number
  /** Declared compressed size (default: real size). */
  readonly compressedSize?: number
  /** Declared CRC-32 (default: real CRC of `data`). */
  readonly crc?: number
  /** General-purpose flags (bit 0 = encrypted, bit 3 = data descriptor, bit 11 = UTF-8). */
  readonly flags?: number
  /** Unix mode (e.g. `0o120777` for a symlink); sets "made by" to Unix. */
  readonly unixMode?: number
  /** Raw external attributes (overrides `unixMode`). */
  readonly externalAttributes?: number
  /** "Version made by" (default Unix/2.0 when `unixMode` is set, else MS-DOS/2.0). */
  readonly madeBy?: number
  /** A different name for the local header. */
  readonly localName?: string
  /** Local header offset to record instead of the real one (overlap tricks). */
  readonly localOffset?: number
  /** Do not write a local header and data for this entry (central-directory only). */
  readonly centralOnly?: boolean
  /** Record sizes and offset in a ZIP64 extra field (32-bit fields set to 0xFFFFFFFF). */
  readonly zip64?: boolean
}

/** Options for {@link buildZip}. */
export interface ZipOptions {
  readonly comment?: string
  /** Entry count to declare in the end record (default: real count). */
  readonly declaredCount?: number
  /** Write a ZIP64 end record and locator, with 0xFFFF/0xFFFFFFFF in the classic end record. */
  readonly zip64End?: boolean
}

/**
 * Builds a ZIP archive byte by byte: local headers, data, central directory, end record.
 */
export const buildZip = (entries: ReadonlyArray<ZipEntrySpec>, options: ZipOptions = {}): Buffer => {
  const parts: Array<Buffer> = []
  const central: Array<Buffer> = []
  let offset = 0
  for (const e of entries) {
    const data = bytes(e.data ?? "")
    const method = e.method ?? 8
    const stored = e.compressed !== undefined
      ? Buffer.from(e.compressed)
      : method === 8
      ? zlib.deflateRawSync(data)
      : data
    const crc = e.crc ?? zlib.crc32(data)
    const size = e.size ?? data.length
    const compressedSize = e.compressedSize ?? stored.length
    const flags = e.flags ?? 0
    const name = bytes(e.name)
    const localName = bytes(e.localName ?? e.name)
    const headerOffset = e.localOffset ?? offset
    if (e.centralOnly !== true) {
      const local = Buffer.alloc(30)
      local.writeUInt32LE(0x04034b50, 0)
      local.writeUInt16LE(20, 4)
      local.writeUInt16LE(flags, 6)
      local.writeUInt16LE(method, 8)
      local.writeUInt16LE(0, 10)
      local.writeUInt16LE(0x21, 12)
      local.writeUInt32LE((flags & 8) !== 0 ? 0 : crc >>> 0, 14)
      local.writeUInt32LE((flags & 8) !== 0 ? 0 : compressedSize >>> 0, 18)
      local.writeUInt32LE((flags & 8) !== 0 ? 0 : size >>> 0, 22)
      local.writeUInt16LE(localName.length, 26)
      local.writeUInt16LE(0, 28)
      parts.push(local, localName, stored)
      offset += 30 + localName.length + stored.length
      if ((flags & 8) !== 0) {
        const descriptor = Buffer.alloc(16)
        descriptor.writeUInt32LE(0x08074b50, 0)
        descriptor.writeUInt32LE(crc >>> 0, 4)
        descriptor.writeUInt32LE(compressedSize >>> 0, 8)
        descriptor.writeUInt32LE(size >>> 0, 12)
        parts.push(descriptor)
        offset += 16
      }
    }
    const zip64 = e.zip64 === true
    const extra = Buffer.alloc(zip64 ? 28 : 0)
    if (zip64) {
      extra.writeUInt16LE(0x0001, 0)
      extra.writeUInt16LE(24, 2)
      extra.writeBigUInt64LE(BigInt(size), 4)
      extra.writeBigUInt64LE(BigInt(compressedSize), 12)
      extra.writeBigUInt64LE(BigInt(headerOffset), 20)
    }
    const record = Buffer.alloc(46)
    record.writeUInt32LE(0x02014b50, 0)
    record.writeUInt16LE(e.madeBy ?? (e.unixMode !== undefined ? (3 << 8) | 20 : 20), 4)
    record.writeUInt16LE(20, 6)
    record.writeUInt16LE(flags, 8)
    record.writeUInt16LE(method, 10)
    record.writeUInt16LE(0, 12)
    record.writeUInt16LE(0x21, 14)
    record.writeUInt32LE(crc >>> 0, 16)
    record.writeUInt32LE(zip64 ? 0xffffffff : compressedSize >>> 0, 20)
    record.writeUInt32LE(zip64 ? 0xffffffff : size >>> 0, 24)
    record.writeUInt16LE(name.length, 28)
    record.writeUInt16LE(extra.length, 30)
    record.writeUInt32LE(
      e.externalAttributes ?? (e.unixMode !== undefined ? (e.unixMode << 16) >>> 0 : 0),
      38
    )
    record.writeUInt32LE(zip64 ? 0xffffffff : headerOffset, 42)
    central.push(record, name, extra)
  }
  const cd = Buffer.concat(central)
  const comment = bytes(options.comment ?? "")
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  const count = options.declaredCount ?? entries.length
  const zip64End: Array<Buffer> = []
  if (options.zip64End === true) {
    const record = Buffer.alloc(56)
    record.writeUInt32LE(0x06064b50, 0)
    record.writeBigUInt64LE(44n, 4)
    record.writeUInt16LE(45, 12)
    record.writeUInt16LE(45, 14)
    record.writeBigUInt64LE(BigInt(count), 24)
    record.writeBigUInt64LE(BigInt(count), 32)
    record.writeBigUInt64LE(BigInt(cd.length), 40)
    record.writeBigUInt64LE(BigInt(offset), 48)
    const locator = Buffer.alloc(20)
    locator.writeUInt32LE(0x07064b50, 0)
    locator.writeBigUInt64LE(BigInt(offset + cd.length), 8)
    locator.writeUInt32LE(1, 16)
    zip64End.push(record, locator)
    end.writeUInt16LE(0xffff, 8)
    end.writeUInt16LE(0xffff, 10)
    end.writeUInt32LE(0xffffffff, 12)
    end.writeUInt32LE(0xffffffff, 16)
  } else {
    end.writeUInt16LE(count, 8)
    end.writeUInt16LE(count, 10)
    end.writeUInt32LE(cd.length, 12)
    end.writeUInt32LE(offset, 16)
  }
  end.writeUInt16LE(comment.length, 20)
  return Buffer.concat([...parts, cd, ...zip64End, end, comment])
}

// ---------------------------------------------------------------------------------------------
// tar

/** One header (and its data) for {@link buildTar}. */
export interface TarEntrySpec {
  readonly name: string
  /** Type flag: "0" file (default), "1" hardlink, "2" symlink, "3"/"4" devices, "5" dir, "6" FIFO, "x" pax, "L" GNU long name. */
  readonly type?: string
  readonly data?: string | Uint8Array
  /** Declared size (default: real size). */
  readonly size?: number
  readonly mode?: number
  readonly linkname?: string
  /** ustar prefix field. */
  readonly prefix?: string
  /** Corrupt the header checksum. */
  readonly badChecksum?: boolean
  /** How the name is written (default UTF-8; `latin1` makes names that are not UTF-8). */
  readonly nameEncoding?: "utf8" | "latin1"
  /** The size field written as is (default: octal of the declared size). */
  readonly rawSize?: string
}

const octal = (value: number, length: number): string => value.toString(8).padStart(length - 1, "0") + "\0"

/** One 512-byte tar header. */
export const tarHeader = (e: TarEntrySpec): Buffer => {
  const h = Buffer.alloc(512)
  const data = bytes(e.data ?? "")
  Buffer.from(e.name, e.nameEncoding ?? "utf8").copy(h, 0, 0, 100)
  h.write(octal(e.mode ?? (e.type === "5" ? 0o755 : 0o644), 8), 100, "latin1")
  h.write(octal(0, 8), 108, "latin1")
  h.write(octal(0, 8), 116, "latin1")
  h.write(e.rawSize ?? octal(e.size ?? data.length, 12), 124, "latin1")
  h.write(octal(0, 12), 136, "latin1")
  h.write("        ", 148, "latin1")
  h.write(e.type ?? "0", 156, "latin1")
  if (e.linkname !== undefined) bytes(e.linkname).copy(h, 157, 0, 100)
  h.write("ustar\u000000", 257, "latin1")
  if (e.prefix !== undefined) bytes(e.prefix).copy(h, 345, 0, 155)
  let sum = 0
  for (let i = 0; i < 512; i++) sum += h[i]!
  if (e.badChecksum === true) sum += 1
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1")
  return h
}

/** A pax extended-header record `"<len> key=value\n"`. */
export const paxRecord = (key: string, value: string): string => {
  const body = ` ${key}=${value}\n`
  const n = Buffer.byteLength(body)
  let length = n + 1
  while (n + String(length).length !== length) length = n + String(length).length
  return `${length}${body}`
}

/**
 * Builds an uncompressed tar byte by byte. `end: false` leaves out the two zero blocks.
 */
export const buildTar = (entries: ReadonlyArray<TarEntrySpec>, options: { readonly end?: boolean } = {}): Buffer => {
  const parts: Array<Buffer> = []
  for (const e of entries) {
    const data = bytes(e.data ?? "")
    parts.push(tarHeader(e), data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  if (options.end !== false) parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

/** gzip with a fixed header. */
export const gzip = (data: Uint8Array): Buffer => zlib.gzipSync(data)

/** A gzip tar built byte by byte. */
export const buildTarGz = (entries: ReadonlyArray<TarEntrySpec>, options: { readonly end?: boolean } = {}): Buffer =>
  gzip(buildTar(entries, options))

// ---------------------------------------------------------------------------------------------
// Fixtures

/** A valid project manifest (`manifest.json`) as text. */
export const projectManifest = (name = "demo-pkg", version = "1.0.0", extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ name, version, description: "A demo package", ...extra }, null, 2)

/** A valid component manifest (`flowmason-package.json`) as text, like FlowMason's builder writes. */
export const componentManifest = (
  name = "json_transform",
  version = "1.0.0",
  extra: Record<string, unknown> = {}
): string =>
  JSON.stringify(
    {
      name,
      version,
      description: "Transforms JSON",
      type: "operator",
      author: { name: "FlowMason" },
      license: "MIT",
      category: "data",
      tags: ["json"],
      entry_point: "index.py",
      requires_llm: false,
      dependencies: ["jmespath>=1.0"],
      input_schema: {},
      output_schema: {},
      created_at: "2024-01-01T00:00:00Z",
      ...extra
    },
    null,
    2
  )

/** A fresh temporary directory (under the OS temp dir). */
export const makeTempDir = (prefix = "fm-archive-"): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** Removes a directory tree. */
export const removeDir = (dir: string): void => fs.rmSync(dir, { recursive: true, force: true })

/** Writes files (`relative path -> content`) below `dir`, creating folders. */
export const writeTree = (dir: string, files: Record<string, string | Uint8Array>): void => {
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(dir, ...rel.split("/"))
    fs.mkdirSync(path.dirname(full), { recursive: true })
    fs.writeFileSync(full, content)
  }
}

/**
 * Every file, directory and link below `dir` with a content hash: compare two snapshots to prove
 * nothing was added, removed or changed.
 */
export const snapshotTree = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (rel: string): void => {
    const full = path.join(dir, rel)
    for (const item of fs.readdirSync(full, { withFileTypes: true })) {
      const r = rel === "" ? item.name : `${rel}/${item.name}`
      if (item.isDirectory()) {
        out[r + "/"] = "dir"
        walk(r)
      } else if (item.isSymbolicLink()) {
        out[r] = `link:${fs.readlinkSync(path.join(dir, r))}`
      } else {
        out[r] = crypto.createHash("sha256").update(fs.readFileSync(path.join(dir, r))).digest("hex")
      }
    }
  }
  if (fs.existsSync(dir)) walk("")
  return out
}

/** Writes bytes to `dir/name` and returns the path. */
export const writeArchive = (dir: string, name: string, data: Uint8Array): string => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, data)
  return file
}

/** A minimal valid project `.fmpkg` (ZIP) with a manifest and one pipeline. */
export const minimalZip = (name = "demo-pkg", version = "1.0.0"): Buffer =>
  buildZip([
    { name: "manifest.json", data: projectManifest(name, version) },
    { name: "pipelines/main.pipeline.json", data: "{\"stages\":[]}" }
  ])

/** A ZIP package with bytes after its end record, and a gzip tar one with bytes (not an entry) after its end marker. */
export const trailingData = (name: string): { readonly zip: Buffer; readonly tar: Buffer } => ({
  zip: Buffer.concat([minimalZip(name, "1.0.0"), Buffer.from("hidden data after the end record")]),
  tar: gzip(Buffer.concat([
    buildTar([{ name: "manifest.json", data: projectManifest(name, "1.0.0") }]),
    Buffer.alloc(512),
    Buffer.from("junk")
  ]))
})

/** The same packages followed by zero padding only (allowed). */
export const zeroPadded = (name: string): { readonly zip: Buffer; readonly tar: Buffer } => ({
  zip: Buffer.concat([minimalZip(name, "1.0.0"), Buffer.alloc(1000)]),
  tar: gzip(
    Buffer.concat([buildTar([{ name: "manifest.json", data: projectManifest(name, "1.0.0") }]), Buffer.alloc(4096)])
  )
})
