/**
 * `fm studio ...`: run the registry server (`start`) and manage its API tokens (`token create`,
 * `token list`, `token revoke`, operating on the data directory directly).
 * @since 0.1.0
 */
import { Args, Command, Options } from "@effect/cli"
import * as HttpServer from "@effect/platform/HttpServer"
import { Console, Context, Effect, Layer, Option, Redacted } from "effect"
import * as crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Auth, parseExpiresIn } from "../../server/http/Auth.js"
import * as InheritedSocket from "../../server/http/InheritedSocket.js"
import { loadLogKey } from "../../server/log/LogKey.js"
import * as RegistryServer from "../../server/RegistryServer.js"
import * as StorageOptions from "../../server/selection/StorageOptions.js"
import type { TokenRow } from "../../server/storage/PackageStore.js"
import { PackageStore } from "../../server/storage/PackageStore.js"
import * as WebUi from "../../server/webui/WebUi.js"
import { FlowmasonHome } from "../../shared/FlowmasonHome.js"
import * as Settings from "../../shared/Settings.js"
import { announceStarted } from "../CodeCache.js"
import { json, printJson, printTable, UsageError } from "../Output.js"
import {
  blobDirOption,
  blobUrlOption,
  databaseUrlOption,
  migrateCommand,
  resolveBlobDir,
  resolveBlobUrl,
  resolveDatabaseUrl,
  s3EndpointOption,
  s3RegionOption,
  storeLayerFor
} from "../StudioOptions.js"

const dataDirOption = Options.directory("data-dir").pipe(
  Options.withDescription(
    "Registry data directory (database, archives). Default: $FM_REGISTRY_DATA_DIR, else ~/.flowmason/registry"
  ),
  Options.optional
)

/** The data directory: `--data-dir`, else FM_REGISTRY_DATA_DIR, else `<FlowMason home>/registry`. */
const resolveDataDir = (flag: Option.Option<string>) =>
  Effect.gen(function*() {
    if (Option.isSome(flag)) return Path.resolve(flag.value)
    const env = yield* Settings.optional("FM_REGISTRY_DATA_DIR")
    if (Option.isSome(env)) return Path.resolve(env.value)
    const home = yield* FlowmasonHome
    return home.registryDir
  })

/**
 * Parses a size such as `100MiB`, `50MB`, `512KiB`, `1GiB` or a plain byte count.
 * @since 0.1.0
 * @category utils
 */
export const parseSize = (text: string): number | undefined => {
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(text.trim())
  if (m === null) return undefined
  const unit = (m[2] ?? "b").toLowerCase()
  const mult = unit === "b"
    ? 1
    : unit.startsWith("k")
    ? 1024
    : unit.startsWith("m")
    ? 1024 * 1024
    : 1024 * 1024 * 1024
  const n = Math.floor(Number(m[1]) * mult)
  return n > 0 ? n : undefined
}

// ---------------------------------------------------------------------------------------------
// start

const logKeyOption = Options.file("log-key", { exists: "yes" }).pipe(
  Options.withDescription(
    "The publish log's Ed25519 signing key, PKCS#8 PEM (openssl genpkey -algorithm ed25519 > FILE); " +
      "default: <data-dir>/log-key.pem, generated on first start. Replicas of one database need the same key"
  ),
  Options.optional
)

const startCommand = Command.make(
  "start",
  {
    host: Options.text("host").pipe(
      Options.withDescription("Interface to listen on (keep 127.0.0.1 unless a proxy or firewall protects it)"),
      Options.withDefault("127.0.0.1")
    ),
    port: Options.integer("port").pipe(
      Options.withAlias("p"),
      Options.withDescription("Port to listen on (0 picks a free one)"),
      Options.withDefault(8999)
    ),
    listenFd: Options.integer("listen-fd").pipe(
      Options.withPseudoName("N"),
      Options.withDescription(
        "Serve on the listening socket inherited as file descriptor N (kept by a supervisor across restarts) " +
          "instead of --host/--port. Under systemd socket activation (LISTEN_FDS=1) fd 3 is used without this flag"
      ),
      Options.optional
    ),
    dataDir: dataDirOption,
    private: Options.boolean("private").pipe(
      Options.withDescription("Require a token with scope 'read' for everything except health")
    ),
    publicUrl: Options.text("public-url").pipe(
      Options.withDescription(
        "Base URL clients reach the server at, used in download_url (e.g. https://registry.example.com)"
      ),
      Options.optional
    ),
    maxUploadSize: Options.text("max-upload-size").pipe(
      Options.withDescription("Largest accepted archive: bytes or 50MiB, 1GiB, ..."),
      Options.withDefault("100MiB")
    ),
    trustProxy: Options.boolean("trust-proxy").pipe(
      Options.withDescription("Trust X-Forwarded-Proto/X-Forwarded-Host from a reverse proxy when building URLs")
    ),
    quiet: Options.boolean("quiet").pipe(Options.withDescription("Do not log one line per request")),
    noUi: Options.boolean("no-ui").pipe(Options.withDescription("Serve only the API, not the web UI at /")),
    logKey: logKeyOption,
    logWitnessFile: Options.file("log-witness-file").pipe(
      Options.withDescription(
        "Keep the publish log's latest signed checkpoint in FILE (written atomically after each append), for " +
          "witnesses: fm registry verify --gossip --checkpoint FILE"
      ),
      Options.optional
    ),
    logWitnessUrl: Options.text("log-witness-url").pipe(
      Options.withDescription("POST each new signed checkpoint of the publish log to URL (text/plain, 5 s at most)"),
      Options.optional
    ),
    databaseUrl: databaseUrlOption,
    blobDir: blobDirOption,
    blobUrl: blobUrlOption,
    s3Endpoint: s3EndpointOption,
    s3Region: s3RegionOption
  },
  (opts) =>
    Effect.gen(function*() {
      const dataDir = yield* resolveDataDir(opts.dataDir)
      const maxUploadSize = parseSize(opts.maxUploadSize)
      if (maxUploadSize === undefined) {
        return yield* new UsageError({
          reason: `--max-upload-size: '${opts.maxUploadSize}' is not a size`,
          hint: "use a byte count or a unit: 512KiB, 50MiB, 1GiB"
        })
      }
      if (opts.port < 0 || opts.port > 65535) {
        return yield* new UsageError({ reason: `--port: ${opts.port} is not a port (0-65535)` })
      }
      const listenFd = yield* InheritedSocket.resolve(opts.listenFd).pipe(
        Effect.catchTag("InheritedSocketError", (e) => new UsageError({ reason: e.reason, hint: e.hint }))
      )
      const databaseUrl = yield* resolveDatabaseUrl(opts.databaseUrl)
      const blobDir = yield* resolveBlobDir(opts.blobDir)
      const blobUrl = yield* resolveBlobUrl(opts.blobUrl, blobDir)
      const s3 = {
        blobUrl,
        s3Endpoint: Option.getOrUndefined(opts.s3Endpoint),
        s3Region: Option.getOrUndefined(opts.s3Region)
      }
      const logWitnessUrl = Option.getOrUndefined(opts.logWitnessUrl)
      if (logWitnessUrl !== undefined && !/^https?:\/\/[^/]/.test(logWitnessUrl)) {
        return yield* new UsageError({
          reason: `--log-witness-url: '${logWitnessUrl}' must start with http:// or https://`
        })
      }
      const publicUrl = Option.getOrUndefined(opts.publicUrl)
      if (publicUrl !== undefined && !/^https?:\/\/[^/]/.test(publicUrl)) {
        return yield* new UsageError({ reason: `--public-url: '${publicUrl}' must start with http:// or https://` })
      }
      yield* Effect.try({
        try: () => Fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 }),
        catch: (cause) => new UsageError({ reason: `cannot create the data directory ${dataDir}: ${String(cause)}` })
      })
      const options: RegistryServer.RegistryServerOptions = {
        dataDir,
        host: opts.host,
        port: opts.port,
        listenFd,
        private: opts.private,
        publicUrl,
        trustProxy: opts.trustProxy,
        maxUploadSize,
        logRequests: !opts.quiet,
        logKeyFile: Option.getOrUndefined(opts.logKey),
        logWitnessFile: Option.getOrUndefined(opts.logWitnessFile),
        logWitnessUrl
      }
      yield* Effect.scoped(
        Effect.gen(function*() {
          const ui = opts.noUi ? Layer.empty : WebUi.layer()
          const plain = databaseUrl === undefined && blobDir === undefined && blobUrl === undefined
          // On an inherited socket the previous server may still be finishing uploads in this data
          // directory: its archives are kept as a shared directory's are (the start-up sweep
          // leaves young temp files and unreferenced blobs alone).
          const archives = plain && listenFd !== undefined ? dataDir : blobDir
          const storage = plain && archives === undefined
            ? RegistryServer.storageLayer(dataDir)
            // PostgreSQL / blob directory / object storage: that code (and the driver) loads only now
            : Layer.unwrapEffect(
              Effect.map(
                Effect.promise(() => import("../../server/selection/Storage.js")),
                (S) => S.layer({ dataDir, databaseUrl, blobDir: archives, ...s3 })
              )
            )
          const ctx = yield* Layer.build(RegistryServer.serve(options, ui, storage))
          const server = Context.get(ctx, HttpServer.HttpServer)
          const store = Context.get(ctx, PackageStore)
          const auth = yield* Effect.provide(Auth, Auth.Default.pipe(Layer.provide(Layer.succeed(PackageStore, store))))
          const adminToken = yield* Settings.optionalSecret("FM_ADMIN_TOKEN")
          const generated = yield* auth.bootstrap(Option.getOrUndefined(Option.map(adminToken, Redacted.value)))
          const url = RegistryServer.listeningUrl(server)
          const where = plain
            ? `data: ${dataDir}`
            : `database: ${StorageOptions.describe({ dataDir, databaseUrl, blobDir }).database}`
          const inherited = listenFd === undefined ? "" : `, inherited socket fd ${listenFd}`
          yield* Console.log(
            `fm registry listening on ${url} (${where}${inherited}${opts.private ? ", private" : ""})`
          )
          if (Option.isSome(generated)) {
            yield* Console.log(`Admin token (shown once; store it safely): ${generated.value}`)
          }
          // start-up is over: the code cache, if one is due, is written now (see CodeCache.ts)
          yield* Effect.sync(announceStarted)
          return yield* Effect.never
        })
      )
    })
).pipe(
  Command.withDescription(
    "Run the registry server. It serves the web UI at /, the API under /api/v1/registry and its docs at " +
      "/api/v1/registry/docs. Reads are open and writes need a token, unless --private. Ctrl-C (SIGINT) or " +
      "SIGTERM stop it gracefully."
  )
)

// ---------------------------------------------------------------------------------------------
// token

/** Runs `f` with the token service on the data directory's database. */
const withAuth = <A, E>(
  flag: Option.Option<string>,
  databaseFlag: Option.Option<string>,
  f: (auth: Auth) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const dataDir = yield* resolveDataDir(flag)
    const databaseUrl = yield* resolveDatabaseUrl(databaseFlag)
    yield* Effect.try({
      try: () => Fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 }),
      catch: (cause) => new UsageError({ reason: `cannot create the data directory ${dataDir}: ${String(cause)}` })
    })
    return yield* Effect.flatMap(Auth, f).pipe(
      Effect.provide(Auth.Default.pipe(Layer.provide(storeLayerFor(dataDir, databaseUrl))))
    )
  })

const tokenJson = (t: TokenRow) => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  scope: t.scope,
  created_at: t.createdAt,
  expires_at: t.expiresAt,
  revoked_at: t.revokedAt
})

const tokenState = (t: TokenRow): string =>
  t.revokedAt !== null
    ? "revoked"
    : t.expiresAt !== null && Date.parse(t.expiresAt) <= Date.now()
    ? "expired"
    : "active"

const tokenCreate = Command.make(
  "create",
  {
    scope: Options.choice("scope", ["read", "publish", "admin"]).pipe(
      Options.withDescription("What the token may do: read < publish < admin (each includes the ones before)")
    ),
    name: Options.text("name").pipe(
      Options.withDescription("A unique label to recognise (and revoke) the token by (default: <scope>-<date>)"),
      Options.optional
    ),
    expiresIn: Options.text("expires-in").pipe(
      Options.withPseudoName("DURATION"),
      Options.withDescription("Lifetime such as 30d, 12h, 2w, 1y (default: never expires)"),
      Options.optional
    ),
    dataDir: dataDirOption,
    databaseUrl: databaseUrlOption,
    json
  },
  (opts) =>
    Effect.gen(function*() {
      let expiresInMs: number | undefined
      if (Option.isSome(opts.expiresIn)) {
        expiresInMs = parseExpiresIn(opts.expiresIn.value)
        if (expiresInMs === undefined) {
          return yield* new UsageError({
            reason: `--expires-in: '${opts.expiresIn.value}' is not a duration`,
            hint: "use a number and a unit: 30d, 12h, 45m, 2w, 1y"
          })
        }
      }
      const scope = opts.scope
      const name = Option.getOrUndefined(opts.name)
      const created = yield* withAuth(
        opts.dataDir,
        opts.databaseUrl,
        (auth) => auth.create({ name, scope, expiresInMs })
      )
      if (opts.json) return yield* printJson({ token: created.token, ...tokenJson(created.row) })
      yield* Console.log(created.token)
      yield* Console.error(
        `Created token '${created.row.name}' (id ${created.row.id}, scope ${scope}` +
          `${created.row.expiresAt === null ? "" : `, expires ${created.row.expiresAt}`}). ` +
          "It is shown only this once."
      )
    })
).pipe(Command.withDescription("Create an API token. It is printed once; only its hash is stored."))

const tokenList = Command.make(
  "list",
  { dataDir: dataDirOption, databaseUrl: databaseUrlOption, json },
  (opts) =>
    Effect.gen(function*() {
      const tokens = yield* withAuth(opts.dataDir, opts.databaseUrl, (auth) => auth.list)
      if (opts.json) return yield* printJson(tokens.map((t) => ({ ...tokenJson(t), state: tokenState(t) })))
      if (tokens.length === 0) return yield* Console.log("No tokens.")
      yield* printTable(
        ["ID", "NAME", "PREFIX", "SCOPE", "STATE", "CREATED", "EXPIRES"],
        tokens.map((t) => [
          String(t.id),
          t.name,
          `${t.prefix}…`,
          t.scope,
          tokenState(t),
          t.createdAt.slice(0, 19),
          t.expiresAt?.slice(0, 19) ?? "never"
        ])
      )
    })
).pipe(Command.withDescription("List API tokens. Their secrets are never shown."))

const tokenRevoke = Command.make(
  "revoke",
  {
    token: Args.text({ name: "id-or-name" }).pipe(
      Args.withDescription("The token's id, or its name (see 'fm studio token list'); exactly one token is revoked")
    ),
    dataDir: dataDirOption,
    databaseUrl: databaseUrlOption,
    json
  },
  (opts) =>
    Effect.gen(function*() {
      const row = yield* withAuth(opts.dataDir, opts.databaseUrl, (auth) => auth.revoke(opts.token))
      if (opts.json) return yield* printJson(tokenJson(row))
      yield* Console.log(`Revoked token '${row.name}' (id ${row.id}).`)
    })
).pipe(Command.withDescription("Revoke one API token. Requests with it get 401 from now on."))

const tokenCommand = Command.make("token").pipe(
  Command.withDescription("Manage the registry's API tokens. Works on the data directory; the server may be running."),
  Command.withSubcommands([tokenCreate, tokenList, tokenRevoke])
)

const logKeyCommand = Command.make(
  "log-key",
  { dataDir: dataDirOption, logKey: logKeyOption, json },
  (opts) =>
    Effect.gen(function*() {
      const dataDir = yield* resolveDataDir(opts.dataDir)
      const signer = yield* loadLogKey({ keyFile: Option.getOrUndefined(opts.logKey), dataDir }).pipe(
        Effect.mapError((e) => new UsageError({ reason: e.message }))
      )
      const pem = crypto.createPublicKey(signer.privateKey).export({ format: "pem", type: "spki" }).toString()
      if (opts.json) {
        return yield* printJson({
          origin: signer.verifier.name,
          verifier_key: signer.verifier.text,
          public_key_pem: pem
        })
      }
      yield* Console.log(signer.verifier.text)
    })
).pipe(
  Command.withDescription(
    "Print the public key of the registry's publish log, as the verifier key clients pin " +
      "(fm registry add NAME URL --log-key KEY); --json adds the origin and the PEM public key. " +
      "Generates the data directory's key if there is none yet."
  )
)

/**
 * `fm studio`: the registry server and its tokens.
 * @since 0.1.0
 * @category commands
 */
export const studio = Command.make("studio").pipe(
  Command.withDescription("Run a package registry server and manage its tokens"),
  Command.withSubcommands([startCommand, tokenCommand, logKeyCommand, migrateCommand])
)
