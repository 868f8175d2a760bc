/** The in-memory multipart/form-data reader of small uploads (`FormBody`). */
import { describe, expect, it } from "vitest"
import { boundaryOf, parseForm } from "../../src/server/FormBody.js"

const form = (boundary: string, parts: ReadonlyArray<{ headers: string; data: string | Buffer }>, epilogue = "--\r\n") =>
  Buffer.concat([
    ...parts.flatMap((p) => [Buffer.from(`--${boundary}\r\n${p.headers}\r\n\r\n`), Buffer.from(p.data), Buffer.from("\r\n")]),
    Buffer.from(`--${boundary}${epilogue}`)
  ])

describe("boundaryOf", () => {
  it("reads plain and quoted boundaries, and only of multipart/form-data", () => {
    expect(boundaryOf("multipart/form-data; boundary=abc123")).toBe("abc123")
    expect(boundaryOf("Multipart/Form-Data; charset=utf-8; boundary=\"a b;c\"")).toBe("a b;c")
    expect(boundaryOf("multipart/form-data")).toBeUndefined()
    expect(boundaryOf("application/json; boundary=x")).toBeUndefined()
    expect(boundaryOf(undefined)).toBeUndefined()
  })
})

describe("parseForm", () => {
  it("splits files and fields without copying, as the streaming reader tells them apart", () => {
    const bytes = Buffer.from([0, 13, 10, 45, 45, 255]) // CR LF "--" inside the data
    const body = form("XyZ", [
      { headers: "Content-Disposition: form-data; name=\"file\"; filename=\"p.fmpkg\"\r\nContent-Type: application/zip", data: bytes },
      { headers: "content-disposition: form-data; name=\"checksum\"", data: "abc" },
      { headers: "Content-Disposition: form-data; name=\"raw\"\r\nContent-Type: application/octet-stream", data: "r" },
      { headers: "Content-Disposition: form-data; name=\"quo\\\"ted\"", data: "" }
    ])
    const parts = parseForm(body, "XyZ")
    if (typeof parts === "string") throw new Error(parts)
    expect(parts.map((p) => [p.name, p.isFile, p.data.toString("latin1")])).toEqual([
      ["file", true, bytes.toString("latin1")],
      ["checksum", false, "abc"],
      ["raw", true, "r"],
      ["quo\"ted", false, ""]
    ])
    expect(parts[0]!.data.buffer).toBe(body.buffer)
  })

  it("skips a preamble and transport padding", () => {
    const body = Buffer.concat([Buffer.from("preamble text\r\n"), form("b", [{ headers: "Content-Disposition: form-data; name=\"a\"", data: "1" }])])
    const padded = Buffer.from(body.toString("latin1").replace("--b\r\n", "--b  \r\n"), "latin1")
    for (const b of [body, padded]) {
      const parts = parseForm(b, "b")
      expect(typeof parts === "string" ? parts : parts.map((p) => p.data.toString())).toEqual(["1"])
    }
  })

  it("names what is wrong with a broken body", () => {
    const ok = form("b", [{ headers: "Content-Disposition: form-data; name=\"file\"; filename=\"x\"", data: "data" }])
    expect(parseForm(Buffer.from("no boundary here"), "b")).toBe("the body does not start with the boundary")
    expect(parseForm(ok.subarray(0, ok.length - 12), "b")).toBe("part 'file' is not closed by the boundary (truncated body)")
    expect(parseForm(Buffer.from("--b\r\nContent-Disposition: form-data; name=\"a\""), "b")).toBe("a part's headers do not end")
    expect(parseForm(Buffer.from("--b\r\nX-Thing: 1\r\n\r\nv\r\n--b--"), "b")).toBe("a part has no 'Content-Disposition: form-data' header")
    expect(parseForm(Buffer.from("--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--"), "b")).toBe("a part has no name")
    expect(parseForm(Buffer.from("--b\r\nbroken header\r\n\r\nv\r\n--b--"), "b")).toBe("a part has a malformed header line 'broken header'")
    expect(parseForm(Buffer.from("--bX"), "b")).toBe("a boundary line is not followed by CRLF")
  })
})
