/**
 * fm as another Effect app gets it: `npm pack` (of what `npm run build` built), installed with
 * `effect` at the pinned version into a scratch consumer project in a temp dir, from the npm cache
 * (`--prefer-offline`; only a package missing from the cache is fetched). There: a strict NodeNext
 * `tsc --noEmit` with `skipLibCheck: false` over the README's examples, plain `node` imports of
 * every entry point, one copy of `effect`, no database driver behind `fm/client`, and the examples
 * run: an app serving the registry API beside its own route, a client program searching and
 * installing from it, and (with PostgreSQL, same policy as test/helpers/pg.ts) the server layer on
 * PostgreSQL.
 *
 * Install scripts are skipped (`--ignore-scripts`): the one native module, better-sqlite3, gets
 * the binary this repository's `npm ci` built for the same version (compiling it again takes
 * minutes on a busy machine); a different version is rebuilt with `npm rebuild`.
 */
import { Effect, Layer, Schema } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { Auth } from "../../src/server/http/Auth.js"
import * as RegistryServer from "../../src/server/RegistryServer.js"
import * as SqlitePackageStore from "../../src/server/storage/SqlitePackageStore.js"
import { spawnReady } from "../helpers/child.js"
import { createTestDatabase, pgEnabled } from "../helpers/pg.js"
import { publishFixture } from "../helpers/server.js"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const run = promisify(execFile)
const EXAMPLES = ["client.ts", "promise.ts", "app.ts", "postgres.ts"] as const

/** The environment for child npm/node processes: without the `npm_*` variables of `npm test`. */
const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_"))),
  NO_COLOR: "1",
  ...extra
})

const PackageVersion = Schema.parseJson(Schema.Struct({ version: Schema.String }))
const installedVersion = (dir: string, pkg: string): string =>
  Schema.decodeUnknownSync(PackageVersion)(fs.readFileSync(path.join(dir, "node_modules", pkg, "package.json"), "utf8"))
    .version

/** What `npm pack --json` prints for one package. */
const PackOutput = Schema.parseJson(
  Schema.Tuple(Schema.Struct({ filename: Schema.String, files: Schema.Array(Schema.Struct({ path: Schema.String })) }))
)

const newestMtime = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .reduce((m, e) => Math.max(m, fs.statSync(path.join(e.parentPath, e.name)).mtimeMs), 0)

const npm = (args: ReadonlyArray<string>, cwd: string) =>
  run("npm", [...args], { cwd, env: childEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 150_000 })

const node = (args: ReadonlyArray<string>, cwd: string, timeout = 60_000) =>
  run(process.execPath, [...args], { cwd, env: childEnv(), timeout }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? ""
    })
  )

/** Runs an example that serves HTTP until stopped; ready once it logs its address. */
const start = (file: string, env: Record<string, string>) =>
  spawnReady([file], {
    cwd: consumer,
    env: childEnv({ PORT: "0", ...env }),
    ready: /Listening on (http:\/\/127\.0\.0\.1:\d+)/,
    what: file,
    timeoutMs: 30_000,
    killAfterMs: 10_000
  })

let scratch: string
let consumer: string
let packed: ReadonlyArray<string>
/** The consumer's `tsc --noEmit`, started once installed (it runs beside the other tests). */
let typecheck: Promise<{ readonly code: number; readonly stdout: string; readonly stderr: string }>

beforeAll(async () => {
  const built = path.join(ROOT, "build", "index.js")
  if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < newestMtime(path.join(ROOT, "src"))) {
    throw new Error("build/ is missing or older than src/: run `npm run build` first (`npm test` does)")
  }
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "fm-consumer-"))
  consumer = path.join(scratch, "app")
  fs.mkdirSync(path.join(consumer, "src"), { recursive: true })

  // `npm test` has just built build/ and dist/; the prepare script would rebuild dist/ under the
  // CLI tests running beside this file
  const pack = await npm(["pack", "--ignore-scripts", "--json", "--pack-destination", scratch], ROOT)
  const [info] = Schema.decodeUnknownSync(PackOutput)(pack.stdout)
  packed = info.files.map((f) => f.path)

  const pinned = (pkg: string) => installedVersion(ROOT, pkg)
  fs.writeFileSync(
    path.join(consumer, "package.json"),
    JSON.stringify(
      {
        name: "fm-consumer",
        private: true,
        type: "module",
        dependencies: {
          fm: `file:${path.join(scratch, info.filename)}`,
          effect: pinned("effect"),
          "@effect/platform": pinned("@effect/platform"),
          "@effect/platform-node": pinned("@effect/platform-node")
        },
        devDependencies: { "@types/node": pinned("@types/node") }
      },
      null,
      2
    )
  )
  fs.writeFileSync(
    path.join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        module: "NodeNext",
        moduleResolution: "NodeNext",
        target: "ES2022",
        // @effect/platform's own declarations name DOM types (Storage, Transferable, ...)
        lib: ["ES2022", "DOM", "DOM.Iterable"],
        types: ["node"],
        skipLibCheck: false,
        noEmit: true
      },
      include: ["src"]
    })
  )
  for (const f of EXAMPLES) fs.copyFileSync(path.join(ROOT, "examples", f), path.join(consumer, "src", f))
  await npm(
    ["install", "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
    consumer
  )

  const sqlite = path.join("node_modules", "better-sqlite3")
  if (installedVersion(consumer, "better-sqlite3") === installedVersion(ROOT, "better-sqlite3")) {
    const release = path.join(sqlite, "build", "Release")
    fs.mkdirSync(path.join(consumer, release), { recursive: true })
    fs.copyFileSync(
      path.join(ROOT, release, "better_sqlite3.node"),
      path.join(consumer, release, "better_sqlite3.node")
    )
  } else {
    await npm(["rebuild", "better-sqlite3"], consumer)
  }

  typecheck = node(
    [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", "tsconfig.json"],
    consumer,
    170_000
  )

  // the examples as plain JavaScript next to their sources (types stripped, nothing bundled)
  const esbuild = await import("esbuild")
  for (const f of EXAMPLES) {
    const source = fs.readFileSync(path.join(consumer, "src", f), "utf8")
    const js = await esbuild.transform(source, { loader: "ts", format: "esm", target: "node20" })
    fs.writeFileSync(path.join(consumer, f.replace(/\.ts$/, ".js")), js.code)
  }
}, 240_000)

afterAll(() => {
  if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true })
})

describe("fm installed from its tarball into another project", () => {
  it("the tarball holds the library, its declarations and maps, the CLI bundle, README and LICENSE, nothing else", () => {
    const allowed = [
      /^package\.json$/,
      /^README\.md$/,
      /^LICENSE$/,
      /^build\/.+\.(js|js\.map|d\.ts|d\.ts\.map)$/,
      /^src\/(api|archive|client|domain|resolver|server|shared)\/.+\.ts$/,
      /^src\/index\.ts$/,
      /^dist\/(fm\.js|package\.json|cli-[A-Z0-9]+\.cjs|cli-[A-Z0-9]+\.cjs\.LEGAL\.txt|swagger-ui\.json)$/,
      /^dist\/ui\//
    ]
    const stray = packed.filter((f) => !allowed.some((re) => re.test(f)))
    assert.deepStrictEqual(stray, [])
    for (
      const f of [
        "LICENSE",
        "README.md",
        "build/index.js",
        "build/index.d.ts",
        "build/index.d.ts.map",
        "dist/fm.js",
        "dist/swagger-ui.json" // the docs page's Swagger UI, read by the bundle (esbuild.config.mjs)
      ]
    ) {
      assert.include(packed, f)
    }
    for (const entry of ["client", "server", "archive"]) assert.include(packed, `build/${entry}/index.d.ts`)
    assert.isFalse(packed.some((f) => f.startsWith("src/cli/") || f.startsWith("src/ui/")))
    assert.isTrue(packed.some((f) => /^dist\/cli-[A-Z0-9]+\.cjs$/.test(f)))
  })

  it("the CLI bundle in the package runs on its own", async () => {
    const r = await node([path.join("node_modules", "fm", "dist", "fm.js"), "--version"], consumer)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(
      r.stdout,
      Schema.decodeUnknownSync(PackageVersion)(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version
    )
  })

  it("exactly one copy of effect is installed", async () => {
    const ls = await npm(["ls", "effect", "--all", "--parseable"], consumer)
    const copies = new Set(ls.stdout.split("\n").filter((l) => l.trim() !== ""))
    assert.deepStrictEqual([...copies], [path.join(consumer, "node_modules", "effect")])
    // and on disk: no nested node_modules/effect anywhere
    const nested = fs.readdirSync(path.join(consumer, "node_modules"), { recursive: true, encoding: "utf8" })
      .filter((p) => p.endsWith(`node_modules${path.sep}effect`))
    assert.deepStrictEqual(nested, [])
    assert.strictEqual(installedVersion(consumer, "effect"), installedVersion(ROOT, "effect"))
  })

  it("plain node imports fm, fm/client, fm/server and fm/archive, and importing them hooks nothing into the process", async () => {
    // dynamic imports, so the listeners present before them can be counted
    const script = [
      "const hooks = () => [\"exit\", \"beforeExit\", \"SIGINT\", \"SIGTERM\"].map((e) => process.listenerCount(e))",
      "const before = hooks()",
      "const fm = await import(\"fm\")",
      "const client = await import(\"fm/client\")",
      "const server = await import(\"fm/server\")",
      "const archive = await import(\"fm/archive\")",
      "console.log(JSON.stringify({",
      "  fm: typeof fm.getRemoteRegistry, client: typeof client.ClientServicesLive,",
      "  server: typeof server.RegistryServer.layer, archive: typeof archive.PackageArchive.PackageArchive,",
      "  noServerInFm: !(\"RegistryServer\" in fm),",
      "  processHooksAdded: hooks().map((n, i) => n - before[i])",
      "}))"
    ].join("\n")
    fs.writeFileSync(path.join(consumer, "imports.mjs"), script)
    const r = await node(["imports.mjs"], consumer)
    assert.strictEqual(r.code, 0, r.stderr)
    assert.deepStrictEqual(JSON.parse(r.stdout), {
      fm: "function",
      client: "object",
      server: "function",
      archive: "function",
      noServerInFm: true,
      processHooksAdded: [0, 0, 0, 0]
    })
  })

  it("importing fm/client (or fm, or fm/archive) resolves no database driver; fm/server does", async () => {
    // a module resolve hook that fails any import of a database driver or the SQL layer
    const hook = "export async function resolve(specifier, context, next) {\n" +
      "  if (/^(better-sqlite3|pg|pg-native|postgres|@effect\\/sql(-[a-z]+)?)(\\/|$)/.test(specifier)) {\n" +
      "    throw new Error(`database driver resolved: ${specifier} (from ${context.parentURL})`)\n" +
      "  }\n" +
      "  return next(specifier, context)\n" +
      "}\n"
    fs.writeFileSync(path.join(consumer, "no-drivers-hooks.mjs"), hook)
    fs.writeFileSync(
      path.join(consumer, "no-drivers.mjs"),
      "import { register } from \"node:module\"\nregister(\"./no-drivers-hooks.mjs\", import.meta.url)\n"
    )
    const load = (entry: string) =>
      node(
        ["--import", "./no-drivers.mjs", "--input-type=module", "-e", `await import(${JSON.stringify(entry)})`],
        consumer
      )
    for (const entry of ["fm/client", "fm", "fm/archive"]) {
      const r = await load(entry)
      assert.strictEqual(r.code, 0, `${entry}: ${r.stderr}`)
    }
    const server = await load("fm/server")
    assert.notStrictEqual(server.code, 0)
    assert.include(server.stderr, "database driver resolved")
  })

  it(
    "an app serves its own route beside the registry API; the client examples (Effect, promises) search and install from it",
    async () => {
      const dataDir = path.join(scratch, "registry-data")
      const home = path.join(scratch, "flowmason-home")
      fs.mkdirSync(dataDir)
      const token = `fmr_consumer${Date.now()}`
      await Effect.runPromise(
        Effect.flatMap(Auth, (auth) => auth.bootstrap(token)).pipe(
          Effect.provide(
            Auth.Default.pipe(Layer.provide(SqlitePackageStore.layer(RegistryServer.databaseFile(dataDir))))
          )
        )
      )
      const app = await start("app.js", { DATA_DIR: dataDir })
      try {
        const own = await fetch(`${app.ready}/hello`)
        assert.strictEqual(own.status, 200)
        assert.strictEqual(await own.text(), "hello from my app")
        await publishFixture(app.ready, token, { name: "hello-flow", version: "1.0.0", files: { "flow.json": "{}" } })
        const meta = await fetch(`${app.ready}/api/v1/registry/packages/hello-flow`)
        assert.strictEqual(meta.status, 200, await meta.clone().text())

        const r = await run(process.execPath, ["client.js"], {
          cwd: consumer,
          env: childEnv({ REGISTRY_URL: app.ready, FLOWMASON_HOME: home }),
          timeout: 60_000
        })
        assert.include(r.stdout, "found hello-flow on team")
        const dir = /installed hello-flow@1\.0\.0 in (.+)$/m.exec(r.stdout)?.[1]
        assert.isDefined(dir, r.stdout + r.stderr)
        assert.isTrue(fs.existsSync(path.join(dir ?? "", "flow.json")), `${dir} holds no flow.json`)
        assert.isTrue(dir?.startsWith(home), `installed outside FLOWMASON_HOME: ${dir}`)

        const home2 = path.join(scratch, "flowmason-home-2")
        const p = await run(process.execPath, ["promise.js"], {
          cwd: consumer,
          env: childEnv({ REGISTRY_URL: app.ready, FLOWMASON_HOME: home2 }),
          timeout: 60_000
        })
        assert.include(p.stdout, "hello-flow v1.0.0 on primary")
        const file = /^installed (.+)$/m.exec(p.stdout)?.[1]
        assert.isDefined(file, p.stdout + p.stderr)
        assert.isTrue(file?.startsWith(home2) === true && fs.existsSync(file), `no installed archive at ${file}`)
      } finally {
        await app.stop()
      }
    },
    120_000
  )

  it("the server layer runs on PostgreSQL (skipped only without PostgreSQL and FM_REQUIRE_POSTGRES)", async (ctx) => {
    if (!(await pgEnabled())) {
      ctx.skip()
      return
    }
    const db = await createTestDatabase("consumer")
    const dataDir = path.join(scratch, "pg-data")
    fs.mkdirSync(dataDir)
    try {
      const server = await start("postgres.js", { DATABASE_URL: db.url, DATA_DIR: dataDir })
      try {
        const health = await fetch(`${server.ready}/api/v1/registry/health`)
        assert.strictEqual(health.status, 200, await health.clone().text())
        const search = await fetch(`${server.ready}/api/v1/registry/packages/search?q=anything`)
        assert.strictEqual(search.status, 200, await search.clone().text())
        assert.isFalse(fs.existsSync(path.join(dataDir, "registry.db")), "the server opened SQLite, not PostgreSQL")
      } finally {
        await server.stop()
      }
    } finally {
      await db.drop()
    }
  }, 120_000)

  it("the README shows the examples this test runs, verbatim", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8")
    for (const f of EXAMPLES) {
      const source = fs.readFileSync(path.join(ROOT, "examples", f), "utf8")
      assert.include(readme, "```ts\n" + source + "```", `README.md does not show examples/${f} as it is`)
    }
  })

  it("a strict NodeNext `tsc --noEmit` with skipLibCheck: false passes over the examples", async () => {
    const r = await typecheck
    assert.strictEqual(r.code, 0, r.stdout + r.stderr)
  }, 180_000)
})
