/**
 * End-to-end harness for the web UI: the real `fm studio start` (child process, SQLite + blobs in
 * a temp data dir; it mounts the UI through `WebUi.layer`), a read token created in its store, packages published through the real upload endpoint, and Debian's Chromium driven by
 * playwright-core.
 */
import type { Scope } from "effect"
import { Effect, Layer } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, chromium } from "playwright-core"
import { Auth } from "../../src/server/http/Auth.js"
import * as RegistryServer from "../../src/server/RegistryServer.js"
import { buildUi } from "../../src/ui/bundle.mjs"
import { buildZip, projectManifest } from "../helpers/archives.js"
import { flagSet } from "../helpers/env.js"
import { tempDir } from "../helpers/scoped.js"
import { acquireServer } from "../helpers/server.js"

/** Repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url))

/** Where the e2e run saves its screenshots (gitignored). */
export const SCREENSHOTS = path.join(ROOT, "screenshots")

/** A running registry with the UI (stopped when the scope it was acquired in closes). */
export interface UiServer {
  readonly url: string
  readonly dataDir: string
  readonly adminToken: string
  readonly readToken: string
}

/** The UI built once (per test file) into a temp dir, removed when the scope closes; its directory. */
export const acquireUiBuild: Effect.Effect<string, never, Scope.Scope> = Effect.gen(function*() {
  const dir = path.join(yield* tempDir("fm-ui-build-"), "ui")
  yield* Effect.promise(() => buildUi({ outDir: dir }))
  return dir
})

/**
 * `fm studio start` (a child process, via test/helpers/server.ts) on 127.0.0.1:0 in the current
 * scope, public or `--private`, serving the UI built in `uiDir` (`FM_UI_DIR`), with a read token
 * created in its data directory (a temp dir, removed with the scope) beforehand.
 */
export const acquireUiServer = (
  options: { readonly uiDir: string; readonly private: boolean }
): Effect.Effect<UiServer, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const dataDir = yield* tempDir("fm-ui-data-")
    const readToken = yield* Effect.gen(function*() {
      const auth = yield* Auth
      return (yield* auth.create({ name: "e2e-read", scope: "read" })).token
    }).pipe(Effect.provide(Auth.Default.pipe(Layer.provide(RegistryServer.storageLayer(dataDir)))), Effect.scoped)
    const server = yield* acquireServer({ dataDir, private: options.private, env: { FM_UI_DIR: options.uiDir } })
    return { url: server.url, dataDir, adminToken: server.adminToken, readToken }
  })

/** What to put in a fixture package's manifest.json. */
export interface FixtureSpec {
  readonly name: string
  readonly version: string
  readonly manifest?: Record<string, unknown>
  readonly components?: ReadonlyArray<string>
}

/** Builds a real `.fmpkg` (ZIP) for `spec`. */
export const fixtureArchive = (spec: FixtureSpec): Buffer => {
  const components = spec.components ?? []
  return buildZip([
    {
      name: "manifest.json",
      data: projectManifest(spec.name, spec.version, {
        ...spec.manifest,
        components: components.map((c) => `components/${c}.py`)
      })
    },
    ...components.map((c) => ({ name: `components/${c}.py`, data: `# ${c} of ${spec.name} ${spec.version}\n` })),
    { name: "pipelines/main.pipeline.json", data: JSON.stringify({ stages: [], v: spec.version }) }
  ])
}

/** Publishes through `POST /api/v1/registry/packages/upload` (multipart) and returns the checksum. */
export const publish = async (server: UiServer, spec: FixtureSpec): Promise<string> => {
  const bytes = fixtureArchive(spec)
  const checksum = crypto.createHash("sha256").update(bytes).digest("hex")
  const form = new FormData()
  form.append(
    "file",
    new Blob([new Uint8Array(bytes)], { type: "application/octet-stream" }),
    `${spec.name}-${spec.version}.fmpkg`
  )
  form.append("checksum", checksum)
  const res = await fetch(`${server.url}/api/v1/registry/packages/upload`, {
    method: "POST",
    body: form,
    headers: { Authorization: `Bearer ${server.adminToken}` }
  })
  if (res.status !== 201) {
    throw new Error(`publishing ${spec.name}@${spec.version} failed: ${res.status} ${await res.text()}`)
  }
  return checksum
}

/** Yanks a release through the API. */
export const yank = async (server: UiServer, name: string, version: string, reason: string): Promise<void> => {
  const res = await fetch(`${server.url}/api/v1/registry/packages/${name}/${version}/yank`, {
    method: "POST",
    body: JSON.stringify({ reason }),
    headers: { Authorization: `Bearer ${server.adminToken}`, "Content-Type": "application/json" }
  })
  if (!res.ok) throw new Error(`yanking ${name}@${version} failed: ${res.status} ${await res.text()}`)
}

/** The Chromium the browser tests drive: `$FM_CHROMIUM`, else Debian's `/usr/bin/chromium`. */
export const chromiumPath = (env: NodeJS.ProcessEnv = process.env): string => env["FM_CHROMIUM"] || "/usr/bin/chromium"

/**
 * Whether the browser tests run here: only when Chromium is installed. Without it they skip,
 * saying why in one line on stderr (`say`), unless `FM_REQUIRE_BROWSER` is set (CI): then this
 * throws, so a missing browser fails the run. The same policy as PostgreSQL (test/helpers/pg.ts).
 */
export const browserEnabled = (
  env: NodeJS.ProcessEnv = process.env,
  say: (line: string) => void = (line) => process.stderr.write(`${line}\n`)
): boolean => {
  const executable = chromiumPath(env)
  try {
    fs.accessSync(executable, fs.constants.X_OK)
    return true
  } catch {
    if (flagSet("FM_REQUIRE_BROWSER", env)) {
      throw new Error(
        `FM_REQUIRE_BROWSER is set but there is no Chromium at ${executable}: install it ` +
          "(apt-get install chromium, as .ci/run does) or point FM_CHROMIUM at one"
      )
    }
    say(
      `browser tests skipped: no Chromium at ${executable} (install chromium or set FM_CHROMIUM; ` +
        "FM_REQUIRE_BROWSER=1 makes this a failure)"
    )
    return false
  }
}

/** Launches Debian's Chromium headless (never downloads a browser). */
const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run"
    ]
  })

/** Debian's Chromium, headless (never downloads a browser), closed when the scope closes. */
export const acquireChromium: Effect.Effect<Browser, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() => launchChromium()),
  (browser) => Effect.promise(() => browser.close())
)

/** SHA-256 hex of a file. */
export const sha256File = (file: string): string =>
  crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex")
