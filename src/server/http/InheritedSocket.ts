/**
 * A listening socket handed to the server by the process that started it, so that it outlives
 * the server (a successor serves on the same socket, with no gap): systemd socket activation
 * (`LISTEN_FDS`, with `LISTEN_PID` naming the process they are for; the socket is fd 3) or an
 * explicit file descriptor (`fm studio start --listen-fd N`). Checked before the server uses it.
 * @since 0.1.0
 */
import type { ConfigError } from "effect"
import { Data, Effect, Option } from "effect"
import * as Fs from "node:fs"
import * as Settings from "../../shared/Settings.js"

/**
 * The first file descriptor systemd passes (`SD_LISTEN_FDS_START`).
 * @since 0.1.0
 */
export const SD_LISTEN_FDS_START = 3

/**
 * An inherited socket that cannot be used: the variables are for another process, or the file
 * descriptor is not open or not a socket.
 * @since 0.1.0
 * @category errors
 */
export class InheritedSocketError extends Data.TaggedError("InheritedSocketError")<{
  readonly reason: string
  readonly hint: string
}> {
  override get message(): string {
    return this.reason
  }
}

const systemdHint = "see 'Restarts without a gap' in the README (one ListenStream= socket, fm as the service)"

/**
 * systemd socket activation: `Option.some(3)` when `LISTEN_FDS` is set. When `LISTEN_PID` is set
 * it must be this process (else the variables were inherited from the process they were for);
 * `LISTEN_FDS` must be 1 (fm serves one socket).
 * @since 0.1.0
 */
export const fromSystemd: Effect.Effect<Option.Option<number>, InheritedSocketError | ConfigError.ConfigError> = Effect
  .gen(function*() {
    const fds = yield* Settings.optional("LISTEN_FDS")
    if (Option.isNone(fds)) return Option.none()
    const pid = yield* Settings.optional("LISTEN_PID")
    const self = yield* Effect.sync(() => process.pid)
    if (Option.isSome(pid) && pid.value.trim() !== String(self)) {
      return yield* new InheritedSocketError({
        reason: `LISTEN_PID is ${pid.value.trim()}, but this process is ${self}: ` +
          "the sockets in LISTEN_FDS were passed to another process",
        hint: `unset LISTEN_FDS and LISTEN_PID, or let the socket's owner start fm (${systemdHint})`
      })
    }
    if (fds.value.trim() !== "1") {
      return yield* new InheritedSocketError({
        reason: `LISTEN_FDS is '${fds.value.trim()}': fm serves exactly one inherited socket (LISTEN_FDS=1, fd 3)`,
        hint: systemdHint
      })
    }
    return Option.some(SD_LISTEN_FDS_START)
  })

/**
 * Checks that `fd` is an open socket (`source` names where it came from in the error).
 * @since 0.1.0
 */
export const check = (fd: number, source: string): Effect.Effect<number, InheritedSocketError> =>
  Effect.try({
    try: () => Fs.fstatSync(fd),
    catch: (cause) =>
      new InheritedSocketError({
        reason: `${source}: file descriptor ${fd} is not open (${String(cause)})`,
        hint: "the process that starts fm must pass its listening socket as that descriptor"
      })
  }).pipe(
    Effect.filterOrFail(
      (stat) => stat.isSocket(),
      () =>
        new InheritedSocketError({
          reason: `${source}: file descriptor ${fd} is not a socket`,
          hint: "pass a listening TCP or Unix socket"
        })
    ),
    Effect.as(fd)
  )

/**
 * The inherited socket to serve on: `flag` (`--listen-fd`) when given, else the one of systemd
 * socket activation, else none (`undefined`: listen on the host and port), checked.
 * @since 0.1.0
 */
export const resolve = (
  flag: Option.Option<number>
): Effect.Effect<number | undefined, InheritedSocketError | ConfigError.ConfigError> =>
  Option.match(flag, {
    onSome: (fd) =>
      fd < 0 || !Number.isSafeInteger(fd)
        ? Effect.fail(
          new InheritedSocketError({
            reason: `--listen-fd: ${fd} is not a file descriptor`,
            hint: "e.g. --listen-fd 3"
          })
        )
        : check(fd, `--listen-fd ${fd}`),
    onNone: () =>
      Effect.flatMap(fromSystemd, (fd) =>
        Option.match(fd, {
          onNone: () => Effect.succeed(undefined),
          onSome: (n) => check(n, "LISTEN_FDS (systemd socket activation)")
        }))
  })
