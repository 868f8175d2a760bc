/**
 * `fm registry ...`: list, add, set, remove, set-default, enable, disable, and the download cache.
 * @since 0.1.0
 */
import { Args, Command, Options, Prompt } from "@effect/cli"
import { Console, Effect, Option, Redacted } from "effect"
import { PackageCache } from "../../client/PackageCache.js"
import {
  checkRegistryName,
  checkRegistryUrl,
  RegistryConfig,
  type RegistryEntry,
  RegistryEntry as Entry,
  RegistryExists,
  type RegistryPatch,
  type TokenSource
} from "../../client/RegistryConfig.js"
import { parseVerifier } from "../../shared/log/SignedNote.js"
import { terminalLine } from "../../shared/TerminalText.js"
import { formatBytes, isInteractive, json, printJson, printTable, UsageError, warn, yesNo } from "../Output.js"
import { verifyCommand } from "./registryVerify.js"

/** The JSON shape of a registry in `--json` output (snake_case like the file; never the token). */
const entryJson = (e: RegistryEntry, token: TokenSource) => ({
  name: e.name,
  url: e.url,
  priority: e.priority,
  enabled: e.enabled,
  is_default: e.isDefault,
  can_publish: e.canPublish,
  requires_auth: e.requiresAuth,
  description: e.description ?? null,
  token
})

const nameArg = Args.text({ name: "name" }).pipe(Args.withDescription("The registry's name"))

const tokenOption = Options.text("token").pipe(
  Options.withAlias("t"),
  Options.withDescription(
    "Token sent as `Authorization: Bearer` (stored in registries.json, mode 0600; `fm login` keeps it out of shell history)"
  ),
  Options.optional
)

const onOff = (on: string, off: string, what: string) => ({
  on: Options.boolean(on).pipe(Options.withDescription(what)),
  off: Options.boolean(off).pipe(Options.withDescription(`Undo --${on}`))
})

const publishFlags = onOff("publish", "no-publish", "Allow `fm publish` to this registry (allowed when added)")
const authFlags = onOff("requires-auth", "no-requires-auth", "The registry needs a token for every request")

/** `--X` → true, `--no-X` → false, neither → unchanged; both is a usage error. */
const toggleOf = (flag: string, on: boolean, off: boolean): Effect.Effect<boolean | undefined, UsageError> =>
  on && off
    ? Effect.fail(
      new UsageError({ reason: `--${flag} and --no-${flag} contradict each other`, hint: "give one of them" })
    )
    : Effect.succeed(on ? true : off ? false : undefined)

// ---------------------------------------------------------------------------------------------
// list

const listCommand = Command.make(
  "list",
  {
    all: Options.boolean("all").pipe(
      Options.withAlias("a"),
      Options.withDescription("Also show disabled registries")
    ),
    json
  },
  ({ all, json }) =>
    Effect.gen(function*() {
      const config = yield* RegistryConfig
      const entries = yield* (all ? config.list : config.enabled)
      // the registry used by default: the one marked, else the first enabled one
      const fallback = yield* config.defaultRegistry.pipe(Effect.option)
      const isDefault = (e: RegistryEntry) => Option.isSome(fallback) && fallback.value.name === e.name
      if (json) {
        return yield* printJson(
          entries.map((e) => ({ ...entryJson(e, config.tokenSource(e)), is_default: isDefault(e) }))
        )
      }
      if (entries.length === 0) {
        return yield* Console.log(
          all
            ? `No registries configured in ${config.file}. Add one with \`fm registry add NAME URL\`.`
            : "No enabled registries. Show all with `fm registry list --all`; enable one with `fm registry enable NAME`."
        )
      }
      yield* printTable(
        ["NAME", "URL", "PRIORITY", "ENABLED", "DEFAULT", "PUBLISH", "AUTH", "TOKEN"],
        entries.map((e) => [
          e.name,
          e.url,
          String(e.priority),
          yesNo(e.enabled),
          isDefault(e) ? "*" : "",
          yesNo(e.canPublish),
          e.requiresAuth ? "required" : "no",
          config.tokenSource(e)
        ])
      )
    })
).pipe(Command.withDescription(
  "List registries in the order they are consulted. TOKEN says where a token comes from (config, env or none); the token itself is never shown."
))

// ---------------------------------------------------------------------------------------------
// add

/** `--description TEXT` (of `add` and `set`, which say what it does in their own words). */
const descriptionOption = (help: string) =>
  Options.text("description").pipe(Options.withPseudoName("TEXT"), Options.withDescription(help), Options.optional)

const logKeyOption = Options.text("log-key").pipe(
  Options.withPseudoName("KEY"),
  Options.withDescription(
    "Pin the registry's publish-log key (ORIGIN+KEYID+KEY, as `fm studio log-key` prints it); " +
      "without it, `add` trusts the key the registry names on first contact"
  ),
  Options.optional
)

/** The `--log-key` value, checked. */
const pinnedKey = (flag: Option.Option<string>) =>
  Option.match(flag, {
    onNone: () => Effect.succeed(undefined),
    onSome: (text) =>
      parseVerifier(text) === undefined
        ? Effect.fail(
          new UsageError({
            reason: `--log-key: '${terminalLine(text.slice(0, 120))}' is not a log key`,
            hint: "give the key `fm studio log-key` prints on the registry's host (ORIGIN+KEYID+KEY)"
          })
        )
        : Effect.succeed(text.trim())
  })

const addCommand = Command.make(
  "add",
  {
    name: nameArg,
    url: Args.text({ name: "url" }).pipe(Args.withDescription("Base URL, e.g. https://registry.example.com")),
    token: tokenOption,
    priority: Options.integer("priority").pipe(
      Options.withAlias("p"),
      Options.withDescription("Lower numbers are consulted first"),
      Options.withDefault(100)
    ),
    isDefault: Options.boolean("default").pipe(Options.withDescription("Make it the default registry")),
    publish: publishFlags.on,
    noPublish: publishFlags.off,
    requiresAuth: Options.boolean("requires-auth").pipe(
      Options.withDescription("The registry needs a token for every request")
    ),
    description: descriptionOption("A note shown in lists"),
    logKey: logKeyOption,
    json
  },
  (args) =>
    Effect.gen(function*() {
      const config = yield* RegistryConfig
      const badName = checkRegistryName(args.name)
      if (Option.isSome(badName)) {
        return yield* new UsageError({ reason: `invalid registry name '${args.name}': ${badName.value}` })
      }
      const badUrl = checkRegistryUrl(args.url)
      if (Option.isSome(badUrl)) {
        return yield* new UsageError({ reason: `invalid URL for registry '${args.name}': ${badUrl.value}` })
      }
      const entry = new Entry({
        name: args.name,
        url: args.url.replace(/\/+$/, ""),
        priority: args.priority,
        enabled: true,
        isDefault: args.isDefault,
        canPublish: (yield* toggleOf("publish", args.publish, args.noPublish)) ?? true,
        requiresAuth: args.requiresAuth,
        ...(Option.isSome(args.token) ? { authToken: args.token.value } : {}),
        ...(Option.isSome(args.description) ? { description: args.description.value } : {})
      })
      // fail fast on a duplicate before the network round trip
      const existing = (yield* config.list).find((e) => e.name === entry.name)
      if (existing !== undefined) return yield* new RegistryExists({ name: entry.name, url: existing.url })
      // loaded only here: the HTTP client (undici) is not needed by the other registry commands
      const { checkHealth } = yield* Effect.promise(() => import("../run/RegistryHealth.js"))
      const health = yield* checkHealth(entry.url, Option.map(config.token(entry), Redacted.value))
      // trust on first use: the key the registry names now, unless one is pinned
      const pinned = yield* pinnedKey(args.logKey)
      const named = "log_key" in health ? health.log_key : undefined
      const offered = named !== undefined && parseVerifier(named) !== undefined ? named : undefined
      if (pinned !== undefined && offered !== undefined && offered !== pinned) {
        yield* Console.error(
          `warning: registry '${entry.name}' names another log key than the one pinned; installs from it will fail ` +
            `until the registry signs with the pinned key`
        )
      }
      const logKey = pinned ?? offered
      yield* config.add(logKey === undefined ? entry : new Entry({ ...entry, logKey }))
      if (args.json) {
        return yield* printJson({ ...entryJson(entry, config.tokenSource(entry)), health, saved: true })
      }
      yield* Console.log(
        `Added registry '${entry.name}' (${entry.url}), priority ${entry.priority}` +
          `${entry.isDefault ? ", default" : ""}${entry.canPublish ? ", publishing allowed" : ""}.`
      )
      if (health.ok) {
        const what = health.status ?? "answered"
        const extra = [
          health.registry_name !== undefined ? `name ${health.registry_name}` : undefined,
          health.packages_count !== undefined ? `${health.packages_count} packages` : undefined
        ].filter((s) => s !== undefined)
        yield* Console.log(`Health check: ${what}${extra.length > 0 ? ` (${extra.join(", ")})` : ""}.`)
      } else {
        yield* warn(
          `registry '${entry.name}' did not answer its health check (${health.error}). It was saved ENABLED ` +
            `anyway; check the URL, or run \`fm registry disable ${entry.name}\` until it is reachable.`
        )
      }
    })
).pipe(Command.withDescription(
  "Add a registry. Its health is checked; an unreachable registry is saved enabled anyway, with a warning. Change it later with `fm registry set`."
))

// ---------------------------------------------------------------------------------------------
// set

const setCommand = Command.make(
  "set",
  {
    name: nameArg,
    url: Options.text("url").pipe(Options.withDescription("A new base URL"), Options.optional),
    token: tokenOption,
    noToken: Options.boolean("no-token").pipe(Options.withDescription("Forget the stored token")),
    priority: Options.integer("priority").pipe(
      Options.withAlias("p"),
      Options.withDescription("Lower numbers are consulted first"),
      Options.optional
    ),
    publish: publishFlags.on,
    noPublish: publishFlags.off,
    requiresAuth: authFlags.on,
    noRequiresAuth: authFlags.off,
    description: descriptionOption("A note shown in lists (\"\" removes it)"),
    logKey: logKeyOption,
    json
  },
  (args) =>
    Effect.gen(function*() {
      const config = yield* RegistryConfig
      const canPublish = yield* toggleOf("publish", args.publish, args.noPublish)
      const requiresAuth = yield* toggleOf("requires-auth", args.requiresAuth, args.noRequiresAuth)
      if (Option.isSome(args.token) && args.noToken) {
        return yield* new UsageError({
          reason: "--token and --no-token contradict each other",
          hint: "give one of them"
        })
      }
      if (Option.isSome(args.url)) {
        const badUrl = checkRegistryUrl(args.url.value)
        if (Option.isSome(badUrl)) {
          return yield* new UsageError({ reason: `--url: invalid URL for registry '${args.name}': ${badUrl.value}` })
        }
      }
      const logKey = yield* pinnedKey(args.logKey)
      const patch: RegistryPatch = {
        ...(Option.isSome(args.url) ? { url: args.url.value.replace(/\/+$/, "") } : {}),
        ...(Option.isSome(args.token) ? { authToken: args.token.value } : args.noToken ? { authToken: null } : {}),
        ...(Option.isSome(args.priority) ? { priority: args.priority.value } : {}),
        ...(canPublish === undefined ? {} : { canPublish }),
        ...(requiresAuth === undefined ? {} : { requiresAuth }),
        ...(Option.isSome(args.description)
          ? { description: args.description.value === "" ? null : args.description.value }
          : {}),
        ...(logKey === undefined ? {} : { logKey })
      }
      if (Object.keys(patch).length === 0) {
        return yield* new UsageError({
          reason: `nothing to change for registry '${args.name}'`,
          hint: `give what to change, e.g. fm registry set ${args.name} --priority 10 (see 'fm registry set --help')`
        })
      }
      yield* config.update(args.name, patch)
      const entry = yield* config.get(args.name)
      if (args.json) return yield* printJson(entryJson(entry, config.tokenSource(entry)))
      const changed = Object.keys(patch).map((k) =>
        k === "authToken" ? "token" : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
      )
      yield* Console.log(`Updated registry '${entry.name}': ${changed.join(", ")}.`)
    })
).pipe(Command.withDescription(
  "Change a registry's settings. Only the settings given change; the others are kept."
))

// ---------------------------------------------------------------------------------------------
// remove, set-default, enable, disable

const removeCommand = Command.make(
  "remove",
  {
    name: nameArg,
    yes: Options.boolean("yes").pipe(Options.withAlias("y"), Options.withDescription("Do not ask for confirmation")),
    json
  },
  ({ json, name, yes }) =>
    Effect.gen(function*() {
      const config = yield* RegistryConfig
      const entry = yield* config.get(name)
      if (!yes) {
        if (!isInteractive()) {
          return yield* new UsageError({
            reason: `not removing registry '${name}' without confirmation`,
            hint: `pass --yes to remove it non-interactively: fm registry remove ${name} --yes`
          })
        }
        const ok = yield* Prompt.confirm({ message: `Remove registry '${name}' (${entry.url})?`, initial: false })
        if (!ok) return yield* Console.log("Nothing removed.")
      }
      yield* config.remove(name)
      if (json) return yield* printJson({ removed: name })
      yield* Console.log(`Removed registry '${name}' (${entry.url}).`)
      if (entry.isDefault) {
        const next = yield* config.defaultRegistry.pipe(Effect.option)
        yield* Console.log(
          Option.match(next, {
            onNone: () => "It was the default; no enabled registry is left.",
            onSome: (n) =>
              `It was the default; '${n.name}' is used by default now (change with \`fm registry set-default NAME\`).`
          })
        )
      }
    })
).pipe(Command.withDescription("Remove a registry. Asks first on a terminal; pass --yes in scripts."))

const setDefaultCommand = Command.make(
  "set-default",
  { name: nameArg, json },
  ({ json, name }) =>
    Effect.gen(function*() {
      const config = yield* RegistryConfig
      yield* config.setDefault(name)
      const entry = yield* config.get(name)
      if (json) return yield* printJson(entryJson(entry, config.tokenSource(entry)))
      yield* Console.log(`'${name}' is now the default registry.`)
      if (!entry.enabled) yield* warn(`registry '${name}' is disabled; enable it with \`fm registry enable ${name}\``)
    })
).pipe(
  Command.withDescription("Make a registry the default. The default is where `fm publish` goes without --registry.")
)

const toggle = (on: boolean) =>
  Command.make(on ? "enable" : "disable", { name: nameArg, json }, ({ json, name }) =>
    Effect.gen(function*() {
      const config = yield* RegistryConfig
      yield* config.setEnabled(name, on)
      const entry = yield* config.get(name)
      if (json) return yield* printJson(entryJson(entry, config.tokenSource(entry)))
      yield* Console.log(`Registry '${name}' is now ${on ? "enabled" : "disabled"}.`)
    })).pipe(Command.withDescription(
      on ? "Enable a registry. It is consulted again." : "Disable a registry. It is kept, but not consulted."
    ))

// ---------------------------------------------------------------------------------------------
// cache

const cacheCommand = Command.make(
  "cache",
  {
    clear: Options.boolean("clear").pipe(Options.withDescription("Remove cached packages")),
    olderThan: Options.integer("older-than").pipe(
      Options.withDescription("With --clear: only those not used for DAYS days"),
      Options.withPseudoName("DAYS"),
      Options.optional
    ),
    json
  },
  ({ clear, json, olderThan }) =>
    Effect.gen(function*() {
      const cache = yield* PackageCache
      if (Option.isSome(olderThan) && !clear) {
        return yield* new UsageError({
          reason: "--older-than only makes sense with --clear",
          hint: `fm registry cache --clear --older-than ${olderThan.value}`
        })
      }
      if (Option.isSome(olderThan) && olderThan.value < 0) {
        return yield* new UsageError({ reason: `--older-than must be 0 or more days (got ${olderThan.value})` })
      }
      if (clear) {
        const result = yield* cache.clear(Option.getOrUndefined(olderThan))
        if (json) return yield* printJson({ ...result, cache_dir: cache.dir })
        const scope = Option.match(olderThan, { onNone: () => "", onSome: (d) => ` not used for ${d} days` })
        return yield* Console.log(
          `Removed ${result.removed} cached package version(s)${scope}; freed ${formatBytes(result.freed_bytes)}.`
        )
      }
      const stats = yield* cache.stats
      if (json) return yield* printJson(stats)
      yield* printTable(["CACHE", "PACKAGES", "SIZE"], [[
        stats.cache_dir,
        String(stats.packages),
        formatBytes(stats.total_size_bytes)
      ]])
    })
).pipe(
  Command.withDescription("Show the download cache's size, or clear it"),
  Command.provide(PackageCache.Default)
)

// ---------------------------------------------------------------------------------------------

// The services are built on the platform layer `Main.ts` has already built (their `Default`s
// need a `FileSystem` and build no platform of their own), and only for the subcommands that use
// them (the download cache for `cache`).

/**
 * `fm registry`: manage the configured registries and the download cache.
 * @since 0.1.0
 * @category commands
 */
export const registry = Command.make("registry").pipe(
  Command.withDescription(
    "Manage registries and the download cache. Registries are kept in ~/.flowmason/registries.json."
  ),
  Command.withSubcommands([
    listCommand,
    addCommand,
    setCommand,
    removeCommand,
    setDefaultCommand,
    toggle(true),
    toggle(false),
    cacheCommand,
    verifyCommand
  ]),
  Command.provide(RegistryConfig.Default)
)
