/**
 * The path every registry endpoint lives under, in a module of its own: the client builds its
 * URLs with it and needs nothing else of the API definition (`RegistryApi.ts`, whose schemas and
 * endpoints would otherwise be built on every `fm install`).
 * @since 0.1.0
 */

/**
 * The path every registry endpoint lives under.
 * @since 0.1.0
 */
export const API_PREFIX = "/api/v1/registry"
