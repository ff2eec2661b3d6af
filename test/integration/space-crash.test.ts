import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { addBlob, openSpaceTrove, settle, uri, type SpaceTrove } from '../helpers/space.js'

const LIB_ENTRY = fileURLToPath(new URL('../../src/index.js', import.meta.url))
const UNREFERENCED = 1200
const HELD = 100

/**
 * A child process that opens the data directory and runs a GC that evicts every unreferenced
 * blob. After each deletion batch it says so, so the parent can kill it in the middle of the run.
 */
const GC_SCRIPT = `
const { createTrove } = await import(process.argv[1])
const trove = await createTrove({ dataDir: process.argv[2], durable: false, space: { gracePeriodMs: 0 } })
const deleteBatch = trove.store.deleteBatch.bind(trove.store)
trove.store.deleteBatch = async (...args) => {
  const r = await deleteBatch(...args)
  process.stdout.write('batch\\n')
  return r
}
await trove.gc()
process.stdout.write('finished\\n')
await trove.close()
`

describe('kill -9 during a GC run', () => {
  let h: SpaceTrove
  const held: string[] = []
  before(async () => {
    h = await openSpaceTrove()
    const t = h.trove
    for (let i = 0; i < HELD; i++) held.push(await addBlob(t, randomBytes(64)))
    await t.setRef('crash/held', held.map(uri), { priority: 1 })
    const doc = await addBlob(t, JSON.stringify(held.slice(0, 10).map(uri)))
    await t.pin(uri(doc))
    held.push(doc)
    for (let i = 0; i < UNREFERENCED; i++) await addBlob(t, randomBytes(64))
    await settle(t)
    await t.close()
  })
  after(async () => { await h.cleanup() })

  it('leaves a store that opens, verifies clean, keeps every held blob and finishes the job', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', GC_SCRIPT, pathToFileURL(LIB_ENTRY).href, h.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    const outcome = await new Promise<string>((resolve) => {
      let batches = 0
      child.stdout.on('data', (b: Buffer) => {
        const text = b.toString()
        batches += text.split('batch').length - 1
        // a few batches in: deletions done, more to come
        if (batches >= 2 && child.exitCode === null) child.kill('SIGKILL')
        if (text.includes('finished')) resolve('finished')
      })
      child.once('exit', (code, signal) => resolve(signal ?? `exit ${String(code)}`))
    })
    assert.equal(outcome, 'SIGKILL', `the run was not killed mid-way (${outcome}): ${stderr}`)

    const trove = await h.reopen()
    const report = await trove.verify()
    assert.equal(report.ok, true, JSON.stringify({ ...report, adopted: report.adopted.length, missing: report.missing.length }))
    for (const sha1 of held) assert.ok(await trove.store.has(sha1), `held blob ${sha1} was lost`)
    // the index agrees with the blob counters: nothing to reconcile
    assert.equal(await trove.space.reconcile(), false)
    const usage = trove.store.getUsage()
    assert.ok(usage.blobs > HELD + 1 && usage.blobs < HELD + 1 + UNREFERENCED, `expected a partial run, ${usage.blobs} blobs left`)
    const rest = await trove.gc()
    assert.equal(trove.store.getUsage().blobs, HELD + 1)
    assert.equal(rest.evicted.blobs, usage.blobs - HELD - 1)
    assert.equal((await trove.verify()).ok, true)
  })
})
