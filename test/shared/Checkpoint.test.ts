/**
 * SignedNote and Checkpoint: the C2SP signed-note example vector, keys from `openssl genpkey`,
 * round trips, and every tampering a hostile registry could try (other text, other key, a bad
 * signature, a wrong origin, malformed lines).
 */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import { openCheckpoint, parseCheckpointText, signCheckpoint } from "../../src/shared/log/Checkpoint.js"
import { emptyRoot } from "../../src/shared/log/Merkle.js"
import { makeSigner, openNote, parseVerifier, signNote } from "../../src/shared/log/SignedNote.js"

const EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
const EXAMPLE_NOTE = "This is an example message.\n\n" +
  "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"

const newSigner = (name: string) => makeSigner(name, crypto.generateKeyPairSync("ed25519").privateKey)

describe("SignedNote", () => {
  it("opens the signed-note spec's example with its verifier key", () => {
    const verifier = parseVerifier(EXAMPLE_VKEY)
    assert.isDefined(verifier)
    if (verifier === undefined) return
    assert.strictEqual(verifier.text, EXAMPLE_VKEY)
    assert.deepStrictEqual(openNote(EXAMPLE_NOTE, verifier), { text: "This is an example message.\n" })
    assert.deepStrictEqual(openNote(EXAMPLE_NOTE.replace("example message", "exemplary message"), verifier), {
      refused: "bad-signature"
    })
  })

  it("refuses verifier keys with a wrong key ID, algorithm, name or length", () => {
    assert.isUndefined(parseVerifier(EXAMPLE_VKEY.replace("530d903a", "530d903b")))
    assert.isUndefined(parseVerifier(EXAMPLE_VKEY.replace("example.com/foo", "example.com/bar")))
    assert.isUndefined(parseVerifier(EXAMPLE_VKEY.replace("+Aeky", "+Aaky")))
    assert.isUndefined(parseVerifier(EXAMPLE_VKEY.slice(0, -4)))
    assert.isUndefined(parseVerifier("a b+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"))
    assert.isUndefined(parseVerifier("nonsense"))
  })

  it("signs with a key `openssl genpkey -algorithm ed25519` wrote, and its verifier key round-trips", () => {
    const pem = execFileSync("openssl", ["genpkey", "-algorithm", "ed25519"], { encoding: "utf8" })
    const signer = makeSigner("registry.example/log", crypto.createPrivateKey(pem))
    const verifier = parseVerifier(signer.verifier.text)
    assert.isDefined(verifier)
    if (verifier === undefined) return
    const note = signNote("hello\nworld\n", signer)
    assert.deepStrictEqual(openNote(note, verifier), { text: "hello\nworld\n" })
  })

  it("ignores other keys' lines, refuses a note without the trusted key, and malformed notes", () => {
    const ours = newSigner("log.example")
    const theirs = newSigner("log.example")
    const note = signNote("body\n", ours)
    const forged = Buffer.concat([ours.verifier.keyId, new Uint8Array(64)]).toString("base64")
    const twice = `${note}\u2014 log.example ${forged}\n`
    assert.deepStrictEqual(openNote(signNote("body\n", theirs), ours.verifier), { refused: "unsigned" })
    assert.deepStrictEqual(openNote(`${note.slice(0, -1)}\n\u2014 other.example ${"A".repeat(92)}\n`, ours.verifier), {
      text: "body\n"
    })
    assert.deepStrictEqual(openNote(twice, ours.verifier), { refused: "bad-signature" })
    assert.deepStrictEqual(openNote("body\n", ours.verifier), { refused: "malformed" })
    assert.deepStrictEqual(openNote(note.replace("\u2014", "--"), ours.verifier), { refused: "malformed" })
    assert.deepStrictEqual(openNote(`bo\u001bdy\n${note.slice(5)}`, ours.verifier), { refused: "malformed" })
    assert.deepStrictEqual(openNote("x".repeat(70_000) + note, ours.verifier), { refused: "malformed" })
  })
})

describe("Checkpoint", () => {
  it("round-trips and refuses another origin, other text, and non-checkpoints", () => {
    const signer = newSigner("fm-log/0011223344556677")
    const checkpoint = { origin: "fm-log/0011223344556677", size: 42, root: emptyRoot() }
    const note = signCheckpoint(checkpoint, signer)
    assert.isTrue(
      note.startsWith("fm-log/0011223344556677\n42\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u2014 ")
    )
    assert.deepStrictEqual(openCheckpoint(note, signer.verifier), { checkpoint })
    assert.deepStrictEqual(openCheckpoint(note.replace("\n42\n", "\n41\n"), signer.verifier), {
      refused: "bad-signature"
    })
    const other = newSigner("fm-log/other")
    assert.deepStrictEqual(openCheckpoint(signNote(note.split("\n\n")[0] + "\n", other), other.verifier), {
      refused: "wrong-origin"
    })
    assert.deepStrictEqual(openCheckpoint(signNote("just text\n", signer), signer.verifier), {
      refused: "not-a-checkpoint"
    })
  })

  it("parses only well-formed checkpoint text", () => {
    const root = Buffer.from(emptyRoot()).toString("base64")
    assert.isDefined(parseCheckpointText(`o\n0\n${root}\n`))
    assert.isDefined(parseCheckpointText(`o\n7\n${root}\nextension line\n`))
    assert.isUndefined(parseCheckpointText(`o\n07\n${root}\n`))
    assert.isUndefined(parseCheckpointText(`o\n-1\n${root}\n`))
    assert.isUndefined(parseCheckpointText(`o\n99999999999999999\n${root}\n`))
    assert.isUndefined(parseCheckpointText(`o\n1\n${root.slice(4)}\n`))
    assert.isUndefined(parseCheckpointText(`\n1\n${root}\n`))
  })
})
