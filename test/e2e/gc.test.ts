import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cliSandbox, setConfig, type CliSandbox, type JsonError } from '../helpers/cli.js'
import type { GcReport, SpaceStatus, WhyReport } from '../../src/ops.js'

describe('trove gc, why and status (CLI)', () => {
  let t: CliSandbox
  const uris: Record<string, string> = {}
  before(async () => {
    t = await cliSandbox()
    await setConfig(t, { gracePeriodMs: 0 })
    for (const [name, body] of [['loose', 'nobody holds me'], ['kept', 'held by a ref'], ['leaf', 'reached through JSON']]) {
      const res = await t.runJson<Array<{ uri: string, sha1: string }>>(['add', await t.file(name, body)])
      assert.equal(res.code, 0, res.stderr)
      uris[name] = `sha1://${res.json[0].sha1}`
    }
    const doc = await t.runJson<Array<{ sha1: string }>>(['add', await t.file('doc.json', JSON.stringify({ result: uris.leaf }))])
    uris.doc = `sha1://${doc.json[0].sha1}`
    assert.equal((await t.run(['ref', 'set', 'lab/kept', JSON.stringify({ f: uris.kept }), '--priority', '2'])).code, 0)
    assert.equal((await t.run(['ref', 'set', 'lab/doc', JSON.stringify({ d: uris.doc })])).code, 0)
  })
  after(async () => { await t.cleanup() })

  it('gc --dry-run lists what would go, with size and reason, and changes nothing', async () => {
    const res = await t.runJson<GcReport>(['gc', '--dry-run'])
    assert.equal(res.code, 0, res.stderr)
    assert.equal(res.json.dryRun, true)
    assert.deepEqual(res.json.blobs.map((b) => b.uri), [uris.loose])
    assert.equal(res.json.blobs[0].size, 'nobody holds me'.length)
    assert.equal(res.json.blobs[0].class, 'unreferenced')
    const human = await t.run(['gc', '--dry-run'])
    assert.equal(human.code, 0)
    assert.match(human.stdout, /would evict 1 blob/)
    assert.ok(human.stdout.includes(uris.loose))
    assert.equal((await t.run(['cat', uris.loose])).code, 0)
  })

  it('why explains a blob held through a JSON blob', async () => {
    const res = await t.runJson<WhyReport>(['why', uris.leaf])
    assert.equal(res.code, 0, res.stderr)
    assert.equal(res.json.kept, true)
    assert.deepEqual(res.json.reasons.map((r) => [r.kind, r.key]), [['link', 'lab/doc']])
    const human = await t.run(['why', uris.leaf])
    assert.match(human.stdout, /referenced by JSON .* held by ref lab\/doc/)
    assert.match(human.stdout, /class: referenced/)
  })

  it('gc evicts the unreferenced blob, and status shows the run and the classes', async () => {
    const res = await t.runJson<GcReport>(['gc'])
    assert.equal(res.code, 0, res.stderr)
    assert.equal(res.json.evicted.blobs, 1)
    const cat = await t.runJson<JsonError>(['cat', uris.loose])
    assert.equal(cat.json.error.code, 'BLOB_NOT_FOUND')
    const st = await t.runJson<{ space: SpaceStatus }>(['status'])
    assert.equal(st.json.space.lastRuns[0].evictedBlobs, 1)
    assert.equal(st.json.space.classes.unreferenced.blobs, 0)
    assert.equal(st.json.space.classes.referenced.blobs, 3)
    const human = await t.run(['status'])
    assert.match(human.stdout, /by class: pinned/)
    assert.match(human.stdout, /gc .*\(manual\): evicted 1/)
  })

  it('with a size limit, a dry run names referenced blobs lowest priority first', async () => {
    await setConfig(t, { maxSize: 100, lowWatermark: 0.5, highWatermark: 0.9, hardLimit: '1GB' })
    const res = await t.runJson<GcReport>(['gc', '--dry-run'])
    assert.equal(res.code, 0, res.stderr)
    const order = res.json.blobs.map((b) => [b.class, b.priority, b.heldBy?.[0]])
    assert.deepEqual(order[order.length - 1], ['referenced', 2, 'lab/kept'])
    assert.ok(order.slice(0, -1).every(([, p]) => p === 0))
    // the database alone is above a 100-byte limit: the run says so instead of pretending
    assert.equal(res.json.satisfied, false)
    assert.match(res.json.blocked ?? '', /protected/)
  })

  it('a write past the hard limit fails with STORAGE_FULL when nothing can be evicted', async () => {
    await t.run(['ref', 'set', 'lab/kept', JSON.stringify({ f: uris.kept }), '--pin'])
    await t.run(['ref', 'set', 'lab/doc', JSON.stringify({ d: uris.doc }), '--pin'])
    await setConfig(t, { maxSize: 1000, hardLimit: 1000 })
    const res = await t.runJson<JsonError>(['add', await t.file('big.bin', Buffer.alloc(4096, 1))])
    assert.equal(res.code, 1)
    assert.equal(res.json.error.code, 'STORAGE_FULL')
    assert.deepEqual(await fs.readdir(path.join(t.data, 'tmp')), [])
    const pinned = await t.runJson<Array<{ sha1: string }>>(['add', '--pin', await t.file('pinned.bin', Buffer.alloc(4096, 2))])
    assert.equal(pinned.code, 0, pinned.stderr)
  })
})
