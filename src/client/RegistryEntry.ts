/**
 * One configured registry (`RegistryEntry`, as `registries.json` holds it), the registry assumed
 * without a file, and the shapes of a change and of a token's source. `RegistryConfig`
 * re-exports them.
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * One configured registry. Field names are camelCase here and snake_case in the file
 * (`auth_token`, `is_default`, `can_publish`, `requires_auth`).
 * @since 0.1.0
 * @category models
 */
export class RegistryEntry extends Schema.Class<RegistryEntry>("RegistryEntry")({
  name: Schema.String,
  url: Schema.String,
  authToken: Schema.optionalWith(Schema.String, { nullable: true }).pipe(Schema.fromKey("auth_token")),
  priority: Schema.optionalWith(Schema.Number, { default: () => 100, nullable: true }),
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true, nullable: true }),
  isDefault: Schema.optionalWith(Schema.Boolean, { default: () => false, nullable: true }).pipe(
    Schema.fromKey("is_default")
  ),
  canPublish: Schema.optionalWith(Schema.Boolean, { default: () => false, nullable: true }).pipe(
    Schema.fromKey("can_publish")
  ),
  requiresAuth: Schema.optionalWith(Schema.Boolean, { default: () => false, nullable: true }).pipe(
    Schema.fromKey("requires_auth")
  ),
  description: Schema.optionalWith(Schema.String, { nullable: true })
}) {}

/**
 * The keys {@link RegistryEntry} owns in the file (everything else is kept as is).
 * @internal
 */
export const KNOWN_KEYS = [
  "name",
  "url",
  "auth_token",
  "priority",
  "enabled",
  "is_default",
  "can_publish",
  "requires_auth",
  "description"
] as const

/**
 * The registry assumed when there is no `registries.json`: FlowMason Studio on this machine.
 * @since 0.1.0
 */
export const implicitLocal: RegistryEntry = new RegistryEntry({
  name: "local",
  url: "http://localhost:8999",
  priority: 50,
  enabled: true,
  isDefault: true,
  canPublish: true,
  requiresAuth: false,
  description: "Local FlowMason Studio"
})

/**
 * Changes for {@link RegistryConfig.update}. `null` removes an optional field.
 * @since 0.1.0
 * @category models
 */
export interface RegistryPatch {
  readonly url?: string
  readonly authToken?: string | null
  readonly priority?: number
  readonly enabled?: boolean
  readonly isDefault?: boolean
  readonly canPublish?: boolean
  readonly requiresAuth?: boolean
  readonly description?: string | null
}

/**
 * Where a registry's token comes from: its `auth_token`, `FLOWMASON_REGISTRY_TOKEN`, or nowhere.
 * @since 0.1.0
 * @category models
 */
export type TokenSource = "config" | "env" | "none"
