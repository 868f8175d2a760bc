/**
 * Entry-name validation shared by the ZIP and tar readers and the packer.
 * @internal
 */

/** A refusal raised inside the archive internals; mapped to `ArchiveError` at the service edge. */
export class ArchiveFailure extends Error {
  constructor(readonly reason: string, readonly entry?: string | undefined) {
    super(entry === undefined ? reason : `entry '${entry}': ${reason}`)
  }
}

/** The two manifest file names, at the archive root. */
export const MANIFEST_NAMES = ["manifest.json", "flowmason-package.json"] as const

/** Largest manifest accepted, in bytes. */
export const MAX_MANIFEST_BYTES = 1024 * 1024

const MAX_PATH_BYTES = 4096
const MAX_SEGMENT_BYTES = 255

/**
 * Validates and normalises a raw entry name. Returns `undefined` for the archive root itself
 * (`./` in tars). Throws {@link ArchiveFailure} for anything that could land outside the target.
 */
export const normalizeEntryPath = (raw: string, isDirectory: boolean): string | undefined => {
  const shown = JSON.stringify(raw).slice(1, -1)
  if (raw.includes("\0")) throw new ArchiveFailure("name contains a NUL byte", shown)
  if (raw.includes("\\")) {
    throw new ArchiveFailure("name contains a backslash (a Windows path separator that could escape the target)", shown)
  }
  if (raw.startsWith("/")) throw new ArchiveFailure("absolute path", shown)
  if (/^[A-Za-z]:/.test(raw)) throw new ArchiveFailure("path starts with a drive letter", shown)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw new ArchiveFailure("name contains a control character", shown)
  let p = raw
  while (p.startsWith("./")) p = p.slice(2)
  if (p === "." || p === "") {
    if (isDirectory || raw.endsWith("/")) return undefined
    throw new ArchiveFailure("empty file name", shown)
  }
  if (p.endsWith("/")) p = p.slice(0, -1)
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) throw new ArchiveFailure(`path longer than ${MAX_PATH_BYTES} bytes`, shown)
  for (const segment of p.split("/")) {
    if (segment === "..") throw new ArchiveFailure("path contains '..' (would escape the target directory)", shown)
    if (segment === ".") throw new ArchiveFailure("path contains a '.' segment", shown)
    if (segment === "") throw new ArchiveFailure("path contains an empty segment ('//')", shown)
    if (segment.includes(":")) throw new ArchiveFailure("name contains ':' (drive or stream syntax on Windows)", shown)
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw new ArchiveFailure(`a name is longer than ${MAX_SEGMENT_BYTES} bytes`, shown)
    }
  }
  return p
}

/** The key two names collide on: case-insensitive and Unicode-normalised (as on macOS/Windows). */
const foldKey = (p: string): string => p.normalize("NFC").toLowerCase()

/**
 * Tracks names seen so far and refuses duplicates, including names that differ only in case or
 * Unicode normalisation, and a file that is also used as a directory.
 */
export class NameRegistry {
  private readonly files = new Map<string, string>()
  private readonly explicitDirs = new Map<string, string>()
  private readonly impliedDirs = new Map<string, string>()

  add(p: string, type: "file" | "directory"): void {
    const key = foldKey(p)
    const segments = key.split("/")
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join("/")
      const clash = this.files.get(parent)
      if (clash !== undefined) throw new ArchiveFailure(`its parent '${clash}' is a file`, p)
    }
    const sameFile = this.files.get(key)
    if (sameFile !== undefined) {
      throw new ArchiveFailure(
        sameFile === p ? "duplicate entry name" : `duplicate entry name (same as '${sameFile}' ignoring case)`,
        p
      )
    }
    if (type === "file") {
      const dir = this.explicitDirs.get(key) ?? this.impliedDirs.get(key)
      if (dir !== undefined) throw new ArchiveFailure(`a directory '${dir}' has the same name`, p)
      this.files.set(key, p)
    } else {
      const dir = this.explicitDirs.get(key)
      if (dir !== undefined) {
        throw new ArchiveFailure(
          dir === p ? "duplicate directory entry" : `duplicate directory entry (same as '${dir}' ignoring case)`,
          p
        )
      }
      const implied = this.impliedDirs.get(key)
      if (implied !== undefined && implied !== p) {
        throw new ArchiveFailure(`directory differs only in case from '${implied}'`, p)
      }
      this.explicitDirs.set(key, p)
    }
    const original = p.split("/")
    for (let i = 1; i < segments.length; i++) {
      const parentKey = segments.slice(0, i).join("/")
      const parentName = original.slice(0, i).join("/")
      const known = this.explicitDirs.get(parentKey) ?? this.impliedDirs.get(parentKey)
      if (known !== undefined && known !== parentName) {
        throw new ArchiveFailure(`directory '${parentName}' differs only in case from '${known}'`, p)
      }
      if (known === undefined) this.impliedDirs.set(parentKey, parentName)
    }
  }
}
