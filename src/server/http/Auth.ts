/**
 * API tokens and access rules. A token is `fmr_` + 43 base64url characters (32 random bytes);
 * only its SHA-256 is stored, so it is shown once, at creation. Scopes nest:
 * `admin` ⊇ `publish` ⊇ `read`. Tokens may expire and may be revoked.
 *
 * Access: reads are open unless the server is private (then they need `read`); uploads, yanks and
 * unyanks need `publish`; deletes need `admin`. A missing or bad token answers 401, a too-small
 * scope 403.
 * @since 0.1.0
 */
import { Effect, Layer, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { Forbidden, Unauthorized, Unavailable } from "../../api/ApiErrors.js"
import type { Principal, TokenScope } from "../../api/RegistryApi.js"
import { Authentication, RequireAdmin, RequirePublish } from "../../api/RegistryApi.js"
import { sha256Hex } from "../../shared/Hash.js"
import { ServerConfig } from "../ServerConfig.js"
import type { TokenRow } from "../storage/PackageStore.js"
import { PackageStore } from "../storage/PackageStore.js"

/**
 * The prefix of every token.
 * @since 0.1.0
 */
export const TOKEN_PREFIX = "fmr_"

/**
 * A fresh random token (`fmr_` + 32 random bytes, base64url).
 * @since 0.1.0
 * @category utils
 */
export const generateToken = (): string => TOKEN_PREFIX + randomBytes(32).toString("base64url")

/**
 * The stored form of a token: lowercase hex SHA-256.
 * @since 0.1.0
 * @category utils
 */
export const hashToken = (token: string): string => sha256Hex(token)

const rank: Record<TokenScope, number> = { read: 1, publish: 2, admin: 3 }

/**
 * Whether a token of scope `has` may do what needs scope `needs`.
 * @since 0.1.0
 * @category utils
 */
export const scopeIncludes = (has: TokenScope, needs: TokenScope): boolean => rank[has] >= rank[needs]

/**
 * Parses a duration such as `30d`, `12h`, `45m`, `2w` or `1y` into milliseconds, or `undefined`.
 * @since 0.1.0
 * @category utils
 */
export const parseExpiresIn = (text: string): number | undefined => {
  const m = /^(\d+)\s*([smhdwy])$/.exec(text.trim())
  if (m === null) return undefined
  const units: Readonly<Record<string, number>> = {
    s: 1e3,
    m: 60e3,
    h: 3600e3,
    d: 86400e3,
    w: 7 * 86400e3,
    y: 365 * 86400e3
  }
  const unit = units[m[2] ?? ""]
  if (unit === undefined) return undefined
  const ms = Number(m[1]) * unit
  return ms > 0 ? ms : undefined
}

/**
 * A token just created: the secret (shown once) and its stored row.
 * @since 0.1.0
 * @category models
 */
export interface CreatedToken {
  readonly token: string
  readonly row: TokenRow
}

/**
 * Token management and verification over the {@link PackageStore}.
 * @since 0.1.0
 * @category services
 */
export class Auth extends Effect.Service<Auth>()("fm/server/Auth", {
  effect: Effect.gen(function*() {
    const store = yield* PackageStore

    const create = Effect.fn("Auth.create")(function*(options: {
      /** Unique; default `<scope>-<date>`, with `-2`, `-3`, ... when that is taken. */
      readonly name?: string | undefined
      readonly scope: TokenScope
      readonly expiresInMs?: number | undefined
      /** Use this secret instead of a random one (for FM_ADMIN_TOKEN). */
      readonly token?: string | undefined
      /** Treat `name` as a base, numbered `-2`, `-3`, ... when taken (as the default name is). */
      readonly numbered?: boolean | undefined
    }) {
      const token = options.token ?? generateToken()
      const insert = (name: string) =>
        store.createToken({
          name,
          prefix: token.slice(0, TOKEN_PREFIX.length + 4),
          hash: hashToken(token),
          scope: options.scope,
          expiresAt: options.expiresInMs === undefined ? null : new Date(Date.now() + options.expiresInMs).toISOString()
        })
      if (options.name !== undefined && options.numbered !== true) {
        return { token, row: yield* insert(options.name) } satisfies CreatedToken
      }
      const base = options.name ?? `${options.scope}-${new Date().toISOString().slice(0, 10)}`
      const taken = new Set((yield* store.listTokens).map((t) => t.name))
      let n = 1
      while (taken.has(n === 1 ? base : `${base}-${n}`)) n++
      // another process may take the same name meanwhile: then the next number
      const row = yield* insert(n === 1 ? base : `${base}-${n}`).pipe(
        Effect.catchTag("TokenNameTaken", () => insert(`${base}-${n + 1}`))
      )
      return { token, row } satisfies CreatedToken
    })

    /**
     * Checks a presented token: known, not revoked, not expired. Untraced: it runs on every
     * request that carries a token, and a span per call (a captured stack) costs more than it.
     */
    const verify = Effect.fnUntraced(function*(token: string) {
      const found = yield* store.findTokenByHash(hashToken(token)).pipe(
        Effect.mapError((e) => new Unavailable({ detail: e.message }))
      )
      if (Option.isNone(found)) return yield* new Unauthorized({ detail: "Invalid token" })
      const row = found.value
      if (row.revokedAt !== null) return yield* new Unauthorized({ detail: `Token '${row.name}' has been revoked` })
      if (row.expiresAt !== null && Date.parse(row.expiresAt) <= Date.now()) {
        return yield* new Unauthorized({ detail: `Token '${row.name}' expired at ${row.expiresAt}` })
      }
      return row
    })

    /**
     * Makes sure an admin token exists. With `envToken` (FM_ADMIN_TOKEN) registers that one when
     * unknown (a changed FM_ADMIN_TOKEN gets a numbered name beside the earlier ones); else, when the store has no token at all, creates one and returns its secret (to
     * print once). Returns none when nothing new was generated.
     */
    const bootstrap = Effect.fn("Auth.bootstrap")(function*(envToken: string | undefined) {
      if (envToken !== undefined && envToken !== "") {
        const known = yield* store.findTokenByHash(hashToken(envToken))
        if (Option.isNone(known)) {
          yield* create({ name: "admin (FM_ADMIN_TOKEN)", numbered: true, scope: "admin", token: envToken })
        }
        return Option.none<string>()
      }
      const all = yield* store.listTokens
      if (all.length > 0) return Option.none<string>()
      const created = yield* create({ name: "admin", scope: "admin" })
      return Option.some(created.token)
    })

    return { create, verify, bootstrap, list: store.listTokens, revoke: store.revokeToken }
  })
}) {}

/**
 * Who presents `token` (the bearer token as the security middlewares read it): anonymous when
 * empty, else its row's name and scope; 401 for a bad token, 503 when the store is down.
 * @since 0.1.0
 * @category utils
 */
export const principalOf = (
  auth: Auth,
  redacted: Redacted.Redacted<string>
): Effect.Effect<Principal["Type"], Unauthorized | Unavailable> => {
  const token = Redacted.value(redacted).trim()
  if (token === "") return Effect.succeed({ tokenName: undefined, scope: undefined })
  // a database outage is a 503 (Unavailable), never a 401: the token may well be good
  return Effect.map(auth.verify(token), (row) => ({ tokenName: row.name, scope: row.scope }))
}

/**
 * Checks a bearer token for something that needs `scope` (`undefined`: nothing, anonymous
 * callers pass): the caller's {@link Principal}, or 401 (no or bad token), 403 (scope too small)
 * or 503 (token store unreachable). The security middlewares below are this check per scope.
 * @since 0.1.0
 * @category utils
 */
export const principalFor =
  (auth: Auth, scope: TokenScope | undefined) =>
  (redacted: Redacted.Redacted<string>): Effect.Effect<Principal["Type"], Unauthorized | Forbidden | Unavailable> =>
    scope === undefined
      ? principalOf(auth, redacted)
      : Effect.tap(principalOf(auth, redacted), (p) => checkScope(p, scope))

/**
 * The security middlewares of `RegistryApi`: {@link Authentication} (reads: anyone on a public
 * registry, `read` on a private one), {@link RequirePublish} and {@link RequireAdmin}. They run
 * before the request's body is read, so a caller that may not write cannot make the server read
 * a byte of what it sends.
 * @since 0.1.0
 * @category layers
 */
export const AuthenticationLive: Layer.Layer<
  Authentication | RequirePublish | RequireAdmin,
  never,
  Auth | ServerConfig
> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const auth = yield* Auth
    const config = yield* ServerConfig
    return Layer.mergeAll(
      Layer.succeed(Authentication, { bearer: principalFor(auth, config.private ? "read" : undefined) }),
      Layer.succeed(RequirePublish, { bearer: principalFor(auth, "publish") }),
      Layer.succeed(RequireAdmin, { bearer: principalFor(auth, "admin") })
    )
  })
)

/** Fails unless `p` has at least `scope`: 401 without a token, 403 when too small. */
const checkScope = (p: Principal["Type"], scope: TokenScope): Effect.Effect<void, Unauthorized | Forbidden> =>
  p.scope === undefined
    ? Effect.fail(
      new Unauthorized({
        detail: `Authentication required: send 'Authorization: Bearer <token>' with a token of scope '${scope}'`
      })
    )
    : scopeIncludes(p.scope, scope)
    ? Effect.void
    : Effect.fail(
      new Forbidden({ detail: `Token '${p.tokenName}' has scope '${p.scope}'; this needs scope '${scope}'` })
    )
