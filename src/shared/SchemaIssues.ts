/**
 * A Schema decoding failure as one readable line (`"priority" must be a number, not "high"`),
 * for messages users read: no schema names, no trees.
 * @since 0.1.0
 */
import { ParseResult } from "effect"

/**
 * One short phrase per field at fault, joined with `; ` (the first problem of each field only:
 * the alternatives of an optional field add nothing).
 * @since 0.1.0
 */
export const describeParseError = (error: ParseResult.ParseError): string => {
  const byPath = new Map<string, string>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const where = issue.path.length === 0 ? "the value" : issue.path.map((p) => JSON.stringify(String(p))).join(".")
    if (byPath.has(where)) continue
    const expected = /^Expected (.+?), actual (.+)$/s.exec(issue.message)
    byPath.set(
      where,
      expected !== null
        ? `${where} must be ${article(expected[1] ?? "")}, not ${expected[2] ?? ""}`
        : issue._tag === "Missing"
        ? `${where} is missing`
        : issue._tag === "Unexpected"
        ? `${where} is not allowed here`
        : `${where}: ${issue.message}`
    )
  }
  return [...byPath.values()].join("; ")
}

const article = (type: string): string =>
  /^(string|number|boolean|object|array|integer)$/.test(type) ? `a${/^[aeiou]/.test(type) ? "n" : ""} ${type}` : type
