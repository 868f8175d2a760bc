/**
 * Synchronous reads of archive-side files (an archive to check, a file to pack) that never block
 * on a special file.
 * @internal
 */
import * as fs from "node:fs"

/**
 * Opening flags that never block: the open of a FIFO with no writer would otherwise wait for one
 * (on the main thread, where not even a signal can end the wait). For a regular file the flag
 * changes nothing; callers refuse anything else once it is open (`fstat` of the descriptor).
 * @internal
 */
export const READ_NO_WAIT = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK

/**
 * Exactly `size` bytes of `fd` from its start, in one loop of synchronous reads; throws `short()`
 * when the file ends first.
 * @internal
 */
export const readExactlySync = (fd: number, size: number, short: () => Error): Buffer => {
  const buffer = Buffer.allocUnsafe(size)
  let done = 0
  while (done < size) {
    const bytesRead = fs.readSync(fd, buffer, done, size - done, done)
    if (bytesRead === 0) throw short()
    done += bytesRead
  }
  return buffer
}
