/**
 * A listening socket that outlives the servers using it, as a supervisor (systemd) keeps one: a
 * small python3 process binds 127.0.0.1:0, listens but never accepts, and starts each server it
 * is asked for with the socket as fd 3 (with `systemd: true`, also `LISTEN_FDS=1` and
 * `LISTEN_PID` set to the child's pid between fork and exec, as systemd does). This process never
 * holds the socket, so it cannot take connections meant for the servers. Used by the socket
 * activation tests and `npm run bench:abuse`.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"

/** The holder: one listening socket on fd 3, never accepted on; children started on request, reaped, reported. */
const HOLDER = `
import json, os, socket, subprocess, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(511)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
lock = threading.Lock()
def say(m):
    with lock:
        sys.stdout.write(json.dumps(m) + "\\n")
        sys.stdout.flush()
say({"port": s.getsockname()[1]})
def reap(p):
    say({"exit": p.pid, "code": p.wait()})
for line in sys.stdin:
    job = json.loads(line)
    def prepare(env=job["env"], systemd=job["systemd"]):
        os.environ.clear()
        os.environ.update(env)
        if systemd:
            os.environ["LISTEN_FDS"] = "1"
            os.environ["LISTEN_PID"] = str(os.getpid())
    log = open(job["log"], "ab")
    p = subprocess.Popen(job["argv"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         pass_fds=(3,), preexec_fn=prepare)
    log.close()
    say({"pid": p.pid})
    threading.Thread(target=reap, args=(p,), daemon=True).start()
`

/** A server started by the holder, on its socket. */
export interface HeldChild {
  readonly pid: number
  /** The first group of `ready` in the child's output. */
  readonly ready: string
  /** Everything the child printed so far (stdout and stderr). */
  readonly output: () => string
  /** Resolves with the exit code once the child has exited. */
  readonly exited: Promise<number>
  /** SIGTERM (by pid), then SIGKILL after 10 s; resolves once it has exited. */
  readonly stop: () => Promise<void>
}

/** Options of {@link SocketHolder.spawn}. */
export interface HeldSpawnOptions {
  /** The child's whole environment. */
  readonly env: Record<string, string>
  /** Set LISTEN_FDS=1 and LISTEN_PID as systemd does (else only fd 3 is passed). */
  readonly systemd?: boolean
  /** Matched against the child's output; resolves the spawn. */
  readonly ready: RegExp
  readonly timeoutMs?: number
}

/** A held listening socket on 127.0.0.1. */
export interface SocketHolder {
  readonly port: number
  /** Starts `node ...args` with the socket as fd 3 and waits until its output matches `ready`. */
  readonly spawn: (args: ReadonlyArray<string>, options: HeldSpawnOptions) => Promise<HeldChild>
  /** Stops the children still running, then the holder (which closes the socket). */
  readonly close: () => Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Whether `pid` has been reported exited (or was never known). */
type Exits = Map<number, (code: number) => void>

/** Starts a holder; resolves once its socket listens. */
export const holdSocket = async (): Promise<SocketHolder> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-socket-holder-"))
  const holder = spawn("python3", ["-c", HOLDER], { stdio: ["pipe", "pipe", "inherit"] })
  const exits: Exits = new Map()
  const exitCodes = new Map<number, number>()
  const pids: Array<(pid: number) => void> = []
  let portFound: (port: number) => void = () => {}
  const port = new Promise<number>((resolve, reject) => {
    portFound = resolve
    holder.once("exit", (code) => reject(new Error(`the socket holder (python3) exited with ${code}`)))
  })
  readline.createInterface({ input: holder.stdout }).on("line", (line) => {
    const m = JSON.parse(line) as { port?: number; pid?: number; exit?: number; code?: number }
    if (m.port !== undefined) portFound(m.port)
    if (m.pid !== undefined) pids.shift()?.(m.pid)
    if (m.exit !== undefined) {
      exitCodes.set(m.exit, m.code ?? -1)
      exits.get(m.exit)?.(m.code ?? -1)
    }
  })
  const children: Array<HeldChild> = []
  const spawnHeld = async (args: ReadonlyArray<string>, options: HeldSpawnOptions): Promise<HeldChild> => {
    const log = path.join(dir, `child-${children.length}.log`)
    fs.writeFileSync(log, "")
    const pid = await new Promise<number>((resolve) => {
      pids.push(resolve)
      holder.stdin.write(
        `${
          JSON.stringify({
            argv: [process.execPath, ...args],
            env: options.env,
            systemd: options.systemd === true,
            log
          })
        }\n`
      )
    })
    const exited = new Promise<number>((resolve) => {
      const known = exitCodes.get(pid)
      if (known !== undefined) resolve(known)
      else exits.set(pid, resolve)
    })
    let done = false
    void exited.then(() => (done = true))
    const output = () => fs.readFileSync(log, "utf8")
    const stop = async () => {
      if (done) return
      process.kill(pid, "SIGTERM")
      const forced = setTimeout(() => {
        if (!done) process.kill(pid, "SIGKILL")
      }, 10_000)
      await exited
      clearTimeout(forced)
    }
    const child = { pid, output, exited, stop }
    children.push({ ...child, ready: "" })
    const deadline = Date.now() + (options.timeoutMs ?? 60_000)
    for (;;) {
      const found = options.ready.exec(output())
      if (found !== null) return { ...child, ready: found[1] ?? found[0] }
      if (done) throw new Error(`the held child exited with ${await exited}:\n${output()}`)
      if (Date.now() > deadline) {
        await stop()
        throw new Error(`the held child was not ready in time:\n${output()}`)
      }
      await sleep(10)
    }
  }
  const close = async () => {
    await Promise.all(children.map((c) => c.stop()))
    holder.stdin.end()
    if (holder.exitCode === null) await new Promise((r) => holder.once("exit", r))
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { port: await port, spawn: spawnHeld, close }
}
