/**
 * The attacks of issue #11 against `fm studio start` (a child process), as one suite run once per
 * storage backend: test/server/attacks.test.ts (SQLite), test/pg/attacks.test.ts (PostgreSQL) and
 * test/pg/attacks-s3.test.ts (archives in S3, beside PostgreSQL when enabled).
 * Each test is what an attacker on 127.0.0.1 would send, and what the server must answer.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { buildTar, buildZip, gzip, projectManifest, trailingData, zeroPadded } from "./archives.js"
import type { TestBackend } from "./pg.js"
import { acquireTestDatabase, usesPostgres, usesS3 } from "./pg.js"
import type { RawAnswer } from "./raw-http.js"
import { detailOf, pacedRequest, rawRequest } from "./raw-http.js"
import type { TestS3 } from "./s3.js"
import { acquireS3 } from "./s3.js"
import { tempDir, within } from "./scoped.js"
import type { ScopedServer, StartServerOptions } from "./server.js"
import { acquireServer, createToken, pidOf, publishFixture, serverBundle, uploadArchive } from "./server.js"

/** A free TCP port on 127.0.0.1 (bound, then released). */
const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const a = s.address()
      const port = typeof a === "object" && a !== null ? a.port : 0
      s.close(() => resolve(port))
    })
  })

/** Whether process `pid` still runs. */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Every file and directory under `dir` with its permission bits (`rwx` of user, group, other). */
const modesUnder = (dir: string): Array<{ readonly path: string; readonly dir: boolean; readonly mode: number }> => {
  const out: Array<{ path: string; dir: boolean; mode: number }> = []
  const walk = (p: string) => {
    const st = fs.lstatSync(p)
    out.push({ path: p, dir: st.isDirectory(), mode: st.mode & 0o777 })
    if (st.isDirectory()) { for (const name of fs.readdirSync(p)) walk(path.join(p, name)) }
  }
  walk(dir)
  return out
}

/** A gzip tar package whose end-of-archive marker is followed by one more entry, `../../x`. */
export const tarAfterEnd = (name: string): Buffer =>
  gzip(Buffer.concat([
    buildTar([{ name: "manifest.json", data: projectManifest(name, "1.0.0") }]),
    buildTar([{ name: "../../x", data: "hidden\n" }])
  ]))

/** The s3rver of an S3 backend (none on the others), shared by the suite's servers. */
class S3 extends Context.Tag("test/attacks/S3")<S3, TestS3 | undefined>() {}

/** A server of the suite and the environment of its storage (for `fm studio` commands on it). */
type AttackedServer = ScopedServer & { readonly env: Record<string, string> }

/**
 * The suite. `backend` picks the storage: SQLite in each server's data dir, or PostgreSQL with a
 * fresh database per server (dropped with the test's scope); on an S3 backend the archives of
 * every server are under `attacks/` in one bucket. The storage reaches each server (and `fm
 * studio token`) as its environment.
 */
export const attackSuite = (backend: TestBackend) => {
  /** The environment of a fresh storage in the current scope: a new database on PostgreSQL, S3's variables on S3. */
  const storage = Effect.gen(function*() {
    const s3 = yield* S3
    const db = usesPostgres(backend) ? yield* acquireTestDatabase("attacks") : undefined
    const env: Record<string, string> = {
      ...(db === undefined ? {} : { FM_DATABASE_URL: db.url }),
      ...(s3 === undefined ? {} : s3.envFor("attacks"))
    }
    return env
  })
  /** A server in the current scope, on `env`'s storage (default a fresh one). */
  const start = (options: StartServerOptions = {}, env?: Record<string, string>) =>
    Effect.gen(function*() {
      const where = env ?? (yield* storage)
      const server = yield* acquireServer({ ...options, env: { ...options.env, ...where } })
      return { ...server, env: where } satisfies AttackedServer
    })
  /** A token of `scope` made with `fm studio token create` on server `s`'s storage. */
  const tokenFor = (s: AttackedServer, scope: "read" | "publish") => createToken(s.dataDir, scope, { env: s.env })
  const s3Layer = Layer.scoped(S3, usesS3(backend) ? acquireS3() : Effect.succeed(undefined))
  layer(s3Layer, { excludeTestServices: true })(`attacks on ${backend}`, (it) => {
    it.scoped("an anonymous or read-scoped yank with a 300 MiB body is refused before the body is read; JSON bodies over 64 KiB get 413", () =>
      Effect.flatMap(start({ private: true }), (s) =>
        Effect.promise(async () => {
          await publishFixture(s.url, s.adminToken, { name: "big-body", version: "1.0.0" })
          const reader = await tokenFor(s, "read")
          const yank = (auth: string, length: number) =>
            `POST /api/v1/registry/packages/big-body/1.0.0/yank HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}` +
            `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`
          const opening = Buffer.from(`{"reason":"${"a".repeat(65_536)}`)
          // the body never comes: an answer can only come from a server that did not wait for it
          const anonymous = await rawRequest(s.url, yank("", 300 * 1024 * 1024), opening)
          assert.strictEqual(anonymous === "no answer" ? 0 : anonymous.status, 401)
          assert.match(detailOf(anonymous), /publish/)
          const read = await rawRequest(s.url, yank(`Authorization: Bearer ${reader}\r\n`, 300 * 1024 * 1024), opening)
          assert.strictEqual(read === "no answer" ? 0 : read.status, 403)
          // an allowed sender still may not send a JSON body over 64 KiB
          const body = Buffer.from(JSON.stringify({ reason: "b".repeat(1024 * 1024) }))
          const big = await rawRequest(s.url, yank(`Authorization: Bearer ${s.adminToken}\r\n`, body.length), body)
          assert.strictEqual(big === "no answer" ? 0 : big.status, 413)
          assert.match(detailOf(big), /64 KiB/)
          const ok = await fetch(`${s.url}/api/v1/registry/packages/big-body/1.0.0/yank`, {
            method: "POST",
            headers: { authorization: `Bearer ${s.adminToken}`, "content-type": "application/json" },
            body: JSON.stringify({ reason: "fine" })
          })
          assert.strictEqual(ok.status, 200)
        })))

    it.scoped("a search query of 3,500 words gets 400 with a detail; queries within the bounds answer", () =>
      Effect.flatMap(start(), (s) =>
        Effect.promise(async () => {
          await publishFixture(s.url, s.adminToken, { name: "searchable", version: "1.0.0" })
          const huge = Array.from({ length: 3_500 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(" ")
          // spaces as '+', as forms and most clients send them: 7 KB, within the URL limit (8 KiB)
          const res = await fetch(`${s.url}/api/v1/registry/packages/search?${new URLSearchParams({ q: huge })}`)
          assert.strictEqual(res.status, 400)
          assert.match((await res.json() as { detail: string }).detail, /search query/)
          const long = await fetch(`${s.url}/api/v1/registry/packages/search?q=${"x".repeat(1_000)}`)
          assert.strictEqual(long.status, 400)
          const fine = await fetch(`${s.url}/api/v1/registry/packages/search?q=search`)
          assert.strictEqual(fine.status, 200)
          assert.strictEqual((await fine.json() as { total_count: number }).total_count, 1)
        })))

    it.scoped("a request that arrives while the server starts is answered (200, or 503 with Retry-After)", () =>
      Effect.gen(function*() {
        const env = yield* storage
        const dataDir = yield* tempDir("fm-attack-start-")
        const port = yield* Effect.promise(freePort)
        const bundle = yield* Effect.promise(serverBundle)
        const args = [bundle, "start", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir, "--quiet"]
        let out = ""
        // the child is stopped (SIGTERM, SIGKILL after 5 s) when the test's scope closes
        const child = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const child = spawn(process.execPath, args, {
              env: { ...process.env, NO_COLOR: "1", ...env },
              stdio: ["ignore", "pipe", "pipe"]
            })
            child.stdout.on("data", (d: Buffer) => (out += d.toString()))
            child.stderr.on("data", (d: Buffer) => (out += d.toString()))
            return child
          }),
          (child) =>
            Effect.promise(async () => {
              if (child.exitCode !== null || child.signalCode !== null) return
              const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
              child.kill("SIGTERM")
              const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
              await exited
              clearTimeout(timer)
            })
        )
        yield* Effect.promise(async () => {
          // probe as fast as connections are refused, until the server says it listens
          const answers: Array<RawAnswer> = []
          const head = "GET /api/v1/registry/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
          const probes: Array<Promise<void>> = []
          const deadline = Date.now() + 60_000
          while (!out.includes("listening on") && Date.now() < deadline && child.exitCode === null) {
            const connected = await new Promise<boolean>((resolve) => {
              const s = net.connect(port, "127.0.0.1")
              s.once("connect", () => {
                s.destroy()
                resolve(true)
              })
              s.once("error", () => resolve(false))
            })
            if (connected) {
              for (let i = 0; i < 4; i++) {
                probes.push(
                  rawRequest(`http://127.0.0.1:${port}`, head, undefined, 10_000).then((a) => void answers.push(a))
                )
              }
            } else {
              await sleep(1)
            }
          }
          await Promise.all(probes)
          assert.match(out, /listening on/)
          assert.isAbove(answers.length, 0)
          for (const a of answers) {
            assert.notStrictEqual(a, "no answer")
            if (a !== "no answer" && a.status !== 200) {
              assert.strictEqual(a.status, 503)
              assert.match(a.headers["retry-after"], /^\d+$/)
            }
          }
        })
      }))

    it.scoped("a multipart upload without a boundary gets 400 with a detail, and no stack trace in the log", () =>
      Effect.flatMap(start({ logRequests: true }), (s) =>
        Effect.promise(async () => {
          const head = (length: number) =>
            `POST /api/v1/registry/packages/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${s.adminToken}\r\n` +
            `Content-Type: multipart/form-data\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`
          const body = Buffer.from(
            "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc\r\n--x--\r\n"
          )
          const answer = await rawRequest(s.url, head(body.length), body)
          assert.strictEqual(answer === "no answer" ? 0 : answer.status, 400)
          assert.match(detailOf(answer), /boundary/)
          await sleep(200)
          assert.notMatch(s.output(), /\n\s+at /)
        })))

    it.scoped("a gzip tar with an entry after its end-of-archive marker (../../x) is refused on upload", () =>
      Effect.flatMap(start(), (s) =>
        Effect.promise(async () => {
          const res = await uploadArchive(s.url, s.adminToken, tarAfterEnd("hidden-entry"), "hidden-entry-1.0.0.fmpkg")
          assert.strictEqual(res.status, 400)
          assert.match((await res.json() as { detail: string }).detail, /after the end of the tar archive/)
          assert.strictEqual((await fetch(`${s.url}/api/v1/registry/packages/hidden-entry`)).status, 404)
        })))

    it.scoped("data after a ZIP's end record or after a tar's end marker, other than zero padding, is refused on upload by the built fm", () =>
      Effect.flatMap(start({ builtFm: true }), (s) =>
        Effect.promise(async () => {
          const refused = async (archive: Buffer, name: string, reason: RegExp) => {
            const res = await uploadArchive(s.url, s.adminToken, archive, `${name}-1.0.0.fmpkg`)
            assert.strictEqual(res.status, 400, name)
            assert.match((await res.json() as { detail: string }).detail, reason)
            assert.strictEqual((await fetch(`${s.url}/api/v1/registry/packages/${name}`)).status, 404)
          }
          await refused(trailingData("zip-trailing").zip, "zip-trailing", /data after the end of the ZIP archive/)
          await refused(trailingData("tar-trailing").tar, "tar-trailing", /data after the end of the tar archive/)
          // zero padding after either end is allowed
          for (
            const [name, archive] of [["zip-padded", zeroPadded("zip-padded").zip], [
              "tar-padded",
              zeroPadded("tar-padded").tar
            ]] as const
          ) {
            const res = await uploadArchive(s.url, s.adminToken, archive, `${name}-1.0.0.fmpkg`)
            assert.strictEqual(res.status, 201, `${name}: ${await res.clone().text()}`)
          }
        })))

    it.scoped("under umask 022 the data dir is 0700 and every file in it 0600", () =>
      Effect.gen(function*() {
        // a data dir the server creates, and one that exists already with the umask's modes
        const parent = yield* tempDir("fm-attack-modes-")
        const existing = path.join(parent, "existing")
        fs.mkdirSync(existing, { mode: 0o755 })
        fs.chmodSync(existing, 0o755)
        const s3 = yield* S3
        for (const dataDir of [path.join(parent, "new", "data"), existing]) {
          yield* within(start({ umask: 0o022, dataDir }), async (s) => {
            await publishFixture(s.url, s.adminToken, { name: "modes-pkg", version: "1.0.0" })
            const found = modesUnder(s.dataDir)
            // on SQLite the database and the archive are files here (on PostgreSQL: directories only)
            if (backend === "sqlite") assert.isAbove(found.filter((f) => !f.dir).length, 2)
            if (s3 !== undefined) assert.isAbove((await s3.keys("attacks/blobs/")).length, 0)
            for (const f of found) {
              assert.deepStrictEqual({ path: f.path, mode: f.mode.toString(8) }, {
                path: f.path,
                mode: f.dir ? "700" : "600"
              })
            }
          })
        }
      }))

    it.scoped("SIGTERM stops the server within its grace period despite stalled clients; what was acknowledged is kept", () =>
      Effect.gen(function*() {
        const dataDir = yield* tempDir("fm-attack-stop-")
        const env = yield* storage
        const adminToken = yield* within(start({ dataDir }, env), async (first) => {
          await publishFixture(first.url, first.adminToken, { name: "kept-pkg", version: "1.0.0" })
          const publisher = await tokenFor(first, "publish")
          // a stalled upload (headers and a little of a 10 MiB body) and a stalled request line
          const upload =
            `POST /api/v1/registry/packages/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${publisher}\r\n` +
            `Content-Type: multipart/form-data; boundary=x\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`
          const stalled = [
            rawRequest(
              first.url,
              upload,
              Buffer.from("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nPK"),
              30_000
            ),
            rawRequest(first.url, "GET /api/v1/registry/hea", undefined, 30_000)
          ]
          await sleep(500)
          const pid = pidOf(first)
          const signalled = Date.now()
          process.kill(pid, "SIGTERM")
          while (isAlive(pid) && Date.now() - signalled < 30_000) await sleep(50)
          assert.isFalse(isAlive(pid))
          // the grace period is 5 s; the server must not wait on the stalled clients beyond it
          assert.isBelow(Date.now() - signalled, 15_000)
          await Promise.all(stalled)
          return first.adminToken
        })
        yield* within(start({ dataDir, adminToken }, env), async (again) => {
          assert.strictEqual((await fetch(`${again.url}/api/v1/registry/packages/kept-pkg`)).status, 200)
        })
      }))

    it.scoped("SIGTERM cuts idle, stalled and trickling connections at once; an upload that progresses gets its grace and is kept", () =>
      Effect.gen(function*() {
        const dataDir = yield* tempDir("fm-attack-restart-")
        const env = yield* storage
        const { adminToken, zip } = yield* within(start({ dataDir }, env), async (first) => {
          const publisher = await tokenFor(first, "publish")
          const uploadHead = (length: number, boundary: string) =>
            `POST /api/v1/registry/packages/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${publisher}\r\n` +
            `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${length}\r\n\r\n`
          // an honest upload of ~2 MiB sent at ~1.6 MiB/s: still arriving when the signal comes
          const zip = buildZip([
            { name: "manifest.json", data: projectManifest("progressing-pkg", "1.0.0") },
            { name: "data.bin", data: crypto.randomBytes(2 * 1024 * 1024), method: 0 }
          ])
          const body = Buffer.concat([
            Buffer.from(
              `--b\r\nContent-Disposition: form-data; name="file"; filename="p.fmpkg"\r\nContent-Type: application/octet-stream\r\n\r\n`
            ),
            zip,
            Buffer.from("\r\n--b--\r\n")
          ])
          const progressing = pacedRequest(first.url, uploadHead(body.length, "b"), body, {
            chunk: 16 * 1024,
            everyMs: 10,
            waitMs: 30_000
          })
          // a stalled upload, one that trickles a byte every 200 ms, a stalled request line, and an
          // idle keep-alive connection (a request answered, the connection left open)
          const stalled = rawRequest(first.url, uploadHead(1024 * 1024, "x"), Buffer.from("--x\r\n"), 30_000)
          const trickling = pacedRequest(first.url, uploadHead(1024 * 1024, "x"), Buffer.alloc(1024 * 1024, "a"), {
            chunk: 1,
            everyMs: 200,
            waitMs: 30_000
          })
          const headless = rawRequest(first.url, "GET /api/v1/registry/hea", undefined, 30_000)
          const idle = net.connect(Number(new URL(first.url).port), "127.0.0.1")
          const idleClosed = new Promise<number>((resolve) => idle.once("close", () => resolve(Date.now())))
          await new Promise<void>((resolve) => {
            idle.once("data", () => resolve())
            idle.write("GET /api/v1/registry/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
          })
          await sleep(300)
          const pid = pidOf(first)
          const signalled = Date.now()
          process.kill(pid, "SIGTERM")
          const answer = await progressing
          while (isAlive(pid) && Date.now() - signalled < 30_000) await sleep(20)
          const stoppedAfter = Date.now() - signalled
          assert.isFalse(isAlive(pid))
          // the idle keep-alive connection was closed before the honest upload was done
          assert.isBelow((await idleClosed) - signalled, stoppedAfter)
          // acknowledged: the upload that kept progressing was answered 201
          assert.strictEqual(answer === "no answer" ? "no answer" : answer.status, 201)
          // not held by the stalled and trickling clients for the 5 s grace period (the honest upload
          // needs about 1.3 s here, the stalled ones are cut within 0.1-0.2 s of the signal)
          assert.isBelow(stoppedAfter, 4_000)
          await Promise.all([stalled, trickling, headless])
          return { adminToken: first.adminToken, zip }
        })
        yield* within(start({ dataDir, adminToken }, env), async (again) => {
          const kept = await fetch(`${again.url}/api/v1/registry/packages/progressing-pkg/1.0.0/download`)
          assert.strictEqual(kept.status, 200)
          assert.strictEqual(Buffer.compare(Buffer.from(await kept.arrayBuffer()), zip), 0)
        })
      }))

    it.scoped("on --private, openapi.json and /docs need a read token", () =>
      Effect.flatMap(start({ private: true }), (s) =>
        Effect.promise(async () => {
          for (const p of ["/api/v1/registry/openapi.json", "/api/v1/registry/docs"]) {
            const anon = await fetch(`${s.url}${p}`)
            assert.strictEqual(anon.status, 401, p)
            assert.match((await anon.json() as { detail: string }).detail, /read/, p)
            const ok = await fetch(`${s.url}${p}`, { headers: { authorization: `Bearer ${s.adminToken}` } })
            assert.strictEqual(ok.status, 200, p)
            await ok.arrayBuffer()
          }
        })))
  })
}
