/**
 * The errors of the registry API. On the wire each one is `{"detail": "..."}` with its HTTP
 * status (what FlowMason's server sends and its client reads); in Effect each one is a tagged
 * error, so handlers fail with them and the typed client decodes them by status.
 * @since 0.1.0
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Predicate, Schema } from "effect"

const wire = <Self extends { readonly detail: string }, Tag extends string>(
  self: Schema.Schema<Self, { readonly _tag: Tag; readonly detail: string }>,
  tag: Tag,
  status: number
) =>
  Schema.transform(Schema.Struct({ detail: Schema.String }), self, {
    strict: true,
    decode: (i) => ({ _tag: tag, detail: i.detail }),
    encode: (a) => ({ detail: a.detail })
  }).annotations(HttpApiSchema.annotations({ status }))

/**
 * 400: a bad upload (not an archive, no manifest, wrong checksum) or a bad request body.
 * @since 0.1.0
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { detail: Schema.String }) {
  /** The wire form, `{detail}` with status 400. */
  static readonly Wire = wire(BadRequest, "BadRequest", 400)
}

/**
 * 401: a missing, unknown, revoked or expired token.
 * @since 0.1.0
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", { detail: Schema.String }) {
  /** The wire form, `{detail}` with status 401. */
  static readonly Wire = wire(Unauthorized, "Unauthorized", 401)
}

/**
 * 403: a valid token whose scope is too small.
 * @since 0.1.0
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { detail: Schema.String }) {
  /** The wire form, `{detail}` with status 403. */
  static readonly Wire = wire(Forbidden, "Forbidden", 403)
}

/**
 * 404: no such package or version.
 * @since 0.1.0
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { detail: Schema.String }) {
  /** The wire form, `{detail}` with status 404. */
  static readonly Wire = wire(NotFound, "NotFound", 404)
}

/**
 * 409: `name@version` exists already (or existed: a version's bytes never change).
 * @since 0.1.0
 */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", { detail: Schema.String }) {
  /** The wire form, `{detail}` with status 409. */
  static readonly Wire = wire(Conflict, "Conflict", 409)
}

/**
 * 413: an upload over the server's size limit.
 * @since 0.1.0
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  detail: Schema.String
}) {
  /** The wire form, `{detail}` with status 413. */
  static readonly Wire = wire(PayloadTooLarge, "PayloadTooLarge", 413)
}

/**
 * 422: a query parameter out of range or of the wrong form; the detail names it.
 * @since 0.1.0
 */
export class InvalidParameter extends Schema.TaggedError<InvalidParameter>()("InvalidParameter", {
  detail: Schema.String
}) {
  /** The wire form, `{detail}` with status 422. */
  static readonly Wire = wire(InvalidParameter, "InvalidParameter", 422)
}

/**
 * 503: the registry's storage is unreachable for now.
 * @since 0.1.0
 */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", { detail: Schema.String }) {
  /** The wire form, `{detail}` with status 503. */
  static readonly Wire = wire(Unavailable, "Unavailable", 503)
}

/**
 * Every error the API can answer with.
 * @since 0.1.0
 */
export type ApiError =
  | BadRequest
  | Unauthorized
  | Forbidden
  | NotFound
  | Conflict
  | PayloadTooLarge
  | InvalidParameter
  | Unavailable

const wires: { readonly [K in ApiError["_tag"]]: Schema.Schema.Any } = {
  BadRequest: BadRequest.Wire,
  Unauthorized: Unauthorized.Wire,
  Forbidden: Forbidden.Wire,
  NotFound: NotFound.Wire,
  Conflict: Conflict.Wire,
  PayloadTooLarge: PayloadTooLarge.Wire,
  InvalidParameter: InvalidParameter.Wire,
  Unavailable: Unavailable.Wire
}

/**
 * Whether `u` is one of the API's errors (which HttpApi answers with their own status and body).
 * @since 0.1.0
 */
export const isApiError = (u: unknown): u is ApiError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && Object.hasOwn(wires, u._tag)

/**
 * An API error as it goes on the wire: its HTTP status (the one its `Wire` schema declares) and
 * the `{"detail": ...}` JSON body.
 * @since 0.1.0
 */
export const toWire = (e: ApiError): { readonly status: number; readonly body: string } => ({
  status: HttpApiSchema.getStatusError(wires[e._tag]),
  body: JSON.stringify({ detail: e.detail })
})
