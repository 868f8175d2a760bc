/**
 * JSON parsing whose syntax errors name the line and column (1-based) of the file.
 * @internal
 */
import { Either } from "effect"
import type { Effect } from "effect"
import { parseJsonText } from "../shared/JsonText.js"
import { ConfigError } from "./RegistryConfigErrors.js"

/** Line and column (1-based) of a character offset. */
const lineColumn = (text: string, offset: number): { line: number; column: number } => {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)))
  const lines = before.split("\n")
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 }
}

/**
 * Parses JSON, reporting syntax errors with line and column.
 * @internal
 */
export const parseJsonAt = (
  file: string,
  text: string
): Effect.Effect<unknown, ConfigError> =>
  Either.mapLeft(parseJsonText(text), (msg) => {
    const lc = /line (\d+) column (\d+)/.exec(msg)
    const pos = /position (\d+)/.exec(msg)
    const where = lc
      ? { line: Number(lc[1]), column: Number(lc[2]) }
      : pos
      ? lineColumn(text, Number(pos[1]))
      : lineColumn(text, text.length)
    const reason = `invalid JSON: ${
      msg.replace(/\s*\(line \d+ column \d+\)/, "").replace(/ in JSON at position \d+/, "")
    }`
    return new ConfigError({ file, reason, ...where })
  })
