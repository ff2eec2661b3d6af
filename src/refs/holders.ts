import type { TroveDb } from '../db.js'
import { assertSha1Hex } from '../uri.js'
import { HOLDERS_READ_AHEAD } from './constants.js'
import { SEP } from './keys.js'
import type { EdgeValue, Holder } from './ref-store.js'

/**
 * The first `limit` holders of each blob, in key order, read with one edge iterator moved from
 * blob to blob instead of an iterator per blob (an iterator costs a snapshot and a merge over
 * every table: a dry run listing 100k blobs, or a reclassification of thousands of fetched ones,
 * spent most of its time creating them). Used by RefStore.holdersMany and the space index.
 */
export async function readHolders (db: TroveDb, sha1s: string[], limit = Infinity): Promise<Map<string, Holder[]>> {
  const out = new Map<string, Holder[]>()
  const sorted = [...new Set(sha1s)].sort()
  for (const sha1 of sorted) assertSha1Hex(sha1)
  if (sorted.length === 0) return out
  const it = db.edges.iterator()
  try {
    for (const sha1 of sorted) {
      const prefix = `${sha1}${SEP}`
      const list: Holder[] = []
      it.seek(prefix)
      for (let past = false; !past && list.length < limit;) {
        const entries = await it.nextv(HOLDERS_READ_AHEAD) as Array<[string, EdgeValue]>
        past = entries.length < HOLDERS_READ_AHEAD
        for (const [k, v] of entries) {
          if (!k.startsWith(prefix)) {
            past = true
            break
          }
          if (list.length < limit) list.push({ key: k.slice(prefix.length), ...v })
        }
      }
      out.set(sha1, list)
    }
  } finally {
    await it.close()
  }
  return out
}
