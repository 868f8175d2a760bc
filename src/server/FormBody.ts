/**
 * A `multipart/form-data` body held whole in memory (a small upload), split into its parts
 * without copying: what the upload endpoint reads when the request declares a small
 * `Content-Length`. Larger uploads stream through `@effect/platform`'s Multipart instead; both
 * tell files from fields the same way (a file has a `filename`, or is `application/octet-stream`).
 * @since 0.1.0
 */

/**
 * One part of a form.
 * @since 0.1.0
 * @category models
 */
export interface FormPart {
  /** The `name` of its `Content-Disposition`. */
  readonly name: string
  /** Whether it is a file (has a `filename`, or is `application/octet-stream`). */
  readonly isFile: boolean
  /** Its bytes (a view into the body). */
  readonly data: Buffer
}

/**
 * The `boundary` parameter of a `multipart/form-data` content type, or undefined.
 * @since 0.1.0
 * @category parsing
 */
export const boundaryOf = (contentType: string | undefined): string | undefined => {
  if (contentType === undefined || !/^\s*multipart\/form-data\s*;/i.test(contentType)) return undefined
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType)
  return m === null ? undefined : (m[1] ?? m[2])
}

/** A `key="value"` or `key=token` parameter of a header value (quoted-pair escapes undone). */
const parameter = (value: string, key: string): string | undefined => {
  const re = new RegExp(`;\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i")
  const m = re.exec(value)
  if (m === null) return undefined
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]
}

const HEADER_END = Buffer.from("\r\n\r\n")
const MAX_HEADER_BYTES = 16 * 1024

/**
 * The parts of `body` (a whole `multipart/form-data` body with the given boundary), or a
 * sentence saying what is wrong with it.
 * @since 0.1.0
 * @category parsing
 */
export const parseForm = (body: Buffer, boundary: string): ReadonlyArray<FormPart> | string => {
  const delimiter = Buffer.from(`--${boundary}`)
  const next = Buffer.from(`\r\n--${boundary}`)
  let at = body.indexOf(delimiter)
  if (at !== 0 && (at < 0 || body.indexOf(next) !== at - 2)) return "the body does not start with the boundary"
  at += delimiter.length
  const parts: Array<FormPart> = []
  for (;;) {
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts // "--": the closing delimiter
    // transport padding, then CRLF
    while (body[at] === 0x20 || body[at] === 0x09) at++
    if (body[at] !== 0x0d || body[at + 1] !== 0x0a) return "a boundary line is not followed by CRLF"
    at += 2
    const headersEnd = body.indexOf(HEADER_END, at)
    if (headersEnd < 0 || headersEnd - at > MAX_HEADER_BYTES) return "a part's headers do not end"
    let disposition: string | undefined
    let contentType = ""
    for (const line of body.toString("latin1", at, headersEnd).split("\r\n")) {
      const colon = line.indexOf(":")
      if (colon <= 0) return `a part has a malformed header line '${line.slice(0, 80)}'`
      const key = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      if (key === "content-disposition") disposition = value
      else if (key === "content-type") contentType = value.toLowerCase()
    }
    if (disposition === undefined || !/^form-data\s*(;|$)/i.test(disposition)) {
      return "a part has no 'Content-Disposition: form-data' header"
    }
    const name = parameter(disposition, "name")
    if (name === undefined) return "a part has no name"
    const filename = parameter(disposition, "filename") ?? parameter(disposition, "filename\\*")
    const dataStart = headersEnd + HEADER_END.length
    const dataEnd = body.indexOf(next, dataStart)
    if (dataEnd < 0) return `part '${name}' is not closed by the boundary (truncated body)`
    parts.push({
      name,
      isFile: filename !== undefined || contentType.split(";")[0]!.trim() === "application/octet-stream",
      data: body.subarray(dataStart, dataEnd)
    })
    at = dataEnd + next.length
  }
}
