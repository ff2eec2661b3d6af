import fs from 'node:fs/promises'
import { PACK_HEADER_BYTES, PACK_WALK_BYTES } from './constants.js'

/** One record of a pack as read back: header fields, where its data starts, and the data if asked for. */
export interface PackRecord {
  sha1: string
  size: number
  at: number
  data?: Buffer
}

export interface WalkOptions {
  /** Yield each record's bytes too (a view of the walk's buffer: copy it to keep it). */
  withData?: boolean
  /** Set to the offset where the walk stopped early, if it did (a damaged pack). */
  walk?: { damagedAt?: number }
}

/**
 * The records of the pack file `file` in order, up to `end` (its committed length: bytes past it
 * are an append never indexed), read sequentially in PACK_WALK_BYTES pieces. Stops at a record
 * that runs past `end` or past the file's end (a damaged pack): `options.walk.damagedAt` tells
 * where.
 */
export async function * walkPack (file: string, end: number, options: WalkOptions = {}): AsyncGenerator<PackRecord> {
  const fh = await fs.open(file, 'r')
  try {
    let buf = Buffer.alloc(0)
    let bufAt = 0
    let pos = 0
    const ensure = async (from: number, length: number): Promise<boolean> => {
      if (from + length > end) return false
      if (from >= bufAt && from + length <= bufAt + buf.length) return true
      const size = Math.min(Math.max(length, PACK_WALK_BYTES), end - from)
      const next = Buffer.allocUnsafe(size)
      let filled = 0
      while (filled < size) {
        const { bytesRead } = await fh.read(next, filled, size - filled, from + filled)
        // a file shorter than its committed length: the records before the cut still count
        if (bytesRead === 0) break
        filled += bytesRead
      }
      buf = next.subarray(0, filled)
      bufAt = from
      return filled >= length
    }
    while (pos < end) {
      if (!await ensure(pos, PACK_HEADER_BYTES)) break
      const h = pos - bufAt
      const sha1 = buf.toString('hex', h, h + 20)
      const size = buf.readUInt32BE(h + 20)
      const at = pos + PACK_HEADER_BYTES
      if (options.withData === true) {
        if (!await ensure(at, size)) break
        yield { sha1, size, at, data: buf.subarray(at - bufAt, at - bufAt + size) }
      } else {
        if (at + size > end) break
        yield { sha1, size, at }
      }
      pos = at + size
    }
    if (pos < end && options.walk !== undefined) options.walk.damagedAt = pos
  } finally {
    await fh.close()
  }
}
