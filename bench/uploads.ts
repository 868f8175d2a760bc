/**
 * What the server benchmarks upload: packages of a chosen size and the multipart bodies carrying
 * them, built before a run so that the load generator only sends bytes.
 */
import * as crypto from "node:crypto"
import { buildZip, projectManifest } from "../test/helpers/archives.js"

const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex")

/** A ZIP package `name@version` of about `padBytes` bytes (random, so it does not compress). */
export const archive = (name: string, version: string, padBytes: number): Buffer =>
  buildZip([
    {
      name: "manifest.json",
      data: projectManifest(name, version, { description: "benchmark package", keywords: ["bench"] })
    },
    { name: "data.bin", data: crypto.randomBytes(padBytes), method: 0 }
  ])

/**
 * A multipart/form-data upload body (`file` + `checksum`), as any HTTP client would send it;
 * `checksum` defaults to the data's SHA-256 (another one makes the server refuse it, 400).
 */
export const uploadBody = (data: Uint8Array, boundary: string, checksum: string = sha(data)): Buffer =>
  Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="pkg.fmpkg"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`
    ),
    data,
    Buffer.from(
      `\r\n--${boundary}\r\nContent-Disposition: form-data; name="checksum"\r\n\r\n${checksum}\r\n--${boundary}--\r\n`
    )
  ])
