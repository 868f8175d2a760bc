/**
 * The archive operations as plain async functions; `PackageArchive` wraps them in Effects.
 * @internal
 */
import { Either } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { decodeManifest, type Manifest, ManifestError, type ManifestFile } from "../../domain/Manifest.js"
import { AtomicWriteFailed, writeFileAtomicWith } from "../../shared/AtomicFile.js"
import { formatBytesExact } from "../../shared/ByteSize.js"
import { hasErrnoCode } from "../../shared/Errno.js"
import type { Hashing } from "../../shared/Hash.js"
import type { ArchiveLimits } from "../ArchiveLimits.js"
import { READ_NO_WAIT, readExactlySync } from "./fileReads.js"
import type { PackFile } from "./packFile.js"
import { ArchiveFailure, MANIFEST_NAMES, MAX_MANIFEST_BYTES, NameRegistry, normalizeEntryPath } from "./paths.js"
import type { Appender, ByteSource, ScannedEntry, ScanOptions, ScanResult, Sink } from "./types.js"
import { RATIO_ENTRY_THRESHOLD, scanZip, writeZip } from "./zip.js"

/**
 * Archives up to this size are read whole, in one synchronous read of a few syscalls, before they
 * are checked: a ZIP's checks read its end record, its central directory and every local header
 * apart, and each of those reads was a round trip to the thread pool (about fifteen for a small
 * package), and an open file handle per archive (a `FileHandle`, closed asynchronously) cost more
 * than the reads themselves.
 */
export const READ_WHOLE_BYTES = 1024 * 1024

/** What a file that is not a regular file is, for the error that refuses it. */
const kindOf = (info: fs.Stats): string =>
  info.isDirectory()
    ? "a directory"
    : info.isFIFO()
    ? "a FIFO"
    : info.isCharacterDevice()
    ? "a character device"
    : info.isBlockDevice()
    ? "a block device"
    : info.isSocket()
    ? "a socket"
    : "not a file"

/** Refuses what is not a regular file (a FIFO, a device, a directory, a socket), opened with {@link READ_NO_WAIT}. */
const checkRegular = (info: fs.Stats): void => {
  if (!info.isFile()) throw new ArchiveFailure(`is not a regular file (${kindOf(info)}), not a .fmpkg archive`)
}

/**
 * An archive file on disk as a {@link ByteSource}, open for the duration of `use` and refused
 * unless it is a regular file: read whole, in one synchronous read of a few system calls, when
 * it is at most {@link READ_WHOLE_BYTES} (the same checks then run on the buffer; a file that
 * shrinks meanwhile is truncated), else read piece by piece.
 */
const withFileSource = async <A>(file: string, use: (source: ByteSource) => Promise<A>): Promise<A> => {
  const fd = fs.openSync(file, READ_NO_WAIT)
  let small: Buffer | undefined
  try {
    const info = fs.fstatSync(fd)
    checkRegular(info)
    if (info.size <= READ_WHOLE_BYTES) {
      small = readExactlySync(fd, info.size, () => new ArchiveFailure("truncated (unexpected end of file)"))
    }
  } finally {
    fs.closeSync(fd)
  }
  if (small !== undefined) return use(bufferSource(small, file))
  const fh = await fs.promises.open(file, READ_NO_WAIT)
  try {
    const info = await fh.stat()
    checkRegular(info)
    return await use({
      label: file,
      size: info.size,
      readAt: async (position, length) => {
        const buffer = Buffer.alloc(length)
        let done = 0
        while (done < length) {
          const { bytesRead } = await fh.read(buffer, done, length - done, position + done)
          if (bytesRead === 0) throw new ArchiveFailure("truncated (unexpected end of file)")
          done += bytesRead
        }
        return buffer
      },
      // a stream of its own, closed by the stream
      chunks: () => fs.createReadStream(file, { fd: fs.openSync(file, READ_NO_WAIT), highWaterMark: 256 * 1024 })
    })
  } finally {
    await fh.close()
  }
}

/** Archive bytes already in memory (e.g. an upload) as a {@link ByteSource}; nothing is copied. */
export const bufferSource = (bytes: Uint8Array, label: string): ByteSource => {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {
    label,
    size: buffer.length,
    readAt: (position, length) =>
      position < 0 || position + length > buffer.length
        ? Promise.reject(new ArchiveFailure("truncated (unexpected end of file)"))
        : Promise.resolve(buffer.subarray(position, position + length)),
    async *chunks() {
      yield buffer
    }
  }
}

/** Tells ZIP from gzip by the first bytes. */
const detectFormat = async (source: ByteSource): Promise<"zip" | "tar"> => {
  if (source.size === 0) throw new ArchiveFailure("is empty, not a .fmpkg archive")
  const head = await source.readAt(0, Math.min(4, source.size))
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5)) return "zip"
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "tar"
  throw new ArchiveFailure(`is neither a ZIP nor a gzip tar archive (starts with ${head.toString("hex")})`)
}

/**
 * The gzip tar reader (node-tar's parser under it), loaded on the first tar archive read: most
 * archives are ZIPs, and loading node-tar was a tenth of a registry server's start-up.
 */
const tar = () => import("./tar.js")

/** The gzip tar writer (node-tar's header encoder under it), loaded on the first tar `pack`. */
const tarWriter = () => import("./tarWriter.js")

const scanSource = async (source: ByteSource, options: ScanOptions): Promise<ScanResult> =>
  (await detectFormat(source)) === "zip" ? scanZip(source, options) : (await tar()).scanTar(source, options)

const scan = (file: string, options: ScanOptions): Promise<ScanResult> =>
  withFileSource(file, (source) => scanSource(source, options))

const isManifestEntry = (entry: ScannedEntry): boolean =>
  entry.type === "file" && MANIFEST_NAMES.some((name) => name === entry.path)

/** Collects the root manifest entries' bytes. */
class ManifestCollector {
  readonly found = new Map<string, Array<Buffer>>()
  /** A synchronous sink for a root manifest entry, else `undefined`. */
  sink(entry: ScannedEntry): { readonly write: (chunk: Buffer) => void; readonly close: () => void } | undefined {
    if (!isManifestEntry(entry)) return undefined
    if (entry.size > MAX_MANIFEST_BYTES) {
      throw new ArchiveFailure(`manifest is larger than ${formatBytesExact(MAX_MANIFEST_BYTES)}`, entry.path)
    }
    const chunks: Array<Buffer> = []
    this.found.set(entry.path, chunks)
    return { write: (chunk) => void chunks.push(Buffer.from(chunk)), close: () => undefined }
  }
  decode(file: string, entries: ReadonlyArray<ScannedEntry>): Manifest {
    const text = (name: string): ManifestFile | undefined => {
      const chunks = this.found.get(name)
      if (chunks === undefined) return undefined
      const where = `${file}!/${name}`
      let value: string
      try {
        value = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks))
      } catch {
        throw new ManifestError({ file: where, field: "", reason: "is not valid UTF-8" })
      }
      return { file: where, text: value.replace(/^\uFEFF/, "") }
    }
    const project = text("manifest.json")
    const component = text("flowmason-package.json")
    if (project === undefined && component === undefined) {
      const wrapped = entries.find((e) => /^[^/]+\/(manifest|flowmason-package)\.json$/.test(e.path))
      throw new ManifestError({
        file,
        field: "",
        reason: wrapped === undefined
          ? "missing manifest: a .fmpkg needs manifest.json or flowmason-package.json at its root"
          : `missing manifest at the archive root (found '${wrapped.path}'; pack the folder's contents, not the folder)`
      })
    }
    return Either.getOrThrowWith(decodeManifest({ project, component }), (e) => e)
  }
}

const publicEntries = (entries: ReadonlyArray<ScannedEntry>) =>
  entries.map(({ compressedSize, path, size, type }) => ({ path, type, size, compressedSize }))

/** Validates every entry (ZIP: inflates and CRC-checks all) and decodes the manifest. */
const openSource = async (source: ByteSource, limits: ArchiveLimits, signal: AbortSignal) => {
  const manifests = new ManifestCollector()
  const result = await scanSource(source, { limits, signal, verifyAll: true, sinkFor: (e) => manifests.sink(e) })
  const manifest = manifests.decode(source.label, result.entries)
  return {
    file: source.label,
    format: result.format,
    entries: publicEntries(result.entries),
    manifest,
    size: source.size
  }
}

/** `open`: validates every entry (ZIP: inflates and CRC-checks all) and decodes the manifest. */
export const openArchive = (file: string, limits: ArchiveLimits, signal: AbortSignal) =>
  withFileSource(file, (source) => openSource(source, limits, signal))

/** `openBytes`: {@link openArchive} of archive bytes already in memory, named `label` in errors. */
export const openArchiveBytes = (bytes: Uint8Array, label: string, limits: ArchiveLimits, signal: AbortSignal) =>
  openSource(bufferSource(bytes, label), limits, signal)

/** `readManifest`: reads only the manifest entries (a tar is still streamed through once). */
export const readArchiveManifest = async (file: string, limits: ArchiveLimits, signal: AbortSignal) => {
  const manifests = new ManifestCollector()
  const result = await scan(file, { limits, signal, verifyAll: false, sinkFor: (e) => manifests.sink(e) })
  return manifests.decode(file, result.entries)
}

/** `list`: the validated entries. */
export const listArchive = async (file: string, limits: ArchiveLimits, signal: AbortSignal) =>
  publicEntries((await scan(file, { limits, signal, verifyAll: false })).entries)

const resolveInside = (root: string, entryPath: string): string => {
  const full = path.join(root, ...entryPath.split("/"))
  const relative = path.relative(root, full)
  if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) {
    throw new ArchiveFailure("resolves outside the target directory", entryPath)
  }
  return full
}

const syncDirectory = async (dir: string): Promise<void> => {
  try {
    const fh = await fs.promises.open(dir, "r")
    try {
      await fh.sync()
    } finally {
      await fh.close()
    }
  } catch {
    // some platforms cannot fsync a directory; the rename itself is still atomic
  }
}

// Extraction writes a package's files through callback `fs` calls on plain descriptors, a promise
// per step at most: for many small files a `FileHandle` per file (closed through promises of its
// own) and a promise per call cost more than the calls themselves.

const settle = <A>(resolve: (a: A) => void, reject: (e: unknown) => void) => (e: Error | null, a: A): void =>
  e === null ? resolve(a) : reject(e)

const openFd = (file: string, flags: string, mode: number): Promise<number> =>
  new Promise((resolve, reject) => fs.open(file, flags, mode, settle(resolve, reject)))

const closeFd = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => fs.close(fd, (e) => (e === null ? resolve() : reject(e))))

/** Writes all of `pieces` at the descriptor's position (a short write goes on with the rest). */
const writeAll = (fd: number, pieces: ReadonlyArray<Buffer>): Promise<void> =>
  new Promise((resolve, reject) => {
    const go = (rest: ReadonlyArray<Buffer>): void =>
      fs.writev(fd, rest, (e, written) => {
        if (e !== null) return reject(e)
        let left = written
        let i = 0
        while (i < rest.length && left >= rest[i].length) left -= rest[i++].length
        if (i === rest.length) return resolve()
        if (written <= 0) return reject(new ArchiveFailure("the file system took no more bytes"))
        go([rest[i].subarray(left), ...rest.slice(i + 1)])
      })
    go(pieces)
  })

/** Bytes an extracted file holds back before writing: most files are created, written and closed at once. */
const HOLD_BYTES = 1024 * 1024

/**
 * One file being extracted: its bytes are held until {@link HOLD_BYTES} are pending, then the
 * file is created (exclusively) and written; `close` writes the rest and closes it. Open
 * descriptors are in `open` until closed (the caller closes them on failure).
 */
class ExtractedFile {
  private fd: number | undefined
  private pending: Array<Buffer> = []
  private pendingBytes = 0
  constructor(private readonly file: string, private readonly mode: number, private readonly open: Set<number>) {}

  write(chunk: Buffer): Promise<void> | undefined {
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    return this.pendingBytes >= HOLD_BYTES ? this.flush().then(() => undefined) : undefined
  }

  private async flush(): Promise<number> {
    let fd = this.fd
    if (fd === undefined) {
      fd = await openFd(this.file, "wx", this.mode)
      this.fd = fd
      this.open.add(fd)
    }
    const pieces = this.pending
    this.pending = []
    this.pendingBytes = 0
    if (pieces.length > 0) await writeAll(fd, pieces)
    return fd
  }

  async close(): Promise<void> {
    const fd = await this.flush()
    this.fd = undefined
    this.open.delete(fd)
    await closeFd(fd)
  }
}

/** Opens, fdatasyncs and closes `file`: one promise. */
const syncFile = (file: string): Promise<void> =>
  new Promise((resolve, reject) =>
    fs.open(file, "r", (e, fd) => {
      if (e !== null) return reject(e)
      fs.fdatasync(fd, (synced) =>
        fs.close(fd, (closed) => {
          const failure = synced ?? closed
          return failure === null ? resolve() : reject(failure)
        }))
    })
  )

/**
 * fsyncs files (by reopening them) with bounded concurrency, so the journal can group the
 * commits; done once everything was written and checked, just before the rename.
 */
const syncFiles = async (files: ReadonlyArray<string>, signal: AbortSignal): Promise<void> => {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      if (signal.aborted) throw new ArchiveFailure("interrupted")
      await syncFile(files[next++])
    }
  }
  await Promise.all(Array.from({ length: Math.min(32, files.length) }, worker))
}

/** Whether `target` is absent (false) or an empty directory (true); throws otherwise. */
const checkTarget = async (target: string): Promise<boolean> => {
  let stat: fs.Stats
  try {
    stat = await fs.promises.lstat(target)
  } catch (e) {
    if (hasErrnoCode(e, "ENOENT")) return false
    throw e
  }
  if (!stat.isDirectory()) throw new ArchiveFailure(`target ${target} exists and is not a directory`)
  if ((await fs.promises.readdir(target)).length > 0) {
    throw new ArchiveFailure(`target directory ${target} is not empty; remove it or choose another directory`)
  }
  return true
}

/**
 * `extract`: streams every entry into a fresh staging directory beside the target (CRC and
 * sizes checked), decodes the manifest, then renames the staging directory onto the target.
 */
export const extractArchive = async (
  file: string,
  targetDir: string,
  limits: ArchiveLimits,
  signal: AbortSignal
) => {
  const target = path.resolve(targetDir)
  const parent = path.dirname(target)
  await withFileSource(file, detectFormat)
  const targetExists = await checkTarget(target)
  await fs.promises.mkdir(parent, { recursive: true })
  const staging = await fs.promises.mkdtemp(path.join(parent, `.${path.basename(target)}.extract-`))
  const open = new Set<number>()
  const written: Array<string> = []
  const made = new Set<string>()
  try {
    const manifests = new ManifestCollector()
    const result = await scan(file, {
      limits,
      signal,
      verifyAll: true,
      onDirectory: async (entry) => {
        await fs.promises.mkdir(resolveInside(staging, entry.path), { recursive: true })
      },
      sinkFor: (entry) => {
        const collect = manifests.sink(entry)
        const dest = resolveInside(staging, entry.path)
        const out = new ExtractedFile(dest, entry.executable ? 0o755 : 0o644, open)
        const sink: Sink = {
          write: (chunk) => {
            collect?.write(chunk)
            return out.write(chunk)
          },
          close: () =>
            out.close().then(() => {
              written.push(dest)
            })
        }
        // a synchronous answer when the directory is known to exist: no promise for the step
        const parentDir = path.dirname(dest)
        if (made.has(parentDir)) return sink
        return fs.promises.mkdir(parentDir, { recursive: true }).then(() => {
          made.add(parentDir)
          return sink
        })
      }
    })
    const manifest = manifests.decode(file, result.entries)
    await syncFiles(written, signal)
    await fs.promises.chmod(staging, 0o755)
    if (targetExists) await fs.promises.rmdir(target)
    await fs.promises.rename(staging, target)
    await syncDirectory(parent)
    const { size } = await fs.promises.stat(file)
    return { file, format: result.format, entries: publicEntries(result.entries), manifest, size }
  } catch (e) {
    await Promise.all([...open].map((fd) => closeFd(fd).catch(() => undefined)))
    await fs.promises.rm(staging, { recursive: true, force: true })
    throw e
  }
}

/** Files and directories never packed: hidden names (`.git`, `.env`, ...), caches, packages. */
const excluded = (name: string, isDirectory: boolean): boolean =>
  name.startsWith(".") || (isDirectory ? name === "__pycache__" : name.endsWith(".pyc") || name.endsWith(".fmpkg"))

const readDirManifests = async (root: string): Promise<Manifest> => {
  const read = async (name: string): Promise<ManifestFile | undefined> => {
    const file = path.join(root, name)
    let stat: fs.Stats
    try {
      stat = await fs.promises.lstat(file)
    } catch (e) {
      if (hasErrnoCode(e, "ENOENT")) return undefined
      throw e
    }
    if (!stat.isFile()) throw new ArchiveFailure("is not a regular file", name)
    if (stat.size > MAX_MANIFEST_BYTES) {
      throw new ArchiveFailure(`manifest is larger than ${formatBytesExact(MAX_MANIFEST_BYTES)}`, name)
    }
    return { file, text: (await fs.promises.readFile(file, "utf8")).replace(/^\uFEFF/, "") }
  }
  const project = await read("manifest.json")
  const component = await read("flowmason-package.json")
  if (project === undefined && component === undefined) {
    throw new ManifestError({
      file: root,
      field: "",
      reason: "missing manifest: put manifest.json or flowmason-package.json at the root of the directory"
    })
  }
  return Either.getOrThrowWith(decodeManifest({ project, component }), (e) => e)
}

/** Lists what `pack` would put in the archive, sorted, validated against the limits. */
export const collectFiles = async (
  root: string,
  output: string,
  limits: ArchiveLimits,
  signal: AbortSignal
): Promise<Array<PackFile>> => {
  const files: Array<PackFile> = []
  let total = 0
  const walk = async (relative: string): Promise<void> => {
    const dir = path.join(root, relative)
    const items = await fs.promises.readdir(dir, { withFileTypes: true })
    for (const item of items) {
      if (signal.aborted) throw new ArchiveFailure("interrupted")
      const rel = relative === "" ? item.name : `${relative}/${item.name}`
      const abs = path.join(dir, item.name)
      if (item.isSymbolicLink()) {
        throw new ArchiveFailure("is a symbolic link; packages cannot contain links (copy the file in instead)", rel)
      }
      if (excluded(item.name, item.isDirectory())) continue
      if (item.isDirectory()) {
        await walk(rel)
      } else if (item.isFile()) {
        if (path.resolve(abs) === output) continue
        // synchronous like the reads of small files that follow (a thread-pool round trip a file cost more)
        const stat = fs.lstatSync(abs)
        total += stat.size
        files.push({ path: rel, source: abs, size: stat.size, executable: (stat.mode & 0o111) !== 0 })
        if (files.length > limits.maxEntries) {
          throw new ArchiveFailure(`has more than ${limits.maxEntries} files (the entry limit)`)
        }
        if (total > limits.maxUnpackedBytes) {
          throw new ArchiveFailure(
            `holds more than ${formatBytesExact(limits.maxUnpackedBytes)} (the unpacked-size limit)`
          )
        }
      } else {
        throw new ArchiveFailure("is not a regular file or directory (device, FIFO or socket)", rel)
      }
    }
  }
  await walk("")
  // by the names' UTF-8 bytes, each name encoded once (not twice per comparison)
  const sorted = files
    .map((file) => ({ file, key: Buffer.from(file.path) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ file }) => file)
  const names = new NameRegistry()
  for (const f of sorted) {
    const normalized = normalizeEntryPath(f.path, false)
    if (normalized !== f.path) throw new ArchiveFailure("is not a portable file name", f.path)
    names.add(f.path, "file")
  }
  return sorted
}

/**
 * Appends to a file from its start, hashing every byte as it is written: the SHA-256 of what
 * `pack` renames into place without reading it back. `position` is how many bytes were written.
 */
class HashingAppender implements Appender {
  position = 0
  constructor(private readonly fh: fs.promises.FileHandle, private readonly hashing: Hashing) {}
  async append(chunk: Buffer): Promise<void> {
    let done = 0
    while (done < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, done, chunk.length - done, this.position + done)
      if (bytesWritten <= 0) throw new ArchiveFailure("the output file took no more bytes")
      done += bytesWritten
    }
    this.hashing.update(chunk)
    this.position += chunk.length
  }
}

/**
 * `pack`: writes a deterministic archive of `dir` to a temp file beside the output, then renames.
 * A tar is written front to back and hashed as it is written (`sha256`, from `hashing`); a ZIP's
 * headers are written after its data, so its `sha256` is `undefined` (the caller hashes the file).
 */
export const packDirectory = async (
  dir: string,
  options: { readonly output?: string | undefined; readonly format?: "zip" | "tar" | undefined },
  limits: ArchiveLimits,
  signal: AbortSignal,
  hashing: () => Hashing
) => {
  const root = path.resolve(dir)
  const stat = await fs.promises.stat(root)
  if (!stat.isDirectory()) throw new ArchiveFailure("is not a directory")
  const manifest = await readDirManifests(root)
  const format = options.format ?? "zip"
  const output = options.output === undefined
    ? path.resolve(`${manifest.name}-${manifest.version}.fmpkg`)
    : path.resolve(options.output)
  const files = await collectFiles(root, output, limits, signal)
  await fs.promises.mkdir(path.dirname(output), { recursive: true })
  const temp = path.join(path.dirname(output), `.${path.basename(output)}.${crypto.randomBytes(6).toString("hex")}.tmp`)
  // the ratio checks run on what was written, before the rename: a refused archive is never visible
  const hash = format === "tar" ? hashing() : undefined
  const size = await writeFileAtomicWith(output, { temp, mode: 0o644, syncDirectory: true }, async (fh) => {
    const appender = hash === undefined ? undefined : new HashingAppender(fh, hash)
    const written = appender === undefined
      ? await writeZip(fh, files, signal)
      : await (await tarWriter()).writeTarGz(appender, files, signal)
    const { size } = await fh.stat()
    // the digest is the file's only if the file is exactly the bytes hashed
    if (appender !== undefined && appender.position !== size) {
      throw new ArchiveFailure(`wrote ${appender.position} bytes but the file has ${size}`)
    }
    const unpacked = written.reduce((n, w) => n + w.size, 0)
    if (unpacked / Math.max(size, 1) > limits.maxCompressionRatio) {
      throw new ArchiveFailure(
        `compresses ${Math.round(unpacked / size)}:1, over the ratio limit of ${limits.maxCompressionRatio}:1; ` +
          `readers would refuse the archive`
      )
    }
    if (format === "zip") {
      const tooDense = written.find((w) =>
        w.size >= RATIO_ENTRY_THRESHOLD && w.size / Math.max(w.compressedSize, 1) > limits.maxCompressionRatio
      )
      if (tooDense !== undefined) {
        throw new ArchiveFailure(
          `compresses over the ratio limit of ${limits.maxCompressionRatio}:1; readers would refuse the archive`,
          tooDense.path
        )
      }
    }
    return size
  }).catch((e: unknown) => {
    throw e instanceof AtomicWriteFailed ? e.cause : e
  })
  return { file: output, format, manifest, size, sha256: hash?.digest() }
}
