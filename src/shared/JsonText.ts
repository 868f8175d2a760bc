/**
 * JSON text decoded through `Schema.parseJson`: the value, or the syntax error in the words users
 * read (`Expected property name or '}' in JSON at position 2`), without a library type name.
 * @since 0.1.0
 */
import { Either, ParseResult, Schema } from "effect"

const decodeJson = Schema.decodeUnknownEither(Schema.parseJson())

/**
 * The JSON value in `text`, or why it is not JSON.
 * @since 0.1.0
 */
export const parseJsonText = (text: string): Either.Either<unknown, string> =>
  Either.mapLeft(decodeJson(text), (e) => ParseResult.ArrayFormatter.formatErrorSync(e)[0]?.message ?? e.message)
