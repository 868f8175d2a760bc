// Builds what `npm ci` / `npm install` must produce: the bundled CLI (dist/fm.js) and, when it
// exists, the web UI (dist/ui). Run by the `prepare` and `build` scripts; nothing is downloaded.
import * as esbuild from "esbuild"
import { existsSync, mkdirSync, rmSync, chmodSync } from "node:fs"

rmSync("dist", { recursive: true, force: true })
mkdirSync("dist", { recursive: true })

if (existsSync("src/cli/bin.ts")) {
  await esbuild.build({
    entryPoints: { fm: "src/cli/bin.ts" },
    outdir: "dist",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "linked",
    external: ["better-sqlite3", "@parcel/watcher", "pg-native", "playwright-core", "autocannon"],
    banner: {
      js: "import { createRequire as __fmCreateRequire } from 'node:module'; const require = __fmCreateRequire(import.meta.url);"
    },
    logLevel: "warning"
  })
  chmodSync("dist/fm.js", 0o755)
}

if (existsSync("src/ui/build.mjs")) {
  await import("./src/ui/build.mjs")
}
