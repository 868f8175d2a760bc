/**
 * `npm run bench:search`: how long one search holds the event loop on a registry of 30,000
 * versions (SQLite runs on the main thread, so a query's time is the time nothing else runs).
 * The registry is seeded straight through the `PackageStore` (30,000 packages of one version
 * each: the worst case for search, every version is in the index) with descriptions of common
 * words. Each query is run once to warm up, then several times with a different page (the store
 * caches answers by query and page, so every run reaches the database); the table gives the
 * median and the maximum of the measured runs.
 *
 * The baseline in the same run is the query the server now refuses with 400 (3,500 one-letter
 * words, past `SearchQuery.MAX_QUERY_WORDS`), sent to the store directly.
 * Environment: BENCH_VERSIONS (default 30000), BENCH_RUNS (default 9).
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { MAX_QUERY_LENGTH, MAX_QUERY_WORDS, outOfBounds } from "../src/server/http/SearchQuery.js"
import { PackageStore } from "../src/server/storage/PackageStore.js"
import * as SqlitePackageStore from "../src/server/storage/SqlitePackageStore.js"
import { newRelease } from "../test/helpers/releases.js"

const VERSIONS = Number(process.env["BENCH_VERSIONS"] ?? 30_000)
const RUNS = Number(process.env["BENCH_RUNS"] ?? 9)
const WORDS = [
  "data",
  "json",
  "transform",
  "http",
  "client",
  "parse",
  "stream",
  "queue",
  "cache",
  "file",
  "table",
  "graph",
  "text",
  "image",
  "model",
  "agent"
]

const letters = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + (i % 26))).join(" ")

const queries: ReadonlyArray<{ readonly label: string; readonly q: string; readonly category?: string }> = [
  { label: "one word ('data')", q: "data" },
  { label: "one letter ('a')", q: "a" },
  { label: `${MAX_QUERY_WORDS} one-letter words (the bound)`, q: letters(MAX_QUERY_WORDS) },
  { label: `${MAX_QUERY_WORDS} common words`, q: WORDS.slice(0, MAX_QUERY_WORDS).join(" ") },
  { label: `one ${MAX_QUERY_LENGTH}-character word (the bound)`, q: "d".repeat(MAX_QUERY_LENGTH) },
  { label: "empty query (list all)", q: "" },
  { label: "one letter + category", q: "a", category: "cat-3" },
  { label: "baseline: 3,500 one-letter words (refused: 400)", q: letters(3_500) }
]

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const main = Effect.gen(function*() {
  const store = yield* PackageStore
  const seedStarted = performance.now()
  for (let i = 0; i < VERSIONS; i++) {
    const words = [WORDS[i % WORDS.length]!, WORDS[(i * 7) % WORDS.length]!, WORDS[(i * 13) % WORDS.length]!]
    yield* store.publish(newRelease(`pkg-${i}`, "1.0.0", {
      description: `A ${words.join(" ")} package number ${i}`,
      tags: [words[0]!],
      components: [`${words[1]}_${words[2]}`],
      category: `cat-${i % 10}`,
      checksum: (i.toString(16).padStart(8, "0")).repeat(8)
    }))
  }
  const seedSeconds = (performance.now() - seedStarted) / 1000
  console.log(`seeded ${VERSIONS} versions in ${seedSeconds.toFixed(1)} s (SQLite, one version per package)\n`)
  console.log("| query | within bounds | median ms | max ms | matches |")
  console.log("|---|---|---:|---:|---:|")
  for (const query of queries) {
    const times: Array<number> = []
    let total = 0
    // one warm-up run (statement preparation, page cache), then RUNS measured ones
    for (let run = 0; run <= RUNS; run++) {
      const started = performance.now()
      const result = yield* store.search({ q: query.q, category: query.category, page: run + 1, pageSize: 20 })
      if (run > 0) times.push(performance.now() - started)
      total = result.total
    }
    const ok = outOfBounds(query.q) === undefined ? "yes" : "no (400)"
    console.log(
      `| ${query.label} | ${ok} | ${median(times).toFixed(1)} | ${Math.max(...times).toFixed(1)} | ${total} |`
    )
  }
})

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "fm-bench-search-"))
try {
  await Effect.runPromise(main.pipe(Effect.provide(SqlitePackageStore.layer(Path.join(dir, "registry.db")))))
} finally {
  Fs.rmSync(dir, { recursive: true, force: true })
}
