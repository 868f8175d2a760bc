/**
 * `npm run bench:resolve`: the resolver and project installs.
 *
 * 1. In memory: PubGrub on synthetic registries of 1,000 and 10,000 package-versions whose
 *    ranges conflict (major-version splits), against a greedy baseline (maxSatisfying per edge,
 *    no backtracking) on the same graph.
 * 2. Whole process: `fm install` in a project of 200 packages from a local registry server, with
 *    a cold cache (no cache, no lock: resolve + download) and a warm cache (lock + cache: no
 *    network), against `fm --version` (process start-up) as the baseline. min/median/max of 5.
 *    A warm resolve (cache, no lock) runs twice: within the fresh-metadata window (no request)
 *    and with `FLOWMASON_METADATA_MAX_AGE=0` (every name revalidated), the baseline of the first.
 *    One more cold row with a registry that refuses connections enabled at top priority (what the
 *    implicit `local` registry is when no Studio runs): it should cost one refused connection.
 *
 * Flags: `--memory-only` skips part 2; `--runs N` changes the run count.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import semver from "semver"
import { type PackageSource, solve } from "../src/resolver/Pubgrub.js"

const ROOT = fileURLToPath(new URL("..", import.meta.url))
const argv = process.argv.slice(2)
const RUNS = Number(argv[argv.indexOf("--runs") + 1] ?? "") || 5
const MEMORY_ONLY = argv.includes("--memory-only")

const stats = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! }
}
const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`
const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => c.padEnd(w[i]!)).join("  ").trimEnd()
  console.log([line(headers), line(w.map((n) => "-".repeat(n))), ...rows.map(line)].join("\n"))
}

// ---------------------------------------------------------------------------------------------
// 1. in memory

/** A deterministic registry: `packages` x `perPackage` versions (majors 1 and 2), 0-3 deps each. */
const synth = (packages: number, perPackage: number, seed: number) => {
  let s = seed >>> 0
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
  const reg = new Map<string, Map<string, Record<string, string>>>()
  for (let i = 0; i < packages; i++) {
    const vs = new Map<string, Record<string, string>>()
    for (let k = 0; k < perPackage; k++) {
      const major = 1 + Math.floor(k / Math.ceil(perPackage / 2))
      const minor = k % Math.ceil(perPackage / 2)
      const deps: Record<string, string> = {}
      const n = Math.floor(rnd() * 4)
      for (let d = 0; d < n; d++) {
        const j = i + 1 + Math.floor(rnd() * 40)
        if (j >= packages) continue
        const r = rnd()
        deps[`p${j}`] = r < 0.4 ? "^1.0.0" : r < 0.8 ? "^2.0.0" : r < 0.9 ? ">=1.2.0" : "^1.3.0 || ^2.3.0"
      }
      vs.set(`${major}.${minor}.0`, deps)
    }
    reg.set(`p${i}`, vs)
  }
  const source: PackageSource = {
    versions: (n) => [...(reg.get(n)?.keys() ?? [])],
    dependencies: (n, v) => reg.get(n)?.get(v) ?? {}
  }
  const root: Record<string, string> = {}
  const step = Math.max(1, Math.floor(packages / 20))
  for (let i = 0; i < packages; i += step) root[`p${i}`] = "*"
  return { source, root, reg }
}

/** Greedy: the newest version satisfying the first range seen for each name; no backtracking. */
const greedy = (root: Record<string, string>, source: PackageSource): number => {
  const chosen = new Map<string, string>()
  const queue = Object.entries(root)
  let broken = 0
  while (queue.length > 0) {
    const [n, r] = queue.pop()!
    const have = chosen.get(n)
    if (have !== undefined) {
      if (!semver.satisfies(have, r)) broken++
      continue
    }
    const v = semver.maxSatisfying([...source.versions(n)], r)
    if (v === null) {
      broken++
      continue
    }
    chosen.set(n, v)
    for (const e of Object.entries(source.dependencies(n, v))) queue.push(e)
  }
  return broken
}

const memoryPart = () => {
  console.log("\n## Resolve (in memory, synthetic registries with conflicting ranges)\n")
  const rows: Array<Array<string>> = []
  for (const [packages, per] of [[100, 10], [1000, 10]] as const) {
    const { root, source } = synth(packages, per, 7)
    // warm up the JIT on another graph of the same shape
    for (let i = 0; i < 3; i++) solve(synth(packages, per, 100 + i).root, synth(packages, per, 100 + i).source)
    const times: Array<number> = []
    const base: Array<number> = []
    let last = solve(root, source)
    let broken = 0
    for (let i = 0; i < Math.max(RUNS, 15); i++) {
      const t0 = performance.now()
      last = solve(root, source)
      times.push(performance.now() - t0)
      const t1 = performance.now()
      broken = greedy(root, source)
      base.push(performance.now() - t1)
    }
    const st = stats(times)
    const bs = stats(base)
    rows.push([
      String(packages * per),
      String(packages),
      last._tag === "Solved" ? `solved: ${last.solution.size} pkgs` : "no solution",
      last._tag === "Solved" ? `${last.decisions} / ${last.conflicts}` : "-",
      ms(st.min),
      ms(st.median),
      ms(st.max),
      `${ms(bs.median)} (${broken} unmet)`
    ])
  }
  table([
    "versions",
    "packages",
    "outcome",
    "decisions / conflicts",
    "min",
    "median",
    "max",
    "greedy baseline (median)"
  ], rows)
  return rows
}

// ---------------------------------------------------------------------------------------------
// 2. whole-process installs from a local server

/** The built CLI, as users run it (`npm run build` makes it). */
const FM = path.join(ROOT, "dist", "fm.js")

const timeProcess = (file: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv) => {
  const t0 = performance.now()
  execFileSync(process.execPath, [file, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 })
  return performance.now() - t0
}

const serverPart = async () => {
  const { publishFixture, startServer } = await import("../test/helpers/server.js")
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-resolve-"))
  const server = await startServer({})
  try {
    console.log(`\n## Install 200 packages from a local server (${server.url}), whole process\n`)
    if (!fs.existsSync(FM)) throw new Error(`${FM} is missing: run \`npm run build\` first`)
    const fm = FM
    const home = path.join(work, "home")
    const project = path.join(work, "project")
    fs.mkdirSync(home, { recursive: true })
    fs.mkdirSync(project, { recursive: true })
    fs.writeFileSync(
      path.join(home, "registries.json"),
      JSON.stringify({
        registries: [{ name: "bench", url: server.url, priority: 10, enabled: true, is_default: true }]
      })
    )
    const deps: Record<string, string> = {}
    const t0 = performance.now()
    const jobs: Array<() => Promise<unknown>> = []
    for (let i = 0; i < 200; i++) {
      const d: Record<string, string> = {}
      for (const j of [i + 1, i + 7]) if (j < 200) d[`b${j}`] = "^1.0.0"
      jobs.push(() => publishFixture(server.url, server.adminToken, { name: `b${i}`, version: "1.0.0", deps: d }))
      if (i % 4 === 0) {
        jobs.push(() => publishFixture(server.url, server.adminToken, { name: `b${i}`, version: "1.1.0", deps: d }))
      }
      deps[`b${i}`] = "^1.0.0"
    }
    // versions of one package in order (1.0.0 before 1.1.0), 8 uploads at a time
    for (let k = 0; k < jobs.length; k += 8) await Promise.all(jobs.slice(k, k + 8).map((f) => f()))
    console.log(`published 250 versions of 200 packages in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    fs.writeFileSync(
      path.join(project, "manifest.json"),
      JSON.stringify({ name: "bench", version: "1.0.0", dependencies: deps })
    )
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: path.join(work, "fake-home"),
      FLOWMASON_HOME: home,
      NO_COLOR: "1"
    }
    const args = ["install"]
    const label = "node dist/fm.js install"
    timeProcess(fm, args, project, env) // warm-up: writes the command's V8 code cache
    const reset = (what: { cache: boolean; lock: boolean }) => {
      fs.rmSync(path.join(project, "fm_packages"), { recursive: true, force: true })
      if (what.cache) fs.rmSync(path.join(home, "cache"), { recursive: true, force: true })
      if (what.lock) fs.rmSync(path.join(project, "fm.lock.json"), { force: true })
    }
    const measure = (name: string, what: { cache: boolean; lock: boolean }, extraEnv: Record<string, string> = {}) => {
      const times: Array<number> = []
      for (let i = 0; i < RUNS; i++) {
        reset(what)
        times.push(timeProcess(fm, args, project, { ...env, ...extraEnv }))
        process.stderr.write(`  ${name} run ${i + 1}: ${ms(times.at(-1)!)}\n`)
      }
      if (fs.readdirSync(path.join(project, "fm_packages")).length !== 200) {
        throw new Error("install did not produce 200 packages")
      }
      return stats(times)
    }
    const startup: Array<number> = []
    for (let i = 0; i < RUNS; i++) startup.push(timeProcess(fm, ["--version"], project, env))
    const cold = measure("cold", { cache: true, lock: true })
    const coldLocked = measure("cold+lock", { cache: true, lock: false })
    const warmResolve = measure("warm-resolve", { cache: false, lock: true })
    // the same with the fresh-metadata window off: every name revalidated (ETag, 304), as before it
    const warmRevalidate = measure("warm-resolve, window off", { cache: false, lock: true }, {
      FLOWMASON_METADATA_MAX_AGE: "0"
    })
    const warm = measure("warm", { cache: false, lock: false })
    // a registry that refuses connections, first in priority: one refused connection per command
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const address = probe.address()
        probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 9))
      })
    })
    fs.writeFileSync(
      path.join(home, "registries.json"),
      JSON.stringify({
        registries: [
          { name: "local", url: `http://127.0.0.1:${closed}`, priority: 1, enabled: true },
          { name: "bench", url: server.url, priority: 10, enabled: true, is_default: true }
        ]
      })
    )
    const coldDead = measure("cold, dead registry first", { cache: true, lock: true })
    const s = stats(startup)
    const row = (
      name: string,
      x: { min: number; median: number; max: number }
    ) => [name, ms(x.min), ms(x.median), ms(x.max)]
    table(["run (" + label + ")", "min", "median", "max"], [
      row("baseline: fm --version (process start-up)", s),
      row("cold: no cache, no lock (resolve + 200 downloads)", cold),
      row("cold with lock: no cache (200 downloads, no resolve)", coldLocked),
      row("warm cache, no lock (resolve from metadata confirmed < 300 s ago: no request)", warmResolve),
      row("warm cache, no lock, FLOWMASON_METADATA_MAX_AGE=0 (every name revalidated: 304s)", warmRevalidate),
      row("warm: cache + lock (no network)", warm),
      row("cold, a refusing registry at top priority", coldDead)
    ])
  } finally {
    await server.stop()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

console.log(
  `# bench:resolve (node ${process.version}, ${os.cpus().length} cpus, load ${
    os.loadavg().map((x) => x.toFixed(1)).join(" ")
  })`
)
memoryPart()
if (!MEMORY_ONLY) await serverPart()
