/**
 * A local archive path that is not a regular file (a FIFO with no writer, a character device, a
 * directory): `fm install` and `fm publish` refuse it at once, naming it, instead of blocking on
 * the open of a FIFO (which no signal could then interrupt: the main thread is in a system call)
 * or reading a device without end.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assertBuilt, makeTempDir, removeDir, removeFmBinSnapshot, runFm } from "../helpers/cli.js"

/** Each case runs one `fm`; a refusal takes well under a second, a blocked open never ends. */
const REFUSED_WITHIN_MS = 20_000
const CLI_TIMEOUT = 60_000

let home = ""
let dir = ""

beforeAll(() => {
  assertBuilt()
  home = makeTempDir("fm-not-a-file-")
  dir = path.join(home, "work")
  fs.mkdirSync(dir)
  execFileSync("mkfifo", [path.join(dir, "pipe-1.0.0.fmpkg")])
  fs.symlinkSync("/dev/zero", path.join(dir, "zero-1.0.0.fmpkg"))
  fs.mkdirSync(path.join(dir, "folder-1.0.0.fmpkg"))
})

afterAll(() => {
  removeDir(home)
  removeFmBinSnapshot()
})

// `fm publish DIR` packs a directory first, so a directory is refused by install only
const cases = [
  { file: "pipe-1.0.0.fmpkg", what: "a FIFO", commands: ["install", "publish"] },
  { file: "zero-1.0.0.fmpkg", what: "a character device (through a symlink)", commands: ["install", "publish"] },
  { file: "folder-1.0.0.fmpkg", what: "a directory", commands: ["install"] }
]

describe("a local archive that is not a regular file (built binary)", () => {
  for (const c of cases) {
    for (const command of c.commands.map((name) => [name])) {
      it(`fm ${command.join(" ")} ./${c.file} (${c.what}) fails at once, naming the file`, async () => {
        const r = await runFm([...command, `./${c.file}`], { home, cwd: dir, timeoutMs: REFUSED_WITHIN_MS })
        assert.isNotNull(r.code, `fm ${command.join(" ")} was still running after ${REFUSED_WITHIN_MS} ms`)
        assert.notStrictEqual(r.code, 0, r.stdout)
        assert.include(r.stderr, c.file, r.stderr)
        assert.match(r.stderr, /is not a regular file/, r.stderr)
      }, CLI_TIMEOUT)
    }
  }
})
