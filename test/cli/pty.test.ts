/**
 * The BUILT `fm` on a pseudo-terminal (`script -qec`, util-linux): the progress bar of a large
 * publish and download (drawn with rate and time left, then cleared), and the `registry remove`
 * prompt (yes, no, and Ctrl-C, which exits 130 and removes nothing).
 */
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { assertBuilt, fmBin, fmEnv, removeFmBinSnapshot } from "../helpers/cli.js"
import { tempDir, using } from "../helpers/scoped.js"
import { acquireServer } from "../helpers/server.js"

const T = 240_000

const writeRegistries = (home: string, registries: ReadonlyArray<Record<string, unknown>>) =>
  fs.writeFileSync(path.join(home, "registries.json"), JSON.stringify({ registries }, null, 2), { mode: 0o600 })

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`

/** `fm args...` on a pseudo-terminal in `work`; resolves with everything the terminal showed and the exit code. */
const onPtyIn = (home: string, work: string) =>
(
  args: ReadonlyArray<string>,
  react: (output: string, child: ChildProcessWithoutNullStreams) => void = () => {},
  cwd: string = work
): Promise<{ output: string; code: number | null }> =>
  new Promise((resolve, reject) => {
    const command = [process.execPath, fmBin(), ...args].map(quote).join(" ")
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      cwd,
      env: { ...fmEnv({ home, env: { FLOWMASON_NO_CODE_CACHE: "1", COLUMNS: "100" } }), TERM: "xterm" },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let output = ""
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
    }, 180_000)
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString("utf8")
      react(output, child)
    })
    child.stderr.on("data", (d: Buffer) => (output += d.toString("utf8")))
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ output, code })
    })
  })

/** A child-process server, a work dir with the home inside, both registries on the server, and `fm` on a terminal there. */
class Fixture extends Context.Tag("test/pty/Fixture")<Fixture, {
  readonly home: string
  readonly work: string
  readonly onPty: ReturnType<typeof onPtyIn>
}>() {}

const Prepared = Layer.scoped(
  Fixture,
  Effect.gen(function*() {
    assertBuilt()
    yield* Effect.addFinalizer(() => Effect.sync(() => removeFmBinSnapshot()))
    const work = yield* tempDir("fm-pty-")
    const home = path.join(work, "home")
    fs.mkdirSync(home)
    const server = yield* acquireServer()
    writeRegistries(home, [
      {
        name: "main",
        url: server.url,
        priority: 10,
        is_default: true,
        can_publish: true,
        auth_token: server.adminToken
      },
      { name: "spare", url: server.url, priority: 20 }
    ])
    return { home, work, onPty: onPtyIn(home, work) }
  })
)

layer(Prepared, { excludeTestServices: true, timeout: T })((it) => {
  describe("progress on a terminal", () => {
    it.effect(
      "a 57 MiB publish and its download show a bar with rate and ETA, cleared at the end",
      () =>
        using(Fixture, async ({ home, onPty, work }) => {
          const pkg = path.join(work, "big-pkg")
          fs.mkdirSync(pkg)
          fs.writeFileSync(
            path.join(pkg, "manifest.json"),
            JSON.stringify({ name: "big-pkg", version: "1.0.0", description: "Large", dependencies: {} })
          )
          // incompressible, so that the archive stays about 57 MiB
          const fd = fs.openSync(path.join(pkg, "data.bin"), "w")
          for (let i = 0; i < 57; i++) fs.writeSync(fd, crypto.randomBytes(1024 * 1024))
          fs.closeSync(fd)

          const up = await onPty(["publish", pkg])
          assert.strictEqual(up.code, 0, up.output)
          assert.match(
            up.output,
            /uploading \[[#.]{24}\] [\d.]+ MiB \/ 57\.\d MiB {2}[\d.]+ [KMG]iB\/s {2}ETA \d+(s|m\d\ds)/
          )
          // the bar is cleared (carriage return, erase line) before the result is printed
          const cleared = up.output.lastIndexOf("\r\u001b[2K")
          assert.isAbove(cleared, up.output.lastIndexOf("uploading ["))
          assert.isAbove(up.output.indexOf("Published big-pkg@1.0.0", cleared), cleared)

          const down = await onPty(["install", "big-pkg", "--no-deps", "--dir", path.join(work, "installed")])
          assert.strictEqual(down.code, 0, down.output)
          assert.match(down.output, /downloading big-pkg \[[#.]{24}\] [\d.]+ [KM]iB \/ 57\.\d MiB {2}[\d.]+ [KMG]iB\/s/)
          const clearedDown = down.output.lastIndexOf("\r\u001b[2K")
          assert.isAbove(down.output.indexOf("Installed big-pkg@1.0.0", clearedDown), clearedDown)

          // a project install: one bar over all its downloads (the cache emptied first)
          fs.rmSync(path.join(home, "cache", "packages"), { recursive: true, force: true })
          const project = path.join(work, "project")
          fs.mkdirSync(project)
          fs.writeFileSync(
            path.join(project, "manifest.json"),
            JSON.stringify({ name: "project", version: "1.0.0", dependencies: { "big-pkg": "^1.0.0" } })
          )
          const proj = await onPty(["install"], () => {}, project)
          assert.strictEqual(proj.code, 0, proj.output)
          assert.match(proj.output, /downloading \[[#.]{24}\] [\d.]+ [KM]iB \/ 57\.\d MiB {2}[\d.]+ [KMG]iB\/s/)
          const clearedProj = proj.output.lastIndexOf("\r\u001b[2K")
          assert.isAbove(proj.output.indexOf("Installed 1 packages", clearedProj), clearedProj)
        }),
      T
    )

    it.effect("with --json there is no bar, even on a terminal", () =>
      using(Fixture, async ({ onPty, work }) => {
        const r = await onPty(["install", "big-pkg", "--no-deps", "--dir", path.join(work, "json"), "--json"])
        assert.strictEqual(r.code, 0, r.output)
        assert.notMatch(r.output, /downloading/)
      }), T)
  })

  describe("the registry remove prompt on a terminal", () => {
    /** Answers the prompt with `keys` once it is shown. */
    const answer = (keys: string) => {
      let sent = false
      return (output: string, child: ChildProcessWithoutNullStreams) => {
        if (!sent && output.includes("Remove registry 'spare'")) {
          sent = true
          child.stdin.write(keys)
        }
      }
    }
    const names = (home: string) =>
      (JSON.parse(fs.readFileSync(path.join(home, "registries.json"), "utf8")) as {
        registries: Array<{ name: string }>
      })
        .registries.map((r) => r.name)

    it.effect(
      "asks; n keeps the registry, Ctrl-C cancels with exit 130, y removes it",
      () =>
        using(Fixture, async ({ home, onPty }) => {
          const no = await onPty(["registry", "remove", "spare"], answer("n"))
          assert.match(no.output, /Remove registry 'spare' \(http:\/\/127\.0\.0\.1:\d+\)\?/)
          assert.strictEqual(no.code, 0, no.output)
          assert.match(no.output, /Nothing removed\./)
          assert.include(names(home), "spare")

          const cancelled = await onPty(["registry", "remove", "spare"], answer("\u0003"))
          assert.strictEqual(cancelled.code, 130, cancelled.output)
          assert.match(cancelled.output, /error: cancelled/)
          assert.include(names(home), "spare")

          const yes = await onPty(["registry", "remove", "spare"], answer("y"))
          assert.strictEqual(yes.code, 0, yes.output)
          assert.match(yes.output, /Removed registry 'spare'/)
          assert.notInclude(names(home), "spare")
        }),
      T
    )
  })
})
