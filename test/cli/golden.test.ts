/**
 * Golden tests of what the BUILT `fm` prints (dist/fm.js; `npm run build` first): every error
 * and finding of issue #14, and the help at 80 and 120 columns. Each case is a transcript (the
 * command, its exit code, stdout and stderr, with run-specific values such as ports, temporary
 * paths, digests and dates replaced by placeholders) compared with a reviewed text file in
 * test/cli/golden/. `FM_UPDATE_GOLDEN=1` rewrites the files on purpose (refused when `CI` is set);
 * a missing file fails the test.
 */
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assertBuilt, fmBin, fmEnv, type FmResult, removeFmBinSnapshot, runFm } from "../helpers/cli.js"
import { tempDir, using } from "../helpers/scoped.js"
import { acquireServer, publishFixture, type ScopedServer } from "../helpers/server.js"

const GOLDEN_DIR = fileURLToPath(new URL("./golden", import.meta.url))
const UPDATE = process.env.FM_UPDATE_GOLDEN === "1"
if (UPDATE && process.env.CI !== undefined && process.env.CI !== "") {
  throw new Error("FM_UPDATE_GOLDEN=1 is refused under CI: goldens are updated on purpose, and reviewed")
}

/** Each case runs a few `fm` processes on a shared machine. */
const T = 120_000

const writeRegistries = (dir: string, registries: ReadonlyArray<Record<string, unknown>>) => {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "registries.json"), JSON.stringify({ registries }, null, 2), { mode: 0o600 })
}

/** An ANSI escape sequence (ESC [ ... letter); ESC is built so no control character sits in a regex. */
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;]*[A-Za-z]`, "g")

const transcript = (args: ReadonlyArray<string>, r: FmResult, note?: string): string =>
  [
    `$ fm ${args.map((a) => (/[\s"$^<>|]/.test(a) || a === "" ? JSON.stringify(a) : a)).join(" ")}`,
    ...(note === undefined ? [] : [`# ${note}`]),
    `exit: ${String(r.code)}`,
    "--- stdout",
    r.stdout.trimEnd(),
    "--- stderr",
    r.stderr.trimEnd(),
    ""
  ].join("\n")

/** Options of one `fm` run of a case. */
interface FmOptions {
  readonly home?: string
  readonly env?: Record<string, string | undefined>
  readonly input?: string
  readonly cwd?: string
  readonly note?: string
}

/**
 * The file's fixture: two registries (`main` and a `mirror` with an older text-utils), a work
 * directory with the shared home, and the transcript runners, whose placeholders hide the
 * run-specific ports and paths of these.
 */
class Golden extends Context.Tag("test/golden/Golden")<Golden, {
  readonly main: ScopedServer
  readonly mirror: ScopedServer
  readonly work: string
  readonly home: string
  /** Compares `text` with (or, with FM_UPDATE_GOLDEN=1, writes) test/cli/golden/<name>.txt. */
  readonly golden: (name: string, text: string) => void
  /** Runs fm in the shared home (or `opts.home`) and records the transcript under `name`. */
  readonly fm: (name: string | undefined, args: ReadonlyArray<string>, opts?: FmOptions) => Promise<FmResult>
  /** Several commands in one golden file. */
  readonly session: (
    name: string,
    steps: ReadonlyArray<{ readonly args: ReadonlyArray<string> } & FmOptions>
  ) => Promise<Array<FmResult>>
}>() {}

/** The servers, seeded, and the work directory: built once for the file, released after its last test. */
const fixture = Layer.scoped(
  Golden,
  Effect.gen(function*() {
    assertBuilt()
    yield* Effect.addFinalizer(() => Effect.sync(removeFmBinSnapshot))
    const work = yield* tempDir("fm-golden-work-")
    const home = path.join(work, "home")
    const [main, mirror] = yield* Effect.all([acquireServer(), acquireServer()], { concurrency: 2 })
    yield* Effect.promise(async () => {
      await publishFixture(main.url, main.adminToken, {
        name: "str-core",
        version: "2.1.0",
        manifest: { description: "String core" }
      })
      for (const version of ["1.0.0", "1.1.5"]) {
        await publishFixture(main.url, main.adminToken, {
          name: "text-utils",
          version,
          deps: { "str-core": "^2.0.0" },
          manifest: { description: "Text helpers" }
        })
      }
      // the mirror has an older text-utils only
      await publishFixture(mirror.url, mirror.adminToken, {
        name: "text-utils",
        version: "1.0.0",
        deps: {},
        manifest: { description: "Text helpers (mirror)" }
      })
    })
    writeRegistries(home, [
      { name: "main", url: main.url, priority: 10, is_default: true, can_publish: true, auth_token: main.adminToken },
      { name: "mirror", url: mirror.url, priority: 20, can_publish: false }
    ])
    const replacements: ReadonlyArray<readonly [string, string]> = [
      [main.url, "http://127.0.0.1:<MAIN-PORT>"],
      [mirror.url, "http://127.0.0.1:<MIRROR-PORT>"],
      [main.dataDir, "<MAIN-DATA>"],
      [mirror.dataDir, "<MIRROR-DATA>"],
      [work, "<WORK>"],
      [fs.realpathSync(work), "<WORK>"],
      [String(new URL(main.url).port), "<MAIN-PORT>"]
    ]
    /** Run-specific values as placeholders. */
    const normalize = (text: string): string => {
      let out = text
      for (const [from, to] of replacements) out = out.split(from).join(to)
      return out
        .replace(ANSI_ESCAPE, "")
        .replace(/\b[0-9a-f]{64}\b/g, "<SHA256>")
        .replace(/\b[0-9a-f]{12}…/g, "<SHA256-PREFIX>…")
        .replace(/fmr_[A-Za-z0-9_-]{20,}/g, "<TOKEN>")
        .replace(/fm-log\/[0-9a-f]{16}\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+/g, "<LOG-KEY>")
        .replace(/fmr_[A-Za-z0-9_-]{4}…/g, "<PREFIX>…")
        .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?/g, "<TIME>")
        .replace(/\d{4}-\d{2}-\d{2}/g, "<DAY>")
    }
    const golden = (name: string, text: string) => {
      const file = path.join(GOLDEN_DIR, `${name}.txt`)
      const body = normalize(text)
      if (UPDATE) {
        fs.mkdirSync(GOLDEN_DIR, { recursive: true })
        fs.writeFileSync(file, body)
        return
      }
      if (!fs.existsSync(file)) throw new Error(`no golden file ${file}: run with FM_UPDATE_GOLDEN=1, then review it`)
      assert.strictEqual(body, fs.readFileSync(file, "utf8"))
    }
    const fm = async (name: string | undefined, args: ReadonlyArray<string>, opts: FmOptions = {}) => {
      const r = await runFm(args, {
        home: opts.home ?? home,
        env: { FLOWMASON_NO_CODE_CACHE: "1", ...opts.env },
        cwd: opts.cwd ?? work,
        ...(opts.input === undefined ? {} : { input: opts.input }),
        timeoutMs: 60_000
      })
      if (name !== undefined) golden(name, transcript(args, r, opts.note))
      return r
    }
    const session = async (
      name: string,
      steps: ReadonlyArray<{ readonly args: ReadonlyArray<string> } & FmOptions>
    ) => {
      const parts: Array<string> = []
      const results: Array<FmResult> = []
      for (const step of steps) {
        const r = await fm(undefined, step.args, step)
        results.push(r)
        parts.push(transcript(step.args, r, step.note))
      }
      golden(name, parts.join("\n"))
      return results
    }
    return { main, mirror, work, home, golden, fm, session }
  })
)

layer(fixture, { excludeTestServices: true, timeout: T })((it) => {
  describe("usage errors name the word at fault, with a did-you-mean (exit 2)", () => {
    it.effect(
      "install: --version without a value, an unknown flag, -V, a version that is not one",
      () =>
        using(Golden, async ({ session }) => {
          const results = await session("usage-install", [
            { args: ["install", "text-utils", "--version"], note: "was: printed fm's own version, exit 0" },
            { args: ["install", "--bogus-flag", "text-utils"], note: "was: Received unknown argument: 'text-utils'" },
            { args: ["install", "text-utils", "-V", "1.0.0"], note: "was: silently installed 1.1.5" },
            { args: ["install", "text-utils", "--version", "banana"], note: "was: not found in any registry" },
            { args: ["install", "text-utils@1.0.0", "--version", "1.1.5"] },
            {
              args: ["install", "text-utils", "--version", "banana", "--json"],
              note: "--json: the error is JSON on stdout"
            }
          ])
          assert.deepStrictEqual(results.map((r) => r.code), [2, 2, 2, 2, 2, 2])
          assert.containSubset(JSON.parse(results[5]?.stdout ?? ""), { error: { code: "usage" } })
        }),
      T
    )

    it.effect(
      "commands: did you mean at every level; a missing argument says error:",
      () =>
        using(Golden, async ({ session }) => {
          const results = await session("usage-commands", [
            { args: ["serach", "x"], note: "was: Invalid subcommand for fm - use one of ..." },
            { args: ["registry", "lst"], note: "was: suggested top-level commands" },
            { args: ["studio", "tokn", "list"] },
            { args: ["studio", "token", "revok", "3"] },
            { args: ["search"], note: "was: Missing argument <query>, without error:" },
            { args: ["search", "--json"] },
            { args: ["registry", "add", "x", "http://h", "--priorty", "5"] },
            { args: ["registry", "add", "x", "http://h", "--priority", "high"] },
            { args: ["pack", "--format", "rar"] },
            { args: ["studio", "token", "create"] },
            { args: ["info", "a", "b"] },
            { args: ["help", "instal"] },
            { args: ["pack", "./no-such-dir"] },
            { args: ["--completions", "bsh"] },
            { args: ["update", "text-utils@1.2"] },
            { args: ["tree", "--dir", "."], note: "--dir is install's target; the project is --project/-C" }
          ])
          assert.deepStrictEqual(results.map((r) => r.code), [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
          assert.containSubset(JSON.parse(results[5]?.stdout ?? ""), { error: { code: "usage" } })
        }),
      T
    )
  })

  describe("packages: NAME@VERSION, NAME@RANGE and dependencies", () => {
    it.effect(
      "install NAME@VERSION brings its dependencies; --no-deps does not; info and versions take NAME@RANGE",
      () =>
        using(Golden, async ({ session, work }) => {
          const dir = path.join(work, "installed")
          const results = await session("install-deps", [
            {
              args: ["install", "text-utils@1.0.0", "--dir", dir],
              note: "was: refused as a package name; never installed dependencies"
            },
            { args: ["install", "text-utils@^1.1", "--no-deps", "--dir", path.join(work, "nodeps")] },
            { args: ["info", "text-utils@^1.0"] },
            { args: ["versions", "text-utils@~1.0"] },
            { args: ["install", "Bad Name!"] }
          ])
          assert.deepStrictEqual(results.map((r) => r.code), [0, 0, 0, 0, 1])
          assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["str-core-2.1.0.fmpkg", "text-utils-1.0.0.fmpkg"])
          assert.deepStrictEqual(fs.readdirSync(path.join(work, "nodeps")), ["text-utils-1.1.5.fmpkg"])
        }),
      T
    )

    it.effect("--offline of a version not in the cache says so", () =>
      using(Golden, async ({ fm, main, work }) => {
        const fresh = path.join(work, "home-offline")
        writeRegistries(fresh, [{ name: "main", url: main.url, priority: 10 }])
        const r = await fm("install-offline-not-cached", ["install", "text-utils", "--offline", "--version", "1.0.0"], {
          home: fresh,
          note: "was: no registry is enabled"
        })
        assert.strictEqual(r.code, 1)
      }), T)

    it.effect("search lists a package once, from the highest-priority registry", () =>
      using(Golden, async ({ fm }) => {
        const r = await fm("search-once", ["search", "text"], { note: "was: one line per registry" })
        assert.strictEqual(r.code, 0)
        assert.strictEqual(r.stdout.match(/text-utils/g)?.length, 1)
      }), T)

    it.effect("a corrupt cached archive warns once, in one format", () =>
      using(Golden, async ({ fm, home, work }) => {
        const blobs = path.join(home, "cache", "packages", "blobs")
        for (const f of fs.readdirSync(blobs)) fs.writeFileSync(path.join(blobs, f), "corrupt")
        const r = await fm(
          "cache-corrupt",
          ["install", "text-utils@1.0.0", "--no-deps", "--dir", path.join(work, "again")],
          {
            note: "was: warned twice (a timestamped WARN line on stdout, and warning: on stderr)"
          }
        )
        assert.strictEqual(r.code, 0)
        assert.strictEqual(r.stderr.match(/corrupt/g)?.length, 1)
        assert.notMatch(r.stdout, /WARN/)
      }), T)
  })

  describe("failures in words: no library names, internal paths or stack traces (exit 1)", () => {
    it.effect(
      "studio start on a busy port and on an address it cannot bind",
      () =>
        using(Golden, async ({ main, session, work }) => {
          const results = await session("studio-listen", [
            {
              args: ["studio", "start", "--port", new URL(main.url).port, "--data-dir", path.join(work, "d-busy")],
              note: "was: error: ServeError"
            },
            {
              args: ["studio", "start", "--host", "192.0.2.1", "--port", "0", "--data-dir", path.join(work, "d-addr")]
            },
            {
              args: [
                "studio",
                "start",
                "--port",
                new URL(main.url).port,
                "--data-dir",
                path.join(work, "d-busy"),
                "--json"
              ]
            }
          ])
          assert.deepStrictEqual(results.map((r) => r.code), [1, 1, 2])
        }),
      T
    )

    it.effect(
      "an unwritable --dir names the directory and the reason",
      () =>
        using(Golden, async ({ golden, main, work }) => {
          const ro = path.join(work, "read-only")
          fs.mkdirSync(ro, { mode: 0o555 })
          fs.chmodSync(ro, 0o555)
          const args = ["install", "text-utils@1.0.0", "--no-deps", "--dir", ro]
          // root may write anywhere: run as nobody, with a home of its own
          const asRoot = process.getuid?.() === 0
          fs.chmodSync(work, 0o755) // nobody may reach the directory, but not write in it
          const nobodyHome = path.join(work, "home-nobody")
          writeRegistries(nobodyHome, [{ name: "main", url: main.url, priority: 10 }])
          if (asRoot) fs.chownSync(nobodyHome, 65534, 65534)
          if (asRoot) fs.chownSync(path.join(nobodyHome, "registries.json"), 65534, 65534)
          const r = await new Promise<FmResult>((resolve, reject) => {
            const bin = fmBin()
            const [program, programArgs] = asRoot
              ? ["setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, bin, ...args]]
              : [process.execPath, [bin, ...args]]
            const child = spawn(program, programArgs, {
              cwd: work,
              env: fmEnv({ home: nobodyHome, env: { FLOWMASON_NO_CODE_CACHE: "1" } }),
              stdio: ["ignore", "pipe", "pipe"]
            })
            let stdout = ""
            let stderr = ""
            child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
            child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
            child.on("error", reject)
            child.on("close", (code, signal) => resolve({ stdout, stderr, code, signal, ms: 0 }))
          })
          golden(
            "install-dir-unwritable",
            transcript(args, r, "was: PermissionDenied: FileSystem.copyFile (.../blobs/<sha>.fmpkg)")
          )
          assert.strictEqual(r.code, 1)
        }),
      T
    )

    it.effect(
      "a schema error in registries.json reads as one line per field",
      () =>
        using(Golden, async ({ fm, work }) => {
          const bad = path.join(work, "home-bad")
          writeRegistries(bad, [{ name: "x", url: "http://h", priority: "high", enabled: 3 }])
          const r = await fm("registries-json-schema", ["registry", "list"], {
            home: bad,
            note: "was: the schema library's tree"
          })
          assert.strictEqual(r.code, 1)
        }),
      T
    )
  })

  describe("registries: add, set, login, remove", () => {
    it.effect(
      "add is publishable; set changes settings; login reads stdin; a removed default passes its mark on",
      () =>
        using(Golden, async ({ main, mirror, session, work }) => {
          const h = path.join(work, "home-registries")
          fs.mkdirSync(h, { recursive: true })
          const results = await session("registry-settings", [
            {
              args: ["registry", "add", "first", main.url, "--default"],
              home: h,
              note: "was: saved with can_publish false"
            },
            { args: ["registry", "add", "second", mirror.url, "--priority", "50"], home: h },
            {
              args: [
                "registry",
                "set",
                "second",
                "--priority",
                "5",
                "--no-publish",
                "--requires-auth",
                "--description",
                "Team mirror"
              ],
              home: h
            },
            { args: ["registry", "set", "second"], home: h },
            { args: ["login", "second"], home: h, input: "s3cret-token\n" },
            { args: ["registry", "list"], home: h },
            { args: ["registry", "remove", "first"], home: h, note: "stdin is not a terminal: no prompt" },
            { args: ["registry", "remove", "first", "--yes"], home: h },
            { args: ["registry", "list"], home: h, note: "was: no mark in DEFAULT for the new default" }
          ])
          assert.deepStrictEqual(results.map((r) => r.code), [0, 0, 0, 2, 0, 0, 2, 0, 0])
          const saved = JSON.parse(fs.readFileSync(path.join(h, "registries.json"), "utf8")) as {
            registries: Array<{ name: string; auth_token?: string }>
          }
          assert.strictEqual(saved.registries.find((r) => r.name === "second")?.auth_token, "s3cret-token")
        }),
      T
    )
  })

  describe("publish", () => {
    it.effect(
      "publish DIR packs and publishes; --dry-run uploads nothing",
      () =>
        using(Golden, async ({ session, work }) => {
          const pkg = path.join(work, "pkg-dir")
          fs.mkdirSync(pkg, { recursive: true })
          fs.writeFileSync(
            path.join(pkg, "manifest.json"),
            JSON.stringify({ name: "dir-pkg", version: "0.1.0", description: "From a directory", dependencies: {} })
          )
          const results = await session("publish-dir", [
            { args: ["publish", pkg, "--dry-run"] },
            { args: ["info", "dir-pkg"], note: "not published by the dry run" },
            { args: ["publish", pkg] },
            { args: ["publish", pkg, "--registry", "mirror"] }
          ])
          assert.deepStrictEqual(results.map((r) => r.code), [0, 1, 0, 1])
        }),
      T
    )
  })

  describe("studio tokens: unique names; revoke revokes exactly what it names", () => {
    it.effect(
      "two automatic names the same day differ; revoking one by name leaves the other",
      () =>
        using(Golden, async ({ session, work }) => {
          const data = path.join(work, "token-data")
          const studio = (a: ReadonlyArray<string>) => [...a, "--data-dir", data]
          const results = await session("tokens", [
            { args: studio(["studio", "token", "create", "--scope", "publish"]) },
            { args: studio(["studio", "token", "create", "--scope", "publish"]) },
            { args: studio(["studio", "token", "create", "--scope", "read", "--name", "ci"]) },
            { args: studio(["studio", "token", "create", "--scope", "read", "--name", "ci"]) },
            {
              args: studio(["studio", "token", "revoke", `publish-${new Date().toISOString().slice(0, 10)}`]),
              note: "was: revoked every token of that name"
            },
            { args: studio(["studio", "token", "list"]) }
          ])
          assert.deepStrictEqual(results.map((r) => r.code), [0, 0, 0, 1, 0, 0])
          assert.strictEqual((results[5]?.stdout ?? "").match(/revoked/g)?.length, 1)
        }),
      T
    )

    it.effect(
      "a name several old tokens share is refused, and nothing is revoked",
      () =>
        using(Golden, async ({ fm, session, work }) => {
          const data = path.join(work, "legacy-data")
          await fm(undefined, ["studio", "token", "list", "--data-dir", data])
          // two tokens of one name, as databases made before names were unique may hold
          await Effect.runPromise(
            Effect.gen(function*() {
              const sql = yield* SqlClient.SqlClient
              for (const hash of ["a".repeat(64), "b".repeat(64)]) {
                yield* sql`INSERT INTO tokens (name, prefix, hash, scope, created_at)
            VALUES ('mirror', 'fmr_x', ${hash}, 'read', '2026-01-01T00:00:00Z')`
              }
            }).pipe(Effect.provide(SqliteClient.layer({ filename: path.join(data, "registry.db") })))
          )
          const results = await session("tokens-legacy-duplicates", [
            { args: ["studio", "token", "revoke", "mirror", "--data-dir", data] },
            { args: ["studio", "token", "list", "--data-dir", data] },
            { args: ["studio", "token", "revoke", "99", "--data-dir", data] }
          ])
          assert.deepStrictEqual(results.map((r) => r.code), [1, 0, 1])
          assert.notMatch(results[1]?.stdout ?? "", /revoked/)
        }),
      T
    )
  })

  describe("help", () => {
    const pages: ReadonlyArray<ReadonlyArray<string>> = [
      ["--help"],
      ["help", "install"],
      ["registry", "--help"],
      ["registry", "add", "--help"],
      ["registry", "set", "--help"],
      ["studio", "--help"],
      ["studio", "start", "--help"],
      ["studio", "token", "create", "--help"],
      ["publish", "--help"],
      ["login", "--help"]
    ]
    for (const columns of [80, 120]) {
      it.effect(
        `fits ${columns} columns, with summaries, defaults and examples`,
        () =>
          using(Golden, async ({ fm, golden }) => {
            const parts: Array<string> = []
            for (const args of pages) {
              const r = await fm(undefined, args, { env: { COLUMNS: String(columns) } })
              assert.strictEqual(r.code, 0, r.stderr)
              for (const line of r.stdout.split("\n")) assert.isAtMost(line.length, columns, line)
              assert.match(r.stdout, /Examples:\n {2}(echo .* \| )?fm /)
              parts.push(transcript(args, r))
            }
            golden(`help-${columns}`, parts.join("\n"))
          }),
        T
      )
    }

    it.effect(
      "fm alone prints the help; -V and --version print the version",
      () =>
        using(Golden, async ({ session }) => {
          const results = await session("help-root", [{ args: [] }, { args: ["-V"] }, { args: ["--version"] }])
          assert.deepStrictEqual(results.map((r) => r.code), [0, 0, 0])
        }),
      T
    )

    it.effect(
      "every example in the help is a valid command line of the command it is shown for",
      () =>
        Effect.promise(async () => {
          const { EXAMPLES } = await import("../../src/cli/HelpExamples.js")
          const { loadFm } = await import("../../src/cli/Cli.js")
          const { commandSpec } = await import("../../src/cli/CommandSpec.js")
          const { checkArgv, isArgvProblem } = await import("../../src/cli/ArgvCheck.js")
          const { withInstallVersionFlag } = await import("../../src/cli/commands/installArgs.js")
          const tree = withInstallVersionFlag(commandSpec((await Effect.runPromise(loadFm([]))).descriptor))
          for (const [where, examples] of Object.entries(EXAMPLES)) {
            for (const example of examples) {
              const line = example.slice(example.indexOf("fm ") + 3)
              const words = [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "")
              assert.isTrue(line.startsWith(where), `${example} is shown under '${where}'`)
              const intent = checkArgv(tree, words)
              assert.strictEqual(isArgvProblem(intent) ? `${example}: ${intent.reason}` : "ok", "ok")
            }
          }
        }),
      T
    )
  })
})
