/**
 * How old a cached metadata answer (package info, versions; see the ETag cache of
 * `RemoteRegistry`) may be and still be used without asking the registry at all. Outside
 * {@link withFreshMetadata} the age allowed is zero: every metadata request goes out (with
 * `If-None-Match`), so `fm info`, `fm update` and `fm outdated` always see what was just
 * published. A project install (`fm install`) resolves within a window (default
 * {@link DEFAULT_METADATA_MAX_AGE_SECONDS}, `FLOWMASON_METADATA_MAX_AGE`), as npm and uv do
 * with a registry's `max-age`: an answer written or revalidated (304) less than that long ago is
 * read from the file, so a warm install needs no network for it.
 * @since 0.1.0
 */
import { Config, Duration, Effect, FiberRef } from "effect"
import { globalValue } from "effect/GlobalValue"

/**
 * The default window of a project install, in seconds (npm's registry sends `max-age=300`).
 * @since 0.1.0
 */
export const DEFAULT_METADATA_MAX_AGE_SECONDS = 300

/**
 * The age a cached metadata answer may have and still be used unasked (zero: always ask).
 * @since 0.1.0
 */
export const metadataMaxAge: FiberRef.FiberRef<Duration.Duration> = globalValue(
  Symbol.for("fm/client/MetadataFreshness/metadataMaxAge"),
  () => FiberRef.unsafeMake(Duration.zero)
)

/**
 * The project-install window: `FLOWMASON_METADATA_MAX_AGE` seconds (0 turns it off), else
 * {@link DEFAULT_METADATA_MAX_AGE_SECONDS}. A malformed value is a defect naming the variable.
 * @since 0.1.0
 */
export const installMetadataMaxAge: Effect.Effect<Duration.Duration> = Config.number("FLOWMASON_METADATA_MAX_AGE").pipe(
  Config.validate({
    message: "FLOWMASON_METADATA_MAX_AGE must be a number of seconds >= 0",
    validation: (n) => n >= 0
  }),
  Config.withDefault(DEFAULT_METADATA_MAX_AGE_SECONDS),
  Config.map((s) => Duration.seconds(s)),
  Effect.orDie
)

/**
 * Runs `self` letting cached metadata answers younger than `maxAge` stand in for a request.
 * @since 0.1.0
 */
export const withFreshMetadata =
  (maxAge: Duration.Duration) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.locally(self, metadataMaxAge, maxAge)
