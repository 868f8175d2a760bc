/**
 * The registry API end to end against a real server (child process, 127.0.0.1, random port,
 * real SQLite file): every endpoint and status code, both manifest dialects, a ZIP written by
 * python3's zipfile (as FlowMason's builder does), tar.gz, `_` vs `-` names, tokens and scopes.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PackageInfo } from "../../src/api/Models.js"
import { FM_VERSION } from "../../src/shared/FmVersion.js"
import { buildTarGz, buildZip, componentManifest, projectManifest } from "../helpers/archives.js"
import type { TestBackend } from "../helpers/pg.js"
import { acquireTestDatabase, testBackends, usesPostgres, usesS3 } from "../helpers/pg.js"
import type { TestS3 } from "../helpers/s3.js"
import { acquireS3 } from "../helpers/s3.js"
import { using } from "../helpers/scoped.js"
import type { ScopedServer } from "../helpers/server.js"
import {
  acquireServer,
  createToken,
  fixtureArchive,
  publishFixture,
  runStudio,
  uploadArchive
} from "../helpers/server.js"

const sha256 = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

/** An answer's JSON, read loosely (as `JSON.parse` types it): each test asserts the fields it reads. */
const json = async (res: Response) => JSON.parse(await res.text())

/** The request helpers of a registry API at `api` (`http://127.0.0.1:<port>/api/v1/registry`). */
const requests = (api: string) => ({
  get: (p: string, headers: Record<string, string> = {}) => fetch(`${api}${p}`, { headers, redirect: "manual" }),
  post: (p: string, token: string | undefined, body?: unknown) =>
    fetch(`${api}${p}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
      },
      body: body === undefined ? "{}" : typeof body === "string" ? body : JSON.stringify(body)
    }),
  del: (p: string, token: string | undefined) =>
    fetch(`${api}${p}`, { method: "DELETE", headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
})

/** The server of one backend, its API root, a read and a publish token, the request helpers and the storage environment. */
class Fixture extends Context.Tag("test/api/Fixture")<
  Fixture,
  ReturnType<typeof requests> & {
    readonly server: ScopedServer
    readonly api: string
    readonly readToken: string
    readonly publishToken: string
    readonly s3: TestS3 | undefined
    /** The environment of `fm studio` commands on this server's storage. */
    readonly env: Record<string, string>
  }
>() {}

/** A database and/or an s3rver as `backend` needs them, then the server on them; all released with the layer. */
const onBackend = (backend: TestBackend) =>
  Layer.scoped(
    Fixture,
    Effect.gen(function*() {
      const db = usesPostgres(backend) ? yield* acquireTestDatabase("api") : undefined
      const s3 = usesS3(backend) ? yield* acquireS3() : undefined
      const env: Record<string, string> = {
        ...(db === undefined ? {} : { FM_DATABASE_URL: db.url }),
        ...(s3 === undefined ? {} : s3.envFor("api"))
      }
      const server = yield* acquireServer({ env })
      const [readToken, publishToken] = yield* Effect.promise(() =>
        Promise.all([
          createToken(server.dataDir, "read", { name: "reader", env }),
          createToken(server.dataDir, "publish", { name: "publisher", env })
        ])
      )
      const api = `${server.url}/api/v1/registry`
      return { server, api, readToken, publishToken, s3, env, ...requests(api) }
    })
  )

// The whole suite runs once per storage backend: SQLite, then PostgreSQL (a database created
// for this file and dropped after) when reachable; CI requires it (FM_REQUIRE_POSTGRES=1); then
// with the archives in S3 (s3rver started here; FM_BLOB_URL and the AWS variables are inherited).
// The storage's variables (FM_DATABASE_URL, FM_BLOB_URL, AWS_*) go to the server and the
// `fm studio token` processes as their environment; this process's own is left alone.
describe.each(await testBackends({ s3: true }))("on %s", (backend) => {
  layer(onBackend(backend), { excludeTestServices: true })((it) => {
    describe("health, docs, unknown routes", () => {
      it.effect("health answers the FlowMason shape", () =>
        using(Fixture, async ({ get }) => {
          const res = await get("/health", { "content-type": "application/json" })
          assert.strictEqual(res.status, 200)
          const body = await json(res)
          assert.strictEqual(body.status, "healthy")
          assert.strictEqual(body.database, usesPostgres(backend) ? "pg" : "sqlite")
          assert.strictEqual(typeof body.packages_count, "number")
        }))

      it.effect("unknown API routes are a JSON 404 {detail}, never a redirect", () =>
        using(Fixture, async ({ get }) => {
          for (const p of ["/nope", "/packages/a/b/c/d", "/packages/a/1.0.0/download/x"]) {
            const res = await get(p)
            assert.strictEqual(res.status, 404)
            assert.strictEqual(typeof (await json(res)).detail, "string")
          }
        }))

      it.effect("serves the OpenAPI document and the docs page", () =>
        using(Fixture, async ({ get }) => {
          const spec = await json(await get("/openapi.json"))
          assert.match(spec.openapi, /^3\./)
          assert.strictEqual(spec.info.version, FM_VERSION)
          assert.include(Object.keys(spec.paths), "/api/v1/registry/packages/upload")
          const docs = await get("/docs")
          assert.strictEqual(docs.status, 200)
          assert.match(await docs.text(), /swagger/i)
        }))
    })

    describe("upload", () => {
      it.effect("needs a token (401), with publish scope (403 for read)", () =>
        using(Fixture, async ({ readToken, server }) => {
          const archive = fixtureArchive({ name: "auth-check", version: "1.0.0" })
          const anon = await uploadArchive(server.url, undefined, archive)
          assert.strictEqual(anon.status, 401)
          assert.match((await json(anon)).detail, /token/i)
          const bad = await uploadArchive(server.url, "fmr_not-a-real-token", archive)
          assert.strictEqual(bad.status, 401)
          const reader = await uploadArchive(server.url, readToken, archive)
          assert.strictEqual(reader.status, 403)
          assert.match((await json(reader)).detail, /scope/)
        }))

      it.effect("publishes a project package (manifest.json) and answers 201 with the package object", () =>
        using(Fixture, async ({ api, publishToken, server }) => {
          const archive = fixtureArchive({
            name: "http-tools",
            version: "1.0.0",
            deps: { "json-core": "^1.0.0" },
            manifest: { description: "HTTP helpers", author: "Ada", license: "MIT", keywords: ["http"] }
          })
          const res = await uploadArchive(server.url, publishToken, archive, "http-tools-1.0.0.fmpkg")
          assert.strictEqual(res.status, 201)
          const text = await res.text()
          // the very bytes HttpApi's schema encoding of the declared PackageInfo gives (the
          // handler writes that JSON itself)
          const encoded = Schema.encodeSync(PackageInfo)(Schema.decodeUnknownSync(PackageInfo)(JSON.parse(text)))
          assert.strictEqual(text, JSON.stringify(encoded))
          const body = JSON.parse(text)
          assert.containSubset(body, {
            name: "http-tools",
            version: "1.0.0",
            checksum: sha256(archive),
            size_bytes: archive.length
          })
          assert.deepStrictEqual(body.dependencies, { "json-core": "^1.0.0" })
          assert.strictEqual(body.download_url, `${api}/packages/http-tools/1.0.0/download`)
          assert.strictEqual(body.latest_version, "1.0.0")
        }))

      it.effect("publishes a component package (flowmason-package.json + index.py)", () =>
        using(Fixture, async ({ publishToken, server }) => {
          const archive = buildZip([
            {
              name: "flowmason-package.json",
              data: componentManifest("csv_reader", "0.2.0", { category: "io", tags: ["csv", "files"] })
            },
            { name: "index.py", data: "def run():\n    pass\n" },
            { name: "requirements.txt", data: "pandas>=2\n" }
          ])
          const res = await uploadArchive(server.url, publishToken, archive, "csv_reader-0.2.0.fmpkg")
          assert.strictEqual(res.status, 201)
          const body = await json(res)
          assert.containSubset(body, { name: "csv_reader", version: "0.2.0", category: "io", kind: "component" })
          assert.deepStrictEqual(body.tags, ["csv", "files"])
        }))

      it.effect("accepts a ZIP written by python3's zipfile, like FlowMason's builder", () =>
        using(Fixture, async ({ publishToken, server }) => {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-pyzip-"))
          try {
            const out = path.join(dir, "py-built-1.0.0.fmpkg")
            const script = [
              "import json, sys, zipfile",
              "with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:",
              "    z.writestr('manifest.json', json.dumps({'name': 'py-built', 'version': '1.0.0', 'description': 'built by python',",
              "        'author': 'FlowMason', 'dependencies': {'http-tools': '^1.0.0'}, 'components': ['components/a.py'],",
              "        'built_at': '2024-01-01T00:00:00', 'built_by': 'flowmason 1.0'}, indent=2))",
              "    z.writestr('components/a.py', 'print(1)\\n')",
              "    z.writestr('pipelines/main.pipeline.json', '{}')"
            ].join("\n")
            execFileSync("python3", ["-c", script, out])
            const archive = fs.readFileSync(out)
            const res = await uploadArchive(server.url, publishToken, archive, "py-built-1.0.0.fmpkg")
            assert.strictEqual(res.status, 201)
            const body = await json(res)
            assert.lengthOf(body.components, 1)
            assert.strictEqual(body.component_count, 1)
            assert.deepStrictEqual(body.dependencies, { "http-tools": "^1.0.0" })
          } finally {
            fs.rmSync(dir, { recursive: true, force: true })
          }
        }))

      it.effect("accepts a gzip tar .fmpkg", () =>
        using(Fixture, async ({ publishToken, server }) => {
          const archive = buildTarGz([{ name: "manifest.json", data: projectManifest("tar-pkg", "1.0.0") }])
          const res = await uploadArchive(server.url, publishToken, archive)
          assert.strictEqual(res.status, 201)
        }))

      it.effect("refuses a duplicate name@version with 409, also spelled with _ instead of -", () =>
        using(Fixture, async ({ publishToken, server }) => {
          await publishFixture(server.url, publishToken, { name: "dup-pkg", version: "1.0.0" })
          const again = await uploadArchive(
            server.url,
            publishToken,
            fixtureArchive({ name: "dup-pkg", version: "1.0.0", files: { "x": "other bytes" } })
          )
          assert.strictEqual(again.status, 409)
          assert.match((await json(again)).detail, /dup-pkg@1\.0\.0/)
          const underscore = await uploadArchive(
            server.url,
            publishToken,
            fixtureArchive({ name: "dup_pkg", version: "1.0.0" })
          )
          assert.strictEqual(underscore.status, 409)
        }))

      it.effect("answers 400 for a checksum mismatch, a non-archive, a missing manifest and a missing file part", () =>
        using(Fixture, async ({ api, get, publishToken, server }) => {
          const archive = fixtureArchive({ name: "bad-upload", version: "1.0.0" })
          const mismatch = await uploadArchive(server.url, publishToken, archive, "x.fmpkg", "0".repeat(64))
          assert.strictEqual(mismatch.status, 400)
          assert.match((await json(mismatch)).detail, /checksum/i)

          const notArchive = await uploadArchive(server.url, publishToken, Buffer.from("just some text, not a zip"))
          assert.strictEqual(notArchive.status, 400)
          assert.match((await json(notArchive)).detail, /archive|zip|tar/i)

          const noManifest = await uploadArchive(
            server.url,
            publishToken,
            buildZip([{ name: "README.md", data: "hi" }])
          )
          assert.strictEqual(noManifest.status, 400)
          assert.match((await json(noManifest)).detail, /manifest/i)

          const form = new FormData()
          form.append("checksum", "abc")
          const noFile = await fetch(`${api}/packages/upload`, {
            method: "POST",
            headers: { authorization: `Bearer ${publishToken}` },
            body: form
          })
          assert.strictEqual(noFile.status, 400)
          assert.match((await json(noFile)).detail, /file/)
          // nothing of these was stored
          assert.strictEqual((await get("/packages/bad-upload")).status, 404)
        }))
    })

    it.layer(Layer.effectDiscard(using(Fixture, async ({ publishToken, server }) => {
      for (const v of ["1.0.0", "1.10.0", "1.9.0", "2.0.0-beta.1"]) {
        await publishFixture(server.url, publishToken, {
          name: "semver_pkg",
          version: v,
          deps: v === "1.9.0" ? { "http-tools": "^1.0.0" } : {},
          manifest: { category: "testing", keywords: ["ordering"] }
        })
      }
    })))("reads", (it) => {
      it.effect("latest is the highest release (not filename order, not a prerelease), by either spelling", () =>
        using(Fixture, async ({ get }) => {
          for (const name of ["semver_pkg", "semver-pkg", "SEMVER-PKG"]) {
            const body = await json(await get(`/packages/${name}`, { "content-type": "application/json" }))
            assert.strictEqual(body.version, "1.10.0")
            assert.strictEqual(body.latest_version, "1.10.0")
            assert.deepStrictEqual(body.available_versions, ["1.0.0", "1.9.0", "1.10.0", "2.0.0-beta.1"])
          }
        }))

      it.effect("versions are semver-sorted with yanked, reason, published_at, checksum, deps, size, downloads, download_url", () =>
        using(Fixture, async ({ api, get }) => {
          const body = await json(await get("/packages/semver-pkg/versions"))
          assert.deepStrictEqual(body.versions, ["1.0.0", "1.9.0", "1.10.0", "2.0.0-beta.1"])
          const r = body.releases.find((x: { version: string }) => x.version === "1.9.0")
          assert.containSubset(r, { yanked: false, yank_reason: null, dependencies: { "http-tools": "^1.0.0" } })
          assert.match(r.checksum, /^[0-9a-f]{64}$/)
          assert.isAbove(r.size_bytes, 0)
          assert.isNotNaN(Date.parse(r.published_at))
          assert.strictEqual(r.download_url, `${api}/packages/semver_pkg/1.9.0/download`)
          assert.strictEqual((await get("/packages/no-such/versions")).status, 404)
        }))

      it.effect("a single version answers 200, an unknown one 404 {detail}", () =>
        using(Fixture, async ({ get }) => {
          assert.strictEqual((await json(await get("/packages/semver-pkg/1.9.0"))).version, "1.9.0")
          const missing = await get("/packages/semver-pkg/9.9.9")
          assert.strictEqual(missing.status, 404)
          assert.match((await json(missing)).detail, /semver-pkg@9\.9\.9/)
          assert.strictEqual((await get("/packages/nothing-here")).status, 404)
        }))

      it.effect("yank (publish scope, with reason) moves latest; unyank restores it", () =>
        using(Fixture, async ({ get, post, publishToken, readToken }) => {
          assert.strictEqual((await post("/packages/semver-pkg/1.10.0/yank", undefined, { reason: "x" })).status, 401)
          assert.strictEqual((await post("/packages/semver-pkg/1.10.0/yank", readToken, { reason: "x" })).status, 403)
          const y = await post("/packages/semver-pkg/1.10.0/yank", publishToken, { reason: "broken build" })
          assert.strictEqual(y.status, 200)
          assert.deepStrictEqual(await json(y), {
            name: "semver_pkg",
            version: "1.10.0",
            status: "yanked",
            reason: "broken build"
          })
          assert.strictEqual((await json(await get("/packages/semver-pkg"))).version, "1.9.0")
          const versions = await json(await get("/packages/semver-pkg/versions"))
          assert.containSubset(versions.releases.find((x: { version: string }) => x.version === "1.10.0"), {
            yanked: true,
            yank_reason: "broken build"
          })
          assert.strictEqual((await post("/packages/semver-pkg/7.7.7/yank", publishToken, { reason: "x" })).status, 404)
          const bad = await post("/packages/semver-pkg/1.10.0/yank", publishToken, "{not json")
          assert.strictEqual(bad.status, 400)
          assert.strictEqual(typeof (await json(bad)).detail, "string")
          const badShape = await post("/packages/semver-pkg/1.10.0/yank", publishToken, { reason: 42 })
          assert.strictEqual(badShape.status, 400)
          assert.match((await json(badShape)).detail, /reason/)
          const u = await post("/packages/semver-pkg/1.10.0/unyank", publishToken)
          assert.strictEqual(u.status, 200)
          assert.strictEqual((await json(u)).status, "unyanked")
          assert.strictEqual((await json(await get("/packages/semver-pkg"))).version, "1.10.0")
        }))

      it.effect("download: bytes, Content-Length, ETag, Content-Disposition; 304, 206, 416; exact counts", () =>
        using(Fixture, async ({ get, s3 }) => {
          const info = await json(await get("/packages/http-tools/1.0.0"))
          // with archives in S3, the bytes served are the object at the content address
          if (s3 !== undefined) assert.include(await s3.keys("api/blobs/"), `api/blobs/${info.checksum}`)
          const res = await fetch(info.download_url, { redirect: "manual" })
          assert.strictEqual(res.status, 200)
          const bytes = new Uint8Array(await res.arrayBuffer())
          assert.strictEqual(sha256(bytes), info.checksum)
          assert.strictEqual(res.headers.get("content-length"), String(bytes.length))
          assert.strictEqual(res.headers.get("etag"), `"${info.checksum}"`)
          assert.strictEqual(res.headers.get("content-disposition"), `attachment; filename="http-tools-1.0.0.fmpkg"`)

          const notModified = await fetch(info.download_url, { headers: { "if-none-match": `"${info.checksum}"` } })
          assert.strictEqual(notModified.status, 304)

          const partial = await fetch(info.download_url, { headers: { range: "bytes=2-9" } })
          assert.strictEqual(partial.status, 206)
          assert.strictEqual(partial.headers.get("content-range"), `bytes 2-9/${bytes.length}`)
          assert.deepStrictEqual(Buffer.from(await partial.arrayBuffer()), Buffer.from(bytes.subarray(2, 10)))
          const suffix = await fetch(info.download_url, { headers: { range: "bytes=-4" } })
          assert.deepStrictEqual(Buffer.from(await suffix.arrayBuffer()), Buffer.from(bytes.subarray(bytes.length - 4)))
          const unsatisfiable = await fetch(info.download_url, { headers: { range: `bytes=${bytes.length + 10}-` } })
          assert.strictEqual(unsatisfiable.status, 416)
          await unsatisfiable.arrayBuffer()

          await Promise.all(Array.from({ length: 25 }, () => fetch(info.download_url).then((r) => r.arrayBuffer())))
          const after = await json(await get("/packages/http-tools/1.0.0"))
          assert.strictEqual(after.downloads, 26) // the first full GET + 25; 304, 206 and 416 are not counted
          assert.strictEqual((await get("/packages/http-tools/9.0.0/download")).status, 404)
        }))
    })

    it.layer(Layer.effectDiscard(using(Fixture, async ({ publishToken, server }) => {
      await publishFixture(server.url, publishToken, {
        name: "json",
        version: "1.0.0",
        manifest: { description: "the json package", category: "data" }
      })
      await publishFixture(server.url, publishToken, {
        name: "json-transform",
        version: "1.0.0",
        manifest: { description: "transform json documents", category: "data", keywords: ["mapping"] }
      })
      await publishFixture(server.url, publishToken, {
        name: "yaml-tools",
        version: "1.0.0",
        manifest: { description: "reads YAML and json", category: "formats" }
      })
    })))("search, categories, stats", (it) => {
      it.effect("ranks the exact name first, matches prefixes, and counts the total", () =>
        using(Fixture, async ({ get }) => {
          const body = await json(await get("/packages/search?q=json", { "content-type": "application/json" }))
          assert.strictEqual(body.packages[0].name, "json")
          const names = body.packages.map((p: { name: string }) => p.name)
          assert.includeDeepMembers(names, ["json", "json-transform", "yaml-tools"])
          assert.strictEqual(body.total_count, body.packages.length)
          assert.containSubset(body, { page: 1, page_size: 20, query: "json" })

          const prefix = await json(await get("/packages/search?q=yam"))
          assert.deepStrictEqual(prefix.packages.map((p: { name: string }) => p.name), ["yaml-tools"])
          const underscore = await json(await get("/packages/search?q=json_transform"))
          assert.strictEqual(underscore.packages[0].name, "json-transform")
          const byTag = await json(await get("/packages/search?q=mapping"))
          assert.deepStrictEqual(byTag.packages.map((p: { name: string }) => p.name), ["json-transform"])
        }))

      it.effect("filters by category and pages", () =>
        using(Fixture, async ({ get }) => {
          const data = await json(await get("/packages/search?q=json&category=data"))
          assert.deepStrictEqual(data.packages.map((p: { name: string }) => p.name).sort(), ["json", "json-transform"])
          const page1 = await json(await get("/packages/search?q=json&page_size=1&page=1"))
          const page2 = await json(await get("/packages/search?q=json&page_size=1&page=2"))
          assert.lengthOf(page1.packages, 1)
          assert.lengthOf(page2.packages, 1)
          assert.notStrictEqual(page1.packages[0].name, page2.packages[0].name)
          assert.isAtLeast(page1.total_count, 3)
        }))

      it.effect("empty q lists everything, newest first", () =>
        using(Fixture, async ({ get }) => {
          const body = await json(await get("/packages/search?page_size=100"))
          assert.strictEqual(body.packages[0].name, "yaml-tools")
          assert.strictEqual(body.total_count, body.packages.length)
        }))

      it.effect("bad page parameters answer 422 naming the parameter", () =>
        using(Fixture, async ({ get }) => {
          for (
            const [q, name] of [["page_size=101", "page_size"], ["page=0", "page"], ["page=abc", "page"], [
              "page_size=-1",
              "page_size"
            ]]
          ) {
            const res = await get(`/packages/search?q=json&${q}`)
            assert.strictEqual(res.status, 422)
            assert.include((await json(res)).detail, `'${name}'`)
          }
        }))

      it.effect("categories is a JSON array of strings; stats carries counts", () =>
        using(Fixture, async ({ get }) => {
          const cats = await json(await get("/categories"))
          assert.includeDeepMembers(cats, ["data", "formats", "io", "testing"])
          assert.isTrue(cats.every((c: unknown) => typeof c === "string"))
          const stats = await json(await get("/stats"))
          assert.isAtLeast(stats.packages, 8)
          assert.isAbove(stats.versions, stats.packages)
          assert.isAbove(stats.total_size_bytes, 0)
          assert.isAtLeast(stats.total_downloads, 26)
          assert.includeDeepMembers(stats.categories, [{ name: "data", count: 2 }])
        }))
    })

    describe("delete and tokens", () => {
      it.effect("delete needs admin; a deleted version is gone and can never be re-published", () =>
        using(Fixture, async ({ del, get, publishToken, server }) => {
          await publishFixture(server.url, publishToken, { name: "doomed", version: "1.0.0" })
          await publishFixture(server.url, publishToken, { name: "doomed", version: "1.1.0" })
          assert.strictEqual((await del("/packages/doomed/1.1.0", undefined)).status, 401)
          assert.strictEqual((await del("/packages/doomed/1.1.0", publishToken)).status, 403)
          const res = await del("/packages/doomed/1.1.0", server.adminToken)
          assert.strictEqual(res.status, 200)
          assert.containSubset(await json(res), { name: "doomed", version: "1.1.0", status: "deleted" })
          assert.strictEqual((await get("/packages/doomed/1.1.0")).status, 404)
          assert.strictEqual((await get("/packages/doomed/1.1.0/download")).status, 404)
          assert.strictEqual((await json(await get("/packages/doomed"))).version, "1.0.0")
          const again = await uploadArchive(
            server.url,
            publishToken,
            fixtureArchive({ name: "doomed", version: "1.1.0" })
          )
          assert.strictEqual(again.status, 409)
          assert.match((await json(again)).detail, /deleted/)
          assert.strictEqual((await del("/packages/doomed/1.1.0", server.adminToken)).status, 404)
        }))

      it.effect("revoked and expired tokens answer 401; token list never shows secrets", () =>
        using(Fixture, async ({ env, publishToken, server }) => {
          const token = await createToken(server.dataDir, "publish", { name: "short-lived", env })
          await runStudio(["token", "revoke", "short-lived", "--data-dir", server.dataDir], env)
          const res = await uploadArchive(server.url, token, fixtureArchive({ name: "revoked-pkg", version: "1.0.0" }))
          assert.strictEqual(res.status, 401)
          assert.match((await json(res)).detail, /revoked/)
          const listed = await runStudio(["token", "list", "--data-dir", server.dataDir, "--json"], env)
          assert.notInclude(listed, token)
          assert.notInclude(listed, publishToken)
          const rows = JSON.parse(listed) as Array<{ name: string; state: string; scope: string }>
          assert.strictEqual(rows.find((r) => r.name === "short-lived")?.state, "revoked")
          assert.strictEqual(rows.find((r) => r.name === "reader")?.scope, "read")
        }))
    })
  })
})
