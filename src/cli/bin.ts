#!/usr/bin/env node
/**
 * The `fm` executable: runs the command tree with Node's file system, HTTP client and the
 * FlowMason home, prints failures as `error: ...` (and `hint: ...`) on stderr, and exits with
 * 0 (success), 1 (failure) or 2 (usage error). `fm` alone prints the help.
 *
 * `fm --version` (and `-V`) answers without loading anything else. Built (dist/fm.js), everything else is
 * in one CommonJS bundle next to it (`FM_CLI_BUNDLE`, set by esbuild.config.mjs), run through
 * V8's code cache (`CodeCache.ts`): compiling that bundle was most of the start-up time. Run
 * from source (`npm run fm`), `Main.ts` is imported as is.
 * @since 0.1.0
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { FM_VERSION } from "../shared/FmVersion.js"
import { codeCacheDir, codeCachePrefix, loadBundle } from "./CodeCache.js"
import { isSubcommandName } from "./SubcommandNames.js"

/** The file name of the command-tree bundle in dist/ (replaced by esbuild; absent from source). */
declare const FM_CLI_BUNDLE: string | undefined

type Main = (argv: ReadonlyArray<string>) => Promise<void>

const isMain = (exports: unknown): exports is { readonly main: Main } =>
  typeof exports === "object" && exports !== null && "main" in exports && typeof exports.main === "function"

/**
 * The code cache a command line uses: one per subcommand named first, and one of its own for the
 * registry server (`studio start`), whose code is mostly not that of the token commands beside it.
 */
const cacheNameOf = (argv: ReadonlyArray<string>): string => {
  const first = argv[2]
  if (!isSubcommandName(first)) return "_"
  return first === "studio" && argv[3] === "start" ? "studio-start" : first
}

/** `main` from the bundle, with the code cache of its command line (see {@link cacheNameOf}). */
const loadBuiltMain = (bundleName: string, argv: ReadonlyArray<string>): Main => {
  const bundle = path.join(path.dirname(fileURLToPath(import.meta.url)), bundleName)
  // before Effect is loaded (the start-up path), so the environment is read directly here
  const dir = codeCacheDir(process.env)
  const prefix = codeCachePrefix(bundleName)
  const cacheFile = dir === undefined ? undefined : path.join(dir, `${prefix}${cacheNameOf(argv)}.bin`)
  const { exports } = loadBundle(bundle, cacheFile, prefix)
  if (!isMain(exports)) throw new Error(`${bundle} does not export main`)
  return exports.main
}

const start = async (): Promise<void> => {
  const args = process.argv.slice(2)
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    process.stdout.write(`${FM_VERSION}\n`)
    return
  }
  // `fm` alone prints the help
  const argv = args.length === 0 ? [...process.argv, "--help"] : process.argv
  const main = typeof FM_CLI_BUNDLE === "string"
    ? loadBuiltMain(FM_CLI_BUNDLE, argv)
    : (await import("./Main.js")).main
  await main(argv)
}

start().catch((e: unknown) => {
  process.stderr.write(
    `error: internal error (a bug in fm): ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`
  )
  process.exit(1)
})
