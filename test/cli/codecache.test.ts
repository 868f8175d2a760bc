/**
 * The V8 code cache of the built `fm` (src/cli/CodeCache.ts): written on a subcommand's first run,
 * used (not rewritten) afterwards, and never a reason to fail: corrupt, truncated, foreign or
 * unwritable caches fall back to a plain compile.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { readCodeCache, writeCodeCache } from "../../src/cli/CodeCache.js"
import {
  assertBuilt,
  fmBin,
  makeTempDir,
  removeDir,
  removeFmBinSnapshot,
  runFm,
  spawnFm,
  waitForExit
} from "../helpers/cli.js"

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
  assert.strictEqual(r.code, 0, r.stderr)
  assert.strictEqual(r.stderr, "")
  return r.stdout
}

/** Runs `registry list` once to get its cache file's path and what a normal run prints. */
const primed = async () => {
  const home = newHome()
  const expected = await listJson(home)
  const files = cacheFiles(home)
  assert.lengthOf(files, 1)
  return { home, expected, file: path.join(cacheDir(home), files[0]!) }
}

describe("readCodeCache / writeCodeCache", () => {
  it("round-trips, and refuses anything that is not exactly what was written", () => {
    const dir = newHome()
    const file = path.join(dir, "v8", "x-a.bin")
    const data = crypto.randomBytes(10_000)
    assert.isTrue(writeCodeCache(file, data, "x-"))
    assert.deepStrictEqual(readCodeCache(file), data)
    const good = fs.readFileSync(file)

    const flipped = Buffer.from(good)
    flipped[good.length - 100] = flipped[good.length - 100]! ^ 0xff
    fs.writeFileSync(file, flipped)
    assert.isUndefined(readCodeCache(file))

    fs.writeFileSync(file, good.subarray(0, good.length - 1))
    assert.isUndefined(readCodeCache(file))

    fs.writeFileSync(file, Buffer.concat([good, Buffer.from([0])]))
    assert.isUndefined(readCodeCache(file))

    fs.writeFileSync(file, "")
    assert.isUndefined(readCodeCache(file))

    assert.isUndefined(readCodeCache(path.join(dir, "missing.bin")))
  })

  it("reads into the caller's buffer when the file fits, and into a new one when it does not", () => {
    const dir = newHome()
    const file = path.join(dir, "v8", "x-a.bin")
    const data = crypto.randomBytes(10_000)
    assert.isTrue(writeCodeCache(file, data, "x-"))
    const size = fs.statSync(file).size

    const roomy = Buffer.alloc(size + 100, 0xaa)
    const inRoomy = readCodeCache(file, roomy)
    assert.deepStrictEqual(inRoomy, data)
    assert.strictEqual(inRoomy?.buffer, roomy.buffer) // a view of the caller's buffer
    assert.strictEqual(roomy[size], 0xaa) // nothing written past the file

    const small = Buffer.alloc(size - 1, 0xaa)
    const inNew = readCodeCache(file, small)
    assert.deepStrictEqual(inNew, data)
    assert.notStrictEqual(inNew?.buffer, small.buffer)
    assert.isTrue(small.every((b) => b === 0xaa)) // the small buffer is left alone

    // a corrupt file read into the buffer is still refused
    const flipped = fs.readFileSync(file)
    flipped[size - 1] = flipped[size - 1]! ^ 0xff
    fs.writeFileSync(file, flipped)
    assert.isUndefined(readCodeCache(file, Buffer.alloc(size)))
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
    assert.isTrue(writeCodeCache(path.join(dir, "x-a.bin"), Buffer.from("data"), "x-", now))
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), [
      "other-build-a.bin",
      "x-a.bin",
      "x-b.bin.123-ab.tmp",
      "x-d.bin"
    ])

    // a "directory" that is a file: nothing written, nothing thrown
    const blocked = path.join(dir, "blocked")
    fs.writeFileSync(blocked, "")
    assert.isFalse(writeCodeCache(path.join(blocked, "x-a.bin"), Buffer.from("data"), "x-"))
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
    assert.lengthOf(files, 1)
    assert.match(
      files[0]!,
      new RegExp(`^cli-[A-Z0-9]+\\.cjs-node${process.version.replace(/\./g, "\\.")}-${process.arch}-registry\\.bin$`)
    )
    const file = path.join(cacheDir(home), files[0]!)
    assert.strictEqual(fs.readFileSync(file).subarray(0, 4).toString("latin1"), "FMV8")
    assert.isAbove(readCodeCache(file)?.length ?? 0, 100_000)
    const written = fs.statSync(file)

    // V8 accepted it: the file is left as it is (a rejected or invalid one would be replaced)
    assert.strictEqual(await listJson(home), first)
    const after = fs.statSync(file)
    assert.deepStrictEqual([after.ino, after.mtimeMs], [written.ino, written.mtimeMs])

    // another subcommand gets its own; `fm --version` loads nothing and writes none
    const help = await runFm(["--help"], { home })
    assert.strictEqual(help.code, 0, help.stderr)
    assert.strictEqual(await runFm(["--version"], { home }).then((r) => r.code), 0)
    assert.deepStrictEqual(cacheFiles(home).map((f) => f.replace(/^.*-/, "")), ["_.bin", "registry.bin"])
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
      assert.strictEqual(await listJson(home), expected, what)
      if (what !== "a directory") {
        // replaced by a good one
        assert.isAbove(readCodeCache(file)?.length ?? 0, 100_000, what)
      }
    }
  }, CLI_TIMEOUT)

  it("an unwritable cache directory, or FLOWMASON_NO_CODE_CACHE, just means no cache", async () => {
    const home = newHome()
    fs.mkdirSync(path.dirname(cacheDir(home)), { recursive: true })
    fs.writeFileSync(cacheDir(home), "not a directory")
    const expected = await listJson(home)
    assert.strictEqual(await listJson(home), expected)
    assert.strictEqual(fs.readFileSync(cacheDir(home), "utf8"), "not a directory")

    const off = newHome()
    assert.strictEqual(await listJson(off, { FLOWMASON_NO_CODE_CACHE: "1" }), expected)
    assert.deepStrictEqual(cacheFiles(off), [])
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

  it("the server (studio start) has a cache of its own, written once it has started, not at its exit", async () => {
    const home = newHome()
    const dataDir = path.join(home, "data")
    // a token command first, as a benchmark or an admin does: it writes the `studio` cache
    const token = await runFm(["studio", "token", "create", "--scope", "publish", "--data-dir", dataDir, "--json"], {
      home
    })
    assert.strictEqual(token.code, 0, token.stderr)
    assert.deepStrictEqual(cacheFiles(home).map((f) => f.replace(/^.*-x64-|^.*-arm64-/, "")), ["studio.bin"])

    const server = spawnFm(["studio", "start", "--port", "0", "--quiet", "--no-ui", "--data-dir", dataDir], { home })
    const exited = waitForExit(server, performance.now(), 120_000)
    try {
      let out = ""
      server.stdout!.setEncoding("utf8")
      await new Promise<void>((resolve, reject) => {
        server.stdout!.on("data", (d: string) => {
          out += d
          if (out.includes("listening on")) resolve()
        })
        server.once("close", () => reject(new Error(`the server ended before listening: ${out}`)))
      })
      // written while the server runs (it announces its start-up is over right after that line)
      const deadline = Date.now() + 60_000
      while (!cacheFiles(home).some((f) => f.endsWith("-studio-start.bin")) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100))
      }
      const files = cacheFiles(home)
      assert.deepStrictEqual(files.map((f) => f.replace(/^.*-x64-|^.*-arm64-/, "")), ["studio-start.bin", "studio.bin"])
      const file = path.join(cacheDir(home), files[0]!)
      assert.isAbove(readCodeCache(file)?.length ?? 0, 100_000)
      assert.isNull(server.exitCode)
    } finally {
      if (server.pid !== undefined && server.exitCode === null) process.kill(server.pid, "SIGTERM")
    }
    assert.strictEqual((await exited).code, 143)
  }, CLI_TIMEOUT)

  it(
    "the Swagger UI is not in the bundle (nor its code cache): the built server reads it for its docs page",
    async () => {
      // a text only the Swagger UI script has
      const swaggerScript = "webpackUniversalModuleDefinition"
      const dist = path.dirname(fmBin())
      const bundles = fs.readdirSync(dist).filter((f) => /^cli-[A-Z0-9]+\.cjs$/.test(f))
      assert.strictEqual(bundles.length, 1)
      assert.notInclude(fs.readFileSync(path.join(dist, bundles[0]!), "latin1"), swaggerScript)

      const home = newHome()
      const server = spawnFm(
        ["studio", "start", "--port", "0", "--quiet", "--no-ui", "--data-dir", path.join(home, "data")],
        { home }
      )
      const exited = waitForExit(server, performance.now(), 120_000)
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = ""
          server.stdout!.setEncoding("utf8")
          server.stdout!.on("data", (d: string) => {
            out += d
            const m = /listening on (http:\/\/\S+) /.exec(out)
            if (m !== null) resolve(m[1]!)
          })
          server.once("close", () => reject(new Error(`the server ended before listening: ${out}`)))
        })
        const docs = await fetch(`${url}/api/v1/registry/docs`)
        assert.strictEqual(docs.status, 200)
        const page = await docs.text()
        assert.include(page, swaggerScript)
        assert.include(page, ".swagger-ui")
      } finally {
        if (server.pid !== undefined && server.exitCode === null) process.kill(server.pid, "SIGTERM")
      }
      assert.strictEqual((await exited).code, 143)
    },
    CLI_TIMEOUT
  )
})
