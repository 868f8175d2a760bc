/**
 * Long-running child processes for tests (servers): started, waited for until their output shows
 * they are ready, and stopped by PID with a bounded wait.
 */
import { spawn } from "node:child_process"

/** A started child process. */
export interface ReadyChild {
  /** The first capture group of `ready` in the child's output (its address). */
  readonly ready: string
  readonly pid: number
  /** Everything the child printed so far (stdout + stderr). */
  readonly output: () => string
  /** SIGTERM, then SIGKILL after `killAfterMs`; resolves once the child has exited. */
  readonly stop: () => Promise<void>
}

/** Options of {@link spawnReady}. */
export interface SpawnReadyOptions {
  readonly cwd: string
  readonly env: NodeJS.ProcessEnv
  /** Matched against stdout; its first group is {@link ReadyChild.ready}. */
  readonly ready: RegExp
  /** Names the child in errors. */
  readonly what: string
  readonly timeoutMs: number
  readonly killAfterMs: number
  /** Runs the child under this umask (a shell sets it, then becomes node: same pid). */
  readonly umask?: number
}

/**
 * Runs `node args` and resolves once its stdout matches `options.ready`. Rejects (and stops the
 * child) when it exits first or does not get ready within `timeoutMs`, with its output.
 */
export const spawnReady = async (args: ReadonlyArray<string>, options: SpawnReadyOptions): Promise<ReadyChild> => {
  const [command, argv] = options.umask === undefined
    ? [process.execPath, [...args]]
    : ["/bin/sh", [
      "-c",
      `umask ${options.umask.toString(8).padStart(3, "0")} && exec "$0" "$@"`,
      process.execPath,
      ...args
    ]]
  const child = spawn(command, argv, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] })
  const pid = child.pid
  if (pid === undefined) throw new Error(`${options.what} could not be started (node ${args.join(" ")})`)
  let out = ""
  let stdout = ""
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString()
    stdout += d.toString()
  })
  child.stderr.on("data", (d: Buffer) => (out += d.toString()))
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs)
      await exited
      clearTimeout(timer)
    }
  }
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.what} was not ready in ${options.timeoutMs / 1000} s:\n${out}`)),
      options.timeoutMs
    )
    child.stdout.on("data", () => {
      const found = options.ready.exec(stdout)?.[1]
      if (found !== undefined) {
        clearTimeout(timer)
        resolve(found)
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`${options.what} exited with ${code}:\n${out}`))
    })
  }).catch(async (e: unknown) => {
    await stop()
    throw e
  })
  return { ready, pid, output: () => out, stop }
}
