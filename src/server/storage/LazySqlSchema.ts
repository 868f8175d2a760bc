/**
 * `SqlSchema`'s typed statements, each built on its first call. `SqlSchema.findAll` and the others
 * compile their request encoder and row decoder when they are made, and a store makes all of its
 * statements when its layer is built: about thirty of them cost the server tens of milliseconds of
 * start-up, most for statements a start never runs. Here a statement is made by `SqlSchema` itself
 * (same encoding, decoding and errors), only when first run, and then kept.
 * @since 0.1.0
 */
import { SqlSchema } from "@effect/sql"

/** `make()`'s function, made on the first call and kept. */
const onFirstCall = <I, O>(make: () => (request: I) => O): (request: I) => O => {
  let made: ((request: I) => O) | undefined
  return (request) => (made ??= make())(request)
}

/**
 * `SqlSchema.findAll`, built on its first call.
 * @since 0.1.0
 */
export const findAll: typeof SqlSchema.findAll = (options) => onFirstCall(() => SqlSchema.findAll(options))

/**
 * `SqlSchema.findOne`, built on its first call.
 * @since 0.1.0
 */
export const findOne: typeof SqlSchema.findOne = (options) => onFirstCall(() => SqlSchema.findOne(options))

/**
 * `SqlSchema.single`, built on its first call.
 * @since 0.1.0
 */
export const single: typeof SqlSchema.single = (options) => onFirstCall(() => SqlSchema.single(options))

const void_: typeof SqlSchema.void = (options) => onFirstCall(() => SqlSchema.void(options))

export {
  /**
   * `SqlSchema.void`, built on its first call.
   * @since 0.1.0
   */
  void_ as void
}
