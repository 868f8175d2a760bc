/**
 * HTTP/1.1 by hand over a TCP socket, for what `fetch` will not send: a body that stops short of
 * its `Content-Length`, a request head that never ends, a `Content-Type` without a boundary.
 */
import * as net from "node:net"

/** What a raw request got back: the status line, headers and body, or nothing in time. */
export type RawAnswer =
  | { readonly status: number; readonly headers: Record<string, string>; readonly body: string }
  | "no answer"

/**
 * Opens a fresh TCP connection to `url`, writes `head`, then lets `sendBody` write the body (it
 * returns how to stop sending), and waits up to `waitMs` for a whole response. The connection is
 * then destroyed.
 */
const exchange = (
  url: string,
  head: string,
  sendBody: (socket: net.Socket) => () => void,
  waitMs: number
): Promise<RawAnswer> =>
  new Promise((resolve) => {
    const u = new URL(url)
    const socket = net.connect(Number(u.port), u.hostname)
    let received = Buffer.alloc(0)
    let stopSending = () => {}
    const finish = (answer: RawAnswer) => {
      clearTimeout(timer)
      stopSending()
      socket.destroy()
      resolve(answer)
    }
    const timer = setTimeout(() => finish(parse(received) ?? "no answer"), waitMs)
    socket.on("error", () => finish(parse(received) ?? "no answer"))
    socket.on("close", () => finish(parse(received) ?? "no answer"))
    socket.on("data", (d: Buffer) => {
      received = Buffer.concat([received, d])
      const answer = parse(received)
      if (answer !== undefined) finish(answer)
    })
    socket.on("connect", () => {
      socket.write(head)
      stopSending = sendBody(socket)
    })
  })

/**
 * Sends `head` (and `body`, maybe only the start of what `Content-Length` announces) on a fresh
 * TCP connection and waits up to `waitMs` for a whole response. The connection is then destroyed.
 */
export const rawRequest = (
  url: string,
  head: string,
  body: Buffer = Buffer.alloc(0),
  waitMs = 5_000
): Promise<RawAnswer> =>
  exchange(url, head, (socket) => {
    // the server may answer and close before the body is sent: that is fine
    if (body.length > 0) socket.write(body, () => undefined)
    return () => {}
  }, waitMs)

/**
 * Like {@link rawRequest}, but sends `body` in `chunk`-byte pieces, one every `everyMs`: an
 * upload that is progressing, however slowly.
 */
export const pacedRequest = (
  url: string,
  head: string,
  body: Buffer,
  options: { readonly chunk: number; readonly everyMs: number; readonly waitMs: number }
): Promise<RawAnswer> =>
  exchange(url, head, (socket) => {
    let at = 0
    const pacer = setInterval(() => {
      if (at >= body.length) return clearInterval(pacer)
      socket.write(body.subarray(at, at + options.chunk), () => undefined)
      at += options.chunk
    }, options.everyMs)
    return () => clearInterval(pacer)
  }, options.waitMs)

/** A complete HTTP/1.1 response in `bytes` (by Content-Length), or undefined. */
const parse = (bytes: Buffer): RawAnswer | undefined => {
  const end = bytes.indexOf("\r\n\r\n")
  if (end < 0) return undefined
  const lines = bytes.subarray(0, end).toString("latin1").split("\r\n")
  const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(lines[0] ?? "")?.[1] ?? NaN)
  if (!Number.isFinite(status)) return undefined
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":")
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  const length = Number(headers["content-length"] ?? 0)
  const body = bytes.subarray(end + 4)
  if (body.length < length) return undefined
  return { status, headers, body: body.subarray(0, length).toString("utf8") }
}

/** The `detail` of a JSON error body. */
export const detailOf = (answer: RawAnswer): string => {
  if (answer === "no answer") return "(no answer)"
  return (JSON.parse(answer.body) as { detail: string }).detail
}
