/**
 * The availability of one registry during one command. The first contact is a single attempt
 * (a client without retries) and the other calls wait for it; as soon as the registry answers
 * anything (even a 404 or a 5xx) it is up and every call goes through the retrying client. When
 * the first contact fails without any answer (connection refused or dropped, DNS, timeout), the
 * registry is down for the rest of the command: one warning line names it, and every later call
 * fails at once with `RegistryUnavailable`, without touching the network, so the typed fallbacks
 * move on to the next registry. A dead registry thus costs one connection attempt per command.
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { Cause, Deferred, type Duration, Effect, Exit, FiberId, Option, Stream } from "effect"
import { RegistryUnavailable, type RemoteRegistry } from "./RemoteRegistry.js"

type State =
  | { readonly _tag: "Unknown" }
  | { readonly _tag: "Probing"; readonly done: Deferred.Deferred<void> }
  | { readonly _tag: "Up" }
  | { readonly _tag: "Down"; readonly error: RegistryUnavailable }

/**
 * The availability tracker of one registry (see the module comment).
 * @since 0.1.0
 * @category models
 */
export interface Tracker {
  /** The HTTP client both of the registry's clients must be built on: it notices every answer. */
  readonly observe: (client: HttpClient.HttpClient) => HttpClient.HttpClient
  /**
   * One registry client: `probe` (no retries) for the first contact, `main` afterwards. When the
   * first contact is answered with a transient failure (a 5xx), `again` (if any: the retries left
   * after that attempt) repeats it after `retryDelay`, so the attempts are never more than the
   * configured retries plus one.
   */
  readonly gate: (
    probe: RemoteRegistry,
    main: RemoteRegistry,
    again: { readonly client: RemoteRegistry; readonly retryDelay: Duration.DurationInput } | undefined
  ) => RemoteRegistry
  /** Whether the registry was found down in this command. */
  readonly isDown: () => boolean
  /** The registry answered (for transports other than the observed client: downloads). */
  readonly answered: () => void
}

const isUnavailable = (e: unknown): e is RegistryUnavailable =>
  typeof e === "object" && e !== null && "_tag" in e && e._tag === "RegistryUnavailable"

/**
 * A tracker for one registry, for the life of one command.
 * @since 0.1.0
 * @category constructors
 */
export const tracker = (target: { readonly name: string; readonly url: string }): Tracker => {
  let state: State = { _tag: "Unknown" }

  /** Any answer proves the registry reachable: release the calls waiting for the first contact. */
  const answered = () => {
    if (state._tag === "Probing") {
      const done = state.done
      state = { _tag: "Up" }
      Deferred.unsafeDone(done, Exit.void)
    } else if (state._tag === "Unknown") {
      state = { _tag: "Up" }
    }
  }

  /** The first contact ended; if no answer came, a transport failure marks the registry down. */
  const settle = (exit: Exit.Exit<unknown, unknown>, done: Deferred.Deferred<void>) =>
    Effect.suspend(() => {
      if (state._tag !== "Probing" || state.done !== done) return Effect.void
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      let warn = Effect.void
      if (Option.isSome(failure) && isUnavailable(failure.value)) {
        const reason = failure.value.reason
        state = {
          _tag: "Down",
          error: new RegistryUnavailable({
            registry: target.name,
            url: target.url,
            reason: `${reason} (first attempt of this command; not tried again)`
          })
        }
        warn = Effect.logWarning(
          `registry ${target.name} (${target.url}) is unavailable (${reason}); skipping it for the rest of this command`
        )
      } else {
        state = Exit.isSuccess(exit) ? { _tag: "Up" } : { _tag: "Unknown" } // interrupted: the next call probes again
      }
      return Effect.zipRight(Deferred.succeed(done, undefined), warn)
    })

  /** Waits (interruptibly) while a first contact is under way. */
  const waitTurn: Effect.Effect<void> = Effect.suspend(() =>
    state._tag === "Probing" ? Effect.zipRight(Deferred.await(state.done), waitTurn) : Effect.void
  )

  /**
   * The client to use now (never waits; run uninterruptibly, so that a first contact always gets
   * settled): `main` once the registry is up; for a first contact `probe`, with the `first` to
   * settle when that call ends; a failure at once when it is down; `"wait"` when another call
   * became the first contact meanwhile.
   */
  type Claim = { readonly client: RemoteRegistry; readonly first?: Deferred.Deferred<void> } | "wait"
  const claim = (probe: RemoteRegistry, main: RemoteRegistry): Effect.Effect<Claim, RegistryUnavailable> =>
    Effect.suspend((): Effect.Effect<Claim, RegistryUnavailable> => {
      switch (state._tag) {
        case "Up":
          return Effect.succeed({ client: main })
        case "Down":
          return Effect.fail(state.error)
        case "Probing":
          return Effect.succeed("wait" as const)
        case "Unknown": {
          const done = Deferred.unsafeMake<void>(FiberId.none)
          state = { _tag: "Probing", done }
          return Effect.succeed({ client: probe, first: done })
        }
      }
    })

  const release = (c: Claim, exit: Exit.Exit<unknown, unknown>) =>
    c !== "wait" && c.first !== undefined ? settle(exit, c.first) : Effect.void

  type Again = Parameters<Tracker["gate"]>[2]

  const run = <A, E>(
    call: (r: RemoteRegistry) => Effect.Effect<A, E>,
    probe: RemoteRegistry,
    main: RemoteRegistry,
    again: Again
  ): Effect.Effect<A, E | RegistryUnavailable> =>
    Effect.zipRight(
      waitTurn,
      Effect.acquireUseRelease(claim(probe, main), (c): Effect.Effect<A, E | RegistryUnavailable> =>
        c === "wait"
          ? run(call, probe, main, again)
          : c.first === undefined || again === undefined
          ? call(c.client)
          // it answered, with a transient failure (a 5xx): again, after a pause, with the retries left
          : Effect.catchIf(
            call(c.client),
            (e) => isUnavailable(e) && state._tag === "Up",
            () => Effect.zipRight(Effect.sleep(again.retryDelay), call(again.client))
          ), release)
    )

  const runStream = <A, E>(
    call: (r: RemoteRegistry) => Stream.Stream<A, E>,
    probe: RemoteRegistry,
    main: RemoteRegistry
  ): Stream.Stream<A, E | RegistryUnavailable> =>
    Stream.unwrapScoped(
      Effect.zipRight(
        waitTurn,
        Effect.map(
          Effect.acquireRelease(claim(probe, main), release),
          (c) => (c === "wait" ? runStream(call, probe, main) : call(c.client))
        )
      )
    )

  return {
    observe: (client) => HttpClient.transformResponse(client, Effect.tap(() => Effect.sync(answered))),
    gate: (probe, main, again) => ({
      name: main.name,
      url: main.url,
      health: run((r) => r.health, probe, main, again),
      search: (query) => run((r) => r.search(query), probe, main, again),
      versions: (name) => run((r) => r.versions(name), probe, main, again),
      resolve: (name, spec) => run((r) => r.resolve(name, spec), probe, main, again),
      download: (info) => runStream((r) => r.download(info), probe, main),
      // as `download`: a first contact answered with a 5xx is not repeated here
      downloadBytes: (info) => run((r) => r.downloadBytes(info), probe, main, undefined),
      publish: (file, upload) => run((r) => r.publish(file, upload), probe, main, again),
      logProof: (index, old) => run((r) => r.logProof(index, old), probe, main, again),
      logProofs: (indexes, old, size) => run((r) => r.logProofs(indexes, old, size), probe, main, again),
      logCheckpoint: run((r) => r.logCheckpoint, probe, main, again),
      logEntries: (start, end) => run((r) => r.logEntries(start, end), probe, main, again),
      logConsistency: (oldSize, newSize) => run((r) => r.logConsistency(oldSize, newSize), probe, main, again)
    }),
    isDown: () => state._tag === "Down",
    answered
  }
}
