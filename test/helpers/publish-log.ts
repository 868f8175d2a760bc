/**
 * Helpers of the publish-log tests on the built `fm`: a throwaway home and working directory, the
 * origin of the log key recorded for a registry, counting a server's log requests, and the check
 * that a failure names the registry and the log and installed nothing.
 */
import { assert } from "@effect/vitest"
import type { Scope } from "effect"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { FmResult } from "./cli.js"
import { runFm } from "./cli.js"
import { tempDir, within } from "./scoped.js"
import type { ScopedServer } from "./server.js"
import { acquireServer, fixtureArchive, publishFixture } from "./server.js"

/** A temp root with `home` and `cwd` (removed when the scope closes), and `fm` run there (`env` added). */
export const logSetup = (env: Readonly<Record<string, string>> = {}) =>
  Effect.map(tempDir("fm-log-"), (root) => {
    const home = path.join(root, "home")
    const cwd = path.join(root, "cwd")
    fs.mkdirSync(home)
    fs.mkdirSync(cwd)
    return {
      root,
      home,
      cwd,
      fm: (args: ReadonlyArray<string>, dir: string = cwd): Promise<FmResult> => runFm(args, { home, cwd: dir, env })
    }
  })

/** The origin of the log key registries.json records for `registry`. */
export const recordedOrigin = (home: string, registry = "r"): string => {
  const file = JSON.parse(fs.readFileSync(path.join(home, "registries.json"), "utf8")) as {
    registries: Array<{ name: string; log_key?: string }>
  }
  const key = file.registries.find((r) => r.name === registry)?.log_key ?? ""
  return key.split("+")[0] ?? ""
}

/** How many requests the server logged under `/api/v1/registry/log/` (start it with `logRequests`). */
export const logRequests = (server: Pick<ScopedServer, "output">): number =>
  server.output().split("\n").filter((l) => l.includes("/api/v1/registry/log/")).length

/** A fresh PKCS#8 PEM Ed25519 key file in `dir`. */
export const logKeyFile = (dir: string): string => {
  const file = path.join(dir, "log.pem")
  const pem = crypto.generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString()
  fs.writeFileSync(file, pem, { mode: 0o600 })
  return file
}

/** The command failed, naming registry `r` and the log `origin`, with `reason`. */
export const assertLogFailure = (result: FmResult, origin: string, reason: RegExp): void => {
  assert.notStrictEqual(result.code, 0, result.stdout + result.stderr)
  assert.include(result.stderr, "registry r")
  assert.include(result.stderr, origin)
  assert.match(result.stderr, reason)
}

/** Writes a project file depending on `dependencies` in `dir`. */
export const writeProject = (dir: string, dependencies: Record<string, string>): void => {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ name: "demo", version: "1.0.0", dependencies }))
}

/**
 * Behind a stopped server's back: other bytes (and their checksum and size) for a published
 * `name@version` in its SQLite store and blob directory. The log is left as it was.
 */
export const editStoredRelease = (dataDir: string, name: string, version: string): void => {
  const other = fixtureArchive({ name, version, files: { "README.md": "# evil\n" } })
  const sha = crypto.createHash("sha256").update(other).digest("hex")
  fs.mkdirSync(path.join(dataDir, "blobs", sha.slice(0, 2)), { recursive: true })
  fs.writeFileSync(path.join(dataDir, "blobs", sha.slice(0, 2), sha), other)
  execFileSync("sqlite3", [
    path.join(dataDir, "registry.db"),
    `UPDATE releases SET checksum = '${sha}', size_bytes = ${other.length} WHERE name_norm = '${name}' AND version = '${version}'`
  ])
}

/** The registry of {@link forkableRegistry}: each server is to be acquired in a scope of its own ({@link within}). */
export interface ForkableRegistry {
  /** The admin token of every server below. */
  readonly token: string
  /** A server on the store as it is now (both releases published). */
  readonly serve: Effect.Effect<ScopedServer, unknown, Scope.Scope>
  /** A server on the snapshot (a smaller tree, same key), copied over the store. */
  readonly rollBack: Effect.Effect<ScopedServer, unknown, Scope.Scope>
  /** A server on a fresh store (same key). */
  readonly fork: Effect.Effect<ScopedServer, unknown, Scope.Scope>
}

/**
 * The fork and rollback scenario: a server with a pinned log key publishes `first` and stops, its
 * store is copied (the snapshot), and it is restarted to publish `second` and stops. The servers
 * of the answer run on that store, the snapshot or a fresh store, all with the same key.
 */
export const forkableRegistry = (
  root: string,
  first: { readonly name: string; readonly version: string },
  second: { readonly name: string; readonly version: string }
): Effect.Effect<ForkableRegistry, unknown> =>
  Effect.gen(function*() {
    const dataDir = path.join(root, "data")
    const snapshot = path.join(root, "snapshot")
    const args = ["--log-key", logKeyFile(root)]
    const token = yield* within(acquireServer({ dataDir, args }), async (server) => {
      await publishFixture(server.url, server.adminToken, first)
      return server.adminToken
    })
    fs.cpSync(dataDir, snapshot, { recursive: true })
    const serve = acquireServer({ dataDir, args, adminToken: token })
    yield* within(serve, (server) => publishFixture(server.url, token, second))
    return {
      token,
      serve,
      rollBack: Effect.zipRight(
        Effect.sync(() => {
          fs.rmSync(dataDir, { recursive: true, force: true })
          fs.cpSync(snapshot, dataDir, { recursive: true })
        }),
        serve
      ),
      fork: acquireServer({ dataDir: path.join(root, "fresh"), args, adminToken: token })
    }
  })
