/**
 * bench:client — whole-process times of the built CLI (`node dist/fm.js`), min/median/max of 5:
 * `fm --version`, `fm registry list` (with the V8 code cache that its first run writes, and without
 * it, as on a first run), and `fm install` of a 1 MiB package from a local registry server with a
 * cold and a warm package cache. Baseline in the same run: `node -e 0`. Run `npm run build` first.
 */
import { spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { publishFixture, startServer } from "../test/helpers/server.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const FM = path.join(ROOT, "dist", "fm.js")
const RUNS = 5

if (!fs.existsSync(FM)) {
  console.error(`${FM} is missing: run \`npm run build\` first`)
  process.exit(1)
}

const home = fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-client-"))
const server = await startServer({ inProcess: false })
try {
  await publishFixture(server.url, server.adminToken, {
    name: "bench-pkg",
    version: "1.0.0",
    files: { "data.bin": crypto.randomBytes(1024 * 1024) }
  })
  fs.writeFileSync(
    path.join(home, "registries.json"),
    JSON.stringify({ registries: [{ name: "bench", url: server.url, priority: 10, is_default: true }] }, null, 2)
  )
  const env = { PATH: process.env.PATH ?? "", HOME: home, FLOWMASON_HOME: home, NO_COLOR: "1" }

  const time = (args: ReadonlyArray<string>, before?: () => void): Array<number> => {
    const out: Array<number> = []
    for (let i = 0; i < RUNS; i++) {
      before?.()
      const t0 = performance.now()
      const r = spawnSync(process.execPath, args, { env, cwd: home, encoding: "utf8" })
      const ms = performance.now() - t0
      if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`)
      out.push(ms)
    }
    return out
  }
  const dir = path.join(home, "installed")
  /** Empties the download and metadata caches (not the code cache: that is not what "cold" is about). */
  const clearCache = () => {
    for (const f of fs.existsSync(path.join(home, "cache")) ? fs.readdirSync(path.join(home, "cache")) : []) {
      if (f !== "v8") fs.rmSync(path.join(home, "cache", f), { recursive: true, force: true })
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const clearCodeCache = () => fs.rmSync(path.join(home, "cache", "v8"), { recursive: true, force: true })
  const list = [FM, "registry", "list"]
  const baseline = time(["-e", "0"])
  const version = time([FM, "--version"])
  // one run writes the code cache of `registry`, as any first run does (measured on its own below)
  spawnSync(process.execPath, list, { env, cwd: home })
  const rows: Array<[string, Array<number>]> = [
    ["node -e 0 (baseline)", baseline],
    ["fm --version", version],
    ["fm registry list", time(list)],
    ["fm registry list (no code cache: first run)", time(list, clearCodeCache)],
    ["fm install bench-pkg (1 MiB, cold cache)", time([FM, "install", "bench-pkg", "--dir", dir], clearCache)],
    ["fm install bench-pkg (1 MiB, warm cache)", time([FM, "install", "bench-pkg", "--dir", dir])]
  ]
  const stats = (xs: Array<number>) => {
    const s = [...xs].sort((a, b) => a - b)
    return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! }
  }
  const w = Math.max(...rows.map(([n]) => n.length))
  console.log(
    `\nbench:client — whole-process wall time, ${RUNS} runs each, node ${process.version}, ${os.cpus().length} CPUs, load ${
      os.loadavg()[0]!.toFixed(2)
    }`
  )
  console.log(`${"command".padEnd(w)}  ${"min ms".padStart(8)}  ${"median ms".padStart(9)}  ${"max ms".padStart(8)}`)
  for (const [name, xs] of rows) {
    const s = stats(xs)
    console.log(
      `${name.padEnd(w)}  ${s.min.toFixed(0).padStart(8)}  ${s.median.toFixed(0).padStart(9)}  ${
        s.max.toFixed(0).padStart(8)
      }`
    )
  }
  const versionMs = stats(rows[1]![1]).median
  const listMs = stats(rows[2]![1]).median
  console.log(
    `\ntarget < 300 ms median: fm --version ${versionMs.toFixed(0)} ms ${versionMs < 300 ? "OK" : "OVER"}, ` +
      `fm registry list ${listMs.toFixed(0)} ms ${listMs < 300 ? "OK" : "OVER"}`
  )
} finally {
  await server.stop()
  fs.rmSync(home, { recursive: true, force: true })
}
