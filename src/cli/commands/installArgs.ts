/**
 * `fm install --version V`: @effect/cli reserves `--version` (fm's own version), so install's
 * option is parsed under another name and shown and typed as `--version` (see
 * {@link withInstallVersionFlag}). Kept apart from the command so that the command tree
 * (`Cli.ts`) can use it without loading `install` and its services.
 * @since 0.1.0
 */
import type { CommandSpec } from "../CommandSpec.js"

/**
 * The internal name of install's version option (`--version` itself is @effect/cli's built-in).
 * @since 0.1.0
 */
export const INSTALL_VERSION_OPTION = "pkg-version"

/**
 * The command tree with install's version option typed and shown as `--version`.
 * @since 0.1.0
 */
export const withInstallVersionFlag = (root: CommandSpec): CommandSpec => ({
  ...root,
  subcommands: root.subcommands.map((c) =>
    c.name !== "install" ? c : {
      ...c,
      flags: c.flags.map((f) => f.long === `--${INSTALL_VERSION_OPTION}` ? { ...f, typed: "--version" } : f)
    }
  )
})
