// The whole registry server (API, request log, {detail} errors) on PostgreSQL: metadata and archives
// in the database, so several replicas can share it.
import { HttpServer } from "@effect/platform"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Config, Effect, Layer } from "effect"
import { RegistryServer, Storage } from "fm/server"

const ServerLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const databaseUrl = yield* Config.string("DATABASE_URL") // postgres://user:password@host:5432/db
    const dataDir = yield* Config.string("DATA_DIR") // temp files of uploads
    const port = yield* Config.integer("PORT").pipe(Config.withDefault(8080))
    const storage = Storage.layer({ dataDir, databaseUrl })
    return RegistryServer.serve({ dataDir, host: "127.0.0.1", port }, undefined, storage).pipe(
      HttpServer.withLogAddress
    )
  })
)

Layer.launch(ServerLive).pipe(NodeRuntime.runMain)
