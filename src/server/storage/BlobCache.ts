/**
 * Small archives kept in memory by their SHA-256: content-addressed, so an entry is never stale.
 * What a blob store's `readAll` answers from (see `BlobStore.fromParts`).
 * @since 0.1.0
 */

/**
 * Least-recently-used bytes by SHA-256, bounded in total bytes; larger entries are not kept.
 * @since 0.1.0
 * @category models
 */
export class BlobCache {
  private readonly entries = new Map<string, Uint8Array>()
  private bytes = 0
  constructor(readonly maxBytes: number, readonly maxEntryBytes: number) {}
  /**
   * The bytes of `sha256`, if kept (and marks them recently used).
   * @since 0.1.0
   */
  get(sha256: string): Uint8Array | undefined {
    const hit = this.entries.get(sha256)
    if (hit !== undefined) {
      this.entries.delete(sha256)
      this.entries.set(sha256, hit)
    }
    return hit
  }
  /**
   * Keeps `bytes` (unless too large), dropping the least recently used beyond the budget.
   * @since 0.1.0
   */
  set(sha256: string, bytes: Uint8Array): void {
    if (bytes.byteLength > this.maxEntryBytes || this.entries.has(sha256)) return
    this.entries.set(sha256, bytes)
    this.bytes += bytes.byteLength
    for (const [key, value] of this.entries) {
      if (this.bytes <= this.maxBytes) break
      this.entries.delete(key)
      this.bytes -= value.byteLength
    }
  }
  /** Bytes held. */
  get size(): number {
    return this.bytes
  }
}
