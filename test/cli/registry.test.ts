import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
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
  expect(r.code, r.stderr).toBe(0)
  return parseJsonOut<Array<RegistryJson>>(r)
}

describe("fm (built binary)", () => {
  it("--version prints the version", async () => {
    const r = await runFm(["--version"], { home: newHome() })
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe(FM_VERSION)
  }, CLI_TIMEOUT)

  it("with no arguments prints help (plain text when not a terminal)", async () => {
    const r = await runFm([], { home: newHome() })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/registry +Manage registries/)
    expect(r.stdout).toMatch(/pack +Pack a package directory/)
    expect(r.stdout).not.toContain("\u001b[")
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
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toContain(text)
      expect(r.stderr).not.toContain("\u001b[")
    }
    // nothing was written by any of them
    expect(fs.existsSync(path.join(home, "registries.json"))).toBe(false)
  }, CLI_TIMEOUT)

  it("registry list with no file shows the implicit local registry (table and --json)", async () => {
    const home = newHome()
    const table = await runFm(["registry", "list"], { home })
    expect(table.code).toBe(0)
    const lines = table.stdout.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^NAME\s+URL\s+PRIORITY\s+ENABLED\s+DEFAULT\s+PUBLISH\s+AUTH\s+TOKEN$/)
    expect(lines[1]).toMatch(/^local\s+http:\/\/localhost:8999\s+50\s+yes\s+\*\s+yes\s+no\s+none$/)
    expect(table.stdout).not.toContain("\u001b[")
    expect(await listJson(home)).toEqual([{
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
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("Added registry 'down'")
    expect(r.stderr).toMatch(/^warning: registry 'down' did not answer its health check/m)
    expect(r.stderr).toContain("ECONNREFUSED")
    expect(r.stderr).toContain("ENABLED")
    expect(r.stderr).toContain("fm registry disable down")
    const list = await listJson(home, false)
    expect(list.map((e) => [e.name, e.enabled, e.priority])).toEqual([["down", true, 5], ["local", true, 50]])
    // --json reports the failed check too
    const j = await runFm(["registry", "add", "down2", url, "--json"], { home })
    expect(j.code).toBe(0)
    const out = parseJsonOut<{ saved: boolean; enabled: boolean; health: { ok: boolean; error: string } }>(j)
    expect(out.saved).toBe(true)
    expect(out.enabled).toBe(true)
    expect(out.health.ok).toBe(false)
    expect(out.health.error).toContain("ECONNREFUSED")
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
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("Health check: healthy (name tiny, 3 packages)")
    expect(r.stderr).toBe("")
    expect(seen).toEqual([{ url: "/api/v1/registry/health", auth: "Bearer tiny-secret-token", ua: `fm/${FM_VERSION}` }])
    const list = await listJson(home)
    const tiny = list.find((e) => e.name === "tiny")!
    expect(tiny).toEqual({
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
    expect(list.find((e) => e.name === "local")!.is_default).toBe(false)
    const file = JSON.parse(fs.readFileSync(path.join(home, "registries.json"), "utf8"))
    expect(file.registries[1].auth_token).toBe("tiny-secret-token")
    expect((fs.statSync(path.join(home, "registries.json")).mode & 0o777).toString(8)).toBe("600")

    const again = await runFm(["registry", "add", "tiny", serverUrl], { home })
    expect(again.code).toBe(1)
    expect(again.stderr).toContain(`error: a registry named 'tiny' already exists (${serverUrl})`)
    expect(again.stderr).toMatch(/^hint: .*fm registry set tiny/m)
  }, CLI_TIMEOUT)

  it("registry list never prints a token, and says where each comes from", async () => {
    const home = newHome()
    expect((await runFm(["registry", "add", "own", "http://127.0.0.1:9", "-t", "config-secret-xyz"], { home })).code)
      .toBe(0)
    for (const env of [{ FLOWMASON_REGISTRY_TOKEN: "env-secret-abc" }, {}]) {
      for (const args of [["registry", "list"], ["registry", "list", "--all"], ["registry", "list", "--json"]]) {
        const r = await runFm(args, { home, env })
        expect(r.code).toBe(0)
        expect(r.stdout + r.stderr).not.toContain("config-secret-xyz")
        expect(r.stdout + r.stderr).not.toContain("env-secret-abc")
      }
    }
    const withEnv = await listJson(home, true, { FLOWMASON_REGISTRY_TOKEN: "env-secret-abc" })
    expect(withEnv.map((e) => [e.name, e.token])).toEqual([["local", "env"], ["own", "config"]])
    const withoutEnv = await listJson(home)
    expect(withoutEnv.map((e) => [e.name, e.token])).toEqual([["local", "none"], ["own", "config"]])
    const table = await runFm(["registry", "list"], { home, env: { FLOWMASON_REGISTRY_TOKEN: "env-secret-abc" } })
    expect(table.stdout).toMatch(/^local .* env$/m)
    expect(table.stdout).toMatch(/^own .* config$/m)
  }, CLI_TIMEOUT)

  it("set-default, disable, enable and remove; list hides disabled ones unless --all", async () => {
    const home = newHome()
    await runFm(["registry", "add", "a", "http://127.0.0.1:9", "-p", "10"], { home })
    await runFm(["registry", "add", "b", "http://127.0.0.1:9", "-p", "10"], { home })

    const sd = await runFm(["registry", "set-default", "b", "--json"], { home })
    expect(sd.code).toBe(0)
    expect(parseJsonOut<RegistryJson>(sd).is_default).toBe(true)
    expect((await listJson(home)).filter((e) => e.is_default).map((e) => e.name)).toEqual(["b"])

    const dis = await runFm(["registry", "disable", "a"], { home })
    expect(dis.code).toBe(0)
    expect(dis.stdout).toContain("'a' is now disabled")
    expect((await listJson(home, false)).map((e) => e.name)).toEqual(["b", "local"])
    expect((await listJson(home, true)).map((e) => e.name)).toEqual(["a", "b", "local"])
    const table = await runFm(["registry", "list", "-a"], { home })
    expect(table.stdout).toMatch(/^a\s+http:\/\/127\.0\.0\.1:9\s+10\s+no\s/m)

    const en = await runFm(["registry", "enable", "a", "--json"], { home })
    expect(parseJsonOut<RegistryJson>(en).enabled).toBe(true)

    const file = path.join(home, "registries.json")
    const before = fs.readFileSync(file)
    const refuse = await runFm(["registry", "remove", "a"], { home })
    expect(refuse.code).toBe(2)
    expect(refuse.stderr).toContain("--yes")
    expect(fs.readFileSync(file).equals(before)).toBe(true)

    const rm = await runFm(["registry", "remove", "a", "--yes"], { home })
    expect(rm.code, rm.stderr).toBe(0)
    expect(rm.stdout).toContain("Removed registry 'a'")
    const rmDefault = await runFm(["registry", "remove", "b", "-y"], { home })
    expect(rmDefault.stdout).toContain("'local' is used by default now")
    expect((await listJson(home)).map((e) => e.name)).toEqual(["local"])

    for (const cmd of [["remove", "nope", "--yes"], ["set-default", "nope"], ["enable", "nope"], ["disable", "nope"]]) {
      const r = await runFm(["registry", ...cmd], { home })
      expect(r.code).toBe(1)
      expect(r.stderr).toContain("error: no registry named 'nope' (known: local)")
      expect(r.stderr).toContain("fm registry list")
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
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`error: ${file}:3:18: invalid JSON`)
      expect(r.stderr).toMatch(/^hint: fix or move .*registries\.json/m)
    }
    expect(fs.readFileSync(file).equals(before)).toBe(true)
    // nothing else was written (fm's V8 code cache lives in the user's cache directory, the test's
    // HOME .fake-home inside it, see codecache.test.ts)
    expect(fs.readdirSync(home).sort()).toEqual([".fake-home", "registries.json"])
  }, CLI_TIMEOUT)

  it("registry cache: stats, clear --older-than, clear", async () => {
    const home = newHome()
    const empty = await runFm(["registry", "cache", "--json"], { home })
    expect(empty.code).toBe(0)
    expect(parseJsonOut(empty)).toEqual({
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
    expect(stats.code).toBe(0)
    expect(stats.stdout).toMatch(/^CACHE\s+PACKAGES\s+SIZE$/m)
    expect(stats.stdout).toMatch(/cache\/packages\s+2\s+3\.0 KiB$/m)
    expect(parseJsonOut(await runFm(["registry", "cache", "--json"], { home }))).toMatchObject({
      packages: 2,
      total_size_bytes: 3048
    })
    const recent = await runFm(["registry", "cache", "--clear", "--older-than", "30", "--json"], { home })
    expect(parseJsonOut(recent)).toMatchObject({ removed: 0, freed_bytes: 0 })
    const all = await runFm(["registry", "cache", "--clear"], { home })
    expect(all.code).toBe(0)
    expect(all.stdout).toContain("Removed 2 cached package version(s); freed 3.0 KiB.")
    expect(parseJsonOut(await runFm(["registry", "cache", "--json"], { home }))).toMatchObject({ packages: 0 })
  }, CLI_TIMEOUT)
})
