import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Level } from 'level'
import { initDataDir, layout } from '../../src/datadir.js'
import { createTrove } from '../../src/node.js'
import { tempDir } from '../helpers/tmp.js'

function sha1Of (bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex')
}

const LOOSE = Buffer.from('a blob in a file of its own, as an older Trove stored it')
const PACKED = Buffer.from('a small blob in a pack')
const GONE = Buffer.from('deleted by a run killed before it removed the file')
const L = sha1Of(LOOSE)
const P = sha1Of(PACKED)
const D = sha1Of(GONE)
const REF = 'lab/m1/run-1'
const MIN_REF = 'lab/mc'
const EXPIRES = '2999-01-01T00:00:00.000Z'
const EXPIRES_MS = Date.parse(EXPIRES)
const SEQ = 1_700_000_000_000_000

/**
 * Every record of the data directory written the way Trove did before the schema had an owner
 * (d339081), with literal sublevel names and keys rather than the codecs, so that a change of
 * either shows here as a data directory that no longer opens the same.
 */
const FIXTURE: Record<string, Array<[string, unknown]>> = {
  meta: [['schema', 1], ['usage', { bytes: LOOSE.length + PACKED.length, blobs: 2 }]],
  blobs: [[L, { size: LOOSE.length, addedAt: 1000 }], [P, { size: PACKED.length, addedAt: 2000, pack: 1, at: 24 }]],
  packs: [['1', { size: 24 + PACKED.length, live: 24 + PACKED.length }]],
  refs: [
    [REF, { version: 2, obj: { f: `sha1://${L}`, g: `sha1://${P}` }, meta: { priority: 3, expires: EXPIRES }, setAt: '2024-01-02T00:00:00.000Z', by: 'old@host', hashes: [L, P], expiresMs: EXPIRES_MS }],
    [MIN_REF, { version: 1, obj: { f: `sha1://${L}` }, meta: { minCopies: 2 }, setAt: '2024-01-03T00:00:00.000Z', hashes: [L] }]
  ],
  versions: [
    [`${REF}\x000000000001`, { version: 1, obj: { f: `sha1://${L}` }, meta: {}, setAt: '2024-01-01T00:00:00.000Z', by: 'old@host' }],
    [`${REF}\x000000000002`, { version: 2, obj: { f: `sha1://${L}`, g: `sha1://${P}` }, meta: { priority: 3, expires: EXPIRES }, setAt: '2024-01-02T00:00:00.000Z', by: 'old@host' }],
    [`${MIN_REF}\x000000000001`, { version: 1, obj: { f: `sha1://${L}` }, meta: { minCopies: 2 }, setAt: '2024-01-03T00:00:00.000Z' }]
  ],
  edges: [
    [`${L}\x00${REF}`, { priority: 3, pin: false }],
    [`${L}\x00${MIN_REF}`, { priority: 0, pin: false }],
    [`${P}\x00${REF}`, { priority: 3, pin: false }]
  ],
  pins: [[P, { pinnedAt: '2024-01-04T00:00:00.000Z', by: 'old@host' }]],
  expiry: [[`${String(EXPIRES_MS).padStart(15, '0')}\x00${REF}`, '']],
  'space-meta': [
    ['version', 1],
    ['totals', { protected: { blobs: 0, bytes: 0 }, referenced: { blobs: 0, bytes: 0 }, unreferenced: { blobs: 0, bytes: 0 } }],
    [`minCopies!${MIN_REF}`, 2],
    ['intents!0000000000000001', [D]]
  ],
  // one blob marked the way versions before grouped records did, one in a group record
  'space-dirty': [[L, SEQ], [`g${SEQ + 1}`, [P]]]
}

/** Every key and value of the tables below the space index, as stored bytes (text). */
async function dumpOwnTables (dbPath: string): Promise<Array<[string, string]>> {
  const raw = new Level<string, string>(dbPath, { valueEncoding: 'utf8' })
  try {
    const all = await raw.iterator().all()
    return all.filter(([k]) => !k.startsWith('!space-'))
  } finally {
    await raw.close()
  }
}

describe('a data directory written before the schema had an owner', () => {
  let tmp: { dir: string, cleanup: () => Promise<void> }
  let dataDir: string
  let before0: Array<[string, string]>
  before(async () => {
    tmp = await tempDir('trove-format-')
    dataDir = path.join(tmp.dir, 'data')
    await initDataDir(dataDir)
    const l = layout(dataDir)
    const level = new Level<string, unknown>(l.db, { valueEncoding: 'json' })
    for (const [name, entries] of Object.entries(FIXTURE)) {
      const sub = level.sublevel<string, unknown>(name, { valueEncoding: 'json' })
      await sub.batch(entries.map(([key, value]) => ({ type: 'put' as const, key, value })))
    }
    await level.close()
    for (const [sha1, bytes] of [[L, LOOSE], [D, GONE]] as const) {
      await fs.mkdir(path.join(l.blobs, sha1.slice(0, 2)), { recursive: true })
      await fs.writeFile(path.join(l.blobs, sha1.slice(0, 2), sha1), bytes)
    }
    const header = Buffer.alloc(24)
    header.write(P, 0, 20, 'hex')
    header.writeUInt32BE(PACKED.length, 20)
    await fs.writeFile(path.join(l.packs, '00000001.pack'), Buffer.concat([header, PACKED]))
    before0 = await dumpOwnTables(l.db)
  })
  after(async () => { await tmp.cleanup() })

  it('opens with every ref, edge, pin and blob as it was, and leaves their records unchanged', async () => {
    const trove = await createTrove({ dataDir, durable: false })
    try {
      const ref = await trove.refs.get(REF)
      assert.deepEqual(ref, { key: REF, version: 2, obj: { f: `sha1://${L}`, g: `sha1://${P}` }, meta: { priority: 3, expires: EXPIRES }, setAt: '2024-01-02T00:00:00.000Z', by: 'old@host' })
      assert.deepEqual((await trove.refs.history(REF)).map((h) => h.version), [1, 2])
      assert.deepEqual((await trove.refs.get(REF, { version: 1 })).obj, { f: `sha1://${L}` })
      assert.deepEqual(await trove.refs.holders(L), [{ key: REF, priority: 3, pin: false }, { key: MIN_REF, priority: 0, pin: false }])
      assert.deepEqual(await trove.refs.holders(P), [{ key: REF, priority: 3, pin: false }])
      assert.deepEqual(await trove.refs.getPin(P), { sha1: P, pinnedAt: '2024-01-04T00:00:00.000Z', by: 'old@host' })
      const expiring = []
      for await (const key of trove.refs.expiredBy(EXPIRES_MS)) expiring.push(key)
      assert.deepEqual(expiring, [REF])
      assert.deepEqual(trove.store.getUsage(), { bytes: LOOSE.length + PACKED.length, blobs: 2 })
      assert.deepEqual(await trove.store.readBytes(L), LOOSE)
      assert.deepEqual(await trove.store.readBytes(P), PACKED)
      assert.equal((await trove.store.locate(P))?.packed, true)
      // the killed run's intent is finished: its blob's file goes, the record with it
      await assert.rejects(fs.stat(trove.store.pathOf(D)), { code: 'ENOENT' })
      assert.deepEqual(await trove.db.spaceMeta.keys({ gt: 'intents!', lt: 'intents!\uffff' }).all(), [])
      // both kinds of dirty record are read: the blobs are classified from the old edges and pins
      await trove.space.drain()
      assert.deepEqual(await trove.db.spaceState.get(L), { ...(await trove.db.spaceState.get(L)), c: 'r', p: 3, m: 2 })
      assert.equal((await trove.db.spaceState.get(P))?.c, 'p')
      assert.deepEqual(await trove.db.spaceDirty.keys().all(), [])
      const report = await trove.verify()
      assert.equal(report.ok, true, JSON.stringify(report))
    } finally {
      await trove.close()
    }
    assert.deepEqual(await dumpOwnTables(layout(dataDir).db), before0)
  })

  it('goes on in the same layout: a new version, its edges and expiry land under the keys the old code used', async () => {
    const trove = await createTrove({ dataDir, durable: false })
    try {
      await trove.refs.set(REF, { f: `sha1://${L}` }, { priority: 4 })
      assert.equal((await trove.refs.get(REF)).version, 3)
    } finally {
      await trove.close()
    }
    const after = new Map(await dumpOwnTables(layout(dataDir).db))
    const old = new Map(before0)
    const added = [...after.keys()].filter((k) => !old.has(k))
    const removed = [...old.keys()].filter((k) => !after.has(k))
    assert.deepEqual(added, [`!versions!${REF}\x000000000003`])
    assert.deepEqual(removed.sort(), [`!edges!${P}\x00${REF}`, `!expiry!${String(EXPIRES_MS).padStart(15, '0')}\x00${REF}`].sort())
    assert.equal(after.get(`!edges!${L}\x00${REF}`), JSON.stringify({ priority: 4, pin: false }))
    assert.deepEqual(JSON.parse(after.get(`!refs!${REF}`) as string).hashes, [L])
  })
})
