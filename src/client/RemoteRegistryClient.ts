/**
 * The library API for programs that do not use Effect: `getRemoteRegistry()` returns a
 * {@link RemoteRegistryClient} whose methods return promises (the spec's Python API, camelCase).
 * It is a thin facade over the Effect services, run by a `ManagedRuntime`; a rejected promise
 * carries the typed error itself (`PackageNotFound`, `RegistriesExhausted`, `ChecksumMismatch`,
 * `AuthenticationFailed`, ...), each an `Error` with a `_tag` and a message naming the package
 * and the registry. Effect programs use `ClientLive` and the services directly.
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import { Cause, type ConfigProvider, Effect, Exit, Layer, ManagedRuntime, Option } from "effect"
import type { PackageInfo } from "../api/Models.js"
import type { FlowmasonHome } from "../shared/FlowmasonHome.js"
import type { ClientServices } from "./ClientLayers.js"
import { clientLayerAt, ClientLive } from "./ClientLayers.js"
import { Installer } from "./Installer.js"
import type { CacheStats, ClearResult } from "./PackageCache.js"
import { PackageCache } from "./PackageCache.js"
import { Publisher } from "./Publisher.js"
import { Registries } from "./Registries.js"
import { RegistryConfig, RegistryEntry } from "./RegistryConfig.js"
import type { RemoteError, VersionList } from "./RemoteRegistry.js"

/**
 * A package version together with the registry it came from.
 * @since 0.1.0
 * @category models
 */
export type RegistryPackage = PackageInfo & { readonly registry: string }

/**
 * The answer of {@link RemoteRegistryClient.search}.
 * @since 0.1.0
 * @category models
 */
export interface SearchResults {
  /** Merged hits: one per normalized name@version, from the highest-priority registry. */
  readonly packages: ReadonlyArray<RegistryPackage>
  readonly totalCount: number
  /** Registries that failed to answer (the others' results are still returned). */
  readonly errors: ReadonlyArray<{ readonly registry: string; readonly error: RemoteError }>
}

/**
 * What {@link RemoteRegistryClient.addRegistry} takes.
 * @since 0.1.0
 * @category models
 */
export interface AddRegistryOptions {
  readonly name: string
  readonly url: string
  readonly authToken?: string | undefined
  /** Lower is consulted first; default 100. */
  readonly priority?: number | undefined
  readonly enabled?: boolean | undefined
  readonly isDefault?: boolean | undefined
  readonly canPublish?: boolean | undefined
  readonly requiresAuth?: boolean | undefined
  readonly description?: string | undefined
}

/**
 * Options of {@link getRemoteRegistry}.
 * @since 0.1.0
 * @category models
 */
export interface RemoteRegistryClientOptions {
  /** The FlowMason home directory; default `$FLOWMASON_HOME` or `~/.flowmason`. */
  readonly home?: string | undefined
  /**
   * Where the client's settings (`FLOWMASON_HTTP_RETRIES`, ...) are read; default the environment.
   * @since 0.1.0
   */
  readonly configProvider?: ConfigProvider.ConfigProvider | undefined
}

type Services = ClientServices | FlowmasonHome | HttpClient.HttpClient

const withRegistry = (registry: string, info: PackageInfo): RegistryPackage => ({ ...info, registry })

/**
 * The promise client. Create it with {@link getRemoteRegistry}; call `dispose()` when done
 * (it closes the HTTP connections).
 * @since 0.1.0
 * @category models
 */
export class RemoteRegistryClient {
  /**
   * The client services, built on first use and released by `dispose()`.
   * @since 0.1.0
   */
  readonly #runtime: ManagedRuntime.ManagedRuntime<Services, never>

  /**
   * Prefer {@link getRemoteRegistry}.
   * @since 0.1.0
   */
  constructor(options: RemoteRegistryClientOptions = {}) {
    const services = options.home === undefined ? ClientLive : clientLayerAt(options.home)
    this.#runtime = ManagedRuntime.make(
      options.configProvider === undefined
        ? services
        : Layer.provide(services, Layer.setConfigProvider(options.configProvider))
    )
  }

  /**
   * Runs an effect; a failure rejects with the typed error itself.
   * @since 0.1.0
   */
  #run<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> {
    return this.#runtime.runPromiseExit(effect).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      const failure = Cause.failureOption(exit.cause)
      throw Option.isSome(failure) ? failure.value : Cause.squash(exit.cause)
    })
  }

  /**
   * Adds a registry to `registries.json`.
   * @since 0.1.0
   */
  addRegistry(options: AddRegistryOptions): Promise<RegistryEntry> {
    const entry = new RegistryEntry({
      name: options.name,
      url: options.url,
      ...(options.authToken === undefined ? {} : { authToken: options.authToken }),
      priority: options.priority ?? 100,
      enabled: options.enabled ?? true,
      isDefault: options.isDefault ?? false,
      canPublish: options.canPublish ?? false,
      requiresAuth: options.requiresAuth ?? false,
      ...(options.description === undefined ? {} : { description: options.description })
    })
    return this.#run(Effect.flatMap(RegistryConfig, (c) => Effect.as(c.add(entry), entry)))
  }

  /**
   * Removes a registry.
   * @since 0.1.0
   */
  removeRegistry(name: string): Promise<void> {
    return this.#run(Effect.flatMap(RegistryConfig, (c) => c.remove(name)))
  }

  /**
   * The configured registries in priority order (enabled ones only unless `all`).
   * @since 0.1.0
   */
  listRegistries(options: { readonly all?: boolean } = {}): Promise<ReadonlyArray<RegistryEntry>> {
    return this.#run(Effect.flatMap(RegistryConfig, (c) => (options.all === true ? c.list : c.enabled)))
  }

  /**
   * Searches every enabled registry (or one) at once.
   * @since 0.1.0
   */
  search(
    query: string,
    options: {
      readonly registry?: string
      readonly category?: string
      readonly page?: number
      readonly pageSize?: number
    } = {}
  ): Promise<SearchResults> {
    return this.#run(
      Effect.flatMap(Registries, (r) => r.search(query, options)).pipe(
        Effect.map((res) => ({
          packages: res.packages.map((h) => withRegistry(h.registry, h.package)),
          totalCount: res.totalCount,
          errors: res.errors
        }))
      )
    )
  }

  /**
   * A package version's info (default: the latest release), from the first registry that has it.
   * @since 0.1.0
   */
  getPackage(
    name: string,
    options: { readonly version?: string; readonly registry?: string } = {}
  ): Promise<RegistryPackage> {
    return this.#run(
      Effect.flatMap(Registries, (r) => r.getPackage(name, options)).pipe(
        Effect.map((found) => withRegistry(found.registry, found.info))
      )
    )
  }

  /**
   * A package's versions (with yank marks and dates when the registry knows them).
   * @since 0.1.0
   */
  listVersions(name: string, options: { readonly registry?: string } = {}): Promise<VersionList> {
    return this.#run(Effect.flatMap(Registries, (r) => r.listVersions(name, options)))
  }

  /**
   * Downloads a version into the cache and returns the cached file's path. `verify: false` skips
   * the SHA-256 check (a warning is logged; not recommended).
   * @since 0.1.0
   */
  download(
    name: string,
    options: { readonly version?: string; readonly verify?: boolean; readonly registry?: string } = {}
  ): Promise<string> {
    return this.#run(Effect.flatMap(Registries, (r) => r.fetch(name, options)).pipe(Effect.map((f) => f.cached.path)))
  }

  /**
   * Installs a package (or a local `.fmpkg` path) and returns the installed file's path.
   * @since 0.1.0
   */
  install(
    name: string,
    options: {
      readonly version?: string
      readonly registry?: string
      readonly dir?: string
      readonly extract?: boolean
    } = {}
  ): Promise<string> {
    return this.#run(Effect.flatMap(Installer, (i) => i.install(name, options)).pipe(Effect.map((r) => r.path)))
  }

  /**
   * Publishes a `.fmpkg` to `registry` (default: the default registry).
   * @since 0.1.0
   */
  publish(path: string, options: { readonly registry?: string } = {}): Promise<RegistryPackage> {
    return this.#run(
      Effect.flatMap(Publisher, (p) => p.publish(path, options)).pipe(
        Effect.map((p) => withRegistry(p.registry, p.info))
      )
    )
  }

  /**
   * Clears the download cache (all of it, or entries unused for `olderThanDays`).
   * @since 0.1.0
   */
  clearCache(options: { readonly olderThanDays?: number } = {}): Promise<ClearResult> {
    return this.#run(Effect.flatMap(PackageCache, (c) => c.clear(options.olderThanDays)))
  }

  /**
   * Cache statistics (`packages`, `total_size_bytes`, `cache_dir`).
   * @since 0.1.0
   */
  getCacheStats(): Promise<CacheStats> {
    return this.#run(Effect.flatMap(PackageCache, (c) => c.stats))
  }

  /**
   * Releases the runtime (HTTP connections). The client cannot be used afterwards.
   * @since 0.1.0
   */
  dispose(): Promise<void> {
    if (global === this) global = undefined
    return this.#runtime.dispose()
  }
}

let global: RemoteRegistryClient | undefined

/**
 * The client: with no options the process-wide one (created on first use), else a new one with
 * its own home directory.
 *
 * @example
 * ```ts
 * import { getRemoteRegistry } from "fm"
 *
 * export const summarizers = async (home: string): Promise<Array<string>> => {
 *   const client = getRemoteRegistry({ home })
 *   try {
 *     await client.addRegistry({ name: "primary", url: "https://registry.example.com", priority: 10 })
 *     const results = await client.search("summarizer")
 *     return results.packages.map((p) => `${p.name} ${p.version} (${p.registry})`)
 *   } finally {
 *     await client.dispose()
 *   }
 * }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const getRemoteRegistry = (options?: RemoteRegistryClientOptions): RemoteRegistryClient => {
  if (options !== undefined) return new RemoteRegistryClient(options)
  global ??= new RemoteRegistryClient()
  return global
}
