// Search the registries and install a package, with your app's own HttpClient (here the fetch
// one), file system and FlowMason home.
import { FetchHttpClient } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Config, Console, Effect, Layer } from "effect"
import { ClientServicesLive, FlowmasonHome, Installer, Registries, RegistryConfig } from "fm/client"

const program = Effect.gen(function*() {
  const url = yield* Config.string("REGISTRY_URL")
  const config = yield* RegistryConfig.RegistryConfig
  yield* config.add(new RegistryConfig.RegistryEntry({ name: "team", url, priority: 0 }))

  const registries = yield* Registries.Registries
  const found = yield* registries.search("hello")
  for (const hit of found.packages) yield* Console.log(`found ${hit.package.name} on ${hit.registry}`)

  const installer = yield* Installer.Installer
  const installed = yield* installer.install("hello-flow", { extract: true })
  yield* Console.log(`installed ${installed.name}@${installed.version} in ${installed.extractedTo}`)
})

// ClientServicesLive needs an HttpClient, a FileSystem and the FlowmasonHome
// ($FLOWMASON_HOME, else ~/.flowmason): give it yours.
const ClientLayer = ClientServicesLive.pipe(
  Layer.provide([FetchHttpClient.layer, NodeFileSystem.layer, FlowmasonHome.FlowmasonHome.Default])
)

program.pipe(Effect.provide(ClientLayer), NodeRuntime.runMain)
