// Builds the web UI into a directory: index.html, favicon.svg and content-hashed, minified
// assets/app-<hash>.js and assets/app-<hash>.css, bundled by esbuild (no other download).
import * as esbuild from "esbuild"
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { basename, dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))

/**
 * Builds the UI into `outDir` (replaced as a whole once the new build is complete) and returns the
 * file names of the entry script and stylesheet, relative to `outDir`.
 * @param {{ outDir: string }} options
 * @returns {Promise<{ js: string, css: string, outDir: string }>}
 */
export const buildUi = async ({ outDir }) => {
  const target = resolve(outDir)
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(join(tmp, "assets"), { recursive: true })
  try {
    const result = await esbuild.build({
      entryPoints: { app: join(here, "main.ts") },
      outdir: join(tmp, "assets"),
      entryNames: "[name]-[hash]",
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      target: ["es2020", "chrome100", "firefox100", "safari15"],
      legalComments: "none",
      metafile: true,
      write: true,
      logLevel: "warning"
    })
    const outputs = Object.keys(result.metafile.outputs).map((p) => relative(tmp, resolve(p)).split("\\").join("/"))
    const js = outputs.find((p) => p.endsWith(".js"))
    const css = outputs.find((p) => p.endsWith(".css"))
    if (!js || !css) throw new Error(`web UI build produced no script or stylesheet (got ${outputs.join(", ")})`)
    const html = readFileSync(join(here, "index.html"), "utf8").replace("%JS%", `/${js}`).replace("%CSS%", `/${css}`)
    writeFileSync(join(tmp, "index.html"), html)
    copyFileSync(join(here, "favicon.svg"), join(tmp, "favicon.svg"))
    rmSync(target, { recursive: true, force: true })
    mkdirSync(dirname(target), { recursive: true })
    renameSync(tmp, target)
    return { js, css, outDir: target }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true })
    throw e
  }
}

/** The default output directory: `dist/ui` at the repository root. */
export const defaultOutDir = resolve(here, "..", "..", "dist", "ui")

// Used as a script: `node src/ui/bundle.mjs [outDir]`.
if (process.argv[1] && basename(process.argv[1]) === "bundle.mjs" && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildUi({ outDir: process.argv[2] ?? defaultOutDir })
  console.log(`web UI built in ${r.outDir}: ${r.js}, ${r.css}`)
}
