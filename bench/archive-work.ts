/**
 * Archive work benchmark (`npm run bench:archive-work`): the CPU work of `pack`, `open` and
 * `extract` of this tree's `PackageArchive` beside the same operations of earlier commits (by
 * default 644eb96, the last with a hand-written tar reader and writer), measured in the same run on
 * the same package. Wall-clock times mean nothing on a shared, loaded machine; this counts work:
 *
 * - `--tool callgrind` (default when valgrind is installed): instructions executed by the whole
 *   process under `valgrind --tool=callgrind` (user space, every thread), which load does not move.
 *   Node runs with `--single-threaded` so no background compiler thread races the main one.
 * - `--tool cpu`: the child's own user+system CPU time (`process.cpuUsage`), A/B alternated runs,
 *   medians.
 *
 * Each case runs in its own child process (a bundle of that tree's sources run by plain node);
 * `start-up` is the same bundle doing nothing, and `work` is a case minus `start-up`. Options:
 * `--files N` (200), `--mib M` (5), `--runs R` (1 for callgrind, 7 for cpu), `--ref REF` (repeat
 * for several; default 644eb96), `--formats tar,zip` (tar), `--jobs J` (2, callgrind only).
 */
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const execFileAsync = promisify(execFile)
const MiB = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// child side: the case runner, bundled once per tree with that tree's sources

const runner = (archiveModule: string): string => `
import { Effect } from "effect"
import { PackageArchive } from ${JSON.stringify(archiveModule)}

const [name, ...args] = process.argv.slice(2)
const run = (f) => Effect.runPromise(Effect.flatMap(PackageArchive, f).pipe(Effect.provide(PackageArchive.Default)))
let note = ""
if (name === "pack") {
  const r = await run((a) => a.pack(args[0], { output: args[1], format: args[2] }))
  note = r.sha256
} else if (name === "open") {
  note = String((await run((a) => a.open(args[0]))).entries.length)
} else if (name === "extract") {
  note = String((await run((a) => a.extract(args[0], args[1]))).entries.length)
} else if (name !== "noop") {
  throw new Error("unknown case " + name)
}
const cpu = process.cpuUsage()
process.stdout.write(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, note }) + "\\n")
`

// ---------------------------------------------------------------------------------------------
// parent side

interface Options {
  readonly files: number
  readonly mib: number
  readonly runs: number
  readonly refs: ReadonlyArray<string>
  readonly formats: ReadonlyArray<"tar" | "zip">
  readonly tool: "callgrind" | "cpu"
  readonly jobs: number
}

const hasValgrind = (): boolean => {
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

const parseOptions = (argv: ReadonlyArray<string>): Options => {
  const values = new Map<string, Array<string>>()
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i] ?? ""
    const value = argv[i + 1]
    if (!key.startsWith("--") || value === undefined) throw new Error(`usage: --option value ... (at '${key}')`)
    values.set(key.slice(2), [...(values.get(key.slice(2)) ?? []), value])
  }
  const one = (key: string, fallback: string): string => values.get(key)?.at(-1) ?? fallback
  const tool = one("tool", hasValgrind() ? "callgrind" : "cpu")
  if (tool !== "callgrind" && tool !== "cpu") throw new Error(`--tool is callgrind or cpu, not '${tool}'`)
  const formats = one("formats", "tar").split(",").map((f) => {
    if (f !== "tar" && f !== "zip") throw new Error(`--formats takes tar and zip, not '${f}'`)
    return f
  })
  const count = (key: string, fallback: number): number => {
    const n = Number(one(key, String(fallback)))
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${key} needs a positive whole number`)
    return n
  }
  return {
    files: count("files", 200),
    mib: count("mib", 5),
    runs: count("runs", tool === "callgrind" ? 1 : 7),
    refs: values.get("ref") ?? ["644eb96"],
    formats,
    tool,
    jobs: count("jobs", 2)
  }
}

/** A package of `files` files, `mib` MiB, half incompressible and half text, the same bytes every run. */
const makePackage = (dir: string, files: number, mib: number): void => {
  let state = 0x9e3779b9
  const next = (): number => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return state >>> 0
  }
  const words = ["flow", "mason", "pipeline", "stage", "node", "operator", "prompt", "value", "json", "llm"]
  const perFile = Math.floor((mib * MiB) / files)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(
    path.join(dir, "manifest.json"),
    JSON.stringify({ name: "bench-pkg", version: "1.0.0", description: "benchmark package" })
  )
  for (let i = 0; i < files - 1; i++) {
    const sub = path.join(dir, `group-${String(i % 40).padStart(2, "0")}`)
    fs.mkdirSync(sub, { recursive: true })
    let data: Buffer
    if (i % 2 === 0) {
      data = Buffer.alloc(perFile)
      for (let j = 0; j < perFile; j += 4) data.writeUInt32LE(next(), j - (j + 4 > perFile ? j + 4 - perFile : 0))
    } else {
      const parts: Array<string> = []
      let length = 0
      while (length < perFile) {
        const word = words[next() % words.length] ?? "flow"
        parts.push(word)
        length += word.length + 1
      }
      data = Buffer.from(parts.join(" ").slice(0, perFile))
    }
    fs.writeFileSync(path.join(sub, `file-${i}.${i % 2 === 0 ? "bin" : "txt"}`), data)
  }
}

interface Tree {
  readonly label: string
  readonly bundle: string
}

const bundleTree = async (label: string, srcDir: string, outDir: string, nodeModules: string): Promise<Tree> => {
  const esbuild = await import("esbuild")
  const bundle = path.join(outDir, `runner-${label.replace(/[^\w.-]/g, "_")}.mjs`)
  await esbuild.build({
    stdin: {
      contents: runner(path.join(srcDir, "archive", "PackageArchive.js")),
      resolveDir: srcDir,
      loader: "js"
    },
    nodePaths: [nodeModules],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: bundle,
    logLevel: "error"
  })
  return { label, bundle }
}

interface Sample {
  readonly value: number
  readonly note: string
}

const runCase = async (options: Options, tree: Tree, args: ReadonlyArray<string>): Promise<Sample> => {
  const nodeArgs = [tree.bundle, ...args]
  if (options.tool === "cpu") {
    const { stdout } = await execFileAsync(process.execPath, nodeArgs, { encoding: "utf8" })
    const line: unknown = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}")
    if (typeof line !== "object" || line === null || !("cpuMs" in line) || !("note" in line)) {
      throw new Error(`${tree.label} ${args.join(" ")}: no result line in ${stdout}`)
    }
    return { value: Number(line.cpuMs), note: String(line.note) }
  }
  const { stderr, stdout } = await execFileAsync("valgrind", [
    "--tool=callgrind",
    "--callgrind-out-file=/dev/null",
    process.execPath,
    "--single-threaded",
    ...nodeArgs
  ], { encoding: "utf8", maxBuffer: 64 * MiB })
  const collected = /Collected\s*:\s*(\d+)/.exec(stderr)
  if (collected === null) throw new Error(`${tree.label} ${args.join(" ")}: no instruction count in ${stderr}`)
  const line: unknown = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}")
  const note = typeof line === "object" && line !== null && "note" in line ? String(line.note) : ""
  return { value: Number(collected[1]), note }
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** Runs `tasks` at most `jobs` at a time, in order of the list. */
const pool = async <A>(tasks: ReadonlyArray<() => Promise<A>>, jobs: number): Promise<Array<A>> => {
  const results: Array<A> = new Array<A>(tasks.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++
      const task = tasks[i]
      if (task !== undefined) results[i] = await task()
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker))
  return results
}

const main = async (): Promise<void> => {
  const options = parseOptions(process.argv.slice(2))
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-archive-"))
  const cleanup = () => fs.rmSync(work, { recursive: true, force: true })
  process.on("SIGINT", () => {
    cleanup()
    process.exit(130)
  })
  try {
    const nodeModules = path.join(repo, "node_modules")
    const trees: Array<Tree> = []
    for (const ref of options.refs) {
      const commit = execFileSync("git", ["rev-parse", "--short", `${ref}^{commit}`], { cwd: repo, encoding: "utf8" })
        .trim()
      const dir = path.join(work, `src-${commit}`)
      fs.mkdirSync(dir)
      const archive = path.join(work, `src-${commit}.tar`)
      execFileSync("git", ["archive", "-o", archive, commit, "src"], { cwd: repo })
      execFileSync("tar", ["xf", archive, "-C", dir])
      trees.push(
        await bundleTree(ref === commit ? commit : `${ref} (${commit})`, path.join(dir, "src"), work, nodeModules)
      )
    }
    trees.push(await bundleTree("this tree", path.join(repo, "src"), work, nodeModules))

    const pkg = path.join(work, "pkg")
    makePackage(pkg, options.files, options.mib)
    console.log(
      `fm archive work: ${options.files} files, ${options.mib} MiB (half random, half text); ` +
        (options.tool === "callgrind"
          ? `instructions under callgrind (node --single-threaded), ${options.runs} run(s), median`
          : `child CPU time (user+system), ${options.runs} A/B alternated runs, medians`) +
        `; node ${process.version}, loadavg ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`
    )

    // the archives every tree reads: written by this tree (the tar writers are deterministic)
    const inputs = new Map<string, string>()
    for (const format of options.formats) {
      const file = path.join(work, `input.${format}.fmpkg`)
      await runCase({ ...options, tool: "cpu" }, trees.at(-1) ?? trees[0]!, ["pack", pkg, file, format])
      inputs.set(format, file)
    }

    const operations: Array<{ readonly name: string; readonly args: (tree: number, run: number) => Array<string> }> = [{
      name: "start-up",
      args: () => ["noop"]
    }]
    for (const format of options.formats) {
      const input = inputs.get(format) ?? ""
      operations.push(
        {
          name: `pack (${format})`,
          args: (t, r) => ["pack", pkg, path.join(work, `out-${t}-${r}.${format}.fmpkg`), format]
        },
        { name: `open/verify (${format})`, args: () => ["open", input] },
        { name: `extract (${format})`, args: (t, r) => ["extract", input, path.join(work, `x-${format}-${t}-${r}`)] }
      )
    }
    // A/B alternated: every round runs each operation once per tree, trees in turn
    const tasks: Array<() => Promise<{ op: number; tree: number; sample: Sample }>> = []
    for (let r = 0; r < options.runs; r++) {
      operations.forEach((op, o) => {
        const order = r % 2 === 0 ? trees.map((_, t) => t) : trees.map((_, t) => t).reverse()
        for (const t of order) {
          const tree = trees[t]
          if (tree === undefined) continue
          tasks.push(async () => {
            const args = op.args(t, r)
            const sample = await runCase(options, tree, args)
            if (args[0] === "extract") fs.rmSync(args[2] ?? "", { recursive: true, force: true })
            return { op: o, tree: t, sample }
          })
        }
      })
    }
    const results = await pool(tasks, options.tool === "callgrind" ? options.jobs : 1)
    const value = (o: number, t: number): number =>
      median(results.filter((x) => x.op === o && x.tree === t).map((x) => x.sample.value))
    const notes = (o: number): Set<string> => new Set(results.filter((x) => x.op === o).map((x) => x.sample.note))

    const unit = options.tool === "callgrind" ? "Minstr" : "ms CPU"
    const show = (v: number): string => options.tool === "callgrind" ? (v / 1e6).toFixed(0) : v.toFixed(0)
    const base = 0
    const current = trees.length - 1
    const header = ["operation", ...trees.map((t) => `${t.label} (${unit})`), "ratio", "work ratio"]
    const rows = operations.map((op, o) => {
      const work = (t: number): number => value(o, t) - value(0, t)
      return [
        op.name,
        ...trees.map((_, t) => show(value(o, t))),
        (value(o, current) / value(o, base)).toFixed(3),
        o === 0 ? "" : (work(current) / work(base)).toFixed(3)
      ]
    })
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
    const line = (cells: ReadonlyArray<string>) =>
      "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ") + " |"
    console.log("")
    console.log(line(header))
    console.log("|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|")
    for (const r of rows) console.log(line(r))
    console.log(
      `\nratio: this tree ÷ ${trees[base]?.label}; work ratio: the same with start-up subtracted from both.`
    )
    const packs = operations.flatMap((op, o) => op.name.startsWith("pack (tar)") ? [...notes(o)] : [])
    if (packs.length > 0) {
      console.log(
        packs.length === 1
          ? `every tree's tar pack wrote the same bytes (sha256 ${packs[0]?.slice(0, 16)}…)`
          : `the trees' tar packs differ in bytes: ${packs.map((p) => p.slice(0, 16)).join(", ")}`
      )
    }
  } finally {
    cleanup()
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
