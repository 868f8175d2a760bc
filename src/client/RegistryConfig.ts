/**
 * The configured registries: `registries.json` in the FlowMason home (`~/.flowmason`, or
 * `$FLOWMASON_HOME`). Same file format as the existing FlowMason tools (snake_case keys), read
 * strictly (a corrupt file is an error naming the file and position, never silently replaced) and
 * written atomically (temp file, fsync, rename, mode 0600) keeping keys we do not know.
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Config, Effect, Option, Redacted, Schema } from "effect"
import * as path from "node:path"
import { writeFileAtomic } from "../shared/AtomicFile.js"
import { describeCause } from "../shared/FileError.js"
import { FlowmasonHome } from "../shared/FlowmasonHome.js"
import { describeParseError } from "../shared/SchemaIssues.js"
import { parseJsonAt } from "./JsonAt.js"
import { ConfigError, InvalidRegistry, RegistryExists, UnknownRegistry } from "./RegistryConfigErrors.js"
import { implicitLocal, KNOWN_KEYS, RegistryEntry, type RegistryPatch, type TokenSource } from "./RegistryEntry.js"
import { checkRegistryName, checkRegistryUrl } from "./RegistryValidation.js"

/**
 * The model of a configured registry (defined in `RegistryEntry.ts`).
 * @since 0.1.0
 * @category models
 */
export { implicitLocal, RegistryEntry, type RegistryPatch, type TokenSource } from "./RegistryEntry.js"

/**
 * The errors of the registry configuration (defined in `RegistryConfigErrors.ts`).
 * @since 0.1.0
 * @category errors
 */
export { ConfigError, InvalidRegistry, RegistryExists, UnknownRegistry } from "./RegistryConfigErrors.js"

/**
 * The checks of a registry's name and URL (defined in `RegistryValidation.ts`).
 * @since 0.1.0
 */
export { checkRegistryName, checkRegistryUrl } from "./RegistryValidation.js"

/**
 * Parses JSON, reporting syntax errors with line and column (defined in `JsonAt.ts`).
 * @internal
 */
export { parseJsonAt } from "./JsonAt.js"

/** The parsed file: the raw top-level object, and each entry with its raw object. */
interface Loaded {
  readonly exists: boolean
  readonly top: Record<string, unknown>
  readonly entries: ReadonlyArray<{ readonly raw: Record<string, unknown>; readonly entry: RegistryEntry }>
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const decodeEntry = Schema.decodeUnknownEither(RegistryEntry, { errors: "all" })
const encodeEntry = Schema.encodeSync(RegistryEntry)

/**
 * The configured registries, read from and written to `registries.json`.
 * Every method reads the file afresh (other `fm` processes may change it) and every change is
 * one atomic rewrite.
 * @since 0.1.0
 * @category services
 */
export class RegistryConfig extends Effect.Service<RegistryConfig>()("fm/RegistryConfig", {
  effect: Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const home = yield* FlowmasonHome
    const file = home.registriesFile
    const envToken = yield* Config.redacted("FLOWMASON_REGISTRY_TOKEN").pipe(
      Config.option,
      Effect.map(Option.filter((t) => Redacted.value(t) !== "")),
      Effect.orElseSucceed(() => Option.none<Redacted.Redacted<string>>())
    )

    const fail = (reason: string) => new ConfigError({ file, reason })

    const load: Effect.Effect<Loaded, ConfigError> = Effect.gen(function*() {
      const exists = yield* fs.exists(file).pipe(Effect.mapError((e) => fail(`cannot read: ${describeCause(e)}`)))
      if (!exists) return { exists: false, top: {}, entries: [] }
      const text = yield* fs.readFileString(file).pipe(Effect.mapError((e) => fail(`cannot read: ${describeCause(e)}`)))
      const json = yield* parseJsonAt(file, text)
      if (!isRecord(json)) return yield* fail("expected a JSON object with a \"registries\" array")
      const list = json["registries"] ?? []
      if (!Array.isArray(list)) return yield* fail("\"registries\" must be an array")
      const entries: Array<Loaded["entries"][number]> = []
      for (let i = 0; i < list.length; i++) {
        const raw: unknown = list[i]
        if (!isRecord(raw)) return yield* fail(`registries[${i}] must be an object`)
        const decoded = decodeEntry(raw)
        if (decoded._tag === "Left") {
          const label = typeof raw["name"] === "string" ? ` ('${raw["name"]}')` : ""
          return yield* fail(
            `registries[${i}]${label}: ${describeParseError(decoded.left)}`
          )
        }
        entries.push({ raw, entry: decoded.right })
      }
      return { exists: true, top: json, entries }
    })

    /** The entries as used: the file's, or the implicit `local` when there is no file. */
    const effective = (loaded: Loaded): ReadonlyArray<Loaded["entries"][number]> =>
      loaded.exists ? loaded.entries : [{ raw: {}, entry: implicitLocal }]

    const sorted = (entries: ReadonlyArray<RegistryEntry>): ReadonlyArray<RegistryEntry> =>
      entries
        .map((entry, index) => ({ entry, index }))
        .sort((a, b) => a.entry.priority - b.entry.priority || a.index - b.index)
        .map((x) => x.entry)

    /**
     * Removes temp files earlier writes left next to the file (a process killed mid-write): they
     * may hold tokens. Runs under the lock, so no other writer's temp file can be live.
     */
    const removeStaleTemps = (dir: string) =>
      Effect.gen(function*() {
        const prefix = `.${path.basename(file)}.`
        const names = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed((): ReadonlyArray<string> => []))
        for (const n of names) {
          if (n.startsWith(prefix) && n.endsWith(".tmp")) yield* fs.remove(path.join(dir, n)).pipe(Effect.ignore)
        }
      })

    /**
     * Writes the file atomically: temp file in the same directory, fsync, rename; mode 0600. Stale
     * temp files of earlier writes are removed first.
     */
    const save = (loaded: Loaded, entries: ReadonlyArray<Loaded["entries"][number]>) =>
      Effect.gen(function*() {
        const registries = entries.map(({ entry, raw }) => {
          const encoded: { readonly [key: string]: unknown } = encodeEntry(entry)
          const out: Record<string, unknown> = { ...raw }
          for (const key of KNOWN_KEYS) {
            if (key in encoded) out[key] = encoded[key]
            else delete out[key]
          }
          return out
        })
        const text = JSON.stringify({ ...loaded.top, registries }, null, 2) + "\n"
        const dir = path.dirname(file)
        yield* fs.makeDirectory(dir, { recursive: true, mode: 0o700 })
        yield* removeStaleTemps(dir)
        const tmp = path.join(
          dir,
          `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}${
            Math.random().toString(36).slice(2, 8)
          }.tmp`
        )
        yield* writeFileAtomic(file, text, { temp: tmp, mode: 0o600 }).pipe(
          Effect.provideService(FileSystem.FileSystem, fs)
        )
      }).pipe(Effect.mapError((e) => fail(`cannot write: ${describeCause(e)}`)))

    const known = (entries: ReadonlyArray<Loaded["entries"][number]>) => entries.map((e) => e.entry.name)

    /** Loads, applies `f` to the effective entries, saves. */
    /**
     * A lock file beside registries.json serialises read-modify-write cycles of concurrent `fm`
     * processes (two `fm registry add` at once both land). Stale locks (over 10 s old) are broken.
     */
    const lockFile = `${file}.lock`
    const acquireLock = Effect.gen(function*() {
      yield* fs.makeDirectory(path.dirname(file), { recursive: true, mode: 0o700 }).pipe(
        Effect.mapError((e) => fail(`cannot create the directory: ${describeCause(e)}`))
      )
      for (let attempt = 0; attempt < 400; attempt++) {
        const got = yield* fs.writeFileString(lockFile, `${process.pid}\n`, { flag: "wx", mode: 0o600 }).pipe(
          Effect.as(true),
          Effect.catchIf(
            (e) => e._tag === "SystemError" && e.reason === "AlreadyExists",
            () => Effect.succeed(false)
          ),
          Effect.mapError((e) => fail(`cannot create the lock file ${lockFile}: ${describeCause(e)}`))
        )
        if (got) return
        const info = yield* fs.stat(lockFile).pipe(Effect.option)
        const mtime = Option.flatMap(info, (i) => i.mtime)
        if (Option.isSome(mtime) && Date.now() - mtime.value.getTime() > 10_000) {
          yield* fs.remove(lockFile).pipe(Effect.ignore)
        } else {
          yield* Effect.sleep(25)
        }
      }
      return yield* fail(
        `another fm process holds the lock ${lockFile}; if none is running, delete that file and retry`
      )
    })
    const releaseLock = fs.remove(lockFile).pipe(Effect.ignore)

    const modify = <E>(
      f: (
        entries: ReadonlyArray<Loaded["entries"][number]>
      ) => Effect.Effect<ReadonlyArray<Loaded["entries"][number]>, E>
    ) =>
      Effect.acquireUseRelease(
        acquireLock,
        () =>
          Effect.gen(function*() {
            const loaded = yield* load
            const next = yield* f(effective(loaded))
            yield* save(loaded, next)
          }),
        () => releaseLock
      )

    const findIndex = (entries: ReadonlyArray<Loaded["entries"][number]>, name: string) => {
      const i = entries.findIndex((e) => e.entry.name === name)
      return i < 0
        ? Effect.fail(new UnknownRegistry({ name, known: known(entries) }))
        : Effect.succeed(i)
    }

    const replaceAt = (
      entries: ReadonlyArray<Loaded["entries"][number]>,
      i: number,
      entry: RegistryEntry
    ) => entries.map((e, j) => (j === i ? { raw: e.raw, entry } : e))

    const withFields = (entry: RegistryEntry, patch: RegistryPatch): RegistryEntry => {
      const { authToken, description } = patch
      return new RegistryEntry({
        name: entry.name,
        url: patch.url ?? entry.url,
        priority: patch.priority ?? entry.priority,
        enabled: patch.enabled ?? entry.enabled,
        isDefault: patch.isDefault ?? entry.isDefault,
        canPublish: patch.canPublish ?? entry.canPublish,
        requiresAuth: patch.requiresAuth ?? entry.requiresAuth,
        logKey: patch.logKey ?? entry.logKey,
        // null removes the field; undefined keeps what the entry had
        authToken: authToken === null ? undefined : authToken ?? entry.authToken,
        description: description === null ? undefined : description ?? entry.description
      })
    }

    const list: Effect.Effect<ReadonlyArray<RegistryEntry>, ConfigError> = load.pipe(
      Effect.map((loaded) => sorted(effective(loaded).map((e) => e.entry))),
      Effect.withSpan("RegistryConfig.list")
    )

    const enabled: Effect.Effect<ReadonlyArray<RegistryEntry>, ConfigError> = list.pipe(
      Effect.map((all) => all.filter((e) => e.enabled))
    )

    const get = Effect.fn("RegistryConfig.get")(function*(name: string) {
      const all = yield* list
      const found = all.find((e) => e.name === name)
      if (found === undefined) return yield* new UnknownRegistry({ name, known: all.map((e) => e.name) })
      return found
    })

    const defaultRegistry: Effect.Effect<RegistryEntry, ConfigError | UnknownRegistry> = Effect.gen(function*() {
      const all = yield* list
      const on = all.filter((e) => e.enabled)
      const chosen = on.find((e) => e.isDefault) ?? on[0]
      if (chosen === undefined) {
        return yield* new UnknownRegistry({ name: "(default)", known: all.map((e) => e.name) })
      }
      return chosen
    }).pipe(Effect.withSpan("RegistryConfig.defaultRegistry"))

    const clearDefaults = (entries: ReadonlyArray<Loaded["entries"][number]>) =>
      entries.map((e) => (e.entry.isDefault ? { raw: e.raw, entry: withFields(e.entry, { isDefault: false }) } : e))

    const add: (
      entry: RegistryEntry
    ) => Effect.Effect<void, ConfigError | RegistryExists | InvalidRegistry> = Effect.fn("RegistryConfig.add")(
      function*(entry: RegistryEntry) {
        const badName = checkRegistryName(entry.name)
        if (Option.isSome(badName)) return yield* new InvalidRegistry({ name: entry.name, reason: badName.value })
        const badUrl = checkRegistryUrl(entry.url)
        if (Option.isSome(badUrl)) return yield* new InvalidRegistry({ name: entry.name, reason: badUrl.value })
        yield* modify((entries) => {
          const existing = entries.find((e) => e.entry.name === entry.name)
          if (existing !== undefined) {
            return Effect.fail(new RegistryExists({ name: entry.name, url: existing.entry.url }))
          }
          const base = entry.isDefault ? clearDefaults(entries) : entries
          return Effect.succeed([...base, { raw: {}, entry }])
        })
      }
    )

    const remove = Effect.fn("RegistryConfig.remove")(function*(name: string) {
      yield* modify((entries) => Effect.map(findIndex(entries, name), (i) => entries.filter((_, j) => j !== i)))
    })

    const setDefault = Effect.fn("RegistryConfig.setDefault")(function*(name: string) {
      yield* modify((entries) =>
        Effect.map(findIndex(entries, name), (i) => {
          const cleared = clearDefaults(entries)
          return replaceAt(cleared, i, withFields(cleared[i].entry, { isDefault: true }))
        })
      )
    })

    const update: (
      name: string,
      patch: RegistryPatch
    ) => Effect.Effect<void, ConfigError | UnknownRegistry | InvalidRegistry> = Effect.fn("RegistryConfig.update")(
      function*(name: string, patch: RegistryPatch) {
        if (patch.url !== undefined) {
          const badUrl = checkRegistryUrl(patch.url)
          if (Option.isSome(badUrl)) return yield* new InvalidRegistry({ name, reason: badUrl.value })
        }
        yield* modify((entries) =>
          Effect.map(findIndex(entries, name), (i) => {
            const base = patch.isDefault === true ? clearDefaults(entries) : entries
            return replaceAt(base, i, withFields(base[i].entry, patch))
          })
        )
      }
    )

    const setEnabled = (name: string, on: boolean): Effect.Effect<void, ConfigError | UnknownRegistry> =>
      update(name, { enabled: on }).pipe(
        Effect.catchTag("InvalidRegistry", (e) => Effect.die(e)),
        Effect.withSpan("RegistryConfig.setEnabled")
      )

    const token = (entry: RegistryEntry): Option.Option<Redacted.Redacted<string>> =>
      entry.authToken !== undefined && entry.authToken !== ""
        ? Option.some(Redacted.make(entry.authToken))
        : envToken

    const tokenSource = (entry: RegistryEntry): TokenSource =>
      entry.authToken !== undefined && entry.authToken !== "" ? "config" : Option.isSome(envToken) ? "env" : "none"

    return {
      /** The path of `registries.json`. */
      file,
      /** All registries, lower priority number first, ties in file order (implicit `local` with no file). */
      list,
      /** The enabled registries, in the same order. */
      enabled,
      /** One registry by exact name. */
      get,
      /** The enabled registry marked default, else the first enabled one. */
      defaultRegistry,
      /** Adds a registry; `isDefault` clears the others' default mark. */
      add,
      /** Removes a registry. */
      remove,
      /** Marks one registry as the default (and no other). */
      setDefault,
      /** Enables or disables a registry. */
      setEnabled,
      /** Changes fields of a registry. */
      update,
      /** The token to send to a registry: its own, else `FLOWMASON_REGISTRY_TOKEN`. */
      token,
      /** Where {@link token} comes from. */
      tokenSource
    } as const
  })
}) {}
