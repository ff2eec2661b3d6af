import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  INTENTS_KEYS, LEGACY_INTENT_KEYS, MIN_COPIES_KEYS, UNHELD_EVICT_KEYS, dirtyGroupKey, edgeKey, edgesOf, evictKey, expiryKey, expiryUpTo, intentsKey,
  legacyIntentKey, linkKey, linksFrom, minCopiesKey, packKey, parseDirtyKey, parseEdgeKey, parseEvictKey, parseExpiryKey, parseLegacyIntentKey,
  parseLinkKey, parseMinCopiesKey, parsePackKey, versionKey, versionsOf, type KeyRange
} from '../../src/db/keys.js'
import { SUBLEVEL_NAMES } from '../../src/db/schema.js'

const A = 'a'.repeat(40)
const B = 'b'.repeat(40)

function inRange (key: string, r: KeyRange): boolean {
  return (r.gt === undefined || key > r.gt) && (r.lt === undefined || key < r.lt) && (r.lte === undefined || key <= r.lte)
}

/** The on-disk format: these strings are what data directories hold. Changing one is a SCHEMA_VERSION bump. */
describe('db key codecs: exact bytes', () => {
  it('sublevel names', () => {
    assert.deepEqual(SUBLEVEL_NAMES, {
      meta: 'meta',
      blobs: 'blobs',
      refs: 'refs',
      versions: 'versions',
      edges: 'edges',
      pins: 'pins',
      expiry: 'expiry',
      access: 'access',
      packs: 'packs',
      manifests: 'manifests',
      partials: 'partials',
      spaceState: 'space-state',
      spaceEvict: 'space-evict',
      spaceDirty: 'space-dirty',
      spaceLinks: 'space-links',
      spaceLinkedBy: 'space-linked-by',
      spaceMeta: 'space-meta'
    })
  })

  it('refs: edges, versions, expiry', () => {
    assert.equal(edgeKey(A, 'lab/m1/run-2'), `${A}\x00lab/m1/run-2`)
    assert.equal(versionKey('lab/m1', 7), 'lab/m1\x000000000007')
    assert.equal(versionKey('k', 1234567890), 'k\x001234567890')
    assert.equal(expiryKey(1_700_000_000_000, 'lab/x'), '001700000000000\x00lab/x')
    assert.deepEqual(expiryUpTo(5), { lte: '000000000000005\x00\uffff' })
    assert.deepEqual(edgesOf(A), { gt: `${A}\x00`, lt: `${A}\x01` })
    assert.deepEqual(versionsOf('lab/m1'), { gt: 'lab/m1\x00', lt: 'lab/m1\x01' })
  })

  it('store: packs', () => {
    assert.equal(packKey(12), '12')
    assert.equal(parsePackKey('12'), 12)
  })

  it('space: links, dirty records, minCopies, intents, eviction order', () => {
    assert.equal(linkKey(A, B), `${A}\x00${B}`)
    assert.deepEqual(linksFrom(A), { gt: `${A}\x00`, lt: `${A}\x01` })
    assert.equal(dirtyGroupKey(1_700_000_000_000_123), 'g1700000000000123')
    assert.equal(dirtyGroupKey(42), 'g42')
    assert.equal(minCopiesKey('lab/r'), 'minCopies!lab/r')
    assert.deepEqual(MIN_COPIES_KEYS, { gt: 'minCopies!', lt: 'minCopies!\uffff' })
    assert.equal(intentsKey(5), 'intents!0000000000000005')
    assert.deepEqual(INTENTS_KEYS, { gt: 'intents!', lt: 'intents!\uffff' })
    assert.equal(legacyIntentKey(A), `intent!${A}`)
    assert.deepEqual(LEGACY_INTENT_KEYS, { gt: 'intent!', lt: 'intent!\uffff' })
    assert.equal(evictKey(A, { c: 'u' }, 1_700_000_000_000), `1001700000000000${A}`)
    assert.equal(evictKey(A, { c: 'r', p: 3 }, 1_700_000_000_000), `209007199254740995001700000000000${A}`)
    assert.equal(evictKey(A, { c: 'r', p: -2 }, 0), `209007199254740990000000000000000${A}`)
    assert.equal(evictKey(A, { c: 'p' }, 1), undefined)
    assert.deepEqual(UNHELD_EVICT_KEYS, { lt: '2' })
  })
})

describe('db key codecs: round trips and order', () => {
  it('each parse inverts its key', () => {
    assert.deepEqual(parseEdgeKey(edgeKey(A, 'a/b.c@d+e=f,g~h-i')), { sha1: A, ref: 'a/b.c@d+e=f,g~h-i' })
    assert.deepEqual(parseExpiryKey(expiryKey(123, 'x/y')), { expiresMs: 123, ref: 'x/y' })
    assert.deepEqual(parseLinkKey(linkKey(A, B)), { from: A, to: B })
    assert.equal(parseMinCopiesKey(minCopiesKey('lab/r')), 'lab/r')
    assert.equal(parseLegacyIntentKey(legacyIntentKey(A)), A)
    assert.deepEqual(parseDirtyKey(dirtyGroupKey(99)), { group: true, seq: 99 })
    assert.deepEqual(parseDirtyKey(A), { group: false, sha1: A })
    for (const [hold, a] of [[{ c: 'u' }, 0], [{ c: 'r', p: 0 }, 5], [{ c: 'r', p: -7 }, 99], [{ c: 'r', p: 2 ** 40 }, 1e12]] as const) {
      const parsed = parseEvictKey(evictKey(B, hold, a) as string)
      assert.deepEqual(parsed, { ...hold, a, sha1: B })
    }
  })

  it('ranges hold exactly their keys', () => {
    assert.ok(inRange(edgeKey(A, 'k'), edgesOf(A)))
    assert.ok(!inRange(edgeKey(B, 'k'), edgesOf(A)))
    assert.ok(!inRange(edgeKey(`${A.slice(0, 39)}b`, 'k'), edgesOf(A)))
    assert.ok(inRange(versionKey('lab/a', 3), versionsOf('lab/a')))
    // a longer key sharing the prefix is another ref
    assert.ok(!inRange(versionKey('lab/ab', 3), versionsOf('lab/a')))
    assert.ok(!inRange(versionKey('lab/a/b', 3), versionsOf('lab/a')))
    assert.ok(inRange(expiryKey(5, 'k'), expiryUpTo(5)))
    assert.ok(!inRange(expiryKey(6, 'k'), expiryUpTo(5)))
    assert.ok(inRange(linkKey(A, B), linksFrom(A)))
    assert.ok(inRange(intentsKey(1), INTENTS_KEYS))
    assert.ok(!inRange(legacyIntentKey(A), INTENTS_KEYS))
    assert.ok(!inRange(intentsKey(1), LEGACY_INTENT_KEYS))
    assert.ok(inRange(evictKey(A, { c: 'u' }, 9e12) as string, UNHELD_EVICT_KEYS))
    assert.ok(!inRange(evictKey(A, { c: 'r', p: -1e15 }, 0) as string, UNHELD_EVICT_KEYS))
  })

  it('keys sort in the order the readers rely on', () => {
    assert.ok(versionKey('k', 9) < versionKey('k', 10))
    assert.ok(expiryKey(999, 'z') < expiryKey(1000, 'a'))
    assert.ok(intentsKey(9) < intentsKey(10))
    const order = [
      evictKey(B, { c: 'u' }, 1),
      evictKey(A, { c: 'u' }, 2),
      evictKey(A, { c: 'r', p: -5 }, 9),
      evictKey(A, { c: 'r', p: 0 }, 1),
      evictKey(A, { c: 'r', p: 0 }, 2),
      evictKey(A, { c: 'r', p: 7 }, 0)
    ] as string[]
    assert.deepEqual([...order].sort(), order)
  })
})
