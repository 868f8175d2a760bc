/**
 * The client's retry schedule, driven by the `TestClock`: a registry answering 503 gets exactly
 * `FLOWMASON_HTTP_RETRIES + 1` requests, each retry only after its (jittered, exponential) delay.
 * The registry is a real stand-in on 127.0.0.1; only time is simulated.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { clientLayerAt } from "../../src/client/ClientLayers.js"
import { Registries } from "../../src/client/Registries.js"
import { type StandIn, startStandIn, writeRegistries } from "../helpers/quirky-server.js"
import { settingsLayer } from "../helpers/settings.js"

/** Two retries, 10 s apart at first: far longer than the test runs, unless the clock is moved. */
const settings = settingsLayer({
  FLOWMASON_HTTP_RETRIES: "2",
  FLOWMASON_HTTP_RETRY_DELAY_MS: "10000",
  FLOWMASON_HTTP_TIMEOUT: "300"
})

const servers: Array<StandIn> = []
const dirs: Array<string> = []
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()))
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

/** Waits (in real time, at most 5 s) until the stand-in has seen `n` requests for the package. */
const requestsReach = (server: StandIn, n: number) =>
  Effect.promise(async () => {
    for (let i = 0; i < 500 && seen(server) < n; i++) await new Promise((r) => setTimeout(r, 10))
    return seen(server)
  })
const seen = (server: StandIn) => server.log.filter((l) => l.url.includes("/packages/alpha")).length
/** A real pause, for requests that should NOT come. */
const quiet = Effect.promise(() => new Promise((r) => setTimeout(r, 200)))

describe("retries on the TestClock", () => {
  it.effect(
    "503: one first contact, then the retries left, each after its delay; never one more",
    () =>
      Effect.gen(function*() {
        const server = yield* Effect.promise(() => startStandIn({ failAll: 503 }))
        servers.push(server)
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "fm-retry-clock-"))
        dirs.push(home)
        writeRegistries(home, [{ name: "sick", url: server.url }])

        const fiber = yield* Effect.flatMap(Registries, (r) => r.getPackage("alpha")).pipe(
          Effect.provide(clientLayerAt(home).pipe(Layer.provide(settings))),
          Effect.fork
        )
        // the first contact: one request, and nothing more while the clock stands still
        assert.strictEqual(yield* requestsReach(server, 1), 1)
        yield* quiet
        assert.strictEqual(seen(server), 1)
        // the first retry waits the retry delay (10 s)
        yield* TestClock.adjust("9 seconds")
        yield* quiet
        assert.strictEqual(seen(server), 1)
        yield* TestClock.adjust("1 second")
        assert.strictEqual(yield* requestsReach(server, 2), 2)
        // the next one is jittered around 10 s (8 to 12 s)
        yield* TestClock.adjust("7 seconds")
        yield* quiet
        assert.strictEqual(seen(server), 2)
        yield* TestClock.adjust("5 seconds")
        assert.strictEqual(yield* requestsReach(server, 3), 3)
        // two retries were allowed: the call fails, and no fourth request is ever sent
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isFailure(exit))
        yield* TestClock.adjust("60 seconds")
        yield* quiet
        assert.strictEqual(seen(server), 3)
      }),
    30_000
  )
})
