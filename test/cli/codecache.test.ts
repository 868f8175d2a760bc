/**
 * The V8 code cache of the built `fm` (src/cli/CodeCache.ts): written on a subcommand's first run,
 * used (not rewritten) afterwards, and never a reason to fail: corrupt, truncated, foreign or
 * unwritable caches fall back to a plain compile.
 */
import { afterAll, assert, beforeAll, describe, expect, it } from "@effect/vitest"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { readCodeCache, writeCodeCache } from "../../src/cli/CodeCache.js"
import { assertBuilt, makeTempDir, removeDir, removeFmBinSnapshot, runFm } from "../helpers/cli.js"

/** Each test runs several `fm` processes; generous for a loaded shared machine. */
const CLI_TIMEOUT = 240_000

const homes: Array<string> = []
const newHome = () => {
  const home = makeTempDir("fm-codecache-")
  homes.push(home)
  return home
}

beforeAll(() => assertBuilt())

afterAll(() => {
  for (const home of homes) removeDir(home)
  removeFmBinSnapshot()
})

/** The user's cache directory of a test's fm (its HOME is `<home>/.fake-home`, see test/helpers/cli.ts). */
const cacheDir = (home: string) => path.join(home, ".fake-home", ".cache", "flowmason", "v8")

/** The cache files in a home, by name. */
const cacheFiles = (home: string): Array<string> =>
  fs.existsSync(cacheDir(home)) ? fs.readdirSync(cacheDir(home)).sort() : []

/** `fm registry list --json` in `home`, which must succeed; returns stdout. */
const listJson = async (home: string, env: Record<string, string> = {}): Promise<string> => {
  const r = await runFm(["registry", "list", "--json"], { home, env })
  expect(r.code, r.stderr).toBe(0)
  expect(r.stderr).toBe("")
  return r.stdout
}

/** Runs `registry list` once to get its cache file's path and what a normal run prints. */
const primed = async () => {
  const home = newHome()
  const expected = await listJson(home)
  const files = cacheFiles(home)
  expect(files).toHaveLength(1)
  return { home, expected, file: path.join(cacheDir(home), files[0]!) }
}

describe("readCodeCache / writeCodeCache", () => {
  it("round-trips, and refuses anything that is not exactly what was written", () => {
    const dir = newHome()
    const file = path.join(dir, "v8", "x-a.bin")
    const data = crypto.randomBytes(10_000)
    expect(writeCodeCache(file, data, "x-")).toBe(true)
    expect(readCodeCache(file)).toEqual(data)
    const good = fs.readFileSync(file)

    const flipped = Buffer.from(good)
    flipped[good.length - 100] = flipped[good.length - 100]! ^ 0xff
    fs.writeFileSync(file, flipped)
    expect(readCodeCache(file)).toBeUndefined()

    fs.writeFileSync(file, good.subarray(0, good.length - 1))
    expect(readCodeCache(file)).toBeUndefined()

    fs.writeFileSync(file, Buffer.concat([good, Buffer.from([0])]))
    expect(readCodeCache(file)).toBeUndefined()

    fs.writeFileSync(file, "")
    expect(readCodeCache(file)).toBeUndefined()

    expect(readCodeCache(path.join(dir, "missing.bin"))).toBeUndefined()
  })

  it("removes other builds' files and stray temporary files once stale, and reports a failed write", () => {
    const dir = newHome()
    const now = Date.now()
    const day = 24 * 60 * 60 * 1000
    const file = (name: string, ageDays: number) => {
      fs.writeFileSync(path.join(dir, name), "x")
      const t = new Date(now - ageDays * day)
      fs.utimesSync(path.join(dir, name), t, t)
    }
    file("old-build-a.bin", 8) // stale: removed
    file("other-build-a.bin", 2) // another fm in use: kept
    file("x-b.bin.123-ab.tmp", 0) // another process writing now: kept
    file("x-c.bin.456-cd.tmp", 2) // left by a crash: removed
    file("x-d.bin", 30) // this build's, however old: kept
    expect(writeCodeCache(path.join(dir, "x-a.bin"), Buffer.from("data"), "x-", now)).toBe(true)
    expect(fs.readdirSync(dir).sort()).toEqual(["other-build-a.bin", "x-a.bin", "x-b.bin.123-ab.tmp", "x-d.bin"])

    // a "directory" that is a file: nothing written, nothing thrown
    const blocked = path.join(dir, "blocked")
    fs.writeFileSync(blocked, "")
    expect(writeCodeCache(path.join(blocked, "x-a.bin"), Buffer.from("data"), "x-")).toBe(false)
  })
})

describe("fm's code cache (built binary)", () => {
  it("is written on a subcommand's first run and used, not rewritten, on the next", async () => {
    const home = newHome()
    // a cache of an older build, unused for a month, is removed when the new one is written
    fs.mkdirSync(cacheDir(home), { recursive: true })
    const stale = path.join(cacheDir(home), "cli-OLDBUILD.cjs-nodev0.0.0-x64-registry.bin")
    fs.writeFileSync(stale, "stale")
    fs.utimesSync(stale, new Date(Date.now() - 30 * 86_400_000), new Date(Date.now() - 30 * 86_400_000))

    const first = await listJson(home)
    const files = cacheFiles(home)
    expect(files).toEqual([expect.stringMatching(
      new RegExp(`^cli-[A-Z0-9]+\\.cjs-node${process.version.replace(/\./g, "\\.")}-${process.arch}-registry\\.bin$`)
    )])
    const file = path.join(cacheDir(home), files[0]!)
    expect(fs.readFileSync(file).subarray(0, 4).toString("latin1")).toBe("FMV8")
    expect(readCodeCache(file)?.length).toBeGreaterThan(100_000)
    const written = fs.statSync(file)

    // V8 accepted it: the file is left as it is (a rejected or invalid one would be replaced)
    expect(await listJson(home)).toBe(first)
    const after = fs.statSync(file)
    expect([after.ino, after.mtimeMs]).toEqual([written.ino, written.mtimeMs])

    // another subcommand gets its own; `fm --version` loads nothing and writes none
    const help = await runFm(["--help"], { home })
    expect(help.code, help.stderr).toBe(0)
    expect(await runFm(["--version"], { home }).then((r) => r.code)).toBe(0)
    expect(cacheFiles(home).map((f) => f.replace(/^.*-/, ""))).toEqual(["_.bin", "registry.bin"])
  }, CLI_TIMEOUT)

  it("a corrupt, truncated or foreign cache file is ignored (and replaced) and the command works", async () => {
    const { expected, file, home } = await primed()
    const good = fs.readFileSync(file)
    const flipped = Buffer.from(good)
    for (let i = 1000; i < flipped.length; i += 997) flipped[i] = flipped[i]! ^ 0x5a
    const corruptions: Array<[string, () => void]> = [
      ["random bytes", () => fs.writeFileSync(file, crypto.randomBytes(good.length))],
      ["bytes flipped in the V8 data", () => fs.writeFileSync(file, flipped)],
      ["truncated", () => fs.writeFileSync(file, good.subarray(0, good.length >> 1))],
      ["empty", () => fs.writeFileSync(file, "")],
      // passes fm's own checks, so V8 itself gets it and must reject it
      ["well-formed but not V8's", () => writeCodeCache(file, crypto.randomBytes(50_000), path.basename(file))],
      ["a directory", () => {
        fs.rmSync(file)
        fs.mkdirSync(file)
      }]
    ]
    for (const [what, corrupt] of corruptions) {
      corrupt()
      expect(await listJson(home), what).toBe(expected)
      if (what !== "a directory") {
        // replaced by a good one
        expect(readCodeCache(file)?.length, what).toBeGreaterThan(100_000)
      }
    }
  }, CLI_TIMEOUT)

  it("an unwritable cache directory, or FLOWMASON_NO_CODE_CACHE, just means no cache", async () => {
    const home = newHome()
    fs.mkdirSync(path.dirname(cacheDir(home)), { recursive: true })
    fs.writeFileSync(cacheDir(home), "not a directory")
    const expected = await listJson(home)
    expect(await listJson(home)).toBe(expected)
    expect(fs.readFileSync(cacheDir(home), "utf8")).toBe("not a directory")

    const off = newHome()
    expect(await listJson(off, { FLOWMASON_NO_CODE_CACHE: "1" })).toBe(expected)
    expect(cacheFiles(off)).toEqual([])
  }, CLI_TIMEOUT)

  it("belongs to the user, not to a FlowMason home: a new, empty home compiles nothing again", async () => {
    const user = newHome()
    const cache = path.join(user, ".cache", "flowmason", "v8")
    const first = newHome()
    const expected = await listJson(first, { HOME: user })
    const files = fs.readdirSync(cache)
    assert.strictEqual(files.length, 1)
    const written = fs.statSync(path.join(cache, files[0]!))
    // a second, empty home (a cold install's): the same file is used, not written again
    const second = newHome()
    assert.strictEqual(await listJson(second, { HOME: user }), expected)
    const after = fs.statSync(path.join(cache, files[0]!))
    assert.deepStrictEqual([after.ino, after.mtimeMs], [written.ino, written.mtimeMs])
    assert.deepStrictEqual(fs.readdirSync(cache), files)
    // neither home holds a code cache
    for (const home of [first, second]) assert.isFalse(fs.existsSync(path.join(home, "cache", "v8")))
    // FLOWMASON_CODE_CACHE_DIR moves it
    const moved = path.join(newHome(), "v8")
    assert.strictEqual(await listJson(newHome(), { HOME: user, FLOWMASON_CODE_CACHE_DIR: moved }), expected)
    assert.strictEqual(fs.readdirSync(moved).length, 1)
  }, CLI_TIMEOUT)
})
