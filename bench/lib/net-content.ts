/**
 * Deterministic bench content: every process that generates `(seed, size)` gets the same bytes,
 * so several provider processes can each ingest the same blob without shipping it between them.
 * A pseudo-random block with a counter stamped on every page: cheap to make, and no two pages of
 * a blob are equal (nothing below could deduplicate or compress it).
 */

/** Block generated once per process and stamped per page. */
const BLOCK_BYTES = 1024 * 1024
const PAGE = 4096

function prngBlock (seed: number, bytes: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes)
  // xorshift32: fast and reproducible, quality does not matter here
  let x = (seed * 2654435761) >>> 0 || 0x9e3779b9
  for (let i = 0; i + 4 <= bytes; i += 4) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    buf.writeUInt32LE(x, i)
  }
  return buf
}

/** `size` bytes of content for `seed`, in pieces of at most 1 MiB. */
export function * content (seed: number, size: number): Generator<Buffer> {
  const block = prngBlock(seed, BLOCK_BYTES)
  let left = size
  let page = 0
  while (left > 0) {
    const n = Math.min(left, block.length)
    const out = Buffer.from(block.subarray(0, n))
    for (let p = 0; p + 8 <= n; p += PAGE) {
      out.writeUInt32LE(page++ >>> 0, p)
      out.writeUInt32LE(seed >>> 0, p + 4)
    }
    left -= n
    yield out
  }
}

/** The i-th of many small blobs: distinct for every (seed, i). */
export function smallBlob (seed: number, i: number, size: number, block: Buffer): Buffer {
  const out = Buffer.from(block.subarray(0, size))
  if (size >= 8) {
    out.writeUInt32LE(i >>> 0, 0)
    out.writeUInt32LE(seed >>> 0, 4)
  }
  return out
}

export function smallBlock (seed: number, size: number): Buffer {
  return prngBlock(seed, Math.max(size, 8))
}
