/**
 * Real registry servers for tests: `acquireServer` runs `fm studio start` on 127.0.0.1, port 0, with
 * a real SQLite file in a temp data dir, in the current scope, either as a child process (default;
 * the same command tree as `fm studio`, from a bundle of src/cli/StudioMain.ts built once per test
 * process) or in-process (`inProcess: true`, faster, no pid). `TestServer.layer` is one for a whole
 * `@effect/vitest` file; `startServer` is the same server for the benchmark scripts, written with
 * promises. `publishFixture` packs a package and uploads it.
 */
import { HttpServer } from "@effect/platform"
import type { Scope } from "effect"
import { Context, Effect, Layer, ManagedRuntime } from "effect"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Auth } from "../../src/server/http/Auth.js"
import * as RegistryServer from "../../src/server/RegistryServer.js"
import * as Storage from "../../src/server/selection/Storage.js"
import { PackageStore } from "../../src/server/storage/PackageStore.js"
import { buildZip, projectManifest } from "./archives.js"
import { spawnReady } from "./child.js"
import { fmBin } from "./cli.js"
import { tempDir, using } from "./scoped.js"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Data directory to use (kept on stop); default a fresh temp dir (removed on stop). */
  readonly dataDir?: string
  readonly private?: boolean
  readonly publicUrl?: string
  readonly trustProxy?: boolean
  /** Bytes. */
  readonly maxUploadSize?: number
  /** Admin token to register (FM_ADMIN_TOKEN); default a random one. */
  readonly adminToken?: string
  /** Run inside the test process instead of a child process. */
  readonly inProcess?: boolean
  /** Extra environment for the child process. */
  readonly env?: Record<string, string>
  /** Log one line per request (child: captured in `output()`); default false. */
  readonly logRequests?: boolean
  /** `postgres://...` (`--database-url`); default `$FM_DATABASE_URL`, else SQLite in the data dir. */
  readonly databaseUrl?: string
  /** Shared archive directory (`--blob-dir`). */
  readonly blobDir?: string
  /** The child's umask (child-process mode only); default this process's. */
  readonly umask?: number
  /** Extra `fm studio start` arguments (child-process mode only). */
  readonly args?: ReadonlyArray<string>
  /** Run the built CLI, `node dist/fm.js studio start`, instead of the test bundle (child-process mode only). */
  readonly builtFm?: boolean
}

/** A running registry server. */
export interface RunningServer {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string
  readonly dataDir: string
  /** A token with scope `admin`. */
  readonly adminToken: string
  /** The child's pid (child-process mode only). */
  readonly pid?: number
  /** Everything the child printed so far (stdout + stderr). */
  readonly output: () => string
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes a temp data dir (the one of `startServer`). */
  readonly stop: () => Promise<void>
}

let bundlePromise: Promise<string> | undefined

/** Bundles src/cli/StudioMain.ts once per test process (fast start-up for child servers). */
export const serverBundle = (): Promise<string> => {
  if (bundlePromise === undefined) {
    bundlePromise = (async () => {
      const esbuild = await import("esbuild")
      const dir = path.join(ROOT, ".tmp")
      fs.mkdirSync(dir, { recursive: true })
      const built = await esbuild.build({
        entryPoints: [path.join(ROOT, "src/cli/StudioMain.ts")],
        write: false,
        bundle: true,
        format: "esm",
        platform: "node",
        target: "node20",
        external: ["better-sqlite3", "@parcel/watcher", "pg-native", "playwright-core", "autocannon", "pg"],
        banner: {
          js:
            "import { createRequire as __fmCreateRequire } from 'node:module'; const require = __fmCreateRequire(import.meta.url);"
        },
        logLevel: "error"
      })
      const code = built.outputFiles[0]!.contents
      // content-addressed: the same sources give the same file, shared by test processes
      const out = path.join(dir, `fm-studio-${crypto.createHash("sha256").update(code).digest("hex").slice(0, 16)}.mjs`)
      if (!fs.existsSync(out)) {
        const tmp = `${out}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`
        fs.writeFileSync(tmp, code)
        fs.renameSync(tmp, out)
      }
      return out
    })()
  }
  return bundlePromise
}

/**
 * Storage of an in-process server: SQLite in the data dir, or PostgreSQL (`databaseUrl`, else
 * $FM_DATABASE_URL); archives in `blobDir`, else in S3 when $FM_BLOB_URL is set (as the child reads it).
 */
const inProcessStorage = (dataDir: string, options: StartServerOptions) => {
  const databaseUrl = options.databaseUrl ?? (process.env.FM_DATABASE_URL || undefined)
  const blobUrl = options.blobDir === undefined ? process.env.FM_BLOB_URL || undefined : undefined
  return databaseUrl === undefined && options.blobDir === undefined && blobUrl === undefined
    ? RegistryServer.storageLayer(dataDir)
    : Storage.layer({ dataDir, databaseUrl, blobDir: options.blobDir, blobUrl })
}

const makeToken = () => `fmr_test${crypto.randomBytes(24).toString("base64url")}`

/** A registry server that stops when the scope it was acquired in closes ({@link acquireServer}). */
export type ScopedServer = Omit<RunningServer, "stop">

/** The registry's layers built in the current scope, with the admin token registered. */
const inProcessServer = (options: StartServerOptions, dataDir: string, adminToken: string) =>
  Effect.gen(function*() {
    const ctx = yield* Layer.build(
      RegistryServer.serve(
        {
          dataDir,
          port: 0,
          host: "127.0.0.1",
          private: options.private ?? false,
          publicUrl: options.publicUrl,
          trustProxy: options.trustProxy ?? false,
          ...(options.maxUploadSize === undefined ? {} : { maxUploadSize: options.maxUploadSize }),
          logRequests: options.logRequests ?? false
        },
        undefined,
        inProcessStorage(dataDir, options)
      )
    )
    const store = Context.get(ctx, PackageStore)
    const auth = yield* Effect.provide(Auth, Auth.Default.pipe(Layer.provide(Layer.succeed(PackageStore, store))))
    yield* auth.bootstrap(adminToken)
    const url = RegistryServer.listeningUrl(Context.get(ctx, HttpServer.HttpServer))
    return { url, dataDir, adminToken, output: () => "" } satisfies ScopedServer
  })

/**
 * Starts a real registry server on 127.0.0.1 (random port) in the current scope: it stops, and a
 * temp data dir is removed, when the scope closes. Use it in `it.scoped`/`it.scopedLive` or in a
 * layer given to `layer(...)`.
 */
export const acquireServer = (options: StartServerOptions = {}): Effect.Effect<ScopedServer, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const dataDir = options.dataDir ?? (yield* tempDir("fm-registry-"))
    const adminToken = options.adminToken ?? makeToken()
    if (options.inProcess === true) return yield* inProcessServer(options, dataDir, adminToken)
    const { stop: _stop, ...running } = yield* Effect.acquireRelease(
      Effect.promise(() => startChild(options, dataDir, adminToken)),
      (server) => Effect.promise(() => server.stop())
    )
    return running
  })

/** The pid of a child-process server (an in-process one has none: that is an error of the test). */
export const pidOf = (server: Pick<ScopedServer, "pid" | "url">): number => {
  if (server.pid === undefined) throw new Error(`the server at ${server.url} runs in this process: it has no pid`)
  return server.pid
}

/** One registry server for a whole test file: `layer(TestServer.layer(options))(...)`. */
export class TestServer extends Context.Tag("test/TestServer")<TestServer, ScopedServer>() {
  /** The server of {@link acquireServer}, built once for the tests that share the layer. */
  static readonly layer = (options: StartServerOptions = {}) => Layer.scoped(TestServer, acquireServer(options))
  /** {@link TestServer.layer} with `seed` run once on the started server (publishing fixtures, ...). */
  static readonly seeded = (options: StartServerOptions, seed: (server: ScopedServer) => Promise<unknown>) =>
    Layer.scoped(TestServer, Effect.tap(acquireServer(options), (server) => Effect.promise(() => seed(server))))
}

/**
 * A test body written with promises, run against the file's {@link TestServer}:
 * `it.effect("...", () => withServer(async (server) => { ... }))` inside `layer(TestServer.layer(...))`.
 * A rejection (a failed `assert`) fails the test with that error.
 */
export const withServer = <A>(body: (server: ScopedServer) => Promise<A>): Effect.Effect<A, never, TestServer> =>
  using(TestServer, body)

/**
 * Starts a real registry server on 127.0.0.1 (random port) for scripts written with promises (the
 * benchmarks; tests use {@link acquireServer}): the server of {@link acquireServer} held by a
 * runtime of its own, which `stop()` disposes.
 */
export const startServer = async (options: StartServerOptions = {}): Promise<RunningServer> => {
  const runtime = ManagedRuntime.make(TestServer.layer(options))
  const running = await runtime.runPromise(TestServer).catch(async (e: unknown) => {
    await runtime.dispose()
    throw e
  })
  return { ...running, stop: () => runtime.dispose() }
}

/** `fm studio start` as a child process on `dataDir` (kept when it stops). */
const startChild = async (options: StartServerOptions, dataDir: string, adminToken: string): Promise<RunningServer> => {
  const command = options.builtFm === true ? [fmBin(), "studio"] : [await serverBundle()]
  const args = [...command, "start", "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir]
  if (options.private === true) args.push("--private")
  if (options.trustProxy === true) args.push("--trust-proxy")
  if (options.publicUrl !== undefined) args.push("--public-url", options.publicUrl)
  if (options.maxUploadSize !== undefined) args.push("--max-upload-size", String(options.maxUploadSize))
  if (options.logRequests !== true) args.push("--quiet")
  if (options.databaseUrl !== undefined) args.push("--database-url", options.databaseUrl)
  if (options.blobDir !== undefined) args.push("--blob-dir", options.blobDir)
  for (const a of options.args ?? []) args.push(a)
  const child = await spawnReady(args, {
    ...(options.umask === undefined ? {} : { umask: options.umask }),
    cwd: ROOT,
    env: { ...process.env, FM_ADMIN_TOKEN: adminToken, NO_COLOR: "1", ...options.env },
    ready: /listening on (http:\/\/[^\s]+)/,
    what: "registry server",
    timeoutMs: 60_000,
    killAfterMs: 5_000
  })
  return { url: child.ready, dataDir, adminToken, pid: child.pid, output: child.output, stop: child.stop }
}

/** What {@link publishFixture} packs. */
export interface FixtureSpec {
  readonly name: string
  readonly version: string
  /** Registry dependencies: name -> range. */
  readonly deps?: Record<string, string>
  /** Extra files (path -> content) besides the manifest. */
  readonly files?: Record<string, string | Uint8Array>
  /** Extra manifest fields (description, tags, category, ...). */
  readonly manifest?: Record<string, unknown>
}

/** Packs a ZIP `.fmpkg` (project dialect, manifest.json) in memory. */
export const fixtureArchive = (spec: FixtureSpec): Buffer =>
  buildZip([
    {
      name: "manifest.json",
      data: projectManifest(spec.name, spec.version, { dependencies: spec.deps ?? {}, ...spec.manifest })
    },
    ...Object.entries(spec.files ?? { "README.md": `# ${spec.name}\n` }).map(([name, data]) => ({ name, data }))
  ])

/** Uploads archive bytes as FlowMason's client does (multipart `file` + `checksum`). */
export const uploadArchive = async (
  url: string,
  token: string | undefined,
  archive: Uint8Array,
  filename = "package.fmpkg",
  checksum: string | undefined = crypto.createHash("sha256").update(archive).digest("hex")
): Promise<Response> => {
  const form = new FormData()
  form.append("file", new Blob([Buffer.from(archive)], { type: "application/octet-stream" }), filename)
  if (checksum !== undefined) form.append("checksum", checksum)
  return fetch(`${url}/api/v1/registry/packages/upload`, {
    method: "POST",
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    body: form
  })
}

/** Packs and uploads a package; resolves to the server's package object (throws on non-2xx). */
export const publishFixture = async (
  url: string,
  token: string,
  spec: FixtureSpec
): Promise<Record<string, unknown>> => {
  const archive = fixtureArchive(spec)
  const res = await uploadArchive(url, token, archive, `${spec.name}-${spec.version}.fmpkg`)
  const body = await res.text()
  if (!res.ok) throw new Error(`publish ${spec.name}@${spec.version}: ${res.status} ${body}`)
  return JSON.parse(body) as Record<string, unknown>
}

/** Runs the `fm studio` command tree (bundled) with `args`; resolves to stdout (throws on exit ≠ 0). */
export const runStudio = async (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<string> => {
  const bundle = await serverBundle()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.stderr.on("data", (d: Buffer) => (err += d.toString()))
    child.once(
      "exit",
      (code) =>
        code === 0 ? resolve(out) : reject(new Error(`fm studio ${args.join(" ")} exited ${code}: ${err}${out}`))
    )
  })
}

/** Creates a token on a data dir with `fm studio token create`; resolves to the secret. */
export const createToken = async (
  dataDir: string,
  scope: "read" | "publish" | "admin",
  options: {
    readonly name?: string
    readonly expiresIn?: string
    /** Extra environment of the command (the storage it opens: `FM_DATABASE_URL`, `FM_BLOB_URL`, ...). */
    readonly env?: Record<string, string>
  } = {}
): Promise<string> => {
  const args = ["token", "create", "--scope", scope, "--data-dir", dataDir, "--json"]
  if (options.name !== undefined) args.push("--name", options.name)
  if (options.expiresIn !== undefined) args.push("--expires-in", options.expiresIn)
  const out = JSON.parse(await runStudio(args, options.env)) as { token: string }
  return out.token
}
