#!/usr/bin/env node
/**
 * The `fm` executable: runs the command tree with Node's file system, HTTP client and the
 * FlowMason home, prints failures as `error: ...` (and `hint: ...`) on stderr, and exits with
 * 0 (success), 1 (failure) or 2 (usage error). `fm` alone prints the help.
 *
 * Everything but the version is loaded with `import()`, so `fm --version` answers without
 * loading the command tree (the bundle splits it into chunks).
 * @since 0.1.0
 */
import { FM_VERSION } from "../shared/Version.js"

const args = process.argv.slice(2)
if (args.length === 1 && args[0] === "--version") {
  process.stdout.write(`${FM_VERSION}\n`)
} else {
  // `fm` alone prints the help
  const { main } = await import("./Main.js")
  await main(args.length === 0 ? [...process.argv, "--help"] : process.argv)
}
