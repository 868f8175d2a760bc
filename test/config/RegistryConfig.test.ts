import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { RegistryConfigLive } from "../../src/client/ClientLayers.js"
import {
  ConfigError,
  implicitLocal,
  RegistryConfig,
  RegistryEntry,
  UnknownRegistry
} from "../../src/client/RegistryConfig.js"
import { FlowmasonHome, layerAt } from "../../src/shared/FlowmasonHome.js"

const tempHome = () => fs.mkdtempSync(path.join(os.tmpdir(), "fm-config-"))

/** Runs `eff` with a RegistryConfig over `home` and exactly the given environment. */
const withConfig =
  (home: string, env: Record<string, string> = {}) =>
  <A, E>(eff: Effect.Effect<A, E, RegistryConfig>): Effect.Effect<A, E> =>
    eff.pipe(
      Effect.provide(RegistryConfigLive.pipe(Layer.provide(layerAt(home)))),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
    )

const writeFile = (home: string, value: unknown) =>
  fs.writeFileSync(
    path.join(home, "registries.json"),
    typeof value === "string" ? value : JSON.stringify(value, null, 2)
  )

const readRaw = (home: string) => JSON.parse(fs.readFileSync(path.join(home, "registries.json"), "utf8"))

const names = (entries: ReadonlyArray<RegistryEntry>) => entries.map((e) => e.name)

describe("RegistryConfig", () => {
  it.live("with no file: the implicit local registry, and reading creates nothing", () => {
    const home = tempHome()
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      const list = yield* config.list
      assert.strictEqual(list.length, 1)
      const local = list[0]!
      assert.strictEqual(local.name, "local")
      assert.strictEqual(local.url, "http://localhost:8999")
      assert.strictEqual(local.priority, 50)
      assert.strictEqual(local.enabled, true)
      assert.strictEqual(local.isDefault, true)
      assert.strictEqual(local.canPublish, true)
      assert.strictEqual(local.requiresAuth, false)
      assert.strictEqual(local.description, "Local FlowMason Studio")
      assert.strictEqual((yield* config.defaultRegistry).name, "local")
      assert.deepStrictEqual(names(yield* config.enabled), ["local"])
      assert.strictEqual(config.file, path.join(home, "registries.json"))
      assert.isFalse(fs.existsSync(config.file))
    }).pipe(withConfig(home), Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it.live("FLOWMASON_HOME moves the file", () => {
    const home = tempHome()
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      assert.strictEqual(config.file, path.join(home, "registries.json"))
    }).pipe(
      Effect.provide(RegistryConfigLive.pipe(Layer.provide(FlowmasonHome.Default))),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["FLOWMASON_HOME", home]]))),
      Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true })))
    )
  })

  it.live("fills defaults for absent and null fields (snake_case keys in the file)", () => {
    const home = tempHome()
    writeFile(home, {
      registries: [
        { name: "bare", url: "https://bare.test" },
        {
          name: "full",
          url: "https://full.test",
          auth_token: "s3cret",
          priority: 7,
          enabled: false,
          is_default: true,
          can_publish: true,
          requires_auth: true,
          description: "d"
        },
        { name: "nulls", url: "https://nulls.test", auth_token: null, description: null, priority: null }
      ]
    })
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      const bare = yield* config.get("bare")
      assert.strictEqual(bare.priority, 100)
      assert.strictEqual(bare.enabled, true)
      assert.strictEqual(bare.isDefault, false)
      assert.strictEqual(bare.canPublish, false)
      assert.strictEqual(bare.requiresAuth, false)
      assert.strictEqual(bare.authToken, undefined)
      const full = yield* config.get("full")
      assert.strictEqual(full.authToken, "s3cret")
      assert.strictEqual(full.priority, 7)
      assert.strictEqual(full.enabled, false)
      assert.strictEqual(full.isDefault, true)
      assert.strictEqual(full.canPublish, true)
      assert.strictEqual(full.requiresAuth, true)
      const nulls = yield* config.get("nulls")
      assert.strictEqual(nulls.authToken, undefined)
      assert.strictEqual(nulls.priority, 100)
      // full is default but disabled: the default is the first enabled one
      assert.strictEqual((yield* config.defaultRegistry).name, "bare")
    }).pipe(withConfig(home), Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it.live("orders by priority, lower first, ties in file order; enabled filters", () => {
    const home = tempHome()
    writeFile(home, {
      registries: [
        { name: "a", url: "https://a.test", priority: 100 },
        { name: "b", url: "https://b.test", priority: 10 },
        { name: "c", url: "https://c.test" },
        { name: "d", url: "https://d.test", priority: 10, enabled: false },
        { name: "e", url: "https://e.test", priority: 100 },
        { name: "f", url: "https://f.test", priority: -5 }
      ]
    })
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      assert.deepStrictEqual(names(yield* config.list), ["f", "b", "d", "a", "c", "e"])
      assert.deepStrictEqual(names(yield* config.enabled), ["f", "b", "a", "c", "e"])
      assert.strictEqual((yield* config.defaultRegistry).name, "f")
    }).pipe(withConfig(home), Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it.live("unknown keys (top level and per entry) survive add, remove, set-default and update", () => {
    const home = tempHome()
    writeFile(home, {
      schema_version: 3,
      studio: { theme: "dark" },
      registries: [
        { name: "keep", url: "https://keep.test", mirror_of: "upstream", x_labels: ["a", "b"], priority: 20 },
        { name: "drop", url: "https://drop.test", x_note: "bye" }
      ],
      trailing_key: true
    })
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      yield* config.add(new RegistryEntry({ name: "new", url: "https://new.test", priority: 5 }))
      yield* config.remove("drop")
      yield* config.setDefault("keep")
      yield* config.update("keep", { description: "kept", authToken: "tok" })
      const raw = readRaw(home)
      assert.strictEqual(raw.schema_version, 3)
      assert.deepStrictEqual(raw.studio, { theme: "dark" })
      assert.strictEqual(raw.trailing_key, true)
      assert.deepStrictEqual(raw.registries.map((r: { name: string }) => r.name), ["keep", "new"])
      const keep = raw.registries[0]
      assert.strictEqual(keep.mirror_of, "upstream")
      assert.deepStrictEqual(keep.x_labels, ["a", "b"])
      assert.strictEqual(keep.is_default, true)
      assert.strictEqual(keep.description, "kept")
      assert.strictEqual(keep.auth_token, "tok")
      assert.strictEqual(keep.priority, 20)
      // snake_case only: no camelCase keys leak into the file
      assert.isUndefined(keep.isDefault)
      assert.isUndefined(keep.authToken)
      assert.strictEqual(raw.registries[1].is_default, false)
      // null removes an optional field
      yield* config.update("keep", { authToken: null })
      assert.isFalse("auth_token" in readRaw(home).registries[0])
      assert.strictEqual(readRaw(home).registries[0].mirror_of, "upstream")
    }).pipe(withConfig(home), Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it.live("the first change with no file keeps the implicit local registry", () => {
    const home = tempHome()
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      yield* config.add(new RegistryEntry({ name: "company", url: "https://company.test" }))
      const raw = readRaw(home)
      assert.deepStrictEqual(raw.registries.map((r: { name: string }) => r.name), ["local", "company"])
      assert.deepStrictEqual(raw.registries[0], {
        name: "local",
        url: "http://localhost:8999",
        priority: 50,
        enabled: true,
        is_default: true,
        can_publish: true,
        requires_auth: false,
        description: "Local FlowMason Studio"
      })
      assert.deepStrictEqual(names(yield* config.list), ["local", "company"])
    }).pipe(withConfig(home), Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it.live("writes atomically with mode 0600 and leaves no temp files", () => {
    const home = tempHome()
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      for (let i = 0; i < 5; i++) {
        yield* config.add(new RegistryEntry({ name: `r${i}`, url: `https://r${i}.test`, priority: i }))
      }
      yield* config.remove("r2")
      const mode = fs.statSync(config.file).mode & 0o777
      assert.strictEqual(mode.toString(8), "600")
      assert.deepStrictEqual(fs.readdirSync(home), ["registries.json"])
      // a pre-existing file with loose permissions is tightened on rewrite
      fs.chmodSync(config.file, 0o644)
      yield* config.setEnabled("r1", false)
      assert.strictEqual((fs.statSync(config.file).mode & 0o777).toString(8), "600")
      assert.deepStrictEqual(fs.readdirSync(home), ["registries.json"])
    }).pipe(withConfig(home), Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it.live("a corrupt file gives ConfigError with the file, line and column, and is never replaced", () => {
    const home = tempHome()
    const text =
      "{\n  \"registries\": [\n    { \"name\": \"a\", \"url\": \"https://a.test\" },\n    { \"name\": \"b\" \"url\": 1 }\n  ]\n}\n"
    writeFile(home, text)
    const file = path.join(home, "registries.json")
    const before = fs.readFileSync(file)
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      const err = yield* Effect.flip(config.list)
      assert.instanceOf(err, ConfigError)
      assert.strictEqual(err.file, file)
      assert.strictEqual(err.line, 4)
      assert.strictEqual(err.column, 19)
      assert.include(err.message, `${file}:4:19`)
      assert.include(err.reason, "invalid JSON")
      // every write path refuses, and the bytes stay the same
      const addErr = yield* Effect.flip(config.add(new RegistryEntry({ name: "x", url: "https://x.test" })))
      assert.strictEqual(addErr._tag, "ConfigError")
      yield* Effect.flip(config.remove("a"))
      yield* Effect.flip(config.setDefault("a"))
      yield* Effect.flip(config.setEnabled("a", false))
      assert.isTrue(fs.readFileSync(file).equals(before))
      assert.deepStrictEqual(fs.readdirSync(home), ["registries.json"])
    }).pipe(withConfig(home), Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it.live("truncated JSON and wrong shapes are ConfigErrors naming the file (and the entry)", () => {
    const home = tempHome()
    const file = path.join(home, "registries.json")
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      writeFile(home, "{\n  \"registries\": [\n")
      const truncated = yield* Effect.flip(config.list)
      assert.strictEqual(truncated.file, file)
      assert.strictEqual(truncated.line, 3)

      writeFile(home, {
        registries: [{ name: "ok", url: "https://ok.test" }, { name: "bad", url: "https://b.test", priority: "high" }]
      })
      const shape = yield* Effect.flip(config.list)
      assert.instanceOf(shape, ConfigError)
      assert.include(shape.message, file)
      assert.include(shape.message, "registries[1] ('bad')")
      assert.include(shape.message, "priority")

      writeFile(home, { registries: { name: "x" } })
      assert.include((yield* Effect.flip(config.list)).message, "\"registries\" must be an array")
      writeFile(home, "[]")
      assert.include((yield* Effect.flip(config.list)).message, "expected a JSON object")
    }).pipe(withConfig(home), Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it.live("add refuses duplicates and bad names/URLs; --default clears the others", () => {
    const home = tempHome()
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      yield* config.add(new RegistryEntry({ name: "one", url: "https://one.test", isDefault: true }))
      assert.strictEqual((yield* config.defaultRegistry).name, "one")
      assert.isFalse((yield* config.get("local")).isDefault)
      const dup = yield* Effect.flip(config.add(new RegistryEntry({ name: "one", url: "https://other.test" })))
      assert.strictEqual(dup._tag, "RegistryExists")
      assert.include(dup.message, "'one'")
      assert.include(dup.message, "https://one.test")
      for (
        const [name, url] of [["bad name", "https://x.test"], ["../x", "https://x.test"], ["ok", "ftp://x.test"], [
          "ok",
          "not a url"
        ], ["ok", "https://u:p@x.test"]]
      ) {
        const bad = yield* Effect.flip(config.add(new RegistryEntry({ name: name!, url: url! })))
        assert.strictEqual(bad._tag, "InvalidRegistry", `${name} ${url}`)
      }
      yield* config.setDefault("local")
      const all = yield* config.list
      assert.deepStrictEqual(all.filter((e) => e.isDefault).map((e) => e.name), ["local"])
    }).pipe(withConfig(home), Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it.live("unknown names give UnknownRegistry listing the known ones", () => {
    const home = tempHome()
    return Effect.gen(function*() {
      const config = yield* RegistryConfig
      for (
        const op of [
          config.get("nope"),
          config.remove("nope"),
          config.setDefault("nope"),
          config.setEnabled("nope", true)
        ]
      ) {
        const err = yield* Effect.flip(op)
        assert.instanceOf(err, UnknownRegistry)
        if (err instanceof UnknownRegistry) {
          assert.deepStrictEqual(err.known, ["local"])
          assert.include(err.message, "'nope'")
          assert.include(err.message, "known: local")
          assert.include(err.message, "fm registry list")
        }
      }
      yield* config.setEnabled("local", false)
      const none = yield* Effect.flip(config.defaultRegistry)
      assert.include(none.message, "no enabled registry")
      yield* config.remove("local")
      assert.deepStrictEqual(yield* config.list, [])
      assert.deepStrictEqual(readRaw(home), { registries: [] })
    }).pipe(withConfig(home), Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it.live("tokens: the entry's own, else FLOWMASON_REGISTRY_TOKEN, else none; always redacted", () => {
    const home = tempHome()
    writeFile(home, {
      registries: [
        { name: "own", url: "https://own.test", auth_token: "own-secret" },
        { name: "plain", url: "https://plain.test" }
      ]
    })
    const check = (env: Record<string, string>, expectPlain: Option.Option<string>, plainSource: string) =>
      Effect.gen(function*() {
        const config = yield* RegistryConfig
        const own = yield* config.get("own")
        const plain = yield* config.get("plain")
        assert.strictEqual(Redacted.value(Option.getOrThrow(config.token(own))), "own-secret")
        assert.strictEqual(config.tokenSource(own), "config")
        assert.deepStrictEqual(Option.map(config.token(plain), Redacted.value), expectPlain)
        assert.strictEqual(config.tokenSource(plain), plainSource)
        // the token never shows up in the string form of the redacted value
        assert.notInclude(String(config.token(own)), "own-secret")
      }).pipe(withConfig(home, env))
    return Effect.gen(function*() {
      yield* check({ FLOWMASON_REGISTRY_TOKEN: "env-secret" }, Option.some("env-secret"), "env")
      yield* check({}, Option.none(), "none")
      yield* check({ FLOWMASON_REGISTRY_TOKEN: "" }, Option.none(), "none")
    }).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(home, { recursive: true }))))
  })

  it("two processes changing the file at once lose nothing (lock file), and leave no lock behind", async () => {
    const home = tempHome()
    const COUNT = 25
    try {
      const worker = fileURLToPath(new URL("./add-worker.ts", import.meta.url))
      const goFile = path.join(os.tmpdir(), `fm-go-${process.pid}-${Date.now()}`)
      let ready = 0
      const run = (prefix: string) =>
        new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
          const child = spawn(process.execPath, ["--import", "tsx", worker, home, prefix, String(COUNT), goFile], {
            cwd: fileURLToPath(new URL("../..", import.meta.url)),
            env: { PATH: process.env.PATH ?? "", HOME: home },
            stdio: ["ignore", "pipe", "pipe"]
          })
          let stderr = ""
          child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
          child.stdout.setEncoding("utf8").on("data", (d: string) => {
            // both loaded: start them together
            if (d.includes("ready") && ++ready === 2) fs.writeFileSync(goFile, "go")
          })
          const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), 50_000)
          child.on("error", reject)
          child.on("close", (code) => {
            clearTimeout(timer)
            resolve({ code, stderr })
          })
        })
      const results = await Promise.all([run("left"), run("right")]).finally(() => fs.rmSync(goFile, { force: true }))
      for (const r of results) assert.strictEqual(r.code, 0, r.stderr)
      const raw = readRaw(home)
      const got = raw.registries.map((r: { name: string }) => r.name).sort()
      const want = ["local", ...["left", "right"].flatMap((p) => Array.from({ length: COUNT }, (_, i) => `${p}-${i}`))]
        .sort()
      assert.deepStrictEqual(got, want)
      assert.deepStrictEqual(fs.readdirSync(home), ["registries.json"])
    } finally {
      fs.rmSync(home, { recursive: true, force: true })
    }
  }, 120_000)

  it("implicitLocal is the documented entry", () => {
    assert.strictEqual(implicitLocal.name, "local")
    assert.strictEqual(implicitLocal.priority, 50)
  })
})
