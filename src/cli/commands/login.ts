/**
 * `fm login [REGISTRY]`: save a registry's token in registries.json, read from a hidden prompt on
 * a terminal or from stdin otherwise, so that it never appears in argv (shell history, `ps`).
 * @since 0.1.0
 */
import { Args, Command, Prompt } from "@effect/cli"
import { Console, Effect, Option, Redacted } from "effect"
import { RegistryConfig } from "../../client/RegistryConfig.js"
import { json, printJson, UsageError } from "../Output.js"

/** Tokens are short: more than this on stdin is not one. */
const MAX_TOKEN_BYTES = 16 * 1024

/** The first line of stdin (bounded), trimmed. */
const readStdinToken = Effect.async<string, UsageError>((resume) => {
  const chunks: Array<Buffer> = []
  let size = 0
  const done = (result: Effect.Effect<string, UsageError>) => {
    process.stdin.off("data", onData).off("end", onEnd).off("error", onError)
    process.stdin.pause()
    resume(result)
  }
  const onData = (chunk: Buffer) => {
    size += chunk.length
    if (size > MAX_TOKEN_BYTES) {
      done(
        Effect.fail(new UsageError({ reason: `stdin holds more than ${MAX_TOKEN_BYTES} bytes; that is not a token` }))
      )
      return
    }
    chunks.push(chunk)
  }
  const onEnd = () => done(Effect.succeed(Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0]?.trim() ?? ""))
  const onError = (e: Error) =>
    done(Effect.fail(new UsageError({ reason: `cannot read the token from stdin: ${e.message}` })))
  process.stdin.on("data", onData).on("end", onEnd).on("error", onError)
})

/**
 * The `login` command.
 * @since 0.1.0
 * @category commands
 */
export const login = Command.make(
  "login",
  {
    registry: Args.text({ name: "registry" }).pipe(
      Args.withDescription("The registry to save a token for (default: the default registry)"),
      Args.optional
    ),
    json
  },
  (args) =>
    Effect.gen(function*() {
      const config = yield* RegistryConfig
      const entry = Option.isSome(args.registry)
        ? yield* config.get(args.registry.value)
        : yield* config.defaultRegistry
      const token = process.stdin.isTTY === true
        ? Redacted.value(yield* Prompt.hidden({ message: `Token for registry '${entry.name}' (${entry.url}):` })).trim()
        : yield* readStdinToken
      if (token === "") {
        return yield* new UsageError({
          reason: `no token given for registry '${entry.name}'`,
          hint: `type it at the prompt, or pipe it in: echo "$TOKEN" | fm login ${entry.name}`
        })
      }
      if (/\s/.test(token)) {
        return yield* new UsageError({ reason: "a token has no spaces in it; nothing was saved" })
      }
      yield* config.update(entry.name, { authToken: token })
      if (args.json) return yield* printJson({ registry: entry.name, url: entry.url, token: "config", saved: true })
      yield* Console.log(`Saved a token for registry '${entry.name}' in ${config.file}.`)
    })
).pipe(
  Command.withDescription(
    "Save a registry's token. It is read from a hidden prompt, or from stdin when that is not a terminal, " +
      "never from the command line; it is stored in registries.json (mode 0600)."
  ),
  Command.provide(RegistryConfig.Default)
)
