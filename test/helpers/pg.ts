/**
 * PostgreSQL for tests: the real server at 127.0.0.1:5432 (user `postgres`, trust auth; override
 * with `FM_TEST_PG_URL`). Each test file creates its own uniquely named database and drops it after
 * (terminating leftover connections first).
 *
 * Skipping: a PostgreSQL test may skip only when no PostgreSQL is reachable AND
 * `FM_REQUIRE_POSTGRES` is unset. CI sets `FM_REQUIRE_POSTGRES=1`; then an unreachable server
 * is a failure, never a skip.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { PgClient } from "@effect/sql-pg"
import type { Scope } from "effect"
import { Duration, Effect, Redacted } from "effect"
import * as crypto from "node:crypto"
import { flagSet } from "./env.js"

/** The maintenance database URL tests connect to for CREATE/DROP DATABASE. */
export const PG_ADMIN_URL = process.env["FM_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"

/** Whether CI demands PostgreSQL (then "unreachable" fails instead of skipping). */
export const pgRequired = (): boolean => flagSet("FM_REQUIRE_POSTGRES")

/** A database URL with its database name replaced. */
export const pgUrlFor = (database: string, base: string = PG_ADMIN_URL): string => {
  const u = new URL(base)
  u.pathname = `/${database}`
  return u.toString()
}

/** Runs `f` with a short-lived single-connection client on `url`. */
export const withPg = <A, E>(
  url: string,
  f: (sql: PgClient.PgClient) => Effect.Effect<A, E>
): Promise<A> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(
        PgClient.make({
          url: Redacted.make(url),
          maxConnections: 1,
          connectTimeout: Duration.seconds(3),
          applicationName: "fm-test-admin"
        }),
        f
      )
    ).pipe(Effect.provide(Reactivity.layer))
  )

let availability: Promise<boolean> | undefined

/** Whether PostgreSQL answers at {@link PG_ADMIN_URL} (checked once per process). */
export const pgAvailable = (): Promise<boolean> => {
  availability ??= withPg(PG_ADMIN_URL, (sql) => sql`SELECT 1`).then(() => true, () => false)
  return availability
}

/**
 * Whether PostgreSQL tests run in this process. Throws when `FM_REQUIRE_POSTGRES` is set and the
 * server is unreachable, so CI fails loudly instead of skipping.
 */
export const pgEnabled = async (): Promise<boolean> => {
  const up = await pgAvailable()
  if (!up && pgRequired()) {
    throw new Error(
      `FM_REQUIRE_POSTGRES is set but PostgreSQL is not reachable at ${PG_ADMIN_URL}; ` +
        "start it (pg_ctlcluster 15 main start) or unset FM_REQUIRE_POSTGRES to skip PostgreSQL tests"
    )
  }
  return up
}

/**
 * The storage backends the server tests run against: SQLite (archives on disk), PostgreSQL
 * (archives in the database) and, for the suites that exercise archives, object storage: archives
 * in S3 (s3rver, see ./s3.ts) beside PostgreSQL, or beside SQLite when PostgreSQL is not enabled.
 */
export type TestBackend = "sqlite" | "postgres" | "postgres+s3" | "sqlite+s3"

/** Whether `backend` keeps its metadata in PostgreSQL. */
export const usesPostgres = (backend: TestBackend): boolean => backend.startsWith("postgres")

/** Whether `backend` keeps its archives in S3. */
export const usesS3 = (backend: TestBackend): boolean => backend.endsWith("+s3")

/**
 * The backends to parametrize server tests with (`describe.each(await testBackends())`); with
 * `{ s3: true }` also archives in S3 (on PostgreSQL when enabled, else on SQLite).
 */
export const testBackends = async (
  options: { readonly s3?: boolean } = {}
): Promise<ReadonlyArray<TestBackend>> => {
  const pg = await pgEnabled()
  const base: Array<TestBackend> = pg ? ["sqlite", "postgres"] : ["sqlite"]
  if (options.s3 === true) base.push(pg ? "postgres+s3" : "sqlite+s3")
  return base
}

const quoteIdent = (s: string): string => `"${s.replace(/"/g, "\"\"")}"`

/** Drops a database, first terminating every connection still open to it. */
export const dropDatabase = (name: string): Promise<void> =>
  withPg(PG_ADMIN_URL, (sql) =>
    Effect.gen(function*() {
      yield* sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = ${name} AND pid <> pg_backend_pid()`
      // FORCE (PostgreSQL 13+) also ends connections opened since the terminate above
      yield* sql.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)
    }))

/** A database created for one test file. */
export interface TestDatabase {
  readonly name: string
  readonly url: string
  readonly drop: () => Promise<void>
}

/**
 * Creates an empty, uniquely named database (`fm_test_<pid>_<random>`). Before that it drops
 * databases left behind by test processes of this machine that no longer run.
 */
export const createTestDatabase = async (label = "t"): Promise<TestDatabase> => {
  await dropOrphans()
  const safe = label.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 12) || "t"
  const name = `fm_test_${process.pid}_${safe}_${crypto.randomBytes(4).toString("hex")}`
  await withPg(PG_ADMIN_URL, (sql) => sql.unsafe(`CREATE DATABASE ${quoteIdent(name)}`))
  return { name, url: pgUrlFor(name), drop: () => dropDatabase(name) }
}

/** {@link createTestDatabase} in the current scope: the database is dropped when the scope closes. */
export const acquireTestDatabase = (label?: string): Effect.Effect<TestDatabase, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => createTestDatabase(label)), (db) => Effect.promise(() => db.drop()))

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Drops `fm_test_<pid>_*` databases whose process is gone (a crashed or killed earlier run). */
const dropOrphans = async (): Promise<void> => {
  const rows = await withPg(
    PG_ADMIN_URL,
    (sql) => sql<{ datname: string }>`SELECT datname FROM pg_database WHERE datname LIKE 'fm_test_%'`
  )
  for (const { datname } of rows) {
    const pid = Number(/^fm_test_(\d+)_/.exec(datname)?.[1] ?? NaN)
    if (Number.isFinite(pid) && pid !== process.pid && !pidAlive(pid)) {
      await dropDatabase(datname).catch(() => undefined)
    }
  }
}

/** The hooks {@link usePgDatabase} registers with (pass vitest's `beforeAll`/`afterAll`). */
export interface Hooks {
  readonly beforeAll: (f: () => Promise<void>) => void
  readonly afterAll: (f: () => Promise<void>) => void
}

/**
 * Registers hooks that create a fresh database for the enclosing `describe` (or file) and drop it
 * after. Read `db()` inside tests or later hooks. (Vitest's hooks are passed in so that this module
 * can also be imported outside vitest, e.g. by `bench/scale.ts`.)
 */
export const usePgDatabase = (hooks: Hooks, label?: string): { readonly db: () => TestDatabase } => {
  let current: TestDatabase | undefined
  hooks.beforeAll(async () => {
    current = await createTestDatabase(label)
  })
  hooks.afterAll(async () => {
    if (current !== undefined) await current.drop()
  })
  return {
    db: () => {
      if (current === undefined) throw new Error("usePgDatabase: the database is created in beforeAll")
      return current
    }
  }
}

/** Every backend pid connected to `database` (other than the caller's). */
export const backendPids = (database: string): Promise<ReadonlyArray<number>> =>
  withPg(PG_ADMIN_URL, (sql) =>
    Effect.map(
      sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = ${database} AND pid <> pg_backend_pid()`,
      (rows) => rows.map((r) => Number(r.pid))
    ))

/** Kills every connection to `database` with `pg_terminate_backend`; returns how many. */
export const terminateConnections = (database: string): Promise<number> =>
  withPg(PG_ADMIN_URL, (sql) =>
    Effect.map(
      sql<{ n: string }>`SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity
                         WHERE datname = ${database} AND pid <> pg_backend_pid()`,
      (rows) => Number(rows[0]?.n ?? 0)
    ))

/** Blocks new connections to `database` (and kills the open ones): PostgreSQL is "down" for it. */
export const blockConnections = (database: string): Promise<number> =>
  withPg(PG_ADMIN_URL, (sql) => sql.unsafe(`ALTER DATABASE ${quoteIdent(database)} WITH ALLOW_CONNECTIONS false`)).then(
    () => terminateConnections(database)
  )

/** Lets connections to `database` in again after {@link blockConnections}. */
export const allowConnections = (database: string): Promise<void> =>
  withPg(PG_ADMIN_URL, (sql) => sql.unsafe(`ALTER DATABASE ${quoteIdent(database)} WITH ALLOW_CONNECTIONS true`)).then(
    () => undefined
  )

// ---------------------------------------------------------------------------------------------
// Registry replicas as real processes

/** A registry server process started by {@link startReplica}. */
export interface Replica {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly pid: number
  /** Everything the process wrote so far (stdout + stderr). */
  readonly output: () => string
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
  readonly stop: () => Promise<void>
}

/** Options of {@link startReplica}. */
export interface ReplicaOptions {
  /** `postgres://...` (passed as `--database-url`), or undefined for SQLite in `dataDir`. */
  readonly databaseUrl?: string | undefined
  /** Local data directory of this replica. */
  readonly dataDir: string
  /** Shared archive directory (`--blob-dir`). */
  readonly blobDir?: string | undefined
  /** Admin token to bootstrap (`FM_ADMIN_TOKEN`). */
  readonly adminToken: string
  /** Extra CLI arguments for `fm studio start`. */
  readonly args?: ReadonlyArray<string>
  /** Extra environment variables (e.g. the AWS ones for `--blob-url`). */
  readonly env?: Readonly<Record<string, string>>
}

const ROOT = new URL("../../", import.meta.url).pathname

/**
 * Starts `fm studio start --port 0` as its own Node process (the bundled `src/cli/StudioMain.ts`,
 * see `serverBundle` in ./server.ts) and waits until it listens. The process is killed by pid in `stop()`.
 */
export const startReplica = async (options: ReplicaOptions): Promise<Replica> => {
  const { spawn } = await import("node:child_process")
  // the `fm studio` command tree bundled once per process by SERVER's helper (fast start-up)
  const { serverBundle } = await import("./server.js")
  const args = [
    await serverBundle(),
    "start",
    "--port",
    "0",
    "--quiet",
    "--data-dir",
    options.dataDir,
    ...(options.databaseUrl === undefined ? [] : ["--database-url", options.databaseUrl]),
    ...(options.blobDir === undefined ? [] : ["--blob-dir", options.blobDir]),
    ...(options.args ?? [])
  ]
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      FM_ADMIN_TOKEN: options.adminToken,
      FM_DATABASE_URL: "",
      FLOWMASON_HOME: options.dataDir,
      ...options.env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica did not start within 60 s:\n${out}`)), 60_000)
    const onData = (d: Buffer) => {
      out += d.toString()
      const m = /listening on (http:\/\/[^\s()]+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`replica exited with code ${code} before listening:\n${out}`))
    })
  })
  return {
    url,
    pid: child.pid!,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** The SHA-256 of every archive stored in PostgreSQL (`blobs`), sorted. */
export const storedBlobs = (url: string): Promise<ReadonlyArray<string>> =>
  withPg(
    url,
    (sql) =>
      Effect.map(sql<{ sha256: string }>`SELECT sha256 FROM blobs ORDER BY sha256`, (rows) => rows.map((r) => r.sha256))
  )

/**
 * Reads `read()` until `ok` holds of its value or `within` ms have passed; returns the last value
 * read (for the caller to assert on). For what replicas see only once another replica's batched
 * download counts or invalidation notices arrive.
 */
export const eventually = async <A>(read: () => Promise<A>, ok: (a: A) => boolean, within = 2_000): Promise<A> => {
  const deadline = Date.now() + within
  let value = await read()
  while (!ok(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10))
    value = await read()
  }
  return value
}
