/**
 * Runs the BUILT `fm` (`node dist/fm.js ...`) as a child process with its own FLOWMASON_HOME and
 * environment, capturing stdout, stderr and the exit code. Build first with `npm run build`
 * (`npm test` does).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Absolute path of the bundled CLI. */
export const FM_BIN = fileURLToPath(new URL("../../dist/fm.js", import.meta.url))

/** What a finished `fm` run produced. */
export interface FmResult {
  readonly stdout: string
  readonly stderr: string
  /** Exit code, or null when killed by a signal (e.g. the timeout). */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly ms: number
}

/** Options of {@link runFm} / {@link spawnFm}. */
export interface FmOptions {
  /** FLOWMASON_HOME for the child (required: tests never touch the real ~/.flowmason). */
  readonly home: string
  /** Extra environment (a value of `undefined` removes a variable). */
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
  /** Written to stdin, which is then closed (stdin is never a TTY here). */
  readonly input?: string
  /** Kill the child (SIGKILL, by pid) after this many ms. Default 30 s. */
  readonly timeoutMs?: number
}

/** Fails clearly when dist/fm.js has not been built. */
export const assertBuilt = (): void => {
  if (!fs.existsSync(FM_BIN)) {
    throw new Error(`${FM_BIN} does not exist: run \`npm run build\` before the CLI tests`)
  }
}

/**
 * The child's environment: PATH and a throwaway HOME, FLOWMASON_HOME, NO_COLOR, plus `env`.
 * Nothing else leaks in (no FLOWMASON_REGISTRY_TOKEN from the parent, for instance).
 */
export const fmEnv = (options: FmOptions): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: path.join(options.home, ".fake-home"),
    FLOWMASON_HOME: options.home,
    NO_COLOR: "1",
    LANG: "C.UTF-8"
  }
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

const DIST_DIR = path.dirname(FM_BIN)
let snapshot: string | undefined

/**
 * A private copy of dist/ (without source maps) taken on first use, in `.tmp/` inside the repo
 * (so node_modules still resolves). Other people rebuilding dist/ (which first deletes it) in the
 * shared checkout then cannot pull the binary out from under a running test. Removed at exit.
 */
export const fmBin = (): string => {
  if (snapshot !== undefined) return snapshot
  const dir = path.join(DIST_DIR, "..", ".tmp", `fm-dist-${process.pid}-${Date.now().toString(36)}`)
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  for (let attempt = 0;; attempt++) {
    try {
      assertBuilt()
      fs.rmSync(dir, { recursive: true, force: true })
      fs.cpSync(DIST_DIR, dir, { recursive: true, filter: (src) => !src.endsWith(".map") })
      if (!fs.existsSync(path.join(dir, "fm.js"))) throw new Error(`${FM_BIN} vanished while being copied`)
      // the bundle is split into chunks: every chunk a copied file imports must be in the copy too
      for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".js"))) {
        const text = fs.readFileSync(path.join(dir, f), "utf8")
        for (const m of text.matchAll(/(?:from|import\()\s*["']\.\/([\w.]+-[A-Z0-9]{8}\.js)["']/g)) {
          if (!fs.existsSync(path.join(dir, m[1]!))) throw new Error(`dist/ was rebuilt while being copied (${m[1]})`)
        }
      }
      break
    } catch (e) {
      if (attempt >= 10) throw e
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300) // a rebuild is under way: wait
    }
  }
  snapshot = path.join(dir, "fm.js")
  return snapshot
}

/** Removes the snapshot taken by {@link fmBin} (call from `afterAll`; vitest may kill its workers before `exit`). */
export const removeFmBinSnapshot = (): void => {
  if (snapshot !== undefined) fs.rmSync(path.dirname(snapshot), { recursive: true, force: true })
  snapshot = undefined
}

/** Starts `node dist/fm.js ...args` (from the snapshot, see {@link fmBin}) and returns the child. */
export const spawnFm = (args: ReadonlyArray<string>, options: FmOptions): ChildProcess => {
  return spawn(process.execPath, [fmBin(), ...args], {
    cwd: options.cwd ?? options.home,
    env: fmEnv(options),
    stdio: ["pipe", "pipe", "pipe"]
  })
}

/** Waits for a child to end (exit code, signal, ms since `started`), killing it (SIGKILL, by pid) after `timeoutMs`. */
export const waitForExit = (
  child: ChildProcess,
  started: number,
  timeoutMs: number
): Promise<Pick<FmResult, "code" | "signal" | "ms">> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
    }, timeoutMs)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, ms: performance.now() - started })
    })
  })

/** Runs `node dist/fm.js ...args` to completion. */
export const runFm = async (args: ReadonlyArray<string>, options: FmOptions): Promise<FmResult> => {
  const started = performance.now()
  const child = spawnFm(args, options)
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d))
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  const exited = waitForExit(child, started, options.timeoutMs ?? 30_000)
  child.stdin!.end(options.input ?? "")
  const done = await exited // after the child closed: all output is in
  return { stdout, stderr, ...done }
}

/** Parses stdout as JSON, failing with the whole output when it is not. */
export const parseJsonOut = <A = unknown>(result: FmResult): A => {
  try {
    return JSON.parse(result.stdout) as A
  } catch (e) {
    throw new Error(`stdout is not JSON (${String(e)}):\n${result.stdout}\nstderr:\n${result.stderr}`)
  }
}

/** A fresh temp directory (remove it with {@link removeDir}). */
export const makeTempDir = (prefix = "fm-test-"): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** Removes a directory tree. */
export const removeDir = (dir: string): void => fs.rmSync(dir, { recursive: true, force: true })
