/**
 * The cache's synchronous I/O: hashing a blob with plain system calls (the cache's other reads and
 * writes go through `FileSystem`).
 * @internal
 */
import * as nodeFs from "node:fs"
import { hasErrnoCode } from "../shared/Errno.js"
import { sha256Hashing } from "../shared/Hash.js"

const HASH_CHUNK = 1024 * 1024
let hashBuffer: Buffer | undefined

/**
 * SHA-256 and size of a file, read once through one shared 1 MiB buffer; `undefined` when the
 * file does not exist. Synchronous on purpose: for the many small archives of a project install,
 * a plain loop of system calls is several times faster than one promise round trip per call.
 * @internal
 */
export const hashBlobSync = (file: string): { readonly sha256: string; readonly size: number } | undefined => {
  let fd: number
  try {
    fd = nodeFs.openSync(file, "r")
  } catch (e) {
    if (hasErrnoCode(e, "ENOENT")) return undefined
    throw e
  }
  try {
    const buffer = (hashBuffer ??= Buffer.allocUnsafe(HASH_CHUNK))
    const hash = sha256Hashing()
    let size = 0
    for (;;) {
      const n = nodeFs.readSync(fd, buffer, 0, buffer.length, null)
      if (n === 0) break
      hash.update(buffer.subarray(0, n))
      size += n
    }
    return { sha256: hash.digest(), size }
  } finally {
    nodeFs.closeSync(fd)
  }
}
