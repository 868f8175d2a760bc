/**
 * Where fm keeps its files: `~/.flowmason`, or `$FLOWMASON_HOME` when set (tests always set it,
 * so they never touch the real home).
 * @since 0.1.0
 */
import { Config, Effect, Layer } from "effect"
import * as os from "node:os"
import * as path from "node:path"

/**
 * The well-known paths below a FlowMason home directory.
 * @since 0.1.0
 * @category models
 */
export interface HomePaths {
  /** The home directory itself. */
  readonly home: string
  /** `registries.json`: the configured registries. */
  readonly registriesFile: string
  /** The download cache. */
  readonly cacheDir: string
  /** Where `fm install NAME` puts packages by default (what FlowMason Studio scans). */
  readonly packagesDir: string
  /** The embedded registry server's default data directory. */
  readonly registryDir: string
}

/**
 * The paths below a given home directory.
 * @since 0.1.0
 */
export const homePaths = (home: string): HomePaths => ({
  home,
  registriesFile: path.join(home, "registries.json"),
  cacheDir: path.join(home, "cache", "packages"),
  packagesDir: path.join(home, "packages"),
  registryDir: path.join(home, "registry")
})

/**
 * The FlowMason home directory and the well-known paths below it.
 * @since 0.1.0
 * @category services
 */
export class FlowmasonHome extends Effect.Service<FlowmasonHome>()("fm/FlowmasonHome", {
  effect: Effect.gen(function*() {
    const fromEnv = yield* Config.string("FLOWMASON_HOME").pipe(Config.option)
    const home = fromEnv._tag === "Some" && fromEnv.value !== ""
      ? path.resolve(fromEnv.value)
      : path.join(os.homedir(), ".flowmason")
    return homePaths(home)
  })
}) {}

/**
 * A layer with a fixed home directory (for tests and embedding programs).
 * @since 0.1.0
 * @category layers
 */
export const layerAt = (home: string): Layer.Layer<FlowmasonHome> =>
  Layer.succeed(FlowmasonHome, FlowmasonHome.make(homePaths(path.resolve(home))))
