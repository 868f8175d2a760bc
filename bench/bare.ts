/**
 * The ceiling of bench:server: a bare `node:http` server in a process of its own (as the registry
 * server is), answering every request with the same status, headers and bytes, from memory.
 * Usage: `node --import tsx bench/bare.ts <body file> <headers JSON>`; prints `listening on <url>`.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

const [file, headersJson, status = "200"] = process.argv.slice(2)
if (file === undefined || headersJson === undefined) {
  throw new Error("usage: bare.ts <body file> <headers JSON> [status]")
}
const body = fs.readFileSync(file)
const headers: Record<string, string> = { ...JSON.parse(headersJson), "content-length": String(body.length) }
const server = http.createServer((req, res) => {
  req.resume()
  req.once("end", () => {
    res.writeHead(Number(status), headers)
    res.end(body)
  })
})
server.keepAliveTimeout = 65_000
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`)
})
process.once("SIGTERM", () => server.close(() => process.exit(0)))
