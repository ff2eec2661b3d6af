import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { HoldComputer } from '../../src/space/holds.js'
import { addBlob, openSpaceTrove, uri, type SpaceTrove } from '../helpers/space.js'

describe('HoldComputer.prefetch', () => {
  let h: SpaceTrove
  before(async () => { h = await openSpaceTrove() })
  after(async () => { await h.cleanup() })

  it('reads the same holds for a batch as one look-up per blob does', async () => {
    const t = h.trove
    const blobs: string[] = []
    for (let i = 0; i < 40; i++) blobs.push(await addBlob(t, `holds ${i}`))
    // no edges; one edge; many edges (more than one read block); a pinned ref; a pin
    for (let i = 0; i < blobs.length; i++) {
      const kind = i % 5
      if (kind === 1) await t.setRef(`h/one/${i}`, { f: uri(blobs[i]) }, { priority: i })
      if (kind === 2) for (let j = 0; j < 20; j++) await t.setRef(`h/many/${i}/${j}`, { f: uri(blobs[i]) }, { priority: j - 5 })
      if (kind === 3) await t.setRef(`h/pinned/${i}`, { f: uri(blobs[i]) }, { pin: true })
      if (kind === 4) await t.pin(blobs[i])
    }
    // blobs that are not stored, and one asked twice
    const asked = [...blobs, 'f'.repeat(40), '0'.repeat(40), blobs[3]]
    const batch = new HoldComputer({ db: t.db, refs: t.refs, minCopies: new Map(), links: false })
    await batch.prefetch(asked)
    for (const sha1 of asked) {
      const single = new HoldComputer({ db: t.db, refs: t.refs, minCopies: new Map(), links: false })
      assert.deepEqual(await batch.direct(sha1), await single.direct(sha1), `hold of ${sha1}`)
    }
    const codes = blobs.map((_, i) => i % 5).map((k) => ['u', 'r', 'r', 'p', 'p'][k])
    assert.deepEqual(await Promise.all(blobs.map(async (s) => (await batch.direct(s)).c)), codes)
    assert.equal((await batch.direct(blobs[2])).p, 14, 'the strongest of many refs')
  })
})
