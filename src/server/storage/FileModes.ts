/**
 * The modes of what a registry keeps on disk: its data directory and everything in it belong to
 * the server's user alone (directories 0700, files 0600), whatever the umask. The modes are given
 * when a file or directory is created (a umask only ever removes bits) and set again at start on
 * what exists already.
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

/**
 * Mode of the data directory and every directory in it.
 * @since 0.1.0
 */
export const DIR_MODE = 0o700

/**
 * Mode of every file in the data directory.
 * @since 0.1.0
 */
export const FILE_MODE = 0o600

/**
 * Creates the SQLite database file `filename` (and its directory) with the modes above, or sets
 * them on an existing one and its `-wal`/`-shm` files. SQLite creates `-wal` and `-shm` with the
 * mode of the database file, so they follow. Synchronous: run once, before the database opens.
 * @since 0.1.0
 * @category utils
 */
export const restrictDatabaseFiles = (filename: string): void => {
  Fs.mkdirSync(Path.dirname(filename), { recursive: true, mode: DIR_MODE })
  Fs.closeSync(Fs.openSync(filename, "a", FILE_MODE))
  for (const file of [filename, `${filename}-wal`, `${filename}-shm`]) {
    if (Fs.existsSync(file)) Fs.chmodSync(file, FILE_MODE)
  }
}
