/**
 * One voice for fm's failures: every failure becomes a {@link Failure} (a stable code, a message
 * a user can act on, a hint where there is a fix, and the exit status: 1 failure, 2 usage, 130
 * cancelled), printed as `error: ...` / `hint: ...` on stderr (`error:` red on a terminal), or
 * with `--json` as `{"error": {"code", "message", "hint"}}` on stdout. Library type names,
 * internal paths and stack traces never reach the user: failures that are not fm's own are
 * translated here (a port in use, a file-system refusal), and anything else is reported as a
 * bug in fm with its message only.
 * @since 0.1.0
 */
import { Console, Effect } from "effect"
import { fieldOf } from "../shared/Fields.js"
import { describeSystemReason } from "../shared/FileError.js"
import { terminalBlock, terminalLine } from "../shared/TerminalText.js"
import { printJson } from "./Output.js"

/**
 * A failure as fm reports it.
 * @since 0.1.0
 */
export interface Failure {
  /** snake_case, stable for scripts: `usage`, `port_in_use`, `package_not_found`, ... */
  readonly code: string
  readonly message: string
  readonly hint: string | undefined
  /** 1 (failure), 2 (usage), 130 (cancelled). */
  readonly exit: 1 | 2 | 130
}

const field = fieldOf

const str = (u: unknown): string | undefined => (typeof u === "string" && u !== "" ? u : undefined)

/** `PackageNotFound` → `package_not_found`. */
const snake = (tag: string): string => tag.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase()

/** `copyFile` → `copy`, `makeDirectory` → `create directory`, ... */
const VERBS: Readonly<Record<string, string>> = {
  copyFile: "cannot copy",
  copy: "cannot copy",
  makeDirectory: "cannot create directory",
  makeTempDirectory: "cannot create a temporary directory in",
  writeFile: "cannot write",
  writeFileString: "cannot write",
  open: "cannot open",
  readFile: "cannot read",
  readFileString: "cannot read",
  readDirectory: "cannot list",
  remove: "cannot remove",
  rename: "cannot rename",
  stat: "cannot read",
  access: "cannot access"
}

/** A failure of the HTTP server's `listen` (the Node error under @effect/platform's ServeError). */
const listenFailure = (cause: unknown): Failure => {
  const code = str(field(cause, "code"))
  const port = field(cause, "port")
  const address = str(field(cause, "address")) ?? str(field(cause, "hostname"))
  // no port: it was an inherited socket (--listen-fd, systemd socket activation)
  const inherited = typeof port !== "number"
  const where = inherited
    ? "the inherited socket"
    : address === undefined
    ? `port ${String(port)}`
    : `${address}:${String(port)}`
  switch (code) {
    case "EADDRINUSE":
      return {
        code: "port_in_use",
        message: `port ${String(port)} is in use${address === undefined ? "" : ` on ${address}`}`,
        hint: "stop what is using it, or pick another port: fm studio start --port 9000 (--port 0 picks a free one)",
        exit: 1
      }
    case "EADDRNOTAVAIL":
      return {
        code: "address_unavailable",
        message: `cannot listen on ${address ?? "that address"}: it is not an address of this machine`,
        hint: "use --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every interface)",
        exit: 1
      }
    case "EACCES":
      return {
        code: "port_not_permitted",
        message: `not allowed to listen on ${where}`,
        hint: "ports below 1024 need extra privileges; use a higher one, e.g. --port 8999",
        exit: 1
      }
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return {
        code: "unknown_host",
        message: `cannot listen on '${address ?? "?"}': no such host`,
        hint: "give --host an IP address or a name this machine resolves, e.g. --host 127.0.0.1",
        exit: 1
      }
    default:
      return {
        code: "cannot_listen",
        message: `cannot start the server on ${where}: ${str(field(cause, "message")) ?? "unknown error"}`,
        hint: inherited ? "the inherited descriptor must be a listening TCP or Unix socket" : undefined,
        exit: 1
      }
  }
}

/**
 * Whether a failure is @effect/cli's or a terminal's "the user cancelled" (Ctrl-C at a prompt).
 * @since 0.1.0
 */
export const isCancelled = (e: unknown): boolean => field(e, "_tag") === "QuitException"

/**
 * The {@link Failure} for any value a command failed with.
 * @since 0.1.0
 */
export const describeFailure = (e: unknown): Failure => {
  const tag = str(field(e, "_tag"))
  const hint = str(field(e, "hint"))
  if (isCancelled(e)) return { code: "cancelled", message: "cancelled", hint: undefined, exit: 130 }
  if (tag === "UsageError") {
    return { code: "usage", message: str(field(e, "reason")) ?? "invalid usage", hint, exit: 2 }
  }
  if (tag === "ServeError") return listenFailure(field(e, "cause"))
  if (tag === "SystemError" || tag === "BadArgument") {
    const reason = str(field(e, "reason")) ?? ""
    const method = str(field(e, "method")) ?? ""
    const target = field(e, "pathOrDescriptor")
    const code = str(field(field(e, "cause"), "code"))
    const words = (code === undefined ? undefined : describeSystemReason(code)) ?? describeSystemReason(reason) ??
      str(field(e, "description")) ?? "failed"
    const verb = VERBS[method] ?? "file operation failed on"
    return {
      code: snake(reason === "" ? tag : reason),
      message: typeof target === "string"
        ? `${verb} ${target}: ${words}`
        : `${verb.replace(/ (on|in)$/, "")}: ${words}`,
      hint: reason === "PermissionDenied"
        ? "check the permissions of that directory, or choose another one"
        : undefined,
      exit: 1
    }
  }
  const message = str(field(e, "message")) ?? (e instanceof Error ? e.message : undefined)
  if (tag !== undefined && message !== undefined && message !== tag) {
    const denied = tag === "FileError" && /permission denied|read-only file system/.test(str(field(e, "reason")) ?? "")
    return {
      code: snake(tag),
      message,
      hint: hint ?? (denied ? "check that directory's permissions, or choose another one" : undefined),
      exit: 1
    }
  }
  // not one of fm's own errors: a bug; say so without the library's type name or a stack
  return {
    code: "internal",
    message: `internal error (a bug in fm)${
      message !== undefined && message !== tag ? `: ${message.split("\n")[0]}` : ""
    }`,
    hint: "please report it, with the command you ran",
    exit: 1
  }
}

/**
 * The {@link Failure} for a defect (a thrown exception): always reported as a bug in fm, with
 * its first line only.
 * @since 0.1.0
 */
export const describeDefect = (defect: unknown): Failure => {
  // a file-system or listen failure some library turned into a defect is still not a bug
  const tag = field(defect, "_tag")
  if (tag === "SystemError" || tag === "BadArgument" || tag === "ServeError") return describeFailure(defect)
  const message = defect instanceof Error ? defect.message : String(defect)
  return {
    code: "internal",
    message: `internal error (a bug in fm): ${message.split("\n")[0] ?? ""}`,
    hint: "please report it, with the command you ran",
    exit: 1
  }
}

/**
 * Prints a failure: a JSON object on stdout with `json`, else `error:` (red when `color`) and
 * `hint:` lines on stderr. Messages quote registries and archives: they are printed as text,
 * never as escape codes (`TerminalText`).
 * @since 0.1.0
 */
export const printFailure = (
  f: Failure,
  options: { readonly json: boolean; readonly color: boolean }
): Effect.Effect<void> => {
  if (options.json) return printJson({ error: { code: f.code, message: f.message, hint: f.hint ?? null } })
  const label = options.color ? "\u001b[1;31merror:\u001b[0m" : "error:"
  const hintLabel = options.color ? "\u001b[1;36mhint:\u001b[0m" : "hint:"
  return Effect.zipRight(
    Console.error(`${label} ${terminalBlock(f.message)}`),
    f.hint === undefined ? Effect.void : Console.error(`${hintLabel} ${terminalLine(f.hint)}`)
  )
}

/**
 * Whether a command line asks for JSON output (`--json` before any `--`).
 * @since 0.1.0
 */
export const wantsJson = (args: ReadonlyArray<string>): boolean => {
  const end = args.indexOf("--")
  return (end < 0 ? args : args.slice(0, end)).includes("--json")
}
