/**
 * The files `pack` writes: what the writers (`zip.ts`, `tarWriter.ts`) are given and report.
 * @internal
 */
import * as fs from "node:fs"
import { READ_NO_WAIT, readExactlySync } from "./fileReads.js"
import { ArchiveFailure } from "./paths.js"

/** A file to put into an archive: its archive path, its path on disk, its size when listed, and its mode bits. */
export interface PackFile {
  readonly path: string
  readonly source: string
  /** The size `collectFiles` saw; a writer that reads another size refuses the file (it changed while packing). */
  readonly size: number
  readonly executable: boolean
}

/**
 * The bytes of a small file to pack, in one synchronous read: for a package's many small files a
 * round trip to the thread pool for each of open, stat, read and close cost more than the reads.
 * Exactly `file.size` bytes of a regular file, else "file changed while packing"; opened
 * non-blocking, so a file swapped for a FIFO meanwhile cannot hang the read.
 */
export const readPackFile = (file: PackFile): Buffer => {
  const changed = () => new ArchiveFailure("file changed while packing", file.path)
  const fd = fs.openSync(file.source, READ_NO_WAIT)
  try {
    const info = fs.fstatSync(fd)
    if (!info.isFile() || info.size !== file.size) throw changed()
    return readExactlySync(fd, file.size, changed)
  } finally {
    fs.closeSync(fd)
  }
}

/** Per-entry result of the writer, for the ratio check. */
export interface WrittenEntry {
  readonly path: string
  readonly size: number
  readonly compressedSize: number
}
