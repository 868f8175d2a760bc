/**
 * A V8 code cache for the bundled CLI: what Node 22's `module.enableCompileCache()` does, by hand
 * for Node 20. The command tree is one CommonJS bundle (`dist/cli-<hash>.cjs`, see
 * esbuild.config.mjs) that `bin.ts` runs through `vm.Script`; the first run of each subcommand
 * saves V8's compiled code for it (taken at exit, so the functions compiled lazily while the
 * command ran are in it too) and later runs hand it back to V8 instead of compiling again.
 *
 * Cache files live in the user's cache directory, `$XDG_CACHE_HOME/flowmason/v8/` (else
 * `~/.cache/flowmason/v8/`), or in `FLOWMASON_CODE_CACHE_DIR`; not under `FLOWMASON_HOME`: the
 * compiled code belongs to the fm build and the Node version, not to a home's registries and
 * packages, so a new or emptied home (a cold install) does not compile fm again. Files are named
 * after the bundle (its name carries a content hash), the Node version, the architecture and the
 * subcommand. `FLOWMASON_NO_CODE_CACHE=1` turns the cache off.
 *
 * The cache is only ever an optimisation, never a reason for `fm` to fail: a missing, unreadable,
 * truncated or corrupt file, or one V8 rejects (another V8 version or flags), falls back to a
 * plain compile and is written again; a cache directory that cannot be written is simply not
 * written. Each file carries a CRC-32 of its contents, checked before V8 sees it: release builds
 * of V8 do not checksum code caches, and Node 20 aborts on a corrupted one. Files are written to
 * a temporary name and renamed into place, so a concurrent `fm` never reads half a file.
 *
 * This module is plain Node on purpose (no Effect): it runs before the Effect runtime is loaded,
 * and loading that runtime is exactly what it makes fast.
 * @since 0.1.0
 */
import type { EventEmitter } from "node:events"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import * as vm from "node:vm"
import * as zlib from "node:zlib"

/** `FMV8`, then the payload's length and CRC-32 (UInt32LE each), then the payload. */
const MAGIC = 0x3856_4d46
const HEADER_BYTES = 4 + 4 + 4

/**
 * Reads a whole file into `into` when it fits (else into a new buffer) and returns the bytes
 * read; throws what the file system throws. Reading into a buffer already touched saves the page
 * faults of a fresh allocation (on a virtual machine, most of the cost of reading a megabyte).
 */
const readWhole = (file: string, into?: Buffer): Buffer => {
  const fd = fs.openSync(file, "r")
  try {
    const size = fs.fstatSync(fd).size
    const buffer = into !== undefined && into.length >= size ? into : Buffer.allocUnsafeSlow(size)
    let got = 0
    while (got < size) {
      const n = fs.readSync(fd, buffer, got, size - got, got)
      if (n === 0) break
      got += n
    }
    return buffer.subarray(0, got)
  } finally {
    fs.closeSync(fd)
  }
}

/** A file's size in bytes, 0 when it cannot be read. */
const sizeOf = (file: string): number => {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}

/**
 * The V8 data stored in a cache file, or `undefined` when the file is missing, unreadable or not
 * exactly what {@link writeCodeCache} wrote (wrong magic, wrong length, wrong checksum). With
 * `into`, the file is read into that buffer when it fits, and the data returned is a view of it.
 * @since 0.1.0
 */
export const readCodeCache = (file: string, into?: Buffer): Buffer | undefined => {
  let bytes: Buffer
  try {
    bytes = readWhole(file, into)
  } catch {
    return undefined
  }
  if (bytes.length <= HEADER_BYTES || bytes.readUInt32LE(0) !== MAGIC) return undefined
  const payload = bytes.subarray(HEADER_BYTES)
  if (bytes.readUInt32LE(4) !== payload.length) return undefined
  return zlib.crc32(payload) === bytes.readUInt32LE(8) ? payload : undefined
}

/** Caches of other builds (or Node versions) older than this are removed; stray temporary files after a day. */
const STALE_MS = 7 * 24 * 60 * 60 * 1000
const STALE_TMP_MS = 24 * 60 * 60 * 1000

/**
 * Writes V8 data to a cache file atomically (a temporary file in the same directory, then a
 * rename), then removes the directory's files whose names do not start with `keepPrefix` (caches
 * of other builds or Node versions) once they are a week old (`now` minus their mtime), so that
 * an fm installed beside this one loses its cache once a week at most, not on every run; stray
 * temporary files go after a day. Returns whether the file was written; never throws (a
 * read-only or full disk just means no cache).
 * @since 0.1.0
 */
export const writeCodeCache = (file: string, data: Uint8Array, keepPrefix: string, now = Date.now()): boolean => {
  const dir = path.dirname(file)
  const tmp = `${file}.${process.pid}-${now.toString(36)}-${Math.random().toString(36).slice(2)}.tmp`
  try {
    fs.mkdirSync(dir, { recursive: true })
    const header = Buffer.alloc(HEADER_BYTES)
    header.writeUInt32LE(MAGIC, 0)
    header.writeUInt32LE(data.length, 4)
    header.writeUInt32LE(zlib.crc32(data), 8)
    fs.writeFileSync(tmp, Buffer.concat([header, data]), { mode: 0o644 })
    fs.renameSync(tmp, file)
  } catch {
    try {
      fs.rmSync(tmp, { force: true })
    } catch {
      // nothing more to do
    }
    return false
  }
  for (const name of safeReaddir(dir)) {
    if (name.startsWith(keepPrefix) && !name.endsWith(".tmp")) continue
    try {
      const other = path.join(dir, name)
      const age = now - fs.statSync(other).mtimeMs
      if (age > (name.endsWith(".tmp") ? STALE_TMP_MS : STALE_MS)) fs.rmSync(other, { force: true })
    } catch {
      // gone already, or not ours to remove: harmless
    }
  }
  return true
}

const safeReaddir = (dir: string): Array<string> => {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

/**
 * Where the code cache lives: `FLOWMASON_CODE_CACHE_DIR` when set, else
 * `$XDG_CACHE_HOME/flowmason/v8`, else `~/.cache/flowmason/v8` (the user's cache directory,
 * whatever `FLOWMASON_HOME` says); `undefined` when `FLOWMASON_NO_CODE_CACHE` is set.
 * @since 0.1.0
 */
export const codeCacheDir = (env: Readonly<Record<string, string | undefined>>): string | undefined => {
  const set = (v: string | undefined): v is string => v !== undefined && v !== ""
  if (set(env.FLOWMASON_NO_CODE_CACHE)) return undefined
  if (set(env.FLOWMASON_CODE_CACHE_DIR)) return path.resolve(env.FLOWMASON_CODE_CACHE_DIR)
  // XDG: a relative XDG_CACHE_HOME is invalid and ignored
  const base = set(env.XDG_CACHE_HOME) && path.isAbsolute(env.XDG_CACHE_HOME)
    ? env.XDG_CACHE_HOME
    : path.join(os.homedir(), ".cache")
  return path.join(base, "flowmason", "v8")
}

/**
 * The cache file name prefix for a bundle on this Node: only files with it are ever read, and
 * writing one removes the others once they are stale.
 * @since 0.1.0
 */
export const codeCachePrefix = (bundleName: string): string => `${bundleName}-node${process.version}-${process.arch}-`

/**
 * The `process` event a long-running command (`fm studio start`) emits once its start-up is over:
 * a code cache still to be written is written then, with the functions its start-up compiled,
 * rather than at an exit that may be days away (by when V8 may have dropped the compiled code of
 * functions that ran only at the start).
 * @since 0.1.0
 */
export const STARTED_EVENT = "fm:started"

/**
 * Emits {@link STARTED_EVENT}: called by a long-running command once its start-up is over.
 * @since 0.1.0
 */
export const announceStarted = (): void => {
  const events: EventEmitter = process
  events.emit(STARTED_EVENT)
}

/**
 * How {@link loadBundle} went: whether V8 was given cached code and accepted it, and whether a
 * cache file will be written when the process exits.
 * @since 0.1.0
 */
export interface BundleLoad {
  /** The module's `module.exports`. */
  readonly exports: unknown
  /** A valid cache file was found and V8 accepted it. */
  readonly cacheUsed: boolean
  /** A cache file is written at exit (none was found, or V8 rejected it). */
  readonly cacheWillBeWritten: boolean
}

/**
 * Runs a CommonJS bundle whose whole text is one function expression
 * `(function (exports, require, module, __filename, __dirname) { ... })` (esbuild.config.mjs
 * wraps it so) and returns what it exported. With `cacheFile`, the compiled code is taken from
 * that file when it is valid, and written to it when the process exits otherwise.
 * @since 0.1.0
 */
export const loadBundle = (bundle: string, cacheFile: string | undefined, keepPrefix: string): BundleLoad => {
  // One buffer for both files, each megabytes: the bundle, then (once its text is copied out)
  // the cache, which V8 reads only while compiling below. The bundle is ASCII (esbuild escapes
  // everything else): latin1 is exact and the cheapest decode.
  const scratch = Buffer.allocUnsafeSlow(Math.max(sizeOf(bundle), cacheFile === undefined ? 0 : sizeOf(cacheFile)))
  const bytes = readWhole(bundle, scratch)
  const source = bytes.toString("latin1")
  const cachedData = cacheFile === undefined ? undefined : readCodeCache(cacheFile, scratch)
  const script = new vm.Script(source, { filename: bundle, ...(cachedData === undefined ? {} : { cachedData }) })
  const cacheUsed = cachedData !== undefined && script.cachedDataRejected !== true
  const cacheWillBeWritten = cacheFile !== undefined && !cacheUsed
  if (cacheWillBeWritten) {
    // at exit: by then V8 has compiled every function the command used, and they are saved too;
    // a command that runs on (the server) says when its start-up is over, see STARTED_EVENT
    let saved = false
    const save = () => {
      if (saved) return
      saved = true
      try {
        writeCodeCache(cacheFile, script.createCachedData(), keepPrefix)
      } catch {
        // no cache this time
      }
    }
    process.once("exit", save)
    process.once(STARTED_EVENT, save)
  }
  const wrapper: unknown = script.runInThisContext()
  if (typeof wrapper !== "function") throw new Error(`${bundle} is not a wrapped CommonJS bundle`)
  const module: { exports: unknown } = { exports: {} }
  wrapper.call(module.exports, module.exports, createRequire(bundle), module, bundle, path.dirname(bundle))
  return { exports: module.exports, cacheUsed, cacheWillBeWritten }
}
