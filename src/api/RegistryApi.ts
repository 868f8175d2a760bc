/**
 * The registry API, defined once: the server implements it (`HttpApiBuilder`), the client is
 * derived from it (`HttpApiClient`), and the OpenAPI document is generated from it.
 * Everything lives under `/api/v1/registry`, as FlowMason's tools expect.
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as Multipart from "@effect/platform/Multipart"
import * as OpenApi from "@effect/platform/OpenApi"
import { Context, Schema } from "effect"
import { FM_VERSION } from "../shared/FmVersion.js"
import {
  BadRequest,
  Conflict,
  Forbidden,
  InvalidParameter,
  NotFound,
  PayloadTooLarge,
  Unauthorized,
  Unavailable
} from "./ApiErrors.js"
import { API_PREFIX } from "./ApiPrefix.js"
import {
  ConsistencyParams,
  ConsistencyProofResponse,
  EntriesParams,
  InclusionParams,
  InclusionProofResponse,
  InclusionProofsResponse,
  InclusionsParams,
  LogEntriesResponse
} from "./LogModels.js"
import {
  ChangeResponse,
  HealthResponse,
  PackageInfo,
  SearchParams,
  SearchResponse,
  StatsResponse,
  VersionsResponse,
  YankRequest
} from "./Models.js"

export {
  /**
   * The path every registry endpoint lives under (defined in `ApiPrefix.ts`).
   * @since 0.1.0
   */
  API_PREFIX
} from "./ApiPrefix.js"

/**
 * Token scopes, from least to most: `read` < `publish` < `admin`; a scope includes those below it.
 * @since 0.1.0
 * @category models
 */
export const TokenScope = Schema.Literal("read", "publish", "admin")

/**
 * A token scope.
 * @since 0.1.0
 */
export type TokenScope = typeof TokenScope.Type

/**
 * Who is calling: the token presented (if any) and its scope. Provided by {@link Authentication}.
 * @since 0.1.0
 * @category context
 */
export class Principal extends Context.Tag("fm/api/Principal")<Principal, {
  /** The token's name, or `undefined` for an anonymous caller. */
  readonly tokenName: string | undefined
  /** The token's scope, or `undefined` for an anonymous caller. */
  readonly scope: TokenScope | undefined
}>() {}

const bearerSecurity = {
  provides: Principal,
  failure: Schema.Union(Unauthorized.Wire, Forbidden.Wire, Unavailable.Wire),
  security: { bearer: HttpApiSecurity.bearer }
} as const

/**
 * Bearer-token authentication of the read endpoints, run before anything else of the request
 * (its body included). A missing token gives an anonymous {@link Principal} on a public registry
 * and 401 on a private one (reads need `read` there); a token that is unknown, revoked or expired
 * fails with 401; a token too small for a private registry 403; an unreachable token store 503.
 * @since 0.1.0
 * @category middleware
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("fm/api/Authentication", bearerSecurity) {}

/**
 * Bearer-token authentication requiring scope `publish` (uploads, yanks, unyanks), before the
 * request body is read: 401 without a valid token, 403 with a smaller scope.
 * @since 0.1.0
 * @category middleware
 */
export class RequirePublish extends HttpApiMiddleware.Tag<RequirePublish>()("fm/api/RequirePublish", bearerSecurity) {}

/**
 * Bearer-token authentication requiring scope `admin` (deletes), before the request is handled.
 * @since 0.1.0
 * @category middleware
 */
export class RequireAdmin extends HttpApiMiddleware.Tag<RequireAdmin>()("fm/api/RequireAdmin", bearerSecurity) {}

/**
 * Refuses, before anything is read, a JSON body declared (`Content-Length`) over the JSON body
 * limit (413) or sent without a length (400: chunked). Put it before the endpoint's security
 * middleware in the chain, so that it runs after it.
 * @since 0.1.0
 * @category middleware
 */
export class JsonBodyLimit extends HttpApiMiddleware.Tag<JsonBodyLimit>()("fm/api/JsonBodyLimit", {
  failure: Schema.Union(PayloadTooLarge.Wire, BadRequest.Wire)
}) {}

const name = HttpApiSchema.param("name", Schema.String)
const version = HttpApiSchema.param("version", Schema.String)

/**
 * The upload: multipart part `file` (the `.fmpkg`) and an optional form field `checksum`
 * (SHA-256 hex). A request declaring up to 4 MiB is read whole; larger or unsized ones are
 * streamed to a temp file, so the server never holds a large archive in memory.
 * @since 0.1.0
 * @category models
 */
export const UploadPayload = HttpApiSchema.MultipartStream(
  Schema.Struct({ file: Multipart.SingleFileSchema, checksum: Schema.optional(Schema.String) })
)

/**
 * `GET health`: open even on a private registry.
 * @since 0.1.0
 * @category groups
 */
export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(HealthResponse).addError(Unavailable.Wire))
{}

/**
 * The read endpoints: search, package info, versions, download, categories and stats.
 * @since 0.1.0
 * @category groups
 */
export class PackagesGroup extends HttpApiGroup.make("packages")
  .add(
    HttpApiEndpoint.get("search", "/packages/search")
      .setUrlParams(SearchParams)
      .addSuccess(SearchResponse)
      .addError(InvalidParameter.Wire)
      .addError(BadRequest.Wire)
  )
  .add(HttpApiEndpoint.get("categories", "/categories").addSuccess(Schema.Array(Schema.String)))
  .add(HttpApiEndpoint.get("stats", "/stats").addSuccess(StatsResponse))
  .add(HttpApiEndpoint.get("info")`/packages/${name}`.addSuccess(PackageInfo).addError(NotFound.Wire))
  .add(HttpApiEndpoint.get("versions")`/packages/${name}/versions`.addSuccess(VersionsResponse).addError(NotFound.Wire))
  .add(HttpApiEndpoint.get("version")`/packages/${name}/${version}`.addSuccess(PackageInfo).addError(NotFound.Wire))
  .add(
    HttpApiEndpoint.get("download")`/packages/${name}/${version}/download`
      .addSuccess(HttpApiSchema.Uint8Array())
      .addError(NotFound.Wire)
  )
  .addError(Forbidden.Wire)
  .addError(Unavailable.Wire)
  .middleware(Authentication)
{}

/**
 * The write endpoints: upload (publish scope), yank and unyank (publish scope), delete (admin).
 * @since 0.1.0
 * @category groups
 */
export class PublishGroup extends HttpApiGroup.make("publish")
  .add(
    HttpApiEndpoint.post("upload", "/packages/upload")
      .setPayload(UploadPayload)
      .addSuccess(PackageInfo, { status: 201 })
      .addError(BadRequest.Wire)
      .addError(Conflict.Wire)
      .addError(PayloadTooLarge.Wire)
      .middleware(RequirePublish)
  )
  .add(
    HttpApiEndpoint.del("delete")`/packages/${name}/${version}`
      .addSuccess(ChangeResponse)
      .addError(NotFound.Wire)
      .middleware(RequireAdmin)
  )
  .add(
    HttpApiEndpoint.post("yank")`/packages/${name}/${version}/yank`
      .setPayload(YankRequest)
      .addSuccess(ChangeResponse)
      .addError(NotFound.Wire)
      .middleware(JsonBodyLimit)
      .middleware(RequirePublish)
  )
  .add(
    HttpApiEndpoint.post("unyank")`/packages/${name}/${version}/unyank`
      .addSuccess(ChangeResponse)
      .addError(NotFound.Wire)
      .middleware(RequirePublish)
  )
  .addError(Forbidden.Wire)
  .addError(Unavailable.Wire)
{}

/**
 * The publish log (read endpoints, so `read` scope on a private registry): the signed checkpoint
 * (a C2SP signed note, `text/plain`), a range of entries, and inclusion and consistency proofs.
 * @since 0.1.0
 * @category groups
 */
export class LogGroup extends HttpApiGroup.make("log")
  .add(HttpApiEndpoint.get("checkpoint", "/log/checkpoint").addSuccess(HttpApiSchema.Text()))
  .add(HttpApiEndpoint.get("entries", "/log/entries").setUrlParams(EntriesParams).addSuccess(LogEntriesResponse))
  .add(
    HttpApiEndpoint.get("inclusion", "/log/proof/inclusion")
      .setUrlParams(InclusionParams)
      .addSuccess(InclusionProofResponse)
  )
  .add(
    HttpApiEndpoint.get("inclusions", "/log/proof/inclusions")
      .setUrlParams(InclusionsParams)
      .addSuccess(InclusionProofsResponse)
  )
  .add(
    HttpApiEndpoint.get("consistency", "/log/proof/consistency")
      .setUrlParams(ConsistencyParams)
      .addSuccess(ConsistencyProofResponse)
  )
  .addError(InvalidParameter.Wire)
  .addError(NotFound.Wire)
  .addError(Forbidden.Wire)
  .addError(Unavailable.Wire)
  .middleware(Authentication)
{}

/**
 * The whole registry API under {@link API_PREFIX}.
 * @since 0.1.0
 * @category api
 */
export class RegistryApi extends HttpApi.make("fm-registry")
  .add(HealthGroup)
  .add(PackagesGroup)
  .add(PublishGroup)
  .add(LogGroup)
  .prefix(API_PREFIX)
  .annotate(OpenApi.Title, "fm registry")
  .annotate(OpenApi.Version, FM_VERSION)
  .annotate(OpenApi.Description, "The FlowMason package registry API")
{}
