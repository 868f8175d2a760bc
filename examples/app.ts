// Your HTTP app with the fm registry API mounted beside its own routes.
import { HttpApiBuilder, HttpMiddleware, HttpServer, HttpServerResponse } from "@effect/platform"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Config, Effect, FiberRef, Layer } from "effect"
import { RegistryServer } from "fm/server"

// a route of your own, next to /api/v1/registry/...
const HelloRoute = HttpApiBuilder.Router.use((router) =>
  router.get("/hello", HttpServerResponse.text("hello from my app"))
)

const AppLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const dataDir = yield* Config.string("DATA_DIR") // SQLite + archives live here
    const port = yield* Config.integer("PORT").pipe(Config.withDefault(8080))
    return HttpApiBuilder.serve().pipe(
      // as fm studio start: no spans (per request or inside one), answers held in memory written at once
      HttpMiddleware.withTracerDisabledWhen(() => true),
      Layer.locally(FiberRef.currentTracerEnabled, false),
      RegistryServer.sendInMemoryAnswersAtOnce,
      Layer.provide(HelloRoute),
      Layer.provide(RegistryServer.layer({ dataDir })),
      HttpServer.withLogAddress,
      // fm studio start's node:http server: its limits, bounded stop and replayed answers
      Layer.provide(RegistryServer.nodeServerLayer({ host: "127.0.0.1", port }))
    )
  })
)

Layer.launch(AppLive).pipe(NodeRuntime.runMain)
