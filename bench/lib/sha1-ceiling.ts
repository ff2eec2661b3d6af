import { createHash, randomBytes } from 'node:crypto'
import { mibPerSec, secondsSince } from './timing.js'

/** Buffer size for the ceiling: the size ingest hands to the hash is of this order. */
const CEILING_BUFFER_BYTES = 64 * 1024
/** Long enough to average out turbo and JIT warm-up, short enough to stay a side note. */
const CEILING_DURATION_MS = 1000

/** How fast this machine can sha1 in this process: the upper bound on any ingest or verify. */
export function sha1CeilingMiBPerSec (): number {
  const buf = randomBytes(CEILING_BUFFER_BYTES)
  // warm-up so the first timed update is not the one that loads the implementation
  createHash('sha1').update(buf).digest()
  const hash = createHash('sha1')
  const start = process.hrtime.bigint()
  const deadline = Date.now() + CEILING_DURATION_MS
  let bytes = 0
  while (Date.now() < deadline) {
    for (let i = 0; i < 64; i++) hash.update(buf)
    bytes += 64 * buf.length
  }
  hash.digest()
  return mibPerSec(bytes, secondsSince(start))
}
