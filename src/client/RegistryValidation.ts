/**
 * The checks of a registry's name and URL, shared by the configuration and the CLI.
 * `RegistryConfig` re-exports them.
 * @since 0.1.0
 */
import { Option } from "effect"

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/**
 * Why a registry name is not acceptable, if it is not (letters, digits, `.`, `_`, `-`, at most 64
 * characters, starting with a letter or digit).
 * @since 0.1.0
 */
export const checkRegistryName = (name: string): Option.Option<string> =>
  NAME_RE.test(name)
    ? Option.none()
    : Option.some(
      "a registry name uses letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit"
    )

/**
 * Why a registry URL is not acceptable, if it is not (an absolute `http:` or `https:` URL without
 * query or fragment).
 * @since 0.1.0
 */
export const checkRegistryUrl = (url: string): Option.Option<string> => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return Option.some(`'${url}' is not a URL; use an absolute URL such as https://registry.example.com`)
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return Option.some(`'${url}' must use http:// or https://`)
  }
  if (parsed.search !== "" || parsed.hash !== "") {
    return Option.some(`'${url}' must not have a query or fragment`)
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return Option.some(`'${url}' must not embed credentials; use --token`)
  }
  return Option.none()
}
