import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { SEP, edgeKey, expiryKey } from '../../src/db/keys.js'
import type { RefMeta } from '../../src/refs/meta.js'
import { findReferences } from '../../src/uri.js'
import { fakeSha1, openTempTrove, type TempTrove } from '../helpers/trove.js'

/**
 * Runs are kept few and short: each is a fresh sequence of LevelDB batches, and the suite must
 * stay within seconds on a 2-core CI machine. A failure prints the seed to replay it.
 */
const NUM_RUNS = 150
const MAX_OPS = 30

const KEYS = ['a', 'b', 'a/b', 'a/b/c', 'z']
const URIS = Array.from({ length: 5 }, (_, i) => `sha1://${fakeSha1(i)}`)

type Op =
  | { kind: 'set', key: string, obj: unknown, meta: RefMeta }
  | { kind: 'rm', key: string }

const uriArb = fc.oneof(
  fc.constantFrom(...URIS),
  fc.constantFrom(...URIS).map((u) => `${u}/file.bin`),
  fc.constantFrom(...URIS).map((u) => `${u}?label=x`)
)

// JSON values whose strings are sometimes references, nested in arrays and objects
const objArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    uriArb,
    fc.string({ maxLength: 5 }),
    fc.integer(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 3 }), tie('value'), { maxKeys: 4 })
  )
})).value

const metaArb: fc.Arbitrary<RefMeta> = fc.record({
  priority: fc.integer({ min: -3, max: 3 }),
  pin: fc.boolean(),
  expires: fc.integer({ min: 0, max: 3 }).map((d) => `2030-01-0${d + 1}T00:00:00.000Z`),
  note: fc.string({ maxLength: 3 })
}, { requiredKeys: [] })

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), key: fc.constantFrom(...KEYS), obj: objArb, meta: metaArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rm' as const), key: fc.constantFrom(...KEYS) }) }
)

/** Groups of operations; the operations within a group run concurrently. */
const scenarioArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: MAX_OPS / 3 })

describe('edge index (property)', () => {
  let t: TempTrove
  before(async () => { t = await openTempTrove() })
  after(async () => { await t.cleanup() })

  async function reset (): Promise<void> {
    const { db } = t.trove
    for (const sub of [db.refs, db.versions, db.edges, db.expiry, db.access]) await sub.clear()
  }

  async function run (op: Op): Promise<void> {
    if (op.kind === 'set') {
      await t.trove.refs.set(op.key, op.obj, op.meta)
      return
    }
    await t.trove.refs.rm(op.key).catch((err: Error) => {
      if (err.name !== 'RefNotFoundError') throw err
    })
  }

  /** The edges and expiry entries the live refs imply, built from scratch. */
  async function rebuilt (): Promise<{ edges: Map<string, unknown>, expiry: string[], hashes: Map<string, string[]> }> {
    const edges = new Map<string, unknown>()
    const expiry: string[] = []
    const hashes = new Map<string, string[]>()
    for await (const [key, stored] of t.trove.db.refs.iterator()) {
      const s = stored as { obj: unknown, meta: RefMeta }
      const found = [...findReferences(s.obj)]
      hashes.set(key, found)
      for (const h of found) edges.set(edgeKey(h, key), { priority: s.meta.priority ?? 0, pin: s.meta.pin === true })
      if (s.meta.expires !== undefined) expiry.push(expiryKey(Date.parse(s.meta.expires), key))
    }
    return { edges, expiry: expiry.sort(), hashes }
  }

  it('the incrementally kept edges equal the edges rebuilt from the live refs', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, async (groups) => {
      await reset()
      for (const group of groups) await Promise.all(group.map(run))

      const expected = await rebuilt()
      const actual = new Map<string, unknown>()
      for await (const [k, v] of t.trove.db.edges.iterator()) actual.set(k, v)
      assert.deepEqual(actual, expected.edges)

      const expiry: string[] = []
      for await (const k of t.trove.db.expiry.keys()) expiry.push(k)
      assert.deepEqual(expiry, expected.expiry)

      // holders() is the edge index read per blob: it must agree too
      for (const uri of URIS) {
        const sha1 = uri.slice('sha1://'.length)
        const holders = await t.trove.refs.holders(sha1)
        const want = [...expected.edges].filter(([k]) => k.startsWith(`${sha1}${SEP}`)).map(([k, v]) => ({ key: k.slice(41), ...(v as object) }))
        assert.deepEqual(holders, want)
      }

      // every key's history is 1..n without gaps, whatever the interleaving
      for (const key of KEYS) {
        const history = await t.trove.refs.history(key).catch(() => [])
        assert.deepEqual(history.map((h) => h.version), history.map((_, i) => i + 1))
        const live = await t.trove.refs.has(key)
        assert.equal(live, history.length > 0 && history.at(-1)?.deleted !== true)
      }
    }), { numRuns: NUM_RUNS })
  })
})
