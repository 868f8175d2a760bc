/**
 * The registry log's signing key: an Ed25519 private key in PKCS#8 PEM (as
 * `openssl genpkey -algorithm ed25519` writes it), from `--log-key FILE`, or else
 * `<data-dir>/log-key.pem`, generated (mode 0600, written atomically) on first start.
 *
 * The log's origin (the checkpoint's first line and the key's name) is `fm-log/` followed by the
 * first 16 hex digits of the SHA-256 of the public key: the same key always signs for the same
 * origin, so replicas given one key file publish one log.
 * @since 0.1.0
 */
import { Data, Effect } from "effect"
import * as crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { NoteSigner } from "../../shared/log/SignedNote.js"
import { makeSigner, rawPublicKey } from "../../shared/log/SignedNote.js"
import { DIR_MODE, FILE_MODE } from "../storage/FileModes.js"

/**
 * The log key could not be read, is not an Ed25519 PKCS#8 key, or could not be written.
 * @since 0.1.0
 * @category errors
 */
export class LogKeyError extends Data.TaggedError("LogKeyError")<{
  readonly file: string
  readonly reason: string
}> {
  override get message(): string {
    return `log key ${this.file}: ${this.reason}`
  }
}

/**
 * The name of the generated key file inside the data directory.
 * @since 0.1.0
 */
export const LOG_KEY_FILE = "log-key.pem"

/**
 * The origin of the log signed by `publicKey`.
 * @since 0.1.0
 */
export const originOf = (publicKey: crypto.KeyObject): string =>
  `fm-log/${crypto.createHash("sha256").update(rawPublicKey(publicKey)).digest("hex").slice(0, 16)}`

/**
 * The signer of a PEM private key.
 * @since 0.1.0
 */
export const signerFromPem = (pem: string, file: string): Effect.Effect<NoteSigner, LogKeyError> =>
  Effect.try({
    try: () => crypto.createPrivateKey({ key: pem, format: "pem" }),
    catch: () => new LogKeyError({ file, reason: "not a PKCS#8 PEM private key" })
  }).pipe(
    Effect.filterOrFail(
      (key) => key.asymmetricKeyType === "ed25519",
      (key) => new LogKeyError({ file, reason: `an ${key.asymmetricKeyType ?? "unknown"} key; the log needs Ed25519` })
    ),
    Effect.map((key) => makeSigner(originOf(crypto.createPublicKey(key)), key))
  )

const readKeyFile = (file: string) =>
  Effect.try({
    try: () => {
      const stat = Fs.statSync(file)
      if (!stat.isFile() || stat.size > 16 * 1024) throw new Error("not a key file")
      return Fs.readFileSync(file, "utf8")
    },
    catch: (e) => new LogKeyError({ file, reason: e instanceof Error ? e.message : String(e) })
  })

/**
 * Loads the log key: `keyFile` when given (it must exist), else `<dataDir>/log-key.pem`, which is
 * generated when missing (temp file 0600, fsync, rename).
 * @since 0.1.0
 */
export const loadLogKey = (options: {
  readonly keyFile: string | undefined
  readonly dataDir: string
}): Effect.Effect<NoteSigner, LogKeyError> => {
  if (options.keyFile !== undefined) {
    const file = options.keyFile
    return Effect.flatMap(readKeyFile(file), (pem) => signerFromPem(pem, file))
  }
  const file = Path.join(options.dataDir, LOG_KEY_FILE)
  return Effect.suspend(() => {
    if (Fs.existsSync(file)) return Effect.flatMap(readKeyFile(file), (pem) => signerFromPem(pem, file))
    return Effect.try({
      try: () => {
        Fs.mkdirSync(options.dataDir, { recursive: true, mode: DIR_MODE })
        const pem = crypto.generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString()
        const temp = `${file}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`
        const fd = Fs.openSync(temp, "wx", FILE_MODE)
        try {
          Fs.writeFileSync(fd, pem)
          Fs.fsyncSync(fd)
        } finally {
          Fs.closeSync(fd)
        }
        // a replica or a second start racing us: keep whichever key landed first
        try {
          Fs.linkSync(temp, file)
        } finally {
          Fs.rmSync(temp, { force: true })
        }
      },
      catch: (e) => new LogKeyError({ file, reason: `cannot create: ${e instanceof Error ? e.message : String(e)}` })
    }).pipe(
      Effect.catchIf((e) => Fs.existsSync(file) && e.reason.includes("EEXIST"), () => Effect.void),
      Effect.zipRight(Effect.flatMap(readKeyFile(file), (pem) => signerFromPem(pem, file)))
    )
  })
}
