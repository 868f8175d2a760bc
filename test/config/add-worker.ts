/**
 * A separate process adding registries (used by RegistryConfig.test.ts to check that concurrent
 * `fm` processes do not lose each other's changes). Usage:
 *   node --import tsx test/config/add-worker.ts <home> <prefix> <count> <go-file>
 * Prints "ready" once loaded, then waits for <go-file> to exist so both workers start together.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import { RegistryConfigLive } from "../../src/client/ClientLayers.js"
import { RegistryConfig, RegistryEntry } from "../../src/client/RegistryConfig.js"
import { layerAt } from "../../src/shared/FlowmasonHome.js"

const [home, prefix, countText, goFile] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const config = yield* RegistryConfig
  process.stdout.write("ready\n")
  for (let i = 0; i < 6000 && !fs.existsSync(goFile!); i++) {
    yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
  }
  for (let i = 0; i < Number(countText); i++) {
    yield* config.add(new RegistryEntry({ name: `${prefix}-${i}`, url: `https://${prefix}-${i}.test`, priority: i }))
  }
})

Effect.runPromise(program.pipe(Effect.provide(RegistryConfigLive.pipe(Layer.provide(layerAt(home!)))))).then(
  () => process.exit(0),
  (e) => {
    console.error(String(e))
    process.exit(1)
  }
)
