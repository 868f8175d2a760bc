/**
 * Settings from the environment, read through `Config` (whose default provider reads the process
 * environment; tests give their own with `ConfigProvider.fromMap`). Unset, empty and blank values
 * all read as "not set", as the documented variables always have. Secrets stay `Redacted` until
 * the one place that needs their text.
 * @since 0.1.0
 */
import { Config, Option, Redacted } from "effect"

const present = (v: string): boolean => v.trim() !== ""

/**
 * An optional setting: `Option.none()` when unset or blank.
 * @since 0.1.0
 */
export const optional = (name: string): Config.Config<Option.Option<string>> =>
  Config.string(name).pipe(Config.option, Config.map(Option.filter(present)))

/**
 * An optional secret (a token, a URL with a password): `Option.none()` when unset or blank.
 * @since 0.1.0
 */
export const optionalSecret = (name: string): Config.Config<Option.Option<Redacted.Redacted<string>>> =>
  Config.redacted(name).pipe(Config.option, Config.map(Option.filter((r) => present(Redacted.value(r)))))

/**
 * `NO_COLOR` (https://no-color.org): set to anything non-empty, output carries no colour.
 * @since 0.1.0
 */
export const noColor: Config.Config<boolean> = Config.map(
  Config.string("NO_COLOR").pipe(Config.option),
  Option.exists((v) => v !== "")
)
