/**
 * The names of fm's subcommands, in the order `fm --help` lists them. `Cli.ts` maps each to the
 * `import()` of its module; `bin.ts` keeps one code cache per name (see `CodeCache.ts`). Kept
 * apart from both so that `bin.ts` can know them without loading the command tree.
 * @since 0.1.0
 */

/**
 * Every subcommand of `fm`, in help order.
 * @since 0.1.0
 */
export const SUBCOMMAND_NAMES = [
  "registry",
  "pack",
  "studio",
  "tree",
  "outdated",
  "update",
  "search",
  "info",
  "versions",
  "install",
  "publish",
  "login"
] as const

/**
 * The name of one subcommand of `fm`.
 * @since 0.1.0
 */
export type SubcommandName = (typeof SUBCOMMAND_NAMES)[number]

/**
 * Whether a command-line word names a subcommand.
 * @since 0.1.0
 */
export const isSubcommandName = (s: string | undefined): s is SubcommandName =>
  s !== undefined && SUBCOMMAND_NAMES.some((name) => name === s)
