/**
 * One request path: `fm studio start` and `RegistryServer.layer` mounted in another app (as the
 * README shows) are the same server. Both start from copies of one data directory (its log key
 * included), get the same requests in the same order, and must give the same answers: status, the
 * headers that matter and the body bytes, for every read (info, versions, version, search, download,
 * 304s, 404s, bad parameters, the publish log's checkpoint, entries and proofs) and every upload
 * outcome (201, 409, 400s, 413, 401, 403), including reads right after writes (a cached answer must
 * not outlive the store's next write). `fm studio start` replays its own answer to a repeated
 * anonymous read before its app runs (`AnswerCache.Replay`); the embedded layer, on a plain
 * `NodeHttpServer`, runs the app for every request: repeated reads compare the replays with the
 * app's answers.
 */
import { HttpApiBuilder, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import * as RegistryServer from "../../src/server/RegistryServer.js"
import { acquireServer, createToken, fixtureArchive, publishFixture } from "../helpers/server.js"

const LIMIT = 300_000
const PUBLIC_URL = "http://registry.test"
const API = "/api/v1/registry"
/** The headers a client acts on; `date`, `keep-alive` and `connection` say nothing about the registry. */
const HEADERS = [
  "content-type",
  "content-length",
  "etag",
  "cache-control",
  "content-disposition",
  "accept-ranges",
  "content-range",
  "retry-after",
  "www-authenticate",
  "location"
]

/** A temp directory removed when the scope closes (after the servers acquired later in it stop). */
const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** The registry's layer in a host app of its own, next to the host's route, as in the README; built in the scope. */
const mount = (dataDir: string) => {
  const Hello = HttpApiBuilder.Router.use((router) =>
    router.get("/hello", HttpServerResponse.text("hello from the host app"))
  )
  const App = HttpApiBuilder.serve().pipe(
    Layer.provide(Hello),
    Layer.provide(RegistryServer.layer({ dataDir, publicUrl: PUBLIC_URL, maxUploadSize: LIMIT, logRequests: false })),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )
  return Effect.map(Layer.build(App), (ctx) => RegistryServer.listeningUrl(Context.get(ctx, HttpServer.HttpServer)))
}

interface Answer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

const answer = async (res: Response, blank: ReadonlyArray<string> = []): Promise<Answer> => {
  const headers: Record<string, string> = {}
  for (const h of HEADERS) {
    const v = res.headers.get(h)
    if (v !== null) headers[h] = v
  }
  let body = Buffer.from(await res.arrayBuffer()).toString("base64")
  if (blank.length > 0 && (res.headers.get("content-type") ?? "").startsWith("application/json")) {
    // fields that differ by when a write happened (a publish's time), not by which server answered
    body = JSON.stringify(
      JSON.parse(Buffer.from(body, "base64").toString("utf8")),
      (k, v) => (blank.includes(k) ? "<blank>" : v)
    )
    delete headers["content-length"]
    delete headers["etag"]
  }
  return { status: res.status, headers, body }
}

type Init = RequestInit & { readonly blank?: ReadonlyArray<string>; readonly duplex?: "half" }

/**
 * Sends the same request to both servers at these URLs (studio first, then embedded) and expects one answer.
 * `init` may be a function, for bodies that can be sent only once (streams).
 */
const same = (studio: string, embedded: string) =>
async (
  p: string,
  init: Init | (() => Init) = {}
): Promise<Answer & { readonly json: () => Readonly<Record<string, unknown>> }> => {
  const make = typeof init === "function" ? init : () => init
  const a = await answer(await fetch(`${studio}${p}`, { ...make(), redirect: "manual" }), make().blank)
  const b = await answer(await fetch(`${embedded}${p}`, { ...make(), redirect: "manual" }), make().blank)
  const request = `${make().method ?? "GET"} ${p}`
  assert.deepStrictEqual({ request, ...b }, { request, ...a })
  return {
    ...a,
    json: () => JSON.parse(make().blank === undefined ? Buffer.from(a.body, "base64").toString("utf8") : a.body)
  }
}

/** The two servers, started from copies of one seeded data directory, and the seed's tokens. */
class OnePath extends Context.Tag("test/OnePath")<OnePath, {
  readonly embedded: string
  readonly admin: string
  readonly reader: string
  readonly publisher: string
  /** The seed's log size (its entries are the same bytes on both servers). */
  readonly logSize: number
  readonly same: ReturnType<typeof same>
}>() {}

const OnePathLive = Layer.scoped(
  OnePath,
  Effect.gen(function*() {
    // one data directory with packages and tokens, made by `fm studio start` itself ...
    const seed = yield* tempDir("fm-one-path-seed-")
    const admin = `fmr_test${crypto.randomBytes(24).toString("base64url")}`
    const options = { adminToken: admin, publicUrl: PUBLIC_URL, maxUploadSize: LIMIT }
    const seeded = Effect.flatMap(acquireServer({ ...options, dataDir: seed }), (first) =>
      Effect.promise(async () => {
        await publishFixture(first.url, admin, {
          name: "alpha",
          version: "1.0.0",
          manifest: { description: "Alpha does data things", category: "data", tags: ["etl", "csv"] }
        })
        await publishFixture(first.url, admin, {
          name: "alpha",
          version: "1.2.0",
          manifest: { description: "Alpha, newer", category: "data" }
        })
        await publishFixture(first.url, admin, {
          name: "beta_pkg",
          version: "0.1.0",
          deps: { alpha: "^1.0.0" },
          manifest: { category: "io" }
        })
        await publishFixture(first.url, admin, {
          name: "gamma",
          version: "2.0.0",
          manifest: { description: "Gamma is yanked" }
        })
        const yanked = await fetch(`${first.url}${API}/packages/gamma/2.0.0/yank`, {
          method: "POST",
          headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
          body: JSON.stringify({ reason: "broken" })
        })
        assert.strictEqual(yanked.status, 200)
        const checkpoint = await (await fetch(`${first.url}${API}/log/checkpoint`)).text()
        return {
          reader: await createToken(seed, "read", { name: "reader" }),
          publisher: await createToken(seed, "publish", { name: "publisher" }),
          logSize: Number(checkpoint.split("\n")[1])
        }
      }))
    // (the seeding server stops before the copies)
    const { logSize, publisher, reader } = yield* Effect.scoped(seeded)
    // ... copied, so both servers start from the same bytes
    const a = yield* tempDir("fm-one-path-studio-")
    const b = yield* tempDir("fm-one-path-embedded-")
    fs.cpSync(seed, a, { recursive: true })
    fs.cpSync(seed, b, { recursive: true })
    const studio = yield* acquireServer({ ...options, dataDir: a })
    const embedded = yield* mount(b)
    return { embedded, admin, reader, publisher, logSize, same: same(studio.url, embedded) }
  })
)

/** A test body with the servers. */
const run = (body: (servers: Context.Tag.Service<OnePath>) => Promise<void>) =>
  Effect.flatMap(OnePath, (servers) => Effect.promise(() => body(servers)))

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

layer(OnePathLive, { timeout: "120 seconds", excludeTestServices: true })(
  "fm studio start and RegistryServer.layer give the same answers",
  (it) => {
    it.effect("the host app's own route still answers next to the registry", () =>
      run(async ({ embedded }) => {
        const res = await fetch(`${embedded}/hello`)
        assert.strictEqual(await res.text(), "hello from the host app")
      }))

    it.effect("package info, versions and one version: anonymous, read, admin and bad tokens", () =>
      run(async ({ admin, reader, same }) => {
        for (const headers of [{}, bearer(reader), bearer(admin)]) {
          assert.strictEqual((await same(`${API}/packages/alpha`, { headers })).status, 200)
          assert.strictEqual((await same(`${API}/packages/ALPHA`, { headers })).status, 200)
          assert.containSubset((await same(`${API}/packages/beta-pkg`, { headers })).json(), { name: "beta_pkg" })
          assert.containSubset((await same(`${API}/packages/gamma`, { headers })).json(), {
            yanked: true,
            yank_reason: "broken"
          })
          assert.deepStrictEqual((await same(`${API}/packages/alpha/versions`, { headers })).json().versions, [
            "1.0.0",
            "1.2.0"
          ])
          assert.containSubset((await same(`${API}/packages/alpha/1.0.0`, { headers })).json(), {
            latest_version: "1.2.0"
          })
        }
        assert.strictEqual((await same(`${API}/packages/alpha`, { headers: bearer("fmr_not-a-token") })).status, 401)
        await same(`${API}/packages/alpha`, { headers: { authorization: "Basic abc" } })
      }))

    it.effect("not found and bad requests", () =>
      run(async ({ same }) => {
        assert.deepStrictEqual((await same(`${API}/packages/nope`)).json(), { detail: "Package 'nope' not found" })
        assert.strictEqual((await same(`${API}/packages/nope/versions`)).status, 404)
        assert.strictEqual((await same(`${API}/packages/alpha/9.9.9`)).status, 404)
        assert.strictEqual((await same(`${API}/packages/alpha/9.9.9/download`)).status, 404)
        assert.strictEqual((await same(`${API}/no-such-route`)).status, 404)
        assert.isAtLeast((await same(`${API}/packages/%E0%A4%A`)).status, 400)
        assert.strictEqual((await same(`${API}/packages/alpha`, { method: "DELETE" })).status, 404)
        assert.strictEqual((await same(`${API}/packages/alpha/1.0.0`, { method: "DELETE" })).status, 401)
      }))

    it.effect("the API description and the publish log's refusals", () =>
      run(async ({ same }) => {
        assert.isString((await same(`${API}/openapi.json`)).json().openapi)
        for (const p of ["entries?start=x&end=1", "proof/inclusion", "proof/consistency?first=2&second=1"]) {
          const a = await same(`${API}/log/${p}`)
          assert.isString(a.json().detail)
          assert.isTrue(a.status >= 400 && a.status < 500)
        }
      }))

    it.effect("the publish log: signed checkpoint, entries, inclusion and consistency proofs, 304s", () =>
      run(async ({ logSize, reader, same }) => {
        // both data dirs hold the seed's log key, so the checkpoints' signatures are the same bytes
        assert.isAtLeast(logSize, 5)
        for (const headers of [{}, bearer(reader)]) {
          const checkpoint = await same(`${API}/log/checkpoint`, { headers })
          assert.strictEqual(checkpoint.status, 200)
          assert.strictEqual(checkpoint.headers["cache-control"], "no-cache")
          const note = Buffer.from(checkpoint.body, "base64").toString("utf8").split("\n")
          assert.match(note[0] ?? "", /^fm-log\/[0-9a-f]{16}$/)
          assert.strictEqual(note[1], String(logSize))
          assert.strictEqual(note[4]?.split(" ").slice(0, 2).join(" "), `\u2014 ${note[0]}`)
          const unchanged = await same(`${API}/log/checkpoint`, {
            headers: { ...headers, "if-none-match": checkpoint.headers["etag"]! }
          })
          assert.strictEqual(unchanged.status, 304)

          const all = await same(`${API}/log/entries`, { headers })
          assert.lengthOf(all.json().entries as ReadonlyArray<unknown>, logSize)
          const fixed = await same(`${API}/log/entries?start=1&end=3`, { headers })
          assert.lengthOf(fixed.json().entries as ReadonlyArray<unknown>, 2)
          assert.strictEqual(fixed.headers["cache-control"], "public, max-age=31536000, immutable")
          await same(`${API}/log/entries?start=${logSize - 1}&end=${logSize + 5}`, { headers })

          const inclusion = await same(`${API}/log/proof/inclusion?index=0&size=${logSize}`, { headers })
          assert.containSubset(inclusion.json(), { index: 0, tree_size: logSize })
          const latest = await same(`${API}/log/proof/inclusion?index=${logSize - 1}&old=2`, { headers })
          assert.containSubset(latest.json(), { index: logSize - 1, tree_size: logSize, old_size: 2 })
          assert.isString(latest.json().checkpoint)
          const many = await same(`${API}/log/proof/inclusions?indexes=0,2,${logSize - 1}&size=${logSize}`, { headers })
          assert.lengthOf(many.json().proofs as ReadonlyArray<unknown>, 3)
          await same(`${API}/log/proof/inclusions?indexes=1&old=1`, { headers })

          const consistency = await same(`${API}/log/proof/consistency?old=1&new=${logSize}`, { headers })
          assert.containSubset(consistency.json(), { old_size: 1, new_size: logSize })
          assert.isAbove((consistency.json().hashes as ReadonlyArray<unknown>).length, 0)
          await same(`${API}/log/proof/consistency?old=2`, { headers })
          const proof = await same(`${API}/log/proof/inclusion?index=0&size=${logSize}`, {
            headers: { ...headers, "if-none-match": inclusion.headers["etag"]! }
          })
          assert.strictEqual(proof.status, 304)
          assert.strictEqual((await same(`${API}/log/proof/inclusion?index=${logSize}`, { headers })).status, 404)
        }
      }))

    it.effect("search: query, category, paging, empty query, bad parameters", () =>
      run(async ({ reader, same }) => {
        for (const headers of [{}, bearer(reader)]) {
          assert.containSubset((await same(`${API}/packages/search?q=alpha`, { headers })).json(), { total_count: 1 })
          await same(`${API}/packages/search?q=`, { headers })
          await same(`${API}/packages/search`, { headers })
          await same(`${API}/packages/search?category=data`, { headers })
          await same(`${API}/packages/search?q=a&page=2&page_size=1`, { headers })
          await same(`${API}/packages/search?q=gam`, { headers })
        }
        assert.strictEqual((await same(`${API}/packages/search?page=0`)).status, 422)
        assert.strictEqual((await same(`${API}/packages/search?page_size=abc`)).status, 422)
        await same(`${API}/packages/search?q=a&q=b`)
        await same(`${API}/packages/search?q=a&unknown=1`)
        await same(`${API}/categories`)
        await same(`${API}/stats`)
        await same(`${API}/health`)
      }))

    it.effect("conditional requests: 304 for info and downloads, by strong, weak and * tags", () =>
      run(async ({ same }) => {
        const info = await same(`${API}/packages/alpha`)
        const etag = info.headers["etag"]!
        assert.match(etag, /^"[0-9a-f]{64}"$/)
        for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
          const r = await same(`${API}/packages/alpha`, { headers: { "if-none-match": inm } })
          assert.strictEqual(r.status, 304)
          assert.strictEqual(r.body, "")
        }
        assert.strictEqual(
          (await same(`${API}/packages/alpha`, { headers: { "if-none-match": "\"other\"" } })).status,
          200
        )
        assert.strictEqual(
          (await same(`${API}/packages/search?q=alpha`, { headers: { "if-none-match": etag } })).status,
          200
        )

        const download = await same(`${API}/packages/alpha/1.0.0/download`)
        const tag = download.headers["etag"]!
        for (const inm of [tag, `W/${tag}`, `"other", ${tag}`, "*"]) {
          assert.strictEqual(
            (await same(`${API}/packages/alpha/1.0.0/download`, { headers: { "if-none-match": inm } })).status,
            304
          )
        }
        assert.strictEqual(
          (await same(`${API}/packages/alpha/1.0.0/download`, { headers: { "if-none-match": "\"other\"" } })).status,
          200
        )
      }))

    it.effect("downloads: whole, HEAD, byte ranges, unsatisfiable ranges; the count shows at once", () =>
      run(async ({ reader, same }) => {
        assert.strictEqual((await same(`${API}/packages/beta-pkg/0.1.0/download`)).status, 200)
        assert.strictEqual(
          (await same(`${API}/packages/beta-pkg/0.1.0/download`, { headers: bearer(reader) })).status,
          200
        )
        assert.strictEqual((await same(`${API}/packages/beta-pkg/0.1.0/download`, { method: "HEAD" })).status, 200)
        assert.strictEqual(
          (await same(`${API}/packages/beta-pkg/0.1.0/download`, { headers: { range: "bytes=0-9" } })).status,
          206
        )
        assert.strictEqual(
          (await same(`${API}/packages/beta-pkg/0.1.0/download`, { headers: { range: "bytes=-5" } })).status,
          206
        )
        assert.strictEqual(
          (await same(`${API}/packages/beta-pkg/0.1.0/download`, { headers: { range: "bytes=999999-" } })).status,
          416
        )
        assert.containSubset((await same(`${API}/packages/beta-pkg`)).json(), { downloads: 2 })
        const releases = (await same(`${API}/packages/beta-pkg/versions`)).json()
        assert.containSubset(releases, { releases: [{ downloads: 2 }] })
        assert.nestedPropertyVal(releases, "releases.length", 1)
        // the same download again and again (an answer the server may replay): each one counts, a 304 does not
        const url = `${API}/packages/beta-pkg/0.1.0/download`
        const first = await same(url)
        for (let i = 0; i < 4; i++) assert.strictEqual((await same(url)).body, first.body)
        assert.strictEqual((await same(url, { headers: { "if-none-match": first.headers["etag"]! } })).status, 304)
        assert.containSubset((await same(`${API}/packages/beta-pkg`)).json(), { downloads: 7 })
      }))

    it.effect("upload outcomes: 201, 409, 400s, 413, 401, 403", () =>
      run(async ({ admin, publisher, reader, same }) => {
        const post = (token: string | undefined, body: Uint8Array, contentType: string) =>
          ({
            method: "POST",
            headers: { ...(token === undefined ? {} : bearer(token)), "content-type": contentType },
            body: Buffer.from(body)
          }) as const
        const upload = (token: string | undefined, archive: Uint8Array, checksum?: string) => {
          const form = new FormData()
          form.append("file", new Blob([Buffer.from(archive)], { type: "application/octet-stream" }), "x.fmpkg")
          form.append("checksum", checksum ?? crypto.createHash("sha256").update(archive).digest("hex"))
          return {
            method: "POST",
            headers: token === undefined ? {} : bearer(token),
            body: form,
            blank: ["published_at"]
          } as const
        }
        const url = `${API}/packages/upload`
        const good = fixtureArchive({ name: "delta", version: "1.0.0", manifest: { description: "Fresh" } })
        assert.containSubset((await same(url, upload(publisher, good))).json(), { name: "delta", version: "1.0.0" })
        assert.strictEqual((await same(url, upload(publisher, good))).status, 409)
        assert.match(String((await same(url, upload(admin, good, "0".repeat(64)))).json().detail), /^Checksum mismatch/)
        assert.match(
          String((await same(url, upload(admin, Buffer.from("not a zip at all")))).json().detail),
          /^Invalid package archive: .*upload/
        )
        const noFile = new FormData()
        noFile.append("checksum", "0".repeat(64))
        assert.deepStrictEqual((await same(url, { method: "POST", headers: bearer(admin), body: noFile })).json(), {
          detail: "Missing multipart file part 'file' (the .fmpkg archive)"
        })
        const unclosed = Buffer.from(
          "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nno closing boundary"
        )
        const truncated = await same(url, post(admin, unclosed, "multipart/form-data; boundary=b"))
        assert.strictEqual(truncated.status, 400)
        assert.match(String(truncated.json().detail), /^Bad multipart body: /)
        const big = fixtureArchive({
          name: "too-big",
          version: "1.0.0",
          files: { "big.bin": crypto.randomBytes(LIMIT + 10) }
        })
        assert.deepStrictEqual((await same(url, upload(admin, big))).json(), {
          detail: `Upload too large: the limit is ${LIMIT} bytes`
        })
        const other = fixtureArchive({ name: "epsilon", version: "1.0.0" })
        assert.strictEqual((await same(url, upload(undefined, other))).status, 401)
        assert.strictEqual((await same(url, upload("fmr_not-a-token", other))).status, 401)
        assert.include(String((await same(url, upload(reader, other))).json().detail), "this needs scope 'publish'")
        // a streamed upload (no Content-Length) of a good archive, and of one over the limit
        const stream = (bytes: Uint8Array) => (): Init => ({
          method: "POST",
          headers: { ...bearer(admin), "content-type": "multipart/form-data; boundary=s" },
          duplex: "half",
          blank: ["published_at"],
          body: new ReadableStream({
            start(c) {
              c.enqueue(
                Buffer.from("--s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.fmpkg\"\r\n\r\n")
              )
              c.enqueue(bytes)
              c.enqueue(Buffer.from("\r\n--s--\r\n"))
              c.close()
            }
          })
        })
        assert.strictEqual((await same(url, stream(fixtureArchive({ name: "zeta", version: "1.0.0" })))).status, 201)
        assert.strictEqual((await same(url, stream(big))).status, 413)
      }))

    it.effect("repeated reads (replayed by fm studio start) are the app's answers, 200 and 304, before and after writes", () =>
      run(async ({ admin, reader, same }) => {
        const reads = [
          `${API}/packages/gamma`,
          `${API}/packages/gamma/versions`,
          `${API}/packages/gamma/2.0.0`,
          `${API}/packages/search?q=gam`
        ]
        /** Every read three times, anonymous and with a read token, then three times with its ETag; gives the ETags. */
        const round = async (blank?: ReadonlyArray<string>) => {
          const etags: Record<string, string> = {}
          for (const headers of [{}, bearer(reader)]) {
            for (const p of reads) {
              for (let i = 0; i < 3; i++) {
                const a = await same(p, { headers, ...(blank === undefined ? {} : { blank }) })
                assert.strictEqual(a.status, 200, p)
                if (blank === undefined) etags[p] = a.headers["etag"] ?? ""
              }
              if (blank !== undefined) continue
              for (let i = 0; i < 3; i++) {
                const unchanged = await same(p, { headers: { ...headers, "if-none-match": etags[p] ?? "" } })
                assert.strictEqual(unchanged.status, 304, p)
              }
            }
          }
          return etags
        }
        const before = await round()
        const unyank = await same(`${API}/packages/gamma/2.0.0/unyank`, { method: "POST", headers: bearer(admin) })
        assert.strictEqual(unyank.status, 200)
        for (const headers of [{}, bearer(reader)]) {
          for (const p of reads) {
            const changed = await same(p, { headers: { ...headers, "if-none-match": before[p] ?? "" } })
            assert.strictEqual(changed.status, 200, `${p} after the unyank`)
          }
        }
        assert.containSubset((await same(`${API}/packages/gamma`)).json(), { yanked: false })
        const after = await round()
        for (const p of reads) assert.notStrictEqual(after[p], before[p], p)
        const newer = fixtureArchive({ name: "gamma", version: "2.1.0", manifest: { description: "Gamma, newer" } })
        const form = new FormData()
        form.append("file", new Blob([Buffer.from(newer)], { type: "application/octet-stream" }), "x.fmpkg")
        const published = await same(`${API}/packages/upload`, {
          method: "POST",
          headers: bearer(admin),
          body: form,
          blank: ["published_at"]
        })
        assert.strictEqual(published.status, 201)
        await round(["published_at"])
        assert.containSubset((await same(`${API}/packages/gamma`, { blank: ["published_at"] })).json(), {
          latest_version: "2.1.0"
        })
      }))

    it.effect("a read right after a write sees it (publish, yank, delete, downloads)", () =>
      run(async ({ admin, same }) => {
        assert.containSubset((await same(`${API}/packages/alpha`)).json(), { latest_version: "1.2.0" })
        await same(`${API}/packages/search?q=alpha`)
        const newer = fixtureArchive({ name: "alpha", version: "1.3.0", manifest: { description: "Alpha, newest" } })
        const form = new FormData()
        form.append("file", new Blob([Buffer.from(newer)], { type: "application/octet-stream" }), "x.fmpkg")
        assert.strictEqual(
          (await same(`${API}/packages/upload`, {
            method: "POST",
            headers: bearer(admin),
            body: form,
            blank: ["published_at"]
          })).status,
          201
        )
        assert.containSubset((await same(`${API}/packages/alpha`, { blank: ["published_at"] })).json(), {
          latest_version: "1.3.0"
        })
        const found = (await same(`${API}/packages/search?q=alpha`, { blank: ["published_at"] })).json()
        assert.containSubset(found, { packages: [{ latest_version: "1.3.0" }] })
        assert.nestedPropertyVal(found, "packages.length", 1)

        const yank = {
          method: "POST",
          headers: { ...bearer(admin), "content-type": "application/json" },
          body: JSON.stringify({ reason: "oops" })
        }
        assert.strictEqual(
          (await same(`${API}/packages/alpha/1.3.0/yank`, { ...yank, blank: ["published_at"] })).status,
          200
        )
        assert.containSubset((await same(`${API}/packages/alpha`)).json(), { latest_version: "1.2.0" })
        assert.containSubset((await same(`${API}/packages/alpha/1.3.0`, { blank: ["published_at"] })).json(), {
          yanked: true
        })

        const before = (await same(`${API}/packages/alpha`)).json() as { downloads: number }
        assert.strictEqual((await same(`${API}/packages/alpha/1.2.0/download`)).status, 200)
        assert.containSubset((await same(`${API}/packages/alpha`)).json(), { downloads: before.downloads + 1 })

        assert.strictEqual(
          (await same(`${API}/packages/alpha/1.0.0`, { method: "DELETE", headers: bearer(admin) })).status,
          200
        )
        assert.strictEqual((await same(`${API}/packages/alpha/1.0.0`)).status, 404)
        assert.strictEqual((await same(`${API}/packages/alpha/versions`, { blank: ["published_at"] })).status, 200)
      }))
  }
)
