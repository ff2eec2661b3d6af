import type { TroveDb } from '../db.js'
import { edgeKey, parseEdgeKey } from '../db/keys.js'
import type { EdgeValue, Holder } from '../db/schema.js'
import { assertSha1Hex } from '../uri.js'
import { HOLDERS_READ_AHEAD } from './constants.js'

/**
 * The first `limit` holders of each blob, in key order, read with one edge iterator moved from
 * blob to blob instead of an iterator per blob (an iterator costs a snapshot and a merge over
 * every table: a dry run listing 100k blobs, or a reclassification of thousands of fetched ones,
 * spent most of its time creating them). Used by RefStore.holdersMany and the space index.
 */
export async function readHolders (db: Pick<TroveDb, 'edges'>, sha1s: string[], limit = Infinity): Promise<Map<string, Holder[]>> {
  const out = new Map<string, Holder[]>()
  const sorted = [...new Set(sha1s)].sort()
  for (const sha1 of sorted) assertSha1Hex(sha1)
  if (sorted.length === 0) return out
  const it = db.edges.iterator()
  // entries read since the last seek: a contiguous run of the table in key order from `ahead[0]`
  let ahead: Array<[string, EdgeValue]> = []
  let at = 0
  let ended = false
  const more = async (): Promise<void> => {
    ahead = await it.nextv(HOLDERS_READ_AHEAD)
    at = 0
    ended = ahead.length === 0
  }
  try {
    for (const sha1 of sorted) {
      // below every edge of this blob
      const first = edgeKey(sha1, '')
      while (at < ahead.length && ahead[at][0] < first) at++
      // what was read ahead already reaches past this blob's edges (or the table's end): no
      // seek. A batch of fresh blobs that no ref holds yet then costs one read, not one each.
      if (at === ahead.length && !ended) {
        it.seek(first)
        await more()
      }
      const list: Holder[] = []
      while (list.length < limit) {
        if (at === ahead.length) {
          if (ended) break
          await more()
          continue
        }
        const [k, v] = ahead[at]
        const edge = parseEdgeKey(k)
        if (edge.sha1 !== sha1) break
        list.push({ key: edge.ref, ...v })
        at++
      }
      out.set(sha1, list)
    }
  } finally {
    await it.close()
  }
  return out
}
