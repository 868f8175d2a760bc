/**
 * A stand-alone entry for the registry server: the `fm studio` command tree on its own
 * (`node --import tsx src/cli/StudioMain.ts start --port 0 ...`). Tests and benchmarks start real
 * servers through it without building the whole CLI bundle.
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer } from "effect"
import { FlowmasonHome } from "../shared/FlowmasonHome.js"
import { FM_VERSION } from "../shared/FmVersion.js"
import { studio } from "./commands/studio.js"

const run = Command.run(studio, { name: "fm studio", version: FM_VERSION })

const main: Effect.Effect<void, unknown> = run(process.argv).pipe(
  Effect.tapError((e) => Console.error(`error: ${e instanceof Error ? e.message : String(e)}`)),
  Effect.provide(Layer.mergeAll(NodeContext.layer, FlowmasonHome.Default))
)

NodeRuntime.runMain(main, { disableErrorReporting: true })
