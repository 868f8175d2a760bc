/**
 * The bounds of a search query and the words it is made of. Every word becomes a prefix term of
 * the full-text query (FTS5 on SQLite, `tsquery` on PostgreSQL), and the database works through
 * each term on the server's behalf, so the server takes at most {@link MAX_QUERY_LENGTH}
 * characters and {@link MAX_QUERY_WORDS} words; past that the search answers 400.
 * @since 0.1.0
 */

/**
 * The longest search query accepted, in characters.
 * @since 0.1.0
 */
export const MAX_QUERY_LENGTH = 200

/**
 * The most words a search query may have.
 * @since 0.1.0
 */
export const MAX_QUERY_WORDS = 8

/**
 * The words of a query, lowercased: runs of letters and digits (everything else separates).
 * @since 0.1.0
 * @category utils
 */
export const searchWords = (q: string): ReadonlyArray<string> =>
  q.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w !== "")

/**
 * Why `q` is past the bounds (the detail of the 400), or `undefined` when it may be searched.
 * @since 0.1.0
 * @category utils
 */
export const outOfBounds = (q: string): string | undefined => {
  if (q.length > MAX_QUERY_LENGTH) {
    return `search query too long: ${q.length} characters, at most ${MAX_QUERY_LENGTH} are accepted`
  }
  const words = searchWords(q).length
  return words > MAX_QUERY_WORDS
    ? `search query has ${words} words, at most ${MAX_QUERY_WORDS} are accepted`
    : undefined
}
