/**
 * `fm install`'s argument rewriting, kept apart from the command so that the command tree
 * (`Cli.ts`) can apply it without loading `install` and its services.
 * @since 0.1.0
 */

/**
 * The internal name of install's version option (`--version` itself is @effect/cli's built-in).
 * @since 0.1.0
 */
export const INSTALL_VERSION_OPTION = "pkg-version"

/**
 * Lets `fm install NAME --version V` work as FlowMason users type it: @effect/cli treats
 * `--version` anywhere as its built-in "print fm's version", so after the `install` subcommand a
 * `--version` followed by a value is renamed to the install option. `fm --version` is untouched.
 * @since 0.1.0
 */
export const rewriteInstallVersion = (argv: ReadonlyArray<string>): Array<string> => {
  const out = [...argv]
  const sub = out.findIndex((a, i) => i >= 2 && !a.startsWith("-"))
  if (sub < 0 || out[sub] !== "install") return out
  for (let i = sub + 1; i < out.length - 1; i++) {
    if (out[i] === "--") break
    if (out[i] === "--version" && !out[i + 1]!.startsWith("-")) out[i] = `--${INSTALL_VERSION_OPTION}`
  }
  return out
}

