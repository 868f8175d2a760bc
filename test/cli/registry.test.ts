import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { PackageCacheLive } from "../../src/client/ClientLayers.js"
import { PackageCache } from "../../src/client/PackageCache.js"
import { layerAt } from "../../src/shared/FlowmasonHome.js"
import { FM_VERSION } from "../../src/shared/FmVersion.js"
import { assertBuilt, makeTempDir, parseJsonOut, removeDir, removeFmBinSnapshot, runFm } from "../helpers/cli.js"

interface RegistryJson {
  name: string
  url: string
  priority: number
  enabled: boolean
  is_default: boolean
  can_publish: boolean
  requires_auth: boolean
  description: string | null
  token: "config" | "env" | "none"
}

/** Each test runs several `fm` processes; generous for a loaded shared machine. */
const CLI_TIMEOUT = 240_000

const homes: Array<string> = []
const newHome = () => {
  const home = makeTempDir("fm-cli-")
  homes.push(home)
  return home
}

/** A tiny registry health endpoint on 127.0.0.1 recording what it was asked. */
let server: http.Server
let serverUrl = ""
const seen: Array<{ url: string; auth: string | undefined; ua: string | undefined }> = []

beforeAll(async () => {
  assertBuilt()
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? "", auth: req.headers.authorization, ua: req.headers["user-agent"] })
    if (req.url === "/api/v1/registry/health") {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({
        status: "healthy",
        registry_name: "tiny",
        version: "1.0.0",
        packages_count: 3,
        components_count: 0
      }))
    } else {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(JSON.stringify({ detail: "not found" }))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  for (const home of homes) removeDir(home)
  removeFmBinSnapshot()
})

/** A port nothing listens on (bound, then closed). */
const closedPort = async () => {
  const s = http.createServer()
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

const listJson = async (home: string, all = true, env: Record<string, string> = {}) => {
  const r = await runFm(["registry", "list", ...(all ? ["--all"] : []), "--json"], { home, env })
  assert.strictEqual(r.code, 0, r.stderr)
  return parseJsonOut<Array<RegistryJson>>(r)
}

describe("fm (built binary)", () => {
  it("--version prints the version", async () => {
    const r = await runFm(["--version"], { home: newHome() })
    assert.strictEqual(r.code, 0)
    assert.strictEqual(r.stdout.trim(), FM_VERSION)
  }, CLI_TIMEOUT)

  it("with no arguments prints help (plain text when not a terminal)", async () => {
    const r = await runFm([], { home: newHome() })
    assert.strictEqual(r.code, 0)
    assert.match(r.stdout, /registry +Manage registries/)
    assert.match(r.stdout, /pack +Pack a package directory/)
    assert.notInclude(r.stdout, "\u001b[")
  }, CLI_TIMEOUT)

  it("usage errors exit 2 with the problem on stderr", async () => {
    const home = newHome()
    for (
      const [args, text] of [
        [["frobnicate"], "unknown command 'frobnicate'"],
        [["registry", "list", "--bogus"], "--bogus"],
        [["registry", "remove"], "<NAME>"],
        [["registry", "add", "only-a-name"], "<URL>"],
        [["registry", "add", "x", "http://x.test", "--priority", "high"], "high"],
        [["registry", "add", "bad name", "http://x.test"], "invalid registry name"],
        [["registry", "add", "x", "ftp://x.test"], "http:// or https://"],
        [["registry", "cache", "--older-than", "3"], "--clear"]
      ] as const
    ) {
      const r = await runFm(args, { home })
      assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
      assert.include(r.stderr, text)
      assert.notInclude(r.stderr, "\u001b[")
    }
    // nothing was written by any of them
    assert.isFalse(fs.existsSync(path.join(home, "registries.json")))
  }, CLI_TIMEOUT)

  it("registry list with no file shows the implicit local registry (table and --json)", async () => {
    const home = newHome()
    const table = await runFm(["registry", "list"], { home })
    assert.strictEqual(table.code, 0)
    const lines = table.stdout.trimEnd().split("\n")
    assert.match(lines[0], /^NAME\s+URL\s+PRIORITY\s+ENABLED\s+DEFAULT\s+PUBLISH\s+AUTH\s+TOKEN$/)
    assert.match(lines[1], /^local\s+http:\/\/localhost:8999\s+50\s+yes\s+\*\s+yes\s+no\s+none$/)
    assert.notInclude(table.stdout, "\u001b[")
    assert.deepStrictEqual(await listJson(home), [{
      name: "local",
      url: "http://localhost:8999",
      priority: 50,
      enabled: true,
      is_default: true,
      can_publish: true,
      requires_auth: false,
      description: "Local FlowMason Studio",
      token: "none"
    }])
  }, CLI_TIMEOUT)

  it("registry add against a closed port saves it ENABLED with a warning", async () => {
    const home = newHome()
    const url = `http://127.0.0.1:${await closedPort()}`
    const r = await runFm(["registry", "add", "down", url, "-p", "5"], { home })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "Added registry 'down'")
    assert.match(r.stderr, /^warning: registry 'down' did not answer its health check/m)
    assert.include(r.stderr, "ECONNREFUSED")
    assert.include(r.stderr, "ENABLED")
    assert.include(r.stderr, "fm registry disable down")
    const list = await listJson(home, false)
    assert.deepStrictEqual(list.map((e) => [e.name, e.enabled, e.priority]), [["down", true, 5], ["local", true, 50]])
    // --json reports the failed check too
    const j = await runFm(["registry", "add", "down2", url, "--json"], { home })
    assert.strictEqual(j.code, 0)
    const out = parseJsonOut<{ saved: boolean; enabled: boolean; health: { ok: boolean; error: string } }>(j)
    assert.isTrue(out.saved)
    assert.isTrue(out.enabled)
    assert.isFalse(out.health.ok)
    assert.include(out.health.error, "ECONNREFUSED")
  }, CLI_TIMEOUT)

  it("registry add against a live registry says it is healthy and sends the token", async () => {
    const home = newHome()
    seen.length = 0
    const r = await runFm(
      [
        "registry",
        "add",
        "tiny",
        `${serverUrl}/`,
        "--token",
        "tiny-secret-token",
        "--default",
        "--publish",
        "--requires-auth",
        "--description",
        "A tiny one"
      ],
      { home }
    )
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, "Health check: healthy (name tiny, 3 packages)")
    assert.strictEqual(r.stderr, "")
    assert.deepStrictEqual(seen, [{
      url: "/api/v1/registry/health",
      auth: "Bearer tiny-secret-token",
      ua: `fm/${FM_VERSION}`
    }])
    const list = await listJson(home)
    const tiny = list.find((e) => e.name === "tiny")!
    assert.deepStrictEqual(tiny, {
      name: "tiny",
      url: serverUrl, // trailing slash dropped
      priority: 100,
      enabled: true,
      is_default: true,
      can_publish: true,
      requires_auth: true,
      description: "A tiny one",
      token: "config"
    })
    assert.isFalse(list.find((e) => e.name === "local")!.is_default)
    const file = JSON.parse(fs.readFileSync(path.join(home, "registries.json"), "utf8"))
    assert.strictEqual(file.registries[1].auth_token, "tiny-secret-token")
    assert.strictEqual((fs.statSync(path.join(home, "registries.json")).mode & 0o777).toString(8), "600")

    const again = await runFm(["registry", "add", "tiny", serverUrl], { home })
    assert.strictEqual(again.code, 1)
    assert.include(again.stderr, `error: a registry named 'tiny' already exists (${serverUrl})`)
    assert.match(again.stderr, /^hint: .*fm registry set tiny/m)
  }, CLI_TIMEOUT)

  it("registry list never prints a token, and says where each comes from", async () => {
    const home = newHome()
    assert.strictEqual(
      (await runFm(["registry", "add", "own", "http://127.0.0.1:9", "-t", "config-secret-xyz"], { home })).code,
      0
    )
    for (const env of [{ FLOWMASON_REGISTRY_TOKEN: "env-secret-abc" }, {}]) {
      for (const args of [["registry", "list"], ["registry", "list", "--all"], ["registry", "list", "--json"]]) {
        const r = await runFm(args, { home, env })
        assert.strictEqual(r.code, 0)
        assert.notInclude(r.stdout + r.stderr, "config-secret-xyz")
        assert.notInclude(r.stdout + r.stderr, "env-secret-abc")
      }
    }
    const withEnv = await listJson(home, true, { FLOWMASON_REGISTRY_TOKEN: "env-secret-abc" })
    assert.deepStrictEqual(withEnv.map((e) => [e.name, e.token]), [["local", "env"], ["own", "config"]])
    const withoutEnv = await listJson(home)
    assert.deepStrictEqual(withoutEnv.map((e) => [e.name, e.token]), [["local", "none"], ["own", "config"]])
    const table = await runFm(["registry", "list"], { home, env: { FLOWMASON_REGISTRY_TOKEN: "env-secret-abc" } })
    assert.match(table.stdout, /^local .* env$/m)
    assert.match(table.stdout, /^own .* config$/m)
  }, CLI_TIMEOUT)

  it("set-default, disable, enable and remove; list hides disabled ones unless --all", async () => {
    const home = newHome()
    await runFm(["registry", "add", "a", "http://127.0.0.1:9", "-p", "10"], { home })
    await runFm(["registry", "add", "b", "http://127.0.0.1:9", "-p", "10"], { home })

    const sd = await runFm(["registry", "set-default", "b", "--json"], { home })
    assert.strictEqual(sd.code, 0)
    assert.isTrue(parseJsonOut<RegistryJson>(sd).is_default)
    assert.deepStrictEqual((await listJson(home)).filter((e) => e.is_default).map((e) => e.name), ["b"])

    const dis = await runFm(["registry", "disable", "a"], { home })
    assert.strictEqual(dis.code, 0)
    assert.include(dis.stdout, "'a' is now disabled")
    assert.deepStrictEqual((await listJson(home, false)).map((e) => e.name), ["b", "local"])
    assert.deepStrictEqual((await listJson(home, true)).map((e) => e.name), ["a", "b", "local"])
    const table = await runFm(["registry", "list", "-a"], { home })
    assert.match(table.stdout, /^a\s+http:\/\/127\.0\.0\.1:9\s+10\s+no\s/m)

    const en = await runFm(["registry", "enable", "a", "--json"], { home })
    assert.isTrue(parseJsonOut<RegistryJson>(en).enabled)

    const file = path.join(home, "registries.json")
    const before = fs.readFileSync(file)
    const refuse = await runFm(["registry", "remove", "a"], { home })
    assert.strictEqual(refuse.code, 2)
    assert.include(refuse.stderr, "--yes")
    assert.isTrue(fs.readFileSync(file).equals(before))

    const rm = await runFm(["registry", "remove", "a", "--yes"], { home })
    assert.strictEqual(rm.code, 0, rm.stderr)
    assert.include(rm.stdout, "Removed registry 'a'")
    const rmDefault = await runFm(["registry", "remove", "b", "-y"], { home })
    assert.include(rmDefault.stdout, "'local' is used by default now")
    assert.deepStrictEqual((await listJson(home)).map((e) => e.name), ["local"])

    for (const cmd of [["remove", "nope", "--yes"], ["set-default", "nope"], ["enable", "nope"], ["disable", "nope"]]) {
      const r = await runFm(["registry", ...cmd], { home })
      assert.strictEqual(r.code, 1)
      assert.include(r.stderr, "error: no registry named 'nope' (known: local)")
      assert.include(r.stderr, "fm registry list")
    }
  }, CLI_TIMEOUT)

  it("a corrupt registries.json is an error naming the file and position, and is left alone", async () => {
    const home = newHome()
    const file = path.join(home, "registries.json")
    fs.writeFileSync(file, "{\n  \"registries\": [\n    {\"name\": \"a\",, \"url\": \"x\"}\n  ]\n}\n")
    const before = fs.readFileSync(file)
    for (
      const args of [["registry", "list"], ["registry", "add", "b", "http://127.0.0.1:9"], [
        "registry",
        "remove",
        "a",
        "-y"
      ]]
    ) {
      const r = await runFm(args, { home })
      assert.strictEqual(r.code, 1)
      assert.include(r.stderr, `error: ${file}:3:18: invalid JSON`)
      assert.match(r.stderr, /^hint: fix or move .*registries\.json/m)
    }
    assert.isTrue(fs.readFileSync(file).equals(before))
    // nothing else was written (fm's V8 code cache lives in the user's cache directory, the test's
    // HOME .fake-home inside it, see codecache.test.ts)
    assert.deepStrictEqual(fs.readdirSync(home).sort(), [".fake-home", "registries.json"])
  }, CLI_TIMEOUT)

  it("registry cache: stats, clear --older-than, clear", async () => {
    const home = newHome()
    const empty = await runFm(["registry", "cache", "--json"], { home })
    assert.strictEqual(empty.code, 0)
    assert.deepStrictEqual(parseJsonOut(empty), {
      packages: 0,
      total_size_bytes: 0,
      cache_dir: path.join(home, "cache", "packages")
    })
    // fill the cache in-process, as an install would
    await Effect.runPromise(
      Effect.gen(function*() {
        const cache = yield* PackageCache
        yield* cache.store(
          { registry: "local", name: "demo", version: "1.0.0" },
          undefined,
          Stream.make(new Uint8Array(2048))
        )
        yield* cache.store(
          { registry: "local", name: "demo", version: "1.1.0" },
          undefined,
          Stream.make(new Uint8Array(1000))
        )
      }).pipe(Effect.provide(PackageCacheLive.pipe(Layer.provide(layerAt(home)))))
    )
    const stats = await runFm(["registry", "cache"], { home })
    assert.strictEqual(stats.code, 0)
    assert.match(stats.stdout, /^CACHE\s+PACKAGES\s+SIZE$/m)
    assert.match(stats.stdout, /cache\/packages\s+2\s+3\.0 KiB$/m)
    assert.containSubset(parseJsonOut(await runFm(["registry", "cache", "--json"], { home })), {
      packages: 2,
      total_size_bytes: 3048
    })
    const recent = await runFm(["registry", "cache", "--clear", "--older-than", "30", "--json"], { home })
    assert.containSubset(parseJsonOut(recent), { removed: 0, freed_bytes: 0 })
    const all = await runFm(["registry", "cache", "--clear"], { home })
    assert.strictEqual(all.code, 0)
    assert.include(all.stdout, "Removed 2 cached package version(s); freed 3.0 KiB.")
    assert.containSubset(parseJsonOut(await runFm(["registry", "cache", "--json"], { home })), { packages: 0 })
  }, CLI_TIMEOUT)
})
