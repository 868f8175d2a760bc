/**
 * Foundation benchmark (`npm run bench`): streaming SHA-256 against `sha256sum`, and pack/extract
 * of a 50 MiB package of 2,000 files against zip/unzip and GNU tar, each case in its own child
 * process (a bundle run by plain node) so peak RSS is per case. Files live in a temp dir that is
 * deleted afterwards.
 */
import { Effect } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { PackageArchive } from "../src/archive/PackageArchive.js"
import { Checksum } from "../src/shared/Checksum.js"

const MiB = 1024 * 1024
const HASH_FILE_MIB = 256
const PACKAGE_FILES = 2000
const PACKAGE_MIB = 50
const RUNS = 3

interface CaseResult {
  readonly ms: number
  readonly rssMiB: number
  readonly note?: string
}

// ---------------------------------------------------------------------------------------------
// child side: run one case, print one JSON line

const runCase = async (name: string, args: Array<string>): Promise<void> => {
  const layer = PackageArchive.Default
  const start = performance.now()
  let note: string | undefined
  switch (name) {
    case "noop":
      break
    case "hash": {
      note = await Effect.runPromise(
        Effect.flatMap(Checksum, (c) => c.hashFile(args[0]!)).pipe(Effect.provide(Checksum.Default))
      )
      break
    }
    case "pack": {
      const result = await Effect.runPromise(
        Effect.flatMap(PackageArchive, (a) => a.pack(args[0]!, { output: args[1]!, format: args[2] as "zip" | "tar" }))
          .pipe(
            Effect.provide(layer)
          )
      )
      note = `${(result.size / MiB).toFixed(1)} MiB, sha256 ${result.sha256.slice(0, 12)}`
      break
    }
    case "extract": {
      const result = await Effect.runPromise(
        Effect.flatMap(PackageArchive, (a) => a.extract(args[0]!, args[1]!)).pipe(Effect.provide(layer))
      )
      note = `${result.entries.length} entries`
      break
    }
    case "open": {
      const result = await Effect.runPromise(
        Effect.flatMap(PackageArchive, (a) => a.open(args[0]!)).pipe(Effect.provide(layer))
      )
      note = `${result.entries.length} entries verified`
      break
    }
    default:
      throw new Error(`unknown case ${name}`)
  }
  const ms = performance.now() - start
  const rssMiB = process.resourceUsage().maxRSS / 1024
  process.stdout.write(JSON.stringify({ ms, rssMiB, note }) + "\n")
}

// ---------------------------------------------------------------------------------------------
// parent side

const child = (bundle: string, name: string, ...args: Array<string>): CaseResult => {
  const out = execFileSync(process.execPath, [bundle, "--case", name, ...args], { encoding: "utf8" })
  return JSON.parse(out.trim().split("\n").at(-1)!) as CaseResult
}

const timed = (command: string, args: Array<string>, options: { cwd?: string } = {}): number => {
  const start = performance.now()
  const r = spawnSync(command, args, { stdio: ["ignore", "ignore", "pipe"], ...options })
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${r.stderr?.toString()}`)
  return performance.now() - start
}

/** Peak RSS of an external command, via GNU time when present. */
const externalRss = (command: string, args: Array<string>, cwd?: string): number | undefined => {
  if (!fs.existsSync("/usr/bin/time")) return undefined
  const r = spawnSync("/usr/bin/time", ["-f", "%M", command, ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe"]
  })
  const kb = Number(r.stderr.trim().split("\n").at(-1))
  return Number.isFinite(kb) ? kb / 1024 : undefined
}

const best = <T extends { ms: number }>(runs: ReadonlyArray<T>): T => runs.reduce((a, b) => (b.ms < a.ms ? b : a))

const table = (title: string, header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): void => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") + " |"
  console.log(`\n${title}\n`)
  console.log(line(header))
  console.log("|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 1) + "-" : "-".repeat(w + 1) + ":")).join("|") + "|")
  for (const r of rows) console.log(line(r))
}

const makePackage = (dir: string): void => {
  const words = ["flow", "mason", "pipeline", "stage", "node", "operator", "prompt", "value", "json", "llm"]
  const perFile = Math.floor((PACKAGE_MIB * MiB) / PACKAGE_FILES)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(
    path.join(dir, "manifest.json"),
    JSON.stringify({ name: "bench-pkg", version: "1.0.0", description: "benchmark package" })
  )
  for (let i = 0; i < PACKAGE_FILES - 1; i++) {
    const sub = path.join(dir, `group-${String(i % 40).padStart(2, "0")}`)
    fs.mkdirSync(sub, { recursive: true })
    let data: Buffer
    if (i % 2 === 0) {
      data = crypto.randomBytes(perFile) // incompressible half
    } else {
      const seed = crypto.randomBytes(perFile)
      data = Buffer.from(Array.from(seed, (b) => words[b % words.length]).join(" ").slice(0, perFile))
    }
    fs.writeFileSync(path.join(sub, `file-${i}.${i % 2 === 0 ? "bin" : "txt"}`), data)
  }
}

const main = async (): Promise<void> => {
  const self = fileURLToPath(import.meta.url)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "fm-bench-"))
  const cleanup = () => fs.rmSync(work, { recursive: true, force: true })
  process.on("SIGINT", () => {
    cleanup()
    process.exit(130)
  })
  try {
    // bundle this file so children run on plain node (no tsx loader in the RSS figures)
    const esbuild = await import("esbuild")
    const bundle = path.join(work, "bench.mjs")
    await esbuild.build({
      entryPoints: [self],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outfile: bundle,
      logLevel: "error",
      external: ["esbuild"]
    })
    console.log(
      `fm foundation benchmark: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"}), ` +
        `best of ${RUNS} runs, loadavg ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`
    )
    const idle = child(bundle, "noop")

    // 1. SHA-256
    const big = path.join(work, "big.bin")
    const fd = fs.openSync(big, "w")
    const block = crypto.randomBytes(MiB)
    for (let i = 0; i < HASH_FILE_MIB; i++) {
      block.writeUInt32LE(i, 0)
      fs.writeSync(fd, block)
    }
    fs.closeSync(fd)
    timed("sha256sum", [big]) // warm the page cache
    const sumRuns: Array<{ ms: number }> = []
    const hashRuns: Array<CaseResult> = []
    for (let r = 0; r < RUNS; r++) {
      sumRuns.push({ ms: timed("sha256sum", [big]) })
      hashRuns.push(child(bundle, "hash", big))
    }
    const expected = execFileSync("sha256sum", [big], { encoding: "utf8" }).split(" ")[0]
    const hash = best(hashRuns)
    if (hash.note !== expected) throw new Error(`digest differs from sha256sum: ${hash.note} vs ${expected}`)
    const sum = best(sumRuns)
    const mibps = (ms: number) => HASH_FILE_MIB / (ms / 1000)
    const sumRss = externalRss("sha256sum", [big])
    table(`SHA-256 of a ${HASH_FILE_MIB} MiB file (page cache warm)`, [
      "tool",
      "time",
      "MiB/s",
      "vs sha256sum",
      "peak RSS"
    ], [
      [
        "sha256sum",
        `${sum.ms.toFixed(0)} ms`,
        mibps(sum.ms).toFixed(0),
        "1.00",
        sumRss === undefined ? "-" : `${sumRss.toFixed(1)} MiB`
      ],
      [
        "Checksum.hashFile",
        `${hash.ms.toFixed(0)} ms`,
        mibps(hash.ms).toFixed(0),
        (sum.ms / hash.ms).toFixed(2),
        `${hash.rssMiB.toFixed(1)} MiB`
      ]
    ])
    console.log(`(idle child process, same bundle: ${idle.rssMiB.toFixed(1)} MiB RSS)`)

    // 2. pack / extract
    const src = path.join(work, "pkg")
    makePackage(src)
    const srcBytes = execFileSync("du", ["-sb", src], { encoding: "utf8" }).split("\t")[0]
    const rows: Array<Array<string>> = []
    for (const format of ["zip", "tar"] as const) {
      const packRuns: Array<CaseResult> = []
      const extractRuns: Array<CaseResult> = []
      const openRuns: Array<CaseResult> = []
      const out = path.join(work, `out.${format}.fmpkg`)
      for (let r = 0; r < RUNS; r++) {
        fs.rmSync(out, { force: true })
        packRuns.push(child(bundle, "pack", src, out, format))
        const target = path.join(work, `x-${format}-${r}`)
        extractRuns.push(child(bundle, "extract", out, target))
        fs.rmSync(target, { recursive: true, force: true })
        openRuns.push(child(bundle, "open", out))
      }
      const p = best(packRuns)
      const x = best(extractRuns)
      const o = best(openRuns)
      rows.push([`pack (${format})`, `${p.ms.toFixed(0)} ms`, `${p.rssMiB.toFixed(1)} MiB`, p.note ?? ""])
      rows.push([`open/verify (${format})`, `${o.ms.toFixed(0)} ms`, `${o.rssMiB.toFixed(1)} MiB`, o.note ?? ""])
      rows.push([`extract (${format})`, `${x.ms.toFixed(0)} ms`, `${x.rssMiB.toFixed(1)} MiB`, x.note ?? ""])
    }
    // baselines: Info-ZIP and GNU tar on the same tree
    const zipOut = path.join(work, "baseline.zip")
    const tarOut = path.join(work, "baseline.tgz")
    const zipMs = best(Array.from({ length: RUNS }, () => {
      fs.rmSync(zipOut, { force: true })
      return { ms: timed("zip", ["-q", "-r", "-X", zipOut, "."], { cwd: src }) }
    })).ms
    const unzipMs = best(Array.from({ length: RUNS }, (_, r) => {
      const t = path.join(work, `uz-${r}`)
      const ms = timed("unzip", ["-q", zipOut, "-d", t])
      fs.rmSync(t, { recursive: true, force: true })
      return { ms }
    })).ms
    const tarMs = best(Array.from({ length: RUNS }, () => ({ ms: timed("tar", ["czf", tarOut, "-C", src, "."]) }))).ms
    const untarMs = best(Array.from({ length: RUNS }, (_, r) => {
      const t = path.join(work, `ut-${r}`)
      fs.mkdirSync(t)
      const ms = timed("tar", ["xzf", tarOut, "-C", t])
      fs.rmSync(t, { recursive: true, force: true })
      return { ms }
    })).ms
    rows.push([
      "baseline: zip -r (Info-ZIP)",
      `${zipMs.toFixed(0)} ms`,
      "",
      `${(fs.statSync(zipOut).size / MiB).toFixed(1)} MiB`
    ])
    rows.push(["baseline: unzip", `${unzipMs.toFixed(0)} ms`, "", "no fsync"])
    rows.push([
      "baseline: tar czf (GNU)",
      `${tarMs.toFixed(0)} ms`,
      "",
      `${(fs.statSync(tarOut).size / MiB).toFixed(1)} MiB`
    ])
    rows.push(["baseline: tar xzf (GNU)", `${untarMs.toFixed(0)} ms`, "", "no fsync"])
    table(
      `Package of ${PACKAGE_FILES} files, ${(Number(srcBytes) / MiB).toFixed(1)} MiB (half random, half text)`,
      ["operation", "time", "peak RSS", "note"],
      rows
    )
    console.log("\nfm extract fsyncs every file and the parent directory before the rename; unzip/tar do not.")
  } finally {
    cleanup()
  }
}

if (process.argv[2] === "--case") {
  runCase(process.argv[3]!, process.argv.slice(4)).catch((e) => {
    console.error(e)
    process.exit(1)
  })
} else {
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
